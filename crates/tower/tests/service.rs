//! `AuthzLayer` on services that are not axum: a plain `tower::service_fn` over
//! `http::Request<String>` in-process, and a hyper server over a socket on 127.0.0.1. Same
//! contract rows as the axum tests (the response table, `crates/core/docs/responses.md`), plus the tower-specific duties: the token
//! in extensions, `NoToken`, the realm, readiness on the slow path, and custom responders.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};

use cognito_authz_core::{
    AcceptedTokenUse, Authorizer, AuthorizerBuilder, Denial, Policy, VerifiedToken,
};
use cognito_authz_test_support::contract;
use cognito_authz_test_support::policy::{PolicyText, served};
use cognito_authz_test_support::responses::{FORBIDDEN, UNAUTHORIZED, bearer, invalid};
use cognito_authz_testkit::{DEFAULT_START_SECS, LocalIssuer};
use cognito_authz_tower::{AuthzLayer, NoToken, Realm};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

/// The standard table; `GET /reports/{id}` needs `scope:reports/read`, or the admin group.
fn policy() -> String {
    PolicyText::standard()
        .route_for(
            &["GET"],
            "/reports/{id}",
            "scope:reports/read or group:admin",
        )
        .to_string()
}

/// The local issuer (JWKS served on 127.0.0.1, manual clock) and an authorizer for `policy()` that
/// trusts it.
async fn fixture(options: AuthorizerBuilder) -> (LocalIssuer, Authorizer) {
    served(&policy(), options).await
}

/// The handler: says who called, from what the layer left in the extensions.
fn who(request: &Request<impl Sized>) -> String {
    match (
        request.extensions().get::<Arc<VerifiedToken>>(),
        request.extensions().get::<NoToken>(),
    ) {
        (Some(token), _) => format!("token {}", token.username().unwrap_or("-")),
        (None, Some(_)) => "no token".to_owned(),
        (None, None) => "no layer?".to_owned(),
    }
}

type Row<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Vec<(&'a str, String)>,
    u16,
    Option<String>,
    String,
);

fn rows(issuer: &LocalIssuer) -> Vec<Row<'static>> {
    let user = contract::user(issuer);
    let admin = contract::admin(issuer);
    let expired = issuer
        .access_token()
        .issued_at(DEFAULT_START_SECS - 100)
        .expires_at(DEFAULT_START_SECS)
        .sign();
    let tampered = contract::escalated(issuer, &user);
    let id = issuer.id_token().username("ida").sign();
    let huge = "a".repeat(20_000);
    let scope_challenge = r#"Bearer error="insufficient_scope", scope="reports/read""#;
    let forbidden = r#"Bearer error="insufficient_scope""#;
    vec![
        (
            "no token",
            "GET",
            "/me",
            vec![],
            401,
            Some("Bearer".into()),
            UNAUTHORIZED.into(),
        ),
        (
            "malformed",
            "GET",
            "/me",
            bearer("a.b"),
            401,
            Some(invalid("malformed token")),
            UNAUTHORIZED.into(),
        ),
        (
            "too large",
            "GET",
            "/me",
            bearer(&huge),
            401,
            Some(invalid("token too large")),
            UNAUTHORIZED.into(),
        ),
        (
            "bad signature",
            "GET",
            "/me",
            bearer(&tampered),
            401,
            Some(invalid("invalid signature")),
            UNAUTHORIZED.into(),
        ),
        (
            "expired (exp == now)",
            "GET",
            "/me",
            bearer(&expired),
            401,
            Some(invalid("token expired")),
            UNAUTHORIZED.into(),
        ),
        (
            "two headers",
            "GET",
            "/me",
            [bearer(&user), bearer(&user)].concat(),
            400,
            Some(r#"Bearer error="invalid_request""#.into()),
            r#"{"message":"Bad Request"}"#.into(),
        ),
        (
            "missing group",
            "DELETE",
            "/admin/x",
            bearer(&user),
            403,
            Some(forbidden.into()),
            FORBIDDEN.into(),
        ),
        (
            "missing scope",
            "GET",
            "/reports/1",
            bearer(&user),
            403,
            Some(scope_challenge.into()),
            FORBIDDEN.into(),
        ),
        (
            "id token, scope route",
            "GET",
            "/reports/1",
            bearer(&id),
            403,
            Some(scope_challenge.into()),
            FORBIDDEN.into(),
        ),
        (
            "authenticated",
            "GET",
            "/me",
            bearer(&user),
            200,
            None,
            "token bob".into(),
        ),
        (
            "raw token header",
            "GET",
            "/me",
            vec![("authorization", user.clone())],
            200,
            None,
            "token bob".into(),
        ),
        (
            "admin",
            "DELETE",
            "/admin/x",
            bearer(&admin),
            200,
            None,
            "token alice".into(),
        ),
        (
            "public, no token",
            "GET",
            "/health",
            vec![],
            200,
            None,
            "no token".into(),
        ),
        (
            "public, invalid token",
            "GET",
            "/health",
            bearer("garbage"),
            200,
            None,
            "no token".into(),
        ),
        (
            "public, valid token",
            "GET",
            "/health",
            bearer(&id),
            200,
            None,
            "token ida".into(),
        ),
        (
            "a preflight is decided like any request",
            "OPTIONS",
            "/admin/x",
            vec![("access-control-request-method", "DELETE".into())],
            401,
            Some("Bearer".into()),
            UNAUTHORIZED.into(),
        ),
    ]
}

