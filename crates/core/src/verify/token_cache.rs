//! The optional verified-token cache: a repeated token skips parsing and the signature check,
//! never a decision.
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
//!
//! A hit takes no lock: the entries live in many small shards, each published through an
//! atomic pointer and replaced whole by the writers (inserts, removals and evictions, which
//! take one lock among themselves). So lookups on different cores never wait for each other,
//! and a lookup that races a change sees the shard either before or after it. That race never
//! admits a token it should not: the key's retirement is read from the key itself on every
//! hit, and the time rules are re-checked by the verifier on every hit.

use std::collections::VecDeque;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;

use crate::jwks::KeyEntry;
use crate::verify::claims::{VerifiedToken, heap_allocation};
use crate::verify::per_core_counter::PerCoreCounter;

/// What the cache keeps per token: the token, the key that verified it, and the issuer that
/// accepted it.
pub(crate) struct CachedToken {
    pub(crate) token: Arc<VerifiedToken>,
    pub(crate) key: Arc<KeyEntry>,
    pub(crate) issuer: usize,
    /// When the token's time rules hold, worked out when it was verified.
    pub(crate) window: Option<TimeWindow>,
}

/// The instants between which a token's time rules (`nbf`, `iat` and `exp`, with the issuer's
/// leeway) all hold: `from` inclusive, `until` exclusive. A hit inside it needs no more; any
/// other is checked rule by rule, which also names the rule that fails.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeWindow {
    pub(crate) from: SystemTime,
    pub(crate) until: SystemTime,
}

impl TimeWindow {
    /// The window of a token with these claims (seconds since the epoch) and `leeway`:
    /// `None` where an instant is not representable (the token is then checked rule by rule).
    ///
    /// The window stops short of each bound by [`TimeWindow::margin`]: the rules compare
    /// seconds as `f64`s, so a reading that close to a bound is checked rule by rule, and a
    /// cached token is admitted exactly when a verification without the cache would admit it.
    pub(crate) fn new(
        exp: f64,
        nbf: Option<f64>,
        iat: Option<f64>,
        leeway: Duration,
    ) -> Option<Self> {
        let leeway = leeway.as_secs_f64();
        let instant = |seconds: f64| {
            Duration::try_from_secs_f64(seconds)
                .ok()
                .and_then(|since| UNIX_EPOCH.checked_add(since))
        };
        let from = [nbf, iat]
            .into_iter()
            .flatten()
            .map(|at| at - leeway)
            .fold(f64::NEG_INFINITY, f64::max);
        // The rules add the leeway to the reading for `iat`: their rounding is of the size of
        // the claims and the leeway, which may be far larger than the bound they make.
        let from_size = [nbf, iat]
            .into_iter()
            .flatten()
            .fold(leeway.max(from.abs()), |size, at| size.max(at.abs()));
        let from = from + Self::margin(from_size);
        let until = exp + leeway;
        let until_size = until.abs().max(exp.abs()).max(leeway);
        Some(Self {
            // Not before the epoch: a clock before it is a broken machine, checked rule by rule.
            from: if from > 0.0 {
                instant(from)?
            } else {
                UNIX_EPOCH
            },
            until: instant(until - Self::margin(until_size))?,
        })
    }

    /// How far inside a bound made of numbers up to `size` (seconds) the window ends: a
    /// microsecond, or eight steps between neighbouring `f64`s of that size where those are
    /// coarser. That is more than the rules' rounding can move a reading or a bound (the
    /// reading to an `f64` of seconds, the leeway added or subtracted, a bound to whole
    /// nanoseconds), so no reading the window holds is one the rules refuse.
    fn margin(size: f64) -> f64 {
        let step = f64::from_bits(size.to_bits().saturating_add(1)) - size;
        // An infinite size has no step (NaN): `max` takes the microsecond.
        (8.0 * step).max(1e-6)
    }

    /// Whether `now` is inside the window.
    #[inline]
    pub(crate) fn holds(&self, now: SystemTime) -> bool {
        self.from <= now && now < self.until
    }
}

