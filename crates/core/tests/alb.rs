//! ALB tokens (`x-amzn-oidc-data`) against a P-256 key served as PEM on 127.0.0.1, the way
//! an ALB's regional key endpoint serves it: padded and unpadded segments, tampered padding,
//! signer, client, issuer and expiry checks, a GovCloud load balancer, single-flight key
//! fetches, a flood of unknown kids, and the metrics key fetches and refusals are counted
//! under.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use cognito_authz_core::{
    ALB_DATA_HEADER, AlbConfig, AlbVerifier, Authorizer, Decision, ErrorKind, FixedClock,
    SharedClock,
};
use cognito_authz_test_support::testkit::LocalIssuer;
use http::{HeaderMap, HeaderValue, Method};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const NOW: u64 = 1_800_000_000;
const ARN: &str =
    "arn:aws:elasticloadbalancing:us-east-2:123456789012:loadbalancer/app/web/50dc6c495c0c9188";
const GOV_ARN: &str = "arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188";
const CLIENT: &str = "5example6client7id8";
const ISS: &str = "https://cognito-idp.us-east-2.amazonaws.com/us-east-2_Example1";

fn uuid() -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).expect("random");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

struct Key {
    kid: String,
    pair: EcdsaKeyPair,
}

impl Key {
    fn new() -> Self {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .expect("key");
        Self {
            kid: uuid(),
            pair: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
                .expect("key"),
        }
    }

    fn pem(&self) -> String {
        let der = self.pair.public_key().as_der().expect("der");
        let body = STANDARD.encode(der.as_ref());
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|chunk| std::str::from_utf8(chunk).expect("ascii"))
            .collect();
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        )
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair
            .sign(&SystemRandom::new(), message)
            .expect("sign")
            .as_ref()
            .to_vec()
    }
}

/// Serves `/{kid}` → PEM (or 404) on 127.0.0.1, counting requests.
struct KeyServer {
    base: String,
    keys: Arc<Mutex<HashMap<String, String>>>,
    status: Arc<Mutex<u16>>,
    requests: Arc<AtomicU64>,
}

