//! Compiled route tables kept between invocations, so a warm function compiles the table once
//! per principal instead of on every request.
//!
//! - The table compiled for no token (the anonymous principal) is kept once per loaded route
//!   table.
//! - A principal's compiled table is keyed by the verified token's payload exactly as signed
//!   and the name of the issuer that accepted it, which is everything a policy reads: two
//!   requests share an entry only when every policy decides their tokens alike. Entries
//!   are bounded in count and in bytes (first in, first out), and an entry is used only while
//!   the injected clock reads before the token's `exp`.
//! - Everything is dropped when the route table in force changes (a policy reload): an entry
//!   is never used with a table other than the one it was compiled from.
//!
//! Only compiled tables are kept, never a decision: every request is still verified (the
//! revocation check included) and decided before its entry is looked up, and what belongs to
//! one request (its own `methodArn`, a refusal) is added to the document afresh each time.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use cognito_authz_core::RouteTable;

use crate::iam::TablePolicy;

/// How many principals' compiled tables are kept by default.
pub(crate) const DEFAULT_ENTRIES: usize = 1024;

/// How many bytes the kept principals' tables may hold by default (16 MiB).
pub(crate) const DEFAULT_BYTES: usize = 16 * 1024 * 1024;

/// Bytes an entry costs beyond its token and its table: the map and queue slots, the shared
/// table's counts, and allocator slack.
const ENTRY_OVERHEAD: usize = 256;

/// What the policy cache has done since the function started: see
/// [`LambdaAuthorizer::policy_cache_stats`](crate::LambdaAuthorizer::policy_cache_stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PolicyCacheStats {
    /// Route tables compiled into IAM policies (for the anonymous principal and for tokens).
    pub compilations: u64,
    /// Requests answered with a principal's table compiled for an earlier request.
    pub hits: u64,
    /// Principals' compiled tables kept now (the anonymous one not counted).
    pub entries: usize,
    /// Bytes those entries are charged.
    pub bytes: usize,
}

/// One principal's compiled table.
struct Entry {
    table: Arc<TablePolicy>,
    /// The token's `exp`, in seconds since the epoch: the entry is not used from then on.
    expires_at: f64,
    /// Insertion number, so the eviction queue skips entries removed or replaced since.
    id: u64,
    charged: usize,
}

/// Everything behind the lock.
#[derive(Default)]
struct State {
    /// The route table the entries were compiled from; held, so its address cannot be reused
    /// by a later table while the entries live.
    routes: Option<Arc<RouteTable>>,
    anonymous: Option<Arc<TablePolicy>>,
    entries: HashMap<Arc<[u8]>, Entry>,
    /// Insertion order, for first-in-first-out eviction.
    order: VecDeque<(Arc<[u8]>, u64)>,
    next_id: u64,
    bytes: usize,
    /// Whether the warning that this table's policy is too large was logged.
    warned_too_large: bool,
}

impl State {
    /// Whether the entries are those of `routes`. After a reload while compiling, a table
    /// compiled from the routes before it is not kept, and the newer entries stay.
    fn holds(&self, routes: &Arc<RouteTable>) -> bool {
        self.routes
            .as_ref()
            .is_some_and(|kept| Arc::ptr_eq(kept, routes))
    }

    /// Drops everything kept for another route table than `routes`.
    fn follow(&mut self, routes: &Arc<RouteTable>) {
        if self.holds(routes) {
            return;
        }
        *self = State {
            routes: Some(Arc::clone(routes)),
            next_id: self.next_id,
            ..State::default()
        };
    }

    fn remove(&mut self, key: &[u8]) {
        if let Some(entry) = self.entries.remove(key) {
            self.bytes -= entry.charged;
        }
    }

