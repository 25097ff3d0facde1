//! The JWKS cache: one key source per issuer (per region for replicated pools),
//! read lock-free, refreshed single-flight with a cooldown and back-off, stale-if-error.
//!
//! Reads never take a lock: the current [`KeySet`] sits behind an [`ArcSwap`]. A miss may start a
//! refresh; concurrent misses share one fetch (a [`Shared`] future). The fetch runs as its own
//! tokio task, so it completes (and its result is applied) even when every request waiting for
//! it is cancelled, e.g. because the client hung up; a caller never joins a fetch that started
//! longer ago than the cooldown (or the fetch timeout, if longer), so no one is handed an old
//! answer. The small state mutex is held only to decide, never across an await.
//!
//! Every sum of a clock reading and a configured duration saturates: a cooldown, timeout or
//! back-off of `Duration::MAX` means "never" (no refresh on an unknown kid, a fetch joined for
//! as long as it runs, no retry after a failure), not a panic inside a request.
//!
//! [`Shared`]: futures_util::future::Shared

mod fetch;
mod set;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;

pub(crate) use fetch::FetchError;
#[cfg(feature = "alb")]
pub(crate) use fetch::classify as classify_transport_error;
#[cfg(test)]
pub(crate) use set::FILE_READS;
pub(crate) use set::KeyEntry;
pub use set::{KeyFileError, KeySet, KeySetError, MAX_KEYS};

use crate::error::{Error, ErrorKind};
use crate::shared_fetch::{self, SharedFetch};
use crate::verify::clock::SharedClock;
use crate::verify::config::FetchSettings;

pub(crate) use fetch::client as http_client;

/// How a refresh was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshReason {
    /// A token named a kid the set does not have: cooldown and back-off apply.
    UnknownKid,
    /// The periodic background refresh: back-off applies, cooldown does not.
    Background,
    /// `warm_up()`: fetch now unless a fetch is already under way.
    WarmUp,
}

/// Counters of one key source, for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeySourceStats {
    /// Fetches started.
    pub fetches: u64,
    /// Fetches that failed.
    pub failures: u64,
    /// Misses refused because of the cooldown.
    pub cooldown_hits: u64,
    /// Misses refused because of the back-off after a failure.
    pub backoff_hits: u64,
    /// Keys in the current set.
    pub keys: usize,
}

#[derive(Default)]
struct RefreshState {
    in_flight: Option<InFlight>,
    last_attempt: Option<Duration>,
    failures: u32,
    retry_at: Option<Duration>,
    /// Numbers fetches in the order they start.
    next_generation: u64,
    /// The newest fetch whose answer was applied: an older one finishing later is ignored.
    applied_generation: u64,
    /// Why the last fetch failed, until one succeeds (for warm-up errors).
    last_error: Option<FetchError>,
}

impl RefreshState {
    /// Clears the fetch under way if it is still fetch `generation` (a newer one stays).
    fn forget_fetch(&mut self, generation: u64) {
        if self
            .in_flight
            .as_ref()
            .is_some_and(|in_flight| in_flight.generation == generation)
        {
            self.in_flight = None;
        }
    }
}

/// The fetch under way: what waiters join, when it started, and its number.
struct InFlight {
    fetch: SharedFetch<bool>,
    started: Duration,
    generation: u64,
}

/// The keys of one issuer (or one region of a replicated pool).
pub(crate) struct KeySource {
    label: Arc<str>,
    url: Option<String>,
    settings: FetchSettings,
    client: Option<reqwest::Client>,
    clock: SharedClock,
    set: ArcSwap<KeySet>,
    loaded: AtomicBool,
    state: Mutex<RefreshState>,
    fetches: AtomicU64,
    failures: AtomicU64,
    cooldown_hits: AtomicU64,
    backoff_hits: AtomicU64,
    metrics: crate::metrics::SourceCounters,
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySource")
            .field("label", &self.label)
            .field("keys", &self.set.load().len())
            .field("loaded", &self.is_loaded())
            .finish_non_exhaustive()
    }
}