impl KeyServer {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}/", listener.local_addr().expect("address"));
        let keys: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let status = Arc::new(Mutex::new(200));
        let requests = Arc::new(AtomicU64::new(0));
        let (k, s, r) = (keys.clone(), status.clone(), requests.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (keys, status, requests) = (k.clone(), s.clone(), r.clone());
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 4096];
                    let mut read = 0;
                    while !buffer[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buffer[read..]).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => read += n,
                        }
                        if read == buffer.len() {
                            return;
                        }
                    }
                    requests.fetch_add(1, Ordering::SeqCst);
                    let request = String::from_utf8_lossy(&buffer[..read]).into_owned();
                    let path = request
                        .split(' ')
                        .nth(1)
                        .unwrap_or("/")
                        .trim_start_matches('/')
                        .to_owned();
                    let forced = *status.lock().expect("status");
                    let pem = keys.lock().expect("keys").get(&path).cloned();
                    let (code, body) = match (forced, pem) {
                        (200, Some(pem)) => (200, pem),
                        (200, None) => (404, String::new()),
                        (code, _) => (code, String::new()),
                    };
                    let response = format!(
                        "HTTP/1.1 {code} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        Self {
            base,
            keys,
            status,
            requests,
        }
    }

    /// A server serving one new key.
    async fn serving_a_key() -> (Self, Key) {
        let server = Self::start().await;
        let key = Key::new();
        server.serve(&key);
        (server, key)
    }

    fn serve(&self, key: &Key) {
        self.keys
            .lock()
            .expect("keys")
            .insert(key.kid.clone(), key.pem());
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

fn verifier(server: &KeyServer, arn: &str) -> AlbVerifier {
    verifier_for(server, arn, &[CLIENT])
}

/// A verifier of the load balancer `arn` for the app clients `clients`, on the fixed clock.
fn verifier_for(server: &KeyServer, arn: &str, clients: &[&str]) -> AlbVerifier {
    let config = AlbConfig::builder()
        .load_balancer_arn(arn)
        .client_ids(clients.iter().copied())
        .issuer(ISS)
        .key_url_base(server.base.clone())
        .clock(SharedClock::new(FixedClock(Duration::from_secs(NOW))))
        .build()
        .expect("config");
    AlbVerifier::new(config).expect("verifier")
}

fn header(key: &Key, arn: &str) -> Value {
    json!({"typ": "JWT", "kid": key.kid, "alg": "ES256", "iss": ISS, "client": CLIENT, "signer": arn, "exp": NOW + 120})
}

fn payload() -> Value {
    json!({"sub": "b2a5f4e1-user", "email": "alice@example.com", "username": "alice", "exp": NOW + 120, "iss": ISS})
}

/// A token as an ALB builds it: base64url *with* padding, signed over those exact bytes.
fn mint(key: &Key, header: &Value, payload: &Value, padded: bool) -> String {
    let encode = |bytes: &[u8]| {
        if padded {
            URL_SAFE.encode(bytes)
        } else {
            URL_SAFE_NO_PAD.encode(bytes)
        }
    };
    let signing_input = format!(
        "{}.{}",
        encode(header.to_string().as_bytes()),
        encode(payload.to_string().as_bytes())
    );
    let signature = encode(&key.sign(signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}

async fn code(verifier: &AlbVerifier, token: &str) -> &'static str {
    match verifier.verify(token).await {
        Ok(_) => "ok",
        Err(error) => error.code(),
    }
}

#[tokio::test]
async fn padded_and_unpadded_alb_tokens_verify_over_the_bytes_received() {
    let (server, key) = KeyServer::serving_a_key().await;
    let verifier = verifier(&server, ARN);
    // A payload whose JSON length needs padding, as ALB's tokens usually do.
    let header = header(&key, ARN);
    let payload = payload();
    let padded = mint(&key, &header, &payload, true);
    assert!(padded.contains('='), "{padded}");
    let token = verifier.verify(&padded).await.expect("padded token");
    assert_eq!(token.sub(), Some("b2a5f4e1-user"));
    assert_eq!(token.username(), Some("alice"));
    assert_eq!(token.email(), Some("alice@example.com"));
    let unpadded = mint(&key, &header, &payload, false);
    assert_eq!(code(&verifier, &unpadded).await, "ok");
    // One fetch for the kid, then the cache.
    assert_eq!(server.requests(), 1);
    assert_eq!(verifier.fetch_count(), 1);
}

#[tokio::test]
async fn changing_the_padding_breaks_the_signature() {
    let (server, key) = KeyServer::serving_a_key().await;
    let verifier = verifier(&server, ARN);
    let padded = mint(&key, &header(&key, ARN), &payload(), true);
    let mut parts: Vec<String> = padded.split('.').map(str::to_owned).collect();
    let padded_segment = parts
        .iter()
        .position(|p| p.ends_with('='))
        .expect("a padded segment");
    assert!(padded_segment < 2, "header or payload is padded: {padded}");
    // Same decoded bytes, different received bytes: a verifier that re-encodes would accept it.
    parts[padded_segment] = parts[padded_segment].trim_end_matches('=').to_owned();
    assert_eq!(code(&verifier, &parts.join(".")).await, "invalid_signature");
    // And the other way round: padding added to a token signed without it.
    let unpadded = mint(&key, &header(&key, ARN), &payload(), false);
    let mut parts: Vec<String> = unpadded.split('.').map(str::to_owned).collect();
    let index = parts
        .iter()
        .take(2)
        .position(|p| p.len() % 4 != 0)
        .expect("a segment that takes padding");
    let pad = "=".repeat((4 - parts[index].len() % 4) % 4);
    parts[index].push_str(&pad);
    assert_eq!(code(&verifier, &parts.join(".")).await, "invalid_signature");
    // Three `=` or padding in the middle is not base64url at all.
    let bad = padded.replacen('.', "===.", 1);
    assert_eq!(code(&verifier, &bad).await, "malformed_token");
}

#[tokio::test]
async fn signer_client_issuer_expiry_and_kid_are_checked_in_order() {
    let (server, key) = KeyServer::serving_a_key().await;
    let other = Key::new();
    server.serve(&other);
    let verifier = verifier(&server, ARN);
    let with = |edit: &dyn Fn(&mut Value, &mut Value)| {
        let (mut h, mut p) = (header(&key, ARN), payload());
        edit(&mut h, &mut p);
        mint(&key, &h, &p, true)
    };
    let rows: Vec<(&str, String, &str)> = vec![
        (
            "wrong signer",
            with(&|h, _| h["signer"] = json!(GOV_ARN)),
            "invalid_signer",
        ),
        (
            "no signer",
            with(&|h, _| {
                h.as_object_mut().expect("object").remove("signer");
            }),
            "invalid_signer",
        ),
        (
            "wrong client",
            with(&|h, _| h["client"] = json!("other-client")),
            "invalid_client",
        ),
        (
            "wrong iss",
            with(&|_, p| p["iss"] = json!("https://evil.example")),
            "invalid_issuer",
        ),
        (
            "wrong header iss",
            with(&|h, _| h["iss"] = json!("https://evil.example")),
            "invalid_issuer",
        ),
        ("expired", with(&|_, p| p["exp"] = json!(NOW)), "expired"),
        (
            "no exp",
            with(&|_, p| {
                p.as_object_mut().expect("object").remove("exp");
            }),
            "expired",
        ),
        (
            "RS256",
            with(&|h, _| h["alg"] = json!("RS256")),
            "unsupported_alg",
        ),
        (
            "none",
            with(&|h, _| h["alg"] = json!("none")),
            "unsupported_alg",
        ),
        (
            "crit",
            with(&|h, _| h["crit"] = json!([])),
            "unsupported_alg",
        ),
        (
            "no kid",
            with(&|h, _| {
                h.as_object_mut().expect("object").remove("kid");
            }),
            "missing_kid",
        ),
        (
            "path kid",
            with(&|h, _| h["kid"] = json!("../../admin")),
            "malformed_token",
        ),
        (
            "other key's kid",
            with(&|h, _| h["kid"] = json!(other.kid)),
            "invalid_signature",
        ),
        ("ok", with(&|_, _| {}), "ok"),
    ];
    for (name, token, expected) in rows {
        assert_eq!(code(&verifier, &token).await, expected, "{name}");
    }
    assert_eq!(code(&verifier, "a.b").await, "malformed_token");
    assert_eq!(
        code(&verifier, &"a".repeat(20_000)).await,
        "token_too_large"
    );
    // The refused rows before the key lookup fetched nothing.
    assert_eq!(server.requests(), 2, "the two real kids only");
}

#[tokio::test]
async fn a_govcloud_load_balancer_is_accepted_as_signer() {
    let (server, key) = KeyServer::serving_a_key().await;
    let verifier = verifier(&server, GOV_ARN);
    let token = mint(&key, &header(&key, GOV_ARN), &payload(), true);
    assert_eq!(code(&verifier, &token).await, "ok");
    let commercial = mint(&key, &header(&key, ARN), &payload(), true);
    assert_eq!(code(&verifier, &commercial).await, "invalid_signer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_for_a_new_kid_share_one_fetch() {
    let (server, key) = KeyServer::serving_a_key().await;
    let verifier = verifier(&server, ARN);
    let token = mint(&key, &header(&key, ARN), &payload(), true);
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (verifier, token) = (verifier.clone(), token.clone());
            tokio::spawn(async move { verifier.verify(&token).await.is_ok() })
        })
        .collect();
    for task in tasks {
        assert!(task.await.expect("task"));
    }
    assert_eq!(server.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_costs_four_fetches_per_cooldown() {
    let server = KeyServer::start().await;
    let key = Key::new();
    let verifier = verifier(&server, ARN);
    let tasks: Vec<_> = (0..300)
        .map(|_| {
            let verifier = verifier.clone();
            let mut fake = Key::new();
            fake.kid = uuid();
            let token = mint(&fake, &header(&fake, ARN), &payload(), true);
            tokio::spawn(async move { code(&verifier, &token).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.expect("task"), "unknown_kid");
    }
    assert_eq!(server.requests(), 4, "four fetches for the whole flood");
    // Within the cooldown even a real new key waits (the clock is fixed here).
    server.serve(&key);
    let token = mint(&key, &header(&key, ARN), &payload(), true);
    assert_eq!(code(&verifier, &token).await, "unknown_kid");
    assert_eq!(server.requests(), 4);
}

#[tokio::test]
async fn an_unreachable_key_endpoint_is_jwks_unavailable() {
    let (server, key) = KeyServer::serving_a_key().await;
    *server.status.lock().expect("status") = 500;
    let verifier = verifier(&server, ARN);
    let token = mint(&key, &header(&key, ARN), &payload(), true);
    let error = verifier.verify(&token).await.expect_err("unavailable");
    assert_eq!(error.kind(), ErrorKind::JwksUnavailable);
    assert_eq!(error.status(), 503);
}

/// The value of the Prometheus sample `name` whose labels are exactly `labels` (in any
/// order), if there is one.
#[cfg(feature = "metrics")]
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (sample_name, rest) = series.split_once('{')?;
        let mut found: Vec<&str> = rest.strip_suffix('}')?.split("\",").collect();
        found
            .iter_mut()
            .for_each(|pair| *pair = pair.trim_end_matches('"'));
        found.sort_unstable();
        let mut wanted: Vec<String> = labels
            .iter()
            .map(|(label, value)| format!("{label}=\"{value}"))
            .collect();
        wanted.sort_unstable();
        (sample_name == name && found == wanted).then(|| value.parse().ok())?
    })
}

#[cfg(feature = "metrics")]
#[test]
fn alb_key_fetches_and_refusals_are_counted_per_key_endpoint_never_per_kid() {
    // The key endpoint is asked for whatever kids an attacker invents: the metrics must show
    // the fetches and the refusals (an alert on refused kids is how a flood is noticed), under
    // a bounded source, never one series per invented kid.
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let prometheus = recorder.handle();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // One thread runs the verifier, its fetch tasks and the key server: all of them record
    // into this recorder.
    let (base, kids) = metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let server = KeyServer::start().await;
            let key = Key::new();
            server.serve(&key);
            let alb = verifier(&server, ARN);
            let token = mint(&key, &header(&key, ARN), &payload(), true);
            assert_eq!(code(&alb, &token).await, "ok");
            let mut kids = vec![key.kid.clone()];
            // Invented kids: three fetched (404) until the four fetches of the interval are
            // spent, then three refused without a fetch.
            for _ in 0..6 {
                let fake = Key::new();
                let token = mint(&fake, &header(&fake, ARN), &payload(), true);
                assert_eq!(code(&alb, &token).await, "unknown_kid");
                kids.push(fake.kid.clone());
            }
            assert_eq!(server.requests(), 4);
            // An endpoint that fails is counted apart from kids it does not know.
            *server.status.lock().expect("status") = 500;
            let failing = verifier(&server, ARN);
            let other = Key::new();
            let token = mint(&other, &header(&other, ARN), &payload(), true);
            assert_eq!(code(&failing, &token).await, "jwks_unavailable");
            assert_eq!(server.requests(), 5);
            kids.push(other.kid.clone());
            (server.base.clone(), kids)
        })
    });
    let text = prometheus.render();
    let source = format!("alb:{base}");
    let fetches = "cognito_authz_jwks_fetches_total";
    assert_eq!(
        sample(&text, fetches, &[("source", &source), ("result", "ok")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            fetches,
            &[("source", &source), ("result", "unknown_kid")]
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, fetches, &[("source", &source), ("result", "status")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "cognito_authz_jwks_fetch_duration_seconds_count",
            &[("source", &source), ("result", "unknown_kid")]
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "cognito_authz_jwks_cooldown_refusals_total",
            &[("source", &source)]
        ),
        Some(3.0),
        "{text}"
    );
    for kid in kids {
        assert!(!text.contains(&kid), "a kid became a label: {text}");
    }
}

/// Where scripts/test.sh installs aws-jwt-verify (npm) for the differential test.
fn aws_jwt_verify_modules() -> std::path::PathBuf {
    cognito_authz_test_support::tools::node_modules("aws-jwt-verify/package.json")
}

/// The same tokens through aws-jwt-verify's `AlbJwtVerifier` (node) and ours: every token
/// accepted by one is accepted by the other.
#[tokio::test]
async fn aws_jwt_verify_alb_verifier_agrees_on_every_token() {
    let modules = aws_jwt_verify_modules();
    let server = KeyServer::start().await;
    let key = Key::new();
    let other = Key::new();
    server.serve(&key);
    server.serve(&other);
    // aws-jwt-verify reads the system clock, so both use it here.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let config = AlbConfig::builder()
        .load_balancer_arn(ARN)
        .client_ids([CLIENT])
        .issuer(ISS)
        .key_url_base(server.base.clone())
        .build()
        .expect("config");
    let verifier = AlbVerifier::new(config).expect("verifier");
    let base_header = json!({"typ": "JWT", "kid": key.kid, "alg": "ES256", "iss": ISS, "client": CLIENT, "signer": ARN, "exp": now + 600});
    let base_payload =
        json!({"sub": "b2a5f4e1-user", "email": "alice@example.com", "exp": now + 600, "iss": ISS});
    let with = |edit: &dyn Fn(&mut Value, &mut Value), padded: bool| {
        let (mut h, mut p) = (base_header.clone(), base_payload.clone());
        edit(&mut h, &mut p);
        mint(&key, &h, &p, padded)
    };
    let padded = with(&|_, _| {}, true);
    let stripped = {
        let mut parts: Vec<String> = padded.split('.').map(str::to_owned).collect();
        let index = parts.iter().position(|p| p.ends_with('=')).expect("padded");
        parts[index] = parts[index].trim_end_matches('=').to_owned();
        parts.join(".")
    };
    let flipped = {
        let mut bytes = padded.clone().into_bytes();
        let index = padded.rfind('.').expect("dot") + 3;
        bytes[index] = if bytes[index] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).expect("ascii")
    };
    let tokens: Vec<(&str, String)> = vec![
        ("padded", padded.clone()),
        ("unpadded", with(&|_, _| {}, false)),
        ("padding stripped", stripped),
        ("signature flipped", flipped),
        (
            "wrong signer",
            with(&|h, _| h["signer"] = json!(GOV_ARN), true),
        ),
        (
            "wrong client",
            with(&|h, _| h["client"] = json!("other"), true),
        ),
        (
            "wrong iss",
            with(&|_, p| p["iss"] = json!("https://evil.example"), true),
        ),
        ("expired", with(&|_, p| p["exp"] = json!(now - 10), true)),
        (
            "RS256 header",
            with(&|h, _| h["alg"] = json!("RS256"), true),
        ),
        (
            "other key's kid",
            with(&|h, _| h["kid"] = json!(other.kid), true),
        ),
        ("three dots", format!("{padded}.x")),
    ];
    let input = json!({
        "albArn": [ARN],
        "issuer": ISS,
        "clientId": [CLIENT],
        "pems": {key.kid.clone(): key.pem(), other.kid.clone(): other.pem()},
        "tokens": tokens.iter().map(|(_, t)| t).collect::<Vec<_>>(),
    });
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("alb-interop");
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("input.json");
    std::fs::write(&file, input.to_string()).expect("write");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/alb_interop/verify.cjs");
    let output = std::process::Command::new("node")
        .arg(&script)
        .arg(&file)
        .env("NODE_PATH", &modules)
        .output()
        .expect("node (installed with npm; scripts/test.sh needs it)");
    assert!(
        output.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&output.stdout).expect("results");
    assert_eq!(results.len(), tokens.len());
    let mut accepted = 0;
    for ((name, token), theirs) in tokens.iter().zip(&results) {
        let ours = verifier.verify(token).await;
        assert_eq!(
            ours.is_ok(),
            theirs["ok"] == true,
            "{name}: ours {:?}, aws-jwt-verify {theirs}",
            ours.as_ref().map(|_| ()).map_err(|e| e.code())
        );
        accepted += usize::from(ours.is_ok());
    }
    assert_eq!(accepted, 2, "the padded and unpadded tokens");
}

