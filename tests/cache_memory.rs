//! The verified-token cache's byte bound, checked against the allocator's own count: a cache
//! filled with distinct tokens of the full 16 KiB size whose claims are thousands of groups and
//! scopes (the worst case for per-item storage) holds no more heap than its bound, and what it
//! counts is what the entries really hold, not just their token bytes.
//!
//! One test in its own binary: the counting allocator sees every thread, so nothing else may
//! allocate while it measures.

use std::alloc::System;

use cognito_authz::{AcceptedTokenUse, CognitoClaims, DEFAULT_MAX_TOKEN_BYTES, Verifier};
use cognito_authz_testkit::LocalIssuer;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const BUDGET: usize = 2 * 1024 * 1024;
const TOKENS: usize = 120;

/// An access token of user `n` just under the 16 KiB cap, its payload nearly all groups and
/// scopes of a few bytes each.
fn list_heavy_token(issuer: &LocalIssuer, n: usize, groups: usize) -> String {
    issuer
        .access_token()
        .subject(format!("user-{n}"))
        .groups((0..groups).map(|g| format!("g{g}")))
        .scopes((0..groups / 4).map(|s| format!("s{s}")))
        .sign()
}

/// A verifier of the issuer's access tokens whose cache may hold 100,000 tokens in `BUDGET`
/// bytes.
fn budgeted_verifier(issuer: &LocalIssuer) -> Verifier {
    issuer
        .verifier_builder(AcceptedTokenUse::Access)
        .verified_token_cache(100_000)
        .verified_token_cache_bytes(BUDGET)
        .build()
        .expect("verifier")
}

/// Heap bytes allocated and not freed since the region started.
fn retained(region: &Region<'_, System>) -> isize {
    let change = region.change();
    change.bytes_allocated as isize - change.bytes_deallocated as isize
}

#[test]
fn a_cache_full_of_cap_sized_list_heavy_tokens_stays_within_its_byte_bound() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let issuer = LocalIssuer::offline();
    // As many groups as fit under the cap (the token grows by about 13 bytes per group).
    let probe = list_heavy_token(&issuer, 0, 1000).len();
    let groups = 1000 + (DEFAULT_MAX_TOKEN_BYTES - probe - 64) / 13;
    let tokens: Vec<String> = (0..TOKENS)
        .map(|n| list_heavy_token(&issuer, n, groups))
        .collect();
    let longest = tokens.iter().map(String::len).max().expect("tokens");
    assert!(
        (DEFAULT_MAX_TOKEN_BYTES - 1024..=DEFAULT_MAX_TOKEN_BYTES).contains(&longest),
        "cap-sized: {longest}"
    );
    let verifier = budgeted_verifier(&issuer);
    // Warm the runtime and the verify path with a token that is rejected (so not cached).
    let expired = issuer
        .access_token()
        .lifetime(std::time::Duration::ZERO)
        .sign();
    let _ = runtime.block_on(verifier.verify(&expired));
    assert_eq!(verifier.cached_tokens(), 0);

    let region = Region::new(GLOBAL);
    for token in &tokens {
        let verified = runtime.block_on(verifier.verify(token)).expect("valid");
        // What an extractor does: typed claims kept on the (cached) token.
        let claims = verified.shared_claims::<CognitoClaims>().expect("fits");
        assert_eq!(claims.groups.as_ref().map(Vec::len), Some(groups));
        assert!(verified.groups().len() == groups && verified.scopes().len() == groups / 4);
    }
    // One more lookup folds the last typed values into the bound.
    let _ = runtime.block_on(verifier.verify(&tokens[TOKENS - 1]));
    let real = retained(&region);
    let counted = verifier.cached_token_bytes();
    let entries = verifier.cached_tokens();

    assert!(counted <= BUDGET, "counted {counted} > bound {BUDGET}");
    assert!(
        real <= BUDGET as isize,
        "the allocator says the cache holds {real} bytes, over its bound {BUDGET}"
    );
    assert!(
        entries > 0 && entries < TOKENS,
        "the byte bound, not the entry bound, limited the cache: {entries} entries"
    );
    // The count is real heap, not token bytes: at least what the allocator sees retained, and
    // not wildly more.
    assert!(real <= counted as isize, "real {real} > counted {counted}");
    assert!(
        counted as isize <= 2 * real,
        "counted {counted} is more than twice the real {real}"
    );
    let per_entry = counted / entries;
    println!(
        "with typed claims: {entries} entries of {longest}-byte tokens ({groups} groups), \
         {counted} bytes counted, {real} retained per the allocator, {per_entry} per entry"
    );
    assert!(
        per_entry > 2 * longest,
        "an entry holds far more than its token bytes: {per_entry} per entry"
    );

    // Without typed values an entry costs a small multiple of its token, not 23 times it.
    let plain = budgeted_verifier(&issuer);
    let region = Region::new(GLOBAL);
    for token in &tokens[..8] {
        runtime.block_on(plain.verify(token)).expect("valid");
    }
    let real = retained(&region);
    let counted = plain.cached_token_bytes();
    assert_eq!(plain.cached_tokens(), 8);
    println!(
        "without typed claims: {} bytes counted per entry, {} retained",
        counted / 8,
        real / 8
    );
    assert!(
        real <= counted as isize && counted as isize <= 2 * real,
        "{real} / {counted}"
    );
    assert!(
        counted / 8 <= 3 * longest,
        "{} bytes per {longest}-byte token",
        counted / 8
    );

    // A typical Cognito access token with its typed claims kept: the default bound (64 MiB)
    // holds at least 10,000 of them.
    let typical = issuer
        .verifier_builder(AcceptedTokenUse::Access)
        .verified_token_cache(100_000)
        .build()
        .expect("verifier");
    let tokens: Vec<String> = (0..8)
        .map(|n| {
            issuer
                .access_token()
                .subject(format!("user-{n}"))
                .groups(["admin", "readers"])
                .scopes(["api/read", "api/write"])
                .sign()
        })
        .collect();
    for token in &tokens {
        let verified = runtime.block_on(typical.verify(token)).expect("valid");
        verified.shared_claims::<CognitoClaims>().expect("fits");
    }
    let _ = runtime.block_on(typical.verify(&tokens[0]));
    let per_entry = typical.cached_token_bytes() / 8;
    println!(
        "typical {}-byte access token with typed claims: {per_entry} bytes counted per entry",
        tokens[0].len()
    );
    assert!(
        per_entry * 10_000 <= cognito_authz::DEFAULT_VERIFIED_TOKEN_CACHE_BYTES,
        "{per_entry}"
    );
}
