//! A whole axum request, in-process (`oneshot` on a current-thread runtime), with and without
//! authorization (the targets are in the README's "Performance" section):
//!
//! - `axum/no_auth`: the router with no layer (the floor, ~1.3 µs);
//! - `axum/authz`: `AuthzLayer` + the `Claims` extractor, token in the verified-token cache
//!   (target ≤ 1.25× `no_auth`);
//! - `axum/authz_wrapped`: the same layer wrapped around the whole router
//!   (`AuthzLayer::layer(router)`) instead of `Router::layer`, which saves axum's per-route
//!   boxing of every layer;
//! - `axum/authz_cold`: as `authz` without the verified-token cache (an RSA verify per request);
//! - `axum/peer`: the same route behind `tower-oauth2-resource-server` 0.12 (jsonwebtoken 11,
//!   aws-lc-rs), configured for the same issuer and key, its claims read with `Extension`
//!   (target: `authz_cold` faster than this). `jwt-authorizer` 0.15, the other peer, still
//!   depends on axum 0.7 and so cannot wrap an axum 0.8 router.
//!
//! The same request through actix-web, in-process (`test::init_service` + `call`, many
//! requests per `block_on` of an actix `System`, so the runtime's entry is not measured):
//!
//! - `actix/no_auth`: the app with no middleware (the floor);
//! - `actix/authz`: `CognitoAuth` + the `Claims` extractor, token in the verified-token cache
//!   (target ≤ 1.20× `no_auth`);
//! - `actix/authz_cold`: as `authz` without the verified-token cache (an RSA verify per request);
//! - `actix/peer`: actix-web-httpauth 0.8's `HttpAuthentication::bearer` middleware with a
//!   validator that runs jsonwebtoken 11's `decode` (aws-lc-rs) with a `DecodingKey` built once
//!   from the same RSA key, checking `iss` and `exp`, its claims put in the request extensions
//!   and read with `ReqData` (target: `authz` faster than this; `authz_cold` close to it).
//!
//! The two targets that are ratios to a no-auth floor are also measured as ratios directly,
//! because on a shared machine the floor and the layered app, timed seconds apart, can catch
//! different bursts of other work (±15 % between runs here). Each iteration times 32 requests
//! through the floor, then 32 through the other app, back to back, and reports the quotient
//! (shown as `×`, not as a time), so both sides share every disturbance (`benches/support`):
//!
//! - `ratio/axum_layer_per_no_auth` and `ratio/actix_middleware_per_no_auth`: the targets'
//!   own shape — a minimal handler answering `"ok"` with no extractor, with and without the
//!   layer (middleware), token in the verified-token cache (targets ≤ 1.25× and ≤ 1.20×);
//! - `ratio/axum_wrapped_layer_per_no_auth`: the same `ok` router with `AuthzLayer` wrapped
//!   around it whole (`AuthzLayer::layer(router)`) instead of `Router::layer`;
//! - `ratio/axum_authz_per_no_auth` and `ratio/actix_authz_per_no_auth`: the `Path` + `Claims`
//!   handlers above against the `Path` handler alone: the same, plus reading the claims;
//! - `ratio/axum_reference_layer_per_no_auth` and `ratio/actix_reference_middleware_per_no_auth`:
//!   for scale, a layer (middleware) that does no work at all — it puts one shared value into
//!   the request, which the handler reads with `Extension` (`ReqData`) — against the `Path`
//!   handler alone: what the framework charges any layer that hands something to handlers;
//! - `ratio/axum_step_*_per_no_auth`: one step of a cached request at a time, in a layer that
//!   runs it and throws its result away, against the `ok` route alone: `nothing` (the layer
//!   itself), `floor` (the least work any exact-token cache does: a `matchit` lookup, the
//!   header read, the whole token compared with a stored copy, the clock read),
//!   `route_lookup`, `cached_verify` (the token read from the header and verified from the
//!   verified-token cache, with a UTF-8 check the decision does not make) and `decide`
//!   (`authorize_now`, the whole decision): what each costs inside a request rather than in a
//!   loop of its own;
//! - `ratio/axum_authz_cold_per_peer` and `ratio/actix_authz_cold_per_peer`: likewise, 4
//!   requests through the peer, then 4 through `authz_cold` (target: below 1×).
//!
//! Every request is `GET /reports/42` with the same access token (scope `reports/read`);
//! each iteration asserts the status, so a misconfigured group cannot look fast.
//!
//! Run: `cargo bench -p cognito-authz-benches --bench http -- --warm-up-time 1
//! --measurement-time 3` (add `actix`, `axum` or `ratio` to run one part).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Service as ActixService, ServiceRequest, ServiceResponse};
use actix_web::rt::SystemRunner;
use actix_web::test::TestRequest;
use actix_web::{App, HttpMessage as _, web};
use actix_web_httpauth::extractors::bearer::BearerAuth;
use actix_web_httpauth::middleware::HttpAuthentication;
use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Path};
use axum::response::Response;
use axum::routing::get;
use cognito_authz::CognitoClaims;
use cognito_authz_actix::CognitoAuth;
use cognito_authz_axum::{AuthzLayer, Claims};
use cognito_authz_testkit::LocalIssuer;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use futures_util::FutureExt as _;
use http::{Request, StatusCode};
use std::convert::Infallible;
use tokio::runtime::Runtime;
use tower::{Layer as _, Service, ServiceExt as _};
use tower_oauth2_resource_server::server::OAuth2ResourceServer;
use tower_oauth2_resource_server::tenant::TenantConfiguration;
use tower_oauth2_resource_server::validation::ClaimsValidationSpec;

