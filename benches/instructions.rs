//! Requests in a loop, for counting what one costs in instructions, cache misses and
//! allocations under valgrind (`scripts/count-instructions.sh`), where criterion's timings
//! would swing with the machine's other work. Counts do not: two runs of one build give the
//! same numbers, so a change of a few dozen instructions on the request path shows.
//!
//! `instructions SHAPE COUNT` runs COUNT requests of one shape inside `run` (the function the
//! script counts in), after one request that warms the verified-token cache:
//!
//! - `axum-no-auth`, `axum-identity-layer`, `axum-layer`: `GET /reports/42` with a cached
//!   token through an axum router whose handler answers `"ok"`, with no layer, with tower's
//!   do-nothing `Identity` layer (what `Router::layer` charges any layer), and with
//!   `AuthzLayer` (the shape of `ratio/axum_layer_per_no_auth` in `--bench http`);
//! - `axum-wrapped-layer`: the same with `AuthzLayer` wrapped around the whole router
//!   (`AuthzLayer::layer(router)`) instead of `Router::layer`;
//! - `actix-no-auth`, `actix-reference`, `actix-middleware`: the same through actix-web,
//!   without middleware, with a `wrap_fn` middleware that only puts one shared value into the
//!   request (what any middleware that hands something to handlers costs), and with
//!   `CognitoAuth`;
//! - `authorize-now`: `Authorizer::authorize_now` alone on the same request;
//! - `authorize-now-flushed`: the same with the first-level data cache emptied before each
//!   decision (256 KiB of other data read; only the decision is counted), as the framework's
//!   own work between two requests empties it: its data cache misses are the cache lines one
//!   decision reads, the measure of the memory it touches;
//! - `rsa-verify`, `verify-cold`: a bare aws-lc-rs RSA verify of the token (key parsed once)
//!   and a full verification without the verified-token cache (the shape of
//!   `ratio/verify_cold_per_rsa_verify` in `--bench verify`).

use std::hint::black_box;
use std::sync::Arc;

use actix_web::HttpMessage as _;
use actix_web::dev::{Service as _, ServiceResponse};
use actix_web::test::TestRequest;
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cognito_authz::{Decision, Verifier};
use cognito_authz_axum::AuthzLayer;
use cognito_authz_testkit::LocalIssuer;
use futures_util::FutureExt as _;
use http::{HeaderMap, Method, Request, StatusCode};
use tower::{Layer as _, ServiceExt as _};

#[path = "support/app.rs"]
mod app;
use app::{authorizer, fixture};

async fn ok() -> &'static str {
    "ok"
}

/// What `run` needs, built before counting starts.
struct Fixture {
    issuer: LocalIssuer,
    token: String,
    authorization: String,
}

fn main() {
    let shape = std::env::args().nth(1).unwrap_or_default();
    let count: u64 = std::env::args()
        .nth(2)
        .and_then(|count| count.parse().ok())
        .unwrap_or(1000);
    let (issuer, token) = fixture();
    let authorization = format!("Bearer {token}");
    let fixture = Fixture {
        issuer,
        token,
        authorization,
    };
    match shape.as_str() {
        "axum-no-auth"
        | "axum-identity-layer"
        | "axum-layer"
        | "axum-wrapped-layer"
        | "authorize-now"
        | "authorize-now-flushed" => {
            axum_shape(&fixture, &shape, count);
        }
        "actix-no-auth" | "actix-middleware" | "actix-reference" => {
            actix_shape(&fixture, &shape, count);
        }
        "rsa-verify" | "verify-cold" => verify_shape(&fixture, &shape, count),
        _ => {
            eprintln!(
                "usage: instructions SHAPE COUNT, SHAPE one of axum-no-auth, \
                 axum-identity-layer, axum-layer, axum-wrapped-layer, authorize-now, \
                 authorize-now-flushed, \
                 actix-no-auth, actix-reference, actix-middleware, rsa-verify, verify-cold"
            );
            std::process::exit(2);
        }
    }
}