/// Routes over ALB identities (the issuer section is the local Cognito issuer's, added by
/// the testkit).
const ALB_POLICY: &str = r#"
[[route]]
path = "/open"
require = "public"

[[route]]
path = "/me"
require = "authenticated"

[[route]]
path = "/admin"
require = "group:admin"

[[route]]
path = "/write"
require = "scope:api/write"

[[route]]
path = "/client-a"
require = "client:5example6client7id8"
"#;

/// The second app client of [`two_client_verifier`].
const CLIENT_B: &str = "9other0client1id2";

/// A verifier that accepts the app clients [`CLIENT`] and [`CLIENT_B`].
fn two_client_verifier(server: &KeyServer) -> AlbVerifier {
    verifier_for(server, ARN, &[CLIENT, CLIENT_B])
}

/// [`ALB_POLICY`] behind `alb`, with a local Cognito issuer as the token source's issuer.
fn alb_authorizer(issuer: &LocalIssuer, alb: AlbVerifier) -> Authorizer {
    issuer
        .authorizer(ALB_POLICY)
        .expect("authorizer")
        .with_alb(alb)
}

fn alb_headers(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        ALB_DATA_HEADER,
        HeaderValue::from_str(token).expect("ascii"),
    );
    headers
}

async fn decide(authorizer: &Authorizer, path: &str, headers: &HeaderMap) -> Result<(), String> {
    match authorizer.authorize(&Method::GET, path, headers).await {
        Decision::Allow { .. } => Ok(()),
        Decision::Deny(denial) => Err(format!("{} {}", denial.status().as_u16(), denial.code())),
    }
}