mod support;
use support::{Ratio, interleaved};
#[path = "support/app.rs"]
mod app;
use app::{authorizer, fixture};

/// Requests per side per iteration of a ratio bench: enough that the clock reads vanish.
const CHUNK: u64 = 32;
/// The same for requests that each verify a signature (~30 µs).
const CHUNK_COLD: u64 = 4;

async fn plain(Path(id): Path<u32>) -> String {
    format!("report {id}")
}

async fn with_claims(Path(id): Path<u32>, Claims(claims): Claims) -> String {
    black_box(&claims);
    format!("report {id}")
}

/// The minimal handler of the layer-only ratios: no extractor, a static body.
async fn ok() -> &'static str {
    "ok"
}

/// The handler behind the reference layer: reads the value it left, as `Claims` reads the token.
async fn with_reference(Path(id): Path<u32>, Extension(value): Extension<Arc<u64>>) -> String {
    black_box(&value);
    format!("report {id}")
}

async fn with_peer_claims(
    Path(id): Path<u32>,
    Extension(claims): Extension<CognitoClaims>,
) -> String {
    black_box(&claims);
    format!("report {id}")
}

/// Every app here is called as `axum::serve` calls it: `with_state(())` turns each route's
/// handler (and its layers) into a service once, where a bare `Router<()>` does it again on
/// every request (axum's `Router::into_make_service` does the same for the same reason).
fn axum_no_auth() -> Router {
    Router::new()
        .route("/reports/{id}", get(plain))
        .with_state(())
}

fn axum_authz(issuer: &LocalIssuer, cache: bool) -> Router {
    Router::new()
        .route("/reports/{id}", get(with_claims))
        .layer(AuthzLayer::new(authorizer(issuer, cache)))
        .with_state(())
}

/// `ok` with and without `AuthzLayer` (cached token): what the layer alone costs.
fn axum_layer_only(issuer: &LocalIssuer) -> (Router, Router) {
    let no_auth = Router::new().route("/reports/{id}", get(ok)).with_state(());
    let layered = Router::new()
        .route("/reports/{id}", get(ok))
        .layer(AuthzLayer::new(authorizer(issuer, true)))
        .with_state(());
    (no_auth, layered)
}

/// A layer that runs one step on each request, then calls the route. A step of the
/// authorization that throws its result away shows what that step costs inside a real
/// request, where the framework's own work between two requests has pushed the step's code
/// and data out of the first-level caches (the `ratio/axum_step_*` benches); the reference
/// layer's step puts one shared value into the request.
#[derive(Clone)]
struct StepLayer<F>(F);

