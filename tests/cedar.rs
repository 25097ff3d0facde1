//! Cedar routes (feature `cedar`) with real components:
//!
//! - owner-only report access through a resource loader, on a real axum server and a real
//!   actix-web server on 127.0.0.1, requests written as raw bytes, handlers saying which route
//!   ran; HEAD and OPTIONS decided under their own actions (never skipped);
//! - decisions compared with an independent evaluator, `cedarpy` (PyPI), on the same entities,
//!   requests and policies, permit, forbid and erroring rows included (an error anywhere must
//!   deny here, though Cedar itself skips the erroring policy);
//! - the schema generated from an OpenAPI document compared with AWS's own generator
//!   (`@cedar-policy/cedar-authorization generate-schema`, npm) and with the golden file;
//! - the Amazon Verified Permissions documentation's example policies (group RBAC, `custom:`
//!   attributes, access-token scopes), each decided as AVP's documentation says.
//!
//! `scripts/test.sh` installs cedarpy into `target/tools-venv` and the npm package into
//! `target/npm` and passes them through `COGNITO_AUTHZ_TOOLS_PYTHON` and
//! `COGNITO_AUTHZ_NODE_MODULES`; without them these tests fail (a comparison that skips itself
//! proves nothing).

use std::collections::{HashMap, HashSet};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use cognito_authz::cedar::cedar_policy::{Entity, RestrictedExpression};
use cognito_authz::cedar::{CedarConfig, ResourceError, ResourceRequest};
use cognito_authz::{
    AcceptedTokenUse, Authorizer, AuthorizerBuilder, Decision, Policy, VerifiedToken,
};
use cognito_authz_test_support::responses::bearer_headers;
use cognito_authz_test_support::tools;
use cognito_authz_testkit::LocalIssuer;
use http::Method;
use serde_json::{Value, json};

const SCHEMA: &str = r#"namespace Reports {
  entity UserGroup;
  entity User in [UserGroup] {
    email?: String,
    "cognito:username"?: String,
    "custom:level"?: Long,
    "custom:tenant"?: String,
  };
  entity Tenant;
  entity Application;
  entity Report in [Tenant] { owner: User };
  action "get /reports/{id}", "head /reports/{id}", "options /reports/{id}" appliesTo {
    principal: User, resource: Report,
    context: { pathParameters: { id: String } }
  };
  action "get /open", "head /open" appliesTo { principal: User, resource: Application };
  action "get /scoped" appliesTo {
    principal: User, resource: Application,
    context: { token: { scope: Set<String>, client_id: String } }
  };
  action "get /search" appliesTo {
    principal: User, resource: Application,
    context: { queryStringParameters: { view?: String } }
  };
  action "get /tenants/{tenant}" appliesTo {
    principal: User, resource: Application,
    context: { pathParameters: { tenant: String } }
  };
}
"#;

const POLICIES: &str = r#"@id("owner-reads")
permit(
  principal,
  action in [Reports::Action::"get /reports/{id}", Reports::Action::"head /reports/{id}"],
  resource is Reports::Report
) when { resource.owner == principal };

@id("readers-open")
permit(principal in Reports::UserGroup::"POOL|readers",
       action in [Reports::Action::"get /open", Reports::Action::"head /open"], resource);

@id("scoped")
permit(principal, action == Reports::Action::"get /scoped", resource)
when { context.token.scope.contains("api/read") };

@id("search-full-view")
permit(principal, action == Reports::Action::"get /search", resource)
when { context.queryStringParameters has view && context.queryStringParameters.view == "full" };

@id("own-tenant")
permit(principal, action == Reports::Action::"get /tenants/{tenant}", resource)
when { principal has "custom:tenant" && principal["custom:tenant"] == context.pathParameters.tenant };

@id("banned-users")
forbid(principal, action, resource)
when { principal has email && principal.email == "banned@example.com" };

@id("overflowing-forbid")
forbid(principal, action, resource)
when { principal has "custom:level" && principal["custom:level"] + 9223372036854775807 > 0 };
"#;

/// The test pool's policies, with its id in the group names.
fn policies(issuer: &LocalIssuer) -> String {
    POLICIES.replace("POOL", issuer.pool_id())
}

fn cedar(issuer: &LocalIssuer) -> cognito_authz::cedar::Cedar {
    CedarConfig::new("Reports")
        .schema_text("reports.cedarschema", SCHEMA)
        .policies_text("reports.cedar", policies(issuer))
        .build()
        .expect("the test policies validate")
}