/// A hit whose key is still current: what the verifier needs to re-check the time rules.
pub(crate) struct Hit {
    pub(crate) token: Arc<VerifiedToken>,
    pub(crate) issuer: usize,
    pub(crate) window: Option<TimeWindow>,
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

/// One cached token: its hash and exact bytes, what a hit returns, its insertion number, and
/// the bytes it was charged when inserted (typed values kept later are charged through the
/// meter). Immutable once published: a replacement is a new entry.
struct Entry {
    hash: u64,
    token: Box<[u8]>,
    cached: CachedToken,
    id: u64,
    charged: usize,
    /// The token's typed-value charge when it was linked to the meter.
    typed_at_link: usize,
}

/// The entries whose hashes fall in one shard (a handful: shards are sized for about four
/// entries each when the cache is full). Replaced whole on every change, so a reader never
/// sees one half-written.
struct Shard {
    entries: Box<[Arc<Entry>]>,
}

/// Bytes one entry holds besides its token's own buffers: the token bytes, the shared entry,
/// its slot in its shard's list and (at most one per entry) the shard's own allocation, two
/// eviction-queue slots (the queue is compacted at twice the entry count), and the shared
/// `VerifiedToken` allocation.
fn entry_overhead(token_bytes: usize) -> usize {
    let arc_counts = 2 * std::mem::size_of::<usize>();
    heap_allocation(token_bytes)
        + heap_allocation(arc_counts + std::mem::size_of::<Entry>())
        + heap_allocation(std::mem::size_of::<Arc<Entry>>())
        + heap_allocation(arc_counts + std::mem::size_of::<Shard>())
        + 2 * std::mem::size_of::<(u64, u64)>()
        + heap_allocation(arc_counts + std::mem::size_of::<VerifiedToken>())
}

/// The write side, behind one lock: only inserts, removals and evictions take it, never a hit.
struct Writer {
    /// Insertion order as (hash, insertion number), for FIFO eviction. It holds no token
    /// bytes, so a slot left behind by an early removal costs 16 bytes, not a token.
    order: VecDeque<(u64, u64)>,
    next_id: u64,
}

/// The verified-token cache: a hit reads one shard through an atomic pointer (no lock, and
/// nothing written that another core reads except the token's own reference count); changes
/// are serialized by one writer lock and publish a new shard.
pub(crate) struct TokenCache {
    capacity: usize,
    max_bytes: usize,
    /// Bytes of typed values kept on cached tokens since they were inserted (the tokens add
    /// to it as handlers keep values; removal takes their share back out).
    meter: Arc<AtomicUsize>,
    /// Per-process random keys of [`TokenCache::hash`].
    keys: [u64; 2],
    /// The shards, indexed by the top bits of the hash (a power of two of them).
    shards: Box<[ArcSwapOption<Shard>]>,
    shard_bits: u32,
    /// Entries cached (written under the writer lock, read by anyone).
    len: AtomicUsize,
    /// Bytes charged to the entries when inserted (written under the writer lock).
    bytes: AtomicUsize,
    /// Lookups answered with a current entry.
    hits: PerCoreCounter,
    writer: Mutex<Writer>,
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

/// The fewest bytes a cached entry can be charged (a small token and its claims): bounds the
/// entry count a byte budget allows, and so the shard table.
const SMALLEST_ENTRY_BYTES: usize = 1024;

/// The most shards (512 KiB of shard pointers).
const MAX_SHARD_BITS: u32 = 16;

impl TokenCache {
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Self {
        // About four entries a shard when full: a hit scans a few hashes, a change copies a few
        // pointers.
        let entries = capacity.min(max_bytes / SMALLEST_ENTRY_BYTES).max(1);
        let shard_bits = (entries / 4)
            .max(1)
            .next_power_of_two()
            .trailing_zeros()
            .min(MAX_SHARD_BITS);
        Self {
            capacity,
            max_bytes,
            meter: Arc::new(AtomicUsize::new(0)),
            keys: {
                let seed = RandomState::new();
                [seed.hash_one(0_u8), seed.hash_one(1_u8)]
            },
            shards: (0..1_usize << shard_bits)
                .map(|_| ArcSwapOption::empty())
                .collect(),
            shard_bits,
            len: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            hits: PerCoreCounter::default(),
            writer: Mutex::new(Writer {
                order: VecDeque::with_capacity(capacity.min(4096)),
                next_id: 0,
            }),
        }
    }

    /// Mixes the token's length and last 16 bytes with the random keys (one folded multiply).
    ///
    /// Only verified tokens are stored, and a verified token ends in its signature: bytes the
    /// issuer's key produced, uniformly spread, that no one without that key can steer. So the
    /// tail spreads entries as well as the whole token would, in a fraction of the time, and
    /// with per-process keys an outsider cannot aim lookups at one shard. Equality is still
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