#[tokio::test]
async fn group_and_scope_routes_deny_alb_tokens_whatever_their_claims() {
    let (server, key) = KeyServer::serving_a_key().await;
    let authorizer = alb_authorizer(&LocalIssuer::offline(), verifier(&server, ARN));
    // The ALB copies the identity provider's user-info claims into its token: whatever the
    // provider returns under these names, they are no Cognito groups or scopes.
    let mut claims = payload();
    claims["cognito:groups"] = json!(["admin"]);
    claims["scope"] = json!("api/write");
    let headers = alb_headers(&mint(&key, &header(&key, ARN), &claims, true));
    assert_eq!(decide(&authorizer, "/me", &headers).await, Ok(()));
    for path in ["/admin", "/write"] {
        assert!(
            decide(&authorizer, path, &headers).await.is_err(),
            "{path} admitted an ALB token"
        );
    }
}

#[tokio::test]
async fn client_routes_refuse_alb_tokens_of_another_app_client() {
    let (server, key) = KeyServer::serving_a_key().await;
    let authorizer = alb_authorizer(&LocalIssuer::offline(), two_client_verifier(&server));
    // Signed for app client B (the header's `client`), with user-info claims naming A.
    let mut for_b = header(&key, ARN);
    for_b["client"] = json!(CLIENT_B);
    for (member, value) in [("client_id", json!(CLIENT)), ("aud", json!(CLIENT))] {
        let mut claims = payload();
        claims[member] = value;
        let headers = alb_headers(&mint(&key, &for_b, &claims, true));
        assert_eq!(decide(&authorizer, "/me", &headers).await, Ok(()));
        assert!(
            decide(&authorizer, "/client-a", &headers).await.is_err(),
            "a client-B token with {member} = client A passed client:A"
        );
    }
}

