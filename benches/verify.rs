//! Verification cost against its physical floor (DESIGN.md §11), as ratios within one run:
//!
//! - `baseline/rsa_verify`: a bare RSA-2048 PKCS#1 v1.5 SHA-256 verify of the token's bytes with
//!   aws-lc-rs and a key parsed once — nothing can be faster;
//! - `baseline/jsonwebtoken_decode`: jsonwebtoken 11's `decode` of the same token (aws-lc-rs);
//! - `verify/cold`: our verifier, every check, no verified-token cache (target ≤ 1.25× the floor);
//! - `verify/cached`: our verifier with the verified-token cache (target ≥ 20× faster than cold).
//!
//! The ratios themselves, each side timed back to back within every iteration (8 operations per
//! side) so both share any burst of other work on the machine (`benches/support`):
//!
//! - `ratio/verify_cold_per_rsa_verify` (target ≤ 1.25×);
//! - `ratio/jsonwebtoken_decode_per_rsa_verify` (for comparison).
//!
//! Run: `cargo bench -p cognito-authz-benches --bench verify` (add `ratio` for the ratios alone).

use std::hint::black_box;
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
        verifier
            .verify(black_box(&self.token))
            .now_or_never()
            .expect("ready without awaiting")
            .expect("verifies");
    }
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
    group.finish();
}

criterion_group!(benches, verify);
criterion_group! {
    name = ratio_benches;
    config = Criterion::default().with_measurement(Ratio);
    targets = ratios
}
criterion_main!(benches, ratio_benches);
