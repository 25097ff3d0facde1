//! `cognito-authz policy openapi`: the documents validate as OpenAPI 3.1 with an independent
//! validator (openapi-spec-validator, from PyPI), and the example policy's scopes come back out
//! of the document route by route.

use std::collections::BTreeSet;

use cognito_authz_core::PolicyFile;
use cognito_authz_test_support::cli::{Cli, stderr};
use cognito_authz_test_support::tools::{repository_root as root, validate_openapi as validate};
use serde_json::Value;

const CLI: Cli = Cli::new(
    env!("CARGO_BIN_EXE_cognito-authz"),
    env!("CARGO_TARGET_TMPDIR"),
    "cli-openapi",
);

fn document(args: &[&str]) -> Value {
    let output = CLI.run(args);
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        stderr(&output)
    );
    serde_json::from_slice(&output.stdout).expect("the command prints JSON")
}

#[test]
fn the_validator_refuses_an_invalid_document() {
    // Without this, a validator that accepts anything would pass every test below.
    let file = root().join("examples/policy.toml");
    let mut broken = document(&["policy", "openapi", file.to_str().expect("utf-8")]);
    broken["paths"]["/health"]["get"]
        .as_object_mut()
        .expect("operation")
        .remove("responses");
    broken["paths"]["/health"]["get"]["parameters"] =
        serde_json::json!([{"name": "x", "in": "nowhere"}]);
    assert!(
        validate(&broken).is_err(),
        "a broken document must be refused"
    );
}

#[test]
fn the_example_policy_document_is_valid_openapi_3_1_in_every_style() {
    let file = root().join("examples/policy.toml");
    let file = file.to_str().expect("utf-8 path");
    for args in [
        vec!["policy", "openapi", file],
        vec!["policy", "openapi", file, "--style", "bearer"],
        vec![
            "policy",
            "openapi",
            file,
            "--style",
            "oauth2",
            "--domain",
            "https://example.auth.us-east-1.amazoncognito.com",
        ],
    ] {
        let document = document(&args);
        assert_eq!(document["openapi"], "3.1.0");
        if let Err(error) = validate(&document) {
            panic!("{args:?}: {error}\n{document:#}");
        }
    }
}

#[test]
fn the_example_policy_scopes_round_trip_through_the_document() {
    let path = root().join("examples/policy.toml");
    let document = document(&["policy", "openapi", path.to_str().expect("utf-8")]);
    let file = PolicyFile::load(&path).expect("example loads");
    let scheme = "main";
    assert_eq!(
        document["components"]["securitySchemes"][scheme]["openIdConnectUrl"],
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example1/.well-known/openid-configuration"
    );
    for route in file.routes().routes() {
        let openapi_path = route.pattern().replace("{*", "{");
        let item = &document["paths"][&openapi_path];
        let methods: Vec<String> = match route.methods() {
            Some(methods) => methods.iter().map(|m| m.as_str().to_lowercase()).collect(),
            None => [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ]
            .map(str::to_owned)
            .to_vec(),
        };
        for method in methods {
            let operation = &item[&method];
            let security = operation["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{openapi_path} {method} has security"));
            let documented: BTreeSet<String> = security
                .iter()
                .flat_map(|requirement| {
                    requirement[scheme]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|scope| scope.as_str().map(str::to_owned))
                })
                .collect();
            let required: BTreeSet<String> =
                route.policy().required_scopes().iter().cloned().collect();
            assert_eq!(documented, required, "{openapi_path} {method}");
            let note = &operation["x-cognito-authz-policy"];
            assert_eq!(note["require"], route.policy().text(), "{openapi_path}");
            if route.policy().is_public() {
                assert_eq!(operation["security"], serde_json::json!([]));
            } else {
                assert!(!security.is_empty(), "{openapi_path} needs a token");
                assert!(operation["responses"]["401"].is_object());
            }
        }
    }
    // The admin route's group is noted where a requirement cannot say it.
    assert_eq!(
        document["paths"]["/admin/{rest}"]["get"]["x-cognito-authz-policy"]["groups"],
        serde_json::json!(["admin"])
    );
    assert_eq!(
        document["paths"]["/reports/{id}"]["get"]["security"],
        serde_json::json!([{ "main": ["reports/read"] }])
    );
    assert!(
        document["paths"]["/reports/{id}"]["post"].is_null(),
        "GET only"
    );
}

#[test]
fn every_kind_of_route_and_policy_gives_a_valid_document() {
    let dir = std::env::temp_dir().join(format!("cognito-authz-openapi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("policy.toml");
    std::fs::write(
        &path,
        r#"
[[issuer]]
name = "main pool"
user_pool_id = "eu-west-1_Example2"
client_ids = ["abc"]
token_use = "any"

[[issuer]]
name = "partners"
issuer = "https://login.example.com/"
audiences = ["api"]

[defaults]
unmatched = "authenticated"
extension_methods = ["PURGE"]

[policies]
reader = "scope:api/read or group:readers"

[[route]]
path = "/files/{owner}/{*rest}"
methods = ["GET", "PURGE"]
require = "(scope:files/read or scope:files/all) and not claim:custom:blocked"

[[route]]
path = "/files/{owner}/{*rest}"
methods = ["DELETE"]
require = "scope:files/write and issuer:\"main pool\" and token_use:access"

[[route]]
path = "/closed"
require = "deny"

[[route]]
path = "/reports"
require = "policy:reader and claim:custom:tenant=acme"

[[route]]
path = "/public"
require = "public"
"#,
    )
    .expect("policy written");
    let document = document(&["policy", "openapi", path.to_str().expect("utf-8")]);
    if let Err(error) = validate(&document) {
        panic!("{error}\n{document:#}");
    }
    let files = &document["paths"]["/files/{owner}/{rest}"];
    assert_eq!(
        files["get"]["security"],
        serde_json::json!([
            { "main_pool": ["files/read"] },
            { "main_pool": ["files/all"] },
            { "partners": ["files/read"] },
            { "partners": ["files/all"] },
        ])
    );
    assert_eq!(
        files["x-cognito-authz-methods"],
        serde_json::json!(["purge"])
    );
    assert_eq!(
        files["delete"]["security"],
        serde_json::json!([{ "main_pool": ["files/write"] }]),
        "only the named issuer can satisfy it"
    );
    assert_eq!(
        files["get"]["x-cognito-authz-policy"]["claims"],
        serde_json::json!(["not custom:blocked"])
    );
    assert_eq!(
        document["paths"]["/closed"]["get"]["x-cognito-authz-policy"]["deny"],
        true
    );
    assert_eq!(
        document["paths"]["/reports"]["get"]["security"],
        serde_json::json!([{ "main_pool": [] }, { "partners": [] }]),
        "scope:api/read or group:readers needs no particular scope"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn oauth2_needs_an_https_domain() {
    let file = root().join("examples/policy.toml");
    let file = file.to_str().expect("utf-8");
    let output = CLI.run(&["policy", "openapi", file, "--style", "oauth2"]);
    assert_eq!(output.status.code(), Some(2));
    let output = CLI.run(&[
        "policy", "openapi", file, "--style", "oauth2", "--domain", "http://x",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let output = CLI.run(&["policy", "openapi", "/nonexistent/policy.toml"]);
    assert_eq!(output.status.code(), Some(1));
}