#[tokio::test]
async fn client_routes_admit_the_app_client_the_alb_header_names() {
    let (server, key) = KeyServer::serving_a_key().await;
    let authorizer = alb_authorizer(&LocalIssuer::offline(), two_client_verifier(&server));
    let headers = alb_headers(&mint(&key, &header(&key, ARN), &payload(), true));
    assert_eq!(decide(&authorizer, "/client-a", &headers).await, Ok(()));
}

#[tokio::test]
async fn alb_tokens_not_valid_yet_are_refused() {
    let (server, key) = KeyServer::serving_a_key().await;
    let verifier = verifier(&server, ARN);
    let mut claims = payload();
    claims["nbf"] = json!(NOW + 3600);
    claims["exp"] = json!(NOW + 7200);
    let token = mint(&key, &header(&key, ARN), &claims, true);
    assert_eq!(code(&verifier, &token).await, "not_yet_valid");
}

#[tokio::test]
async fn public_routes_behind_an_alb_offer_no_identity_but_the_albs() {
    let (server, key) = KeyServer::serving_a_key().await;
    let cognito = LocalIssuer::offline();
    let authorizer = alb_authorizer(&cognito, verifier(&server, ARN));
    let mut headers = alb_headers(&mint(&key, &header(&key, ARN), &payload(), true));
    let bearer = cognito.access_token().subject("mallory").sign();
    headers.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {bearer}")).expect("ascii"),
    );
    let decision = authorizer.authorize(&Method::GET, "/open", &headers).await;
    assert!(decision.is_allowed());
    assert_eq!(
        decision.token().map(|token| token.issuer_name()),
        Some("alb"),
        "the ALB's identity is offered"
    );
    // Without the ALB's header, the client's token is not offered either.
    headers.remove(ALB_DATA_HEADER);
    let decision = authorizer.authorize(&Method::GET, "/open", &headers).await;
    assert!(decision.is_allowed());
    assert!(decision.token().is_none(), "offered {decision:?}");
}