/// Report 1 is the user `owner-sub`'s, report 2 someone else's; others do not exist.
fn load_report(request: &ResourceRequest) -> Result<Entity, ResourceError> {
    let id = request
        .path_parameter("id")
        .ok_or_else(|| ResourceError::new("no id"))?;
    let pool = request
        .principal()
        .id()
        .unescaped()
        .split('|')
        .next()
        .unwrap_or_default()
        .to_owned();
    let owner = match id {
        "1" => format!("{pool}|owner-sub"),
        "2" => format!("{pool}|someone-else"),
        _ => return Err(ResourceError::new(format!("no report {id}"))),
    };
    Entity::new(
        request.uid("Report", id)?,
        HashMap::from([(
            "owner".to_owned(),
            RestrictedExpression::new_entity_uid(request.uid("User", &owner)?),
        )]),
        HashSet::from([request.uid("Tenant", "acme")?]),
    )
    .map_err(|error| ResourceError::new(error.to_string()))
}

fn authorizer(issuer: &LocalIssuer) -> Authorizer {
    let all = [Method::GET, Method::HEAD, Method::OPTIONS];
    issuer
        .authorizer_builder(AcceptedTokenUse::Any)
        .cedar(cedar(issuer))
        .route_methods(
            all,
            "/reports/{id}",
            "authenticated and cedar".parse().expect("policy"),
        )
        .route_methods([Method::GET, Method::HEAD], "/open", Policy::cedar())
        .route_methods([Method::GET], "/scoped", Policy::cedar())
        .route_methods([Method::GET], "/search", Policy::cedar())
        .route_methods([Method::GET], "/tenants/{tenant}", Policy::cedar())
        .resource_loader("/reports/{id}", |request: ResourceRequest| async move {
            load_report(&request)
        })
        .build()
        .expect("authorizer")
}