fn build(method: &str, path: &str, headers: &[(&str, String)]) -> http::request::Builder {
    let mut builder = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder
}

fn check(what: &str, status: StatusCode, headers: &http::HeaderMap, body: &str, row: &Row<'_>) {
    let (_, _, _, _, expected_status, challenge, expected_body) = row;
    assert_eq!(status.as_u16(), *expected_status, "{what}");
    assert_eq!(
        headers
            .get("www-authenticate")
            .map(|v| v.to_str().expect("ascii")),
        challenge.as_deref(),
        "{what}"
    );
    assert_eq!(body, expected_body, "{what}");
    if *expected_status != 200 {
        assert_eq!(headers["content-type"], "application/json", "{what}");
    }
}

#[tokio::test]
async fn a_plain_service_fn_over_string_bodies_gets_the_contract() {
    let (issuer, authorizer) = fixture(Authorizer::builder()).await;
    let service = ServiceBuilder::new()
        .layer(AuthzLayer::new(authorizer))
        .service_fn(|request: Request<String>| async move {
            Ok::<_, Infallible>(Response::new(who(&request)))
        });
    for row in rows(&issuer) {
        let (what, method, path, headers, ..) = &row;
        let request = build(method, path, headers)
            .body(String::new())
            .expect("request");
        let response = service.clone().oneshot(request).await.expect("infallible");
        let (parts, body) = response.into_parts();
        check(what, parts.status, &parts.headers, &body, &row);
    }
}

#[tokio::test]
async fn a_hyper_server_over_a_socket_gets_the_contract() {
    let (issuer, authorizer) = fixture(Authorizer::builder()).await;
    let service = AuthzLayer::new(authorizer).layer(tower::service_fn(
        |request: Request<hyper::body::Incoming>| async move {
            Ok::<_, Infallible>(Response::new(Full::new(bytes_of(who(&request)))))
        },
    ));
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let client = reqwest::Client::new();
    for row in rows(&issuer) {
        let (what, method, path, headers, ..) = &row;
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = client.request(method, format!("http://{addr}{path}"));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.expect("send");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.expect("body");
        check(what, status, &headers, &body, &row);
    }
}

fn bytes_of(text: String) -> hyper::body::Bytes {
    hyper::body::Bytes::from(text)
}

#[tokio::test]
async fn keys_unavailable_is_503_with_retry_after() {
    let issuer = LocalIssuer::start().await.expect("issuer");
    issuer.server().expect("server").respond_with_status(500);
    let verifier = issuer
        .verifier_builder(AcceptedTokenUse::Access)
        .build()
        .expect("verifier");
    let authorizer = Authorizer::builder()
        .verifier(verifier)
        .unmatched(Policy::authenticated())
        .build()
        .expect("authorizer");
    let service = ServiceBuilder::new()
        .layer(AuthzLayer::new(authorizer))
        .service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        });
    let token = issuer.access_token().sign();
    let request = build("GET", "/", &bearer(&token))
        .body(String::new())
        .expect("request");
    let response = service.oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(response.headers().get("www-authenticate").is_none());
    assert_eq!(response.body(), r#"{"message":"Service Unavailable"}"#);
}

/// A service that must be polled ready before each call, like `Buffer` or a concurrency
/// limit; clones start unready.
#[derive(Debug, Default)]
struct MustBeReady {
    ready: bool,
}

impl Clone for MustBeReady {
    fn clone(&self) -> Self {
        Self { ready: false }
    }
}

impl Service<Request<String>> for MustBeReady {
    type Response = Response<String>;
    type Error = &'static str;
    type Future = std::future::Ready<Result<Response<String>, &'static str>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.ready = true;
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<String>) -> Self::Future {
        let ready = std::mem::replace(&mut self.ready, false);
        std::future::ready(if ready {
            Ok(Response::new(who(&request)))
        } else {
            Err("called without poll_ready")
        })
    }
}