impl Drop for KeySource {
    fn drop(&mut self) {
        // Nothing uses this key set any more (no verifier holds it, and no fetch or refresh
        // is under way): its URL's key count drops to 0 unless another key set of that URL
        // is alive.
        if self.url.is_some() {
            crate::metrics::key_set_dropped(&self.label);
        }
    }
}

impl KeySource {
    /// A source with an optional preloaded set and an optional URL to refresh from.
    pub(crate) fn new(
        label: Arc<str>,
        url: Option<String>,
        preload: Option<KeySet>,
        settings: FetchSettings,
        client: Option<reqwest::Client>,
        clock: SharedClock,
    ) -> Self {
        let loaded = preload.is_some();
        if url.is_some() {
            crate::metrics::key_set_made(&label);
        }
        Self {
            label,
            url,
            settings,
            client,
            clock,
            set: ArcSwap::from_pointee(preload.unwrap_or_default()),
            loaded: AtomicBool::new(loaded),
            state: Mutex::new(RefreshState::default()),
            fetches: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            cooldown_hits: AtomicU64::new(0),
            backoff_hits: AtomicU64::new(0),
            metrics: crate::metrics::SourceCounters::default(),
        }
    }

    /// Whether a set was ever loaded (from a file, a string, or a successful fetch).
    pub(crate) fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Whether `key` is still the entry the current set holds for its kid.
    pub(crate) fn stats(&self) -> KeySourceStats {
        KeySourceStats {
            fetches: self.fetches.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            cooldown_hits: self.cooldown_hits.load(Ordering::Relaxed),
            backoff_hits: self.backoff_hits.load(Ordering::Relaxed),
            keys: self.set.load().len(),
        }
    }

    /// Whether this source is fetched over HTTP (not a static file or string).
    pub(crate) fn has_url(&self) -> bool {
        self.url.is_some()
    }

    /// The URL, file or name that identifies this source in logs.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// Why the last fetch failed, if it did; `None` once one succeeds.
    pub(crate) fn last_error(&self) -> Option<FetchError> {
        self.lock().last_error.clone()
    }

    pub(crate) fn background_interval(&self) -> Option<Duration> {
        self.url.as_ref().and(self.settings.background_refresh)
    }

    /// Check 7/7b: the key for `kid`, refreshing once on a miss when the rules allow.
    pub(crate) async fn key(self: &Arc<Self>, kid: &str) -> Result<Arc<KeyEntry>, Error> {
        if let Some(key) = self.set.load().get(kid) {
            return Ok(Arc::clone(key));
        }
        self.refresh(RefreshReason::UnknownKid).await;
        if let Some(key) = self.set.load().get(kid) {
            return Ok(Arc::clone(key));
        }
        if self.is_loaded() {
            Err(Error::new(
                ErrorKind::UnknownKid,
                "kid not in the issuer's key set",
            ))
        } else {
            Err(Error::new(
                ErrorKind::JwksUnavailable,
                "key set never fetched successfully",
            ))
        }
    }

    fn lock(&self) -> MutexGuard<'_, RefreshState> {
        // The state is a few plain fields updated together; a panic elsewhere cannot leave it
        // half-written in a way that matters, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Joins the fetch under way, or starts one if the rules allow; returns whether a fetch
    /// this call waited for succeeded.
    pub(crate) async fn refresh(self: &Arc<Self>, reason: RefreshReason) -> bool {
        let fetch = {
            let mut state = self.lock();
            let now = self.clock.now();
            // Join the fetch under way only while its answer is fresh enough; one that started
            // longer ago (its waiters were all cancelled before it could finish, with no
            // runtime to run it on its own) is dropped, and the rules below decide anew.
            let fresh_for = self
                .settings
                .min_refresh_interval
                .max(self.settings.timeout);
            if state
                .in_flight
                .as_ref()
                .is_some_and(|in_flight| now >= in_flight.started.saturating_add(fresh_for))
            {
                tracing::debug!(source = %self.label, "jwks fetch in flight is older than the cooldown; not joining it");
                state.in_flight = None;
            }
            match &state.in_flight {
                Some(in_flight) => in_flight.fetch.clone(),
                None => match self.start_fetch(&mut state, reason, now) {
                    Some(fetch) => fetch,
                    None => return false,
                },
            }
        };
        fetch.await
    }

