//! Per-scope and per-resource policies, start-up failures, the replaceable responder, realms
//! and preflights (decided like any request).

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpRequest, HttpResponse, web};
use cognito_authz_actix::{Claims, CognitoAuth};
use cognito_authz_core::GuardErrorKind;
use cognito_authz_core::{AcceptedTokenUse, Authorizer, Denial, DenialResponse, ErrorKind, Policy};
use cognito_authz_test_support::contract;
use cognito_authz_testkit::LocalIssuer;

use crate::support::{Expectations as _, Row, row, run_served};

const POLICY_FILE: &str = r#"
[[issuer]]
name = "main"
user_pool_id = "us-east-1_LocalTest1"
client_ids = ["localclient123"]
token_use = "access"
jwks_file = "jwks.json"

[defaults]
unmatched = "authenticated"

[policies]
admin = "group:admin"

[[route]]
path = "/health"
require = "public"
"#;

/// The file's authorizer with the local issuer's key set written next to it, on its clock.
fn file_authorizer(issuer: &LocalIssuer, folder: &std::path::Path) -> Authorizer {
    std::fs::write(folder.join("jwks.json"), issuer.jwks_json()).expect("write keys");
    Authorizer::builder()
        .clock(issuer.manual_clock().expect("manual").clone())
        .policy_text(POLICY_FILE, folder)
        .build()
        .unwrap_or_else(|error| panic!("{error}"))
}

