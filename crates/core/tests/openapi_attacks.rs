//! Attacks on the OpenAPI output (`policy openapi` prints `OpenApiSecurity::document`): odd
//! patterns and policies must give valid OpenAPI 3.1 (openapi-spec-validator, from PyPI), and
//! no operation may be documented as less protected than the route table makes it.

use cognito_authz_core::{OpenApiSecurity, PolicyFile};
use cognito_authz_test_support::tools::validate_openapi;
use serde_json::{Value, json};

const ISSUER: &str = r#"
[[issuer]]
name = "main"
user_pool_id = "us-east-1_Example1"
client_ids = ["1example23456789"]
token_use = "access"
"#;

fn document(routes: &str) -> Value {
    document_of(&format!("{ISSUER}{routes}"))
}

fn document_of(text: &str) -> Value {
    let file = PolicyFile::parse(text, ".", "policy.toml").expect("the policy parses");
    OpenApiSecurity::new(file.issuers(), file.routes()).document("API", "1.0")
}

fn valid(document: &Value) {
    if let Err(error) = validate_openapi(document) {
        panic!("{error}\n{document:#}");
    }
}

/// Whether OpenAPI would let a client call `operation` without any credentials: an empty
/// `security` list, one empty requirement object in it, or (the document has no top-level
/// `security`) no `security` at all.
fn documented_as_open(operation: &Value) -> bool {
    match operation.get("security") {
        None => true,
        Some(Value::Array(requirements)) => {
            requirements.is_empty()
                || requirements
                    .iter()
                    .any(|requirement| requirement.as_object().is_some_and(|r| r.is_empty()))
        }
        Some(_) => false,
    }
}

#[test]
fn a_route_no_token_can_satisfy_is_not_documented_as_public() {
    // Each policy refuses every request (lint says so), yet it needs a token first: it must
    // not come out as `security: []`, which tells clients to call without one.
    let mut open = Vec::new();
    for policy in [
        "scope:a and deny",
        "token_use:id",
        "token_use:id and scope:reports/read",
        "issuer:main and not issuer:main",
    ] {
        let document = document(&format!(
            "[[route]]\npath = \"/closed\"\nmethods = [\"GET\"]\nrequire = \"{policy}\"\n"
        ));
        valid(&document);
        let operation = &document["paths"]["/closed"]["get"];
        if documented_as_open(operation) {
            open.push((policy, operation["security"].clone()));
        }
    }
    assert!(open.is_empty(), "documented as open: {open:?}");
}

#[test]
fn a_deny_route_is_not_documented_as_open() {
    let document = document("[[route]]\npath = \"/closed\"\nrequire = \"deny\"\n");
    valid(&document);
    let operation = &document["paths"]["/closed"]["get"];
    assert_eq!(operation["x-cognito-authz-policy"]["deny"], true);
    // Correct: OpenAPI reads an operation without `security` (and no top-level `security`) as
    // needing nothing; the route refuses everyone, so at least a token is listed as needed.
    assert!(
        !documented_as_open(operation),
        "a deny route documented as open: {operation:#}"
    );
}

#[test]
fn a_catch_all_beside_a_one_segment_route_gets_its_own_requirement() {
    // `/files/{id}` and `/files/{*rest}` both become `/files/{…}`: OpenAPI forbids two paths
    // that differ only in a parameter name, and the catch-all's security was looked up with
    // one segment, i.e. on the public `{id}` route.
    let document = document(
        r#"
[[route]]
path = "/files/{id}"
methods = ["GET"]
require = "public"

[[route]]
path = "/files/{*rest}"
methods = ["DELETE"]
require = "scope:files/admin"
"#,
    );
    valid(&document);
    let paths = document["paths"].as_object().expect("paths");
    let templates: Vec<String> = paths
        .keys()
        .map(|path| {
            // `{name}` → `{}`: paths equal after this are the same path to OpenAPI.
            let mut out = String::new();
            let mut inside = false;
            for c in path.chars() {
                match c {
                    '{' => {
                        inside = true;
                        out.push('{');
                    }
                    '}' => {
                        inside = false;
                        out.push('}');
                    }
                    _ if inside => {}
                    c => out.push(c),
                }
            }
            out
        })
        .collect();
    let mut distinct = templates.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        templates.len(),
        "identical templated paths: {:?}",
        paths.keys().collect::<Vec<_>>()
    );
    for (path, item) in paths {
        for operation in item.as_object().expect("path item").values() {
            let Some(note) = operation.get("x-cognito-authz-policy") else {
                continue;
            };
            if note["route"] == "/files/{*rest}" {
                assert_eq!(
                    operation["security"],
                    json!([{ "main": ["files/admin"] }]),
                    "{path}"
                );
            }
        }
    }
    // The catch-all's requirement is documented somewhere.
    assert!(
        paths
            .values()
            .filter_map(Value::as_object)
            .flat_map(|operations| operations.values())
            .any(|operation| operation["x-cognito-authz-policy"]["route"] == "/files/{*rest}"),
        "the catch-all route is documented nowhere: {document:#}"
    );
}

