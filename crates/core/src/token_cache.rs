//! The optional verified-token cache (DESIGN.md §5): a repeated token skips parsing and the
//! signature check, never a decision.
//!
//! Bounded (FIFO eviction), keyed by the exact token bytes. A hit is used only while the key that
//! verified it is still the one its issuer's current key set holds for that kid, and every time
//! rule (`exp`, `nbf`, `iat`) is re-checked on each hit by the verifier.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::claims::VerifiedToken;
use crate::jwks::KeyEntry;

/// What the cache keeps per token: the token, the key that verified it, and the issuer that
/// accepted it.
pub(crate) struct CachedToken {
    pub(crate) token: Arc<VerifiedToken>,
    pub(crate) key: Arc<KeyEntry>,
    pub(crate) issuer: usize,
}

/// A hit whose key is still current: what the verifier needs to re-check the time rules.
pub(crate) struct Hit {
    pub(crate) token: Arc<VerifiedToken>,
    pub(crate) issuer: usize,
}

/// The answer to [`TokenCache::get`].
pub(crate) enum Lookup {
    /// Cached, verified by a key its issuer still holds.
    Current(Hit),
    /// Cached, but a refresh has since dropped or changed the key that verified it.
    Stale,
    /// Not cached.
    Miss,
}

/// One cached token: its exact bytes, what a hit returns, and its insertion number.
struct Entry {
    token: Box<[u8]>,
    cached: CachedToken,
    id: u64,
}

/// The buckets' keys are already keyed hashes of the tokens: hashing them again would only
/// cost time.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (the keys are `u64`); fold anything else in anyway.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

struct Inner {
    /// Hash of the token → entries with that hash (almost always one).
    buckets: HashMap<u64, Vec<Entry>, BuildHasherDefault<PassThrough>>,
    /// Insertion order as (hash, insertion number), for FIFO eviction. It holds no token
    /// bytes, so a slot left behind by an early removal costs 16 bytes, not a token.
    order: VecDeque<(u64, u64)>,
    len: usize,
    next_id: u64,
    /// Lookups answered with a current entry (counted under the lock: no extra atomic).
    hits: u64,
}

pub(crate) struct TokenCache {
    capacity: usize,
    /// Per-process random keys of [`TokenCache::hash`].
    keys: [u64; 2],
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
            keys: {
                let seed = RandomState::new();
                [seed.hash_one(0_u8), seed.hash_one(1_u8)]
            },
            inner: Mutex::new(Inner {
                buckets: HashMap::with_capacity_and_hasher(
                    capacity.min(4096),
                    BuildHasherDefault::default(),
                ),
                order: VecDeque::with_capacity(capacity.min(4096)),
                len: 0,
                next_id: 0,
                hits: 0,
            }),
        }
    }

    /// Mixes the token's length and last 16 bytes with the random keys (one folded multiply).
    ///
    /// Only verified tokens are stored, and a verified token ends in its signature: bytes the
    /// issuer's key produced, uniformly spread, that no one without that key can steer. So the
    /// tail spreads entries as well as the whole token would, in a fraction of the time, and
    /// with per-process keys an outsider cannot aim lookups at one bucket. Equality is still
    /// checked on the whole token.
    fn hash(&self, bytes: &[u8]) -> u64 {
        let tail = &bytes[bytes.len().saturating_sub(16)..];
        let mut word = [0_u8; 16];
        word[16 - tail.len()..].copy_from_slice(tail);
        let word = u128::from_le_bytes(word);
        let [low, high] = [word, word >> 64].map(|half| half as u64);
        let product =
            u128::from(low ^ self.keys[0] ^ bytes.len() as u64) * u128::from(high ^ self.keys[1]);
        (product as u64) ^ ((product >> 64) as u64)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn hits(&self) -> u64 {
        self.lock().hits
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len
    }

    /// The entry for exactly these token bytes, checked against its key's current status.
    pub(crate) fn get(&self, token: &[u8]) -> Lookup {
        let hash = self.hash(token);
        let mut inner = self.lock();
        let Some(cached) = inner
            .buckets
            .get(&hash)
            .and_then(|bucket| bucket.iter().find(|entry| *entry.token == *token))
            .map(|entry| &entry.cached)
        else {
            return Lookup::Miss;
        };
        if !cached.key.is_current() {
            return Lookup::Stale;
        }
        let hit = Hit {
            token: Arc::clone(&cached.token),
            issuer: cached.issuer,
        };
        inner.hits += 1;
        Lookup::Current(hit)
    }

    pub(crate) fn remove(&self, token: &[u8]) {
        let hash = self.hash(token);
        let mut guard = self.lock();
        guard.remove_where(hash, |entry| *entry.token == *token);
    }

    pub(crate) fn insert(&self, token: &str, cached: CachedToken) {
        if self.capacity == 0 {
            return;
        }
        let token = token.as_bytes();
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
        }
    }

    #[test]
    fn eviction_is_first_in_first_out_within_the_bound() {
        let cache = TokenCache::new(3);
        for token in ["a", "b", "c", "d"] {
            cache.insert(token, entry());
        }
        assert_eq!(cache.len(), 3);
        assert!(matches!(cache.get(b"a"), Lookup::Miss));
        assert!(
            ["b", "c", "d"]
                .iter()
                .all(|token| matches!(cache.get(token.as_bytes()), Lookup::Current(_)))
        );
        // Re-inserting a cached token replaces it in place: no second slot.
        cache.insert("b", entry());
        cache.insert("e", entry());
        assert_eq!(cache.len(), 3);
        assert!(
            matches!(cache.get(b"b"), Lookup::Miss),
            "b was still the oldest"
        );
    }

    #[test]
    fn early_removals_leave_no_token_bytes_and_a_bounded_queue() {
        let cache = TokenCache::new(4);
        for round in 0..100 {
            let token = format!("token-{round}");
            cache.insert(&token, entry());
            cache.remove(token.as_bytes());
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
        assert!(
            matches!(cache.get(second.as_bytes()), Lookup::Miss),
            "same hash, different token"
        );
        cache.insert(&second, entry());
        cache.remove(first.as_bytes());
        assert!(matches!(cache.get(first.as_bytes()), Lookup::Miss));
        assert!(matches!(cache.get(second.as_bytes()), Lookup::Current(_)));
    }

    #[test]
    fn a_retired_key_makes_its_entries_stale() {
        let keys = KeySet::from_json(br#"{"keys":[{"kid":"k","kty":"EC"}]}"#).expect("set");
        let cache = TokenCache::new(4);
        cache.insert(
            "t",
            CachedToken {
                key: Arc::clone(keys.get("k").expect("key")),
                ..entry()
            },
        );
        assert!(matches!(cache.get(b"t"), Lookup::Current(_)));
        assert_eq!(cache.hits(), 1);
        keys.retire_replaced(&KeySet::default());
        assert!(matches!(cache.get(b"t"), Lookup::Stale));
        assert_eq!(cache.hits(), 1, "a stale entry is not a hit");
    }

    #[test]
    fn distinct_signatures_spread_over_distinct_hashes() {
        let cache = TokenCache::new(0);
        let hashes: std::collections::HashSet<u64> = (0..10_000_u32)
            .map(|n| cache.hash(format!("header.payload.sig{n:08}").as_bytes()))
            .collect();
        assert_eq!(hashes.len(), 10_000);
    }

    #[test]
    fn capacity_zero_caches_nothing() {
        let cache = TokenCache::new(0);
        cache.insert("a", entry());
        assert_eq!(cache.len(), 0);
    }
}
