//! `AuthzLayer` behind lambda_http, on every kind of event lambda_http turns into a request:
//! API Gateway REST API (stage in the path, and with `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH`),
//! HTTP API on `$default` and on a named stage, ALB, and Lambda function URLs. The events are the
//! `aws_lambda_events` and lambda_http fixtures in `tests/data/lambda`, pointed at an admin route
//! and converted by lambda_http's own conversion; the handler answers with the route it ran.
//!
//! The last test runs the `lambda` example under `cargo lambda watch` and sends it the same
//! events with `cargo lambda invoke`. cargo-lambda comes from PyPI: `scripts/test.sh` installs
//! it into `target/tools-venv`; without it that test fails, naming the command that fixes it.

use std::convert::Infallible;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use cognito_authz_core::{Authorizer, VerifiedToken};
use cognito_authz_test_support::contract;
use cognito_authz_test_support::free_loopback_port;
use cognito_authz_test_support::policy::PolicyText;
use cognito_authz_testkit::LocalIssuer;
use cognito_authz_tower::{AuthzLayer, StagePath, lambda_policy_path};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use tower::{ServiceBuilder, ServiceExt};

/// The policy of these tests; routes are written as the API's routes are, without a stage.
/// Paths no route names are refused to every signed-in caller, so a path the layer failed to
/// match (a stage left in front) can never be let in.
fn policy_text() -> String {
    PolicyText::standard()
        .unmatched("not authenticated")
        .to_string()
}

/// The kinds of event lambda_http accepts, each from its fixture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    /// REST API (payload 1.0), stage `testStage`.
    Rest,
    /// HTTP API (payload 2.0) on the `$default` stage.
    HttpDefault,
    /// HTTP API on the named stage `Prod`: `rawPath` starts with `/Prod`.
    HttpStage,
    /// Application Load Balancer target.
    Alb,
    /// Lambda function URL (payload 2.0, stage `$default`).
    FunctionUrl,
}

const EVENTS: [Event; 5] = [
    Event::Rest,
    Event::HttpDefault,
    Event::HttpStage,
    Event::Alb,
    Event::FunctionUrl,
];

impl Event {
    fn fixture(self) -> &'static str {
        match self {
            Event::Rest => "example-apigw-request.json",
            Event::HttpDefault => "example-apigw-v2-request-no-authorizer.json",
            Event::HttpStage => "apigw_v2_proxy_request_with_stage_in_path.json",
            Event::Alb => "example-alb-lambda-target-request-headers-only.json",
            Event::FunctionUrl => "lambda_function_url_request.json",
        }
    }

    /// The fixture, sent to `GET path` (as the API's routes see it) with `authorization`.
    fn json(self, path: &str, authorization: Option<&str>) -> String {
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/lambda")
            .join(self.fixture());
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        let mut event: Value = serde_json::from_str(&text).expect("fixture JSON");
        let stage = event
            .pointer("/requestContext/stage")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match self {
            Event::Rest => {
                let stage = stage.expect("REST events have a stage");
                event["path"] = json!(path);
                event["httpMethod"] = json!("GET");
                event["requestContext"]["path"] = json!(format!("/{stage}{path}"));
                event["requestContext"]["httpMethod"] = json!("GET");
            }
            Event::Alb => {
                event["path"] = json!(path);
                event["httpMethod"] = json!("GET");
            }
            Event::HttpDefault | Event::HttpStage | Event::FunctionUrl => {
                // On a named stage API Gateway puts the stage in `rawPath`.
                let raw = match stage.as_deref() {
                    Some(stage) if stage != "$default" => format!("/{stage}{path}"),
                    _ => path.to_owned(),
                };
                event["rawPath"] = json!(raw);
                event["requestContext"]["http"]["path"] = json!(raw);
                event["requestContext"]["http"]["method"] = json!("GET");
                event["body"] = Value::Null;
            }
        }
        cognito_authz_test_support::responses::set_event_authorization(&mut event, authorization);
        event.to_string()
    }

    /// Whether lambda_http read the event as this kind.
    fn is_context(self, context: &RequestContext) -> bool {
        matches!(
            (self, context),
            (Event::Rest, RequestContext::ApiGatewayV1(_))
                | (
                    Event::HttpDefault | Event::HttpStage | Event::FunctionUrl,
                    RequestContext::ApiGatewayV2(_)
                )
                | (Event::Alb, RequestContext::Alb(_))
        )
    }
}