fn axum_shape(fixture: &Fixture, shape: &str, count: u64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let authorizer = authorizer(&fixture.issuer, true);
    let routes = Router::new().route("/reports/{id}", get(ok));
    let app: Router = match shape {
        "axum-no-auth" | "axum-wrapped-layer" => routes.with_state(()),
        "axum-identity-layer" => routes
            .layer(tower::layer::util::Identity::new())
            .with_state(()),
        _ => routes
            .layer(AuthzLayer::new(authorizer.clone()))
            .with_state(()),
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        fixture.authorization.parse().expect("header"),
    );
    let request = || {
        Request::get("/reports/42")
            .header(http::header::AUTHORIZATION, &fixture.authorization)
            .body(Body::empty())
            .expect("request")
    };
    if shape == "axum-wrapped-layer" {
        let wrapped = AuthzLayer::new(authorizer).layer(app);
        let one = |_| {
            let response = runtime
                .block_on(wrapped.clone().oneshot(request()))
                .expect("infallible");
            assert_eq!(response.status(), StatusCode::OK);
        };
        one(0);
        run(count, one);
        return;
    }
    // Read between two decisions so none of their data is left in the first-level cache.
    let other = vec![1_u8; FLUSH_BYTES];
    let one = |_| {
        if shape == "authorize-now" {
            let decision =
                authorizer.authorize_now(&Method::GET, black_box("/reports/42"), &headers);
            assert!(matches!(decision, Some(Decision::Allow { .. })));
        } else if shape == "authorize-now-flushed" {
            flush(&other);
            let decision = counted(|| {
                authorizer.authorize_now(&Method::GET, black_box("/reports/42"), &headers)
            });
            assert!(matches!(decision, Some(Decision::Allow { .. })));
        } else {
            let response = runtime
                .block_on(app.clone().oneshot(request()))
                .expect("infallible");
            assert_eq!(response.status(), StatusCode::OK);
        }
    };
    one(0);
    run(count, one);
}

fn actix_shape(fixture: &Fixture, shape: &str, count: u64) {
    let system = actix_web::rt::System::new();
    let routes = || actix_web::App::new().route("/reports/{id}", actix_web::web::get().to(ok));
    let request = || {
        TestRequest::get()
            .uri("/reports/42")
            .insert_header((
                actix_web::http::header::AUTHORIZATION,
                black_box(fixture.authorization.as_str()),
            ))
            .to_request()
    };
    if shape == "actix-reference" {
        let value = Arc::new(42_u64);
        let app = system.block_on(actix_web::test::init_service(routes().wrap_fn(
            move |request, service| {
                request.extensions_mut().insert(Arc::clone(&value));
                service.call(request)
            },
        )));
        let one = |_| check(&system.block_on(app.call(request())).expect("response"));
        one(0);
        run(count, one);
    } else if shape == "actix-no-auth" {
        let app = system.block_on(actix_web::test::init_service(routes()));
        let one = |_| check(&system.block_on(app.call(request())).expect("response"));
        one(0);
        run(count, one);
    } else {
        let middleware = cognito_authz_actix::CognitoAuth::new(authorizer(&fixture.issuer, true));
        let app = system.block_on(actix_web::test::init_service(routes().wrap(middleware)));
        let one = |_| check(&system.block_on(app.call(request())).expect("response"));
        one(0);
        run(count, one);
    }
}

fn check<B>(response: &ServiceResponse<B>) {
    assert_eq!(response.status(), actix_web::http::StatusCode::OK);
}

fn verify_shape(fixture: &Fixture, shape: &str, count: u64) {
    let key = fixture.issuer.signing_key();
    let (signing_input, signature) = fixture.token.rsplit_once('.').expect("three segments");
    let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
    let n = URL_SAFE_NO_PAD.decode(key.modulus_base64url()).expect("n");
    let e = URL_SAFE_NO_PAD.decode(key.exponent_base64url()).expect("e");
    let parsed = aws_lc_rs::signature::RsaPublicKeyComponents { n: &n, e: &e }
        .to_parsed_public_key(&aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256)
        .expect("key");
    let verifier: Verifier = authorizer(&fixture.issuer, false).verifier();
    let one = |_| {
        if shape == "rsa-verify" {
            parsed
                .verify_sig(black_box(signing_input.as_bytes()), black_box(&signature))
                .expect("verifies");
        } else {
            verifier
                .verify(black_box(&fixture.token))
                .now_or_never()
                .expect("ready")
                .expect("verifies");
        }
    };
    one(0);
    run(count, one);
}

/// More than any first-level data cache holds.
const FLUSH_BYTES: usize = 256 * 1024;

/// Reads one byte of every cache line of `other`, evicting what was cached before.
#[inline(never)]
fn flush(other: &[u8]) {
    let mut sum = 0_u8;
    for line in other.chunks(64) {
        sum = sum.wrapping_add(line[0]);
    }
    black_box(sum);
}

/// The decision counted by `scripts/count-instructions.sh` in `-flushed` shapes (the flush
/// before it is not).
#[inline(never)]
fn counted<T>(decide: impl FnOnce() -> T) -> T {
    decide()
}

/// The requests counted: `scripts/count-instructions.sh` counts only inside this function.
#[inline(never)]
fn run(count: u64, one: impl Fn(u64)) {
    for i in 0..count {
        one(i);
    }
}
