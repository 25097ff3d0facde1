//! A real axum `Router` behind `AuthzLayer`, driven in-process (`oneshot`) and over a socket
//! on 127.0.0.1 through every row of the response table (`crates/core/docs/responses.md`), plus
//! the extractors, guards and per-route
//! layers. Time comes from the local issuer's manual clock.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Path;
use axum::routing::{get, options};
use axum::{Json, Router};
use cognito_authz_axum::{
    AccessToken, AuthzLayer, Claims, Groups, IdToken, PolicyGuard, Rejection, RejectionKind,
    Scopes, Verified, policy_guard, require,
};
use cognito_authz_core::{AcceptedTokenUse, Authorizer, AuthorizerBuilder, Denial};
use cognito_authz_test_support::contract;
use cognito_authz_test_support::policy::{PolicyText, served};
use cognito_authz_test_support::responses::{
    BAD_REQUEST, FORBIDDEN, FORBIDDEN_CHALLENGE, UNAUTHORIZED, UNAVAILABLE, bearer, invalid,
};
use cognito_authz_testkit::{DEFAULT_START_SECS, LocalIssuer};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// The standard table with the example issuer, plus a public `/open` and `/me` for any
/// signed-in caller; `GET /reports/{id}` needs `scope:reports/read`.
fn policy() -> String {
    PolicyText::standard()
        .example_issuer()
        .route("/open", "public")
        .route("/me", "authenticated")
        .route_for(&["GET"], "/reports/{id}", "scope:reports/read")
        .to_string()
}

policy_guard!(
    /// Administrators with an id token.
    AdminOnly, "group:admin and token_use:id"
);
policy_guard!(ReadReports, "scope:reports/read");
// A guard whose mistake only the policy compiler finds (a typo in the syntax fails the
// build: see the `policy_guard!` docs).
policy_guard!(Broken, "public or group:admin");

/// The claims the handlers read, with a custom attribute.
#[derive(Debug, serde::Deserialize)]
struct AppClaims {
    #[serde(alias = "cognito:username")]
    username: Option<String>,
    #[serde(default, rename = "cognito:groups")]
    groups: Vec<String>,
    #[serde(rename = "custom:tenant")]
    tenant: Option<String>,
}

/// Claims that require the custom attribute.
#[derive(Debug, serde::Deserialize)]
struct Strict {
    #[serde(rename = "custom:tenant")]
    #[allow(dead_code)]
    tenant: String,
}

async fn health(caller: Option<Claims<AppClaims>>) -> Json<Value> {
    Json(json!({ "user": caller.and_then(|Claims(c)| c.username.clone()) }))
}

async fn me(Claims(claims): Claims<AppClaims>) -> Json<Value> {
    Json(json!({ "username": claims.username, "groups": claims.groups, "tenant": claims.tenant }))
}

fn app(authorizer: &Authorizer) -> Result<Router, Box<dyn std::error::Error>> {
    Ok(
        Router::new()
            .route("/health", get(health))
            .route(
                "/me",
                get(me).merge(options(|| async { StatusCode::NO_CONTENT })),
            )
            .route(
                "/admin/{*rest}",
                get(|Path(rest): Path<String>| async move { format!("admin {rest}") }),
            )
            .route(
                "/reports/{id}",
                get(|Path(id): Path<String>| async move { format!("report {id}") }),
            )
            .route(
                "/open",
                get(|Claims(c): Claims<AppClaims>| async move { format!("{:?}", c.username) }),
            )
            .route("/open-guard", get(|_: AdminOnly| async { "guarded" }))
            .route("/strict", get(|_: Claims<Strict>| async { "strict" }))
            .route(
                "/optional-strict",
                get(|c: Option<Claims<Strict>>| async move { format!("{}", c.is_some()) }),
            )
            .route(
                "/id",
                get(|token: IdToken| async move {
                    format!("id {}", token.username().unwrap_or_default())
                }),
            )
            .route(
                "/access",
                get(|token: AccessToken| async move {
                    format!("access {}", token.username().unwrap_or_default())
                }),
            )
            .route("/guarded", get(|_: AdminOnly| async { "guarded" }))
            .route("/scope-guard", get(|_: ReadReports| async { "reports" }))
            .route(
                "/lists",
                get(|groups: Groups, scopes: Scopes| async move {
                    Json(json!({
                        "groups": &*groups,
                        "scopes": &*scopes,
                        "admin": groups.contains("admin"),
                        "reads": scopes.contains("reports/read"),
                    }))
                }),
            )
            .route(
                "/verified",
                get(|Verified(token): Verified| async move { token.kid().to_owned() }),
            )
            .route(
                "/ops",
                get(|| async { "ops" }).route_layer(require(authorizer, "group:ops")?),
            )
            .layer(AuthzLayer::new(authorizer.clone())),
    )
}

