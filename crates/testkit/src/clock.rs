//! A clock the test moves by hand, shared by the issuer (token times) and the verifier (expiry,
//! JWKS cooldowns), so tests step over an hour without waiting for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cognito_authz_core::Clock;

/// The instant a default [`ManualClock`] starts at: 2023-11-14T22:13:20Z.
pub const DEFAULT_START_SECS: u64 = 1_700_000_000;

/// A clock that only moves when told to; clones share the same time.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use cognito_authz_core::Clock;
/// use cognito_authz_testkit::ManualClock;
/// let clock = ManualClock::at(1_000);
/// let shared = clock.clone();
/// clock.advance(Duration::from_secs(60));
/// assert_eq!(shared.now_secs(), 1_060);
/// assert_eq!(shared.now(), Duration::from_secs(1_060));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock reading `secs` seconds after the Unix epoch.
    pub fn at(secs: u64) -> Self {
        Self {
            nanos: Arc::new(AtomicU64::new(to_nanos(Duration::from_secs(secs)))),
        }
    }

    /// A clock starting at the current wall-clock second (then moving only by hand).
    pub fn starting_now() -> Self {
        Self::at(cognito_authz_core::SystemClock.now().as_secs())
    }

    /// Sets the time to `secs` seconds after the epoch (backwards too).
    pub fn set(&self, secs: u64) {
        self.set_duration(Duration::from_secs(secs));
    }

    /// Sets the time to `since_epoch`, with sub-second precision.
    pub fn set_duration(&self, since_epoch: Duration) {
        self.nanos.store(to_nanos(since_epoch), Ordering::SeqCst);
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = to_nanos(by);
        // fetch_update with saturation: a test that advances past year 2554 stays there.
        let _ = self
            .nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(by))
            });
    }

    /// The current time in whole seconds since the epoch.
    pub fn now_secs(&self) -> u64 {
        self.now().as_secs()
    }
}

impl Default for ManualClock {
    /// A clock at [`DEFAULT_START_SECS`].
    fn default() -> Self {
        Self::at(DEFAULT_START_SECS)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

fn to_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_time_and_sub_seconds_are_kept() {
        let clock = ManualClock::default();
        let other = clock.clone();
        assert_eq!(other.now_secs(), DEFAULT_START_SECS);
        clock.advance(Duration::from_millis(1_500));
        assert_eq!(
            other.now(),
            Duration::from_millis(DEFAULT_START_SECS * 1000 + 1_500)
        );
        other.set(10);
        assert_eq!(clock.now_secs(), 10);
        clock.advance(Duration::MAX);
        assert_eq!(clock.now(), Duration::from_nanos(u64::MAX));
    }
}