impl<S, F: Clone> tower::Layer<S> for StepLayer<F> {
    type Service = StepService<S, F>;

    fn layer(&self, inner: S) -> StepService<S, F> {
        StepService {
            inner,
            step: self.0.clone(),
        }
    }
}

#[derive(Clone)]
struct StepService<S, F> {
    inner: S,
    step: F,
}

impl<S, F, B> Service<Request<B>> for StepService<S, F>
where
    S: Service<Request<B>>,
    F: Fn(&mut Request<B>),
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> S::Future {
        (self.step)(&mut request);
        self.inner.call(request)
    }
}

/// The `ok` route behind a [`StepLayer`] running `step`.
fn axum_step(step: impl Fn(&mut Request<Body>) + Clone + Send + Sync + 'static) -> Router {
    Router::new()
        .route("/reports/{id}", get(ok))
        .layer(StepLayer(step))
        .with_state(())
}

/// The steps of a cached request, each alone behind a [`StepLayer`]: nothing, the floor
/// (below), the route lookup, the verified-token cache hit (the token read from the header,
/// then verified), and the whole decision (`authorize_now`, the token not put into the
/// request).
///
/// The floor is the least work any authorization with an exact-token cache does on this
/// request, written as plainly as it can be: the path looked up in a `matchit` router of the
/// same three routes (as axum looks it up), the token read from the header and compared whole
/// with one stored copy, and the system clock read for the expiry. No policy, no key check, no
/// bookkeeping.
fn axum_steps(issuer: &LocalIssuer, token: &str) -> [(&'static str, Router); 5] {
    let authorizer = authorizer(issuer, true);
    let routes = authorizer.routes();
    let verifier = authorizer.verifier();
    let stored: Arc<[u8]> = Arc::from(token.as_bytes());
    let mut matcher = matchit::Router::new();
    for (index, pattern) in ["/health", "/admin/{*rest}", "/reports/{id}"]
        .into_iter()
        .enumerate()
    {
        matcher.insert(pattern, index).expect("route");
    }
    let matcher = Arc::new(matcher);
    [
        ("axum_step_nothing_per_no_auth", axum_step(|_| {})),
        (
            "axum_step_floor_per_no_auth",
            axum_step(move |request| {
                let route = matcher.at(request.uri().path()).map(|found| *found.value);
                assert_eq!(route, Ok(2));
                let value = request.headers()[http::header::AUTHORIZATION].as_bytes();
                let raw = value.strip_prefix(b"Bearer ").expect("bearer token");
                assert!(*raw == *stored);
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("clock after 1970");
                assert!(now.as_secs() < 4_000_000_000);
            }),
        ),
        (
            "axum_step_route_lookup_per_no_auth",
            axum_step(move |request| {
                let found = routes.matches(request.method(), request.uri().path().into());
                black_box(found.primary().pattern());
            }),
        ),
        (
            "axum_step_cached_verify_per_no_auth",
            axum_step(move |request| {
                // `from_utf8` (vectorised) rather than `HeaderValue::to_str`, which checks the
                // kilobyte byte by byte: the decision reads the header's bytes as they are.
                let value = request.headers()[http::header::AUTHORIZATION].as_bytes();
                let token = std::str::from_utf8(value)
                    .ok()
                    .and_then(|value| value.strip_prefix("Bearer "))
                    .expect("bearer token");
                let verified = verifier.verify(token).now_or_never().expect("cached");
                assert!(verified.is_ok());
            }),
        ),
        (
            "axum_step_decide_per_no_auth",
            axum_step(move |request| {
                let decision = authorizer.authorize_now(
                    request.method(),
                    request.uri().path(),
                    request.headers(),
                );
                assert!(matches!(
                    decision,
                    Some(cognito_authz::Decision::Allow { .. })
                ));
            }),
        ),
    ]
}

/// The reference layer: it puts one shared value into the request and calls the route, and
/// the handler reads it back with `Extension`. What any layer that hands a value to handlers
/// costs in axum, before it does any work of its own.
fn axum_reference() -> Router {
    let value = Arc::new(42_u64);
    Router::new()
        .route("/reports/{id}", get(with_reference))
        .layer(StepLayer(move |request: &mut Request<Body>| {
            request.extensions_mut().insert(Arc::clone(&value));
        }))
        .with_state(())
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

/// The same route behind tower-oauth2-resource-server, configured for the same issuer and key.
fn axum_peer(runtime: &Runtime, issuer: &LocalIssuer) -> Router {
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
    Router::new()
        .route("/reports/{id}", get(with_peer_claims))
        .layer(peer_server.into_layer())
        .with_state(())
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn http(c: &mut Criterion) {
    let runtime = runtime();
    let (issuer, token) = fixture();

    let no_auth = axum_no_auth();
    let authz = axum_authz(&issuer, true);
    let authz_wrapped = AuthzLayer::new(authorizer(&issuer, true)).layer(
        Router::new()
            .route("/reports/{id}", get(with_claims))
            .with_state(()),
    );
    let authz_cold = axum_authz(&issuer, false);

    let peer = axum_peer(&runtime, &issuer);

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

async fn actix_plain(id: web::Path<u32>) -> String {
    format!("report {id}")
}

async fn actix_with_claims(
    id: web::Path<u32>,
    cognito_authz_actix::Claims(claims): cognito_authz_actix::Claims,
) -> String {
    black_box(&claims);
    format!("report {id}")
}

async fn actix_with_peer_claims(id: web::Path<u32>, claims: web::ReqData<CognitoClaims>) -> String {
    black_box(&*claims);
    format!("report {id}")
}

async fn actix_ok() -> &'static str {
    "ok"
}

async fn actix_with_reference(id: web::Path<u32>, value: web::ReqData<Arc<u64>>) -> String {
    black_box(&*value);
    format!("report {id}")
}

/// `actix_ok` with and without `CognitoAuth` (cached token): what the middleware alone costs.
macro_rules! actix_layer_only {
    ($system:expr, $issuer:expr) => {
        (
            $system.block_on(actix_web::test::init_service(
                App::new().route("/reports/{id}", web::get().to(actix_ok)),
            )),
            $system.block_on(actix_web::test::init_service(
                App::new()
                    .wrap(CognitoAuth::new(authorizer(&$issuer, true)))
                    .route("/reports/{id}", web::get().to(actix_ok)),
            )),
        )
    };
}

/// The reference middleware: it puts one shared value into the request and calls the route,
/// and the handler reads it back with `ReqData` — what any middleware that hands a value to
/// handlers costs in actix-web, before it does any work of its own.
macro_rules! actix_reference {
    ($system:expr) => {{
        let value = Arc::new(42_u64);
        $system.block_on(actix_web::test::init_service(
            App::new()
                .wrap_fn(move |request, service| {
                    request.extensions_mut().insert(Arc::clone(&value));
                    service.call(request)
                })
                .route("/reports/{id}", web::get().to(actix_with_reference)),
        ))
    }};
}

/// What the peer's validator needs, built once: jsonwebtoken's key and rules.
struct PeerKeys {
    key: jsonwebtoken::DecodingKey,
    validation: jsonwebtoken::Validation,
}

/// The route with no middleware (a macro, as is every actix app here: the service type
/// `init_service` returns cannot be named).
macro_rules! actix_no_auth {
    ($system:expr) => {
        $system.block_on(actix_web::test::init_service(
            App::new().route("/reports/{id}", web::get().to(actix_plain)),
        ))
    };
}

/// The route behind `CognitoAuth`, with or without the verified-token cache.
macro_rules! actix_authz {
    ($system:expr, $issuer:expr, $cache:expr) => {
        $system.block_on(actix_web::test::init_service(
            App::new()
                .wrap(CognitoAuth::new(authorizer(&$issuer, $cache)))
                .route("/reports/{id}", web::get().to(actix_with_claims)),
        ))
    };
}

/// The same route behind actix-web-httpauth's bearer middleware, whose validator runs
/// jsonwebtoken's `decode` with a key built once from the issuer's.
macro_rules! actix_peer {
    ($system:expr, $issuer:expr) => {{
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
        let signing_key = $issuer.signing_key();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_issuer(&[$issuer.iss()]);
        let keys = Arc::new(PeerKeys {
            key: jsonwebtoken::DecodingKey::from_rsa_components(
                &signing_key.modulus_base64url(),
                &signing_key.exponent_base64url(),
            )
            .expect("peer key"),
            validation,
        });
        let validator = move |request: ServiceRequest, credentials: BearerAuth| {
            let keys = Arc::clone(&keys);
            async move {
                match jsonwebtoken::decode::<CognitoClaims>(
                    credentials.token(),
                    &keys.key,
                    &keys.validation,
                ) {
                    Ok(data) => {
                        request.extensions_mut().insert(data.claims);
                        Ok(request)
                    }
                    Err(_) => Err((
                        actix_web::error::ErrorUnauthorized("invalid token"),
                        request,
                    )),
                }
            }
        };
        $system.block_on(actix_web::test::init_service(
            App::new()
                .wrap(HttpAuthentication::bearer(validator))
                .route("/reports/{id}", web::get().to(actix_with_peer_claims)),
        ))
    }};
}

/// Runs `iters` requests inside one `block_on` and returns their time; `to_request` is
/// `TestRequest::to_request` (it names actix-http's request type for us).
fn bench_actix<S, R, B>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    system: &SystemRunner,
    name: &str,
    app: &S,
    to_request: fn(TestRequest) -> R,
    token: &str,
) where
    S: ActixService<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let authorization = format!("Bearer {token}");
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            system.block_on(actix_requests(name, app, to_request, &authorization, iters))
        });
    });
}