/// The local issuer (JWKS served on 127.0.0.1, manual clock) and an authorizer for `policy()` that
/// trusts it.
async fn fixture(options: AuthorizerBuilder) -> (LocalIssuer, Authorizer) {
    served(&policy(), options).await
}

/// What came back.
#[derive(Debug, PartialEq)]
struct Reply {
    status: u16,
    challenge: Option<String>,
    content_type: Option<String>,
    retry_after: Option<String>,
    body: String,
}

impl Reply {
    fn from_parts(status: u16, headers: &http::HeaderMap, body: String) -> Self {
        let header = |name: &str| {
            headers
                .get(name)
                .map(|value| value.to_str().expect("ascii header").to_owned())
        };
        assert!(
            headers.get_all("www-authenticate").iter().count() <= 1,
            "one challenge at most"
        );
        Self {
            status,
            challenge: header("www-authenticate"),
            content_type: header("content-type"),
            retry_after: header("retry-after"),
            body,
        }
    }
}

fn request(method: &str, path: &str, headers: &[(&str, String)]) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder.body(Body::empty()).expect("request")
}

async fn read(response: Response<Body>) -> Reply {
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    Reply::from_parts(
        parts.status.as_u16(),
        &parts.headers,
        String::from_utf8(bytes.to_vec()).expect("utf-8 body"),
    )
}

async fn in_process(app: &Router, method: &str, path: &str, headers: &[(&str, String)]) -> Reply {
    read(
        app.clone()
            .oneshot(request(method, path, headers))
            .await
            .expect("infallible"),
    )
    .await
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    addr
}

async fn over_socket(
    client: &reqwest::Client,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut builder = client.request(method, format!("http://{addr}{path}"));
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    let response = builder.send().await.expect("send");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.expect("body");
    Reply::from_parts(status, &headers, body)
}

/// An expected reply: status, challenge, body; denials carry `application/json`.
fn expect(status: u16, challenge: Option<&str>, body: &str) -> Reply {
    let json = body.starts_with('{') && status != 200;
    Reply {
        status,
        challenge: challenge.map(str::to_owned),
        content_type: json.then(|| "application/json".to_owned()),
        retry_after: None,
        body: body.to_owned(),
    }
}

fn text(body: &str) -> Reply {
    Reply {
        status: 200,
        challenge: None,
        content_type: Some("text/plain; charset=utf-8".to_owned()),
        retry_after: None,
        body: body.to_owned(),
    }
}

fn json_reply(body: &Value) -> Reply {
    Reply {
        status: 200,
        challenge: None,
        content_type: Some("application/json".to_owned()),
        retry_after: None,
        body: body.to_string(),
    }
}

