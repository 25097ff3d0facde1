//! Attacks on the stage stripping (`StagePath::Strip`) behind lambda_http, with an axum router
//! placed as the README advises for a named stage ("nest an axum router under `/prod`"): the
//! layer around the whole router, or inside the nest. REST (payload 1.0) and HTTP API (2.0)
//! events on stage `prod`, whose paths (REST `path`, HTTP API `rawPath`) are spelled every way
//! in `lambda_attack_common::spellings`: the stage repeated, in another case, encoded, behind
//! dot and empty segments (lambda_http's `Url::parse` resolves `.`/`..` and `%2e%2e`), and so
//! on. Events are converted by lambda_http itself. The rule, for every request: a handler ran
//! ⇒ the caller satisfies the policy of that handler's route.
//!
//! Run without `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` (the other file sets it).
//! This file builds with the crate's `axum` feature off (the README's lambda_http features)
//! and on (`--features lambda-http,axum`): the layer then reads axum's `OriginalUri`.

mod lambda_attack_common;

use axum::Router;
use cognito_authz_tower::AuthzLayer;
use lambda_attack_common::{Caller, Fixture, Kind, assert_attack_holds, attack, event, send};

fn no_ignore_stage() {
    assert!(
        std::env::var_os("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH").is_none(),
        "run without AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH"
    );
}

/// The README's shape: `Router::new().nest("/prod", app).layer(layer)`.
#[tokio::test]
async fn nested_under_the_stage_with_the_layer_around_the_router() {
    sweep("nest_outer", |layer| {
        Router::new()
            .nest("/prod", lambda_attack_common::app())
            .layer(layer)
    })
    .await;
}

/// A router nested under a stage *parameter*, `Router::new().nest("/{stage}", app).layer(layer)`
/// (the docs say to nest under the stage's own name): the router takes off whatever first
/// segment comes, while the layer takes off only the stage. It holds because the path as sent
/// decides too: see `dot_segments_resolved_by_lambda_http_take_the_stage_out_of_the_path`.
#[tokio::test]
async fn nested_under_a_stage_parameter_with_the_layer_around_the_router() {
    sweep("nest_param", |layer| {
        Router::new()
            .nest("/{stage}", lambda_attack_common::routes())
            .layer(layer)
    })
    .await;
}

/// The exact request. HTTP API on stage `prod`, `rawPath` `/prod/%2e%2e/public/admin/x` (what
/// API Gateway passes for a client's `GET /prod/%2e%2e/public/admin/x`; REST: `path`
/// `/../public/admin/x`). lambda_http builds its URI with `Url::parse`, which resolves `%2e%2e`
/// like `..`: the URI path is `/public/admin/x`, the stage gone. The layer finds no stage in
/// front, so the URI reads `/public/admin/x` (`/public/{*rest}`, public); the router nested
/// under `/{stage}` takes `public` for the stage and runs `/admin/{*rest}` (group `admin`) for
/// a caller without a token, unless the path as sent (lambda_http's `RawHttpPath`) decides too:
/// it keeps the `..`, which the core refuses with 400, encoded or not.
#[tokio::test]
async fn dot_segments_resolved_by_lambda_http_take_the_stage_out_of_the_path() {
    no_ignore_stage();
    let fixture = Fixture::new();
    let router = Router::new()
        .nest("/{stage}", lambda_attack_common::routes())
        .layer(fixture.layer.clone());
    for (kind, path) in [
        (Kind::Http, "/prod/%2e%2e/public/admin/x"),
        (Kind::Http, "/prod/../public/admin/x"),
        (Kind::Rest, "/%2e%2e/public/admin/x"),
        (Kind::Rest, "/../public/admin/x"),
    ] {
        let outcome = send(&router, &event(kind, "GET", path, None))
            .await
            .expect("event");
        assert_eq!(outcome.uri_path, "/public/admin/x", "{kind:?} {path}");
        assert_ne!(
            outcome.route.as_deref(),
            Some("admin"),
            "{kind:?} {path}: /admin/{{*rest}} ran without a token: {outcome:?}"
        );
        // What the core does with the client's path when it sees it: 400 for a `..` segment.
        assert_eq!(outcome.status, 400, "{kind:?} {path}: {outcome:?}");
    }
}

