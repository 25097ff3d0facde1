//! Every row of the response table (`crates/core/docs/responses.md`) through the middleware at
//! the app root, in process and over a socket, each denial byte-identical to the core's `Denial::response()` for the same request.

use std::time::Duration;

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, web};
use cognito_authz_actix::{Claims, CognitoAuth, OptionalClaims};
use cognito_authz_core::{AcceptedTokenUse, Authorizer, Policy};
use cognito_authz_test_support::contract::{self, invalid_tokens};
use cognito_authz_testkit::LocalIssuer;
use http::Method;

use crate::support::{Expectations as _, Row, row, run_served, run_table, serve};

/// The route table of the contract app (the shape of `examples/policy.toml`, plus a route
/// that needs two scopes).
pub(crate) fn table(issuer: &LocalIssuer, token_use: AcceptedTokenUse) -> Authorizer {
    issuer
        .authorizer_builder(token_use)
        .policy("admin", Policy::group("admin"))
        .route("/health", Policy::public())
        .route("/admin/{*rest}", Policy::named("admin"))
        .route_methods(
            [Method::GET],
            "/reports/{id}",
            "scope:reports/read".parse().expect("policy"),
        )
        .route(
            "/scoped",
            "scope:api/write and scope:api/read"
                .parse()
                .expect("policy"),
        )
        .unmatched(Policy::authenticated())
        .build()
        .expect("authorizer")
}

/// The contract app: the whole table at the root.
pub(crate) fn app(
    authorizer: Authorizer,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<EitherBody<BoxBody>>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .wrap(CognitoAuth::new(authorizer))
        .route("/health", web::get().to(health))
        .route("/me", web::get().to(me))
        .route("/admin/{rest:.+}", web::route().to(admin))
        .service(web::resource("/reports/{id}").route(web::get().to(report)))
        .route("/scoped", web::get().to(|| async { "scoped" }))
}

async fn health(OptionalClaims(claims): OptionalClaims) -> String {
    let who = claims.and_then(|claims| claims.username.clone());
    format!("health:{}", who.as_deref().unwrap_or("-"))
}

async fn me(Claims(claims): Claims) -> String {
    format!("me:{}", claims.username.as_deref().unwrap_or_default())
}

/// No extractor: a CORS preflight reaches it without a token.
async fn admin(rest: web::Path<String>) -> String {
    format!("admin:{rest}")
}

async fn report(id: web::Path<String>, Claims(claims): Claims) -> String {
    format!(
        "report:{id}:{}",
        claims.username.as_deref().unwrap_or_default()
    )
}

fn now(issuer: &LocalIssuer) -> u64 {
    issuer.manual_clock().expect("manual clock").now_secs()
}

#[actix_web::test]
async fn every_response_row_is_the_cores_byte_for_byte() {
    let issuer = LocalIssuer::start().await.expect("issuer");
    let authorizer = table(&issuer, AcceptedTokenUse::Access);
    let t = now(&issuer);
    let user = contract::user(&issuer);
    let admin = contract::admin(&issuer);
    let reader = issuer
        .access_token()
        .username("rita")
        .scopes(["reports/read"])
        .sign();
    let half_scoped = issuer.access_token().scopes(["api/read"]).sign();
    let both_scopes = issuer
        .access_token()
        .scopes(["api/read", "api/write"])
        .sign();
    let mut rows: Vec<Row> = vec![
        // public route, with and without tokens (an invalid one is ignored)
        row("GET", "/health").status(200, Some("health:-")),
        row("GET", "/health")
            .bearer(&user)
            .status(200, Some("health:bob")),
        row("GET", "/health")
            .bearer("not-a-jwt")
            .status(200, Some("health:-")),
        // no token
        row("GET", "/me").denied("missing_token", &authorizer),
        row("GET", "/me")
            .header("authorization", "Basic dXNlcjpwdw==")
            .denied("missing_token", &authorizer),
        row("GET", "/me").bearer(&user).status(200, Some("me:bob")),
        // invalid request: two Authorization headers
        row("GET", "/me")
            .bearer(&user)
            .bearer(&user)
            .denied("invalid_request", &authorizer),
        // policy denials
        row("GET", "/admin/users")
            .bearer(&user)
            .denied("forbidden", &authorizer),
        row("DELETE", "/admin/users/7")
            .bearer(&admin)
            .status(200, Some("admin:users/7")),
        row("GET", "/reports/1")
            .bearer(&user)
            .denied("insufficient_scope", &authorizer),
        row("GET", "/reports/1")
            .bearer(&reader)
            .status(200, Some("report:1:rita")),
        row("GET", "/scoped")
            .bearer(&half_scoped)
            .denied("insufficient_scope", &authorizer),
        row("GET", "/scoped")
            .bearer(&both_scopes)
            .status(200, Some("scoped")),
        // methods the route table does not list fall to `unmatched` (authenticated); the
        // router then answers 405
        row("POST", "/reports/1").denied("missing_token", &authorizer),
        row("POST", "/reports/1").bearer(&user).status(405, None),
        // unknown paths: authorization first, then actix's 404
        row("GET", "/nowhere").denied("missing_token", &authorizer),
        row("GET", "/nowhere").bearer(&user).status(404, None),
        // A CORS preflight is decided like any request, and so is a bare OPTIONS
        row("OPTIONS", "/admin/users")
            .header("origin", "https://app.example")
            .header("access-control-request-method", "DELETE")
            .denied("missing_token", &authorizer),
        row("OPTIONS", "/admin/users").denied("missing_token", &authorizer),
    ];
    // invalid tokens, one family per check
    rows.extend(
        invalid_tokens(&issuer, &user, &admin, t)
            .into_iter()
            .map(|(_, token, kind)| {
                row("GET", "/me")
                    .bearer(&token)
                    .denied(kind.code(), &authorizer)
            }),
    );
    run_served!(
        "contract",
        |authorizer: &Authorizer| app(authorizer.clone()),
        authorizer,
        rows
    );
}

