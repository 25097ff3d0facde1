//! `cognito-authz revoke` against a real `redis-server`, and `check --json` reporting
//! `revoked_token` for what it recorded (Debian's `redis-server`, installed by
//! `scripts/test.sh`; started on a free 127.0.0.1 port with persistence off, stopped by PID).

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

const NOW: &str = "1700000000";
const POOL: &str = "us-east-1_Example1";
const CLIENT: &str = "1example23456789";

struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    fn start(dir: &Path) -> Self {
        let port = free_port();
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

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    listener.local_addr().expect("address").port()
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cognito-authz"))
        .args(args)
        .output()
        .expect("binary runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-revoke-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Mints an access token of `sub` in session `origin_jti`, signed by the key in `dir`.
fn mint(dir: &Path, sub: &str, origin_jti: &str) -> String {
    let key = dir.join("dev.key");
    let jwks = dir.join("jwks.json");
    let sub = format!("sub=\"{sub}\"");
    let origin = format!("origin_jti=\"{origin_jti}\"");
    let output = run(&[
        "mint",
        "--now",
        NOW,
        "--key-file",
        key.to_str().expect("utf8"),
        "--jwks-out",
        jwks.to_str().expect("utf8"),
        "--claim",
        &sub,
        "--claim",
        &origin,
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn policy_file(dir: &Path, revocation: &str) -> String {
    let path = dir.join("policy.toml");
    std::fs::write(
        &path,
        format!(
            r#"[[issuer]]
name = "local"
user_pool_id = "{POOL}"
client_ids = ["{CLIENT}"]
token_use = "access"
jwks_file = "jwks.json"

[[route]]
path = "/items"
require = "authenticated"

{revocation}
"#
        ),
    )
    .expect("write policy");
    path.to_str().expect("utf8").to_owned()
}

fn check(config: &str, token: &str) -> (Option<i32>, Value) {
    let output = run(&[
        "check", "--config", config, "--method", "GET", "--path", "/items", "--now", NOW, "--json",
        token,
    ]);
    let json =
        serde_json::from_str(String::from_utf8_lossy(&output.stdout).trim()).unwrap_or(Value::Null);
    (output.status.code(), json)
}

#[test]
fn revoke_records_in_redis_and_check_reports_revoked_token() {
    let dir = scratch("redis");
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

    let output = run(&["revoke", "--session", "session-laptop", "--config", &config]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("revoked session session-laptop"));
    let (code, json) = check(&config, &laptop);
    assert_eq!(code, Some(1));
    assert_eq!(json["error"], "revoked_token", "{json}");
    assert_eq!(json["status"], 401);
    assert_eq!(check(&config, &phone).0, Some(0), "the other session works");

    // A global sign-out of user-1 at the tokens' issue time (tokens of that second included).
    let output = run(&[
        "revoke", "--user", "user-1", "--before", NOW, "--now", NOW, "--config", &config,
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(check(&config, &phone).1["error"], "revoked_token");
    assert_eq!(
        check(&config, &other).0,
        Some(0),
        "another user is untouched"
    );
}

#[test]
fn revoke_needs_a_shared_store_and_says_when_it_is_unreachable() {
    let dir = scratch("usage");
    let _ = mint(&dir, "user-1", "s");
    let none = policy_file(&dir, "");
    let output = run(&["revoke", "--token", "j", "--config", &none]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no [revocation] section"));

    let memory = policy_file(&dir, "[revocation]\nstore = \"memory\"\n");
    let output = run(&["revoke", "--token", "j", "--config", &memory]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("memory"));

    let output = run(&["revoke", "--user", "u", "--config", &memory]);
    assert_eq!(output.status.code(), Some(2), "--user needs --before");

    // Nothing listens on this port: the revocation is not recorded, and check fails closed.
    let down = policy_file(
        &dir,
        &format!(
            "[revocation]\nstore = \"redis://127.0.0.1:{}/\"\n",
            free_port()
        ),
    );
    let output = run(&["revoke", "--session", "s", "--config", &down]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("NOT revoked"));
    let token = mint(&dir, "user-1", "s2");
    let (code, json) = check(&down, &token);
    assert_eq!(code, Some(1));
    assert_eq!(json["error"], "revocation_unavailable", "{json}");
    assert_eq!(json["status"], 503);
}
