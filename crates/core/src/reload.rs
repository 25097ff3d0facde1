//! Policy reload without a restart: the issuers and route table an [`Authorizer`] decides with
//! are one value, swapped atomically.
//!
//! A request reads the current value once, lock-free, and finishes on it: a reload never
//! blocks or drops a request, and no request sees half of a policy. A policy file that fails to
//! load changes nothing (the last good policy stays in force; the error, with file, line and
//! column, is returned and logged). Issuers whose keys come from the same URL with the same
//! settings keep their fetched key sets; the verified-token cache starts empty, since the rules
//! a cached token passed may have changed.
//!
//! Reloads run one at a time, and a reload from a file reads the file while it holds that turn:
//! two reloads racing (a `SIGHUP` handler and the watcher, say) apply in the order they read,
//! so the policy in force once both return is the one read last.
//!
//! [`PolicyWatcher`] polls a file's content hash and reloads when it changes.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::authorizer::{Authorizer, CedarSetUp, Loaders, check_issuer_names};
use crate::error::ConfigError;
use crate::metrics::DecisionCounters;
use crate::policy::file::{KeyFiles, PolicyFile};
use crate::policy::routes::RouteTable;
use crate::verify::Verifier;
use crate::verify::config::IssuerConfig;

/// What an authorizer decides with, swapped whole by a reload.
pub(crate) struct Active {
    pub(crate) verifier: Verifier,
    pub(crate) routes: Arc<RouteTable>,
    pub(crate) counters: DecisionCounters,
    /// The Cedar set-up deciding `cedar` atoms, prepared for these routes.
    pub(crate) cedar: CedarSetUp,
}

impl Active {
    pub(crate) fn new(verifier: Verifier, routes: RouteTable, cedar: CedarSetUp) -> Self {
        let counters = DecisionCounters::new(&routes);
        Self {
            verifier,
            routes: Arc::new(routes),
            counters,
            cedar,
        }
    }
}

/// The swappable state shared by an authorizer and its clones.
#[derive(Clone)]
pub(crate) struct Live {
    shared: Arc<Shared>,
}

struct Shared {
    current: ArcSwap<Active>,
    /// `None`: this authorizer applies one fixed policy and cannot reload.
    reload: Option<ReloadSettings>,
    /// Reloads run one at a time, each reading its file while it holds this (never taken on
    /// the request path).
    reloading: Mutex<()>,
    generation: AtomicU64,
}

/// What a reload applies on top of the file, as the authorizer was first built.
#[derive(Default)]
pub(crate) struct ReloadSettings {
    pub(crate) issuers: Option<Vec<IssuerConfig>>,
    pub(crate) jwks_file: Option<PathBuf>,
    /// The resource loaders given when it was built, attached to each reloaded Cedar set-up.
    pub(crate) loaders: Loaders,
    /// The `[revocation]` section the running store was built from (none: no store, or one
    /// given to the builder).
    pub(crate) revocation: Option<crate::revocation::RevocationConfig>,
}

impl Live {
    /// State that reloads apply to, with the overrides given when it was built.
    pub(crate) fn reloadable(active: Active, settings: ReloadSettings) -> Self {
        Self::with(active, Some(settings))
    }

    /// State that never changes (an authorizer derived for one policy).
    pub(crate) fn fixed(active: Active) -> Self {
        Self::with(active, None)
    }

    fn with(active: Active, reload: Option<ReloadSettings>) -> Self {
        Self {
            shared: Arc::new(Shared {
                current: ArcSwap::from_pointee(active),
                reload,
                reloading: Mutex::new(()),
                generation: AtomicU64::new(0),
            }),
        }
    }

    /// How many reloads have succeeded (0: the policy it was built with).
    pub(crate) fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::Acquire)
    }

    /// The current state: a lock-free read, held for one request.
    #[inline]
    pub(crate) fn load(&self) -> arc_swap::Guard<Arc<Active>> {
        self.shared.current.load()
    }

    /// This reload's turn: held from reading the file to swapping the policy in, so reloads
    /// apply in the order they read.
    fn one_at_a_time(&self) -> MutexGuard<'_, ()> {
        // Guards no data: a reload that panicked left nothing half done.
        self.shared
            .reloading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What a successful reload changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reloaded {
    /// Counts successful reloads of this authorizer, from 1.
    pub generation: u64,
    /// Routes in the new table.
    pub routes: usize,
    /// Issuers in the new configuration.
    pub issuers: usize,
    /// Key sets taken over from the previous configuration (fetched from the same URL with the
    /// same settings), so no fetch is needed for them.
    pub kept_key_sets: usize,
}