#[actix_web::test]
async fn challenges_list_the_missing_scopes_and_never_echo_the_token() {
    let issuer = LocalIssuer::offline();
    let authorizer = table(&issuer, AcceptedTokenUse::Access);
    let app = actix_web::test::init_service(app(authorizer)).await;
    let token = issuer.access_token().scopes(["api/read"]).sign();
    let request = actix_web::test::TestRequest::get()
        .uri("/scoped")
        .insert_header(("authorization", format!("Bearer {token}")))
        .to_request();
    let response = actix_web::test::call_service(&app, request).await;
    assert_eq!(response.status(), 403);
    let challenge = response
        .headers()
        .get("www-authenticate")
        .expect("challenge")
        .to_str()
        .expect("ascii");
    assert_eq!(
        challenge,
        r#"Bearer error="insufficient_scope", scope="api/write api/read""#
    );
    let body = actix_web::test::read_body(response).await;
    assert_eq!(body, r#"{"message":"Forbidden"}"#);

    let tampered = format!("{token}x");
    let request = actix_web::test::TestRequest::get()
        .uri("/me")
        .insert_header(("authorization", format!("Bearer {tampered}")))
        .to_request();
    let response = actix_web::test::call_service(&app, request).await;
    assert_eq!(response.status(), 401);
    for (_, value) in response.headers() {
        let value = value.to_str().expect("ascii");
        assert!(!value.contains("eyJ"), "{value}");
    }
}

#[actix_web::test]
async fn unavailable_keys_answer_503_with_retry_after() {
    let issuer = LocalIssuer::start().await.expect("issuer");
    issuer.server().expect("served").respond_with_status(500);
    let authorizer = table(&issuer, AcceptedTokenUse::Access);
    let user = issuer.access_token().sign();
    let rows = [
        row("GET", "/me")
            .bearer(&user)
            .denied("jwks_unavailable", &authorizer),
        // public routes do not need keys to answer
        row("GET", "/health")
            .bearer(&user)
            .status(200, Some("health:-")),
        // no token is still 401, not 503
        row("GET", "/me").denied("missing_token", &authorizer),
    ];
    let server = serve!({
        let authorizer = authorizer.clone();
        move || app(authorizer.clone())
    });
    run_table!("jwks down", app(authorizer.clone()), server, rows);

    // And the header itself, spelled out once.
    let response = crate::support::client()
        .get(format!("{}/me", server.base))
        .bearer_auth(&user)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    assert!(response.headers().get("www-authenticate").is_none());
    assert_eq!(
        response.text().await.expect("body"),
        r#"{"message":"Service Unavailable"}"#
    );
    server.stop().await;
}

#[actix_web::test]
async fn a_token_expires_when_the_clock_passes_exp() {
    let issuer = LocalIssuer::start().await.expect("issuer");
    let authorizer = table(&issuer, AcceptedTokenUse::Access);
    let token = contract::user(&issuer);
    let server = serve!({
        let authorizer = authorizer.clone();
        move || app(authorizer.clone())
    });
    let before = [row("GET", "/me").bearer(&token).status(200, Some("me:bob"))];
    run_table!("before exp", app(authorizer.clone()), server, before);

    let clock = issuer.manual_clock().expect("manual clock");
    // exp = iat + 3600; at now == exp the token is expired (RFC 7519).
    clock.advance(Duration::from_secs(3600));
    let after = [row("GET", "/me")
        .bearer(&token)
        .denied("expired", &authorizer)];
    run_table!("at exp", app(authorizer.clone()), server, after);
    server.stop().await;
}