#[tokio::test]
async fn guarded_routes_behind_an_alb_take_the_identity_from_its_header_alone() {
    let (server, key) = KeyServer::serving_a_key().await;
    let cognito = LocalIssuer::offline();
    let authorizer = alb_authorizer(&cognito, verifier(&server, ARN));
    let bearer = cognito
        .access_token()
        .groups(["admin"])
        .scopes(["api/write"])
        .sign();
    let with_bearer = |alb: Option<&str>| {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {bearer}")).expect("ascii"),
        );
        if let Some(alb) = alb {
            headers.append(ALB_DATA_HEADER, HeaderValue::from_str(alb).expect("ascii"));
        }
        headers
    };
    let token = mint(&key, &header(&key, ARN), &payload(), true);
    let forged = format!("{}A", token.trim_end_matches('='));
    // A valid Cognito token in `Authorization` is no identity behind an ALB, with or without
    // an ALB header next to it; the ALB's identity carries no group.
    for (alb, expected) in [
        (None, "401 missing_token"),
        (Some(""), "401 malformed_token"),
        (Some(forged.as_str()), "401 invalid_signature"),
        (Some(token.as_str()), "403 forbidden"),
    ] {
        let headers = with_bearer(alb);
        assert_eq!(
            decide(&authorizer, "/admin", &headers).await,
            Err(expected.to_owned()),
            "{alb:?}"
        );
    }
    // Two ALB headers, whatever their spelling, are refused even when both are valid.
    let mut twice = alb_headers(&token);
    twice.append(
        http::HeaderName::from_static("x-amzn-oidc-data"),
        HeaderValue::from_str(&token).expect("ascii"),
    );
    assert_eq!(
        decide(&authorizer, "/me", &twice).await,
        Err("400 invalid_request".to_owned())
    );
    assert_eq!(
        decide(&authorizer, "/me", &alb_headers(&token)).await,
        Ok(())
    );
}