impl Authorizer {
    /// Swaps in the issuers, policies and routes of `file`, atomically.
    ///
    /// Requests already deciding finish on the policy they started with; the next ones use the
    /// new one. Nothing on the request path waits for a reload. Settings given when the
    /// authorizer was built (clock, verified-token cache, key-file override, replacement
    /// issuers, realm, revocation store) still apply. Issuers fetching keys from the same URL
    /// with the same settings keep their key sets.
    ///
    /// The `[token]` section (where tokens are read) cannot change while serving, because the
    /// adapters read it when they are built: a file that changes it is refused. The revocation
    /// store running since start keeps serving whatever the new file's `[revocation]` section
    /// says, and a file that adds one to an authorizer started without is refused.
    ///
    /// # Errors
    /// The file is invalid (the error has its file, line and column), an issuer cannot be
    /// built, the token section changed, a revocation section was added, or this authorizer was derived for one policy
    /// ([`Authorizer::with_policy`]). The last good policy stays in force, and the error is
    /// logged at `warn`.
    ///
    /// Reloads run one at a time. `file` was read before this call began, so of two calls
    /// racing the one that takes its turn last wins, whichever read its file last: to reload
    /// from a file on disk, [`Authorizer::reload_from_file`] reads it in turn.
    pub fn reload(&self, file: PolicyFile) -> Result<Reloaded, ConfigError> {
        let result = {
            let _turn = self.live().one_at_a_time();
            self.apply(file)
        };
        report(&result);
        result
    }

    /// [`Authorizer::reload`] from the policy file at `path`, read while this reload holds its
    /// turn: of two reloads racing (a `SIGHUP` handler and the [`PolicyWatcher`], or two
    /// signals), the one that reads last applies last, so the file as last read is the policy
    /// in force once both return, never an older reading of it.
    ///
    /// The file is read as [`PolicyFile::load`] reads it (UTF-8, at most 4 MiB), and only if it
    /// is a regular file (symlinks followed): a FIFO there would block this reload, and every
    /// reload waiting for its turn, for good.
    ///
    /// It blocks: on the file's I/O, and while another reload holds the turn (the watcher's
    /// included). From async code, call it inside `tokio::task::spawn_blocking`, as
    /// `examples/reload_on_sighup.rs` does, so no runtime worker waits on it.
    ///
    /// # Errors
    /// As [`Authorizer::reload`], or the file cannot be read, is not a regular file, is not
    /// UTF-8 or is larger than 4 MiB.
    pub fn reload_from_file(&self, path: impl AsRef<Path>) -> Result<Reloaded, ConfigError> {
        let path = path.as_ref();
        let result = {
            let _turn = self.live().one_at_a_time();
            read_policy_file(path).and_then(|file| self.apply(file))
        };
        report(&result);
        result
    }

    /// A watcher that reloads from `path` when its content changes (see [`PolicyWatcher`]).
    /// The file's current content counts as already applied.
    pub fn watch(&self, path: impl Into<PathBuf>) -> PolicyWatcher {
        let path = path.into();
        let last = read_regular_file(&path).ok().map(|bytes| digest(&bytes));
        PolicyWatcher {
            generation: self.live().generation(),
            authorizer: self.clone(),
            path,
            last,
            settling: None,
        }
    }

