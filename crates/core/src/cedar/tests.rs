//! Cedar routes through the whole authorizer, with real signed tokens.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cedar_policy::{Entity, RestrictedExpression};
use cognito_authz_test_support::responses::bearer_headers;
use http::Method;
use serde_json::{Value, json};

use super::{CedarConfig, ResourceError, ResourceRequest};
use crate::test_tokens::{POOL_ID, issuer};
use crate::{Authorizer, Decision, ErrorKind, Policy};

pub(crate) const SCHEMA: &str = r#"namespace Reports {
  entity UserGroup;
  entity User in [UserGroup] {
    email?: String,
    "cognito:username"?: String,
    "custom:level"?: Long,
  };
  entity Tenant;
  entity Application;
  entity Report in [Tenant] { owner: User };
  action "get /reports/{id}" appliesTo {
    principal: User, resource: Report,
    context: { pathParameters: { id: String } }
  };
  action "get /open", "head /open", "options /open" appliesTo { principal: User, resource: Application };
  action "get /scoped" appliesTo {
    principal: User, resource: Application,
    context: { token: { scope: Set<String> } }
  };
  action "get /either" appliesTo { principal: User, resource: Application };
}
"#;

pub(crate) const POLICIES: &str = r#"@id("owner-reads")
permit(principal, action == Reports::Action::"get /reports/{id}", resource is Reports::Report)
when { resource.owner == principal };

@id("readers-open")
permit(
  principal in Reports::UserGroup::"us-east-1_Example1|readers",
  action in [Reports::Action::"get /open", Reports::Action::"head /open", Reports::Action::"options /open"],
  resource
);

@id("scoped")
permit(principal, action == Reports::Action::"get /scoped", resource)
when { context.token.scope.contains("api/read") };

@id("banned-users")
forbid(principal, action, resource)
when { principal has email && principal.email == "banned@example.com" };

@id("overflowing-forbid")
forbid(principal, action == Reports::Action::"get /open", resource)
when { principal has "custom:level" && principal["custom:level"] + 9223372036854775807 > 0 };
"#;

fn config() -> CedarConfig {
    CedarConfig::new("Reports")
        .schema_text("reports.cedarschema", SCHEMA)
        .policies_text("reports.cedar", POLICIES)
}

fn authorizer(loads: Arc<AtomicUsize>) -> Authorizer {
    let cedar = config().build().expect("valid Cedar set-up");
    Authorizer::builder()
        .verifier(issuer().verifier())
        .cedar(cedar)
        .route_methods(
            [Method::GET],
            "/reports/{id}",
            "authenticated and cedar".parse().expect("policy"),
        )
        .route_methods(
            [Method::GET, Method::HEAD, Method::OPTIONS],
            "/open",
            Policy::cedar(),
        )
        .route_methods([Method::GET], "/scoped", Policy::cedar())
        .route_methods(
            [Method::GET],
            "/either",
            "group:admin or cedar".parse().expect("policy"),
        )
        .resource_loader("/reports/{id}", move |request: ResourceRequest| {
            loads.fetch_add(1, Ordering::SeqCst);
            async move { report(&request) }
        })
        .build()
        .expect("valid authorizer")
}

/// Report 1 belongs to the test user, report 2 to someone else; others do not exist.
fn report(request: &ResourceRequest) -> Result<Entity, ResourceError> {
    let id = request
        .path_parameter("id")
        .ok_or_else(|| ResourceError::new("no id"))?;
    let owner = match id {
        "1" => format!("{POOL_ID}|user-sub-1"),
        "2" => format!("{POOL_ID}|someone-else"),
        _ => return Err(ResourceError::new(format!("no report {id}"))),
    };
    let attributes = HashMap::from([(
        "owner".to_owned(),
        RestrictedExpression::new_entity_uid(request.uid("User", &owner)?),
    )]);
    let parents = HashSet::from([request.uid("Tenant", "acme")?]);
    Entity::new(request.uid("Report", id)?, attributes, parents)
        .map_err(|error| ResourceError::new(error.to_string()))
}