#[tokio::test]
async fn the_slow_path_calls_the_service_that_was_polled_ready() {
    // A fresh issuer: the first request has to fetch the key set, so its decision is pending
    // on the first poll and takes the boxed path; the second is decided inline.
    let (issuer, authorizer) = fixture(Authorizer::builder()).await;
    let mut service = AuthzLayer::new(authorizer).layer(MustBeReady::default());
    let token = contract::user(&issuer);
    for round in 0..3 {
        let request = build("GET", "/me", &bearer(&token))
            .body(String::new())
            .expect("request");
        let response = service.ready().await.expect("ready").call(request).await;
        assert_eq!(
            response.expect("ready service called").body(),
            "token bob",
            "round {round}"
        );
    }
    assert_eq!(issuer.server().expect("server").fetch_count(), 1);
}

#[tokio::test]
async fn denials_never_call_the_inner_service_and_keep_its_error_type() {
    let (_issuer, authorizer) = fixture(Authorizer::builder()).await;
    let service = ServiceBuilder::new()
        .layer(AuthzLayer::new(authorizer))
        .service_fn(|_: Request<String>| async { Err::<Response<String>, &str>("inner ran") });
    let response = service
        .clone()
        .oneshot(Request::get("/me").body(String::new()).expect("request"))
        .await
        .expect("a denial is a response, not an error");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let error = service
        .oneshot(
            Request::get("/health")
                .body(String::new())
                .expect("request"),
        )
        .await
        .expect_err("allowed: the inner service's error comes through");
    assert_eq!(error, "inner ran");
}

#[tokio::test]
async fn the_realm_is_left_for_extractors_and_in_the_challenge() {
    let (issuer, authorizer) = fixture(Authorizer::builder().realm("api")).await;
    let service = ServiceBuilder::new()
        .layer(AuthzLayer::new(authorizer))
        .service_fn(|request: Request<String>| async move {
            let realm = request
                .extensions()
                .get::<Realm>()
                .map(|r| r.as_str().to_owned());
            Ok::<_, Infallible>(Response::new(realm.unwrap_or_default()))
        });
    let response = service
        .clone()
        .oneshot(Request::get("/me").body(String::new()).expect("request"))
        .await
        .expect("infallible");
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="api""#
    );
    let token = issuer.access_token().sign();
    let request = build("GET", "/me", &bearer(&token))
        .body(String::new())
        .expect("request");
    assert_eq!(
        service.oneshot(request).await.expect("infallible").body(),
        "api"
    );
}

#[tokio::test]
async fn custom_responders_replace_bodies() {
    let (_issuer, authorizer) = fixture(Authorizer::builder()).await;
    let service = ServiceBuilder::new()
        .layer(AuthzLayer::new(authorizer).responder(|denial: &Denial| {
            let mut response = denial.response().into_response::<String>();
            *response.body_mut() = format!("nope: {}", denial.code());
            response
        }))
        .service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        });
    let response = service
        .oneshot(
            Request::get("/admin/x")
                .body(String::new())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(response.body(), "nope: missing_token");
}

#[tokio::test]
async fn require_builds_per_route_layers_and_rejects_bad_expressions() {
    let (issuer, authorizer) = fixture(Authorizer::builder()).await;
    let root = AuthzLayer::new(authorizer);
    assert!(root.require("group:").is_err());
    assert!(root.require("policy:missing").is_err());
    let error = root.require("scope:\"a b\"").expect_err("space in a scope");
    assert_eq!(error.expression(), "scope:\"a b\"");
    let service = ServiceBuilder::new()
        .layer(root.require("scope:reports/write").expect("valid"))
        .service_fn(|request: Request<String>| async move {
            Ok::<_, Infallible>(Response::new(who(&request)))
        });
    // The per-route policy applies everywhere under it, even on the file's public route.
    let user = contract::user(&issuer);
    let request = build("GET", "/health", &bearer(&user))
        .body(String::new())
        .expect("request");
    let response = service.clone().oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer error="insufficient_scope", scope="reports/write""#
    );
    let writer = issuer
        .access_token()
        .username("wes")
        .scopes(["reports/write"])
        .sign();
    let request = build("GET", "/health", &bearer(&writer))
        .body(String::new())
        .expect("request");
    assert_eq!(
        service.oneshot(request).await.expect("infallible").body(),
        "token wes"
    );
}

#[test]
fn layers_services_and_futures_are_send_and_sync_where_axum_needs_it() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    type Inner = tower::util::BoxCloneSyncService<Request<String>, Response<String>, Infallible>;
    send_sync::<AuthzLayer>();
    send_sync::<cognito_authz_tower::Authz<Inner>>();
    send::<<cognito_authz_tower::Authz<Inner> as Service<Request<String>>>::Future>();
}