#[tokio::test]
async fn kids_other_than_uuids_never_reach_the_key_endpoint() {
    let (server, key) = KeyServer::serving_a_key().await;
    let verifier = verifier(&server, ARN);
    let uuid = key.kid.clone();
    let kids = [
        format!("{uuid}/../{uuid}"),
        format!("{uuid}?x=1"),
        format!("{uuid}#x"),
        format!("@evil.example/{uuid}"),
        format!("{uuid}%2F"),
        uuid.replacen('-', "%2D", 1),
        format!(" {uuid}"),
        format!("{uuid}\n"),
        // Thirty-six characters, none of them ASCII hex past the first.
        uuid.replacen(&uuid[..3], "\u{ff41}", 1),
        "x".repeat(10_000),
        uuid.replace('-', "/"),
        String::new(),
    ];
    for kid in kids {
        let mut forged = header(&key, ARN);
        forged["kid"] = json!(kid);
        let token = mint(&key, &forged, &payload(), true);
        let expected = if token.len() > 16 * 1024 {
            "token_too_large"
        } else {
            "malformed_token"
        };
        assert_eq!(code(&verifier, &token).await, expected, "{kid:?}");
    }
    assert_eq!(server.requests(), 0);
    // A kid of upper-case hex is a UUID: asked for as sent, and the endpoint decides.
    let upper = key.kid.to_uppercase();
    let mut header_upper = header(&key, ARN);
    header_upper["kid"] = json!(upper);
    let token = mint(&key, &header_upper, &payload(), true);
    assert_eq!(code(&verifier, &token).await, "unknown_kid");
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn a_key_endpoint_answer_that_is_no_key_is_not_cached() {
    let server = KeyServer::start().await;
    let key = Key::new();
    server.keys.lock().expect("keys").insert(
        key.kid.clone(),
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".to_owned(),
    );
    let verifier = verifier(&server, ARN);
    let token = mint(&key, &header(&key, ARN), &payload(), true);
    assert_eq!(code(&verifier, &token).await, "unknown_kid");
    // The next request asks again (within the interval's four fetches) and gets the key.
    server.serve(&key);
    assert_eq!(code(&verifier, &token).await, "ok");
    assert_eq!(code(&verifier, &token).await, "ok");
    assert_eq!(
        server.requests(),
        2,
        "the key, once got, is not fetched again"
    );
}
