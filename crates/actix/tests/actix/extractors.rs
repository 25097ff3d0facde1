//! The extractors: typed claims (`custom:*`), optional claims, id/access token views, groups,
//! scopes, the raw token, the policy guard, and the 500 without middleware.

use std::sync::Arc;

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpMessage as _, HttpRequest, web};
use cognito_authz_actix::{
    AccessToken, Claims, CognitoAuth, Groups, IdToken, OptionalClaims, PolicyGuard as _, Rejection,
    Scopes, Verified, policy_guard,
};
use cognito_authz_core::{
    AcceptedTokenUse, Authorizer, DenialResponse, ErrorKind, Policy, VerifiedToken,
};
use cognito_authz_testkit::LocalIssuer;
use serde::Deserialize;

use crate::support::{Expectations as _, Row, row, run_served, run_table, serve};

policy_guard!(
    /// Writers.
    Writer, "scope:api/write"
);
policy_guard!(AdminOnly, "group:admin");
// A guard whose mistake only the policy compiler finds (a typo in the syntax fails the
// build: see the `policy_guard!` docs).
policy_guard!(Broken, "public or group:admin");

/// A user's own claims type with a custom attribute.
#[derive(Debug, Deserialize)]
struct TenantClaims {
    sub: String,
    #[serde(rename = "custom:tenant")]
    tenant: String,
    #[serde(default, rename = "custom:seats")]
    seats: Option<u32>,
}

fn authorizer(issuer: &LocalIssuer) -> Authorizer {
    issuer
        .authorizer_builder(AcceptedTokenUse::Any)
        .route("/public/{*rest}", Policy::public())
        .unmatched(Policy::authenticated())
        .build()
        .expect("authorizer")
}

/// The extractor routes; with `middleware` false the same app without `CognitoAuth`.
fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/tenant", web::get().to(tenant))
        .route("/cognito", web::get().to(cognito))
        .route("/id", web::get().to(id))
        .route("/access", web::get().to(access))
        .route("/groups", web::get().to(groups))
        .route("/scopes", web::get().to(scopes))
        .route("/token", web::get().to(token))
        .route("/extensions", web::get().to(extensions))
        .route("/write", web::post().to(write))
        .route("/admin", web::get().to(admin_only))
        .route("/broken", web::get().to(broken))
        .route("/public/optional", web::get().to(optional))
        .route("/public/option", web::get().to(option))
        .route("/public/claims", web::get().to(cognito))
        .route("/public/result", web::get().to(result));
}

fn app(
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
        .configure(routes)
}

async fn tenant(Claims(claims): Claims<TenantClaims>) -> String {
    format!(
        "{}:{}:{}",
        claims.sub,
        claims.tenant,
        claims.seats.unwrap_or_default()
    )
}

async fn cognito(claims: Claims) -> String {
    let username = claims
        .cognito_username
        .clone()
        .or_else(|| claims.username.clone());
    format!("cognito:{}", username.unwrap_or_default())
}

async fn id(token: IdToken) -> String {
    format!("id:{}", token.email().unwrap_or_default())
}

async fn access(token: AccessToken) -> String {
    format!("access:{}", token.client_id().unwrap_or_default())
}

async fn groups(groups: Groups) -> String {
    format!("groups:{}:{}", groups.join(","), groups.contains("admin"))
}

async fn scopes(scopes: Scopes) -> String {
    format!(
        "scopes:{}:{}",
        scopes.join(","),
        scopes.contains("api/write")
    )
}

async fn token(Verified(token): Verified) -> String {
    format!(
        "token:{}",
        token.token_use().map(|u| u.as_str()).unwrap_or("-")
    )
}

async fn extensions(request: HttpRequest) -> String {
    let extensions = request.extensions();
    let token = extensions.get::<Arc<VerifiedToken>>();
    format!(
        "extensions:{}",
        token.and_then(|t| t.username()).unwrap_or("-")
    )
}

async fn write(_: Writer, writer: Verified) -> String {
    format!("write:{}", writer.username().unwrap_or_default())
}

async fn admin_only(_: AdminOnly) -> &'static str {
    "admin"
}

async fn broken(_: Broken) -> &'static str {
    "unreachable"
}

async fn optional(OptionalClaims(claims): OptionalClaims) -> String {
    format!(
        "optional:{}",
        claims
            .and_then(|c| c.username.clone())
            .unwrap_or("-".to_owned())
    )
}

