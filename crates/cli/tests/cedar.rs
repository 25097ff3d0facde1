//! `cognito-authz cedar entities`, `cedar schema` and `check` on Cedar routes, run as the
//! binary, on tokens from a local test pool.

use std::path::{Path, PathBuf};
use std::process::Output;

use cognito_authz_test_support::cli::{Cli, stderr};
use cognito_authz_testkit::{DEFAULT_START_SECS, LocalIssuer};
use serde_json::{Value, json};

const POOL: &str = "us-east-1_Example1";
const CLI: Cli = Cli::new(
    env!("CARGO_BIN_EXE_cognito-authz"),
    env!("CARGO_TARGET_TMPDIR"),
    "cli-cedar",
);

const SCHEMA: &str = r#"namespace Reports {
  entity UserGroup;
  entity User in [UserGroup] { email?: String };
  entity Application;
  action "get /open", "head /open" appliesTo { principal: User, resource: Application };
}"#;

const POLICIES: &str = r#"@id("readers-open")
permit(principal in Reports::UserGroup::"us-east-1_Example1|readers",
       action in [Reports::Action::"get /open", Reports::Action::"head /open"], resource);
@id("banned")
forbid(principal, action, resource) when { principal has email && principal.email == "banned@example.com" };
"#;

/// A folder with a policy file, its schema, its policies and the pool's keys.
fn setup(issuer: &LocalIssuer, name: &str) -> PathBuf {
    let folder = CLI.scratch(name);
    std::fs::write(folder.join("reports.cedarschema"), SCHEMA).expect("schema");
    std::fs::write(folder.join("reports.cedar"), POLICIES).expect("policies");
    std::fs::write(folder.join("jwks.json"), issuer.jwks_json()).expect("keys");
    std::fs::write(
        folder.join("policy.toml"),
        format!(
            r#"[[issuer]]
name = "main"
user_pool_id = "{POOL}"
client_ids = ["{client}"]
token_use = "any"
jwks_file = "jwks.json"

[cedar]
namespace = "Reports"
schema = "reports.cedarschema"
policies = "reports.cedar"

[[route]]
path = "/open"
methods = ["GET", "HEAD"]
require = "cedar"
"#,
            client = issuer.client_id()
        ),
    )
    .expect("policy file");
    folder
}

/// `cedar entities` for `token` under the folder's policy file, at `now`.
fn entities(folder: &Path, token: &str, now: u64) -> Output {
    let config = folder.join("policy.toml");
    CLI.run(&[
        "cedar",
        "entities",
        token,
        "--config",
        config.to_str().expect("path"),
        "--now",
        &now.to_string(),
    ])
}

/// `cedar schema` of the Pet Store document in `tests/cedar`, under `namespace`.
fn schema(namespace: &str) -> Output {
    let openapi = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/cedar/openapi.json");
    CLI.run(&[
        "cedar",
        "schema",
        "--openapi",
        openapi.to_str().expect("path"),
        "--namespace",
        namespace,
    ])
}

fn issuer() -> LocalIssuer {
    LocalIssuer::builder()
        .pool_id(POOL)
        .offline()
        .expect("issuer")
}

#[test]
fn entities_prints_the_avp_entities_of_a_token() {
    let issuer = issuer();
    let folder = setup(&issuer, "entities");
    let token = issuer
        .id_token()
        .subject("alice-sub")
        .groups(["readers"])
        .sign();
    let output = entities(&folder, &token, DEFAULT_START_SECS);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let printed: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(
        printed["principal"],
        json!({"type": "Reports::User", "id": format!("{POOL}|alice-sub")})
    );
    let user = printed["entities"]
        .as_array()
        .expect("entities")
        .iter()
        .find(|entity| entity["uid"]["type"] == "Reports::User")
        .expect("principal")
        .clone();
    assert_eq!(
        user["parents"],
        json!([{"type": "Reports::UserGroup", "id": format!("{POOL}|readers")}])
    );
    // An invalid token is a rejection, not entities.
    let output = entities(&folder, &token, DEFAULT_START_SECS + 100_000);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
}

#[test]
fn check_prints_the_cedar_decision_and_its_determining_policies() {
    let issuer = issuer();
    let folder = setup(&issuer, "check");
    let config = folder.join("policy.toml");
    let config = config.to_str().expect("path");
    let now = DEFAULT_START_SECS.to_string();
    let reader = issuer.id_token().groups(["readers"]).sign();
    let banned = issuer
        .id_token()
        .groups(["readers"])
        .email("banned@example.com")
        .sign();
    let rows = [
        ("GET", &reader, 0, "allow", json!(["readers-open"])),
        ("HEAD", &reader, 0, "allow", json!(["readers-open"])),
        ("GET", &banned, 1, "deny", json!(["banned"])),
    ];
    for (method, token, code, decision, policies) in rows {
        let output = CLI.run(&[
            "check",
            "--config",
            config,
            "--method",
            method,
            "--path",
            "/open?x=1",
            token,
            "--now",
            &now,
            "--json",
        ]);
        assert_eq!(output.status.code(), Some(code), "{}", stderr(&output));
        let printed: Value = serde_json::from_slice(&output.stdout).expect("JSON");
        assert_eq!(printed["decision"], decision);
        assert_eq!(
            printed["cedar"][0]["action"],
            format!("{} /open", method.to_lowercase())
        );
        assert_eq!(printed["cedar"][0]["decision"], decision);
        assert_eq!(printed["cedar"][0]["policies"], policies);
        if code == 1 {
            assert_eq!(printed["error"], "forbidden");
            assert_eq!(printed["status"], 403);
        }
    }
    // The text form names the determining policy too.
    let output = CLI.run(&[
        "check", "--config", config, "--method", "GET", "--path", "/open", &banned, "--now", &now,
    ]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("cedar:  /open \"get /open\" -> deny (determining: [\"banned\"]"),
        "{text}"
    );
}

#[test]
fn schema_writes_what_aws_generator_writes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/cedar");
    let output = schema("PetStore");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let printed: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let golden: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("openapi.v4.cedarschema.json")).expect("golden"),
    )
    .expect("JSON");
    assert_eq!(printed, golden);
    let output = schema("in");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_policy_that_does_not_validate_fails_lint_with_its_position() {
    let issuer = issuer();
    let folder = setup(&issuer, "lint");
    std::fs::write(
        folder.join("reports.cedar"),
        "permit(principal, action, resource)\nwhen { principal.age > 3 };\n",
    )
    .expect("policies");
    let config = folder.join("policy.toml");
    let output = CLI.run(&["policy", "lint", config.to_str().expect("path")]);
    assert_ne!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("reports.cedar:2:"), "{stderr}");
}
