//! End to end under cargo-lambda: the `lambda_authorizer` example running in `cargo lambda
//! watch` (the Lambda runtime API emulator, on 127.0.0.1), invoked with each event shape by
//! `cargo lambda invoke` and by a raw Invoke API request.
//!
//! cargo-lambda is a PyPI package; `scripts/test.sh` installs it into
//! `target/tools-venv` and passes its binary through `COGNITO_AUTHZ_CARGO_LAMBDA`.
//! Without it this test fails: an end-to-end test that skips itself proves nothing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use cognito_authz_test_support::free_loopback_port;
use cognito_authz_test_support::tools::cargo_lambda;
use cognito_authz_testkit::LocalIssuer;
use serde_json::{Value, json};

mod iam;
use iam::iam_allows;

const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:s4x3opwd6i/test/";

/// `cargo lambda watch`, ended on drop together with what it started (the `cargo run` of the
/// example and the function itself), each by its PID.
struct Watch {
    child: Child,
    log: mpsc::Receiver<String>,
}

impl Watch {
    fn start(program: &Path, port: u16, policy: &Path) -> Self {
        let mut child = Command::new(program)
            .args(["lambda", "watch", "--example", "lambda_authorizer"])
            .args([
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
                &port.to_string(),
            ])
            .args(["--timeout", "600"])
            .arg("--env-var")
            .arg(format!("COGNITO_AUTHZ_POLICY={}", policy.display()))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", program.display()));
        let (sender, log) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Self { child, log }
    }

    /// Waits for the runtime emulator to listen (it prints so), bounded.
    fn wait_until_listening(&self) {
        let mut seen = Vec::new();
        loop {
            match self.log.recv_timeout(Duration::from_secs(300)) {
                Ok(line) if line.contains("starting Runtime server") => return,
                Ok(line) => seen.push(line),
                Err(_) => panic!("cargo lambda watch did not start:\n{}", seen.join("\n")),
            }
        }
    }

    fn log_lines(&self) -> Vec<String> {
        self.log.try_iter().collect()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // Read the tree first: once the watcher is gone its children are re-parented.
        let started = descendants(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in started {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
    }
}

/// Every process below `root`, read from `/proc` (each line of `/proc/PID/stat` names the
/// parent after the command's closing parenthesis).
fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let (_, after_command) = stat.rsplit_once(')')?;
            let parent = after_command.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, parent))
        })
        .collect();
    let mut found = vec![root];
    let mut next = 0;
    while let Some(&parent) = found.get(next) {
        found.extend(
            parents
                .iter()
                .filter(|(_, of)| *of == parent)
                .map(|(pid, _)| *pid),
        );
        next += 1;
    }
    found.split_off(1)
}

/// `cargo lambda invoke` with `event`: the response JSON, or the error text.
fn invoke(
    program: &Path,
    port: u16,
    event: &Value,
    dir: &Path,
    name: &str,
) -> Result<Value, String> {
    let file = dir.join(format!("{name}.json"));
    std::fs::write(&file, event.to_string()).expect("write event");
    let output = Command::new(program)
        .args(["lambda", "invoke", "--invoke-address", "127.0.0.1"])
        .args([
            "--invoke-port",
            &port.to_string(),
            "--output-format",
            "json",
        ])
        .arg("--data-file")
        .arg(&file)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .expect("run cargo lambda invoke");
    if output.status.success() {
        let stdout = String::from_utf8_lossy(&output.stdout);
        serde_json::from_str(stdout.trim()).map_err(|error| format!("{error}: {stdout}"))
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// The Invoke API request API Gateway makes, raw: status, function-error header, body.
fn invoke_raw(port: u16, event: &Value) -> (String, bool, Value) {
    let body = event.to_string();
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(600)))
        .expect("timeout");
    write!(
        stream,
        "POST /2015-03-31/functions/_/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP response");
    let status = head.lines().next().unwrap_or_default().to_owned();
    let function_error = head.lines().any(|line| {
        line.to_ascii_lowercase()
            .starts_with("x-amz-function-error")
    });
    let body = serde_json::from_str(body.trim()).unwrap_or_else(|_| json!(body));
    (status, function_error, body)
}

fn effect_for(response: &Value, arn: &str) -> Option<String> {
    let statements = response["policyDocument"]["Statement"].as_array()?;
    let mut effect = None;
    for statement in statements {
        let names = match &statement["Resource"] {
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            Value::String(one) => vec![one.as_str()],
            _ => Vec::new(),
        };
        if names.contains(&arn) {
            effect = statement["Effect"].as_str().map(str::to_owned);
        }
    }
    effect
}

