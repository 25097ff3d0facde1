//! Errors that say what to do: each mistake a newcomer makes with the command gets a message
//! naming the fix, and a rejected token is shown next to what the configuration expected.

use std::process::Output;

use cognito_authz_test_support::cli::{CLIENT, Cli, POOL, policy_file};

const CLI: Cli = Cli::new(
    env!("CARGO_BIN_EXE_cognito-authz"),
    env!("CARGO_TARGET_TMPDIR"),
    "hints",
);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn verify(token: &str, jwks: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "verify",
        "--user-pool-id",
        POOL,
        "--client-id",
        CLIENT,
        "--jwks-file",
        jwks,
    ];
    args.extend_from_slice(extra);
    args.push(token);
    CLI.run(&args)
}

#[test]
fn a_pasted_bearer_prefix_or_quotes_get_a_hint_naming_the_fix() {
    let dir = CLI.scratch("shape");
    let (token, jwks) = CLI.mint(&dir, &[]);
    for (given, hint) in [
        (format!("Bearer {token}"), "pass the token alone"),
        (format!("\"{token}\""), "wrapped in quotes"),
    ] {
        let output = verify(&given, &jwks, &[]);
        assert_eq!(output.status.code(), Some(1));
        let stderr = text(&output.stderr);
        assert!(stderr.contains(hint), "{stderr}");
        assert!(
            !stderr.contains(&token),
            "the hint must not echo the token: {stderr}"
        );
    }
    // The bare token: no hint, accepted.
    let output = verify(&token, &jwks, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    assert!(!text(&output.stderr).contains("hint"));
    // `decode` and `check` give the same hint.
    let output = CLI.run(&["decode", &format!("Bearer {token}")]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("pass the token alone"));
    let policy = policy_file(&dir, "[defaults]\nunmatched = \"authenticated\"\n");
    let given = format!("Bearer {token}");
    let output = CLI.run(&[
        "check",
        "--config",
        &policy,
        "--jwks-file",
        &jwks,
        "--method",
        "GET",
        "--path",
        "/",
        &given,
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("pass the token alone"));
}

#[test]
fn invalid_issuer_shows_the_token_iss_and_the_accepted_issuers() {
    let dir = CLI.scratch("issuer");
    let (token, jwks) = CLI.mint(&dir, &["--user-pool-id", "eu-west-1_Other"]);
    let output = verify(&token, &jwks, &[]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("invalid: invalid_issuer"), "{stdout}");
    assert!(
        stdout.contains("token iss: https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "https://cognito-idp.us-east-1.amazonaws.com/{POOL}"
        )),
        "{stdout}"
    );
}

#[test]
fn expired_shows_exp_and_now() {
    let dir = CLI.scratch("expired");
    let (token, jwks) = CLI.mint(&dir, &["--now", "1700000000", "--lifetime", "60"]);
    let output = verify(&token, &jwks, &["--now", "1700000100"]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("invalid: expired"), "{stdout}");
    assert!(stdout.contains("token exp: 1700000060"), "{stdout}");
    assert!(stdout.contains("now:       1700000100"), "{stdout}");
    assert!(stdout.contains("expired 40 s ago"), "{stdout}");
    // A token minted with a later --now, checked on the real clock, is issued in the future:
    // the hint says to check it with the same --now.
    let (future, _) = CLI.mint(&dir, &["--now", "4000000000"]);
    let stdout = text(&verify(&future, &jwks, &[]).stdout);
    assert!(stdout.contains("verify with the same --now"), "{stdout}");
}

#[test]
fn a_bare_string_claim_value_gets_the_quoting_hint() {
    let dir = CLI.scratch("claim");
    let key = dir.join("dev.key");
    let output = CLI.run(&[
        "mint",
        "--key-file",
        key.to_str().expect("utf8"),
        "--claim",
        "custom:tenant=blue",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(r#"--claim 'custom:tenant="blue"'"#),
        "{stderr}"
    );
}

#[test]
fn lint_without_policy_points_at_policy_lint() {
    let output = CLI.run(&["lint", "policy.toml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("cognito-authz policy lint FILE"));
}

#[test]
fn a_missing_file_has_no_made_up_position() {
    let dir = CLI.scratch("missing");
    let missing = dir.join("nope.toml");
    let missing = missing.to_str().expect("utf8");
    for args in [
        vec!["policy", "lint", missing],
        vec![
            "check", "--config", missing, "--method", "GET", "--path", "/",
        ],
    ] {
        let output = CLI.run(&args);
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains(&format!("{missing}: cannot read the policy file")),
            "{stderr}"
        );
        assert!(!stderr.contains(":1:1"), "{stderr}");
    }
}

#[test]
fn operators_from_other_languages_and_unquoted_spaces_get_a_hint() {
    let dir = CLI.scratch("operators");
    for (require, hint) in [
        ("group:a AND group:b", "lower case"),
        ("group:a && group:b", "write 'and'"),
        ("group:team blue", "needs quotes"),
    ] {
        let path = dir.join("policy.toml");
        std::fs::write(
            &path,
            format!(
                "[[issuer]]\nname = \"main\"\nuser_pool_id = \"{POOL}\"\nclient_ids = [\"{CLIENT}\"]\n\
                 token_use = \"access\"\n\n[[route]]\npath = \"/x\"\nrequire = \"{require}\"\n"
            ),
        )
        .expect("policy");
        let output = CLI.run(&["policy", "lint", path.to_str().expect("utf8")]);
        assert_eq!(output.status.code(), Some(1));
        assert!(
            text(&output.stderr).contains(hint),
            "{require}: {}",
            text(&output.stderr)
        );
    }
}

#[test]
fn verify_help_states_the_token_use_default() {
    let help = text(&CLI.run(&["verify", "--help"]).stdout);
    let line = help
        .lines()
        .find(|line| line.contains("--token-use"))
        .expect("--token-use in help");
    assert!(line.contains("[default: any]"), "{line}");
}
