//! The `cognito-authz` binary end to end: exit codes, JSON shapes and messages.

use std::path::Path;

use cognito_authz_test_support::cli::{CLIENT, Cli, POOL, stderr, stdout};
use cognito_authz_test_support::policy::PolicyText;
use serde_json::Value;

const CLI: Cli = Cli::new(
    env!("CARGO_BIN_EXE_cognito-authz"),
    env!("CARGO_TARGET_TMPDIR"),
    "cli",
);
const NOW: &str = "1700000000";

/// Mints a token at `NOW` with the key in `dir`, returning (token, jwks path).
fn mint(dir: &Path, extra: &[&str]) -> (String, String) {
    CLI.mint(dir, &[&["--now", NOW][..], extra].concat())
}

/// `verify <token> --user-pool-id POOL --jwks-file <jwks>` and `extra` (`token` may be `-`).
fn verify_args<'a>(token: &'a str, jwks: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["verify", token, "--user-pool-id", POOL, "--jwks-file", jwks];
    args.extend_from_slice(extra);
    args
}

fn verify_json(token: &str, jwks: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let args = verify_args(
        token,
        jwks,
        &[&["--now", NOW, "--json"][..], extra].concat(),
    );
    CLI.run_json(&args)
}

#[test]
fn minted_token_verifies_offline_with_json_output() {
    let dir = CLI.scratch("verify-ok");
    let (token, jwks) = mint(
        &dir,
        &[
            "--group",
            "admin",
            "--scope",
            "api/read",
            "--username",
            "alice",
        ],
    );
    let (code, json) = verify_json(&token, &jwks, &["--client-id", CLIENT]);
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["valid"], true);
    assert_eq!(json["token_use"], "access");
    assert_eq!(
        json["issuer"],
        format!("https://cognito-idp.us-east-1.amazonaws.com/{POOL}")
    );
    assert_eq!(json["kid"], "local-dev-key");
    assert_eq!(json["claims"]["cognito:groups"][0], "admin");
    assert_eq!(json["claims"]["username"], "alice");
}

#[test]
fn rejected_tokens_exit_1_with_the_code() {
    let dir = CLI.scratch("verify-rejected");
    let (token, jwks) = mint(&dir, &[]);
    let (code, json) = verify_json(&token, &jwks, &["--client-id", "someone-else"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        json,
        serde_json::json!({"valid": false, "error": "invalid_client", "status": 401})
    );

    let (code, json) = verify_json(&token, &jwks, &["--client-id", CLIENT, "--token-use", "id"]);
    assert_eq!(code, Some(1));
    assert_eq!(json["error"], "invalid_token_use");

    let later = "1700003600";
    let output = CLI.run(&verify_args(
        &token,
        &jwks,
        &["--client-id", CLIENT, "--now", later, "--json"],
    ));
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("\"error\":\"expired\""));
    // With leeway the same instant passes.
    let output = CLI.run(&verify_args(
        &token,
        &jwks,
        &["--client-id", CLIENT, "--now", later, "--leeway", "1"],
    ));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).starts_with("valid access token"));
}

