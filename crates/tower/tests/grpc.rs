//! `AuthzLayer::grpc` in front of real tonic 0.14 servers on 127.0.0.1, wired both ways the
//! README shows (`Server::builder().layer(..)` and per service with `named_layer`), called by
//! tonic's client and by Python's `grpcio` (gRPC C-core): every client must read the same gRPC
//! code for the same denial.
//!
//! The services are written by hand the way tonic's code generator writes them (no protoc):
//! `test.Greeter` with `Hello` (any signed-in user) and `Admin` (group `admin`), and
//! `test.Health` with `Check` (public). Handlers answer with the method that ran and the user
//! the layer verified.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::process::Command;
use std::sync::Arc;
use std::task::{Context, Poll};

use cognito_authz_core::{Authorizer, VerifiedToken};
use cognito_authz_test_support::responses::invalid;
use cognito_authz_test_support::{contract, tools};
use cognito_authz_testkit::LocalIssuer;
use cognito_authz_tower::AuthzLayer;
use http::uri::PathAndQuery;
use tokio::sync::oneshot;
use tonic::server::NamedService;
use tonic::service::LayerExt as _;
use tonic::transport::{Channel, Server};
use tonic::{Code, Status};
use tonic_prost::ProstCodec;

const POLICY: &str = r#"
# Methods no route names are refused to every signed-in caller (fail closed).
[defaults]
unmatched = "not authenticated"

# gRPC methods are HTTP/2 paths: /package.Service/Method.
[[route]]
path = "/test.Greeter/Admin"
require = "group:admin"

[[route]]
path = "/test.Greeter/{method}"
require = "authenticated"

[[route]]
path = "/test.Health/Check"
require = "public"
"#;

/// `message HelloRequest { string name = 1; }`
#[derive(Clone, PartialEq, prost::Message)]
struct HelloRequest {
    #[prost(string, tag = "1")]
    name: String,
}

/// `message HelloReply { string message = 1; }`
#[derive(Clone, PartialEq, prost::Message)]
struct HelloReply {
    #[prost(string, tag = "1")]
    message: String,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A hand-written gRPC service named `NAME`, serving the unary `METHODS`: what tonic's code
/// generator emits for a service, minus the trait.
#[derive(Debug, Clone, Copy, Default)]
struct Unary<const SERVICE: usize>;

/// `(service name, methods)` by index.
const SERVICES: [(&str, &[&str]); 2] = [
    ("test.Greeter", &["Hello", "Admin"]),
    ("test.Health", &["Check"]),
];

impl NamedService for Unary<0> {
    const NAME: &'static str = SERVICES[0].0;
}

impl NamedService for Unary<1> {
    const NAME: &'static str = SERVICES[1].0;
}

impl<const SERVICE: usize, B> tower::Service<http::Request<B>> for Unary<SERVICE>
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let (service, methods) = SERVICES[SERVICE];
        let method = request
            .uri()
            .path()
            .strip_prefix('/')
            .and_then(|path| path.strip_prefix(service))
            .and_then(|path| path.strip_prefix('/'))
            .and_then(|method| methods.iter().find(|known| **known == method));
        let Some(method) = method else {
            return Box::pin(async { Ok(Status::unimplemented("no such method").into_http()) });
        };
        let ran = format!("/{service}/{method}");
        let handler = tower::service_fn(move |request: tonic::Request<HelloRequest>| {
            let user = request
                .extensions()
                .get::<Arc<VerifiedToken>>()
                .and_then(|token| token.username())
                .unwrap_or("anonymous")
                .to_owned();
            let message = format!("{ran} for {user}");
            async move { Ok::<_, Status>(tonic::Response::new(HelloReply { message })) }
        });
        Box::pin(async move {
            let mut grpc =
                tonic::server::Grpc::new(ProstCodec::<HelloReply, HelloRequest>::default());
            Ok(grpc.unary(handler, request).await)
        })
    }
}

/// How the layer is put in front of the services.
#[derive(Debug, Clone, Copy)]
enum Wiring {
    /// `Server::builder().layer(AuthzLayer::grpc(a))`: every service.
    ServerLayer,
    /// `add_service(layer.named_layer(greeter))`: the greeter only; health unprotected.
    NamedLayer,
}