async fn option(claims: Option<Claims>) -> String {
    format!(
        "option:{}",
        claims
            .and_then(|c| c.into_inner().username)
            .unwrap_or("-".to_owned())
    )
}

async fn result(claims: Result<Claims, Rejection>) -> String {
    match claims {
        Ok(claims) => format!("result:{}", claims.username.as_deref().unwrap_or_default()),
        Err(rejection) => format!("result:{}:{}", rejection.status().as_u16(), rejection),
    }
}

fn forbidden() -> DenialResponse {
    DenialResponse::new(ErrorKind::Forbidden, &[], None)
}

fn missing() -> DenialResponse {
    DenialResponse::new(ErrorKind::MissingToken, &[], None)
}

#[actix_web::test]
async fn extractors_hand_out_claims_and_refuse_with_the_contract_responses() {
    let issuer = LocalIssuer::offline();
    let authorizer = authorizer(&issuer);
    let tenant_token = issuer
        .access_token()
        .username("ten")
        .subject("sub-ten")
        .claim("custom:tenant", "acme")
        .claim("custom:seats", 12)
        .sign();
    let user = issuer.access_token().username("bob").sign();
    let id_token = issuer
        .id_token()
        .username("ida")
        .email("ida@example.com")
        .sign();
    let writer = issuer
        .access_token()
        .username("wes")
        .groups(["staff", "admin"])
        .scopes(["api/write", "api/read"])
        .sign();
    let rows: Vec<Row> = vec![
        // typed claims with custom attributes; claims that do not fit → 403 forbidden
        row("GET", "/tenant")
            .bearer(&tenant_token)
            .status(200, Some("sub-ten:acme:12")),
        row("GET", "/tenant").bearer(&user).response(forbidden()),
        row("GET", "/tenant")
            .bearer(
                &issuer
                    .access_token()
                    .claim("custom:tenant", "acme")
                    .claim("custom:seats", "many")
                    .sign(),
            )
            .response(forbidden()),
        // the default claims type reads both kinds
        row("GET", "/cognito")
            .bearer(&user)
            .status(200, Some("cognito:bob")),
        row("GET", "/cognito")
            .bearer(&id_token)
            .status(200, Some("cognito:ida")),
        // id / access views refuse the other kind
        row("GET", "/id")
            .bearer(&id_token)
            .status(200, Some("id:ida@example.com")),
        row("GET", "/id").bearer(&user).response(forbidden()),
        row("GET", "/access")
            .bearer(&user)
            .status(200, Some("access:localclient123")),
        row("GET", "/access")
            .bearer(&id_token)
            .response(forbidden()),
        // groups, scopes, the raw token, the extensions
        row("GET", "/groups")
            .bearer(&writer)
            .status(200, Some("groups:staff,admin:true")),
        row("GET", "/groups")
            .bearer(&user)
            .status(200, Some("groups::false")),
        row("GET", "/scopes")
            .bearer(&writer)
            .status(200, Some("scopes:api/read,api/write:true")),
        row("GET", "/token")
            .bearer(&id_token)
            .status(200, Some("token:id")),
        row("GET", "/extensions")
            .bearer(&user)
            .status(200, Some("extensions:bob")),
        // the policy guard
        row("POST", "/write")
            .bearer(&writer)
            .status(200, Some("write:wes")),
        row("POST", "/write")
            .bearer(&user)
            .response(DenialResponse::new(
                ErrorKind::InsufficientScope,
                &["api/write".to_owned()],
                None,
            )),
        row("POST", "/write")
            .bearer(&id_token)
            .response(DenialResponse::new(
                ErrorKind::InsufficientScope,
                &["api/write".to_owned()],
                None,
            )),
        row("GET", "/admin")
            .bearer(&writer)
            .status(200, Some("admin")),
        row("GET", "/admin").bearer(&user).response(forbidden()),
        row("GET", "/broken")
            .bearer(&writer)
            .server_error(&["invalid policy guard", "public or group:admin"]),
        // public routes: optional claims with and without (valid or invalid) tokens
        row("GET", "/public/optional").status(200, Some("optional:-")),
        row("GET", "/public/optional")
            .bearer(&user)
            .status(200, Some("optional:bob")),
        row("GET", "/public/optional")
            .bearer("garbage")
            .status(200, Some("optional:-")),
        row("GET", "/public/option").status(200, Some("option:-")),
        row("GET", "/public/option")
            .bearer(&user)
            .status(200, Some("option:bob")),
        // a required extractor on a public route without a token: 401 missing_token
        row("GET", "/public/claims").response(missing()),
        row("GET", "/public/claims")
            .bearer(&user)
            .status(200, Some("cognito:bob")),
        row("GET", "/public/result").status(
            200,
            Some("result:401:missing_token: `Claims` needs a token and the request has none"),
        ),
    ];
    run_served!(
        "extractors",
        |authorizer: &Authorizer| app(authorizer.clone()),
        authorizer,
        rows
    );
    assert!(Writer::validate().is_ok());
    assert!(Broken::validate().is_err());
}

