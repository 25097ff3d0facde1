//! What revocation costs a request, and what its replica costs in memory:
//!
//! - `revocation/cached_without_store` and `revocation/cached_with_100k`: verification of a
//!   token in the verified-token cache, without a revocation store and with a store holding
//!   100,000 live revocations (a third each by `jti`, session and user; the token matches none);
//! - `ratio/cached_with_100k_revocations_per_cached` (target ≤ 1.10×), both sides timed back to
//!   back within every iteration (`benches/support`);
//! - the bytes of a replica holding 1,000,000 live revocations (target ≤ 64 MiB), printed once.
//!
//! The propagation delay between two instances over Redis pub/sub is measured by the test
//! `revocation::propagation_over_pub_sub_takes_about_one_round_trip` (it needs a redis-server).
//!
//! Run: `cargo bench --bench revocation`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use cognito_authz::revocation::{Revocation, RevocationStore};
use cognito_authz::{AcceptedTokenUse, Verifier};
use cognito_authz_testkit::LocalIssuer;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt as _;

mod support;
use support::{Ratio, interleaved};

/// Operations per side per iteration of a ratio bench.
const CHUNK: u32 = 64;

struct Fixture {
    token: String,
    plain: Verifier,
    revoking: Verifier,
}

/// `count` live revocations, a third of each kind, none matching the bench's token.
fn revocations(issuer: &LocalIssuer, count: u32) -> Vec<Revocation> {
    let now = issuer.clock().now().as_secs();
    (0..count)
        .map(|i| match i % 3 {
            0 => Revocation::token(format!("{i:08x}-0000-4000-8000-000000000000")),
            1 => Revocation::session(format!("{i:08x}-1111-4000-8000-000000000000")),
            _ => Revocation::user(
                issuer.iss(),
                format!("{i:08x}-2222-4000-8000-000000000000"),
                now,
            ),
        })
        .collect()
}

fn store_with(issuer: &LocalIssuer, count: u32) -> RevocationStore {
    let store = RevocationStore::builder()
        .shared_clock(issuer.clock())
        .memory();
    store
        .revoke_all(revocations(issuer, count))
        .now_or_never()
        .expect("a memory store never waits")
        .expect("revoked");
    assert_eq!(
        store.status().entries,
        count as usize,
        "every revocation is live"
    );
    store
}

impl Fixture {
    fn new() -> Self {
        let issuer = LocalIssuer::offline();
        let token = issuer
            .access_token()
            .username("alice")
            .groups(["admin", "readers"])
            .scopes(["api/read", "api/write"])
            .sign();
        let plain = issuer
            .verifier_builder(AcceptedTokenUse::Access)
            .verified_token_cache(1024)
            .build()
            .expect("verifier");
        let revoking = issuer
            .verifier_builder(AcceptedTokenUse::Access)
            .verified_token_cache(1024)
            .revocation(store_with(&issuer, 100_000))
            .build()
            .expect("verifier");
        let fixture = Self {
            token,
            plain,
            revoking,
        };
        fixture.verify(&fixture.plain);
        fixture.verify(&fixture.revoking);
        fixture
    }

    fn verify(&self, verifier: &Verifier) {
        let verified = verifier
            .verify(black_box(&self.token))
            .now_or_never()
            .expect("a cached token never waits")
            .expect("valid");
        black_box(verified);
    }
}

fn timed(f: impl Fn()) -> Duration {
    let start = Instant::now();
    for _ in 0..CHUNK {
        f();
    }
    start.elapsed()
}

fn cached(c: &mut Criterion) {
    let fixture = Fixture::new();
    let mut group = c.benchmark_group("revocation");
    group.bench_function("cached_without_store", |b| {
        b.iter(|| fixture.verify(&fixture.plain));
    });
    group.bench_function("cached_with_100k", |b| {
        b.iter(|| fixture.verify(&fixture.revoking));
    });
    group.finish();

    // The same ratio as `ratio/…` below, as a quotient of medians over 4,000 chunks per side
    // timed in A-B-B-A order, which no single burst of other work or order effect can move much.
    let (mut plain, mut revoking) = (Vec::new(), Vec::new());
    for round in 0..4000 {
        if round % 2 == 0 {
            plain.push(timed(|| fixture.verify(&fixture.plain)));
            revoking.push(timed(|| fixture.verify(&fixture.revoking)));
        } else {
            revoking.push(timed(|| fixture.verify(&fixture.revoking)));
            plain.push(timed(|| fixture.verify(&fixture.plain)));
        }
    }
    plain.sort_unstable();
    revoking.sort_unstable();
    let (plain, revoking) = (plain[plain.len() / 2], revoking[revoking.len() / 2]);
    println!(
        "revocation/median_ratio: cached verify with 100,000 revocations {:.1} ns, without a store {:.1} ns: {:.3}x (target <= 1.10x)",
        revoking.as_secs_f64() * 1e9 / f64::from(CHUNK),
        plain.as_secs_f64() * 1e9 / f64::from(CHUNK),
        revoking.as_secs_f64() / plain.as_secs_f64()
    );

    // What a token pays once after each change to the store: the full lookup (three hashes and
    // replica reads), without the memo.
    let store = store_with(&LocalIssuer::offline(), 100_000);
    let token = fixture
        .plain
        .verify(&fixture.token)
        .now_or_never()
        .expect("cached")
        .expect("valid");
    c.bench_function("revocation/full_lookup_100k", |b| {
        b.iter(|| store.check(black_box(&token)).expect("not revoked"));
    });

    let issuer = LocalIssuer::offline();
    let million = store_with(&issuer, 1_000_000);
    let bytes = million.replica_bytes();
    println!(
        "revocation/replica_bytes_1m: {} entries in {:.1} MiB ({:.1} bytes each; target <= 64 MiB)",
        million.status().entries,
        bytes as f64 / (1024.0 * 1024.0),
        bytes as f64 / 1_000_000.0
    );
}

fn ratios(c: &mut Criterion<Ratio>) {
    let fixture = Fixture::new();
    let mut group = c.benchmark_group("ratio");
    group.bench_function("cached_with_100k_revocations_per_cached", |b| {
        b.iter_custom(|iters| {
            interleaved(iters, || {
                (
                    timed(|| fixture.verify(&fixture.plain)),
                    timed(|| fixture.verify(&fixture.revoking)),
                )
            })
        });
    });
    group.finish();
}

criterion_group!(benches, cached);
criterion_group! {
    name = ratio_benches;
    config = Criterion::default().with_measurement(Ratio);
    targets = ratios
}
criterion_main!(benches, ratio_benches);