#[test]
fn token_is_read_from_stdin_or_a_file_and_trimmed() {
    let dir = CLI.scratch("verify-inputs");
    let (token, jwks) = mint(&dir, &["--kind", "id"]);
    let args = verify_args("-", &jwks, &["--any-client", "--now", NOW]);
    let output = CLI.run_with_stdin(&args, &format!("\n  {token}  \n"));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let file = dir.join("token.txt");
    std::fs::write(&file, format!("{token}\n")).expect("write");
    let output = CLI.run(&[
        "verify",
        "--token-file",
        file.to_str().expect("utf8"),
        "--user-pool-id",
        POOL,
        "--any-client",
        "--jwks-file",
        &jwks,
        "--now",
        NOW,
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    // No Bearer stripping: that is the adapters' job.
    let (code, json) = verify_json(&format!("Bearer {token}"), &jwks, &["--any-client"]);
    assert_eq!(code, Some(1));
    assert_eq!(json["error"], "malformed_token");
}

/// `verify --jwks-file` without `--config` reads the key set once. The key set is served
/// through a named pipe; the moment the first reader has opened it, the pipe is replaced by a
/// file that is not a key set, so a second read would fail the command.
#[cfg(unix)]
#[test]
fn a_jwks_file_is_read_once() {
    use std::io::Write as _;

    let dir = CLI.scratch("verify-read-once");
    let (token, jwks) = mint(&dir, &[]);
    let keys = std::fs::read(&jwks).expect("key set");
    let pipe = dir.join("keys.pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&pipe)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", pipe.display());
    let writer = std::thread::spawn({
        let pipe = pipe.clone();
        move || {
            // Opening for writing waits for the first reader.
            let mut served = std::fs::OpenOptions::new()
                .write(true)
                .open(&pipe)
                .expect("open the pipe for writing");
            std::fs::remove_file(&pipe).expect("unlink the pipe");
            std::fs::write(&pipe, "[1,2,3]").expect("replace it");
            served.write_all(&keys).expect("serve the key set");
        }
    });
    let output = CLI.run(&verify_args(
        &token,
        pipe.to_str().expect("utf8"),
        &["--any-client", "--now", NOW],
    ));
    writer.join().expect("writer");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(stdout(&output).starts_with("valid"), "{}", stdout(&output));
}

#[test]
fn configuration_errors_exit_2_with_a_message() {
    let dir = CLI.scratch("verify-config");
    let (token, jwks) = mint(&dir, &[]);
    let not_a_set = dir.join("not-a-set.json");
    std::fs::write(&not_a_set, "[1,2,3]").expect("write");
    let missing = dir.join("missing.json");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (verify_args(&token, &jwks, &[]), "client"),
        (
            vec![
                "verify",
                &token,
                "--user-pool-id",
                "not-a-pool",
                "--any-client",
                "--jwks-file",
                &jwks,
            ],
            "user pool id",
        ),
        (
            verify_args(&token, missing.to_str().expect("utf8"), &["--any-client"]),
            "cannot read --jwks-file",
        ),
        (
            verify_args(&token, not_a_set.to_str().expect("utf8"), &["--any-client"]),
            "key set",
        ),
        (vec!["verify", &token, "--any-client"], "user-pool-id"),
        (
            vec![
                "verify",
                "--user-pool-id",
                POOL,
                "--any-client",
                "--jwks-file",
                &jwks,
            ],
            "no token",
        ),
        (
            vec![
                "verify",
                &token,
                "--user-pool-id",
                POOL,
                "--any-client",
                "--token-use",
                "refresh",
            ],
            "token_use",
        ),
    ];
    for (args, message) in cases {
        let output = CLI.run(&args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(message),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    // An empty key set is a valid key set: the token is then rejected, not a usage error.
    let empty = dir.join("empty.json");
    std::fs::write(&empty, r#"{"keys":[]}"#).expect("write");
    let (code, json) = verify_json(&token, empty.to_str().expect("utf8"), &["--any-client"]);
    assert_eq!(code, Some(1));
    assert_eq!(json["error"], "unknown_kid");
}

#[test]
fn generic_oidc_issuer_takes_client_ids_as_audiences() {
    let dir = CLI.scratch("verify-oidc");
    let iss = "https://idp.example.com";
    let (token, jwks) = mint(
        &dir,
        &[
            "--kind",
            "id",
            "--claim",
            &format!("iss=\"{iss}\""),
            "--claim",
            "aud=[\"api://orders\"]",
        ],
    );
    let verify = |client: &str| {
        CLI.run(&[
            "verify",
            &token,
            "--issuer",
            iss,
            "--client-id",
            client,
            "--jwks-file",
            &jwks,
            "--now",
            NOW,
            "--json",
        ])
    };
    let output = verify("api://orders");
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let output = verify("api://other");
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("invalid_client"));
}

#[test]
fn decode_shows_header_and_payload_and_warns() {
    let dir = CLI.scratch("decode");
    let (token, _) = mint(&dir, &["--username", "bob"]);
    let output = CLI.run(&["decode", &token]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stderr(&output).contains("WITHOUT verification"));
    let json: Value = serde_json::from_str(&stdout(&output)).expect("json");
    assert_eq!(json["header"]["alg"], "RS256");
    assert_eq!(json["payload"]["username"], "bob");

    let output = CLI.run(&["decode", "not.a.token="]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("malformed_token"));
}

#[test]
fn mint_reuses_its_key_file_across_runs() {
    let dir = CLI.scratch("mint-key");
    let (first, jwks_first) = mint(&dir, &[]);
    let jwks_first = std::fs::read_to_string(jwks_first).expect("jwks");
    let (second, jwks_second) = mint(&dir, &["--kind", "machine", "--scope", "svc/run"]);
    assert_eq!(
        jwks_first,
        std::fs::read_to_string(&jwks_second).expect("jwks")
    );
    for token in [first, second] {
        let (code, json) = verify_json(&token, &jwks_second, &["--client-id", CLIENT]);
        assert_eq!(code, Some(0), "{json}");
    }
}

#[test]
fn mint_signs_with_an_openssl_made_pkcs1_key() {
    // `tests/data/openssl-genpkey-rsa2048.der` was made by `openssl genpkey -algorithm RSA
    // -pkeyopt rsa_keygen_bits:2048 -outform DER` (OpenSSL 3.0, which writes PKCS#1
    // `RSAPrivateKey`); it is a test key with no other use.
    let dir = CLI.scratch("mint-pkcs1");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/openssl-genpkey-rsa2048.der"),
        dir.join("dev.key"),
    )
    .expect("copy key");
    let (token, jwks) = mint(&dir, &[]);
    let (code, json) = verify_json(&token, &jwks, &["--client-id", CLIENT]);
    assert_eq!(code, Some(0), "{json}");
    // The key set written by a second run still verifies the first token: the key file was
    // read, not replaced.
    let _ = mint(&dir, &[]);
    assert_eq!(
        verify_json(&token, &jwks, &["--client-id", CLIENT]).0,
        Some(0)
    );
}

/// A policy file beside a key set minted in `dir`, for `check`, `policy lint` and
/// `verify --config`: the standard table without a default (a path no route names is
/// denied), and `GET /reports/{id}` for readers (`scope:reports/read`) and administrators.
fn policy_file(dir: &Path) -> String {
    let table = PolicyText::standard()
        .without_unmatched()
        .policy("reader", "scope:reports/read or policy:admin")
        .route_for(&["GET"], "/reports/{id}", "policy:reader");
    cognito_authz_test_support::cli::policy_file(dir, &table.to_string())
}

fn check_json(config: &str, method: &str, path: &str, token: Option<&str>) -> (Option<i32>, Value) {
    let mut args = vec![
        "check", "--config", config, "--method", method, "--path", path, "--now", NOW, "--json",
    ];
    if let Some(token) = token {
        args.push(token);
    }
    CLI.run_json(&args)
}

#[test]
fn check_follows_the_router_it_is_told() {
    let dir = CLI.scratch("check-router");
    let (user, _) = mint(&dir, &["--username", "carol"]);
    let config = cognito_authz_test_support::cli::policy_file(
        &dir,
        r#"[[route]]
path = "/items/special"
require = "authenticated"

[[route]]
path = "/items/{id}"
methods = ["DELETE"]
require = "group:admin"
"#,
    );
    let check = |router: &str| {
        let (code, json) = CLI.run_json(&[
            "check",
            "--config",
            &config,
            "--method",
            "DELETE",
            "--path",
            "/items/special",
            "--now",
            NOW,
            "--json",
            "--router",
            router,
            &user,
        ]);
        (code, json["route"].clone())
    };
    // axum runs the most specific route only.
    assert_eq!(check("axum"), (Some(0), "/items/special".into()));
    // actix falls through the static resource's method guard to `/items/{id}`: both guard.
    assert_eq!(check("actix"), (Some(1), "/items/{id}".into()));
}

#[test]
fn check_explains_each_kind_of_decision() {
    let dir = CLI.scratch("check");
    let (user, _) = mint(&dir, &["--username", "carol"]);
    let (admin, _) = mint(&dir, &["--group", "admin"]);
    let (reader, _) = mint(&dir, &["--scope", "reports/read"]);
    let config = policy_file(&dir);

    let (code, json) = check_json(&config, "GET", "/health", None);
    assert_eq!(code, Some(0));
    assert_eq!(
        json,
        serde_json::json!({"decision": "allow", "status": 200, "error": null, "route": "/health", "policy": "public", "reason": "public route"})
    );

    let (code, json) = check_json(&config, "GET", "/reports/7", None);
    assert_eq!(
        (code, json["status"].clone(), json["error"].clone()),
        (Some(1), 401.into(), "missing_token".into())
    );

    let (code, json) = check_json(&config, "GET", "/reports/7", Some(&user));
    assert_eq!(code, Some(1));
    assert_eq!(json["status"], 403);
    assert_eq!(json["error"], "insufficient_scope");
    assert_eq!(json["route"], "/reports/{id}");
    assert_eq!(json["policy"], "policy:reader");

    let (code, json) = check_json(&config, "GET", "/reports/7", Some(&reader));
    assert_eq!((code, json["decision"].clone()), (Some(0), "allow".into()));
    let (code, _) = check_json(&config, "get", "/reports/7", Some(&admin));
    assert_eq!(code, Some(0));

    let (code, json) = check_json(&config, "POST", "/admin/users", Some(&user));
    assert_eq!((code, json["error"].clone()), (Some(1), "forbidden".into()));
    // A method without a route falls to defaults.unmatched, which denies by default.
    let (code, json) = check_json(&config, "POST", "/reports/7", Some(&user));
    assert_eq!(
        (
            code,
            json["route"].clone(),
            json["policy"].clone(),
            json["error"].clone()
        ),
        (Some(1), Value::Null, "deny".into(), "forbidden".into())
    );
    // Another spelling of an admin path is guarded by the admin route; dot segments are
    // refused; the adapters' lookup decides, so check agrees with them.
    // (The path as sent names no route, so the default denies; the decoded one would need
    // the admin policy.)
    let (code, json) = check_json(&config, "GET", "/%61dmin/users", Some(&admin));
    assert_eq!(
        (code, json["policy"].clone(), json["error"].clone()),
        (Some(1), "deny".into(), "forbidden".into())
    );
    let (code, json) = check_json(&config, "GET", "/health/../admin/users", Some(&admin));
    assert_eq!(
        (code, json["status"].clone(), json["error"].clone()),
        (Some(1), 400.into(), "invalid_request".into())
    );

    let (code, json) = check_json(&config, "GET", "/reports/7", Some("garbage"));
    assert_eq!(
        (code, json["status"].clone(), json["error"].clone()),
        (Some(1), 401.into(), "malformed_token".into())
    );

    let output = CLI.run(&[
        "check",
        "--config",
        &config,
        "--method",
        "GET",
        "--path",
        "/reports/7",
        "--now",
        NOW,
        &reader,
    ]);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stdout(&output).starts_with("allow (200) GET /reports/7"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn check_takes_headers_and_refuses_cross_site_cookie_requests_like_the_adapters() {
    let dir = CLI.scratch("check-cookie");
    let (user, _) = mint(&dir, &[]);
    let config = policy_file(&dir);
    let text = std::fs::read_to_string(&config).expect("policy");
    let text = text.replace(
        "[policies]",
        "[token]\ncookie = \"id_token\"\nallowed_origins = [\"https://app.example.com\"]\n\n[defaults]\nunmatched = \"authenticated\"\n\n[policies]",
    );
    std::fs::write(&config, text).expect("write policy");
    let cookie = format!("Cookie: theme=dark; id_token={user}");
    let check = |method: &str, extra: &[&str]| {
        let mut args = vec![
            "check", "--config", &config, "--method", method, "--path", "/me", "--now", NOW,
            "--json", "--header", &cookie,
        ];
        args.extend(extra);
        CLI.run_json(&args)
    };
    /// (method, extra arguments, exit code, status, error)
    type Case<'a> = (&'a str, &'a [&'a str], i32, u16, Option<&'a str>);
    let cases: &[Case<'_>] = &[
        ("POST", &[], 1, 403, Some("cross_site_request")),
        (
            "POST",
            &["--header", "Sec-Fetch-Site: cross-site"],
            1,
            403,
            Some("cross_site_request"),
        ),
        ("POST", &["-H", "sec-fetch-site:same-origin"], 0, 200, None),
        (
            "POST",
            &["--header", "Origin: https://app.example.com"],
            0,
            200,
            None,
        ),
        (
            "POST",
            &["--header", "Origin: null"],
            1,
            403,
            Some("cross_site_request"),
        ),
        (
            "POST",
            &["--header", "Referer: https://app.example.com/cart"],
            0,
            200,
            None,
        ),
        (
            "POST",
            &[
                "--header",
                "Sec-Fetch-Site: same-origin",
                "--header",
                "Sec-Fetch-Site: same-origin",
            ],
            1,
            403,
            Some("cross_site_request"),
        ),
        (
            "GET",
            &["--header", "Sec-Fetch-Site: cross-site"],
            0,
            200,
            None,
        ),
        (
            "DELETE",
            &[&user, "--header", "Sec-Fetch-Site: same-origin"],
            1,
            400,
            Some("invalid_request"),
        ),
    ];
    for (method, extra, code, status, error) in cases {
        let (got_code, json) = check(method, extra);
        assert_eq!(got_code, Some(*code), "{method} {extra:?}: {json}");
        assert_eq!(json["status"], *status, "{method} {extra:?}: {json}");
        assert_eq!(json["error"].as_str(), *error, "{method} {extra:?}: {json}");
    }
    let (_, json) = check("POST", &["--header", "Sec-Fetch-Site: cross-site"]);
    assert_eq!(json["reason"], "Sec-Fetch-Site: cross-site");
    assert_eq!(json["route"], Value::Null);

    // A header token is not a cookie: no origin check.
    let output = CLI.run(&[
        "check",
        "--config",
        &config,
        "--method",
        "POST",
        "--path",
        "/me",
        "--now",
        NOW,
        "--json",
        "--header",
        "Sec-Fetch-Site: cross-site",
        &user,
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));

    for bad in [
        "no colon",
        ": empty name",
        "Bad Name: x",
        "X-Ok: line\nbreak",
    ] {
        let output = CLI.run(&[
            "check", "--config", &config, "--method", "POST", "--path", "/me", "--header", bad,
        ]);
        assert_eq!(output.status.code(), Some(2), "{bad:?}");
        assert!(stderr(&output).contains("--header"), "{}", stderr(&output));
    }
}

#[test]
fn check_with_a_bad_file_or_method_exits_2() {
    let dir = CLI.scratch("check-bad");
    let config = dir.join("bad.toml");
    std::fs::write(&config, "[[route]]\npath = \"/x\"\nrequire = \"group:\"\n").expect("write");
    let output = CLI.run(&[
        "check",
        "--config",
        config.to_str().expect("utf8"),
        "--method",
        "GET",
        "--path",
        "/x",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("bad.toml:"), "{}", stderr(&output));
    let good = policy_file(&dir);
    let _ = mint(&dir, &[]);
    let output = CLI.run(&[
        "check", "--config", &good, "--method", "GE T", "--path", "/x",
    ]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn lint_lists_routes_in_match_order_or_reports_the_error_position() {
    let dir = CLI.scratch("lint");
    let _ = mint(&dir, &[]);
    let config = policy_file(&dir);
    let output = CLI.run(&["policy", "lint", &config]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let order: Vec<usize> = ["/health", "/reports/{id}", "/admin/{*rest}", "(unmatched)"]
        .iter()
        .map(|pattern| {
            text.find(pattern)
                .unwrap_or_else(|| panic!("{pattern} listed: {text}"))
        })
        .collect();
    assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "{text}");
    assert!(
        text.contains("scope:reports/read or group:admin"),
        "effective policy shown: {text}"
    );
    assert!(
        stderr(&output).is_empty(),
        "no warnings: {}",
        stderr(&output)
    );

    // Loads, but with warnings: a permissive default and a route no token can satisfy.
    let risky = dir.join("risky.toml");
    std::fs::write(
        &risky,
        format!(
            "[[issuer]]\nuser_pool_id = \"{POOL}\"\nany_client = true\ntoken_use = \"access\"\n\n[defaults]\nunmatched = \"authenticated\"\n\n[[route]]\npath = \"/admin/{{*rest}}\"\nrequire = \"group:admin and token_use:id\"\n"
        ),
    )
    .expect("write");
    let output = CLI.run(&["policy", "lint", risky.to_str().expect("utf8")]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let warnings = stderr(&output);
    assert!(
        warnings.contains("risky.toml:7:13: warning: defaults.unmatched = \"authenticated\""),
        "{warnings}"
    );
    assert!(warnings.contains("risky.toml:10:8: warning: route \"/admin/{*rest}\": no token the configured issuers accept"), "{warnings}");

    let broken = dir.join("broken.toml");
    let issuer = format!(
        "[[issuer]]\nuser_pool_id = \"{POOL}\"\nany_client = true\ntoken_use = \"any\"\n\n"
    );
    std::fs::write(
        &broken,
        issuer + "[[route]]\npath = \"/a\"\nrequire = \"group:admin and\"\n",
    )
    .expect("write");
    let output = CLI.run(&["policy", "lint", broken.to_str().expect("utf8")]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("broken.toml:8:"),
        "line and column: {message}"
    );
    assert!(message.contains("and"), "says what was expected: {message}");
}

#[test]
fn verify_takes_issuers_from_a_policy_file() {
    let dir = CLI.scratch("verify-from-policy-file");
    let (token, _) = mint(&dir, &[]);
    let config = policy_file(&dir);
    let output = CLI.run(&[
        "verify", &token, "--config", &config, "--now", NOW, "--json",
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let json: Value = serde_json::from_str(stdout(&output).trim()).expect("json");
    assert_eq!(json["valid"], true);
    let output = CLI.run(&["verify", &token, "--config", &config, "--client-id", "x"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "--config and --client-id conflict"
    );
}

#[test]
fn plain_http_key_urls_from_remote_hosts_need_allow_insecure_http() {
    let dir = CLI.scratch("insecure-http");
    let (token, _) = mint(&dir, &[]);
    // The key URL derived from an http:// issuer and an explicit --jwks-url alike.
    for issuer_args in [
        [
            "--cognito-issuer",
            "http://cognito-local.invalid:9229/local_pool",
        ],
        ["--issuer", "http://keycloak.invalid:8080/realms/main"],
    ] {
        for extra in [
            &[][..],
            &["--jwks-url", "http://keys.invalid/jwks.json"][..],
        ] {
            let mut args = vec!["verify", token.as_str(), "--any-client"];
            args.extend_from_slice(&issuer_args);
            args.extend_from_slice(extra);
            let output = CLI.run(&args);
            assert_eq!(output.status.code(), Some(2), "{args:?}");
            assert!(
                stderr(&output).contains("--allow-insecure-http"),
                "{}",
                stderr(&output)
            );
            // Opted in, the configuration builds; the token's iss names another issuer, so the
            // verdict comes before any fetch.
            args.extend_from_slice(&["--allow-insecure-http", "--json"]);
            let output = CLI.run(&args);
            assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
            let json: Value = serde_json::from_str(stdout(&output).trim()).expect("json");
            assert_eq!(json["error"], "invalid_issuer");
        }
    }
    // A policy file sets it per issuer; --allow-insecure-http does not combine with --config.
    let config = dir.join("dev.toml");
    let issuer = "[[issuer]]\nname = \"dev\"\ncognito_issuer = \"http://cognito-local.invalid:9229/local_pool\"\nany_client = true\ntoken_use = \"any\"\n";
    let route = "[[route]]\npath = \"/\"\nrequire = \"authenticated\"\n";
    std::fs::write(&config, format!("{issuer}{route}")).expect("write");
    let config = config.to_str().expect("utf8");
    let output = CLI.run(&["verify", &token, "--config", config]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("allow_insecure_http"),
        "{}",
        stderr(&output)
    );
    let output = CLI.run(&["policy", "lint", config]);
    assert_eq!(output.status.code(), Some(1), "lint reports it too");
    let output = CLI.run(&[
        "verify",
        &token,
        "--config",
        config,
        "--allow-insecure-http",
    ]);
    assert_eq!(output.status.code(), Some(2), "conflicts with --config");
    std::fs::write(
        dir.join("dev.toml"),
        format!("{issuer}allow_insecure_http = true\n{route}"),
    )
    .expect("write");
    let output = CLI.run(&["verify", &token, "--config", config, "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let json: Value = serde_json::from_str(stdout(&output).trim()).expect("json");
    assert_eq!(json["error"], "invalid_issuer");
}

#[test]
fn every_input_is_read_whole_up_to_one_bound_and_refused_past_it() {
    let dir = CLI.scratch("bounded-input");
    let (token, jwks) = mint(&dir, &[]);
    let big = dir.join("big");
    std::fs::write(&big, vec![b' '; 4 * 1024 * 1024 + 1]).expect("write");
    let big = big.to_str().expect("utf8");
    let config = policy_file(&dir);
    let pool = ["--user-pool-id", POOL, "--any-client"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            [&["verify", "--token-file", big][..], &pool].concat(),
            "--token-file",
        ),
        (
            [&["verify", "--token-file", "/dev/zero"][..], &pool].concat(),
            "--token-file",
        ),
        (
            [&["verify", &token, "--jwks-file", "/dev/zero"][..], &pool].concat(),
            "--jwks-file",
        ),
        (vec!["verify", &token, "--config", "/dev/zero"], "/dev/zero"),
        (vec!["verify", &token, "--config", big], big),
        (
            vec![
                "check",
                "--config",
                "/dev/zero",
                "--method",
                "GET",
                "--path",
                "/",
                &token,
            ],
            "/dev/zero",
        ),
        (
            vec![
                "check",
                "--config",
                &config,
                "--jwks-file",
                "/dev/zero",
                "--method",
                "GET",
                "--path",
                "/",
                &token,
            ],
            "/dev/zero",
        ),
        (vec!["policy", "lint", "/dev/zero"], "/dev/zero"),
    ];
    for (args, names) in cases {
        let output = CLI.run(&args);
        let code = if args[0] == "policy" { 1 } else { 2 };
        assert_eq!(
            output.status.code(),
            Some(code),
            "{args:?}: {}",
            stderr(&output)
        );
        let message = stderr(&output) + &stdout(&output);
        assert!(
            message.contains("4194304-byte limit") && message.contains(names),
            "{args:?}: {message}"
        );
    }
    // Standard input: endless input is refused, not truncated and verified.
    let output = CLI
        .command()
        .args(verify_args("-", &jwks, &["--any-client"]))
        .stdin(std::fs::File::open("/dev/zero").expect("/dev/zero"))
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("standard input")
            && stderr(&output).contains("4194304-byte limit")
    );
    // A token padded past the old 1 MiB stdin cutoff, then junk: read whole, so the junk is
    // part of the token and it does not verify.
    let padded = format!("{token}{}\njunk\n", " ".repeat(1 << 20));
    let output = CLI.run_with_stdin(
        &verify_args("-", &jwks, &["--any-client", "--now", NOW, "--json"]),
        &padded,
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    // Within the bound, surrounding whitespace is still trimmed.
    let output = CLI.run_with_stdin(
        &verify_args("-", &jwks, &["--any-client", "--now", NOW]),
        &format!("{token}{}\n", " ".repeat(1 << 20)),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}
