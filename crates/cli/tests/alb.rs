//! `cognito-authz verify --alb`: an ALB-shaped token (padded base64url, signed with ES256 by
//! Python's `cryptography`, kept in tests/fixtures) against its PEM key served on 127.0.0.1.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const ARN: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188";
const GOV_ARN: &str = "arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188";
const ISS: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example1";
const CLIENT: &str = "1example23456789";
/// The fixture token's `exp` is 1800000600.
const NOW: &str = "1800000000";

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Serves the fixture PEM at `/{kid}` (404 for any other path) until the test process ends.
fn key_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}/", listener.local_addr().expect("address"));
    let pem = fixture("alb-key.pem");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buffer = [0u8; 2048];
            let read = stream.read(&mut buffer).unwrap_or(0);
            let request = String::from_utf8_lossy(&buffer[..read]).into_owned();
            let found = request.starts_with("GET /7c9e6679-7425-40de-944b-e07fc1f90ae7 ");
            let (status, body) = if found {
                (200, pem.as_str())
            } else {
                (404, "")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    base
}

fn verify(token: &str, arn: &str, client: &str, now: &str, keys: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cognito-authz"))
        .args([
            "verify",
            token,
            "--alb",
            arn,
            "--issuer",
            ISS,
            "--client-id",
            client,
        ])
        .args(["--now", now, "--alb-key-url", keys, "--json"])
        .output()
        .expect("binary runs")
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[test]
fn verify_alb_accepts_the_padded_token_and_reports_each_failure() {
    let keys = key_server();
    let token = fixture("alb-token.txt").trim().to_owned();
    assert!(token.contains('='), "the fixture is padded as ALB pads");

    let output = verify(&token, ARN, CLIENT, NOW, &keys);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let document = json(&output);
    assert_eq!(document["valid"], true);
    assert_eq!(document["claims"]["email"], "alice@example.com");

    let stripped = {
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let index = parts
            .iter()
            .position(|p| p.ends_with('='))
            .expect("padded segment");
        parts[index] = parts[index].trim_end_matches('=').to_owned();
        parts.join(".")
    };
    let rows = [
        (token.as_str(), ARN, CLIENT, "1800000600", "expired"),
        (token.as_str(), GOV_ARN, CLIENT, NOW, "invalid_signer"),
        (token.as_str(), ARN, "other-client", NOW, "invalid_client"),
        (stripped.as_str(), ARN, CLIENT, NOW, "invalid_signature"),
    ];
    for (token, arn, client, now, code) in rows {
        let output = verify(token, arn, client, now, &keys);
        assert_eq!(output.status.code(), Some(1), "{code}");
        let document = json(&output);
        assert_eq!(document["valid"], false, "{code}");
        assert_eq!(document["error"], code);
        assert_eq!(document["status"], 401);
    }
}

#[test]
fn verify_alb_without_an_issuer_or_with_a_bad_arn_is_a_usage_error() {
    let token = fixture("alb-token.txt").trim().to_owned();
    let cli = || Command::new(env!("CARGO_BIN_EXE_cognito-authz"));
    let no_issuer = cli()
        .args(["verify", &token, "--alb", ARN, "--client-id", CLIENT])
        .output()
        .expect("runs");
    assert_eq!(no_issuer.status.code(), Some(2));
    let bad_arn = cli()
        .args([
            "verify",
            &token,
            "--alb",
            "arn:aws:s3:::bucket",
            "--issuer",
            ISS,
        ])
        .args(["--client-id", CLIENT])
        .output()
        .expect("runs");
    assert_eq!(bad_arn.status.code(), Some(2));
}
