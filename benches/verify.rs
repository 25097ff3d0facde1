//! Verification cost against its physical floor, as ratios within one run (the targets are in
//! the README's "Performance" section):
//!
//! - `baseline/rsa_verify`: a bare RSA-2048 PKCS#1 v1.5 SHA-256 verify of the token's bytes with
//!   aws-lc-rs and a key parsed once — nothing can be faster;
//! - `baseline/jsonwebtoken_decode`: jsonwebtoken 11's `decode` of the same token (aws-lc-rs);
//! - `verify/cold`: our verifier, every check, no verified-token cache (target ≤ 1.10× the floor);
//! - `verify/cached`: our verifier with the verified-token cache (target ≥ 20× faster than cold).
//!
//! The ratios themselves, each side timed back to back within every iteration (8 operations per
//! side) so both share any burst of other work on the machine (`benches/support`):
//!
//! - `ratio/verify_cold_per_rsa_verify` (target ≤ 1.10×);
//! - `ratio/jsonwebtoken_decode_per_rsa_verify` (for comparison).
//!
//! How cached verification scales with cores: the throughput of two threads over one thread's,
//! each timed back to back within every iteration (shown as `×`; a hit takes no lock shared
//! across cores, target ≥ 1.8× on two cores):
//!
//! - `ratio/cached_two_threads_per_one_thread` (each thread verifies its own user's token);
//! - `ratio/cached_same_token_two_threads_per_one_thread` (both threads verify one token: they
//!   share only the token's reference count).
//!
//! Run: `cargo bench -p cognito-authz-benches --bench verify` (add `ratio` for the ratios alone).

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cognito_authz::{AcceptedTokenUse, Verifier};
use cognito_authz_testkit::LocalIssuer;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt as _;

mod support;
use support::{Ratio, interleaved};

/// Operations per side per iteration of a ratio bench.
const CHUNK: u32 = 8;

/// One token and everything each contender needs to verify it, built once.
struct Fixture {
    issuer: LocalIssuer,
    token: String,
    signing_input: String,
    signature: Vec<u8>,
    /// The floor: the issuer's RSA key parsed once with aws-lc-rs.
    parsed: aws_lc_rs::signature::ParsedPublicKey,
    decoding_key: jsonwebtoken::DecodingKey,
    validation: jsonwebtoken::Validation,
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
        let key = issuer.signing_key();
        let (signing_input, signature) = token.rsplit_once('.').expect("three segments");
        let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
        let n = URL_SAFE_NO_PAD.decode(key.modulus_base64url()).expect("n");
        let e = URL_SAFE_NO_PAD.decode(key.exponent_base64url()).expect("e");
        let parsed = RsaPublicKeyComponents { n: &n, e: &e }
            .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
            .expect("valid key");
        // jsonwebtoken panics without a crypto provider; install the aws-lc-rs one explicitly.
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
        let decoding_key = jsonwebtoken::DecodingKey::from_rsa_components(
            &key.modulus_base64url(),
            &key.exponent_base64url(),
        )
        .expect("components");
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_issuer(&[issuer.iss()]);
        Self {
            signing_input: signing_input.to_owned(),
            issuer,
            token,
            signature,
            parsed,
            decoding_key,
            validation,
        }
    }

    fn rsa_verify(&self) {
        self.parsed
            .verify_sig(
                black_box(self.signing_input.as_bytes()),
                black_box(&self.signature),
            )
            .expect("verifies");
    }

    fn jsonwebtoken_decode(&self) {
        jsonwebtoken::decode::<serde_json::Value>(
            black_box(&self.token),
            &self.decoding_key,
            &self.validation,
        )
        .expect("decodes");
    }

    /// Another user's token from the same issuer (shaped like [`Fixture::token`]).
    fn other_token(&self, user: &str) -> String {
        self.issuer
            .access_token()
            .subject(user)
            .username(user)
            .groups(["admin", "readers"])
            .scopes(["api/read", "api/write"])
            .sign()
    }

    fn verifier(&self, cache: bool) -> Verifier {
        let mut builder = Verifier::builder()
            .issuer(self.issuer.issuer_config(AcceptedTokenUse::Access))
            .shared_clock(self.issuer.clock());
        if cache {
            builder = builder.verified_token_cache(1024);
        }
        builder.build().expect("valid verifier")
    }

    /// On a known key, verify never awaits: the future is ready on first poll.
    fn verify(&self, verifier: &Verifier) {
        verify_token(verifier, &self.token);
    }
}