/// A tonic server on 127.0.0.1, stopped on drop.
struct GrpcServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl GrpcServer {
    async fn start(authorizer: Authorizer, wiring: Wiring) -> Self {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("address");
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async {
            let _ = stopped.await;
        };
        let authz = AuthzLayer::grpc(authorizer);
        match wiring {
            Wiring::ServerLayer => {
                let server = Server::builder()
                    .layer(authz)
                    .add_service(Unary::<0>)
                    .add_service(Unary::<1>)
                    .serve_with_incoming_shutdown(incoming, shutdown);
                tokio::spawn(server);
            }
            Wiring::NamedLayer => {
                let server = Server::builder()
                    .add_service(authz.named_layer(Unary::<0>))
                    .add_service(Unary::<1>)
                    .serve_with_incoming_shutdown(incoming, shutdown);
                tokio::spawn(server);
            }
        }
        Self {
            addr,
            stop: Some(stop),
        }
    }
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// What a client saw: the gRPC code, the message (reply text when OK) and the challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    code: i32,
    message: String,
    www_authenticate: Option<String>,
    retry_after: Option<String>,
}

impl Seen {
    fn ok(message: &str) -> Self {
        Self {
            code: 0,
            message: message.to_owned(),
            www_authenticate: None,
            retry_after: None,
        }
    }

    fn denied(code: Code, message: &str, challenge: Option<&str>) -> Self {
        Self {
            code: code as i32,
            message: message.to_owned(),
            www_authenticate: challenge.map(str::to_owned),
            retry_after: None,
        }
    }
}

/// One call: the method path and the `authorization` metadata entries.
#[derive(Debug, Clone)]
struct Call {
    what: &'static str,
    method: &'static str,
    authorization: Vec<String>,
}

fn call(what: &'static str, method: &'static str, authorization: &[&str]) -> Call {
    Call {
        what,
        method,
        authorization: authorization.iter().map(|a| (*a).to_owned()).collect(),
    }
}

async fn tonic_call(addr: SocketAddr, call: &Call) -> Seen {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.expect("ready");
    let mut request = tonic::Request::new(HelloRequest {
        name: "test".to_owned(),
    });
    for value in &call.authorization {
        request
            .metadata_mut()
            .append("authorization", value.parse().expect("ASCII metadata"));
    }
    let answer = client
        .unary(
            request,
            PathAndQuery::from_static(call.method),
            ProstCodec::<HelloRequest, HelloReply>::default(),
        )
        .await;
    match answer {
        Ok(response) => Seen::ok(&response.into_inner().message),
        Err(status) => Seen {
            code: status.code() as i32,
            message: status.message().to_owned(),
            www_authenticate: metadata(&status, "www-authenticate"),
            retry_after: metadata(&status, "retry-after"),
        },
    }
}

fn metadata(status: &Status, key: &str) -> Option<String> {
    status
        .metadata()
        .get(key)
        .map(|value| value.to_str().expect("ASCII").to_owned())
}

async fn fixture() -> (LocalIssuer, Authorizer) {
    let issuer = LocalIssuer::start().await.expect("local issuer");
    let authorizer = issuer
        .authorizer(POLICY)
        .unwrap_or_else(|error| panic!("{error}"));
    (issuer, authorizer)
}

