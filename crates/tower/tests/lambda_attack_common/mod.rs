//! Shared by `lambda_stage_attacks.rs` and `lambda_ignore_stage_attacks.rs`: API Gateway events
//! for stage `prod` built from the lambda fixtures, converted by lambda_http itself
//! (`lambda_http::request::from_str`), sent through an axum router with `AuthzLayer`; every
//! handler answers with its route name in `x-route`, and a table maps each route name to the
//! policy its author wrote for it. The one assertion: a handler ran ⇒ the caller satisfies
//! that handler's policy.
#![allow(dead_code)]

use std::path::Path;

use axum::Router;
use axum::routing::{any, get};
use cognito_authz_test_support::contract;
use cognito_authz_test_support::policy::PolicyText;
use cognito_authz_testkit::LocalIssuer;
use cognito_authz_tower::AuthzLayer;
use serde_json::{Value, json};
use tower::ServiceExt as _;

pub(crate) const STAGE: &str = "prod";

/// Who calls, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Caller {
    Anonymous,
    User,
    Admin,
}

pub(crate) const CALLERS: [Caller; 3] = [Caller::Anonymous, Caller::User, Caller::Admin];

/// The policy each route's author wrote, as the weakest caller it lets in.
pub(crate) fn needs(route: &str) -> Caller {
    match route {
        // The fallback is the 404 handler: which policy covers a path no route takes is the
        // table's business (`/public/` is `/public/{*rest}`'s for the table, no route's for
        // axum), so it is not judged here.
        "health" | "public" | "page" | "fallback" => Caller::Anonymous,
        "user" => Caller::User,
        "admin" | "user_delete" | "page_edit" => Caller::Admin,
        other => panic!("unknown route {other}"),
    }
}

/// The route table: written as the API's routes are, without the stage.
pub(crate) fn policy_text() -> String {
    PolicyText::new()
        .unmatched("authenticated")
        .route("/health", "public")
        .route("/public/{*rest}", "public")
        .route("/admin/{*rest}", "group:admin")
        .route("/users/{id}", "authenticated")
        .route("/users/{id}/delete", "group:admin")
        .route("/{page}", "public")
        .route("/{page}/edit", "group:admin")
        .to_string()
}

fn named(name: &'static str) -> axum::response::Response {
    axum::response::Response::builder()
        .header("x-route", name)
        .body(axum::body::Body::from(name))
        .expect("response")
}

/// The application's router, the same routes as the table.
pub(crate) fn app() -> Router {
    routes().fallback(|| async { named("fallback") })
}

/// [`app`] without the fallback (axum refuses a nested fallback under a path parameter).
pub(crate) fn routes() -> Router {
    Router::new()
        .route("/health", get(|| async { named("health") }))
        .route("/public/{*rest}", any(|| async { named("public") }))
        .route("/admin/{*rest}", any(|| async { named("admin") }))
        .route("/users/{id}", any(|| async { named("user") }))
        .route("/users/{id}/delete", any(|| async { named("user_delete") }))
        .route("/{page}", any(|| async { named("page") }))
        .route("/{page}/edit", any(|| async { named("page_edit") }))
}

pub(crate) struct Fixture {
    pub(crate) issuer: LocalIssuer,
    pub(crate) layer: AuthzLayer,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        let issuer = LocalIssuer::offline();
        let authorizer = issuer
            .authorizer(&policy_text())
            .unwrap_or_else(|error| panic!("{error}"));
        Self {
            issuer,
            layer: AuthzLayer::new(authorizer),
        }
    }

    pub(crate) fn authorization(&self, caller: Caller) -> Option<String> {
        match caller {
            Caller::Anonymous => None,
            Caller::User => Some(format!("Bearer {}", contract::user(&self.issuer))),
            Caller::Admin => Some(format!("Bearer {}", contract::admin(&self.issuer))),
        }
    }
}