fn verify_token(verifier: &Verifier, token: &str) {
    verifier
        .verify(black_box(token))
        .now_or_never()
        .expect("ready without awaiting")
        .expect("verifies");
}

/// Cached verifications per thread per timed run (long enough that starting the threads is
/// noise: about 1 ms).
const RUN: u32 = 8_000;

/// The speed-up of `tokens.len()` threads over one: one thread verifies `RUN` times, then each
/// of the threads verifies its token `RUN` times at once; the quotient of throughputs.
fn scaling(verifier: &Verifier, tokens: &[&str]) -> f64 {
    let one = {
        let start = Instant::now();
        for _ in 0..RUN {
            verify_token(verifier, tokens[0]);
        }
        start.elapsed()
    };
    let go = Barrier::new(tokens.len());
    let many = std::thread::scope(|scope| {
        let runs: Vec<_> = tokens
            .iter()
            .map(|token| {
                let go = &go;
                scope.spawn(move || {
                    go.wait();
                    let start = Instant::now();
                    for _ in 0..RUN {
                        verify_token(verifier, token);
                    }
                    start.elapsed()
                })
            })
            .collect();
        runs.into_iter()
            .map(|run| run.join().expect("thread"))
            .max()
            .expect("threads")
    });
    let threads = tokens.len() as f64;
    threads * one.as_secs_f64() / many.as_secs_f64()
}

fn verify(c: &mut Criterion) {
    let fixture = Fixture::new();

    let mut group = c.benchmark_group("baseline");
    group.bench_function("rsa_verify", |b| b.iter(|| fixture.rsa_verify()));
    group.bench_function("jsonwebtoken_decode", |b| {
        b.iter(|| fixture.jsonwebtoken_decode());
    });
    group.finish();

    let (cold, cached) = (fixture.verifier(false), fixture.verifier(true));
    let mut group = c.benchmark_group("verify");
    group.bench_function("cold", |b| b.iter(|| fixture.verify(&cold)));
    fixture.verify(&cached);
    group.bench_function("cached", |b| b.iter(|| fixture.verify(&cached)));
    group.finish();

    // Where the cold path's time goes besides the signature: parsing alone.
    let mut group = c.benchmark_group("parts");
    group.bench_function("decode_unverified", |b| {
        b.iter(|| {
            cognito_authz::dangerous::decode_unverified(black_box(&fixture.token)).expect("parses")
        });
    });
    group.finish();
}

/// `CHUNK` runs of `f`, timed.
fn timed(f: impl Fn()) -> Duration {
    let start = Instant::now();
    for _ in 0..CHUNK {
        f();
    }
    start.elapsed()
}

fn ratios(c: &mut Criterion<Ratio>) {
    let fixture = Fixture::new();
    let cold = fixture.verifier(false);
    let mut group = c.benchmark_group("ratio");
    group.bench_function("verify_cold_per_rsa_verify", |b| {
        b.iter_custom(|iters| {
            interleaved(iters, || {
                (
                    timed(|| fixture.rsa_verify()),
                    timed(|| fixture.verify(&cold)),
                )
            })
        });
    });
    group.bench_function("jsonwebtoken_decode_per_rsa_verify", |b| {
        b.iter_custom(|iters| {
            interleaved(iters, || {
                (
                    timed(|| fixture.rsa_verify()),
                    timed(|| fixture.jsonwebtoken_decode()),
                )
            })
        });
    });

    let cached = fixture.verifier(true);
    let other = fixture.other_token("bob");
    for token in [&fixture.token, &other] {
        verify_token(&cached, token);
    }
    group.bench_function("cached_two_threads_per_one_thread", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| scaling(&cached, &[&fixture.token, &other]))
                .sum()
        });
    });
    group.bench_function("cached_same_token_two_threads_per_one_thread", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| scaling(&cached, &[&fixture.token, &fixture.token]))
                .sum()
        });
    });
    group.finish();
}

criterion_group!(benches, verify);
criterion_group! {
    name = ratio_benches;
    config = Criterion::default().with_measurement(Ratio);
    targets = ratios
}
criterion_main!(benches, ratio_benches);