fn temp_folder(name: &str) -> std::path::PathBuf {
    let folder =
        std::env::temp_dir().join(format!("cognito-authz-actix-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("folder");
    folder
}

/// No middleware at the root: `/open` is open, `/api` needs `scope:api/write`, the `/admin`
/// resource needs the file's named policy `admin`.
fn scoped_app(
    authorizer: &Authorizer,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<BoxBody>,
        Error = actix_web::Error,
        InitError = (),
    > + use<>,
> {
    App::new()
        .route("/open", web::get().to(|| async { "open" }))
        .service(
            web::scope("/api")
                .wrap(cognito_authz_actix::require(authorizer, "scope:api/write").expect("valid"))
                .route("/items", web::post().to(who)),
        )
        .service(
            web::resource("/admin")
                .wrap(cognito_authz_actix::require(authorizer, "policy:admin").expect("valid"))
                .route(web::get().to(who)),
        )
        .service(
            web::scope("/public")
                .wrap(cognito_authz_actix::require(authorizer, "public").expect("valid"))
                .route("/hello", web::get().to(|| async { "hello" })),
        )
}

async fn who(Claims(claims): Claims) -> String {
    format!("who:{}", claims.username.as_deref().unwrap_or_default())
}

#[actix_web::test]
async fn a_policy_per_scope_or_resource_answers_like_the_core() {
    let issuer = LocalIssuer::offline();
    let folder = temp_folder("scoped");
    let authorizer = file_authorizer(&issuer, &folder);
    let writes = authorizer
        .with_policy(&"scope:api/write".parse().expect("policy"))
        .expect("compiles");
    let admins = authorizer
        .with_policy(&Policy::named("admin"))
        .expect("compiles");
    let user = contract::user(&issuer);
    let writer = issuer
        .access_token()
        .username("wes")
        .scopes(["api/write"])
        .sign();
    let admin = contract::admin(&issuer);
    let rows: Vec<Row> = vec![
        row("GET", "/open").status(200, Some("open")),
        row("POST", "/api/items").denied("missing_token", &writes),
        row("POST", "/api/items")
            .bearer(&user)
            .denied("insufficient_scope", &writes),
        row("POST", "/api/items")
            .bearer("x.y.z")
            .denied("malformed_token", &writes),
        row("POST", "/api/items")
            .bearer(&writer)
            .status(200, Some("who:wes")),
        row("GET", "/admin")
            .bearer(&writer)
            .denied("forbidden", &admins),
        row("GET", "/admin")
            .bearer(&admin)
            .status(200, Some("who:alice")),
        row("GET", "/public/hello").status(200, Some("hello")),
        row("GET", "/public/hello")
            .bearer("garbage")
            .status(200, Some("hello")),
    ];
    run_served!("per scope", scoped_app, authorizer, rows);
    let _ = std::fs::remove_dir_all(folder);
}

#[actix_web::test]
async fn root_and_scope_middleware_both_apply() {
    let issuer = LocalIssuer::offline();
    let folder = temp_folder("nested");
    let authorizer = file_authorizer(&issuer, &folder);
    let admins = authorizer
        .with_policy(&Policy::named("admin"))
        .expect("compiles");
    let user = contract::user(&issuer);
    let admin = contract::admin(&issuer);
    let nested = |authorizer: &Authorizer| {
        App::new()
            .wrap(CognitoAuth::new(authorizer.clone()))
            .route("/health", web::get().to(|| async { "ok" }))
            .service(
                web::scope("/admin")
                    .wrap(
                        authorizer
                            .with_policy(&Policy::named("admin"))
                            .map(CognitoAuth::new)
                            .expect("valid"),
                    )
                    .route("/users", web::get().to(who)),
            )
    };
    let rows: Vec<Row> = vec![
        row("GET", "/health").status(200, Some("ok")),
        // the root (unmatched → authenticated) refuses first
        row("GET", "/admin/users").denied("missing_token", &authorizer),
        row("GET", "/admin/users")
            .bearer(&user)
            .denied("forbidden", &admins),
        row("GET", "/admin/users")
            .bearer(&admin)
            .status(200, Some("who:alice")),
    ];
    run_served!("nested", nested, authorizer, rows);
    let _ = std::fs::remove_dir_all(folder);
}

#[test]
fn bad_policies_fail_at_start_up_with_their_position() {
    let issuer = LocalIssuer::offline();
    let folder = temp_folder("startup");
    let authorizer = file_authorizer(&issuer, &folder);

    let error =
        cognito_authz_actix::require(&authorizer, "group:admin and").expect_err("incomplete");
    assert!(matches!(error.kind(), GuardErrorKind::Parse), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("group:admin and"), "{message}");
    assert!(message.contains("column"), "{message}");

    let error = cognito_authz_actix::require(&authorizer, "policy:nope").expect_err("unknown name");
    assert!(matches!(error.kind(), GuardErrorKind::Compile), "{error:?}");
    assert!(error.to_string().contains("nope"), "{error}");

    let error =
        cognito_authz_actix::require(&authorizer, "public or group:x").expect_err("combined");
    assert!(matches!(error.kind(), GuardErrorKind::Compile), "{error:?}");

    assert!(
        &authorizer
            .with_policy(&Policy::named("nope"))
            .map(CognitoAuth::new)
            .is_err()
    );
    assert!(cognito_authz_actix::require(&authorizer, "policy:admin and scope:api/read").is_ok());

    // A bad route policy in the file fails when the authorizer loads, with its line.
    let broken = POLICY_FILE.replace("require = \"public\"", "require = \"group:\"");
    let error = Authorizer::builder()
        .jwks_file(folder.join("jwks.json"))
        .policy_text(&broken, &folder)
        .build()
        .expect_err("bad route policy");
    assert!(error.line() > 0, "{error}");
    let _ = std::fs::remove_dir_all(folder);
}

#[actix_web::test]
async fn the_responder_is_replaceable_and_the_handler_is_not_called() {
    let issuer = LocalIssuer::offline();
    let authorizer = issuer
        .authorizer_builder(AcceptedTokenUse::Access)
        .unmatched(Policy::group("admin"))
        .build()
        .expect("authorizer");
    let responder = |denial: &Denial, request: &HttpRequest| {
        let core = denial.response();
        HttpResponse::build(actix_web::http::StatusCode::IM_A_TEAPOT)
            .insert_header(("x-authz-error", denial.code()))
            .insert_header(("x-core-status", core.status().as_str()))
            .body(format!("{} {}", request.path(), denial.code()))
    };
    let app = actix_web::test::init_service(
        App::new()
            .wrap(CognitoAuth::new(authorizer).responder(responder))
            .route("/x", web::get().to(|| async { "handler" })),
    )
    .await;
    let user = issuer.access_token().sign();
    let request = actix_web::test::TestRequest::get()
        .uri("/x")
        .insert_header(("authorization", format!("Bearer {user}")))
        .to_request();
    let response = actix_web::test::call_service(&app, request).await;
    assert_eq!(response.status(), 418);
    assert_eq!(
        response.headers().get("x-authz-error").expect("h"),
        "forbidden"
    );
    assert_eq!(response.headers().get("x-core-status").expect("h"), "403");
    assert_eq!(actix_web::test::read_body(response).await, "/x forbidden");
}

#[actix_web::test]
async fn a_realm_reaches_middleware_and_extractor_challenges() {
    let issuer = LocalIssuer::offline();
    let authorizer = issuer
        .authorizer_builder(AcceptedTokenUse::Access)
        .realm("my api")
        .route("/public", Policy::public())
        .unmatched(Policy::authenticated())
        .build()
        .expect("authorizer");
    let make = |authorizer: &Authorizer| {
        App::new()
            .wrap(CognitoAuth::new(authorizer.clone()))
            .route("/public", web::get().to(who))
            .route("/private", web::get().to(who))
    };
    let rows: Vec<Row> = vec![
        row("GET", "/private").denied("missing_token", &authorizer),
        row("GET", "/public").response(DenialResponse::new(
            ErrorKind::MissingToken,
            &[],
            Some("my api"),
        )),
    ];
    run_served!("realm", make, authorizer, rows);
    let response = DenialResponse::new(ErrorKind::MissingToken, &[], Some("my api"));
    assert_eq!(
        response.www_authenticate().expect("challenge"),
        r#"Bearer realm="my api""#
    );
}

#[actix_web::test]
async fn preflights_are_decided_like_any_request() {
    let issuer = LocalIssuer::offline();
    let strict = issuer
        .authorizer_builder(AcceptedTokenUse::Access)
        .unmatched(Policy::authenticated())
        .build()
        .expect("authorizer");
    let make = |authorizer: &Authorizer| {
        App::new()
            .wrap(CognitoAuth::new(authorizer.clone()))
            .route("/x", web::route().to(|| async { "x" }))
    };
    let rows: Vec<Row> = vec![
        row("OPTIONS", "/x")
            .header("access-control-request-method", "GET")
            .denied("missing_token", &strict),
    ];
    run_served!("strict preflight", make, strict, rows);
}

#[test]
fn middleware_is_send_clone_and_debug() {
    fn send_sync_clone<T: Send + Sync + Clone + std::fmt::Debug>(_: &T) {}
    let issuer = LocalIssuer::offline();
    let authorizer = issuer
        .authorizer_builder(AcceptedTokenUse::Access)
        .unmatched(Policy::authenticated())
        .build()
        .expect("authorizer");
    let middleware = CognitoAuth::new(authorizer)
        .responder(|d: &Denial, _: &HttpRequest| cognito_authz_actix::http_response(&d.response()));
    send_sync_clone(&middleware);
    let debug = format!("{middleware:?}");
    assert!(
        debug.contains("CognitoAuth") && debug.contains("responder"),
        "{debug}"
    );
}
