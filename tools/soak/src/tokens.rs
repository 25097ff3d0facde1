//! The tokens the clients send: fixed ones per signing key (admin, user, machine, forged,
//! expired) and thousands of distinct users that keep the verified-token cache at its bound.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use cognito_authz_testkit::{LocalIssuer, SigningKey};

use crate::shared;

/// Distinct users minted up front: 20 % more than the verified-token cache holds. All tasks
/// walk them in one shared order (the warm-up fills the cache in that order too), so each comes
/// back only after 11,999 others were inserted: every distinct request misses, is verified, and
/// evicts the oldest entry, and the cache sits at its bound for the whole run.
pub(crate) const DISTINCT_USERS: usize =
    shared::VERIFIED_TOKEN_CACHE + shared::VERIFIED_TOKEN_CACHE / 5;

/// The fixed tokens signed with one key.
#[derive(Debug)]
pub(crate) struct KeyTokens {
    pub(crate) admin: String,
    pub(crate) user: String,
    pub(crate) machine: String,
    pub(crate) bad_signature: String,
    pub(crate) expired: String,
}

/// Every token the clients send.
#[derive(Debug)]
pub(crate) struct Tokens {
    /// Signed with the issuer's first key.
    pub(crate) old: KeyTokens,
    /// Signed with the rotated key, set once at the midpoint.
    pub(crate) new: OnceLock<KeyTokens>,
    /// [`DISTINCT_USERS`] users, signed with the first key.
    pub(crate) distinct: Vec<String>,
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// The fixed tokens, signed with the issuer's current key.
pub(crate) fn mint_key_tokens(issuer: &LocalIssuer) -> KeyTokens {
    let tokens = shared::mint_tokens(issuer);
    let now = unix_now();
    let impostor = SigningKey::generate(issuer.signing_key().kid());
    KeyTokens {
        admin: tokens.admin,
        user: tokens.user,
        machine: tokens.machine,
        bad_signature: issuer
            .access_token()
            .username("mallory")
            .signed_by(&impostor)
            .sign(),
        expired: issuer
            .access_token()
            .username("carol")
            .issued_at(now - 7200)
            .expires_at(now - 3600)
            .sign(),
    }
}

/// [`DISTINCT_USERS`] access tokens for `user-00000`, `user-00001`, …, signed on every core.
pub(crate) fn mint_distinct(issuer: &LocalIssuer) -> Vec<String> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = DISTINCT_USERS.div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                scope.spawn(move || {
                    let first = thread * chunk;
                    let last = (first + chunk).min(DISTINCT_USERS);
                    (first..last)
                        .map(|user| {
                            issuer
                                .access_token()
                                .username(format!("user-{user:05}"))
                                .sign()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("minting does not panic"))
            .collect()
    })
}