/// Sends `request` as raw bytes and answers the status and body.
fn raw(address: SocketAddr, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("write");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn request(method: &str, target: &str, token: Option<&str>) -> String {
    let authorization = token
        .map(|token| format!("Authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{authorization}Connection: close\r\n\r\n"
    )
}

async fn report_axum(axum::extract::Path(id): axum::extract::Path<String>) -> String {
    format!("route=/reports/{{id}} id={id}")
}

async fn report_actix(path: actix_web::web::Path<String>) -> String {
    format!("route=/reports/{{id}} id={}", path.into_inner())
}

#[actix_web::test]
async fn owner_only_reports_through_the_resource_loader_on_axum_and_actix() {
    let issuer = LocalIssuer::start().await.expect("issuer");
    let owner = issuer.id_token().subject("owner-sub").sign();
    let stranger = issuer.id_token().subject("stranger-sub").sign();

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let axum_address = listener.local_addr().expect("address");
    listener.set_nonblocking(true).expect("nonblocking");
    let router = axum::Router::new()
        .route(
            "/reports/{id}",
            axum::routing::get(report_axum).options(report_axum),
        )
        .layer(cognito_authz_axum::AuthzLayer::new(authorizer(&issuer)));
    let axum_server = tokio::spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
        axum::serve(listener, router).await.expect("axum serves");
    });

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let actix_address = listener.local_addr().expect("address");
    let actix_authorizer = authorizer(&issuer);
    let actix_server = crate::serve::spawn_actix!(listener, move || {
        actix_web::App::new()
            .wrap(cognito_authz_actix::CognitoAuth::new(
                actix_authorizer.clone(),
            ))
            .service(
                actix_web::web::resource("/reports/{id}")
                    .route(actix_web::web::get().to(report_actix))
                    .route(actix_web::web::head().to(report_actix))
                    .route(
                        actix_web::web::route()
                            .method(actix_web::http::Method::OPTIONS)
                            .to(report_actix),
                    ),
            )
    });

    let rows: Vec<(&str, &str, Option<&str>, u16, &str)> = vec![
        (
            "GET",
            "/reports/1",
            Some(&owner),
            200,
            "route=/reports/{id} id=1",
        ),
        (
            "GET",
            "/reports/%31",
            Some(&owner),
            200,
            "route=/reports/{id} id=1",
        ),
        (
            "GET",
            "/reports/1?as=admin&as=owner",
            Some(&owner),
            200,
            "route=/reports/{id} id=1",
        ),
        ("GET", "/reports/2", Some(&owner), 403, ""),
        ("GET", "/reports/1", Some(&stranger), 403, ""),
        ("GET", "/reports/9", Some(&owner), 403, ""),
        ("GET", "/reports/1", None, 401, ""),
        ("HEAD", "/reports/1", Some(&owner), 200, ""),
        ("HEAD", "/reports/1", Some(&stranger), 403, ""),
        ("HEAD", "/reports/2", Some(&owner), 403, ""),
        // OPTIONS is its own action, which no policy permits: even the owner is refused.
        ("OPTIONS", "/reports/1", Some(&owner), 403, ""),
    ];
    let mut failures = Vec::new();
    for (name, address) in [("axum", axum_address), ("actix", actix_address)] {
        for (method, target, token, status, body) in &rows {
            let (got_status, got_body) = tokio::task::spawn_blocking({
                let request = request(method, target, *token);
                move || raw(address, &request)
            })
            .await
            .expect("client");
            // A HEAD answer has no body.
            let body_ok = if *method == "HEAD" {
                got_body.is_empty()
            } else if *status == 403 {
                got_body.contains("Forbidden") && !got_body.contains("owner-reads")
            } else {
                body.is_empty() || got_body.contains(body)
            };
            if got_status != *status || !body_ok {
                failures.push(format!(
                    "{name}: {method} {target} (token: {}) -> {got_status} {got_body:?}, expected {status} {body:?}",
                    token.map_or("none", |t| if *t == owner { "owner" } else { "stranger" })
                ));
            }
        }
    }
    axum_server.abort();
    actix_server.stop(false).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// One differential row: the request's method, path and query, and the token.
struct Row {
    method: Method,
    route: &'static str,
    path: &'static str,
    query: Option<&'static str>,
    token: Arc<VerifiedToken>,
}

/// AWS's Cedar schema generator, inside the npm folder `scripts/test.sh` fills.
const CEDAR_GENERATOR: &str = "@cedar-policy/cedar-authorization/dist/bin.js";

/// Decides every case with cedarpy; answers (allowed, errored) per case.
fn cedarpy_decisions(cases: &Value) -> Vec<(bool, bool)> {
    let script = r#"
import json, sys, cedarpy
cases = json.load(sys.stdin)
out = []
for case in cases:
    result = cedarpy.is_authorized(case["request"], case["policies"], case["entities"])
    errors = list(result.diagnostics.errors) if result.diagnostics is not None else []
    out.append({"allowed": result.decision == cedarpy.Decision.Allow, "errored": len(errors) > 0})
print(json.dumps(out))
"#;
    let mut python = Command::new(tools::tools_python());
    python.args(["-c", script]);
    let output = tools::output_with_input(python, cases.to_string().as_bytes());
    assert!(
        output.status.success(),
        "cedarpy failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Vec<Value> = serde_json::from_slice(&output.stdout).expect("JSON answers");
    answers
        .iter()
        .map(|answer| (answer["allowed"] == true, answer["errored"] == true))
        .collect()
}

fn uid_text(uid: &Value) -> String {
    format!(
        "{}::{}",
        uid["type"].as_str().unwrap_or_default(),
        Value::from(uid["id"].as_str().unwrap_or_default())
    )
}

#[tokio::test]
async fn decisions_match_cedarpy_on_the_same_entities_and_requests() {
    let issuer = LocalIssuer::offline();
    let authorizer = authorizer(&issuer);
    let cedar = authorizer.cedar().expect("cedar");
    let verifier = authorizer.verifier().clone();
    let mut tokens = Vec::new();
    let id = |builder: cognito_authz_testkit::TokenBuilder| builder.sign();
    let raw_tokens = vec![
        id(issuer.id_token().groups(["readers"])),
        id(issuer.id_token().groups(["writers", "team blue"])),
        id(issuer
            .id_token()
            .groups(["readers"])
            .email("banned@example.com")),
        id(issuer
            .id_token()
            .groups(["readers"])
            .claim("custom:level", 1)),
        id(issuer
            .id_token()
            .claim("custom:level", -9_223_372_036_854_775_807_i64)),
        id(issuer.id_token().claim("custom:tenant", "acme")),
        id(issuer
            .id_token()
            .claim("custom:tenant", "globex")
            .groups(["readers"])),
        id(issuer
            .access_token()
            .scopes(["api/read"])
            .groups(["readers"])),
        id(issuer.access_token().scopes(["api/write", "openid"])),
        id(issuer
            .access_token()
            .scopes(["api/read"])
            .claim("custom:level", 3)),
        id(issuer.machine_token().scopes(["api/read"])),
    ];
    for raw in &raw_tokens {
        tokens.push(verifier.verify(raw).await.expect("valid test token"));
    }
    let shapes: [(Method, &'static str, &'static str, Option<&'static str>); 10] = [
        (Method::GET, "/open", "/open", None),
        (Method::HEAD, "/open", "/open", None),
        (Method::GET, "/scoped", "/scoped", None),
        (Method::GET, "/search", "/search", Some("view=full")),
        (Method::GET, "/search", "/search", Some("view=summary")),
        (
            Method::GET,
            "/search",
            "/search",
            Some("view=full&view=full"),
        ),
        (Method::GET, "/search", "/search", None),
        (Method::GET, "/tenants/{tenant}", "/tenants/acme", None),
        (
            Method::GET,
            "/tenants/{tenant}",
            "/tenants/glo%62ex",
            Some("x=1"),
        ),
        (Method::GET, "/tenants/{tenant}", "/tenants/initech", None),
    ];
    let mut rows = Vec::new();
    for token in &tokens {
        for (method, route, path, query) in &shapes {
            rows.push(Row {
                method: method.clone(),
                route,
                path,
                query: *query,
                token: Arc::clone(token),
            });
        }
    }
    let policies_text = policies(&issuer);
    let mut cases = Vec::new();
    let mut ours = Vec::new();
    for row in &rows {
        let decision = cedar
            .decide(&row.method, row.route, row.path, row.query, &row.token)
            .await;
        ours.push(decision.clone());
        let entities = cedar.entities_json(&row.token).expect("entities");
        let mut context = entities["context"].clone();
        if let Some((name, value)) = row.route.strip_prefix("/tenants/{").map(|_| {
            let tenant = row.path.trim_start_matches("/tenants/").replace("%62", "b");
            ("tenant", tenant)
        }) {
            context["pathParameters"] = json!({ name: value });
        }
        if let Some(query) = row.query {
            let mut grouped: serde_json::Map<String, Value> = serde_json::Map::new();
            let pairs: Vec<(&str, &str)> =
                query.split('&').filter_map(|p| p.split_once('=')).collect();
            for (name, value) in &pairs {
                let count = pairs.iter().filter(|(other, _)| other == name).count();
                if count == 1 {
                    grouped.insert((*name).to_owned(), Value::from(*value));
                } else {
                    let entry = grouped
                        .entry((*name).to_owned())
                        .or_insert_with(|| json!([]));
                    entry.as_array_mut().expect("set").push(Value::from(*value));
                }
            }
            context["queryStringParameters"] = Value::Object(grouped);
        }
        cases.push(json!({
            "request": {
                "principal": uid_text(&entities["principal"]),
                "action": format!("Reports::Action::{}", Value::from(decision.action())),
                "resource": "Reports::Application::\"Reports\"",
                "context": context,
            },
            "policies": policies_text,
            "entities": entities["entities"],
        }));
    }
    let theirs = cedarpy_decisions(&Value::Array(cases));
    assert_eq!(theirs.len(), ours.len());
    let mut failures = Vec::new();
    let (mut allowed, mut errored) = (0, 0);
    for ((row, ours), (their_allow, their_error)) in rows.iter().zip(&ours).zip(&theirs) {
        // An error anywhere denies here; cedarpy reports the error and Cedar's own decision.
        let expected = *their_allow && !*their_error;
        if ours.is_allowed() != expected || ours.errors().is_empty() == *their_error {
            failures.push(format!(
                "{} {}{} ({}): ours {} (errors {:?}), cedarpy allow={their_allow} errored={their_error}",
                row.method,
                row.path,
                row.query.map(|q| format!("?{q}")).unwrap_or_default(),
                row.token.payload_json(),
                ours.reason(),
                ours.errors()
            ));
        }
        allowed += usize::from(ours.is_allowed());
        errored += usize::from(*their_error);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The table exercises every kind of outcome.
    assert!(allowed >= 8, "only {allowed} rows allowed");
    assert!(errored >= 10, "only {errored} rows errored");
    assert!(rows.len() - allowed - errored >= 30);
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cedar")
        .join(name)
}

#[test]
fn generated_schema_matches_aws_generator_and_the_golden_file() {
    let openapi_path = fixture("openapi.json");
    let openapi: Value =
        serde_json::from_str(&std::fs::read_to_string(&openapi_path).expect("openapi"))
            .expect("JSON");
    let ours =
        cognito_authz::cedar::schema_gen::generate(&openapi, "PetStore", None).expect("generates");
    let golden: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("openapi.v4.cedarschema.json")).expect("golden"),
    )
    .expect("JSON");
    assert_eq!(ours, golden, "differs from the golden file");

    let bin = tools::node_modules(CEDAR_GENERATOR).join(CEDAR_GENERATOR);
    let work =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cedar-schema-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("work folder");
    let output = Command::new("node")
        .arg(&bin)
        .args(["generate-schema", "--api-spec"])
        .arg(&openapi_path)
        .args(["--namespace", "PetStore", "--mapping-type", "SimpleRest"])
        .current_dir(&work)
        .output()
        .expect("node runs (scripts/test.sh installs it)");
    assert!(
        output.status.success(),
        "AWS's generator failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs: Value = serde_json::from_str(
        &std::fs::read_to_string(work.join("v4.cedarschema.json")).expect("generated"),
    )
    .expect("JSON");
    let _ = std::fs::remove_dir_all(&work);
    assert_eq!(ours, theirs, "differs from AWS's generator");
}

/// `authorizer` deciding `GET` on each of `paths` with Cedar: `schema` and `policies` under
/// `namespace`.
pub(crate) fn cedar_routes(
    authorizer: AuthorizerBuilder,
    (namespace, schema, policies): (&str, &str, &str),
    paths: &[&str],
) -> Authorizer {
    let cedar = CedarConfig::new(namespace)
        .schema_text(format!("{namespace}.cedarschema"), schema)
        .policies_text(format!("{namespace}.cedar"), policies)
        .build()
        .expect("the policies validate");
    paths
        .iter()
        .fold(authorizer.cedar(cedar), |routes, path| {
            routes.route_methods([Method::GET], *path, Policy::cedar())
        })
        .build()
        .expect("authorizer")
}

/// The AVP documentation's examples, each decided as it documents: group-based access
/// (`principal in MyCorp::UserGroup::"<pool>|<group>"`), a `custom:` attribute of an id token
/// (`principal["custom:employmentStoreCode"]`), and an access token's scopes
/// (`context.token.scope.contains(…)`).
#[tokio::test]
async fn avp_documentation_examples_decide_as_documented() {
    let issuer = LocalIssuer::offline();
    let schema = r#"namespace MyCorp {
      entity UserGroup;
      entity User in [UserGroup] { "custom:employmentStoreCode"?: String, email?: String };
      entity Application;
      action "get /rbac", "get /store", "get /write" appliesTo {
        principal: User, resource: Application,
        context: { token?: { scope: Set<String> } }
      };
    }"#;
    let policies = format!(
        r#"permit(principal in MyCorp::UserGroup::"{pool}|MyUserGroup", action == MyCorp::Action::"get /rbac", resource);
permit(principal, action == MyCorp::Action::"get /store", resource)
when {{ principal has "custom:employmentStoreCode" && principal["custom:employmentStoreCode"] == "petstore-dallas" }};
permit(principal, action == MyCorp::Action::"get /write", resource)
when {{ context has token && context.token.scope.contains("MyAPI/mydata.write") }};
"#,
        pool = issuer.pool_id()
    );
    let authorizer = cedar_routes(
        issuer.authorizer_builder(AcceptedTokenUse::Any),
        ("MyCorp", schema, &policies),
        &["/rbac", "/store", "/write"],
    );
    let rows = [
        (
            "/rbac",
            issuer.id_token().groups(["MyUserGroup"]).sign(),
            true,
        ),
        (
            "/rbac",
            issuer.access_token().groups(["MyUserGroup"]).sign(),
            true,
        ),
        (
            "/rbac",
            issuer.id_token().groups(["OtherGroup"]).sign(),
            false,
        ),
        (
            "/store",
            issuer
                .id_token()
                .claim("custom:employmentStoreCode", "petstore-dallas")
                .sign(),
            true,
        ),
        (
            "/store",
            issuer
                .id_token()
                .claim("custom:employmentStoreCode", "petstore-austin")
                .sign(),
            false,
        ),
        // An access token carries no user attributes: the principal has none.
        (
            "/store",
            issuer
                .access_token()
                .claim("custom:employmentStoreCode", "petstore-dallas")
                .sign(),
            false,
        ),
        (
            "/write",
            issuer.access_token().scopes(["MyAPI/mydata.write"]).sign(),
            true,
        ),
        (
            "/write",
            issuer.access_token().scopes(["MyAPI/mydata.read"]).sign(),
            false,
        ),
        // An id token has no scopes and no `context.token`.
        ("/write", issuer.id_token().sign(), false),
    ];
    for (path, token, allowed) in rows {
        let decision = authorizer
            .authorize(&Method::GET, path, &bearer_headers(&token))
            .await;
        assert_eq!(decision.is_allowed(), allowed, "{path}: {decision:?}");
        if let Decision::Deny(denial) = &decision {
            assert_eq!(denial.code(), "forbidden");
        }
    }
}
