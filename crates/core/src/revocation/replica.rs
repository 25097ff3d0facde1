//! The local replica: every live revocation this instance knows, answered without awaiting and
//! without a shared lock.
//!
//! Entries are keyed by a keyed 64-bit hash of what they revoke (a `jti`, an `origin_jti`, or an
//! issuer and subject) so that a million of them fit in a few tens of MiB; the hash is seeded per
//! process, so nobody can aim a collision, and a collision could only refuse a token, never admit
//! one. The map is split into shards, each an atomically swapped immutable `HashMap`: a reader
//! loads one shard (lock-free) and looks its key up; a writer copies only the shards it changes.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;

use super::Revocation;

/// Number of shards: a write copies about `len / SHARDS` entries.
const SHARDS: usize = 256;

/// What one entry records: until when it can match anything, and for a user the cut-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Unix seconds after which no token the entry matches can still be valid.
    pub(crate) expires: u32,
    /// For a user: tokens with `iat` at or before this second are revoked. 0 otherwise.
    pub(crate) cutoff: u32,
}

impl Entry {
    fn merge(self, other: Entry) -> Entry {
        Entry {
            expires: self.expires.max(other.expires),
            cutoff: self.cutoff.max(other.cutoff),
        }
    }
}

/// The keys are already keyed hashes: hashing them again would only cost time.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

type Shard = HashMap<u64, Entry, BuildHasherDefault<PassThrough>>;