    fn shard(&self, hash: u64) -> &ArcSwapOption<Shard> {
        // The top bits: the low ones are as good, but this keeps the index independent of
        // anything else that might bucket by the low bits.
        let index = hash.checked_shr(64 - self.shard_bits).unwrap_or(0);
        &self.shards[usize::try_from(index).unwrap_or(0)]
    }

    fn lock(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most entries kept.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// The most bytes kept.
    pub(crate) fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    pub(crate) fn hits(&self) -> u64 {
        self.hits.get()
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Bytes the cached entries hold, as charged against the byte bound.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed) + self.meter.load(Ordering::Relaxed)
    }

    fn over_budget(&self, adding: usize) -> bool {
        self.bytes() + adding > self.max_bytes
    }

    /// Evicts oldest entries while `room` says there is not enough room.
    fn evict_while(&self, writer: &mut Writer, room: impl Fn(&Self) -> bool) {
        while self.len() > 0 && room(self) {
            let Some((old_hash, old_id)) = writer.order.pop_front() else {
                break;
            };
            self.remove_where(writer, old_hash, |entry| entry.id == old_id);
            crate::metrics::token_cache_eviction();
        }
    }

    /// The entry for exactly these token bytes, checked against its key's current status.
    /// Takes no lock (unless typed values kept since the last change put the cache over its
    /// byte bound: then this lookup evicts).
    pub(crate) fn get(&self, token: &[u8]) -> Lookup {
        let hash = self.hash(token);
        let lookup = {
            let shard = self.shard(hash).load();
            let Some(entry) = shard.as_ref().and_then(|shard| shard.find(hash, token)) else {
                return Lookup::Miss;
            };
            if !entry.cached.key.is_current() {
                return Lookup::Stale;
            }
            Lookup::Current(Hit {
                token: Arc::clone(&entry.cached.token),
                issuer: entry.cached.issuer,
                window: entry.cached.window,
            })
        };
        self.hits.increment();
        if self.over_budget(0) {
            self.evict_over_budget();
        }
        lookup
    }

    /// Evicts until the cache is back within its byte bound (typed values kept on cached
    /// tokens grew it). Out of line: a lookup seldom gets here.
    #[cold]
    #[inline(never)]
    fn evict_over_budget(&self) {
        let mut writer = self.lock();
        self.evict_while(&mut writer, |cache| cache.over_budget(0));
    }

    pub(crate) fn remove(&self, token: &[u8]) {
        let hash = self.hash(token);
        let mut writer = self.lock();
        self.remove_where(&mut writer, hash, |entry| *entry.token == *token);
    }

    pub(crate) fn insert(&self, token: &str, cached: CachedToken) {
        if self.capacity == 0 {
            return;
        }
        let token = token.as_bytes();
        let hash = self.hash(token);
        let fixed = entry_overhead(token.len()) + cached.token.fixed_heap_bytes();
        let mut writer = self.lock();
        let writer = &mut *writer;
        let typed = cached.token.account().bytes;
        if fixed + typed > self.max_bytes {
            // Larger than the whole budget: never cached.
            self.remove_where(writer, hash, |entry| *entry.token == *token);
            return;
        }
        let existing = self
            .shard(hash)
            .load()
            .as_ref()
            .and_then(|shard| shard.find(hash, token).map(Arc::clone));
        if let Some(old) = existing {
            // Two requests verified the same token at once: replace the entry (keeping its
            // place in the eviction order), moving the charge to the new token.
            unlink(&old.cached.token, old.typed_at_link, &self.meter);
            let typed_at_link = link(&cached.token, &self.meter);
            let charged = fixed + typed_at_link;
            self.bytes.store(
                self.bytes.load(Ordering::Relaxed) - old.charged + charged,
                Ordering::Relaxed,
            );
            let entry = Arc::new(Entry {
                hash,
                token: token.into(),
                cached,
                id: old.id,
                charged,
                typed_at_link,
            });
            self.publish(hash, |entries| {
                entries
                    .iter()
                    .map(|kept| {
                        if Arc::ptr_eq(kept, &old) {
                            Arc::clone(&entry)
                        } else {
                            Arc::clone(kept)
                        }
                    })
                    .collect()
            });
            self.evict_while(writer, |cache| cache.over_budget(0));
            return;
        }
        self.evict_while(writer, |cache| {
            cache.len() >= cache.capacity || cache.over_budget(fixed + typed)
        });
        // Entries removed early (expired, stale key) leave their order slot behind; keep the
        // queue bounded by dropping those slots when it grows past twice the capacity.
        if writer.order.len() >= self.capacity.saturating_mul(2) {
            writer.order.retain(|&(hash, id)| {
                self.shard(hash)
                    .load()
                    .as_ref()
                    .is_some_and(|shard| shard.entries.iter().any(|entry| entry.id == id))
            });
        }
        // Link the token to the meter and read its typed charge under one lock, so a value
        // kept concurrently is counted exactly once (here or through the meter).
        let typed_at_link = link(&cached.token, &self.meter);
        let id = writer.next_id;
        writer.next_id += 1;
        writer.order.push_back((hash, id));
        let entry = Arc::new(Entry {
            hash,
            token: token.into(),
            cached,
            id,
            charged: fixed + typed_at_link,
            typed_at_link,
        });
        self.publish(hash, |entries| {
            entries
                .iter()
                .cloned()
                .chain(std::iter::once(entry))
                .collect()
        });
        self.len.fetch_add(1, Ordering::Relaxed);
        self.bytes
            .fetch_add(fixed + typed_at_link, Ordering::Relaxed);
    }