    /// Evicts the oldest entries until one more of `charge` bytes fits both bounds.
    fn make_room(&mut self, max_entries: usize, max_bytes: usize, charge: usize) {
        while self.entries.len() >= max_entries || self.bytes + charge > max_bytes {
            let Some((key, id)) = self.order.pop_front() else {
                break;
            };
            if self.entries.get(&key).is_some_and(|entry| entry.id == id) {
                self.remove(&key);
            }
        }
        // Slots of entries removed early (expired at a lookup) are dropped here, so the queue
        // stays within twice the entry count.
        if self.order.len() > 2 * self.entries.len() + 16 {
            let entries = &self.entries;
            self.order
                .retain(|(key, id)| entries.get(key).is_some_and(|entry| entry.id == *id));
        }
    }
}

/// The compiled tables of the function, shared by its clones.
pub(crate) struct PolicyCache {
    max_entries: usize,
    max_bytes: usize,
    state: Mutex<State>,
    compilations: AtomicU64,
    hits: AtomicU64,
}

impl std::fmt::Debug for PolicyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyCache")
            .field("max_entries", &self.max_entries)
            .field("max_bytes", &self.max_bytes)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl PolicyCache {
    pub(crate) fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            max_entries,
            max_bytes,
            state: Mutex::new(State::default()),
            compilations: AtomicU64::new(0),
            hits: AtomicU64::new(0),
        }
    }

    /// The lock; a panic elsewhere while it was held leaves nothing half-written that matters
    /// (at worst an entry not yet counted), so a poisoned lock is taken as it is.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one compilation of a route table (cached or not).
    pub(crate) fn count_compilation(&self) {
        self.compilations.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> PolicyCacheStats {
        let state = self.lock();
        PolicyCacheStats {
            compilations: self.compilations.load(Ordering::Relaxed),
            hits: self.hits.load(Ordering::Relaxed),
            entries: state.entries.len(),
            bytes: state.bytes,
        }
    }

    /// The table compiled for no token, compiled by `compile` the first time it is asked for
    /// with `routes`.
    pub(crate) fn anonymous(
        &self,
        routes: &Arc<RouteTable>,
        compile: impl FnOnce() -> TablePolicy,
    ) -> Arc<TablePolicy> {
        {
            let mut state = self.lock();
            state.follow(routes);
            if let Some(table) = &state.anonymous {
                return Arc::clone(table);
            }
        }
        // Compiled without the lock held: it takes long, and nothing else must wait for it.
        let table = Arc::new(compile());
        let mut state = self.lock();
        if !state.holds(routes) {
            return table;
        }
        Arc::clone(state.anonymous.get_or_insert(table))
    }

    /// The table compiled for the token whose key (see the module docs) is `token` and whose `exp` is
    /// `expires_at`, as of `now`: kept from an earlier request, else compiled by `compile`
    /// and kept (unless the token has expired already or the entry exceeds the bounds).
    pub(crate) fn principal(
        &self,
        routes: &Arc<RouteTable>,
        token: &[u8],
        expires_at: f64,
        now: Duration,
        compile: impl FnOnce() -> TablePolicy,
    ) -> Arc<TablePolicy> {
        let now = now.as_secs_f64();
        {
            let mut state = self.lock();
            state.follow(routes);
            match state.entries.get(token) {
                Some(entry) if now < entry.expires_at => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return Arc::clone(&entry.table);
                }
                Some(_) => state.remove(token),
                None => {}
            }
        }
        let table = Arc::new(compile());
        let charge = token.len() + table.heap_bytes() + ENTRY_OVERHEAD;
        if now >= expires_at || self.max_entries == 0 || charge > self.max_bytes {
            return table;
        }
        let mut state = self.lock();
        if !state.holds(routes) {
            return table;
        }
        state.remove(token);
        state.make_room(self.max_entries, self.max_bytes, charge);
        let key: Arc<[u8]> = Arc::from(token);
        let id = state.next_id;
        state.next_id += 1;
        state.order.push_back((Arc::clone(&key), id));
        state.bytes += charge;
        state.entries.insert(
            key,
            Entry {
                table: Arc::clone(&table),
                expires_at,
                id,
                charged: charge,
            },
        );
        table
    }

    /// True the first time it is asked for the route table `routes` (again after a reload):
    /// whether to log that its policy is too large for API Gateway.
    pub(crate) fn first_too_large(&self, routes: &Arc<RouteTable>) -> bool {
        let mut state = self.lock();
        state.follow(routes);
        !std::mem::replace(&mut state.warned_too_large, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> Arc<RouteTable> {
        Arc::new(
            RouteTable::builder()
                .route("/a", "authenticated".parse().expect("policy"))
                .build()
                .expect("table"),
        )
    }

    fn table(marker: &str) -> TablePolicy {
        let mut table = TablePolicy::default();
        table.narrowed.push((http::Method::GET, marker.to_owned()));
        table
    }

    const NOW: Duration = Duration::from_secs(1_000);

    #[test]
    fn a_token_is_compiled_once_until_it_expires() {
        let cache = PolicyCache::new(8, 1 << 20);
        let routes = routes();
        let mut compiled = 0;
        for _ in 0..3 {
            cache.principal(&routes, b"token", 1_060.0, NOW, || {
                compiled += 1;
                table("t")
            });
        }
        assert_eq!(compiled, 1);
        assert_eq!(cache.stats().hits, 2);
        cache.principal(
            &routes,
            b"token",
            1_060.0,
            Duration::from_secs(1_060),
            || {
                compiled += 1;
                table("t")
            },
        );
        assert_eq!(compiled, 2, "at exp the entry is not used");
        assert_eq!(cache.stats().entries, 0, "nor kept");
    }

    #[test]
    fn another_route_table_drops_every_entry() {
        let cache = PolicyCache::new(8, 1 << 20);
        let (old, new) = (routes(), routes());
        cache.principal(&old, b"token", 2_000.0, NOW, || table("old"));
        cache.anonymous(&old, || table("old"));
        assert_eq!(
            cache.anonymous(&old, || table("again")).narrowed[0].1,
            "old"
        );
        let kept = cache.principal(&new, b"token", 2_000.0, NOW, || table("new"));
        assert_eq!(kept.narrowed[0].1, "new");
        assert_eq!(cache.anonymous(&new, || table("new")).narrowed[0].1, "new");
        assert_eq!(cache.stats().entries, 1);
    }

    #[test]
    fn entries_are_bounded_in_count_and_bytes_oldest_out_first() {
        let cache = PolicyCache::new(2, 1 << 20);
        let routes = routes();
        for token in [b"one", b"two", b"six"] {
            cache.principal(&routes, token, 2_000.0, NOW, || table("x"));
        }
        assert_eq!(cache.stats().entries, 2);
        let mut compiled = false;
        cache.principal(&routes, b"one", 2_000.0, NOW, || {
            compiled = true;
            table("x")
        });
        assert!(compiled, "the oldest entry was evicted");

        let one = b"one".len() + table("x").heap_bytes() + ENTRY_OVERHEAD;
        let cache = PolicyCache::new(100, 2 * one);
        for token in [b"one", b"two", b"six"] {
            cache.principal(&routes, token, 2_000.0, NOW, || table("x"));
        }
        let stats = cache.stats();
        assert_eq!((stats.entries, stats.bytes), (2, 2 * one));
    }

    #[test]
    fn an_expired_token_or_an_oversized_entry_is_not_kept() {
        let routes = routes();
        let cache = PolicyCache::new(8, 1 << 20);
        cache.principal(&routes, b"late", 999.0, NOW, || table("x"));
        assert_eq!(cache.stats().entries, 0);
        let cache = PolicyCache::new(8, 16);
        cache.principal(&routes, b"big", 2_000.0, NOW, || table("x"));
        assert_eq!(cache.stats().entries, 0);
        let cache = PolicyCache::new(0, 1 << 20);
        cache.principal(&routes, b"off", 2_000.0, NOW, || table("x"));
        assert_eq!(cache.stats().entries, 0);
    }

    #[test]
    fn the_too_large_warning_is_due_once_per_route_table() {
        let cache = PolicyCache::new(8, 1 << 20);
        let (old, new) = (routes(), routes());
        assert!(cache.first_too_large(&old));
        assert!(!cache.first_too_large(&old));
        assert!(cache.first_too_large(&new));
    }
}