/// The kinds of event sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// REST API (payload 1.0) on stage `prod`: `path` is the API path, without the stage.
    Rest,
    /// HTTP API (payload 2.0) on stage `prod`: `rawPath` as given (on the execute-api domain
    /// it starts with `/prod`; through a custom domain's API mapping it does not).
    Http,
}

fn fixture_json(name: &str) -> Value {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/lambda")
        .join(name);
    let text = std::fs::read_to_string(&file).expect("fixture");
    serde_json::from_str(&text).expect("fixture JSON")
}

/// The event JSON for `method path` (the REST `path`, or the HTTP API `rawPath` and
/// `requestContext.http.path`, byte for byte) on stage `prod`.
pub(crate) fn event(kind: Kind, method: &str, path: &str, authorization: Option<&str>) -> String {
    let mut event = match kind {
        Kind::Rest => {
            let mut event = fixture_json("example-apigw-request.json");
            event["path"] = json!(path);
            event["httpMethod"] = json!(method);
            event["requestContext"]["stage"] = json!(STAGE);
            event["requestContext"]["path"] = json!(format!("/{STAGE}{path}"));
            event["requestContext"]["httpMethod"] = json!(method);
            event["queryStringParameters"] = Value::Null;
            event["multiValueQueryStringParameters"] = Value::Null;
            event
        }
        Kind::Http => {
            let mut event = fixture_json("apigw_v2_proxy_request_with_stage_in_path.json");
            event["rawPath"] = json!(path);
            event["routeKey"] = json!("$default");
            event["requestContext"]["stage"] = json!(STAGE);
            event["requestContext"]["http"]["path"] = json!(path);
            event["requestContext"]["http"]["method"] = json!(method);
            event["body"] = Value::Null;
            event
        }
    };
    cognito_authz_test_support::responses::set_event_authorization(&mut event, authorization);
    event.to_string()
}

/// What one request did.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) uri_path: String,
    pub(crate) policy_path: String,
    pub(crate) status: u16,
    pub(crate) route: Option<String>,
}

/// Converts `json` as lambda_http does and sends it through `router`. `None` when lambda_http
/// itself refuses or panics on the event (not the layer's business).
pub(crate) async fn send(router: &Router, json: &str) -> Option<Outcome> {
    let json = json.to_owned();
    let request = std::panic::catch_unwind(move || lambda_http::request::from_str(&json))
        .ok()?
        .ok()?;
    let uri_path = request.uri().path().to_owned();
    let policy_path = cognito_authz_tower::lambda_policy_path(&request).to_owned();
    let response = router.clone().oneshot(request).await.expect("infallible");
    let route = response
        .headers()
        .get("x-route")
        .map(|value| value.to_str().expect("ascii").to_owned());
    Some(Outcome {
        uri_path,
        policy_path,
        status: response.status().as_u16(),
        route,
    })
}