    /// Swaps `file` in; the caller holds this reload's turn ([`Live::one_at_a_time`]).
    fn apply(&self, file: PolicyFile) -> Result<Reloaded, ConfigError> {
        let live = self.live();
        let Some(settings) = &live.shared.reload else {
            return Err(file.file_error(
                "this authorizer applies one fixed policy (with_policy) and cannot reload; \
                 reload the authorizer it was derived from"
                    .to_owned(),
            ));
        };
        let key_files = if settings.issuers.is_none() || settings.jwks_file.is_some() {
            file.read_key_files(settings.jwks_file.as_deref())?
        } else {
            KeyFiles::default()
        };
        let file_level = file.file_error(String::new());
        if file.token_source() != self.token_source() {
            return Err(file_level.with_message(
                "the [token] section differs from the one being served; where tokens \
                          are read cannot change without a restart"
                    .to_owned(),
            ));
        }
        let previous = live.load();
        if let (Some(running), Some(read)) = (&settings.revocation, file.revocation())
            && !running.same_store(read)
        {
            // Ignoring it would leave the revocations recorded in the store the file names
            // unheard, or a `refuse` it asks for unapplied.
            return Err(file_level.with_message(
                "the [revocation] section differs from the one being served; the revocation \
                          store and its settings cannot change without a restart"
                    .to_owned(),
            ));
        }
        if file.revocation().is_some() && previous.verifier.revocation().is_none() {
            // Ignoring it would leave revoked tokens accepted by a file that says otherwise.
            return Err(file_level.with_message(
                "the [revocation] section cannot be added while serving; restart to \
                          start the revocation store"
                    .to_owned(),
            ));
        }
        let (mut issuers, _, routes, cedar) = file.into_parts();
        if let Some(replacements) = &settings.issuers {
            issuers.clone_from(replacements);
        }
        let issuers = key_files.hand_to(issuers);
        let issuer_count = issuers.len();
        let verifier = previous
            .verifier
            .rebuilt(issuers)
            .map_err(|error| file_level.clone().with_message(error.message()))?;
        check_issuer_names(&verifier, &routes)
            .map_err(|message| file_level.clone().with_message(message))?;
        let cedar = crate::authorizer::prepare_cedar(cedar, &settings.loaders, &routes)
            .map_err(|message| file_level.with_message(message))?;
        let kept_key_sets = verifier.kept_key_sets(&previous.verifier);
        let route_count = routes.routes().len();
        let active = Arc::new(Active::new(verifier, routes, cedar));
        live.shared.current.store(Arc::clone(&active));
        // Background refresh follows the key sources now in force; the key sets left behind
        // report 0 keys once nothing uses them (the previous policy dropped, per-route layers
        // built before this reload dropped).
        active.verifier.succeed();
        let generation = live.shared.generation.fetch_add(1, Ordering::AcqRel) + 1;
        Ok(Reloaded {
            generation,
            routes: route_count,
            issuers: issuer_count,
            kept_key_sets,
        })
    }
}

/// Counts and logs the outcome of a reload.
fn report(result: &Result<Reloaded, ConfigError>) {
    match result {
        Ok(reloaded) => {
            crate::metrics::policy_reload("ok");
            tracing::info!(
                generation = reloaded.generation,
                routes = reloaded.routes,
                issuers = reloaded.issuers,
                kept_key_sets = reloaded.kept_key_sets,
                "policy reloaded"
            );
        }
        Err(error) => {
            crate::metrics::policy_reload("error");
            tracing::warn!(%error, "policy reload failed; the last good policy stays in force");
        }
    }
}

/// The policy file at `path`, read by [`read_regular_file`] and validated as
/// [`PolicyFile::load`] validates it.
fn read_policy_file(path: &Path) -> Result<PolicyFile, ConfigError> {
    let bytes = read_regular_file(path).map_err(|error| PolicyFile::unreadable(path, error))?;
    PolicyFile::from_bytes(path, bytes)
}

/// The file at `path` (symlinks followed) read as [`PolicyFile::load`] reads it (at most
/// 4 MiB), if it is a regular file: opening a FIFO with no writer would block the reader, and
/// every reload waiting for its turn, for good.
fn read_regular_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let not_regular =
        || std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file");
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Without waiting: a FIFO swapped in since the path was looked at opens at once (and is
    // refused below) instead of blocking until a writer comes. Reads of a regular file block
    // as ever.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path)?;
    // What was opened, in case the path was replaced since it was looked at.
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    crate::bounded_read::read_bounded(file, crate::bounded_read::MAX_INPUT_BYTES)
}