/// The layer on the nested router: `Router::new().nest("/prod", app.layer(layer))`. Without
/// the crate's `axum` feature (the README's lambda_http features are `tower` and
/// `lambda-http`) the layer sees the path axum's nest already took `/prod` off, and takes a
/// stage off again; the path as sent, which decides too, holds it to the route axum runs: see
/// the two focused tests below.
#[tokio::test]
async fn nested_under_the_stage_with_the_layer_inside_the_nest() {
    sweep("nest_inner", |layer| {
        Router::new().nest("/prod", lambda_attack_common::app().layer(layer))
    })
    .await;
}

/// The layer on the routes only: `nest("/prod", app.route_layer(layer))`. Same attacks as
/// on the layer inside the nest without the `axum` feature.
#[tokio::test]
async fn nested_under_the_stage_with_the_layer_on_the_routes() {
    no_ignore_stage();
    let fixture = Fixture::new();
    let router = Router::new().nest(
        "/prod",
        lambda_attack_common::app().route_layer(fixture.layer.clone()),
    );
    let (broken, _ran) = attack(
        &fixture,
        "nest_route_layer",
        &router,
        &[Kind::Rest, Kind::Http],
    )
    .await;
    // The fallback is outside a route layer (not guarded by design): leave it out.
    let broken: Vec<_> = broken
        .into_iter()
        .filter(|line| !line.contains("route fallback ran"))
        .collect();
    assert!(
        broken.is_empty(),
        "{} broken:\n{}",
        broken.len(),
        broken.join("\n")
    );
}

/// The stage taken off twice. A REST API on stage `prod` (execute-api domain), the client asks
/// for `/prod/prod/prod/edit` (or `/prod/prod/edit` through a custom domain): API Gateway's
/// `path` is `/prod/prod/edit`, lambda_http leaves a path that
/// starts with the stage as it is (URI `/prod/prod/edit`), axum's nest takes `/prod` off and
/// dispatches `/{page}/edit` (admin only) with `page = "prod"`; the layer inside the nest sees
/// `/prod/edit` and, without the `axum` feature, takes the stage off again: `/edit`, which the
/// table gives to `/{page}` (public). The HTTP API is the same with `rawPath`
/// `/prod/prod/edit`. The path as sent, the stage taken off once, is `/prod/edit`: it decides
/// too, so the admin-only route's policy applies.
#[tokio::test]
async fn a_layer_inside_the_stage_nest_takes_the_stage_off_once() {
    no_ignore_stage();
    let fixture = Fixture::new();
    let router = Router::new().nest(
        "/prod",
        lambda_attack_common::app().layer(fixture.layer.clone()),
    );
    let cases = [
        (Kind::Rest, "/prod/prod/edit"),
        (Kind::Http, "/prod/prod/edit"),
    ];
    page_edit_never_runs(&fixture, &router, &cases, "/prod/prod/edit").await;
}

/// Sends each of `cases` without a token and as a plain user through `router`, whose URI
/// lambda_http builds as `uri_path`: the admin-only `/{page}/edit` never runs.
async fn page_edit_never_runs(
    fixture: &Fixture,
    router: &Router,
    cases: &[(Kind, &str)],
    uri_path: &str,
) {
    for &(kind, path) in cases {
        for caller in [Caller::Anonymous, Caller::User] {
            let authorization = fixture.authorization(caller);
            let outcome = send(router, &event(kind, "GET", path, authorization.as_deref()))
                .await
                .expect("event");
            assert_eq!(outcome.uri_path, uri_path);
            assert_ne!(
                outcome.route.as_deref(),
                Some("page_edit"),
                "{kind:?} {path} as {caller:?}: the admin-only /{{page}}/edit ran: {outcome:?}"
            );
        }
    }
}