/// API paths (REST `path`, HTTP API `rawPath`) built from `base` (an API route path such as
/// `/admin/x`): with and without the stage, the stage repeated, in another case, encoded,
/// behind empty, dot and dot-dot segments (plain and encoded), behind another route's prefix.
pub(crate) fn spellings(base: &str) -> Vec<String> {
    let tail = &base[1..];
    let mut out = vec![
        base.to_owned(),
        format!("/prod{base}"),
        format!("/prod/prod{base}"),
        format!("/PROD{base}"),
        format!("/Prod{base}"),
        format!("/pr%6Fd{base}"),
        format!("/pr%6fd{base}"),
        format!("/prod/{base}"),
        format!("/{base}"),
        format!("//prod{base}"),
        format!("/prod/.{base}"),
        format!("/prod/%2e{base}"),
        format!("/prod/..{base}"),
        format!("/prod/%2e%2e{base}"),
        format!("/prod/%2E%2E{base}"),
        format!("/prod/.%2e{base}"),
        format!("/..{base}"),
        format!("/%2e%2e{base}"),
        format!("/../prod{base}"),
        format!("/%2e%2e/prod{base}"),
        format!("/./prod{base}"),
        format!("/%2e/prod{base}"),
        format!("/prod%2f{tail}"),
        format!("/prod%2F{tail}"),
        format!("/prod;x{base}"),
        format!("/prod/public/..{base}"),
        format!("/prod/public/%2e%2e{base}"),
        format!("/prod/public/..%2f{tail}"),
        format!("/public/..{base}"),
        format!("/public/%2e%2e{base}"),
        format!("/public/%2e%2e/prod{base}"),
        format!("/public/../prod{base}"),
        format!("/prod/public/x/../..{base}"),
        format!("/prod/health/..{base}"),
        format!("/prod\\{tail}"),
        format!("/prod{base}/."),
        format!("/prod{base}/.."),
        format!("/prod{base}/%2e%2e"),
        format!("/prod{base}%2f..%2fdelete"),
        format!("/prod{base}/../delete"),
        format!("/prod{base}/%2e%2e/7/delete"),
        format!("/prod{base}?x=/admin/y"),
        format!("/prod{base}#/admin/y"),
        format!("/prod%00{base}"),
        format!("/prod%20{base}"),
        format!("/prod {base}"),
        format!("/prod\t{base}"),
    ];
    out.sort();
    out.dedup();
    out
}

/// Every API path tried.
pub(crate) fn all_paths() -> Vec<String> {
    let mut paths = vec![
        String::new(),
        "/".into(),
        "/prod".into(),
        "/prod/".into(),
        "/prod/prod".into(),
        "/prod/.".into(),
        "/prod/..".into(),
        "/prod/%2e%2e".into(),
        "/..".into(),
    ];
    for base in [
        "/health",
        "/public/x",
        "/admin/x",
        "/users/7",
        "/users/7/delete",
        "/other",
        "/edit",
        "/about/edit",
        "/public/admin/x",
        "/public/about/edit",
    ] {
        paths.extend(spellings(base));
    }
    paths.sort();
    paths.dedup();
    paths
}

/// Sends every path of every kind from every caller through `router`; the lines that broke
/// the rule, and how many handlers ran at all.
pub(crate) async fn attack(
    fixture: &Fixture,
    shape: &str,
    router: &Router,
    kinds: &[Kind],
) -> (Vec<String>, usize) {
    let mut broken = Vec::new();
    let mut ran = 0;
    for kind in kinds {
        for path in all_paths() {
            for method in ["GET", "POST", "HEAD"] {
                for caller in CALLERS {
                    let authorization = fixture.authorization(caller);
                    let json = event(*kind, method, &path, authorization.as_deref());
                    let Some(outcome) = send(router, &json).await else {
                        continue;
                    };
                    let Some(route) = &outcome.route else {
                        continue;
                    };
                    ran += 1;
                    if caller < needs(route) {
                        broken.push(format!(
                            "{shape} {kind:?} {method} {path:?} as {caller:?}: route {route} ran \
                             (needs {:?}); lambda_http's URI path {:?}, lambda_policy_path {:?}, \
                             status {}",
                            needs(route),
                            outcome.uri_path,
                            outcome.policy_path,
                            outcome.status
                        ));
                    }
                }
            }
        }
    }
    (broken, ran)
}

/// [`attack`], asserting the rule held for every request and that enough handlers ran for the
/// sweep to mean something.
pub(crate) async fn assert_attack_holds(
    fixture: &Fixture,
    shape: &str,
    router: &Router,
    kinds: &[Kind],
) {
    let (broken, ran) = attack(fixture, shape, router, kinds).await;
    assert!(ran > 100, "{shape}: only {ran} handlers ran");
    assert!(
        broken.is_empty(),
        "{} broken:\n{}",
        broken.len(),
        broken.join("\n")
    );
}
