//! The harness: one table of requests, sent to an app in process (`test::init_service`) and
//! over a real socket on 127.0.0.1 (`HttpServer` + reqwest), each answer compared with what the
//! core says, byte for byte.

use std::fmt::Write as _;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test;
use cognito_authz_core::{Authorizer, Decision, DenialResponse};
use cognito_authz_test_support::contract;

/// A request of a table, with what it expects.
pub(crate) type Row = contract::Row<Expect>;
pub(crate) use cognito_authz_test_support::contract::row;

/// What a row expects.
#[derive(Debug, Clone)]
pub(crate) enum Expect {
    /// Reaches the handler (or actix's router): this status and, if given, exactly this body.
    Status(u16, Option<String>),
    /// Refused by the middleware: `by` (the core) denies the same request with `code`, and the
    /// response is its `Denial::response()`, byte for byte.
    Denied { code: &'static str, by: Authorizer },
    /// Refused by an extractor with exactly this core response.
    Response(DenialResponse),
    /// 500 whose body contains every one of these texts.
    ServerError(Vec<&'static str>),
}

/// The expectations of this suite's rows.
pub(crate) trait Expectations {
    /// Expects the handler's answer.
    fn status(self, status: u16, body: Option<&str>) -> Row;
    /// Expects the middleware's denial, as `by` decides it.
    fn denied(self, code: &'static str, by: &Authorizer) -> Row;
    /// Expects an extractor's denial with this response.
    fn response(self, response: DenialResponse) -> Row;
    /// Expects a 500 naming these texts.
    fn server_error(self, texts: &[&'static str]) -> Row;
}

impl Expectations for contract::Request {
    fn status(self, status: u16, body: Option<&str>) -> Row {
        self.expect(Expect::Status(status, body.map(str::to_owned)))
    }

    fn denied(self, code: &'static str, by: &Authorizer) -> Row {
        self.expect(Expect::Denied {
            code,
            by: by.clone(),
        })
    }

    fn response(self, response: DenialResponse) -> Row {
        self.expect(Expect::Response(response))
    }

    fn server_error(self, texts: &[&'static str]) -> Row {
        self.expect(Expect::ServerError(texts.to_vec()))
    }
}

/// An answer, from either transport.
#[derive(Debug)]
pub(crate) struct Got {
    pub(crate) status: u16,
    /// Lowercase names; `date` and `content-length` (added by the server) left out.
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
}

/// Sends `row` to an app made by `test::init_service`; `to_request` is
/// `test::TestRequest::to_request` (it names actix-http's request type for us).
pub(crate) async fn in_process<S, R, B>(
    app: &S,
    to_request: fn(test::TestRequest) -> R,
    row: &Row,
) -> Got
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let method =
        actix_web::http::Method::from_bytes(row.method.as_str().as_bytes()).expect("method");
    let mut request = test::TestRequest::default().method(method).uri(row.path);
    for (name, value) in &row.headers {
        request = request.append_header((name.as_str(), value.as_bytes()));
    }
    let response = test::call_service(app, to_request(request)).await;
    let status = response.status().as_u16();
    let headers = normalize(response.headers().iter());
    let body = test::read_body(response).await.to_vec();
    Got {
        status,
        headers,
        body,
    }
}

/// Sends `row` to `base` over a real socket.
pub(crate) async fn over_socket(client: &reqwest::Client, base: &str, row: &Row) -> Got {
    let response = client
        .request(row.method.clone(), format!("{base}{}", row.path))
        .headers(row.headers.clone())
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    let headers = normalize(response.headers().iter());
    let body = response.bytes().await.expect("body").to_vec();
    Got {
        status,
        headers,
        body,
    }
}

/// The headers as sorted (name, value) pairs, without `date` and `content-length`.
fn normalize<N: AsRef<str>, V: AsRef<[u8]>>(
    headers: impl IntoIterator<Item = (N, V)>,
) -> Vec<(String, Vec<u8>)> {
    let mut headers: Vec<(String, Vec<u8>)> = headers
        .into_iter()
        .map(|(name, value)| (name.as_ref().to_owned(), value.as_ref().to_vec()))
        .filter(|(name, _)| name != "date" && name != "content-length")
        .collect();
    headers.sort();
    headers
}

/// A client that never uses a proxy (only 127.0.0.1 is reached).
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// Checks an answer against a row's expectation; `label` says which row and transport.
pub(crate) async fn check(label: &str, row: &Row, got: &Got) {
    match &row.expect {
        Expect::Status(status, body) => {
            assert_eq!(
                got.status,
                *status,
                "{label}: status; body {:?}",
                text(&got.body)
            );
            if let Some(body) = body {
                assert_eq!(text(&got.body), *body, "{label}: body");
            }
            assert!(
                !got.headers
                    .iter()
                    .any(|(name, _)| name == "www-authenticate"),
                "{label}: a let-through answer has no challenge"
            );
        }
        Expect::Denied { code, by } => {
            let decision = by.authorize(&row.method, row.path, &row.headers).await;
            let Decision::Deny(denial) = decision else {
                panic!("{label}: the core allows this request");
            };
            assert_eq!(denial.code(), *code, "{label}: the core's code");
            assert_same(label, got, &denial.response());
        }
        Expect::Response(response) => assert_same(label, got, response),
        Expect::ServerError(texts) => {
            assert_eq!(got.status, 500, "{label}: status");
            let body = text(&got.body);
            for expected in texts {
                assert!(
                    body.contains(expected),
                    "{label}: {body:?} names {expected:?}"
                );
            }
        }
    }
}

/// Status, every header and the body equal the core's response.
pub(crate) fn assert_same(label: &str, got: &Got, expected: &DenialResponse) {
    assert_eq!(
        got.status,
        expected.status().as_u16(),
        "{label}: status; body {:?}",
        text(&got.body)
    );
    let mut wanted: Vec<(String, Vec<u8>)> = expected
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    wanted.sort();
    assert_eq!(
        printable(&got.headers),
        printable(&wanted),
        "{label}: headers"
    );
    assert_eq!(text(&got.body), expected.body(), "{label}: body");
}

fn printable(headers: &[(String, Vec<u8>)]) -> String {
    let mut out = String::new();
    for (name, value) in headers {
        let _ = writeln!(out, "{name}: {}", String::from_utf8_lossy(value));
    }
    out
}

pub(crate) fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

/// A server on 127.0.0.1:0 with one worker; stop it with [`Running::stop`].
pub(crate) struct Running {
    pub(crate) base: String,
    pub(crate) handle: actix_web::dev::ServerHandle,
}

impl Running {
    pub(crate) async fn stop(self) {
        self.handle.stop(true).await;
    }
}

/// Serves the app factory on 127.0.0.1:0 (one worker, no signal handling).
macro_rules! serve {
    ($factory:expr) => {{
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let server = actix_web::HttpServer::new($factory)
            .workers(1)
            .disable_signals()
            .shutdown_timeout(1)
            .listen(listener)
            .expect("listen")
            .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        $crate::support::Running {
            base: format!("http://{addr}"),
            handle,
        }
    }};
}
pub(crate) use serve;

/// Runs every row in process and over the socket.
macro_rules! run_table {
    ($name:expr, $app:expr, $server:expr, $rows:expr) => {{
        let app = actix_web::test::init_service($app).await;
        let client = $crate::support::client();
        for (index, row) in $rows.iter().enumerate() {
            let label = format!(
                "{} #{index} {} {} (in process)",
                $name, row.method, row.path
            );
            let got =
                $crate::support::in_process(&app, actix_web::test::TestRequest::to_request, row)
                    .await;
            $crate::support::check(&label, row, &got).await;
            let label = format!("{} #{index} {} {} (socket)", $name, row.method, row.path);
            let got = $crate::support::over_socket(&client, &$server.base, row).await;
            $crate::support::check(&label, row, &got).await;
        }
    }};
}
pub(crate) use run_table;

/// Serves `make(&authorizer)` on a socket, runs every row in process and over it, and stops
/// the server (`make`: a function or closure building the app from a borrowed authorizer).
macro_rules! run_served {
    ($name:expr, $make:expr, $authorizer:expr, $rows:expr) => {{
        let make = $make;
        let server = $crate::support::serve!({
            let authorizer = $authorizer.clone();
            move || make(&authorizer)
        });
        $crate::support::run_table!($name, make(&$authorizer), server, $rows);
        server.stop().await;
    }};
}
pub(crate) use run_served;
