//! Cedar policies on an axum app: owners read their own reports, auditors read tenant acme's.
//!
//! `cargo run --example cedar --features cedar` loads `examples/cedar-files` (a schema and
//! a policy folder, validated strictly at start-up), registers a resource loader for
//! `/reports/{id}` that returns each report with its `owner` and `tenant`, and sends a few
//! requests through the app with tokens from a local test pool, printing what each got.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use axum::Router;
use axum::body::Body;
use axum::extract::Path as UrlPath;
use axum::routing::get;
use cognito_authz::cedar::cedar_policy::{Entity, RestrictedExpression};
use cognito_authz::cedar::{CedarConfig, ResourceError, ResourceRequest};
use cognito_authz::{AcceptedTokenUse, Authorizer};
use cognito_authz_axum::AuthzLayer;
use cognito_authz_testkit::LocalIssuer;
use http::Request;
use tower::ServiceExt as _;

/// The report store: report id → (owner's `sub`, tenant).
fn report_row(id: &str) -> Option<(&'static str, &'static str)> {
    match id {
        "1" => Some(("alice-sub", "acme")),
        "2" => Some(("bob-sub", "acme")),
        "3" => Some(("bob-sub", "globex")),
        _ => None,
    }
}

/// The resource loader: the report entity with its owner and its tenant as parent.
async fn load_report(request: ResourceRequest) -> Result<Entity, ResourceError> {
    let id = request.path_parameter("id").unwrap_or_default().to_owned();
    let (owner_sub, tenant) =
        report_row(&id).ok_or_else(|| ResourceError::new(format!("no report {id}")))?;
    let pool = request
        .token()
        .issuer()
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let owner = request.uid("User", &format!("{pool}|{owner_sub}"))?;
    let attributes = HashMap::from([(
        "owner".to_owned(),
        RestrictedExpression::new_entity_uid(owner),
    )]);
    let parents = HashSet::from([request.uid("Tenant", tenant)?]);
    Entity::new(request.uid("Report", &id)?, attributes, parents)
        .map_err(|error| ResourceError::new(error.to_string()))
}

async fn report(UrlPath(id): UrlPath<String>) -> String {
    format!("report {id}")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cedar-files");
    let issuer = LocalIssuer::builder()
        .pool_id("us-east-1_Example1")
        .offline()?;
    let cedar = CedarConfig::new("Reports")
        .schema_file(files.join("reports.cedarschema"))
        .policies_folder(files.join("policies"))
        .build()?;
    let authorizer = Authorizer::builder()
        .verifier(issuer.verifier_builder(AcceptedTokenUse::Id).build()?)
        .cedar(cedar)
        .route("/reports/{id}", "authenticated and cedar".parse()?)
        .resource_loader("/reports/{id}", load_report)
        .build()?;
    let app = Router::new()
        .route("/reports/{id}", get(report))
        .layer(AuthzLayer::new(authorizer));

    let alice = issuer
        .id_token()
        .subject("alice-sub")
        .username("alice")
        .sign();
    let auditor = issuer
        .id_token()
        .subject("carol-sub")
        .groups(["auditors"])
        .sign();
    for (who, token, method, path) in [
        ("alice", &alice, "GET", "/reports/1"),
        ("alice", &alice, "HEAD", "/reports/1"),
        ("alice", &alice, "GET", "/reports/2"),
        ("auditor", &auditor, "GET", "/reports/2"),
        ("auditor", &auditor, "GET", "/reports/3"),
        ("auditor", &auditor, "HEAD", "/reports/2"),
        ("alice", &alice, "GET", "/reports/404"),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())?;
        let response = app.clone().oneshot(request).await?;
        println!("{who:8} {method:4} {path:13} -> {}", response.status());
    }
    Ok(())
}