/// The handler: a small router over the path the policy sees, answering with the route that
/// ran and who called.
async fn handler(request: Request) -> Result<Response<Body>, Infallible> {
    let path = lambda_policy_path(&request);
    let route = match path {
        "/health" => "/health",
        _ if path.starts_with("/admin/") && path.len() > "/admin/".len() => "/admin/{*rest}",
        _ => "fallback",
    };
    let user = request
        .extensions()
        .get::<Arc<VerifiedToken>>()
        .and_then(|token| token.username())
        .unwrap_or("anonymous");
    Ok(Response::new(Body::from(format!(
        "route {route} for {user}"
    ))))
}

struct Fixture {
    issuer: LocalIssuer,
    layer: AuthzLayer,
}

impl Fixture {
    fn new() -> Self {
        let issuer = LocalIssuer::offline();
        // The offline issuer's keys and client, as the only issuer.
        let authorizer = issuer
            .authorizer(&policy_text())
            .unwrap_or_else(|error| panic!("{error}"));
        Self {
            issuer,
            layer: AuthzLayer::new(authorizer),
        }
    }

    fn user(&self) -> String {
        format!("Bearer {}", contract::user(&self.issuer))
    }

    fn admin(&self) -> String {
        format!("Bearer {}", contract::admin(&self.issuer))
    }

    /// Sends `event` through lambda_http's conversion and the layer; status and body.
    async fn send(&self, layer: AuthzLayer, event: Event, json: &str) -> (u16, String) {
        let request = lambda_http::request::from_str(json)
            .unwrap_or_else(|error| panic!("{event:?}: lambda_http rejects the event: {error}"));
        let context = request
            .extensions()
            .get::<RequestContext>()
            .expect("lambda_http leaves the request context");
        assert!(event.is_context(context), "{event:?} read as {context:?}");
        let service = ServiceBuilder::new()
            .layer(layer)
            .service(tower::service_fn(handler));
        let response = service.oneshot(request).await.expect("infallible");
        let status = response.status().as_u16();
        let body = match response.into_body() {
            Body::Text(text) => text,
            Body::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Body::Empty => String::new(),
            other => format!("{other:?}"),
        };
        (status, body)
    }
}

/// The `[[issuer]]` table for `issuer`, with its keys from `jwks_file`.
fn issuer_toml(issuer: &LocalIssuer, jwks_file: &str) -> String {
    format!(
        "[[issuer]]\nuser_pool_id = \"{}\"\nclient_ids = [\"{}\"]\ntoken_use = \"any\"\njwks_file = \"{jwks_file}\"\n",
        issuer.pool_id(),
        issuer.client_id()
    )
}

/// `(what, path, authorization, status, body)` rows every event kind must answer alike.
fn rows(fixture: &Fixture) -> Vec<(&'static str, &'static str, Option<String>, u16, String)> {
    vec![
        (
            "no token",
            "/admin/users",
            None,
            401,
            r#"{"message":"Unauthorized"}"#.into(),
        ),
        (
            "user",
            "/admin/users",
            Some(fixture.user()),
            403,
            r#"{"message":"Forbidden"}"#.into(),
        ),
        (
            "admin",
            "/admin/users",
            Some(fixture.admin()),
            200,
            "route /admin/{*rest} for alice".into(),
        ),
        (
            "public, no token",
            "/health",
            None,
            200,
            "route /health for anonymous".into(),
        ),
        (
            "a path no route names, admin",
            "/other",
            Some(fixture.admin()),
            403,
            r#"{"message":"Forbidden"}"#.into(),
        ),
    ]
}

/// The environment variable with which lambda_http leaves the stage out of REST API paths.
const IGNORE_STAGE: &str = "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH";

