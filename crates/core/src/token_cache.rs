//! The optional verified-token cache (DESIGN.md §5): a repeated token skips parsing and the
//! signature check, never a decision.
//!
//! Bounded (FIFO eviction), keyed by the exact token bytes. A hit is used only while the key that
//! verified it is still the one its issuer's current key set holds for that kid, and every time
//! rule (`exp`, `nbf`, `iat`) is re-checked on each hit by the verifier.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
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

struct Inner {
    /// Hash of the token → entries with that hash (almost always one).
    buckets: HashMap<u64, Vec<(Arc<str>, CachedToken)>>,
    /// Insertion order, for FIFO eviction.
    order: VecDeque<(u64, Arc<str>)>,
    len: usize,
}

pub(crate) struct TokenCache {
    capacity: usize,
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
            hasher: RandomState::new(),
            inner: Mutex::new(Inner {
                buckets: HashMap::with_capacity(capacity.min(4096)),
                order: VecDeque::with_capacity(capacity.min(4096)),
                len: 0,
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
            .find(|(cached, _)| **cached == *token)
            .map(|(_, entry)| entry.clone())
    }

    pub(crate) fn remove(&self, token: &str) {
        let hash = self.hash(token);
        let mut inner = self.lock();
        let inner = &mut *inner;
        if let Some(bucket) = inner.buckets.get_mut(&hash) {
            let before = bucket.len();
            bucket.retain(|(cached, _)| **cached != *token);
            inner.len -= before - bucket.len();
            if bucket.is_empty() {
                inner.buckets.remove(&hash);
            }
        }
    }

    pub(crate) fn insert(&self, token: &str, entry: CachedToken) {
        if self.capacity == 0 {
            return;
        }
        let hash = self.hash(token);
        let mut guard = self.lock();
        let inner = &mut *guard;
        if let Some(bucket) = inner.buckets.get_mut(&hash)
            && let Some(slot) = bucket.iter_mut().find(|(cached, _)| **cached == *token)
        {
            slot.1 = entry;
            return;
        }
        while inner.len >= self.capacity {
            let Some((old_hash, old_token)) = inner.order.pop_front() else {
                break;
            };
            if let Some(bucket) = inner.buckets.get_mut(&old_hash) {
                let before = bucket.len();
                bucket.retain(|(cached, _)| !Arc::ptr_eq(cached, &old_token));
                inner.len -= before - bucket.len();
                if bucket.is_empty() {
                    inner.buckets.remove(&old_hash);
                }
            }
        }
        // Entries removed early (expired, stale key) leave their order slot behind; keep the
        // queue bounded by dropping those slots when it grows past twice the capacity.
        if inner.order.len() >= self.capacity.saturating_mul(2) {
            let buckets = &inner.buckets;
            inner.order.retain(|(hash, token)| {
                buckets.get(hash).is_some_and(|bucket| {
                    bucket.iter().any(|(cached, _)| Arc::ptr_eq(cached, token))
                })
            });
        }
        let token: Arc<str> = Arc::from(token);
        inner.order.push_back((hash, Arc::clone(&token)));
        inner.buckets.entry(hash).or_default().push((token, entry));
        inner.len += 1;
    }
}
