//! Time, injected: every time-dependent rule (exp, nbf, iat, JWKS cooldown and back-off) reads the
//! clock given to the verifier, so tests move time instead of sleeping past it.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time, as a duration since the Unix epoch.
///
/// # Example
///
/// ```
/// use cognito_authz_core::{Clock, SystemClock};
/// let now = SystemClock.now();
/// assert!(now.as_secs() > 1_700_000_000);
/// ```
pub trait Clock: Send + Sync + 'static {
    /// The current time since the Unix epoch.
    fn now(&self) -> Duration;
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        // A clock before 1970 is a broken machine; treating it as the epoch makes every token
        // "not yet valid" or expired-by-future, which fails closed.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
    }
}

/// A clock that always reads the same instant (the CLI's `--now`).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Duration);

impl Clock for FixedClock {
    fn now(&self) -> Duration {
        self.0
    }
}

/// A shared, type-erased clock.
#[derive(Clone)]
pub struct SharedClock {
    clock: Arc<dyn Clock>,
    /// The clock is [`SystemClock`]: [`SharedClock::instant`] reads the system time directly.
    system: bool,
}

impl SharedClock {
    /// Wraps any clock.
    pub fn new<C: Clock>(clock: C) -> Self {
        Self {
            system: std::any::TypeId::of::<C>() == std::any::TypeId::of::<SystemClock>(),
            clock: Arc::new(clock),
        }
    }

    /// The current time since the Unix epoch.
    pub fn now(&self) -> Duration {
        self.clock.now()
    }

    /// The current time as an instant on the system clock (the system clock's own reading, or
    /// the epoch plus this clock's), for comparing with instants worked out in advance; `None`
    /// when this clock reads a time no instant can hold.
    #[inline]
    pub(crate) fn instant(&self) -> Option<SystemTime> {
        if self.system {
            Some(SystemTime::now())
        } else {
            UNIX_EPOCH.checked_add(self.clock.now())
        }
    }
}

impl Default for SharedClock {
    fn default() -> Self {
        Self::new(SystemClock)
    }
}

impl fmt::Debug for SharedClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedClock").field(&self.now()).finish()
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Duration {
        (**self).now()
    }
}
