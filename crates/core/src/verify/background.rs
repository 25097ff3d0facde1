//! Background key refresh that follows policy reloads.
//!
//! A reload builds its verifier from the one in force, and the two (with every verifier before
//! and after them) share a [`Lineage`]. A [`BackgroundRefresh`] started on any verifier of the
//! line refreshes the key sources of the one in force: when a reload puts a new verifier in
//! force, the tasks of the key sources it kept run on undisturbed, each source it added gets a
//! task of its own (first fetch one interval later), and the tasks of the sources it left
//! behind stop once nothing uses those sources any more (an authorizer derived with
//! `with_policy` before the reload, as per-route layers are, keeps using its own and keeps
//! them refreshed). A key set's count is reported while anything uses it (see
//! `cognito_authz_jwks_keys`), so a dashboard does not show keys for a key set nothing uses.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use super::{Inner, Verifier};
use crate::jwks::{KeySource, RefreshReason};

/// The verifiers that replaced one another through reloads, and the background refreshes
/// that follow the one in force.
#[derive(Debug, Default)]
pub(crate) struct Lineage {
    state: Mutex<LineageState>,
}

#[derive(Debug, Default)]
struct LineageState {
    /// The verifier the last reload put in force (`None`: no reload yet, so the line's first).
    in_force: Option<Weak<Inner>>,
    /// Every background refresh started on the line and not dropped yet.
    refreshes: Vec<Weak<Refreshing>>,
}

impl Lineage {
    fn lock(&self) -> MutexGuard<'_, LineageState> {
        // Two fields replaced in single statements: a poisoned lock still holds valid values.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Verifier {
    /// Puts this verifier in force in place of the one it was rebuilt from (a reload): every
    /// background refresh of the line now refreshes this one's key sources.
    pub(crate) fn succeed(&self) {
        let sources = &self.inner.sources;
        let mut line = self.inner.lineage.lock();
        line.in_force = Some(Arc::downgrade(&self.inner));
        line.refreshes.retain(|refresh| match refresh.upgrade() {
            Some(refresh) => {
                refresh.follow(sources);
                true
            }
            None => false,
        });
    }

    /// Background refresh on `runtime` of the key sources in force on this verifier's line
    /// (this verifier's own until a reload replaces it).
    pub(crate) fn start_background_refresh(
        &self,
        runtime: tokio::runtime::Handle,
    ) -> BackgroundRefresh {
        let refreshing = Arc::new(Refreshing {
            runtime,
            tasks: Mutex::default(),
        });
        let mut line = self.inner.lineage.lock();
        let in_force = line
            .in_force
            .as_ref()
            .and_then(Weak::upgrade)
            .unwrap_or_else(|| Arc::clone(&self.inner));
        refreshing.follow(&in_force.sources);
        line.refreshes.retain(|refresh| refresh.strong_count() > 0);
        line.refreshes.push(Arc::downgrade(&refreshing));
        BackgroundRefresh { refreshing }
    }
}

/// Background refresh tasks, one per key source in force with `background_refresh`; they
/// follow policy reloads (see [`Verifier::spawn_background_refresh`]), and dropping this
/// stops them.
#[derive(Debug)]
pub struct BackgroundRefresh {
    refreshing: Arc<Refreshing>,
}

impl BackgroundRefresh {
    /// Number of key sources being refreshed: those in force with `background_refresh`. A
    /// reload changes it when it adds or drops such sources; once the runtime the refresh
    /// was started on has shut down, nothing is refreshed and it is 0.
    pub fn len(&self) -> usize {
        let tasks = self.refreshing.lock();
        tasks
            .running
            .iter()
            .filter(|(_, task)| !task.is_finished())
            .count()
    }

    /// Whether no key source is being refreshed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for BackgroundRefresh {
    fn drop(&mut self) {
        let mut tasks = self.refreshing.lock();
        tasks.stopped = true;
        for (_, task) in tasks.running.drain(..) {
            task.abort();
        }
        for task in tasks.left_behind.drain(..) {
            task.abort();
        }
    }
}

/// The tasks of one [`BackgroundRefresh`] and the runtime they run on.
#[derive(Debug)]
struct Refreshing {
    runtime: tokio::runtime::Handle,
    tasks: Mutex<Tasks>,
}

#[derive(Debug, Default)]
struct Tasks {
    /// The tasks of the sources in force.
    running: Vec<(Arc<KeySource>, tokio::task::JoinHandle<()>)>,
    /// The tasks of sources a reload left behind: each ends once nothing uses its source.
    left_behind: Vec<tokio::task::JoinHandle<()>>,
    /// The guard was dropped: a reload starts nothing more.
    stopped: bool,
}

impl Refreshing {
    fn lock(&self) -> MutexGuard<'_, Tasks> {
        // Each change is one push, removal or flag: a poisoned lock still holds valid tasks.
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Refreshes the sources of `sources` that have a background interval: starts the missing
    /// ones, leaves the rest running, and lets the tasks of any other source run on only while
    /// something still uses that source.
    fn follow(&self, sources: &[Arc<KeySource>]) {
        let mut tasks = self.lock();
        if tasks.stopped {
            return;
        }
        let tasks = &mut *tasks;
        tasks.left_behind.retain(|task| !task.is_finished());
        let (in_force, left_behind): (Vec<_>, Vec<_>) = tasks
            .running
            .drain(..)
            .partition(|(source, _)| sources.iter().any(|ours| Arc::ptr_eq(ours, source)));
        tasks.running = in_force;
        // Dropping the source here leaves its task the only (weak) hold on it.
        tasks
            .left_behind
            .extend(left_behind.into_iter().map(|(_, task)| task));
        for source in sources {
            let Some(interval) = source.background_interval() else {
                continue;
            };
            if tasks
                .running
                .iter()
                .any(|(running, _)| Arc::ptr_eq(running, source))
            {
                continue;
            }
            // A runtime shut down drops the task at once, without a panic.
            let task = self
                .runtime
                .spawn(refresh_every(Arc::downgrade(source), interval));
            tasks.running.push((Arc::clone(source), task));
        }
    }
}

/// Refreshes `source` every `interval`, the first time one interval from now, until nothing
/// uses it any more.
async fn refresh_every(source: Weak<KeySource>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let Some(source) = source.upgrade() else {
            return;
        };
        source.refresh(RefreshReason::Background).await;
    }
}