/// Reloads an authorizer when its policy file changes, by polling the file's content hash
/// (SHA-256): edits that keep the modification time, or files replaced by a symlink swap (as
/// Kubernetes ConfigMaps are), are seen too.
///
/// [`PolicyWatcher::poll`] checks once (drive it from your own timer, or from a test; it
/// blocks on file I/O); [`PolicyWatcher::spawn`] checks on an interval in a tokio task, each
/// poll on tokio's blocking threads. A file that cannot be read
/// or fails to load leaves the policy in force (and counts as a failed reload), and the same
/// broken content is not retried until it changes again. The file is read as
/// [`PolicyFile::load`] reads it (UTF-8, at most 4 MiB), and only if it is a regular file (a
/// FIFO there would block the watcher). New content is applied only when two
/// polls in a row read it ([`WatchEvent::Settling`] first), so a file written in place is not
/// applied half written; renaming a finished file into place is safer still. After a reload
/// from elsewhere (a `SIGHUP` handler calling [`Authorizer::reload_from_file`]) the file is
/// applied again as it is then, even if its content is the one last seen, so the file always
/// decides.
pub struct PolicyWatcher {
    authorizer: Authorizer,
    path: PathBuf,
    last: Option<[u8; 32]>,
    /// The reload generation in force when `last` was applied (or refused): another reload
    /// since then makes the file decide again even if its content is the same.
    generation: u64,
    /// New content the previous poll read, not applied yet: a file written in place may have
    /// been read half written, so content is applied only when a later poll reads it again.
    settling: Option<[u8; 32]>,
}

/// What one [`PolicyWatcher::poll`] did.
#[derive(Debug)]
#[non_exhaustive]
pub enum WatchEvent {
    /// The content is the one last seen: nothing to do.
    Unchanged,
    /// The content changed since the last poll: it is applied when the next poll reads it
    /// unchanged, so a file being written in place is never applied half written.
    Settling,
    /// The content changed and the new policy is in force.
    Reloaded(Reloaded),
    /// The content changed (or could not be read) and the policy in force stays.
    Failed(ConfigError),
}

impl PolicyWatcher {
    /// Checks the file once: reloads if its content differs from the last content applied, or
    /// if another reload ([`Authorizer::reload`], a `SIGHUP` handler) has put some other policy
    /// in force since, so the file as it is now is what decides — once two polls in a row have
    /// read the same content. The first of them answers [`WatchEvent::Settling`]: a file
    /// written in place (`cp`, `cat >`, many tools) can be read between two of its writes, and
    /// its first half may be a valid policy missing a stricter route. A file renamed into place
    /// is applied one poll later too.
    ///
    /// The file is read, and the new policy applied, in this poll's turn among reloads (as
    /// [`Authorizer::reload_from_file`] does), so a poll waits for a reload under way and no
    /// reload lands between its read and its swap. It does blocking file I/O: call it off the
    /// async workers, as [`PolicyWatcher::spawn`] does.
    pub fn poll(&mut self) -> WatchEvent {
        let authorizer = self.authorizer.clone();
        let turn = authorizer.live().one_at_a_time();
        let in_force = authorizer.live().generation();
        // Read as `reload_from_file` reads: bounded, and UTF-8 or refused (never a lossy
        // reading, never what `reload_from_file` would refuse).
        let bytes = match read_regular_file(&self.path) {
            Ok(bytes) => bytes,
            Err(error) => {
                drop(turn);
                self.settling = None;
                return self.unreadable(error);
            }
        };
        let hash = digest(&bytes);
        if self.last == Some(hash) && self.generation == in_force {
            self.settling = None;
            return WatchEvent::Unchanged;
        }
        if self.settling.replace(hash) != Some(hash) {
            return WatchEvent::Settling;
        }
        self.settling = None;
        self.last = Some(hash);
        self.generation = in_force;
        let result =
            PolicyFile::from_bytes(&self.path, bytes).and_then(|file| authorizer.apply(file));
        drop(turn);
        report(&result);
        match result {
            Ok(reloaded) => {
                self.generation = reloaded.generation;
                WatchEvent::Reloaded(reloaded)
            }
            Err(error) => WatchEvent::Failed(error),
        }
    }

    /// The file could not be read: counted and logged as a failed reload, since the file on
    /// disk is not the policy in force.
    fn unreadable(&self, error: std::io::Error) -> WatchEvent {
        let error = PolicyFile::unreadable(&self.path, error);
        crate::metrics::policy_reload("error");
        tracing::warn!(%error, "policy watch: the last good policy stays in force");
        WatchEvent::Failed(error)
    }

    /// Polls every `interval` on the current tokio runtime until the handle is dropped or
    /// stopped, each poll on a blocking thread ([`PolicyWatcher::spawn_with_ticks`]). Each
    /// reload or failure is sent to the handle ([`WatchHandle::next_event`]).
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn spawn(self, interval: Duration) -> WatchHandle {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let ticks = futures_util::stream::unfold(ticks, |mut ticks| async move {
            ticks.tick().await;
            Some(((), ticks))
        });
        self.spawn_with_ticks(Box::pin(ticks))
    }