    /// Replaces shard `hash`'s entries with `change(current entries)` (an empty result empties
    /// the shard). Only called with the writer lock held, so no change is lost.
    fn publish(&self, hash: u64, change: impl FnOnce(&[Arc<Entry>]) -> Box<[Arc<Entry>]>) {
        let slot = self.shard(hash);
        let current = slot.load_full();
        let entries = change(current.as_ref().map_or(&[], |shard| &shard.entries));
        slot.store((!entries.is_empty()).then(|| Arc::new(Shard { entries })));
    }

    /// Removes the entries of shard `hash` that match, taking their bytes off the bound.
    /// Only called with the writer lock held.
    fn remove_where(&self, _writer: &mut Writer, hash: u64, matches: impl Fn(&Entry) -> bool) {
        let Some(shard) = self.shard(hash).load_full() else {
            return;
        };
        if !shard
            .entries
            .iter()
            .any(|entry| entry.hash == hash && matches(entry))
        {
            return;
        }
        let mut kept = Vec::with_capacity(shard.entries.len() - 1);
        for entry in &shard.entries {
            if entry.hash == hash && matches(entry) {
                self.len.fetch_sub(1, Ordering::Relaxed);
                self.bytes.fetch_sub(entry.charged, Ordering::Relaxed);
                unlink(&entry.cached.token, entry.typed_at_link, &self.meter);
            } else {
                kept.push(Arc::clone(entry));
            }
        }
        self.publish(hash, |_| kept.into_boxed_slice());
    }
}

impl Shard {
    /// The entry for exactly these token bytes: the hash first (one word), then the length,
    /// then every byte.
    fn find(&self, hash: u64, token: &[u8]) -> Option<&Arc<Entry>> {
        self.entries
            .iter()
            .find(|entry| entry.hash == hash && *entry.token == *token)
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
            window: None,
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
        let writer = cache.lock();
        assert!(
            writer.order.len() <= 8,
            "queue compacted: {}",
            writer.order.len()
        );
        assert!(cache.shards.iter().all(|shard| shard.load().is_none()));
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

    /// The time rules as the verifier states them, in seconds: expired at `exp + leeway`,
    /// not yet valid before `nbf - leeway`, issued in the future if `iat > now + leeway`.
    fn rules_hold(now: f64, exp: f64, nbf: Option<f64>, iat: Option<f64>, leeway: f64) -> bool {
        now < exp + leeway
            && nbf.is_none_or(|nbf| now >= nbf - leeway)
            && iat.is_none_or(|iat| iat <= now + leeway)
    }

    /// The window holds only where every rule does, and wherever every rule holds a
    /// millisecond either side too: a reading closer to a bound is left to the rules.
    #[test]
    fn a_time_window_holds_only_where_every_time_rule_does() {
        let base = 1_700_000_000.0;
        let times = [None, Some(base - 10.0), Some(base), Some(base + 10.0)];
        let mut checked = 0;
        for exp in [base - 10.0, base, base + 10.0, base + 0.5] {
            for nbf in times {
                for iat in times {
                    for leeway in [0, 1, 10] {
                        let window = TimeWindow::new(exp, nbf, iat, Duration::from_secs(leeway))
                            .expect("window");
                        // Every half second around the instants involved, boundaries included,
                        // and a microsecond and a millisecond either side of each.
                        for step in -50..=50 {
                            for offset in [0.0, -1e-6, 1e-6, -1e-3, 1e-3] {
                                let now = base + f64::from(step) / 2.0 + offset;
                                let instant = UNIX_EPOCH + Duration::from_secs_f64(now);
                                let leeway = leeway as f64;
                                let rules = |now| rules_hold(now, exp, nbf, iat, leeway);
                                let at = format!(
                                    "now {now} exp {exp} nbf {nbf:?} iat {iat:?} leeway {leeway}"
                                );
                                if window.holds(instant) {
                                    assert!(rules(now), "held where a rule does not: {at}");
                                } else if rules(now - 1e-3) && rules(now) && rules(now + 1e-3) {
                                    panic!("left to the rules well inside the window: {at}");
                                }
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 4 * 4 * 4 * 3 * 101 * 5);
    }

    #[test]
    fn a_time_window_is_not_made_of_instants_it_cannot_hold() {
        let leeway = Duration::from_secs(5);
        for exp in [f64::NAN, f64::INFINITY, -10.0, 1e30] {
            assert!(
                TimeWindow::new(exp, None, None, leeway).is_none(),
                "exp {exp}"
            );
        }
        assert!(TimeWindow::new(100.0, Some(f64::INFINITY), None, leeway).is_none());
        // A `nbf` before the epoch starts the window at the epoch.
        let window =
            TimeWindow::new(100.0, Some(-50.0), Some(f64::NEG_INFINITY), leeway).expect("window");
        assert!(window.holds(UNIX_EPOCH));
        assert!(!window.holds(UNIX_EPOCH + Duration::from_secs(105)));
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

    /// The charges of the entries the shards hold, and how many there are.
    fn published(cache: &TokenCache) -> (usize, usize) {
        cache
            .shards
            .iter()
            .filter_map(|shard| shard.load_full())
            .flat_map(|shard| shard.entries.to_vec())
            .fold((0, 0), |(len, bytes), entry| {
                (len + 1, bytes + entry.charged)
            })
    }

    #[test]
    fn shards_grow_with_the_bound_and_stay_few_for_small_caches() {
        assert_eq!(TokenCache::new(1, usize::MAX).shards.len(), 1);
        assert_eq!(TokenCache::new(4096, usize::MAX).shards.len(), 1024);
        assert_eq!(TokenCache::new(4096, 64 * 1024).shards.len(), 16);
        assert_eq!(
            TokenCache::new(usize::MAX, usize::MAX).shards.len(),
            1 << 16
        );
    }

    #[test]
    fn hits_inserts_and_evictions_from_many_threads_keep_every_count_exact() {
        const THREADS: usize = 8;
        const TOKENS: usize = 400;
        let cache = TokenCache::new(64, usize::MAX);
        let current = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|scope| {
            for thread in 0..THREADS {
                let (cache, current) = (&cache, &current);
                scope.spawn(move || {
                    for n in 0..TOKENS {
                        let token = format!("thread-{thread}-token-{n}");
                        cache.insert(&token, entry());
                        // Its own token, a neighbour's, one long evicted, and one removed.
                        let neighbour = format!("thread-{}-token-{n}", (thread + 1) % THREADS);
                        let old = format!("thread-{thread}-token-{}", n.saturating_sub(200));
                        for probe in [&token, &neighbour, &old] {
                            if matches!(cache.get(probe.as_bytes()), Lookup::Current(_)) {
                                current.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        if n % 7 == 0 {
                            cache.remove(token.as_bytes());
                            assert!(matches!(cache.get(token.as_bytes()), Lookup::Miss));
                        }
                        assert!(cache.len() <= 64, "{}", cache.len());
                    }
                });
            }
        });
        assert_eq!(cache.hits(), current.load(Ordering::Relaxed));
        assert!(cache.hits() > 0);
        // The counters agree with what the shards really hold.
        let (len, bytes) = published(&cache);
        assert_eq!((cache.len(), cache.bytes()), (len, bytes));
        assert!(len <= 64 && len > 0, "{len}");
        // The queue knows every entry: evicting by it empties the cache and gives every byte back.
        let mut writer = cache.lock();
        cache.evict_while(&mut writer, |_| true);
        drop(writer);
        assert_eq!((cache.len(), cache.bytes()), (0, 0));
        assert!(cache.shards.iter().all(|shard| shard.load().is_none()));
    }

    #[test]
    fn the_byte_bound_holds_while_many_threads_insert() {
        let groups: Vec<String> = (0..100).map(|n| format!("group-{n}")).collect();
        let payload = serde_json::json!({"cognito:groups": groups}).to_string();
        let one = {
            let cache = TokenCache::new(10, usize::MAX);
            cache.insert("t0000", entry_with(&payload));
            cache.bytes()
        };
        let cache = TokenCache::new(1000, 10 * one);
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let (cache, payload) = (&cache, &payload);
                scope.spawn(move || {
                    for n in 0..200 {
                        cache.insert(&format!("t{thread}{n:03}"), entry_with(payload));
                        assert!(cache.bytes() <= 10 * one, "{}", cache.bytes());
                    }
                });
            }
        });
        assert_eq!(cache.len(), 10);
        assert_eq!(published(&cache), (cache.len(), cache.bytes()));
    }

    #[test]
    fn once_its_key_is_retired_no_lookup_on_any_thread_answers_with_the_token() {
        let keys = KeySet::from_json(br#"{"keys":[{"kid":"k","kty":"EC"}]}"#).expect("set");
        let cache = TokenCache::new_for_test(64);
        let tokens: Vec<String> = (0..32).map(|n| format!("token-{n}")).collect();
        for token in &tokens {
            cache.insert(
                token,
                CachedToken {
                    key: Arc::clone(keys.get("k").expect("key")),
                    ..entry()
                },
            );
        }
        let retired = std::sync::atomic::AtomicBool::new(false);
        let started = std::sync::Barrier::new(5);
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let (cache, tokens, retired, started, keys) =
                    (&cache, &tokens, &retired, &started, &keys);
                scope.spawn(move || {
                    started.wait();
                    let mut after = 0;
                    // Bounded: the retirement happens right after the barrier.
                    for round in 0..10_000_000_usize {
                        let was_retired = retired.load(Ordering::Acquire);
                        let token = &tokens[(round + thread) % tokens.len()];
                        let lookup = cache.get(token.as_bytes());
                        if was_retired {
                            // Stale, or a miss while another thread replaces it.
                            assert!(
                                !matches!(lookup, Lookup::Current(_)),
                                "a token outlived its key"
                            );
                            after += 1;
                            if after == 10_000 {
                                return;
                            }
                        }
                        // What the verifier does with a stale entry; and a racing
                        // verification that read the key before it was retired inserting it.
                        if matches!(lookup, Lookup::Stale) && round % 2 == 0 {
                            cache.remove(token.as_bytes());
                            cache.insert(
                                token,
                                CachedToken {
                                    key: Arc::clone(keys.get("k").expect("key")),
                                    ..entry()
                                },
                            );
                        }
                    }
                    panic!("the key was never retired");
                });
            }
            started.wait();
            keys.retire_replaced(&KeySet::default());
            retired.store(true, Ordering::Release);
        });
    }

    /// A clock the tests move by hand.
    #[derive(Debug, Clone)]
    struct TestClock(Arc<std::sync::atomic::AtomicU64>);

    impl crate::Clock for TestClock {
        fn now(&self) -> std::time::Duration {
            std::time::Duration::from_secs(self.0.load(Ordering::SeqCst))
        }
    }

    /// A verifier of the test issuer on a clock the test moves (starting at `NOW`), caching up
    /// to `capacity` tokens.
    fn clocked_verifier(capacity: usize) -> (TestClock, crate::Verifier) {
        use crate::test_tokens::{NOW, issuer};
        let clock = TestClock(Arc::new(std::sync::atomic::AtomicU64::new(NOW)));
        let verifier = crate::Verifier::builder()
            .issuer(issuer().config())
            .clock(clock.clone())
            .verified_token_cache(capacity)
            .build()
            .expect("verifier");
        (clock, verifier)
    }

    /// A clock reading a time no system instant can hold is no way around `exp`: the cached
    /// token's time rules are checked one by one against that reading.
    #[test]
    fn a_clock_beyond_every_instant_finds_a_cached_token_expired() {
        use crate::test_tokens::{NOW, issuer};
        let (clock, verifier) = clocked_verifier(8);
        let token = issuer().access_token("api/read", &[], serde_json::json!({"exp": NOW + 60}));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(verifier.verify(&token)).expect("valid");
        runtime
            .block_on(verifier.verify(&token))
            .expect("valid from the cache");
        assert_eq!(verifier.cached_token_hits(), 1);
        clock.0.store(u64::MAX, Ordering::SeqCst);
        let refused = runtime
            .block_on(verifier.verify(&token))
            .expect_err("expired");
        assert_eq!(refused.code(), "expired");
        assert_eq!(
            verifier.cached_token_hits(),
            2,
            "answered from the cache entry"
        );
    }

    #[test]
    fn once_a_cached_token_expires_no_verification_on_any_thread_accepts_it() {
        use crate::test_tokens::{NOW, issuer};
        let (clock, verifier) = clocked_verifier(64);
        let tokens: Vec<String> = (0..4)
            .map(|n| {
                issuer().access_token(
                    "api/read",
                    &[],
                    serde_json::json!({"sub": format!("user-{n}"), "exp": NOW + 60}),
                )
            })
            .collect();
        let verify = |token: &str| {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime")
                .block_on(verifier.verify(token))
        };
        for token in &tokens {
            verify(token).expect("valid");
        }
        let hits = verifier.cached_token_hits();
        let expired = std::sync::atomic::AtomicBool::new(false);
        let started = std::sync::Barrier::new(5);
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let (verifier, tokens, expired, started) = (&verifier, &tokens, &expired, &started);
                scope.spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .expect("runtime");
                    started.wait();
                    let mut after = 0;
                    for round in 0..10_000_000_usize {
                        let was_expired = expired.load(Ordering::Acquire);
                        let token = &tokens[(round + thread) % tokens.len()];
                        let result = runtime.block_on(verifier.verify(token));
                        if was_expired {
                            let code = result.map(|_| "ok").unwrap_or_else(|error| error.code());
                            assert_eq!(code, "expired", "a token outlived its exp");
                            after += 1;
                            if after == 2_000 {
                                return;
                            }
                        }
                    }
                    panic!("the clock never moved");
                });
            }
            started.wait();
            clock.0.store(NOW + 60, Ordering::SeqCst);
            expired.store(true, Ordering::Release);
        });
        assert!(verifier.cached_token_hits() > hits, "the cache answered");
    }

