//! Verification cost against its physical floor (DESIGN.md §11), as ratios within one run:
//!
//! - `baseline/rsa_verify`: a bare RSA-2048 PKCS#1 v1.5 SHA-256 verify of the token's bytes with
//!   aws-lc-rs and a key parsed once — nothing can be faster;
//! - `baseline/jsonwebtoken_decode`: jsonwebtoken 11's `decode` of the same token (aws-lc-rs);
//! - `verify/cold`: our verifier, every check, no verified-token cache (target ≤ 1.25× the floor);
//! - `verify/cached`: our verifier with the verified-token cache (target ≥ 20× faster than cold).
//!
//! Run: `cargo bench --bench verify`.

use std::hint::black_box;

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cognito_authz::{AcceptedTokenUse, Verifier};
use cognito_authz_testkit::LocalIssuer;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt as _;

fn verify(c: &mut Criterion) {
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

    let mut group = c.benchmark_group("baseline");
    group.bench_function("rsa_verify", |b| {
        b.iter(|| {
            parsed
                .verify_sig(black_box(signing_input.as_bytes()), black_box(&signature))
                .expect("verifies");
        });
    });
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
    group.bench_function("jsonwebtoken_decode", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<serde_json::Value>(
                black_box(&token),
                &decoding_key,
                &validation,
            )
            .expect("decodes");
        });
    });
    group.finish();

    let cold = Verifier::builder()
        .issuer(issuer.issuer_config(AcceptedTokenUse::Access))
        .shared_clock(issuer.clock())
        .build()
        .expect("valid verifier");
    let cached = Verifier::builder()
        .issuer(issuer.issuer_config(AcceptedTokenUse::Access))
        .shared_clock(issuer.clock())
        .verified_token_cache(1024)
        .build()
        .expect("valid verifier");
    // On a known key, verify never awaits: the future is ready on first poll.
    let run = |verifier: &Verifier| {
        verifier
            .verify(black_box(&token))
            .now_or_never()
            .expect("ready without awaiting")
            .expect("verifies")
    };
    let mut group = c.benchmark_group("verify");
    group.bench_function("cold", |b| b.iter(|| run(&cold)));
    run(&cached);
    group.bench_function("cached", |b| b.iter(|| run(&cached)));
    group.finish();

    // Where the cold path's time goes besides the signature: parsing alone.
    let mut group = c.benchmark_group("parts");
    group.bench_function("decode_unverified", |b| {
        b.iter(|| cognito_authz::decode_unverified(black_box(&token)).expect("parses"));
    });
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