#[tokio::test]
async fn every_event_kind_is_matched_on_the_path_the_api_routes_name() {
    assert!(
        std::env::var_os(IGNORE_STAGE).is_none(),
        "run without {IGNORE_STAGE}: the test with it sets it itself"
    );
    let fixture = Fixture::new();
    for event in EVENTS {
        for (what, path, authorization, status, body) in rows(&fixture) {
            let json = event.json(path, authorization.as_deref());
            let seen = fixture.send(fixture.layer.clone(), event, &json).await;
            assert_eq!(seen, (status, body.clone()), "{event:?}: {what}");
        }
    }
}

/// lambda_http resolves `..` segments (`%2e%2e` too) as it builds the URI, which can take the
/// stage out of it: the path the client sent decides too, and its dot segment is refused,
/// wherever the stage ends up.
#[tokio::test]
async fn a_dot_segment_lambda_http_resolved_is_refused_as_sent() {
    assert!(
        std::env::var_os(IGNORE_STAGE).is_none(),
        "run without {IGNORE_STAGE}: the test with it sets it itself"
    );
    let fixture = Fixture::new();
    for event in [Event::Rest, Event::HttpStage] {
        for path in [
            "/%2e%2e/health",
            "/../health",
            "/x/%2E%2E/health",
            "/admin/../health",
        ] {
            let json = event.json(path, Some(&fixture.admin()));
            let (status, body) = fixture.send(fixture.layer.clone(), event, &json).await;
            assert_eq!(status, 400, "{event:?} {path}: {body}");
            assert!(
                body.contains("invalid_request") || body.contains("Bad Request"),
                "{body}"
            );
        }
    }
}

#[test]
fn the_stage_is_what_lambda_http_put_in_front_and_only_that() {
    // (event, the API's path, the path lambda_http builds, the path the policy sees)
    let cases = [
        (
            Event::Rest,
            "/admin/users",
            "/testStage/admin/users",
            "/admin/users",
        ),
        (
            Event::HttpStage,
            "/admin/users",
            "/Prod/admin/users",
            "/admin/users",
        ),
        (
            Event::HttpDefault,
            "/admin/users",
            "/admin/users",
            "/admin/users",
        ),
        (Event::Alb, "/admin/users", "/admin/users", "/admin/users"),
        (
            Event::FunctionUrl,
            "/admin/users",
            "/admin/users",
            "/admin/users",
        ),
        // A stage-like first segment stays where no stage was put in front.
        (Event::Alb, "/testStage/a", "/testStage/a", "/testStage/a"),
        (Event::HttpDefault, "/Prod/a", "/Prod/a", "/Prod/a"),
        // lambda_http does not add the stage again in front of a REST path that starts with
        // it: the router behind it sees `/testStage/admin/x` like `/admin/x` on that stage,
        // and the policy sees `/admin/x` for both.
        (
            Event::Rest,
            "/testStage/admin/x",
            "/testStage/admin/x",
            "/admin/x",
        ),
    ];
    for (event, api_path, built, policy) in cases {
        let request = lambda_http::request::from_str(&event.json(api_path, None)).expect("event");
        assert_eq!(
            request.uri().path(),
            built,
            "{event:?} {api_path}: lambda_http's path"
        );
        assert_eq!(lambda_policy_path(&request), policy, "{event:?} {api_path}");
    }
}

#[tokio::test]
async fn keeping_the_stage_misses_the_route_and_the_miss_denies() {
    let fixture = Fixture::new();
    let keep = fixture.layer.clone().stage_path(StagePath::Keep);
    for event in [Event::Rest, Event::HttpStage] {
        // The policy sees `/{stage}/admin/users`: no route, the unmatched policy refuses.
        for (authorization, status) in [(fixture.admin(), 403), (fixture.user(), 403)] {
            let json = event.json("/admin/users", Some(&authorization));
            let (seen, body) = fixture.send(keep.clone(), event, &json).await;
            assert_eq!(seen, status, "{event:?}: {body}");
        }
    }
    // Without a stage there is nothing to keep: the same answers as the default.
    let json = Event::Alb.json("/admin/users", Some(&fixture.admin()));
    assert_eq!(fixture.send(keep, Event::Alb, &json).await.0, 200);
}