#[actix_web::test]
async fn without_the_middleware_extractors_answer_500_naming_it() {
    let issuer = LocalIssuer::offline();
    let user = issuer.access_token().username("bob").sign();
    let bare = || App::new().configure(routes);
    let names = |extractor: &'static str| vec![extractor, "CognitoAuth", ".wrap("];
    let rows: Vec<Row> = [
        ("/tenant", "Claims"),
        ("/cognito", "Claims"),
        ("/id", "IdToken"),
        ("/access", "AccessToken"),
        ("/groups", "Groups"),
        ("/scopes", "Scopes"),
        ("/token", "Verified"),
        ("/admin", "AdminOnly"),
        ("/public/optional", "OptionalClaims"),
    ]
    .into_iter()
    .map(|(path, extractor)| {
        row("GET", path)
            .bearer(&user)
            .server_error(&names(extractor))
    })
    .chain([
        // actix-web's `Option<T>` turns every rejection into `None`, this one too.
        row("GET", "/public/option")
            .bearer(&user)
            .status(200, Some("option:-")),
        // A handler that takes the `Result` sees the rejection.
        row("GET", "/public/result").status(
            200,
            Some(
                "result:500:cognito-authz: the `Claims` extractor needs the CognitoAuth \
                 middleware: add `.wrap(cognito_authz_actix::CognitoAuth::new(authorizer))` to \
                 the App, or `.wrap(cognito_authz_actix::require(&authorizer, \
                 \"authenticated\")?)` to the scope or resource of this route",
            ),
        ),
    ])
    .collect();
    let server = serve!(bare);
    run_table!("no middleware", bare(), server, rows);
    server.stop().await;
}

#[actix_web::test]
async fn extractor_challenges_carry_the_innermost_middlewares_realm() {
    let issuer = LocalIssuer::offline();
    let with_realm = |realm: Option<&str>| {
        let builder = issuer
            .authorizer_builder(AcceptedTokenUse::Any)
            .unmatched(Policy::authenticated());
        match realm {
            Some(realm) => builder.realm(realm),
            None => builder,
        }
        .build()
        .expect("authorizer")
    };
    let reader = issuer.access_token().scopes(["api/read"]).sign();
    // (outer realm, inner realm, the realm the `Writer` refusal must name)
    let cases = [
        (Some("outer"), None, None),
        (None, Some("inner"), Some("inner")),
        (Some("outer"), Some("inner"), Some("inner")),
        (None, None, None),
    ];
    for (outer, inner, expected) in cases {
        let app = actix_web::test::init_service(
            App::new()
                .wrap(CognitoAuth::new(with_realm(outer)))
                .service(
                    web::scope("/inner")
                        .wrap(CognitoAuth::new(with_realm(inner)))
                        .route("/write", web::post().to(write)),
                ),
        )
        .await;
        let request = actix_web::test::TestRequest::post()
            .uri("/inner/write")
            .insert_header(("authorization", format!("Bearer {reader}")))
            .to_request();
        let response = actix_web::test::call_service(&app, request).await;
        let case = format!("outer {outer:?}, inner {inner:?}");
        assert_eq!(response.status(), 403, "{case}");
        let challenge = DenialResponse::new(
            ErrorKind::InsufficientScope,
            &["api/write".to_owned()],
            expected,
        );
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .and_then(|value| value.to_str().ok()),
            challenge
                .www_authenticate()
                .and_then(|value| value.to_str().ok()),
            "{case}"
        );
    }
}
