//! A whole axum request, in-process (`oneshot` on a current-thread runtime), with and without
//! authorization (DESIGN.md §11):
//!
//! - `axum/no_auth`: the router with no layer (the floor, ~1.3 µs);
//! - `axum/authz`: `AuthzLayer` + the `Claims` extractor, token in the verified-token cache
//!   (target ≤ 1.5× `no_auth`);
//! - `axum/authz_wrapped`: the same layer wrapped around the whole router
//!   (`AuthzLayer::layer(router)`) instead of `Router::layer`, which saves axum's per-route
//!   boxing of every layer;
//! - `axum/authz_cold`: as `authz` without the verified-token cache (an RSA verify per request);
//! - `axum/peer`: the same route behind `tower-oauth2-resource-server` 0.12 (jsonwebtoken 11,
//!   aws-lc-rs), configured for the same issuer and key, its claims read with `Extension`
//!   (target: `authz_cold` faster than this). `jwt-authorizer` 0.15, the other peer, still
//!   depends on axum 0.7 and so cannot wrap an axum 0.8 router.
//!
//! Every request is `GET /reports/42` with the same access token (scope `reports/read`);
//! each iteration asserts the status, so a misconfigured group cannot look fast.
//!
//! Run: `cargo bench --bench http -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Path};
use axum::response::Response;
use axum::routing::get;
use cognito_authz::{AcceptedTokenUse, Authorizer, CognitoClaims, Policy};
use cognito_authz_axum::{AuthzLayer, Claims};
use cognito_authz_testkit::LocalIssuer;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use http::{Method, Request, StatusCode};
use std::convert::Infallible;
use tokio::runtime::Runtime;
use tower::{Layer as _, Service, ServiceExt as _};
use tower_oauth2_resource_server::server::OAuth2ResourceServer;
use tower_oauth2_resource_server::tenant::TenantConfiguration;
use tower_oauth2_resource_server::validation::ClaimsValidationSpec;

async fn plain(Path(id): Path<u32>) -> String {
    format!("report {id}")
}

async fn with_claims(Path(id): Path<u32>, Claims(claims): Claims) -> String {
    black_box(&claims);
    format!("report {id}")
}

async fn with_peer_claims(
    Path(id): Path<u32>,
    Extension(claims): Extension<CognitoClaims>,
) -> String {
    black_box(&claims);
    format!("report {id}")
}

fn authorizer(issuer: &LocalIssuer, cache: bool) -> Authorizer {
    let mut verifier = issuer.verifier_builder(AcceptedTokenUse::Access);
    if cache {
        verifier = verifier.verified_token_cache(1024);
    }
    Authorizer::builder()
        .verifier(verifier.build().expect("verifier"))
        .route("/health", Policy::public())
        .route("/admin/{*rest}", "group:admin".parse().expect("policy"))
        .route_methods(
            [Method::GET],
            "/reports/{id}",
            "scope:reports/read".parse().expect("policy"),
        )
        .build()
        .expect("authorizer")
}

fn request(token: &str) -> Request<Body> {
    Request::get("/reports/42")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request")
}

fn bench_router<S>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    runtime: &Runtime,
    name: &str,
    app: &S,
    token: &str,
) where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone,
{
    group.bench_function(name, |b| {
        b.iter(|| {
            let response = runtime
                .block_on(app.clone().oneshot(request(black_box(token))))
                .expect("infallible");
            assert_eq!(
                response.status(),
                StatusCode::OK,
                "{name}: {:?}",
                response.headers()
            );
        });
    });
}

fn http(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // System clock: the peer checks `exp` against it.
    let issuer = LocalIssuer::builder()
        .system_clock()
        .offline()
        .expect("issuer");
    let token = issuer
        .access_token()
        .username("alice")
        .groups(["staff"])
        .scopes(["openid", "reports/read"])
        .sign();

    let no_auth = Router::new().route("/reports/{id}", get(plain));
    let authz = Router::new()
        .route("/reports/{id}", get(with_claims))
        .layer(AuthzLayer::new(authorizer(&issuer, true)));
    let authz_wrapped = AuthzLayer::new(authorizer(&issuer, true))
        .layer(Router::new().route("/reports/{id}", get(with_claims)));
    let authz_cold = Router::new()
        .route("/reports/{id}", get(with_claims))
        .layer(AuthzLayer::new(authorizer(&issuer, false)));

    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    let iss = issuer.iss();
    let tenant = TenantConfiguration::static_builder(issuer.jwks_json())
        .identifier(&iss)
        // Cognito tokens carry no `nbf`, so it is not required here.
        .claims_validation(ClaimsValidationSpec::new().iss(&iss).exp(true))
        .build()
        .expect("peer tenant");
    let peer_server = runtime
        .block_on(
            OAuth2ResourceServer::<CognitoClaims>::builder()
                .add_tenant(tenant)
                .build(),
        )
        .expect("peer server");
    let peer = Router::new()
        .route("/reports/{id}", get(with_peer_claims))
        .layer(peer_server.into_layer());

    let mut group = c.benchmark_group("axum");
    bench_router(&mut group, &runtime, "no_auth", &no_auth, &token);
    bench_router(&mut group, &runtime, "authz", &authz, &token);
    bench_router(
        &mut group,
        &runtime,
        "authz_wrapped",
        &authz_wrapped,
        &token,
    );
    bench_router(&mut group, &runtime, "authz_cold", &authz_cold, &token);
    bench_router(&mut group, &runtime, "peer", &peer, &token);
    group.finish();
}

criterion_group!(benches, http);
criterion_main!(benches);