/// An empty segment after the stage. REST `path` `//edit` (or `/prod//edit`; HTTP API `rawPath`
/// `/prod//edit`): lambda_http builds `/prod//edit`; axum's nest matches it to
/// `/prod/{page}/edit` with an empty `page` and hands the inner router `/edit` (its prefix
/// stripping collapses the empty segment). The layer inside the nest, without the `axum`
/// feature, reads `/edit`: `/{page}`, public; the path as sent, `//edit` once the stage is off,
/// brings in `/{page}/edit` with an empty `page`, as axum read it. (Outside lambda_http, a
/// layer inside any nest reads the URI the nest rewrote: use the `axum` feature there.)
#[tokio::test]
async fn a_layer_inside_the_stage_nest_decides_an_empty_segment_as_routed() {
    no_ignore_stage();
    let fixture = Fixture::new();
    let router = Router::new().nest(
        "/prod",
        lambda_attack_common::app().layer(fixture.layer.clone()),
    );
    let cases = [
        (Kind::Rest, "//edit"),
        (Kind::Rest, "/prod//edit"),
        (Kind::Http, "/prod//edit"),
    ];
    page_edit_never_runs(&fixture, &router, &cases, "/prod//edit").await;
}

/// The README's first advice, "route on `lambda_policy_path(&request)`", with an axum router:
/// a `map_request` in front of the router sets the request's path to
/// `lambda_policy_path(&request)` (the stage taken off, as the policy sees it), and the layer
/// is on the router. The layer takes the stage off the rewritten path a second time: the
/// client's `/prod/prod/edit` (HTTP API `rawPath`; REST `path` `/prod/prod/edit`) is routed as
/// `/prod/edit`, which is `/{page}/edit` (admin only), and read as `/edit`, which is `/{page}`
/// (public). With or without the `axum` feature (axum's `OriginalUri` is recorded by the
/// router, after the rewrite). The path as sent, the stage taken off once, is `/prod/edit`,
/// and decides too.
#[tokio::test]
async fn a_router_on_the_policy_path_has_the_stage_taken_off_once() {
    no_ignore_stage();
    let fixture = Fixture::new();
    let router = lambda_attack_common::app().layer(fixture.layer.clone());
    let rewritten = tower::ServiceBuilder::new()
        .map_request(|mut request: http::Request<lambda_http::Body>| {
            let path = cognito_authz_tower::lambda_policy_path(&request).to_owned();
            let mut parts = request.uri().clone().into_parts();
            let query = parts
                .path_and_query
                .as_ref()
                .and_then(|pq| pq.query())
                .map(|query| format!("?{query}"))
                .unwrap_or_default();
            parts.path_and_query = Some(format!("{path}{query}").parse().expect("path"));
            *request.uri_mut() = http::Uri::from_parts(parts).expect("uri");
            request
        })
        .service(router);
    // The plain requests work.
    for (kind, path, caller, status, route) in [
        (Kind::Rest, "/admin/x", Caller::Admin, 200, Some("admin")),
        (Kind::Rest, "/admin/x", Caller::User, 403, None),
        (
            Kind::Http,
            "/prod/about",
            Caller::Anonymous,
            200,
            Some("page"),
        ),
        (Kind::Http, "/prod/about/edit", Caller::User, 403, None),
    ] {
        let authorization = fixture.authorization(caller);
        let json = event(kind, "GET", path, authorization.as_deref());
        let request = lambda_http::request::from_str(&json).expect("event");
        let response = tower::ServiceExt::oneshot(rewritten.clone(), request)
            .await
            .expect("infallible");
        let ran = response
            .headers()
            .get("x-route")
            .map(|v| v.to_str().expect("ascii").to_owned());
        assert_eq!(
            (response.status().as_u16(), ran.as_deref()),
            (status, route),
            "{kind:?} {path} as {caller:?}"
        );
    }
    for (kind, path) in [
        (Kind::Rest, "/prod/prod/edit"),
        (Kind::Http, "/prod/prod/edit"),
    ] {
        for caller in [Caller::Anonymous, Caller::User] {
            let authorization = fixture.authorization(caller);
            let json = event(kind, "GET", path, authorization.as_deref());
            let request = lambda_http::request::from_str(&json).expect("event");
            let response = tower::ServiceExt::oneshot(rewritten.clone(), request)
                .await
                .expect("infallible");
            let ran = response
                .headers()
                .get("x-route")
                .map(|v| v.to_str().expect("ascii").to_owned());
            assert_ne!(
                ran.as_deref(),
                Some("page_edit"),
                "{kind:?} {path} as {caller:?}: the admin-only /{{page}}/edit ran ({})",
                response.status()
            );
        }
    }
}