#[tokio::test]
async fn rest_apis_with_ignore_stage_in_path_are_matched_on_the_same_path() {
    // The variable is process-wide and read by lambda_http and the layer alike: this test runs
    // again in a child process that has it.
    if !cognito_authz_test_support::in_child_with(
        "rest_apis_with_ignore_stage_in_path_are_matched_on_the_same_path",
        IGNORE_STAGE,
    ) {
        return;
    }
    let fixture = Fixture::new();
    // lambda_http leaves the REST stage out; an HTTP API's rawPath still carries its stage.
    let request =
        lambda_http::request::from_str(&Event::Rest.json("/admin/users", None)).expect("event");
    assert_eq!(request.uri().path(), "/admin/users");
    let request = lambda_http::request::from_str(&Event::HttpStage.json("/admin/users", None))
        .expect("event");
    assert_eq!(request.uri().path(), "/Prod/admin/users");
    // A REST resource path that starts like the stage is the API's path, kept as it is.
    let request = lambda_http::request::from_str(&Event::Rest.json("/testStage/admin/x", None))
        .expect("event");
    assert_eq!(lambda_policy_path(&request), "/testStage/admin/x");
    for event in EVENTS {
        for (what, path, authorization, status, body) in rows(&fixture) {
            let json = event.json(path, authorization.as_deref());
            let seen = fixture.send(fixture.layer.clone(), event, &json).await;
            assert_eq!(seen, (status, body.clone()), "{event:?}: {what}");
        }
    }
}

/// `cargo lambda watch` serving the `lambda` example on 127.0.0.1, ended on drop.
struct Watch {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Watch {
    /// Starts it with the function's extra environment `env` (`NAME=value`).
    fn start(program: &Path, dir: &Path, policy: &Path, env: Option<&str>) -> Self {
        let port = free_loopback_port();
        let log = dir.join(format!("watch-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("watch log");
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let child = Command::new(program)
            .args(["lambda", "watch", "--invoke-address", "127.0.0.1"])
            .arg("--invoke-port")
            .arg(port.to_string())
            .args([
                "--ignore-changes",
                "--example",
                "lambda",
                "--features",
                "lambda-http",
            ])
            .arg("--manifest-path")
            .arg(manifest)
            .arg("--env-var")
            .arg(format!("COGNITO_AUTHZ_POLICY={}", policy.display()))
            .args(env.map(|env| format!("--env-var={env}")))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {}: {error}; run `scripts/test.sh` to install cargo-lambda",
                    program.display()
                )
            });
        Self { child, port, log }
    }

    /// Waits until the emulator accepts connections (it starts the function on the first
    /// invocation).
    fn wait_until_listening(&mut self) {
        for _ in 0..LISTEN_ATTEMPTS {
            if let Some(status) = self.child.try_wait().expect("cargo lambda watch status") {
                panic!(
                    "cargo lambda watch exited ({status}) before listening on 127.0.0.1:{}; \
                     its log:\n{}",
                    self.port,
                    self.log_text()
                );
            }
            if std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok() {
                return;
            }
            std::thread::sleep(LISTEN_POLL);
        }
        panic!(
            "cargo lambda watch did not listen on 127.0.0.1:{} within {} s; its log:\n{}",
            self.port,
            (LISTEN_POLL * LISTEN_ATTEMPTS).as_secs(),
            self.log_text()
        );
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_else(|error| format!("(unreadable: {error})"))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // By its id only. The function it started ends by itself once the emulator's runtime
        // API is gone (its next-invocation request fails).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds the `lambda` example as `cargo lambda watch` will run it, so the first invocation
/// does not wait for a build (and a build failure shows here, with cargo's own output).
fn build_the_example() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "--features", "lambda-http", "--example", "lambda"])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .stdin(Stdio::null())
        .output()
        .expect("cargo build");
    assert!(
        output.status.success(),
        "building the lambda example failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Connection attempts while the emulator starts, `LISTEN_POLL` apart: 60 s at most.
const LISTEN_ATTEMPTS: u32 = 600;
const LISTEN_POLL: Duration = Duration::from_millis(100);

#[test]
fn cargo_lambda_watch_and_invoke_answer_every_event_kind() {
    let program = cognito_authz_test_support::tools::cargo_lambda();
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cargo-lambda-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("work folder");
    // Real time here: the function runs with the system clock.
    let issuer = LocalIssuer::builder()
        .system_clock()
        .offline()
        .expect("local issuer");
    std::fs::write(dir.join("keys.json"), issuer.jwks_json()).expect("keys");
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        format!("{}\n{}", issuer_toml(&issuer, "keys.json"), policy_text()),
    )
    .expect("policy");
    let fixture = Fixture {
        layer: Authorizer::builder()
            .policy_file(&policy)
            .build()
            .map(AuthzLayer::new)
            .unwrap_or_else(|error| panic!("{error}")),
        issuer,
    };
    build_the_example();
    for env in [None, Some(format!("{IGNORE_STAGE}=true"))] {
        invoke_every_event(&program, &dir, &policy, env.as_deref(), &fixture);
    }
}