    /// A clock at nanosecond precision, moved by the test.
    #[derive(Clone)]
    struct NanoClock(Arc<std::sync::atomic::AtomicU64>);

    impl crate::Clock for NanoClock {
        fn now(&self) -> Duration {
            Duration::from_nanos(self.0.load(Ordering::SeqCst))
        }
    }

    /// A verifier of the test issuer (with `leeway`) on `clock`, with a cache of
    /// `capacity` tokens or (`None`) none: the cold verification a cached hit must agree with.
    fn nano_verifier(
        clock: &NanoClock,
        leeway: Duration,
        capacity: Option<usize>,
    ) -> crate::Verifier {
        use crate::test_tokens::{POOL_ID, issuer};
        let config = crate::IssuerConfig::user_pool(POOL_ID)
            .name("main")
            .client_ids([crate::test_tokens::CLIENT_ID])
            .token_use(crate::AcceptedTokenUse::Any)
            .jwks_json(issuer().jwks_json().to_owned())
            .leeway(leeway)
            .build()
            .expect("issuer");
        let mut builder = crate::Verifier::builder()
            .issuer(config)
            .clock(clock.clone());
        if let Some(capacity) = capacity {
            builder = builder.verified_token_cache(capacity);
        }
        builder.build().expect("verifier")
    }