/// Times `count` requests through an actix service (inside the caller's `block_on`).
async fn actix_requests<S, R, B>(
    name: &str,
    app: &S,
    to_request: fn(TestRequest) -> R,
    authorization: &str,
    count: u64,
) -> Duration
where
    S: ActixService<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let start = Instant::now();
    for _ in 0..count {
        let request = to_request(TestRequest::get().uri("/reports/42").insert_header((
            actix_web::http::header::AUTHORIZATION,
            black_box(authorization),
        )));
        let response = app.call(request).await.expect("no service error");
        assert_eq!(
            response.status(),
            actix_web::http::StatusCode::OK,
            "{name}: {:?}",
            response.headers()
        );
    }
    start.elapsed()
}

fn actix(c: &mut Criterion) {
    let system = actix_web::rt::System::new();
    let (issuer, token) = fixture();

    let no_auth = actix_no_auth!(system);
    let authz = actix_authz!(system, issuer, true);
    let authz_cold = actix_authz!(system, issuer, false);

    let peer = actix_peer!(system, issuer);

    let mut group = c.benchmark_group("actix");
    bench_actix(
        &mut group,
        &system,
        "no_auth",
        &no_auth,
        TestRequest::to_request,
        &token,
    );
    bench_actix(
        &mut group,
        &system,
        "authz",
        &authz,
        TestRequest::to_request,
        &token,
    );
    bench_actix(
        &mut group,
        &system,
        "authz_cold",
        &authz_cold,
        TestRequest::to_request,
        &token,
    );
    bench_actix(
        &mut group,
        &system,
        "peer",
        &peer,
        TestRequest::to_request,
        &token,
    );
    group.finish();
}