/// Starts `cargo lambda watch` (the function with `env`) and sends it every event and row.
fn invoke_every_event(
    program: &Path,
    dir: &Path,
    policy: &Path,
    env: Option<&str>,
    fixture: &Fixture,
) {
    let mut watch = Watch::start(program, dir, policy, env);
    watch.wait_until_listening();
    for event in EVENTS {
        for (what, path, authorization, status, body) in rows(fixture) {
            let file = dir.join("event.json");
            std::fs::write(&file, event.json(path, authorization.as_deref())).expect("event");
            let output = Command::new(program)
                .args(["lambda", "invoke", "--invoke-address", "127.0.0.1"])
                .arg("--invoke-port")
                .arg(watch.port.to_string())
                .arg("--data-file")
                .arg(&file)
                .args(["--output-format", "json"])
                .stdin(Stdio::null())
                .output()
                .expect("cargo lambda invoke");
            assert!(
                output.status.success(),
                "{event:?} ({env:?}): {what}: cargo lambda invoke failed ({}):\n{}\n{}\n\
                 cargo lambda watch:\n{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
                watch.log_text()
            );
            let answer = String::from_utf8_lossy(&output.stdout);
            let response: Value = serde_json::from_str(&answer)
                .unwrap_or_else(|error| panic!("{event:?}: {what}: {error}: {answer}"));
            assert_eq!(
                (
                    response["statusCode"].as_u64(),
                    response["body"].as_str().unwrap_or_default()
                ),
                (Some(u64::from(status)), body.as_str()),
                "{event:?} ({env:?}): {what}: {response}"
            );
            if status == 200 && event == Event::Rest {
                // The variable reached the function: lambda_http left the stage out.
                let built = if env.is_some() {
                    path.to_owned()
                } else {
                    format!("/testStage{path}")
                };
                // REST answers carry headers in `multiValueHeaders`.
                assert_eq!(
                    response["multiValueHeaders"]["x-request-path"][0].as_str(),
                    Some(built.as_str()),
                    "{env:?}: {what}: {response}"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_stage_is_stripped_while_keys_are_fetched_too() {
    // A JWKS server: the first decision waits for the key set (the layer's boxed path).
    for (group, status) in [("admin", 200), ("staff", 403)] {
        let issuer = LocalIssuer::start().await.expect("local issuer");
        let authorizer = issuer
            .authorizer(&policy_text())
            .unwrap_or_else(|error| panic!("{error}"));
        let token = issuer
            .access_token()
            .username("carol")
            .groups([group])
            .sign();
        let fixture = Fixture {
            issuer,
            layer: AuthzLayer::new(authorizer),
        };
        let json = Event::Rest.json("/admin/users", Some(&format!("Bearer {token}")));
        let (seen, body) = fixture
            .send(fixture.layer.clone(), Event::Rest, &json)
            .await;
        assert_eq!(seen, status, "{group}: {body}");
        assert_eq!(fixture.issuer.server().expect("server").fetch_count(), 1);
    }
}