    /// The answer (`ok` or the error code) of a cached verifier that verified `token`
    /// at `verified_at` (ns) and is asked again at `asked_at`, and of a cold one at `asked_at`.
    fn cached_and_cold(
        token: &str,
        leeway: Duration,
        verified_at: u64,
        asked_at: u64,
    ) -> (&'static str, &'static str) {
        let clock = NanoClock(Arc::new(std::sync::atomic::AtomicU64::new(verified_at)));
        let cached = nano_verifier(&clock, leeway, Some(8));
        let cold = nano_verifier(&clock, leeway, None);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime
            .block_on(cached.verify(token))
            .expect("valid when first verified");
        clock.0.store(asked_at, Ordering::SeqCst);
        let code = |result: Result<Arc<VerifiedToken>, crate::Error>| {
            result.map(|_| "ok").unwrap_or_else(|error| error.code())
        };
        let from_cache = code(runtime.block_on(cached.verify(token)));
        assert_eq!(
            cached.cached_token_hits(),
            1,
            "the second answer came from the cache"
        );
        (from_cache, code(runtime.block_on(cold.verify(token))))
    }

    /// The rules compare `now` as an `f64` of seconds (about 238 ns apart at today's dates,
    /// so a reading within ~119 ns before `exp` rounds up to `exp`), the window exact
    /// instants: a token verified a minute before its `exp` and asked again 1 ns before it is
    /// refused as `expired` by a verification without the cache, and so from the cache too
    /// (the reading is left to the rules, as it is that close to the bound).
    #[test]
    fn a_cached_hit_one_nanosecond_before_exp_agrees_with_a_cold_verification() {
        use crate::test_tokens::{NOW, issuer};
        let exp = NOW + 60;
        let token = issuer().access_token("api/read", &[], serde_json::json!({"exp": exp}));
        let (from_cache, cold) = cached_and_cold(
            &token,
            Duration::ZERO,
            NOW * 1_000_000_000,
            exp * 1_000_000_000 - 1,
        );
        assert_eq!(from_cache, cold, "cache {from_cache}, cold {cold}");
    }