/// The sanity requests, then every attack, through the router `build` makes around a layer.
async fn sweep(shape: &str, build: impl FnOnce(AuthzLayer) -> Router) {
    no_ignore_stage();
    let fixture = Fixture::new();
    let router = build(fixture.layer.clone());
    sanity(&fixture, &router).await;
    assert_attack_holds(&fixture, shape, &router, &[Kind::Rest, Kind::Http]).await;
}

/// Requests that must reach their handler or be refused, so a router that refuses everything
/// (or lets everyone in) cannot pass.
async fn sanity(fixture: &Fixture, router: &Router) {
    let cases = [
        (Kind::Rest, "/admin/x", Caller::Admin, 200, Some("admin")),
        (Kind::Rest, "/admin/x", Caller::User, 403, None),
        (Kind::Rest, "/admin/x", Caller::Anonymous, 401, None),
        (
            Kind::Rest,
            "/health",
            Caller::Anonymous,
            200,
            Some("health"),
        ),
        (
            Kind::Http,
            "/prod/admin/x",
            Caller::Admin,
            200,
            Some("admin"),
        ),
        (Kind::Http, "/prod/admin/x", Caller::User, 403, None),
        (Kind::Http, "/prod/users/7", Caller::User, 200, Some("user")),
    ];
    for (kind, path, caller, status, route) in cases {
        let authorization = fixture.authorization(caller);
        let outcome = send(router, &event(kind, "GET", path, authorization.as_deref()))
            .await
            .expect("lambda_http takes the event");
        assert_eq!(
            (outcome.status, outcome.route.as_deref()),
            (status, route),
            "{kind:?} {path} as {caller:?}: {outcome:?}"
        );
    }
}

/// The layer's half of crates/lambda/tests/front_door_paths.rs: HTTP API `rawPath`s holding
/// what a URL parser reads as syntax (if API Gateway delivers `rawPath` percent-decoded,
/// `%5C`, `%09`, `%23`, `%20` arrive as `\`, a tab, `#`, a space) and a `rawPath` equal to the
/// stage. lambda_http's URI is `/prod/admin/x` or `/prod/admin` (the admin-only handler) and
/// `/prod/prod` for `/prod`: the layer, reading the same, refuses an anonymous caller the admin
/// handler, and decides `/prod` (not `/`) for `rawPath` `/prod`. The Lambda authorizer, which
/// the same requests reach first, refuses the former and decides the latter as `/` and `/prod`.
#[tokio::test]
async fn paths_a_url_parser_reshapes_are_read_by_the_layer_as_lambda_http_routes_them() {
    no_ignore_stage();
    let fixture = Fixture::new();
    let router = Router::new()
        .nest("/prod", lambda_attack_common::app())
        .layer(fixture.layer.clone());
    for (raw, uri_path, policy_path) in [
        ("/prod/admin\\x", "/prod/admin/x", "/admin/x"),
        ("/prod/ad\tmin/x", "/prod/admin/x", "/admin/x"),
        ("/prod/admin#x", "/prod/admin", "/admin"),
        ("/prod/admin ", "/prod/admin", "/admin"),
        ("/prod", "/prod/prod", "/prod"),
    ] {
        let outcome = send(&router, &event(Kind::Http, "GET", raw, None))
            .await
            .expect("lambda_http takes the event");
        assert_eq!(
            (outcome.uri_path.as_str(), outcome.policy_path.as_str()),
            (uri_path, policy_path),
            "{raw:?}: {outcome:?}"
        );
        assert_ne!(
            outcome.route.as_deref(),
            Some("admin"),
            "{raw:?}: {outcome:?}"
        );
    }
}