    /// Polls once per item of `ticks` (your own timer or signal, or a test's channel) until
    /// the stream ends or the handle is dropped or stopped.
    ///
    /// Each poll runs on tokio's blocking threads ([`tokio::task::spawn_blocking`]): reading
    /// the file (and, on a reload, its key files) may block on a slow or stuck file system, and
    /// must not hold an async worker while it does. A poll under way when the handle is
    /// dropped still finishes.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn spawn_with_ticks<S>(mut self, mut ticks: S) -> WatchHandle
    where
        S: futures_util::Stream<Item = ()> + Send + Unpin + 'static,
    {
        use futures_util::StreamExt as _;
        let (events, receiver) = tokio::sync::mpsc::channel(16);
        let task = tokio::spawn(async move {
            while ticks.next().await.is_some() {
                let polled = tokio::task::spawn_blocking(move || {
                    let event = self.poll();
                    (self, event)
                })
                .await;
                // Only a runtime shutting down refuses or drops the blocking task (a poll does
                // not panic): the watcher stops with it.
                let Ok((watcher, event)) = polled else {
                    return;
                };
                self = watcher;
                if matches!(event, WatchEvent::Unchanged | WatchEvent::Settling) {
                    continue;
                }
                // Nobody listening (or a slow listener) must not stop the reloads.
                let _ = events.try_send(event);
            }
        });
        WatchHandle { task, receiver }
    }
}

impl fmt::Debug for PolicyWatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyWatcher")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A running [`PolicyWatcher`]: dropping it stops the polling.
#[derive(Debug)]
pub struct WatchHandle {
    task: tokio::task::JoinHandle<()>,
    receiver: tokio::sync::mpsc::Receiver<WatchEvent>,
}

impl WatchHandle {
    /// The next reload or failure (`None` once the watcher stopped).
    pub async fn next_event(&mut self) -> Option<WatchEvent> {
        self.receiver.recv().await
    }

    /// Stops polling.
    pub fn stop(self) {}
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut out = [0; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, Method};

    use super::*;
    use crate::authorizer::Decision;

    /// A policy whose `/admin` route requires `admin` (`public` or `deny`); no token is needed
    /// to decide it, and nothing is fetched.
    fn policy(admin: &str) -> String {
        format!(
            "[[issuer]]\nuser_pool_id = \"us-east-1_Example1\"\nclient_ids = [\"c\"]\n\
             token_use = \"access\"\n\n[[route]]\npath = \"/admin\"\nrequire = \"{admin}\"\n"
        )
    }

    fn admin_status(authorizer: &Authorizer) -> u16 {
        match authorizer.authorize_now(&Method::GET, "/admin", &HeaderMap::new()) {
            Some(Decision::Allow { .. }) => 200,
            Some(Decision::Deny(denial)) => denial.status().as_u16(),
            None => 0,
        }
    }

    #[test]
    fn a_reload_from_file_reads_the_file_in_its_turn_not_before() {
        let dir =
            std::env::temp_dir().join(format!("cognito-authz-reload-turn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("policy.toml");
        std::fs::write(&path, policy("deny")).expect("write");
        let authorizer = Authorizer::builder()
            .policy_file(&path)
            .build()
            .expect("loads");
        // Another reload holds the turn (a SIGHUP reload, the watcher) while this one starts.
        let turn = authorizer.live().one_at_a_time();
        let waiting = {
            let (authorizer, path) = (authorizer.clone(), path.clone());
            std::thread::spawn(move || {
                authorizer
                    .reload_from_file(&path)
                    .map(|reloaded| reloaded.generation)
                    .map_err(|error| error.to_string())
            })
        };
        // The file changes before the waiting reload's turn comes: whenever it started, it
        // must apply the file as it is when it may apply anything.
        let staged = dir.join("staged.toml");
        std::fs::write(&staged, policy("public")).expect("write");
        std::fs::rename(&staged, &path).expect("renamed into place");
        drop(turn);
        assert_eq!(waiting.join().expect("reload thread"), Ok(1));
        assert_eq!(admin_status(&authorizer), 200, "the file as read in turn");
        std::fs::remove_dir_all(&dir).ok();
    }
}