    /// `nbf - leeway` as whole nanoseconds can fall before the `f64` itself: near the epoch
    /// (where an `f64` holds fractions of a nanosecond), a clock gone back to that nanosecond
    /// after the token was verified is refused as `not_yet_valid` (`iat` alike:
    /// `issued_in_future`) by a verification without the cache, and so from the cache too.
    #[test]
    fn a_cached_hit_just_before_a_fractional_nbf_or_iat_agrees_with_a_cold_verification() {
        use crate::test_tokens::issuer;
        let mut disagree = Vec::new();
        for (claim, code) in [("nbf", "not_yet_valid"), ("iat", "issued_in_future")] {
            let token = issuer().access_token(
                "api/read",
                &[],
                serde_json::json!({"exp": 100, "iat": 0.5, claim: 1.000_000_000_4}),
            );
            // Verified at 2 s, asked again at 1 s: 0.4 ns before the claim.
            let (from_cache, cold) =
                cached_and_cold(&token, Duration::ZERO, 2_000_000_000, 1_000_000_000);
            assert_eq!(cold, code, "{claim}: the cold verification refuses");
            if from_cache != cold {
                disagree.push(format!("{claim}: cache {from_cache}, cold {cold}"));
            }
        }
        assert!(disagree.is_empty(), "{disagree:?}");
    }