/// A ratio bench over two actix apps: each iteration times `$chunk` requests through the
/// first (the baseline), then as many through the second, inside one `block_on`.
macro_rules! actix_ratio {
    ($group:expr, $system:expr, $name:literal, $authorization:expr, $chunk:expr,
     ($floor_name:literal, $floor:expr), ($other_name:literal, $other:expr)) => {
        $group.bench_function($name, |b| {
            b.iter_custom(|iters| {
                interleaved(iters, || {
                    $system.block_on(async {
                        let to_request = TestRequest::to_request;
                        let floor = actix_requests(
                            $floor_name,
                            &$floor,
                            to_request,
                            $authorization,
                            $chunk,
                        )
                        .await;
                        let other = actix_requests(
                            $other_name,
                            &$other,
                            to_request,
                            $authorization,
                            $chunk,
                        )
                        .await;
                        (floor, other)
                    })
                })
            });
        })
    };
}

/// `count` requests through `app`, one `block_on` each (as in `axum/no_auth`), timed.
fn axum_chunk<S>(runtime: &Runtime, token: &str, app: &S, count: u64) -> Duration
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone,
{
    let start = Instant::now();
    for _ in 0..count {
        let response = runtime
            .block_on(app.clone().oneshot(request(black_box(token))))
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
    }
    start.elapsed()
}