/// The calls every client makes, and what each must see, for a server with `wiring`.
fn table(issuer: &LocalIssuer, wiring: Wiring) -> Vec<(Call, Seen)> {
    let user = format!("Bearer {}", contract::user(issuer));
    let admin = format!("Bearer {}", contract::admin(issuer));
    let forbidden = r#"Bearer error="insufficient_scope""#;
    let malformed = invalid("malformed token");
    let mut rows = vec![
        (
            call("no token", "/test.Greeter/Hello", &[]),
            Seen::denied(Code::Unauthenticated, "missing_token", Some("Bearer")),
        ),
        (
            call(
                "malformed token",
                "/test.Greeter/Hello",
                &["Bearer not.a.token"],
            ),
            Seen::denied(Code::Unauthenticated, "malformed_token", Some(&malformed)),
        ),
        (
            call("two tokens", "/test.Greeter/Hello", &[&user, &user]),
            Seen::denied(
                Code::InvalidArgument,
                "invalid_request",
                Some(r#"Bearer error="invalid_request""#),
            ),
        ),
        (
            call("user", "/test.Greeter/Hello", &[&user]),
            Seen::ok("/test.Greeter/Hello for bob"),
        ),
        (
            call("user on the admin method", "/test.Greeter/Admin", &[&user]),
            Seen::denied(Code::PermissionDenied, "forbidden", Some(forbidden)),
        ),
        (
            call("admin", "/test.Greeter/Admin", &[&admin]),
            Seen::ok("/test.Greeter/Admin for alice"),
        ),
        (
            call("unknown method, user", "/test.Greeter/Nope", &[&user]),
            Seen::denied(Code::Unimplemented, "no such method", None),
        ),
        (
            // Another spelling of `Admin` is guarded by the admin route too (its decoded form),
            // so it is refused before the router, which would not have routed it anyway.
            call(
                "percent-encoded admin method, user",
                "/test.Greeter/%41dmin",
                &[&user],
            ),
            Seen::denied(Code::PermissionDenied, "forbidden", Some(forbidden)),
        ),
        (
            call(
                "admin method with a trailing slash, user",
                "/test.Greeter/Admin/",
                &[&user],
            ),
            Seen::denied(Code::PermissionDenied, "forbidden", Some(forbidden)),
        ),
        (
            call("public method, no token", "/test.Health/Check", &[]),
            Seen::ok("/test.Health/Check for anonymous"),
        ),
    ];
    if let Wiring::ServerLayer = wiring {
        // A service the policy does not name: the unmatched default denies, before routing.
        rows.push((
            call("unnamed service, admin", "/test.Other/Call", &[&admin]),
            Seen::denied(Code::PermissionDenied, "forbidden", Some(forbidden)),
        ));
        rows.push((
            call(
                "no token on the public method's twin",
                "/test.Health/Check2",
                &[],
            ),
            Seen::denied(Code::Unauthenticated, "missing_token", Some("Bearer")),
        ));
    }
    rows
}

#[tokio::test]
async fn tonic_clients_see_grpc_codes_with_the_server_layer_and_with_named_layer() {
    for wiring in [Wiring::ServerLayer, Wiring::NamedLayer] {
        let (issuer, authorizer) = fixture().await;
        let server = GrpcServer::start(authorizer, wiring).await;
        for (call, expected) in table(&issuer, wiring) {
            let seen = tonic_call(server.addr, &call).await;
            assert_eq!(seen, expected, "{wiring:?}: {}", call.what);
        }
    }
}

/// A key set that cannot be fetched: `UNAVAILABLE` with `retry-after`, no challenge.
async fn keys_unavailable() -> (LocalIssuer, Authorizer, Call, Seen) {
    let issuer = LocalIssuer::start().await.expect("issuer");
    issuer.server().expect("server").respond_with_status(500);
    let authorizer = issuer
        .authorizer(POLICY)
        .unwrap_or_else(|error| panic!("{error}"));
    let token = format!("Bearer {}", issuer.access_token().sign());
    let call = Call {
        what: "keys unavailable",
        method: "/test.Greeter/Hello",
        authorization: vec![token],
    };
    let expected = Seen {
        code: Code::Unavailable as i32,
        message: "jwks_unavailable".to_owned(),
        www_authenticate: None,
        retry_after: Some("5".to_owned()),
    };
    (issuer, authorizer, call, expected)
}

#[tokio::test]
async fn keys_unavailable_is_unavailable_with_retry_after() {
    let (_issuer, authorizer, call, expected) = keys_unavailable().await;
    let server = GrpcServer::start(authorizer, Wiring::ServerLayer).await;
    assert_eq!(tonic_call(server.addr, &call).await, expected);
}

/// Runs `tests/grpcio_client.py` against `addr` with `calls`; returns what it saw, in order.
fn grpcio_calls(addr: SocketAddr, calls: &[Call]) -> Vec<Seen> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/grpcio_client.py");
    let input: Vec<serde_json::Value> = calls
        .iter()
        .map(|call| serde_json::json!({"method": call.method, "authorization": call.authorization}))
        .collect();
    let mut client = Command::new(tools::tools_python());
    client.arg(&script).arg(addr.to_string());
    let output = tools::output_with_input(
        client,
        serde_json::Value::from(input).to_string().as_bytes(),
    );
    assert!(
        output.status.success(),
        "the grpcio client failed ({}); run `scripts/test.sh` to install grpcio into \
         target/tools-venv. stderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Vec<BTreeMap<String, serde_json::Value>> =
        serde_json::from_slice(&output.stdout).expect("the client prints a JSON list");
    seen.into_iter()
        .map(|row| {
            let text = |key: &str| row.get(key).and_then(|v| v.as_str()).map(str::to_owned);
            Seen {
                code: row
                    .get("code")
                    .and_then(serde_json::Value::as_i64)
                    .and_then(|code| i32::try_from(code).ok())
                    .expect("code"),
                message: text("message").unwrap_or_default(),
                www_authenticate: text("www-authenticate"),
                retry_after: text("retry-after"),
            }
        })
        .collect()
}

#[tokio::test]
async fn python_grpcio_clients_see_the_same_codes() {
    for wiring in [Wiring::ServerLayer, Wiring::NamedLayer] {
        let (issuer, authorizer) = fixture().await;
        let server = GrpcServer::start(authorizer, wiring).await;
        let (calls, expected): (Vec<Call>, Vec<Seen>) = table(&issuer, wiring).into_iter().unzip();
        let addr = server.addr;
        let seen = tokio::task::spawn_blocking(move || grpcio_calls(addr, &calls))
            .await
            .expect("client thread");
        assert_eq!(seen, expected, "{wiring:?}");
    }
    let (_issuer, authorizer, call, expected) = keys_unavailable().await;
    let server = GrpcServer::start(authorizer, Wiring::ServerLayer).await;
    let addr = server.addr;
    let seen = tokio::task::spawn_blocking(move || grpcio_calls(addr, &[call]))
        .await
        .expect("client thread");
    assert_eq!(seen, vec![expected]);
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP/2 attacks: `:path` forms and `authorization` metadata a tonic client never sends,
// written with the h2 crate. The rule: a method ran ⇒ the caller satisfies its route.
// ---------------------------------------------------------------------------------------------

/// What one raw call got: the gRPC status (headers of a trailers-only answer, else trailers)
/// and the reply text when a method ran.
#[derive(Debug)]
struct RawSeen {
    http_status: u16,
    grpc_status: Option<String>,
    grpc_message: Option<String>,
    reply: Option<String>,
}

/// A raw caller: who, the metadata entries (name, value bytes), and the strongest method it
/// may run (0 none, 1 `Hello`, 2 `Admin`).
type Caller<'a> = (&'a str, Vec<(&'a str, Vec<u8>)>, u8);

/// A unary call to `path` with the metadata `headers` (name, value bytes), over h2.
async fn h2_call(addr: SocketAddr, path: &str, headers: &[(&str, Vec<u8>)]) -> Option<RawSeen> {
    use prost::Message as _;
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (client, connection) = h2::client::handshake(tcp).await.expect("h2 handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut client = client.ready().await.expect("ready");
    let uri = format!("http://{addr}{path}");
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(uri.as_str())
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (name, value) in headers {
        builder = builder.header(*name, http::HeaderValue::from_bytes(value).ok()?);
    }
    // A `:path` the http crate will not build is no request at all.
    let request = builder.body(()).ok()?;
    let (response, mut send) = client.send_request(request, false).ok()?;
    let message = HelloRequest {
        name: "raw".to_owned(),
    }
    .encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(message.len()).expect("small").to_be_bytes());
    frame.extend_from_slice(&message);
    send.send_data(bytes::Bytes::from(frame), true).ok()?;
    let response = response.await.ok()?;
    let http_status = response.status().as_u16();
    let header = |map: &http::HeaderMap, name: &str| {
        map.get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    let mut grpc_status = header(response.headers(), "grpc-status");
    let mut grpc_message = header(response.headers(), "grpc-message");
    let mut body = response.into_body();
    let mut data = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.ok()?;
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
    }
    if let Ok(Some(trailers)) = body.trailers().await {
        grpc_status = grpc_status.or_else(|| header(&trailers, "grpc-status"));
        grpc_message = grpc_message.or_else(|| header(&trailers, "grpc-message"));
    }
    let reply = (data.len() > 5)
        .then(|| HelloReply::decode(&data[5..]).ok())
        .flatten()
        .map(|reply| reply.message);
    Some(RawSeen {
        http_status,
        grpc_status,
        grpc_message,
        reply,
    })
}

/// Odd `:path` spellings of the admin method, and metadata forms, from no one, a user and an
/// administrator, through both wirings: only the administrator's exact call may run
/// `Admin`, only signed-in callers `Hello`; a refused call is never `OK`.
#[tokio::test]
async fn raw_http2_paths_and_metadata_never_run_a_method_the_policy_refused() {
    let (issuer, authorizer) = fixture().await;
    let user = format!("Bearer {}", contract::user(&issuer));
    let admin = format!("Bearer {}", contract::admin(&issuer));
    let admin_raw = contract::admin(&issuer);
    let paths = [
        "/test.Greeter/Admin",
        "/test.Greeter/Admin?x=1",
        "/test.Greeter/Admin/",
        "/test.Greeter/Admin/.",
        "/test.Greeter/Admin;x",
        "/test.Greeter/Admin%00",
        "/test.Greeter/Admin%2f",
        "/test.Greeter/%41dmin",
        "/test.Greeter/%61dmin",
        "/test.Greeter/admin",
        "/test.Greeter/ADMIN",
        "/test.Greeter//Admin",
        "//test.Greeter/Admin",
        "/test.Greeter/./Admin",
        "/test.Greeter/x/../Admin",
        "/test.Greeter/%2e/Admin",
        "/test.Health/../test.Greeter/Admin",
        "/test.Health/%2e%2e/test.Greeter/Admin",
        "/test.Health/..%2ftest.Greeter%2fAdmin",
        "/test.Health%2f..%2ftest.Greeter/Admin",
        "/test%2eGreeter/Admin",
        "/test.Greeter%2fAdmin",
        "/TEST.GREETER/Admin",
        "/test.Greeter/Hello",
        "/test.Greeter/Hello/../Admin",
        "/test.Greeter/Hello%2f..%2fAdmin",
        "/test.Health/Check",
        "/test.Health/Check/../../test.Greeter/Admin",
    ];
    // (who, metadata, the strongest method kind the caller may run: 0 none, 1 Hello, 2 Admin)
    let b64 = |text: &str| {
        use std::fmt::Write as _;
        // Standard base64 without padding, as gRPC writes `-bin` values.
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let bytes = text.as_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                let _ = out.write_char(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            }
        }
        out.into_bytes()
    };
    let callers: Vec<Caller<'_>> = vec![
        ("no token", vec![], 0),
        (
            "user",
            vec![("authorization", user.clone().into_bytes())],
            1,
        ),
        (
            "admin",
            vec![("authorization", admin.clone().into_bytes())],
            2,
        ),
        (
            "admin token only in authorization-bin",
            vec![("authorization-bin", b64(&admin))],
            0,
        ),
        (
            "user header, admin in authorization-bin",
            vec![
                ("authorization", user.clone().into_bytes()),
                ("authorization-bin", b64(&admin)),
            ],
            1,
        ),
        (
            "user and admin headers",
            vec![
                ("authorization", user.clone().into_bytes()),
                ("authorization", admin.clone().into_bytes()),
            ],
            0,
        ),
        (
            "admin then user, comma-joined",
            vec![("authorization", format!("{admin}, {user}").into_bytes())],
            0,
        ),
        (
            "admin token raw, no scheme",
            vec![("authorization", admin_raw.clone().into_bytes())],
            2,
        ),
        (
            "admin in grpc-metadata-authorization",
            vec![("grpc-metadata-authorization", admin.clone().into_bytes())],
            0,
        ),
        (
            "admin in a cookie",
            vec![("cookie", format!("authorization={admin_raw}").into_bytes())],
            0,
        ),
    ];
    let mut broken = Vec::new();
    let mut ran = 0;
    for wiring in [Wiring::ServerLayer, Wiring::NamedLayer] {
        let server = GrpcServer::start(authorizer.clone(), wiring).await;
        for path in paths {
            for (who, metadata, may) in &callers {
                let Some(seen) = h2_call(server.addr, path, metadata).await else {
                    continue;
                };
                // Every answer is a gRPC one, and no message repeats a token.
                if seen.http_status != 200
                    || seen.grpc_status.is_none()
                    || seen.grpc_message.as_deref().is_some_and(|message| {
                        message.len() > 40 || message.contains(&admin_raw[..20])
                    })
                {
                    broken.push(format!("{wiring:?} {path} as {who}: answer {seen:?}"));
                }
                let Some(reply) = &seen.reply else {
                    if seen.grpc_status.as_deref() == Some("0") {
                        broken.push(format!(
                            "{wiring:?} {path} as {who}: OK without a reply: {seen:?}"
                        ));
                    }
                    continue;
                };
                ran += 1;
                let needs = if reply.starts_with("/test.Greeter/Admin ") {
                    2
                } else if reply.starts_with("/test.Greeter/Hello ") {
                    1
                } else {
                    0
                };
                if needs > *may {
                    broken.push(format!(
                        "{wiring:?} {path} as {who}: ran {reply:?} ({seen:?})"
                    ));
                }
            }
        }
    }
    assert!(ran >= 6, "only {ran} methods ran");
    assert!(
        broken.is_empty(),
        "{} broken:\n{}",
        broken.len(),
        broken.join("\n")
    );
}