#[tokio::test]
async fn every_contract_row_answers_the_same_in_process_and_over_a_socket() {
    let (issuer, authorizer) = fixture(Authorizer::builder()).await;
    let app = app(&authorizer).expect("router");
    let start = DEFAULT_START_SECS;

    let user = contract::user(&issuer);
    let reader = issuer
        .access_token()
        .username("rita")
        .scopes(["reports/read"])
        .sign();
    let admin = issuer
        .access_token()
        .username("alice")
        .groups(["admin"])
        .claim("custom:tenant", "acme")
        .sign();
    let admin_id = issuer.id_token().username("alice").groups(["admin"]).sign();
    let user_id = issuer.id_token().username("bob").sign();
    let ops = issuer
        .access_token()
        .username("olga")
        .groups(["ops"])
        .sign();
    let machine = issuer.machine_token().scopes(["reports/read"]).sign();
    let tampered = contract::escalated(&issuer, &user);
    let foreign = issuer
        .access_token()
        .iss("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other1")
        .sign();
    let expired = issuer
        .access_token()
        .issued_at(start - 7200)
        .expires_at(start - 1)
        .sign();
    let hs256 = issuer.access_token().header("alg", "HS256").sign();
    let unknown_kid = issuer.access_token().header("kid", "not-a-key").sign();
    let refresh_use = issuer.access_token().claim("token_use", "refresh").sign();
    let other_client = issuer.access_token().client_id("someone-else").sign();

    let two_headers = vec![
        ("authorization", format!("Bearer {user}")),
        ("authorization", format!("Bearer {user}")),
    ];
    let preflight = vec![
        ("origin", "https://app.example".to_owned()),
        ("access-control-request-method", "GET".to_owned()),
    ];

    // (what, method, path, headers, expected)
    type Case<'a> = (&'a str, &'a str, &'a str, Vec<(&'a str, String)>, Reply);
    let cases: Vec<Case<'_>> = vec![
        // the response table's rows
        (
            "no token",
            "GET",
            "/me",
            vec![],
            expect(401, Some("Bearer"), UNAUTHORIZED),
        ),
        (
            "malformed",
            "GET",
            "/me",
            bearer("garbage"),
            expect(401, Some(&invalid("malformed token")), UNAUTHORIZED),
        ),
        (
            "bad signature",
            "GET",
            "/me",
            bearer(&tampered),
            expect(401, Some(&invalid("invalid signature")), UNAUTHORIZED),
        ),
        (
            "unknown issuer",
            "GET",
            "/me",
            bearer(&foreign),
            expect(401, Some(&invalid("untrusted issuer")), UNAUTHORIZED),
        ),
        (
            "HS256 header",
            "GET",
            "/me",
            bearer(&hs256),
            expect(401, Some(&invalid("unsupported algorithm")), UNAUTHORIZED),
        ),
        (
            "unknown kid",
            "GET",
            "/me",
            bearer(&unknown_kid),
            expect(401, Some(&invalid("unknown key id")), UNAUTHORIZED),
        ),
        (
            "expired",
            "GET",
            "/me",
            bearer(&expired),
            expect(401, Some(&invalid("token expired")), UNAUTHORIZED),
        ),
        (
            "wrong token_use",
            "GET",
            "/me",
            bearer(&refresh_use),
            expect(401, Some(&invalid("wrong token use")), UNAUTHORIZED),
        ),
        (
            "wrong client",
            "GET",
            "/me",
            bearer(&other_client),
            expect(401, Some(&invalid("wrong client")), UNAUTHORIZED),
        ),
        (
            "two Authorization headers",
            "GET",
            "/me",
            two_headers,
            expect(400, Some(r#"Bearer error="invalid_request""#), BAD_REQUEST),
        ),
        (
            "missing group",
            "GET",
            "/admin/users",
            bearer(&user),
            expect(403, Some(FORBIDDEN_CHALLENGE), FORBIDDEN),
        ),
        (
            "missing scope",
            "GET",
            "/reports/7",
            bearer(&user),
            expect(
                403,
                Some(r#"Bearer error="insufficient_scope", scope="reports/read""#),
                FORBIDDEN,
            ),
        ),
        (
            "id token on a scope route",
            "GET",
            "/reports/7",
            bearer(&admin_id),
            expect(
                403,
                Some(r#"Bearer error="insufficient_scope", scope="reports/read""#),
                FORBIDDEN,
            ),
        ),
        // allowed
        (
            "admin",
            "GET",
            "/admin/users",
            bearer(&admin),
            text("admin users"),
        ),
        (
            "reader",
            "GET",
            "/reports/7",
            bearer(&reader),
            text("report 7"),
        ),
        (
            "machine client",
            "GET",
            "/reports/8",
            bearer(&machine),
            text("report 8"),
        ),
        (
            "no GET route for POST: unmatched = authenticated",
            "POST",
            "/reports/7",
            bearer(&user),
            expect(405, None, ""),
        ),
        // public routes
        (
            "public, no token",
            "GET",
            "/health",
            vec![],
            json_reply(&json!({"user": null})),
        ),
        (
            "public, invalid token ignored",
            "GET",
            "/health",
            bearer("garbage"),
            json_reply(&json!({"user": null})),
        ),
        (
            "public, expired token ignored",
            "GET",
            "/health",
            bearer(&expired),
            json_reply(&json!({"user": null})),
        ),
        (
            "public, valid token offered",
            "GET",
            "/health",
            bearer(&user),
            json_reply(&json!({"user": "bob"})),
        ),
        (
            "public, Claims needed, no token",
            "GET",
            "/open",
            vec![],
            expect(401, Some("Bearer"), UNAUTHORIZED),
        ),
        (
            "public, guard, no token",
            "GET",
            "/open-guard",
            vec![],
            expect(401, Some("Bearer"), UNAUTHORIZED),
        ),
        (
            "public, Claims needed, valid token",
            "GET",
            "/open",
            bearer(&user),
            text(r#"Some("bob")"#),
        ),
        // typed claims
        (
            "typed claims with custom attribute",
            "GET",
            "/me",
            bearer(&admin),
            json_reply(&json!({"username": "alice", "groups": ["admin"], "tenant": "acme"})),
        ),
        (
            "typed claims from an id token",
            "GET",
            "/me",
            bearer(&user_id),
            json_reply(&json!({"username": "bob", "groups": [], "tenant": null})),
        ),
        (
            "claims that do not fit",
            "GET",
            "/strict",
            bearer(&user),
            expect(403, Some(FORBIDDEN_CHALLENGE), FORBIDDEN),
        ),
        (
            "claims that fit",
            "GET",
            "/strict",
            bearer(&admin),
            text("strict"),
        ),
        (
            "optional claims that do not fit",
            "GET",
            "/optional-strict",
            bearer(&user),
            expect(403, Some(FORBIDDEN_CHALLENGE), FORBIDDEN),
        ),
        // id / access views
        (
            "IdToken with an id token",
            "GET",
            "/id",
            bearer(&user_id),
            text("id bob"),
        ),
        (
            "IdToken with an access token",
            "GET",
            "/id",
            bearer(&user),
            expect(403, Some(FORBIDDEN_CHALLENGE), FORBIDDEN),
        ),
        (
            "AccessToken with an access token",
            "GET",
            "/access",
            bearer(&user),
            text("access bob"),
        ),
        (
            "AccessToken with an id token",
            "GET",
            "/access",
            bearer(&user_id),
            expect(403, Some(FORBIDDEN_CHALLENGE), FORBIDDEN),
        ),
        // guards
        (
            "guard allows",
            "GET",
            "/guarded",
            bearer(&admin_id),
            text("guarded"),
        ),
        (
            "guard: admin with an access token",
            "GET",
            "/guarded",
            bearer(&admin),
            expect(403, Some(FORBIDDEN_CHALLENGE), FORBIDDEN),
        ),
        (
            "guard: id token without the group",
            "GET",
            "/guarded",
            bearer(&user_id),
            expect(403, Some(FORBIDDEN_CHALLENGE), FORBIDDEN),
        ),
        (
            "scope guard: missing scope",
            "GET",
            "/scope-guard",
            bearer(&user),
            expect(
                403,
                Some(r#"Bearer error="insufficient_scope", scope="reports/read""#),
                FORBIDDEN,
            ),
        ),
        (
            "scope guard: reader",
            "GET",
            "/scope-guard",
            bearer(&reader),
            text("reports"),
        ),
        // per-route layer
        (
            "route_layer: no token",
            "GET",
            "/ops",
            vec![],
            expect(401, Some("Bearer"), UNAUTHORIZED),
        ),
        (
            "route_layer: other group",
            "GET",
            "/ops",
            bearer(&admin),
            expect(403, Some(FORBIDDEN_CHALLENGE), FORBIDDEN),
        ),
        ("route_layer: ops", "GET", "/ops", bearer(&ops), text("ops")),
        // lists and the raw token
        (
            "groups and scopes",
            "GET",
            "/lists",
            bearer(&reader),
            json_reply(
                &json!({"groups": [], "scopes": ["reports/read"], "admin": false, "reads": true}),
            ),
        ),
        (
            "verified token",
            "GET",
            "/verified",
            bearer(&user),
            text(issuer.signing_key().kid()),
        ),
        // A CORS preflight is decided like any request, and so is a plain OPTIONS
        (
            "preflight",
            "OPTIONS",
            "/me",
            preflight,
            expect(401, Some("Bearer"), UNAUTHORIZED),
        ),
        (
            "OPTIONS without preflight headers",
            "OPTIONS",
            "/me",
            vec![],
            expect(401, Some("Bearer"), UNAUTHORIZED),
        ),
    ];

    let addr = serve(app.clone()).await;
    let client = reqwest::Client::new();
    for (what, method, path, headers, expected) in &cases {
        let got = in_process(&app, method, path, headers).await;
        assert_eq!(&got, expected, "in process: {what}");
        let got = over_socket(&client, addr, method, path, headers).await;
        assert_eq!(&got, expected, "over a socket: {what}");
    }
}

#[tokio::test]
async fn keys_unavailable_answers_503_with_retry_after_and_no_challenge() {
    let issuer = LocalIssuer::start().await.expect("issuer");
    issuer.server().expect("server").respond_with_status(500);
    let authorizer = issuer.authorizer(&policy()).expect("authorizer");
    let app = app(&authorizer).expect("router");
    let token = issuer.access_token().sign();
    let expected = Reply {
        status: 503,
        challenge: None,
        content_type: Some("application/json".to_owned()),
        retry_after: Some("5".to_owned()),
        body: UNAVAILABLE.to_owned(),
    };
    assert_eq!(
        in_process(&app, "GET", "/me", &bearer(&token)).await,
        expected
    );
    let addr = serve(app.clone()).await;
    let client = reqwest::Client::new();
    assert_eq!(
        over_socket(&client, addr, "GET", "/me", &bearer(&token)).await,
        expected
    );
    // Public routes do not need keys.
    assert_eq!(
        in_process(&app, "GET", "/health", &bearer(&token))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn cached_tokens_expire_on_the_injected_clock() {
    let (issuer, authorizer) = fixture(Authorizer::builder().verified_token_cache(100)).await;
    let app = app(&authorizer).expect("router");
    let token = issuer
        .access_token()
        .username("bob")
        .lifetime(Duration::from_secs(60))
        .sign();
    for _ in 0..2 {
        assert_eq!(
            in_process(&app, "GET", "/me", &bearer(&token)).await.status,
            200
        );
    }
    issuer
        .manual_clock()
        .expect("manual")
        .advance(Duration::from_secs(60));
    assert_eq!(
        in_process(&app, "GET", "/me", &bearer(&token)).await,
        expect(401, Some(&invalid("token expired")), UNAUTHORIZED)
    );
}

#[tokio::test]
async fn a_cached_token_hands_every_request_the_same_typed_claims() {
    let (issuer, authorizer) = fixture(Authorizer::builder().verified_token_cache(100)).await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = std::sync::Arc::clone(&seen);
    let app = Router::new()
        .route(
            "/me",
            get(move |Claims(claims): Claims<AppClaims>| async move {
                let name = claims.username.clone().unwrap_or_default();
                record.lock().expect("lock").push(claims);
                name
            }),
        )
        .layer(AuthzLayer::new(authorizer));
    let token = issuer.access_token().username("carol").sign();
    let other = issuer.access_token().username("dave").sign();
    for (token, name) in [(&token, "carol"), (&token, "carol"), (&other, "dave")] {
        assert_eq!(
            in_process(&app, "GET", "/me", &bearer(token)).await,
            text(name)
        );
    }
    let seen = seen.lock().expect("lock");
    assert!(
        std::sync::Arc::ptr_eq(&seen[0], &seen[1]),
        "the second request reused the first one's claims"
    );
    assert!(!std::sync::Arc::ptr_eq(&seen[1], &seen[2]), "another token");
}

#[tokio::test]
async fn an_access_only_pool_refuses_id_tokens_as_wrong_token_use() {
    let issuer = LocalIssuer::start().await.expect("issuer");
    let authorizer = Authorizer::builder()
        .issuers([issuer.issuer_config(AcceptedTokenUse::Access)])
        .clock(issuer.manual_clock().expect("manual").clone())
        .policy_text(policy(), ".")
        .build()
        .expect("authorizer");
    let app = app(&authorizer).expect("router");
    let id = issuer.id_token().sign();
    assert_eq!(
        in_process(&app, "GET", "/me", &bearer(&id)).await,
        expect(401, Some(&invalid("wrong token use")), UNAUTHORIZED)
    );
}

#[tokio::test]
async fn without_the_layer_extractors_answer_500_naming_the_layer() {
    let app: Router = Router::new()
        .route("/claims", get(|_: Claims| async { "unreachable" }))
        .route(
            "/optional",
            get(|_: Option<Claims>| async { "unreachable" }),
        )
        .route("/guard", get(|_: AdminOnly| async { "unreachable" }))
        .route("/verified", get(|_: Verified| async { "unreachable" }));
    for path in ["/claims", "/optional", "/guard", "/verified"] {
        let reply = in_process(&app, "GET", path, &[]).await;
        assert_eq!(reply.status, 500, "{path}");
        assert_eq!(
            reply.content_type.as_deref(),
            Some("text/plain; charset=utf-8")
        );
        assert!(
            reply.body.contains("cognito_authz_axum::AuthzLayer"),
            "{}",
            reply.body
        );
        assert!(reply.body.contains("route_layer"), "{}", reply.body);
        assert_eq!(reply.challenge, None);
    }
}

#[tokio::test]
async fn bad_policies_fail_at_start_up_and_never_panic_in_a_request() {
    let (_issuer, authorizer) = fixture(Authorizer::builder()).await;
    // Per-route policies are parsed when the layer is built.
    let error = require(&authorizer, "group:admin and").expect_err("incomplete expression");
    assert_eq!(
        error.to_string(),
        "invalid policy `group:admin and`: column 16: expected an atom after 'and'"
    );
    assert!(require(&authorizer, "public or group:x").is_err());
    assert!(require(&authorizer, "policy:nobody").is_err());
    assert!(require(&authorizer, "policy:admin and token_use:id").is_ok());
    // A policy file with a bad route expression is reported with its line.
    let bad_file = policy().replace("\"policy:admin\"", "\"group:admin and\"");
    let error = Authorizer::builder()
        .policy_text(&bad_file, ".")
        .build()
        .expect_err("bad route");
    assert!(error.to_string().contains("expected an atom"), "{error}");
    // Guards validate at start-up; an unchecked bad guard answers 500 instead of panicking.
    assert!(AdminOnly::validate().is_ok());
    let error = Broken::validate().expect_err("bad guard");
    assert!(
        error
            .to_string()
            .contains("`public` must be the whole policy"),
        "{error}"
    );
    let app = Router::new()
        .route("/broken", get(|_: Broken| async { "unreachable" }))
        .layer(AuthzLayer::new(authorizer));
    let reply = in_process(&app, "GET", "/broken", &[]).await;
    // The route is `authenticated` (unmatched), so the layer answers first without a token...
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn an_invalid_guard_answers_500_on_a_verified_request() {
    let (issuer, authorizer) = fixture(Authorizer::builder()).await;
    let app = Router::new()
        .route("/broken", get(|_: Broken| async { "unreachable" }))
        .layer(AuthzLayer::new(authorizer));
    let token = issuer.access_token().sign();
    let reply = in_process(&app, "GET", "/broken", &bearer(&token)).await;
    assert_eq!(reply.status, 500);
    assert!(reply.body.contains("Broken"), "{}", reply.body);
    assert!(
        reply.body.contains("public or group:admin"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn extractor_rejections_carry_the_configured_realm() {
    let (issuer, authorizer) = fixture(Authorizer::builder().realm("api")).await;
    let app = app(&authorizer).expect("router");
    let user = issuer.access_token().sign();
    // The layer's own denial and the extractors' agree.
    assert_eq!(
        in_process(&app, "GET", "/me", &[]).await,
        expect(401, Some(r#"Bearer realm="api""#), UNAUTHORIZED)
    );
    assert_eq!(
        in_process(&app, "GET", "/open", &[]).await,
        expect(401, Some(r#"Bearer realm="api""#), UNAUTHORIZED)
    );
    assert_eq!(
        in_process(&app, "GET", "/scope-guard", &bearer(&user)).await,
        expect(
            403,
            Some(r#"Bearer realm="api", error="insufficient_scope", scope="reports/read""#),
            FORBIDDEN
        )
    );
    assert_eq!(
        in_process(&app, "GET", "/id", &bearer(&user)).await,
        expect(
            403,
            Some(r#"Bearer realm="api", error="insufficient_scope""#),
            FORBIDDEN
        )
    );
}

#[tokio::test]
async fn a_custom_responder_replaces_the_layer_bodies() {
    let (_issuer, authorizer) = fixture(Authorizer::builder()).await;
    let layer = AuthzLayer::new(authorizer).responder(|denial: &Denial| {
        let mut response = denial.response().into_response::<Body>();
        *response.body_mut() = Body::from(format!("{{\"error\":\"{}\"}}", denial.code()));
        response
    });
    let app = Router::new()
        .route("/me", get(|| async { "me" }))
        .layer(layer);
    let reply = in_process(&app, "GET", "/me", &[]).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.challenge.as_deref(), Some("Bearer"));
    assert_eq!(reply.body, r#"{"error":"missing_token"}"#);
}

#[test]
fn rejections_have_statuses_and_name_their_kind() {
    fn status_of(rejection: &Rejection) -> u16 {
        rejection.status().as_u16()
    }
    let missing = Rejection::from(cognito_authz_core::Rejection::missing_middleware("Claims"));
    assert_eq!(status_of(&missing), 500);
    assert_eq!(missing.kind(), RejectionKind::MissingMiddleware);
    assert!(missing.to_string().contains("AuthzLayer"));
    let invalid = Broken::validate().expect_err("bad guard");
    assert_eq!(invalid.kind(), cognito_authz_core::GuardErrorKind::Compile);
    assert_eq!(invalid.expression(), "public or group:admin");
}
