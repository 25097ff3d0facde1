//! The optional verified-token cache: a repeated token skips parsing and the
//! signature check, never a decision.
//!
//! Bounded in entries and in bytes (FIFO eviction), keyed by the exact token bytes. A hit is used
//! only while the key that verified it is still the one its issuer's current key set holds for
//! that kid, and every time rule (`exp`, `nbf`, `iat`) is re-checked on each hit by the verifier.
//!
//! The byte bound counts what an entry really holds on the heap: the token bytes, every buffer
//! of its verified claims (names lists, payload text, strings), the entry's slots in the hash
//! table and the eviction queue, the shared token's allocation, allocator overhead per
//! allocation, and the typed claims values handlers later keep on the token (reported to the
//! cache's meter as they are kept). It is enforced on every insert and lookup.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::claims::{VerifiedToken, heap_allocation};
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

/// One cached token: its exact bytes, what a hit returns, its insertion number, and the bytes
/// it was charged when inserted (typed values kept later are charged through the meter).
struct Entry {
    token: Box<[u8]>,
    cached: CachedToken,
    id: u64,
    charged: usize,
    /// The token's typed-value charge when it was linked to the meter.
    typed_at_link: usize,
}

/// Bytes one entry holds besides its token's own buffers: the token bytes, its slot in a
/// bucket, the bucket's hash-table slot (at most half the table is in use after growth), two
/// eviction-queue slots (the queue is compacted at twice the entry count), and the shared
/// `VerifiedToken` allocation.
fn entry_overhead(token_bytes: usize) -> usize {
    heap_allocation(token_bytes)
        + heap_allocation(std::mem::size_of::<Entry>())
        + 2 * (std::mem::size_of::<(u64, Vec<Entry>)>() + 1)
        + 2 * std::mem::size_of::<(u64, u64)>()
        + heap_allocation(2 * std::mem::size_of::<usize>() + std::mem::size_of::<VerifiedToken>())
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
    /// Bytes charged to the entries when inserted.
    bytes: usize,
}

pub(crate) struct TokenCache {
    capacity: usize,
    max_bytes: usize,
    /// Bytes of typed values kept on cached tokens since they were inserted (the tokens add
    /// to it as handlers keep values; removal takes their share back out).
    meter: Arc<AtomicUsize>,
    /// Per-process random keys of [`TokenCache::hash`].
    keys: [u64; 2],
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("capacity", &self.capacity)
            .field("max_bytes", &self.max_bytes)
            .field("len", &self.len())
            .field("bytes", &self.bytes())
            .finish()
    }
}