/// A ratio bench over two axum apps: each iteration times `count` requests through `floor`,
/// then as many through `other`.
fn axum_ratio_of<F, O>(
    group: &mut BenchmarkGroup<'_, Ratio>,
    runtime: &Runtime,
    token: &str,
    name: &str,
    floor: &F,
    other: &O,
    count: u64,
) where
    F: Service<Request<Body>, Response = Response, Error = Infallible> + Clone,
    O: Service<Request<Body>, Response = Response, Error = Infallible> + Clone,
{
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            interleaved(iters, || {
                (
                    axum_chunk(runtime, token, floor, count),
                    axum_chunk(runtime, token, other, count),
                )
            })
        });
    });
}

fn ratios(c: &mut Criterion<Ratio>) {
    let (issuer, token) = fixture();
    let mut group = c.benchmark_group("ratio");

    let runtime = runtime();
    let (no_auth, authz) = (axum_no_auth(), axum_authz(&issuer, true));
    axum_ratio_of(
        &mut group,
        &runtime,
        &token,
        "axum_authz_per_no_auth",
        &no_auth,
        &authz,
        CHUNK,
    );
    let (floor, layered) = axum_layer_only(&issuer);
    axum_ratio_of(
        &mut group,
        &runtime,
        &token,
        "axum_layer_per_no_auth",
        &floor,
        &layered,
        CHUNK,
    );
    let wrapped = AuthzLayer::new(authorizer(&issuer, true)).layer(floor.clone());
    axum_ratio_of(
        &mut group,
        &runtime,
        &token,
        "axum_wrapped_layer_per_no_auth",
        &floor,
        &wrapped,
        CHUNK,
    );
    axum_ratio_of(
        &mut group,
        &runtime,
        &token,
        "axum_reference_layer_per_no_auth",
        &no_auth,
        &axum_reference(),
        CHUNK,
    );
    for (name, app) in &axum_steps(&issuer, &token) {
        axum_ratio_of(&mut group, &runtime, &token, name, &floor, app, CHUNK);
    }
    let (cold, peer) = (axum_authz(&issuer, false), axum_peer(&runtime, &issuer));
    axum_ratio_of(
        &mut group,
        &runtime,
        &token,
        "axum_authz_cold_per_peer",
        &peer,
        &cold,
        CHUNK_COLD,
    );

    // Many requests per `block_on`, as in `actix/no_auth` and `actix/authz`.
    let system = actix_web::rt::System::new();
    let no_auth = actix_no_auth!(system);
    let authz = actix_authz!(system, issuer, true);
    let authorization = format!("Bearer {token}");
    actix_ratio!(
        group,
        system,
        "actix_authz_per_no_auth",
        &authorization,
        CHUNK,
        ("no_auth", no_auth),
        ("authz", authz)
    );
    let (floor, layered) = actix_layer_only!(system, issuer);
    actix_ratio!(
        group,
        system,
        "actix_middleware_per_no_auth",
        &authorization,
        CHUNK,
        ("ok", floor),
        ("ok_authz", layered)
    );
    let reference = actix_reference!(system);
    actix_ratio!(
        group,
        system,
        "actix_reference_middleware_per_no_auth",
        &authorization,
        CHUNK,
        ("no_auth", no_auth),
        ("reference", reference)
    );
    let cold = actix_authz!(system, issuer, false);
    let peer = actix_peer!(system, issuer);
    actix_ratio!(
        group,
        system,
        "actix_authz_cold_per_peer",
        &authorization,
        CHUNK_COLD,
        ("peer", peer),
        ("authz_cold", cold)
    );
    group.finish();
}

criterion_group!(benches, http, actix);
criterion_group! {
    name = ratio_benches;
    config = Criterion::default().with_measurement(Ratio);
    targets = ratios
}
criterion_main!(benches, ratio_benches);