#[test]
fn the_example_authorizer_answers_every_event_shape_under_cargo_lambda_watch() {
    let program = cargo_lambda();
    // A folder of this run's own: two runs sharing a target folder must not serve each
    // other's keys and policy.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cargo-lambda-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // Tokens verified by the function in real time: the issuer uses the system clock.
    let issuer = LocalIssuer::builder()
        .pool_id("us-east-1_Example1")
        .client_id("1example23456789")
        .system_clock()
        .offline()
        .expect("issuer");
    std::fs::write(dir.join("jwks.json"), issuer.jwks_json()).expect("write keys");
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policy.toml"),
    )
    .expect("examples/policy.toml");
    std::fs::write(dir.join("policy.toml"), &example).expect("write policy");

    let port = free_loopback_port();
    let watch = Watch::start(&program, port, &dir.join("policy.toml"));
    watch.wait_until_listening();

    let user = issuer.access_token().username("alice").sign();
    let rest_token = |method: &str, path: &str, token: &str| json!({"type": "TOKEN", "authorizationToken": token, "methodArn": format!("{ARN}{method}{path}")});

    // TOKEN: allow, and a scope denial as an explicit Deny.
    let response = invoke(
        &program,
        port,
        &rest_token("GET", "/me", &user),
        &dir,
        "token-allow",
    )
    .unwrap_or_else(|error| panic!("{error}\n{}", watch.log_lines().join("\n")));
    assert_eq!(
        effect_for(&response, &format!("{ARN}GET/me")).as_deref(),
        Some("Allow"),
        "{response:#}"
    );
    assert_eq!(response["context"]["username"], "alice");
    assert_eq!(response["principalId"], response["context"]["sub"]);
    let response = invoke(
        &program,
        port,
        &rest_token("GET", "/reports/1", &user),
        &dir,
        "token-deny",
    )
    .expect("deny policy");
    assert!(
        !iam_allows(&response, &format!("{ARN}GET/reports/1")),
        "{response:#}"
    );
    assert!(
        iam_allows(&response, &format!("{ARN}GET/me")),
        "{response:#}"
    );

    // REQUEST (the REST shape with headers).
    let request = json!({
        "type": "REQUEST",
        "methodArn": format!("{ARN}GET/me"),
        "resource": "/me",
        "path": "/me",
        "httpMethod": "GET",
        "headers": {"Authorization": format!("Bearer {user}")},
        "multiValueHeaders": {"Authorization": [format!("Bearer {user}")]},
        "requestContext": {"path": "/me", "stage": "test", "httpMethod": "GET", "resourcePath": "/me"}
    });
    let response = invoke(&program, port, &request, &dir, "request-allow").expect("policy");
    assert_eq!(
        effect_for(&response, &format!("{ARN}GET/me")).as_deref(),
        Some("Allow"),
        "{response:#}"
    );

    // HTTP API payload 2.0: simple responses.
    let http_api = |path: &str| {
        json!({
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": format!("{ARN}GET{path}"),
            "routeKey": "$default",
            "rawPath": path,
            "headers": {"authorization": format!("Bearer {user}")},
            "requestContext": {"stage": "$default", "http": {"method": "GET", "path": path}}
        })
    };
    let response = invoke(&program, port, &http_api("/me"), &dir, "v2-allow").expect("answer");
    assert_eq!(response["isAuthorized"], true, "{response:#}");
    let response = invoke(&program, port, &http_api("/admin/x"), &dir, "v2-deny").expect("answer");
    assert_eq!(response["isAuthorized"], false, "{response:#}");

    // Invalid token: the function fails with exactly `Unauthorized`, API Gateway's 401.
    let error = invoke(
        &program,
        port,
        &rest_token("GET", "/me", "garbage"),
        &dir,
        "unauthorized",
    )
    .expect_err("an error answer");
    assert!(error.contains("Unauthorized"), "{error}");
    // AWS answers a function error with 200 and `X-Amz-Function-Error`; the emulator with 500.
    let (status, function_error, body) = invoke_raw(port, &rest_token("GET", "/me", "garbage"));
    assert!(
        function_error || status.contains(" 500 "),
        "{status} {body}"
    );
    assert_eq!(body["errorMessage"], "Unauthorized", "{status} {body}");
    let (_, function_error, body) = invoke_raw(port, &rest_token("GET", "/me", &user));
    assert!(!function_error, "{body}");
    assert_eq!(
        effect_for(&body, &format!("{ARN}GET/me")).as_deref(),
        Some("Allow")
    );
    std::fs::remove_dir_all(&dir).ok();
}
