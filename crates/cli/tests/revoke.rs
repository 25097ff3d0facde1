//! `cognito-authz revoke` against a real `redis-server`, and `check --json` reporting
//! `revoked_token` for what it recorded (Debian's `redis-server`, installed by
//! `scripts/test.sh`; started on a free 127.0.0.1 port with persistence off, stopped by PID).

use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cognito_authz_test_support::cli::{Cli, stderr, stdout};
use cognito_authz_test_support::free_loopback_port;
use serde_json::Value;

const CLI: Cli = Cli::new(
    env!("CARGO_BIN_EXE_cognito-authz"),
    env!("CARGO_TARGET_TMPDIR"),
    "cli-revoke",
);
const NOW: &str = "1700000000";

struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    fn start(dir: &Path) -> Self {
        let port = free_loopback_port();
        let program = std::env::var_os("COGNITO_AUTHZ_REDIS")
            .map_or_else(|| PathBuf::from("redis-server"), PathBuf::from);
        let child = Command::new(&program)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {}: {error}; install it with \
                     `apt-get update && apt-get install -y redis-server` (scripts/test.sh does)",
                    program.display()
                )
            });
        let server = Self { child, port };
        // Waits for an external process to listen: poll its port, 10 s at most.
        for _ in 0..200 {
            if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not listen on 127.0.0.1:{port}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Mints an access token of `sub` in session `origin_jti`, signed by the key in `dir`.
fn mint(dir: &Path, sub: &str, origin_jti: &str) -> String {
    let sub = format!("sub=\"{sub}\"");
    let origin = format!("origin_jti=\"{origin_jti}\"");
    let extra = ["--now", NOW, "--claim", &sub, "--claim", &origin];
    CLI.mint(dir, &extra).0
}

/// The policy file of these tests: one route for any signed-in caller, then `revocation`.
fn policy_file(dir: &Path, revocation: &str) -> String {
    cognito_authz_test_support::cli::policy_file(
        dir,
        &format!("[[route]]\npath = \"/items\"\nrequire = \"authenticated\"\n\n{revocation}\n"),
    )
}

fn check(config: &str, token: &str) -> (Option<i32>, Value) {
    CLI.run_json(&[
        "check", "--config", config, "--method", "GET", "--path", "/items", "--now", NOW, "--json",
        token,
    ])
}

#[test]
fn revoke_records_in_redis_and_check_reports_revoked_token() {
    let dir = CLI.scratch("redis");
    let redis = RedisServer::start(&dir);
    let laptop = mint(&dir, "user-1", "session-laptop");
    let phone = mint(&dir, "user-1", "session-phone");
    let other = mint(&dir, "user-2", "session-other");
    let config = policy_file(
        &dir,
        &format!(
            "[revocation]\nstore = \"{}\"\nkey_prefix = \"cli:\"\n",
            redis.url()
        ),
    );
    for token in [&laptop, &phone, &other] {
        let (code, json) = check(&config, token);
        assert_eq!(
            (code, &json["decision"]),
            (Some(0), &Value::from("allow")),
            "{json}"
        );
    }

    let output = CLI.run(&["revoke", "--session", "session-laptop", "--config", &config]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("revoked session session-laptop"));
    let (code, json) = check(&config, &laptop);
    assert_eq!(code, Some(1));
    assert_eq!(json["error"], "revoked_token", "{json}");
    assert_eq!(json["status"], 401);
    assert_eq!(check(&config, &phone).0, Some(0), "the other session works");

    // A global sign-out of user-1 at the tokens' issue time (tokens of that second included).
    let output = CLI.run(&[
        "revoke", "--user", "user-1", "--before", NOW, "--now", NOW, "--config", &config,
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(check(&config, &phone).1["error"], "revoked_token");
    assert_eq!(
        check(&config, &other).0,
        Some(0),
        "another user is untouched"
    );
}

#[test]
fn revoke_needs_a_shared_store_and_says_when_it_is_unreachable() {
    let dir = CLI.scratch("usage");
    let _ = mint(&dir, "user-1", "s");
    let none = policy_file(&dir, "");
    let output = CLI.run(&["revoke", "--token", "j", "--config", &none]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("no [revocation] section"));

    let memory = policy_file(&dir, "[revocation]\nstore = \"memory\"\n");
    let output = CLI.run(&["revoke", "--token", "j", "--config", &memory]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("memory"));

    let output = CLI.run(&["revoke", "--user", "u", "--config", &memory]);
    assert_eq!(output.status.code(), Some(2), "--user needs --before");

    // Nothing listens on this port: the revocation is not recorded, and check fails closed.
    let down = policy_file(
        &dir,
        &format!(
            "[revocation]\nstore = \"redis://127.0.0.1:{}/\"\n",
            free_loopback_port()
        ),
    );
    let output = CLI.run(&["revoke", "--session", "s", "--config", &down]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("NOT revoked"));
    let token = mint(&dir, "user-1", "s2");
    let (code, json) = check(&down, &token);
    assert_eq!(code, Some(1));
    assert_eq!(json["error"], "revocation_unavailable", "{json}");
    assert_eq!(json["status"], 503);
}