    /// Starts a fetch if the back-off and cooldown allow it.
    fn start_fetch(
        self: &Arc<Self>,
        state: &mut RefreshState,
        reason: RefreshReason,
        now: Duration,
    ) -> Option<SharedFetch<bool>> {
        let url = self.url.clone()?;
        if reason != RefreshReason::WarmUp && state.retry_at.is_some_and(|retry_at| now < retry_at)
        {
            self.backoff_hits.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(source = %self.label, ?reason, "jwks refresh skipped: backing off after a failed fetch");
            return None;
        }
        if reason == RefreshReason::UnknownKid
            && self.is_loaded()
            && state
                .last_attempt
                .is_some_and(|last| now < last.saturating_add(self.settings.min_refresh_interval))
        {
            self.cooldown_hits.fetch_add(1, Ordering::Relaxed);
            self.metrics.cooldown_refusal(&self.label);
            tracing::debug!(source = %self.label, "jwks refresh skipped: unknown kid inside the refresh cooldown");
            return None;
        }
        state.last_attempt = Some(now);
        state.next_generation += 1;
        let generation = state.next_generation;
        let task = Arc::clone(self).run_fetch(url, generation);
        // Its own task where there is a runtime, so its answer lands even when every request
        // waiting for it is cancelled; without one the waiters drive it, and the age check in
        // `refresh` keeps a stranded one from being joined later. A task that ends without an
        // answer is forgotten, so the next miss starts a fetch instead of joining a dead one.
        let (fetch, _abort) = shared_fetch::start(
            task,
            Arc::downgrade(self),
            move |source: &Self| source.lock().forget_fetch(generation),
            false,
        );
        state.in_flight = Some(InFlight {
            fetch: fetch.clone(),
            started: now,
            generation,
        });
        Some(fetch)
    }

    async fn run_fetch(self: Arc<Self>, url: String, generation: u64) -> bool {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(source = %self.label, url = %url, "jwks fetch started");
        let started = std::time::Instant::now();
        let result = match &self.client {
            Some(client) => fetch::fetch(client, &url, &self.settings).await,
            None => Err(FetchError::Transport),
        };
        let elapsed = started.elapsed();
        let mut state = self.lock();
        state.forget_fetch(generation);
        if generation < state.applied_generation {
            tracing::debug!(source = %self.label, "jwks fetch finished after a newer one; its answer is ignored");
            return false;
        }
        state.applied_generation = generation;
        match result {
            Ok(mut set) => {
                tracing::info!(source = %self.label, keys = set.len(), "jwks fetched");
                let previous = self.set.load_full();
                set.reuse_unchanged(&previous);
                let set = Arc::new(set);
                self.set.store(Arc::clone(&set));
                previous.retire_replaced(&set);
                crate::metrics::jwks_fetch(&self.label, "ok", elapsed, set.len());
                self.loaded.store(true, Ordering::Release);
                state.failures = 0;
                state.retry_at = None;
                state.last_error = None;
                true
            }
            Err(error) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                state.failures = state.failures.saturating_add(1);
                let backoff = backoff(&self.settings, state.failures);
                state.retry_at = Some(self.clock.now().saturating_add(backoff));
                let keys = self.set.load().len();
                crate::metrics::jwks_fetch(
                    &self.label,
                    crate::metrics::fetch_failure(&error),
                    elapsed,
                    keys,
                );
                tracing::warn!(
                    source = %self.label,
                    %error,
                    stale_keys = self.set.load().len(),
                    backoff_ms = backoff.as_millis() as u64,
                    "jwks fetch failed; keeping the last good key set"
                );
                state.last_error = Some(error);
                false
            }
        }
    }
}

/// Exponential back-off: `initial × 2^(failures−1)`, capped.
fn backoff(settings: &FetchSettings, failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    settings
        .backoff_initial
        .saturating_mul(factor)
        .min(settings.backoff_max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let settings = FetchSettings::default();
        assert_eq!(backoff(&settings, 1), Duration::from_secs(1));
        assert_eq!(backoff(&settings, 2), Duration::from_secs(2));
        assert_eq!(backoff(&settings, 4), Duration::from_secs(8));
        assert_eq!(backoff(&settings, 40), Duration::from_secs(60));
    }
}