#[test]
fn two_issuers_whose_names_sanitize_alike_get_two_schemes() {
    // "main pool" and "main_pool" both become the component name `main_pool`: one scheme
    // (the second pool's discovery URL) would stand for tokens of both.
    let document = document_of(
        r#"
[[issuer]]
name = "main pool"
user_pool_id = "us-east-1_Example1"
client_ids = ["a"]
token_use = "access"

[[issuer]]
name = "main_pool"
user_pool_id = "eu-west-1_Example2"
client_ids = ["b"]
token_use = "access"

[[route]]
path = "/x"
methods = ["GET"]
require = "issuer:\"main pool\""
"#,
    );
    valid(&document);
    let schemes = document["components"]["securitySchemes"]
        .as_object()
        .expect("schemes");
    assert_eq!(schemes.len(), 2, "one scheme per issuer: {schemes:#?}");
    let requirement = &document["paths"]["/x"]["get"]["security"][0];
    let name = requirement
        .as_object()
        .and_then(|r| r.keys().next())
        .expect("a requirement");
    assert!(
        schemes[name]["openIdConnectUrl"]
            .as_str()
            .is_some_and(|url| url.contains("us-east-1_Example1")),
        "the route of issuer \"main pool\" names the other pool's scheme: {document:#}"
    );
}

#[test]
fn odd_patterns_methods_and_scopes_give_a_valid_document() {
    // Held (a parameter with text around it, `{name}.json`, is refused by the route table):
    // extension methods, quoted names with quotes
    // and backslashes, unicode, negations and alternatives all stay valid JSON and OpenAPI,
    // and `or`/`not` never become a plain scope requirement.
    let document = document_of(
        r#"
[[issuer]]
name = "main"
user_pool_id = "us-east-1_Example1"
client_ids = ["1example23456789"]
token_use = "any"

[defaults]
unmatched = "deny"
extension_methods = ["PURGE"]

[[route]]
path = "/v1/files/{name}"
methods = ["GET", "PURGE", "HEAD"]
require = "scope:a/b:c~!*$ or group:\"é \\\" \\\\ x\""

[[route]]
path = "/v1/{tenant}/things/{*rest}"
require = "not scope:blocked and (scope:t/read or claim:\"custom:x\"=\"y: z\")"

[[route]]
path = "/open"
require = "public"
"#,
    );
    valid(&document);
    let files = &document["paths"]["/v1/files/{name}"];
    assert_eq!(
        files["get"]["security"],
        json!([{ "main": [] }]),
        "an `or` with a group needs no particular scope"
    );
    let things = &document["paths"]["/v1/{tenant}/things/{rest}"];
    assert_eq!(
        things["post"]["security"],
        json!([{ "main": [] }]),
        "`not scope:blocked` is no requirement of scope `blocked`"
    );
    assert_eq!(document["paths"]["/open"]["get"]["security"], json!([]));
}

#[test]
fn an_issuer_alternative_does_not_waive_the_scope_for_the_other_issuers() {
    // `issuer:partners or scope:files/read`: a token of `main` needs the scope; only a
    // `partners` token needs none. Listing `{ "main": [] }` tells `main` clients that any
    // token will do.
    let document = document_of(
        r#"
[[issuer]]
name = "main"
user_pool_id = "us-east-1_Example1"
client_ids = ["a"]
token_use = "access"

[[issuer]]
name = "partners"
issuer = "https://login.example.com"
audiences = ["api"]

[[route]]
path = "/files"
methods = ["GET"]
require = "issuer:partners or scope:files/read"
"#,
    );
    valid(&document);
    assert_eq!(
        document["paths"]["/files"]["get"]["security"],
        json!([{ "main": ["files/read"] }, { "partners": [] }])
    );
}
