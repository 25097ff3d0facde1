//! The optional verified-token cache (DESIGN.md §5): a repeated token skips parsing and the
//! signature check, never a decision.
//!
//! Bounded (FIFO eviction), keyed by the exact token bytes. A hit is used only while the key that
//! verified it is still the one its issuer's current key set holds for that kid, and every time
//! rule (`exp`, `nbf`, `iat`) is re-checked on each hit by the verifier.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::claims::VerifiedToken;
use crate::jwks::KeyEntry;

/// What a hit hands back: the token, the key that verified it, and where it came from.
#[derive(Clone)]
pub(crate) struct CachedToken {
    pub(crate) token: Arc<VerifiedToken>,
    pub(crate) key: Arc<KeyEntry>,
    pub(crate) issuer: usize,
    pub(crate) source: usize,
}

/// One cached token: its exact bytes, what a hit returns, and its insertion number.
struct Entry {
    token: Box<str>,
    cached: CachedToken,
    id: u64,
}

struct Inner {
    /// Hash of the token → entries with that hash (almost always one).
    buckets: HashMap<u64, Vec<Entry>>,
    /// Insertion order as (hash, insertion number), for FIFO eviction. It holds no token
    /// bytes, so a slot left behind by an early removal costs 16 bytes, not a token.
    order: VecDeque<(u64, u64)>,
    len: usize,
    next_id: u64,
}

pub(crate) struct TokenCache {
    capacity: usize,
    hits: AtomicU64,
    hasher: RandomState,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

impl TokenCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            hits: AtomicU64::new(0),
            hasher: RandomState::new(),
            inner: Mutex::new(Inner {
                buckets: HashMap::with_capacity(capacity.min(4096)),
                order: VecDeque::with_capacity(capacity.min(4096)),
                len: 0,
                next_id: 0,
            }),
        }
    }

    /// Hashes the token's length and last 32 bytes: the tail is signature, uniformly random, so
    /// it spreads entries as well as the whole token in a fraction of the time. Equality is
    /// still checked on the whole token.
    fn hash(&self, token: &str) -> u64 {
        let bytes = token.as_bytes();
        self.hasher
            .hash_one((bytes.len(), &bytes[bytes.len().saturating_sub(32)..]))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn count_hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len
    }

    pub(crate) fn get(&self, token: &str) -> Option<CachedToken> {
        let hash = self.hash(token);
        let inner = self.lock();
        inner
            .buckets
            .get(&hash)?
            .iter()
            .find(|entry| *entry.token == *token)
            .map(|entry| entry.cached.clone())
    }

    pub(crate) fn remove(&self, token: &str) {
        let hash = self.hash(token);
        let mut guard = self.lock();
        guard.remove_where(hash, |entry| *entry.token == *token);
    }

    pub(crate) fn insert(&self, token: &str, cached: CachedToken) {
        if self.capacity == 0 {
            return;
        }
        let hash = self.hash(token);
        let mut guard = self.lock();
        let inner = &mut *guard;
        if let Some(entry) = inner
            .buckets
            .get_mut(&hash)
            .and_then(|bucket| bucket.iter_mut().find(|entry| *entry.token == *token))
        {
            entry.cached = cached;
            return;
        }
        while inner.len >= self.capacity {
            let Some((old_hash, old_id)) = inner.order.pop_front() else {
                break;
            };
            inner.remove_where(old_hash, |entry| entry.id == old_id);
        }
        // Entries removed early (expired, stale key) leave their order slot behind; keep the
        // queue bounded by dropping those slots when it grows past twice the capacity.
        if inner.order.len() >= self.capacity.saturating_mul(2) {
            let buckets = &inner.buckets;
            inner.order.retain(|(hash, id)| {
                buckets
                    .get(hash)
                    .is_some_and(|bucket| bucket.iter().any(|entry| entry.id == *id))
            });
        }
        let id = inner.next_id;
        inner.next_id += 1;
        inner.order.push_back((hash, id));
        inner.buckets.entry(hash).or_default().push(Entry {
            token: token.into(),
            cached,
            id,
        });
        inner.len += 1;
    }
}

impl Inner {
    /// Removes the entries of bucket `hash` that match.
    fn remove_where(&mut self, hash: u64, matches: impl Fn(&Entry) -> bool) {
        if let Some(bucket) = self.buckets.get_mut(&hash) {
            let before = bucket.len();
            bucket.retain(|entry| !matches(entry));
            self.len -= before - bucket.len();
            if bucket.is_empty() {
                self.buckets.remove(&hash);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwks::KeySet;

    fn entry() -> CachedToken {
        let keys = KeySet::from_json(br#"{"keys":[{"kid":"k","kty":"EC"}]}"#).expect("set");
        CachedToken {
            token: Arc::new(VerifiedToken::from_payload(
                Arc::from("main"),
                "k".to_owned(),
                "{}",
            )),
            key: Arc::clone(keys.get("k").expect("key")),
            issuer: 0,
            source: 0,
        }
    }

    #[test]
    fn eviction_is_first_in_first_out_within_the_bound() {
        let cache = TokenCache::new(3);
        for token in ["a", "b", "c", "d"] {
            cache.insert(token, entry());
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.get("a").is_none());
        assert!(
            ["b", "c", "d"]
                .iter()
                .all(|token| cache.get(token).is_some())
        );
        // Re-inserting a cached token replaces it in place: no second slot.
        cache.insert("b", entry());
        cache.insert("e", entry());
        assert_eq!(cache.len(), 3);
        assert!(cache.get("b").is_none(), "b was still the oldest");
    }

    #[test]
    fn early_removals_leave_no_token_bytes_and_a_bounded_queue() {
        let cache = TokenCache::new(4);
        for round in 0..100 {
            let token = format!("token-{round}");
            cache.insert(&token, entry());
            cache.remove(&token);
        }
        assert_eq!(cache.len(), 0);
        let inner = cache.lock();
        assert!(
            inner.order.len() <= 8,
            "queue compacted: {}",
            inner.order.len()
        );
        assert!(inner.buckets.is_empty());
    }

    #[test]
    fn equal_tails_do_not_confuse_entries() {
        let cache = TokenCache::new(8);
        let tail = "x".repeat(40);
        let (first, second) = (format!("a{tail}"), format!("b{tail}"));
        cache.insert(&first, entry());
        assert!(cache.get(&second).is_none(), "same hash, different token");
        cache.insert(&second, entry());
        cache.remove(&first);
        assert!(cache.get(&first).is_none());
        assert!(cache.get(&second).is_some());
    }

    #[test]
    fn capacity_zero_caches_nothing() {
        let cache = TokenCache::new(0);
        cache.insert("a", entry());
        assert_eq!(cache.len(), 0);
    }
}