async fn decide(authorizer: &Authorizer, method: Method, path: &str, token: &str) -> Decision {
    authorizer
        .authorize(&method, path, &bearer_headers(token))
        .await
}

fn assert_forbidden(decision: &Decision, reason_part: &str) {
    let Decision::Deny(denial) = decision else {
        panic!("expected a denial, got {decision:?}")
    };
    assert_eq!(denial.kind(), ErrorKind::Forbidden, "{denial}");
    assert_eq!(denial.status(), 403);
    assert!(denial.reason().contains(reason_part), "{}", denial.reason());
    // The response never names a policy.
    let response = denial.response();
    assert_eq!(
        response.www_authenticate().map(|value| value.as_bytes()),
        Some(&b"Bearer error=\"insufficient_scope\""[..])
    );
}

#[tokio::test]
async fn owner_only_report_access_through_the_resource_loader() {
    let loads = Arc::new(AtomicUsize::new(0));
    let authorizer = authorizer(Arc::clone(&loads));
    let token = issuer().id_token(&[], json!({}));
    let own = decide(&authorizer, Method::GET, "/reports/1", &token).await;
    assert!(own.is_allowed(), "{own:?}");
    let other = decide(&authorizer, Method::GET, "/reports/2", &token).await;
    assert_forbidden(&other, "cedar: denied (no policy permits it)");
    let missing = decide(&authorizer, Method::GET, "/reports/9", &token).await;
    assert_forbidden(&missing, "the resource loader failed: no report 9");
    assert_eq!(loads.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn group_membership_comes_from_cognito_groups_and_forbid_wins() {
    let authorizer = authorizer(Arc::default());
    let reader = issuer().id_token(&["readers"], json!({}));
    let allowed = decide(&authorizer, Method::GET, "/open", &reader).await;
    assert!(allowed.is_allowed(), "{allowed:?}");
    let stranger = issuer().id_token(&["writers"], json!({}));
    assert_forbidden(
        &decide(&authorizer, Method::GET, "/open", &stranger).await,
        "no policy permits it",
    );
    let banned = issuer().id_token(&["readers"], json!({"email": "banned@example.com"}));
    assert_forbidden(
        &decide(&authorizer, Method::GET, "/open", &banned).await,
        "cedar: forbidden by banned-users",
    );
}

#[tokio::test]
async fn an_erroring_forbid_denies_although_a_permit_holds() {
    let authorizer = authorizer(Arc::default());
    let erroring = issuer().id_token(&["readers"], json!({"custom:level": 1}));
    assert_forbidden(
        &decide(&authorizer, Method::GET, "/open", &erroring).await,
        "a policy errored",
    );
}

#[tokio::test]
async fn access_token_scopes_are_a_set_in_the_context() {
    let authorizer = authorizer(Arc::default());
    let reading = issuer().access_token("openid api/read", &[], json!({}));
    assert!(
        decide(&authorizer, Method::GET, "/scoped", &reading)
            .await
            .is_allowed()
    );
    let writing = issuer().access_token("api/write", &[], json!({}));
    assert_forbidden(
        &decide(&authorizer, Method::GET, "/scoped", &writing).await,
        "no policy permits it",
    );
    // An id token has no `context.token`: the policy errors, and the request is denied.
    let id = issuer().id_token(&[], json!({}));
    assert_forbidden(
        &decide(&authorizer, Method::GET, "/scoped", &id).await,
        "a policy errored",
    );
}

#[tokio::test]
async fn head_and_options_are_decided_under_their_own_actions() {
    let authorizer = authorizer(Arc::default());
    let reader = issuer().id_token(&["readers"], json!({}));
    for method in [Method::HEAD, Method::OPTIONS] {
        let decision = decide(&authorizer, method.clone(), "/open", &reader).await;
        assert!(decision.is_allowed(), "{method}: {decision:?}");
    }
    let stranger = issuer().id_token(&[], json!({}));
    for method in [Method::HEAD, Method::OPTIONS] {
        assert_forbidden(
            &decide(&authorizer, method, "/open", &stranger).await,
            "no policy permits it",
        );
    }
}

#[tokio::test]
async fn an_expression_that_allows_alone_never_asks_cedar() {
    let authorizer = authorizer(Arc::default());
    let admin = issuer().id_token(&["admin"], json!({}));
    assert!(
        decide(&authorizer, Method::GET, "/either", &admin)
            .await
            .is_allowed()
    );
    let user = issuer().id_token(&[], json!({}));
    assert_forbidden(
        &decide(&authorizer, Method::GET, "/either", &user).await,
        "no policy permits it",
    );
}

#[tokio::test]
async fn entities_are_built_once_per_cached_token() {
    let cedar = config().build().expect("valid");
    let verifier = crate::Verifier::builder()
        .issuer(issuer().config())
        .clock(crate::FixedClock(std::time::Duration::from_secs(
            crate::test_tokens::NOW,
        )))
        .verified_token_cache(16)
        .build()
        .expect("verifier");
    let authorizer = Authorizer::builder()
        .verifier(verifier)
        .cedar(cedar)
        .route_methods([Method::GET], "/open", Policy::cedar())
        .build()
        .expect("authorizer");
    let token = issuer().id_token(&["readers"], json!({}));
    let first = decide(&authorizer, Method::GET, "/open", &token).await;
    let second = decide(&authorizer, Method::GET, "/open", &token).await;
    let (first, second) = (
        first.token().expect("allowed"),
        second.token().expect("allowed"),
    );
    let built = first.cedar.get().expect("entities kept with the token");
    let again = second.cedar.get().expect("entities kept with the token");
    assert!(Arc::ptr_eq(&built, &again));
}

#[test]
fn entities_follow_the_avp_mapping() {
    let cedar = config().build().expect("valid");
    let verifier = issuer().verifier();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let id = issuer().id_token(
        &["readers", "team blue"],
        json!({"custom:tenant": "acme", "ratio": 1.5}),
    );
    let id = runtime.block_on(verifier.verify(&id)).expect("valid");
    let json = cedar.entities_json(&id).expect("entities");
    assert_eq!(
        json["principal"],
        json!({"type": "Reports::User", "id": format!("{POOL_ID}|user-sub-1")})
    );
    let principal = &json["entities"]
        .as_array()
        .expect("array")
        .iter()
        .find(|entity| entity["uid"]["type"] == "Reports::User")
        .expect("principal entity")
        .clone();
    assert_eq!(principal["attrs"]["cognito:username"], "alice");
    assert_eq!(principal["attrs"]["custom:tenant"], "acme");
    assert_eq!(principal["attrs"]["email"], "alice@example.com");
    assert!(
        principal["attrs"].get("ratio").is_none(),
        "floats are left out"
    );
    let mut parents: Vec<String> = principal["parents"]
        .as_array()
        .expect("parents")
        .iter()
        .map(|parent| {
            format!(
                "{}::{}",
                parent["type"].as_str().unwrap_or(""),
                parent["id"]
            )
        })
        .collect();
    parents.sort();
    assert_eq!(
        parents,
        [
            format!("Reports::UserGroup::\"{POOL_ID}|readers\""),
            format!("Reports::UserGroup::\"{POOL_ID}|team blue\""),
        ]
    );
    assert!(json["context"].get("token").is_none());

    let access = issuer().access_token("openid api/read", &["readers"], json!({}));
    let access = runtime.block_on(verifier.verify(&access)).expect("valid");
    let json = cedar.entities_json(&access).expect("entities");
    let mut scopes: Vec<&str> = json["context"]["token"]["scope"]
        .as_array()
        .expect("a set")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    scopes.sort_unstable();
    assert_eq!(scopes, ["api/read", "openid"]);
    assert_eq!(
        json["context"]["token"]["client_id"],
        crate::test_tokens::CLIENT_ID
    );
    assert_eq!(json["context"]["pathParameters"], json!({}));
}

#[test]
fn start_up_refuses_what_could_not_decide() {
    // A policy that does not type-check is located in its file.
    let bad = config()
        .policies_text(
            "bad.cedar",
            "permit(principal, action, resource)\nwhen { principal.nickname == \"x\" };",
        )
        .build()
        .expect_err("does not validate");
    assert_eq!(bad.file.as_deref(), Some("bad.cedar"));
    assert_eq!(bad.line, 2, "{bad}");
    assert!(bad.column > 1, "{bad}");
    // A parse error too.
    let unparsable = config()
        .policies_text(
            "syntax.cedar",
            "permit(principal, action, resource)\n  when { ;",
        )
        .build()
        .expect_err("does not parse");
    assert_eq!(
        (unparsable.file.as_deref(), unparsable.line),
        (Some("syntax.cedar"), 2)
    );
    // No schema.
    assert!(
        CedarConfig::new("Reports")
            .policies_text("p.cedar", POLICIES)
            .build()
            .is_err()
    );
    // A route whose action the schema does not declare.
    let undeclared = Authorizer::builder()
        .verifier(issuer().verifier())
        .cedar(config().build().expect("valid"))
        .route_methods([Method::POST], "/open", Policy::cedar())
        .build()
        .expect_err("post /open is not declared");
    assert!(
        undeclared.to_string().contains("\"post /open\""),
        "{undeclared}"
    );
    // `cedar` without a set-up, and under `not`.
    let unset = Authorizer::builder()
        .verifier(issuer().verifier())
        .route("/x", Policy::cedar())
        .build()
        .expect_err("no Cedar set-up");
    assert!(unset.to_string().contains("no Cedar set-up"), "{unset}");
    let negated = Authorizer::builder()
        .verifier(issuer().verifier())
        .cedar(config().build().expect("valid"))
        .route("/x", "not cedar".parse().expect("parses"))
        .build()
        .expect_err("negated");
    assert!(negated.to_string().contains("under `not`"), "{negated}");
    // A loader for a route that does not use Cedar.
    let stray = Authorizer::builder()
        .verifier(issuer().verifier())
        .cedar(config().build().expect("valid"))
        .route("/x", Policy::authenticated())
        .resource_loader("/x", |_request: ResourceRequest| async {
            Err::<Entity, _>(ResourceError::new("unused"))
        })
        .build()
        .expect_err("stray loader");
    assert!(stray.to_string().contains("resource loader"), "{stray}");
}

#[test]
fn policy_file_section_loads_relative_files_and_names_actions() {
    let folder = std::env::temp_dir().join(format!("cognito-authz-cedar-{}", std::process::id()));
    std::fs::create_dir_all(folder.join("policies")).expect("folder");
    std::fs::write(folder.join("reports.cedarschema"), SCHEMA).expect("write");
    std::fs::write(folder.join("policies/reports.cedar"), POLICIES).expect("write");
    let text = format!(
        r#"
[[issuer]]
name = "main"
user_pool_id = "{POOL_ID}"
client_ids = ["{client}"]
token_use = "any"
jwks_file = "{jwks}"

[cedar]
namespace = "Reports"
schema = "reports.cedarschema"
policies = ["policies"]

[cedar.actions]
"GET /documents/{{id}}" = "get /reports/{{id}}"

[[route]]
path = "/documents/{{id}}"
methods = ["GET"]
require = "cedar"
"#,
        client = crate::test_tokens::CLIENT_ID,
        jwks = issuer().jwks_path().display(),
    );
    let authorizer = Authorizer::builder()
        .policy_text(&text, &folder)
        .build()
        .expect("loads");
    let cedar = authorizer.cedar().expect("cedar");
    assert_eq!(
        cedar.action_name(&Method::GET, "/documents/{id}"),
        "get /reports/{id}"
    );
    assert!(cedar.policy_ids().contains(&"owner-reads".to_owned()));

    std::fs::write(
        folder.join("policies/zz-bad.cedar"),
        "permit(principal, action, resource)\nwhen { resource.nope };",
    )
    .expect("write");
    let error = Authorizer::builder()
        .policy_text(&text, &folder)
        .build()
        .expect_err("bad policy");
    let file = error
        .location()
        .map(crate::Location::file)
        .unwrap_or_default();
    assert!(file.ends_with("zz-bad.cedar"), "{error}");
    assert_eq!(error.line(), 2, "{error}");
    let _ = std::fs::remove_dir_all(&folder);
}
