//! Policy evaluation and route lookup.
//!
//! - `policy/eval`: a five-atom expression against a verified Cognito access token (the allow
//!   path must not allocate, so this is pure evaluation cost).
//! - `routes/match`: the same four lookups (parameter, static, catch-all, no match) in tables
//!   of 10 and 1,000 routes; the two figures should be close (one method scan plus a
//!   radix-tree walk, flat in the number of routes).
//! - `routes/matches`: the same requests through the lookup the adapters use
//!   (`RouteTable::matches`: every reading of the path, every guarding route), most specific
//!   first as for axum (`most_specific/N`) and every match as for actix-web (`every_match/N`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cognito_authz_core::{
    AcceptedTokenUse, FixedClock, IssuerConfig, Policy, RequestTarget, RouteTable, VerifiedToken,
    Verifier,
};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use http::Method;
use serde_json::json;

const NOW: u64 = 1_700_000_000;
const POOL: &str = "us-east-1_Bench1";
const CLIENT: &str = "benchclient";

/// Mints a Cognito-shaped access token with a fresh key and verifies it.
fn verified_token() -> Arc<VerifiedToken> {
    let key = KeyPair::generate(KeySize::Rsa2048).expect("key");
    let public = key.public_key();
    let jwks = json!({"keys": [{
        "kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
        "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
        "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
    }]});
    let header = json!({"alg": "RS256", "kid": "k1"});
    let payload = json!({
        "sub": "user-1",
        "iss": format!("https://cognito-idp.us-east-1.amazonaws.com/{POOL}"),
        "client_id": CLIENT,
        "token_use": "access",
        "scope": "openid profile api/read api/write",
        "cognito:groups": ["staff", "reports", "eu"],
        "custom:tenant": "acme",
        "exp": NOW + 3600,
        "iat": NOW,
        "username": "alice",
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .expect("sign");
    let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature));
    let verifier = Verifier::builder()
        .issuer(
            IssuerConfig::user_pool(POOL)
                .client_ids([CLIENT])
                .token_use(AcceptedTokenUse::Access)
                .jwks_json(jwks.to_string())
                .build()
                .expect("issuer"),
        )
        .clock(FixedClock(Duration::from_secs(NOW)))
        .build()
        .expect("verifier");
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(verifier.verify(&token))
        .expect("token verifies")
}

fn policy_eval(c: &mut Criterion) {
    let token = verified_token();
    let policy: Policy = "group:staff and scope:api/read and token_use:access \
                          and not group:banned and claim:custom:tenant=acme"
        .parse()
        .expect("policy");
    let compiled = policy.compile().expect("compiles");
    assert!(compiled.evaluate(&token).is_allowed());
    let mut group = c.benchmark_group("policy/eval");
    group.bench_function("five_atoms", |b| {
        b.iter(|| black_box(compiled.evaluate(black_box(&token))));
    });
    group.finish();
}

/// A table of `count` routes shaped like a REST API: per resource a static collection, a
/// parameter item, a nested static under the parameter, and a GET-only export catch-all.
fn table(count: usize) -> RouteTable {
    let mut builder = RouteTable::builder().policy("admin", Policy::group("admin"));
    let resources = count / 4;
    for index in 0..resources {
        let base = format!("/api/v1/resource{index}");
        builder = builder
            .route(base.clone(), Policy::authenticated())
            .route(format!("{base}/{{id}}"), Policy::scope("api/read"))
            .route(format!("{base}/{{id}}/items"), Policy::named("admin"))
            .route_methods(
                [Method::GET],
                format!("/export/resource{index}/{{*rest}}"),
                Policy::scope("api/export"),
            );
    }
    for extra in 0..count - resources * 4 {
        builder = builder.route(format!("/extra{extra}"), Policy::public());
    }
    builder.build().expect("table")
}

fn routes_match(c: &mut Criterion) {
    // The same four requests against both tables: a parameter route with a static tail, a
    // static route, a GET-only catch-all, and a path no route matches (the default policy).
    let requests = [
        (
            "/api/v1/resource1/12345/items",
            Some("/api/v1/resource1/{id}/items"),
        ),
        ("/api/v1/resource0", Some("/api/v1/resource0")),
        (
            "/export/resource1/2024/q3/report.csv",
            Some("/export/resource1/{*rest}"),
        ),
        ("/nowhere/at/all", None),
    ];
    let mut group = c.benchmark_group("routes/match");
    for count in [10_usize, 1_000] {
        let table = table(count);
        assert_eq!(table.routes().len(), count);
        for (path, pattern) in requests {
            assert_eq!(
                table.lookup(&Method::GET, path).pattern(),
                pattern,
                "{path}"
            );
        }
        group.bench_with_input(BenchmarkId::from_parameter(count), &table, |b, table| {
            b.iter(|| {
                for (path, _) in requests {
                    black_box(table.lookup(black_box(&Method::GET), black_box(path)));
                }
            });
        });
    }
    group.finish();
}

fn routes_matches(c: &mut Criterion) {
    let paths = [
        "/api/v1/resource1/12345/items",
        "/api/v1/resource0",
        "/export/resource1/2024/q3/report.csv",
        "/nowhere/at/all",
    ];
    let mut group = c.benchmark_group("routes/matches");
    for count in [10_usize, 1_000] {
        let table = table(count);
        group.bench_with_input(
            BenchmarkId::new("most_specific", count),
            &table,
            |b, table| {
                b.iter(|| {
                    for path in paths {
                        let target = RequestTarget::new(black_box(path));
                        black_box(table.matches(black_box(&Method::GET), target).len());
                    }
                });
            },
        );
        group.bench_with_input(
            BenchmarkId::new("every_match", count),
            &table,
            |b, table| {
                b.iter(|| {
                    for path in paths {
                        let target = RequestTarget::actix(black_box(path), black_box(path));
                        black_box(table.matches(black_box(&Method::GET), target).len());
                    }
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, policy_eval, routes_match, routes_matches);
criterion_main!(benches);