impl TokenCache {
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Self {
        Self {
            capacity,
            max_bytes,
            meter: Arc::new(AtomicUsize::new(0)),
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
                bytes: 0,
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

    /// Bytes the cached entries hold, as charged against the byte bound.
    pub(crate) fn bytes(&self) -> usize {
        self.lock().bytes + self.meter.load(Ordering::Relaxed)
    }

    fn over_budget(&self, inner: &Inner, adding: usize) -> bool {
        inner.bytes + self.meter.load(Ordering::Relaxed) + adding > self.max_bytes
    }

    /// Evicts oldest entries while `room` says there is not enough room.
    fn evict_while(&self, inner: &mut Inner, room: impl Fn(&Self, &Inner) -> bool) {
        while inner.len > 0 && room(self, inner) {
            let Some((old_hash, old_id)) = inner.order.pop_front() else {
                break;
            };
            inner.remove_where(old_hash, |entry| entry.id == old_id, &self.meter);
        }
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
        // Typed values kept since the last operation may have grown the cache past its bytes.
        self.evict_while(&mut inner, |cache, inner| cache.over_budget(inner, 0));
        Lookup::Current(hit)
    }

    pub(crate) fn remove(&self, token: &[u8]) {
        let hash = self.hash(token);
        let mut guard = self.lock();
        guard.remove_where(hash, |entry| *entry.token == *token, &self.meter);
    }

    pub(crate) fn insert(&self, token: &str, cached: CachedToken) {
        if self.capacity == 0 {
            return;
        }
        let token = token.as_bytes();
        let hash = self.hash(token);
        let fixed = entry_overhead(token.len()) + cached.token.fixed_heap_bytes();
        let mut guard = self.lock();
        let inner = &mut *guard;
        let typed = cached.token.account().bytes;
        if fixed + typed > self.max_bytes {
            // Larger than the whole budget: never cached.
            inner.remove_where(hash, |entry| *entry.token == *token, &self.meter);
            return;
        }
        if let Some(entry) = inner
            .buckets
            .get_mut(&hash)
            .and_then(|bucket| bucket.iter_mut().find(|entry| *entry.token == *token))
        {
            // Two requests verified the same token at once: replace the entry in place
            // (keeping its place in the eviction order), moving the charge to the new token.
            let old = std::mem::replace(&mut entry.cached, cached);
            unlink(&old.token, entry.typed_at_link, &self.meter);
            let typed_at_link = link(&entry.cached.token, &self.meter);
            let charged = fixed + typed_at_link;
            inner.bytes = inner.bytes - entry.charged + charged;
            entry.charged = charged;
            entry.typed_at_link = typed_at_link;
            self.evict_while(inner, |cache, inner| cache.over_budget(inner, 0));
            return;
        }
        self.evict_while(inner, |cache, inner| {
            inner.len >= cache.capacity || cache.over_budget(inner, fixed + typed)
        });
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
        // Link the token to the meter and read its typed charge under one lock, so a value
        // kept concurrently is counted exactly once (here or through the meter).
        let typed_at_link = link(&cached.token, &self.meter);
        let id = inner.next_id;
        inner.next_id += 1;
        inner.order.push_back((hash, id));
        inner.buckets.entry(hash).or_default().push(Entry {
            token: token.into(),
            cached,
            id,
            charged: fixed + typed_at_link,
            typed_at_link,
        });
        inner.len += 1;
        inner.bytes += fixed + typed_at_link;
    }
}

/// Points the token's typed-value charges at the meter; returns its charge so far. One lock
/// covers both, so a value kept concurrently is counted exactly once (in the return value or
/// through the meter).
fn link(token: &VerifiedToken, meter: &Arc<AtomicUsize>) -> usize {
    let mut account = token.account();
    account.meter = Some(Arc::clone(meter));
    account.bytes
}

/// Detaches the token from the meter and takes back out what it reported while cached.
fn unlink(token: &VerifiedToken, typed_at_link: usize, meter: &AtomicUsize) {
    let mut account = token.account();
    account.meter = None;
    let grown = account.bytes.saturating_sub(typed_at_link);
    let _ = meter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |total| {
        Some(total.saturating_sub(grown))
    });
}

impl Inner {
    /// Removes the entries of bucket `hash` that match, taking their bytes off the bound.
    fn remove_where(&mut self, hash: u64, matches: impl Fn(&Entry) -> bool, meter: &AtomicUsize) {
        let Some(bucket) = self.buckets.get_mut(&hash) else {
            return;
        };
        let mut index = 0;
        while index < bucket.len() {
            if !matches(&bucket[index]) {
                index += 1;
                continue;
            }
            let entry = bucket.swap_remove(index);
            self.len -= 1;
            self.bytes -= entry.charged;
            unlink(&entry.cached.token, entry.typed_at_link, meter);
        }
        if bucket.is_empty() {
            self.buckets.remove(&hash);
        }
    }
}

#[cfg(test)]
impl TokenCache {
    fn new_for_test(capacity: usize) -> Self {
        Self::new(capacity, usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwks::KeySet;

    fn entry() -> CachedToken {
        let keys = KeySet::from_json(br#"{"keys":[{"kid":"k","kty":"EC"}]}"#).expect("set");
        CachedToken {
            token: Arc::new(VerifiedToken::from_payload(Arc::from("main"), "k", "{}")),
            key: Arc::clone(keys.get("k").expect("key")),
            issuer: 0,
        }
    }

    #[test]
    fn eviction_is_first_in_first_out_within_the_bound() {
        let cache = TokenCache::new_for_test(3);
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
        let cache = TokenCache::new_for_test(4);
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
        let cache = TokenCache::new_for_test(8);
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
        let cache = TokenCache::new_for_test(4);
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
        let cache = TokenCache::new_for_test(0);
        let hashes: std::collections::HashSet<u64> = (0..10_000_u32)
            .map(|n| cache.hash(format!("header.payload.sig{n:08}").as_bytes()))
            .collect();
        assert_eq!(hashes.len(), 10_000);
    }

    #[test]
    fn capacity_zero_caches_nothing() {
        let cache = TokenCache::new_for_test(0);
        cache.insert("a", entry());
        assert_eq!(cache.len(), 0);
    }

    fn entry_with(payload: &str) -> CachedToken {
        CachedToken {
            token: Arc::new(VerifiedToken::from_payload(Arc::from("main"), "k", payload)),
            ..entry()
        }
    }

    #[test]
    fn the_byte_bound_evicts_oldest_first_and_refuses_what_never_fits() {
        let groups: Vec<String> = (0..1000).map(|n| format!("group-{n}")).collect();
        let payload = serde_json::json!({"cognito:groups": groups}).to_string();
        let one = {
            let cache = TokenCache::new(10, usize::MAX);
            cache.insert("t0", entry_with(&payload));
            cache.bytes()
        };
        assert!(one > payload.len(), "{one}");
        let cache = TokenCache::new(100, 3 * one);
        for n in 0..10 {
            cache.insert(&format!("t{n}"), entry_with(&payload));
            assert!(cache.bytes() <= 3 * one, "{}", cache.bytes());
        }
        assert_eq!(cache.len(), 3);
        assert!(matches!(cache.get(b"t9"), Lookup::Current(_)));
        assert!(matches!(cache.get(b"t6"), Lookup::Miss));
        // Removal gives the bytes back.
        for n in 7..10 {
            cache.remove(format!("t{n}").as_bytes());
        }
        assert_eq!((cache.len(), cache.bytes()), (0, 0));
        // An entry larger than the whole budget is not cached at all.
        let small = TokenCache::new(100, one - 1);
        small.insert("t", entry_with(&payload));
        assert_eq!((small.len(), small.bytes()), (0, 0));
    }

    #[test]
    fn typed_values_kept_on_cached_tokens_count_against_the_bound() {
        #[derive(serde::Deserialize)]
        struct Groups {
            #[serde(rename = "cognito:groups")]
            _groups: Vec<String>,
        }
        let groups: Vec<String> = (0..1000).map(|n| format!("group-{n}")).collect();
        let payload = serde_json::json!({"cognito:groups": groups}).to_string();
        let cache = TokenCache::new(100, usize::MAX);
        let cached = entry_with(&payload);
        let token = Arc::clone(&cached.token);
        cache.insert("t", cached);
        let before = cache.bytes();
        token.shared_claims::<Groups>().expect("fits");
        let grown = cache.bytes() - before;
        // At least the strings and the vector a `Vec<String>` of the groups holds.
        assert!(grown >= 1000 * (24 + "group-999".len()), "{grown}");
        // Kept again: no second charge. Removed: everything given back.
        token.shared_claims::<Groups>().expect("fits");
        assert_eq!(cache.bytes(), before + grown);
        cache.remove(b"t");
        assert_eq!(cache.bytes(), 0);
        // A value kept after the token left the cache is not the cache's (nor measured).
        token.shared_claims::<CachedTokenMarker>().expect("fits");
        assert_eq!(cache.bytes(), 0);
        assert_eq!(token.account().bytes, grown);

        // Over the bound because of typed values: the next lookup evicts.
        let limit = before + grown / 2;
        let cache = TokenCache::new(100, limit);
        let first = entry_with(&payload);
        let first_token = Arc::clone(&first.token);
        cache.insert("a", first);
        cache.insert("b", entry_with("{}"));
        first_token.shared_claims::<Groups>().expect("fits");
        assert!(cache.bytes() > limit);
        assert!(matches!(cache.get(b"b"), Lookup::Current(_)));
        assert!(cache.bytes() <= limit, "{}", cache.bytes());
        assert!(matches!(cache.get(b"a"), Lookup::Miss), "oldest evicted");
    }

    #[derive(serde::Deserialize)]
    struct CachedTokenMarker {}
}
