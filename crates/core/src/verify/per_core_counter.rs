//! A counter bumped on every request without making cores fight over one cache line.
//!
//! One relaxed atomic shared by every thread is correct but slow under load: each increment
//! pulls the line away from the other cores. Here every thread adds to one of a few stripes
//! (each on its own cache line, chosen once per thread), and a read sums the stripes. Reads are
//! rare (metrics, tests); increments are on the hot path.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// How many stripes: enough that a handful of busy threads rarely share one.
const STRIPES: usize = 16;

/// One stripe, alone on its cache line (128 bytes covers adjacent-line prefetching).
#[repr(align(128))]
#[derive(Default)]
struct Stripe(AtomicU64);

/// A monotonic counter whose increments stay on the incrementing core's cache line.
#[derive(Default)]
pub(crate) struct PerCoreCounter {
    stripes: Box<[Stripe; STRIPES]>,
}

impl std::fmt::Debug for PerCoreCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PerCoreCounter").field(&self.get()).finish()
    }
}

impl PerCoreCounter {
    /// Adds one (relaxed: the count orders nothing else).
    pub(crate) fn increment(&self) {
        self.stripes[stripe_of_this_thread()]
            .0
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The sum of every stripe: exact once the incrementing threads are done, a recent value
    /// while they run.
    pub(crate) fn get(&self) -> u64 {
        self.stripes
            .iter()
            .map(|stripe| stripe.0.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

/// The stripe this thread adds to: threads take stripes in the order they first count, so the
/// first `STRIPES` threads (a runtime's workers, typically) each have their own.
fn stripe_of_this_thread() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    STRIPE.with(|stripe| *stripe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increments_from_many_threads_all_count() {
        let counter = PerCoreCounter::default();
        std::thread::scope(|scope| {
            for _ in 0..(STRIPES + 4) {
                scope.spawn(|| {
                    for _ in 0..10_000 {
                        counter.increment();
                    }
                });
            }
        });
        assert_eq!(counter.get(), (STRIPES as u64 + 4) * 10_000);
    }

    #[test]
    fn stripes_sit_on_their_own_cache_lines() {
        assert_eq!(std::mem::align_of::<Stripe>(), 128);
        assert_eq!(std::mem::size_of::<Stripe>(), 128);
    }
}