/// Which kind of thing a key names; part of the hashed key so a `jti` never matches a session.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Key<'a> {
    Token(&'a str),
    Session(&'a str),
    User { issuer: &'a str, sub: &'a str },
}

/// The issuer a user's sign-out is recorded under, in pieces to concatenate: one Cognito user
/// pool is one namespace of users, whichever of its spellings (`https://cognito-idp.` and
/// `https://issuer-cognito-idp.`) and whichever of its regions (a replicated pool's tokens name
/// the region that issued them) a token's `iss` uses. A Cognito issuer
/// `https://[issuer-]cognito-idp.{region}.{domain}/{region2}_{id}` reads as the pool's own
/// region, `https://cognito-idp.{region2}.{domain}/{region2}_{id}` (the pool id starts with the
/// region it was created in); any other issuer is itself.
///
/// Folding more issuers together can only refuse more tokens: the pool id names one pool in
/// every region, so no other pool's users are touched.
pub(crate) fn user_namespace(issuer: &str) -> [&str; 6] {
    const ORIGINAL: &str = "https://cognito-idp.";
    let Some(rest) = issuer
        .strip_prefix("https://issuer-cognito-idp.")
        .or_else(|| issuer.strip_prefix(ORIGINAL))
    else {
        return ["", issuer, "", "", "", ""];
    };
    let is_region = |text: &str| {
        !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    let pool_region = rest.split_once('/').and_then(|(host, pool)| {
        let (region, domain) = host.split_once('.')?;
        let (pool_region, id) = pool.split_once('_')?;
        (is_region(region) && is_region(pool_region) && !id.is_empty() && !id.contains('/'))
            .then_some((pool_region, domain, pool))
    });
    match pool_region {
        Some((pool_region, domain, pool)) => [ORIGINAL, pool_region, ".", domain, "/", pool],
        None => [ORIGINAL, rest, "", "", "", ""],
    }
}

pub(crate) struct Replica {
    hasher: foldhash::quality::RandomState,
    shards: Box<[ArcSwap<Shard>]>,
    /// Serializes writers (readers never take it).
    write: Mutex<()>,
    len: AtomicUsize,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl Replica {
    pub(crate) fn new() -> Self {
        Self {
            hasher: foldhash::quality::RandomState::default(),
            shards: (0..SHARDS)
                .map(|_| ArcSwap::from_pointee(Shard::default()))
                .collect(),
            write: Mutex::new(()),
            len: AtomicUsize::new(0),
        }
    }

    pub(crate) fn hash(&self, key: Key<'_>) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        match key {
            Key::Token(jti) => {
                hasher.write_u8(b't');
                hasher.write(jti.as_bytes());
            }
            Key::Session(origin_jti) => {
                hasher.write_u8(b's');
                hasher.write(origin_jti.as_bytes());
            }
            Key::User { issuer, sub } => {
                // The pool's namespace in pieces, without allocating on the request path.
                let pieces = user_namespace(issuer);
                hasher.write_u8(b'u');
                hasher.write_usize(pieces.iter().map(|piece| piece.len()).sum());
                for piece in pieces {
                    hasher.write(piece.as_bytes());
                }
                hasher.write(sub.as_bytes());
            }
        }
        hasher.finish()
    }

    fn shard_of(hash: u64) -> usize {
        // The high bits pick the shard; the map uses all of them.
        (hash >> 56) as usize % SHARDS
    }

    /// The live entry for `key` at `now` (Unix seconds), if any. Never blocks.
    pub(crate) fn get(&self, key: Key<'_>, now: u64) -> Option<Entry> {
        let hash = self.hash(key);
        let shard = self.shards[Self::shard_of(hash)].load();
        shard
            .get(&hash)
            .copied()
            .filter(|entry| u64::from(entry.expires) > now)
    }

    /// Adds revocations (merging with what is there: the later expiry and cut-off win) and drops
    /// what has expired in the shards it touches. Returns how many entries are new or changed.
    pub(crate) fn insert(&self, revocations: &[Revocation], now: u64) -> usize {
        let mut by_shard: HashMap<usize, Vec<(u64, Entry)>> = HashMap::new();
        for revocation in revocations {
            let entry = revocation.entry();
            if u64::from(entry.expires) <= now {
                continue;
            }
            let hash = self.hash(revocation.key());
            by_shard
                .entry(Self::shard_of(hash))
                .or_default()
                .push((hash, entry));
        }
        let _guard = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let mut changed = 0;
        for (index, entries) in by_shard {
            let current = self.shards[index].load_full();
            let mut next: Shard = current
                .iter()
                .filter(|(_, entry)| u64::from(entry.expires) > now)
                .map(|(hash, entry)| (*hash, *entry))
                .collect();
            for (hash, entry) in entries {
                let merged = next.get(&hash).map_or(entry, |old| old.merge(entry));
                if next.insert(hash, merged) != Some(merged) {
                    changed += 1;
                }
            }
            self.replace_shard(index, current.len(), next);
        }
        changed
    }

    /// Drops every expired entry.
    pub(crate) fn purge_expired(&self, now: u64) {
        let _guard = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        for index in 0..SHARDS {
            let current = self.shards[index].load_full();
            if current.values().all(|entry| u64::from(entry.expires) > now) {
                continue;
            }
            let next: Shard = current
                .iter()
                .filter(|(_, entry)| u64::from(entry.expires) > now)
                .map(|(hash, entry)| (*hash, *entry))
                .collect();
            self.replace_shard(index, current.len(), next);
        }
    }

    fn replace_shard(&self, index: usize, old_len: usize, mut next: Shard) {
        next.shrink_to_fit();
        let new_len = next.len();
        self.shards[index].store(Arc::new(next));
        if new_len >= old_len {
            self.len.fetch_add(new_len - old_len, Ordering::Relaxed);
        } else {
            self.len.fetch_sub(old_len - new_len, Ordering::Relaxed);
        }
    }

    /// Entries held (expired ones included until they are purged).
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Bytes the entries' tables take (an estimate from capacities, for reports and tests).
    pub(crate) fn heap_bytes(&self) -> usize {
        let slot = std::mem::size_of::<(u64, Entry)>() + 1;
        self.shards
            .iter()
            .map(|shard| shard.load().capacity() * slot + std::mem::size_of::<Shard>())
            .sum()
    }
}