    /// At readings around every boundary of the window, down to a nanosecond, with leeways
    /// of whole seconds and fractions, for claims at today's dates and at edges (huge,
    /// negative, `exp` before `iat`, `nbf` far in the past), a reading the window admits is
    /// one the rules admit too.
    #[test]
    fn the_window_admits_no_reading_the_rules_refuse() {
        let base = 1_700_000_000.0_f64;
        let claims = [
            None,
            Some(0.0),
            Some(-1e300),
            Some(base - 3600.0),
            Some(base),
            Some(base + 0.25),
            Some(base + 59.0),
            Some(9.2e18),
            Some(1e300),
        ];
        let exps = [
            0.0,
            -5.0,
            base,
            base + 60.0,
            base + 60.5,
            9.3e18,
            1.8e19,
            f64::MAX,
        ];
        let leeways = [
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_millis(100),
            Duration::from_secs(5),
            Duration::from_secs(3600),
            Duration::from_secs(u64::from(u32::MAX)),
            Duration::from_secs(u64::MAX),
        ];
        let mut admitted = 0;
        for &exp in &exps {
            for nbf in claims {
                for iat in claims {
                    for leeway in leeways {
                        let Some(window) = TimeWindow::new(exp, nbf, iat, leeway) else {
                            continue;
                        };
                        let lee = leeway.as_secs_f64();
                        let mut readings: Vec<f64> = vec![0.0, base, base + 30.0];
                        for at in [Some(exp + lee), nbf.map(|n| n - lee), iat.map(|i| i - lee)]
                            .into_iter()
                            .flatten()
                        {
                            for offset in [
                                -2.0, -1.0, -1e-6, -1e-7, -1e-9, 0.0, 1e-9, 1e-7, 1e-6, 1.0, 2.0,
                            ] {
                                readings.push(at + offset);
                            }
                        }
                        for now in readings {
                            let Ok(since) = Duration::try_from_secs_f64(now) else {
                                continue;
                            };
                            let Some(instant) = UNIX_EPOCH.checked_add(since) else {
                                continue;
                            };
                            let secs = since.as_secs_f64();
                            let rules = secs < exp + lee
                                && nbf.is_none_or(|nbf| secs >= nbf - lee)
                                && iat.is_none_or(|iat| iat <= secs + lee);
                            if window.holds(instant) {
                                admitted += 1;
                                assert!(
                                    rules,
                                    "now {since:?} exp {exp} nbf {nbf:?} iat {iat:?} leeway {leeway:?}"
                                );
                            }
                        }
                    }
                }
            }
        }
        assert!(admitted > 1000, "{admitted}");
    }
}
