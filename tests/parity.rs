//! The axum and actix-web quickstart apps (`examples/shared`) answer the same requests the same
//! way: both behind the same `examples/policy.toml` configuration on one local issuer, both
//! served over real sockets on 127.0.0.1, each row of the response table
//! (`crates/core/docs/responses.md`) sent to both.
//!
//! A denial must be byte-identical in the two (status, every header but `Date`, body) and its
//! status, `WWW-Authenticate`, `Retry-After`, `Content-Type` and body equal to the core's
//! `DenialResponse`; an allowed request must get the same status, `Content-Type` and JSON from
//! the two handlers.
//!
//! Left out on purpose, because the frameworks' routers (not this library) answer them and
//! differ in details nobody promised to align (listed here so nobody adds them back):
//! - a method a resource does not route, with a valid token (`POST /reports/42`): 405 from both
//!   routers, each with its own `Allow` header and body;
//! - a path no resource matches, with a valid token (`GET /nowhere`): 404 from both routers,
//!   with framework-specific headers and no JSON body;
//! - a method a resource does not route, *without* a token (`POST /reports/42`): both layers
//!   refuse it with the same 401 (the policy file's `unmatched = "authenticated"`), but
//!   axum's method router adds `Allow: GET,HEAD` to whatever its layered fallback answers, the
//!   401 included.
//!
//! A path no resource matches *without* a token is in the table: both layers refuse it before
//! either router looks at the path.

#[path = "../examples/shared/mod.rs"]
mod shared;

use std::fmt::Write as _;
use std::time::Duration;

use cognito_authz::{AcceptedTokenUse, Authorizer, DenialResponse, ErrorKind};
use cognito_authz_test_support::contract::{self, invalid_tokens};
use cognito_authz_testkit::{LocalIssuer, jwks_value, with_payload_of};
use http::{HeaderName, Method, header};
use serde_json::Value;

/// What a row must get from both apps.
#[derive(Debug, Clone)]
enum Expect {
    /// The handler answers with this status and JSON.
    Allowed(u16),
    /// Refused with the core's response for this kind and these scopes.
    Denied(ErrorKind, &'static [&'static str]),
}

/// One request sent to both apps.
type Row = contract::Row<Expect>;

/// A row about `description`: `method` to `path`.
fn row(description: impl Into<String>, method: Method, path: &'static str) -> contract::Request {
    contract::row(method, path).describe(description)
}

/// The expectations of this suite's rows.
trait Expectations {
    fn allowed(self, status: u16) -> Row;
    fn denied(self, kind: ErrorKind) -> Row;
    fn denied_for_scopes(self, scopes: &'static [&'static str]) -> Row;
}

impl Expectations for contract::Request {
    fn allowed(self, status: u16) -> Row {
        self.expect(Expect::Allowed(status))
    }

    fn denied(self, kind: ErrorKind) -> Row {
        self.expect(Expect::Denied(kind, &[]))
    }

    fn denied_for_scopes(self, scopes: &'static [&'static str]) -> Row {
        self.expect(Expect::Denied(ErrorKind::InsufficientScope, scopes))
    }
}

/// The rows of the quickstart tour (`shared::checks`), as parity rows.
fn tour(tokens: &shared::Tokens) -> Vec<Row> {
    shared::checks(tokens)
        .into_iter()
        .map(|check| {
            let method = Method::from_bytes(check.method.as_bytes()).expect("method");
            let mut builder = row(format!("tour: {}", check.description), method, check.path);
            if let Some(token) = &check.token {
                builder = builder.bearer(token);
            }
            match (check.expected_status, check.path) {
                (200, _) => builder.allowed(200),
                (401, _) => builder.denied(ErrorKind::MissingToken),
                (403, "/reports/42") => builder.denied_for_scopes(&["reports/read"]),
                (403, _) => builder.denied(ErrorKind::Forbidden),
                (status, path) => panic!("a tour row this test does not know: {status} {path}"),
            }
        })
        .collect()
}

/// What an app answered: the status, every header but `date` (sorted by name, then value),
/// and the body.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// The headers the response table defines, compared with the core's response.
const CONTRACT_HEADERS: [HeaderName; 3] = [
    header::WWW_AUTHENTICATE,
    header::RETRY_AFTER,
    header::CONTENT_TYPE,
];

impl Answer {
    fn new(
        status: u16,
        headers: impl IntoIterator<Item = (String, Vec<u8>)>,
        body: Vec<u8>,
    ) -> Self {
        let mut headers: Vec<(String, Vec<u8>)> = headers
            .into_iter()
            .filter(|(name, _)| name != "date")
            .collect();
        headers.sort();
        Self {
            status,
            headers,
            body,
        }
    }

    /// The core's response for a denial, as an app should send it (plus `content-length`,
    /// which each server adds).
    fn of(response: &DenialResponse) -> Self {
        Self::new(
            response.status().as_u16(),
            response
                .headers()
                .iter()
                .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec())),
            response.body().as_bytes().to_vec(),
        )
    }

    fn values(&self, name: &HeaderName) -> Vec<&[u8]> {
        self.headers
            .iter()
            .filter(|(key, _)| key == name.as_str())
            .map(|(_, value)| value.as_slice())
            .collect()
    }

    /// Status, the response table's headers and body: what must equal the core's response.
    fn contract(&self) -> (u16, Vec<Vec<&[u8]>>, &[u8]) {
        let headers = CONTRACT_HEADERS
            .iter()
            .map(|name| self.values(name))
            .collect();
        (self.status, headers, &self.body)
    }

    fn printable(&self) -> String {
        let mut text = self.status.to_string();
        for (name, value) in &self.headers {
            let _ = write!(text, " {name}=[{}]", String::from_utf8_lossy(value));
        }
        let _ = write!(text, " body={}", String::from_utf8_lossy(&self.body));
        text
    }
}

async fn send(client: &reqwest::Client, base: &str, row: &Row) -> Answer {
    let mut request = client.request(row.method.clone(), format!("{base}{}", row.path));
    for (name, value) in &row.headers {
        // `header` appends: the same name twice is sent as two header lines.
        request = request.header(name, value.clone());
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let headers: Vec<(String, Vec<u8>)> = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    let body = response.bytes().await.expect("body").to_vec();
    Answer::new(status, headers, body)
}

/// The two quickstart apps, each with its own authorizer built from the same settings,
/// listening on 127.0.0.1.
struct Apps {
    axum: String,
    actix: String,
    axum_server: tokio::task::JoinHandle<()>,
    actix_server: actix_web::dev::ServerHandle,
}

impl Apps {
    async fn start(issuer: &LocalIssuer) -> Self {
        Self::start_with(|| authorizer(issuer)).await
    }

    /// Both apps, each with an authorizer from `make`.
    async fn start_with(make: impl Fn() -> Authorizer) -> Self {
        let listener = tokio::net::TcpListener::from_std(shared::bind(0).expect("bind"))
            .expect("tokio listener");
        let axum = shared::base_url(listener.local_addr().expect("address"));
        let router = shared::axum_app::router(make());
        let axum_server = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("axum serves");
        });

        let listener = shared::bind(0).expect("bind");
        let actix = shared::base_url(listener.local_addr().expect("address"));
        let authorizer = make();
        let actix_server = crate::serve::spawn_actix!(listener, move || {
            shared::actix_app::app(authorizer.clone())
        });
        Self {
            axum,
            actix,
            axum_server,
            actix_server,
        }
    }

    /// Sends every row to both apps; returns one line per disagreement.
    async fn compare(&self, rows: &[Row]) -> Vec<String> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let mut failures = Vec::new();
        for row in rows {
            let axum = send(&client, &self.axum, row).await;
            let actix = send(&client, &self.actix, row).await;
            if let Some(problem) = disagreement(row, &axum, &actix) {
                let mut line = format!(
                    "{} {} ({}): {problem}",
                    row.method, row.path, row.description
                );
                let _ = write!(
                    line,
                    "\n    axum:  {}\n    actix: {}",
                    axum.printable(),
                    actix.printable()
                );
                failures.push(line);
            }
        }
        failures
    }

    async fn stop(self) {
        self.axum_server.abort();
        self.actix_server.stop(false).await;
    }
}

/// Why the two answers to `row` are not what it expects, if they are not.
fn disagreement(row: &Row, axum: &Answer, actix: &Answer) -> Option<String> {
    match &row.expect {
        Expect::Denied(kind, scopes) => {
            let scopes: Vec<String> = scopes.iter().map(|scope| (*scope).to_owned()).collect();
            let core = Answer::of(&DenialResponse::new(*kind, &scopes, None));
            if axum != actix {
                Some(format!("the denials differ (expected {kind})"))
            } else if axum.contract() != core.contract() {
                Some(format!(
                    "both differ from the core's {kind} response: {}",
                    core.printable()
                ))
            } else {
                None
            }
        }
        Expect::Allowed(status) => {
            let json = |answer: &Answer| serde_json::from_slice::<Value>(&answer.body).ok();
            let content_type = header::CONTENT_TYPE;
            if axum.status != actix.status {
                Some("the statuses differ".to_owned())
            } else if axum.status != *status {
                Some(format!("status is not {status}"))
            } else if json(axum).is_none() || json(axum) != json(actix) {
                Some("the JSON bodies differ (or are not JSON)".to_owned())
            } else if axum.values(&content_type) != actix.values(&content_type) {
                Some("the content types differ".to_owned())
            } else if !axum.values(&header::WWW_AUTHENTICATE).is_empty()
                || !actix.values(&header::WWW_AUTHENTICATE).is_empty()
            {
                Some("an allowed request got a challenge".to_owned())
            } else {
                None
            }
        }
    }
}

/// `examples/policy.toml` with the quickstart's settings, trusting `issuer` on its clock.
fn authorizer(issuer: &LocalIssuer) -> Authorizer {
    let clock = issuer.manual_clock().expect("manual clock").clone();
    let options =
        shared::authorizer_options(issuer.issuer_config(AcceptedTokenUse::Access)).clock(clock);
    shared::load_authorizer_with(options).expect("examples/policy.toml loads")
}

fn assert_no_failures(table: &str, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{table}: {} row(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[actix_web::test]
async fn both_quickstart_apps_answer_every_response_row_alike() {
    let issuer = LocalIssuer::start().await.expect("local issuer");
    let now = issuer.manual_clock().expect("manual clock").now_secs();
    let tokens = shared::mint_tokens(&issuer);

    // The key set also holds an entry that is kept but unfit (`use: enc`): tokens naming it
    // fail at the key check (`invalid_key`), not the lookup.
    let unfit = issuer.signing_key().with_kid("enc-key");
    let mut unfit_jwk = unfit.to_jwk();
    unfit_jwk["use"] = "enc".into();
    let mut key_set = jwks_value(&issuer.keys());
    key_set["keys"]
        .as_array_mut()
        .expect("keys array")
        .push(unfit_jwk);
    issuer
        .server()
        .expect("served issuer")
        .serve_body(key_set.to_string());

    let apps = Apps::start(&issuer).await;
    let user = &tokens.user;
    let admin = &tokens.admin;
    let machine = &tokens.machine;
    let mut rows = tour(&tokens);
    rows.extend([
        // public route: a valid token reaches the handler's claims, an invalid one is ignored
        row("public, admin", Method::GET, "/health")
            .bearer(admin)
            .allowed(200),
        row("public, machine", Method::GET, "/health")
            .bearer(machine)
            .allowed(200),
        row("public, invalid token", Method::GET, "/health")
            .bearer("not-a-jwt")
            .allowed(200),
        row("public, two authorization headers", Method::GET, "/health")
            .bearer(user)
            .bearer(admin)
            .allowed(200),
        // no token
        row("no token on a group route", Method::GET, "/admin/users")
            .denied(ErrorKind::MissingToken),
        row("no token on a scope route", Method::GET, "/reports/42")
            .denied(ErrorKind::MissingToken),
        row("basic credentials only", Method::GET, "/me")
            .header(header::AUTHORIZATION, "Basic dXNlcjpwdw==")
            .denied(ErrorKind::MissingToken),
        // no route: the default denies before any token is read
        row("no token, unrouted path", Method::GET, "/nowhere").denied(ErrorKind::Forbidden),
        // a bare OPTIONS is not a preflight: authorized like any request
        row(
            "OPTIONS without a preflight header",
            Method::OPTIONS,
            "/admin/users",
        )
        .denied(ErrorKind::MissingToken),
        // a CORS preflight is decided like any request: no token, no handler
        row(
            "CORS preflight to a Claims handler",
            Method::OPTIONS,
            "/admin/users",
        )
        .header(header::ORIGIN, "https://app.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "DELETE")
        .denied(ErrorKind::MissingToken),
        // invalid request
        row("two authorization headers", Method::GET, "/me")
            .bearer(user)
            .bearer(user)
            .denied(ErrorKind::InvalidRequest),
        // a key the set keeps but that is unfit for signatures
        row("key for encryption only", Method::GET, "/me")
            .bearer(&issuer.access_token().signed_by(&unfit).sign())
            .denied(ErrorKind::InvalidKey),
        // a token swapped into an admin's request
        row("payload swapped", Method::GET, "/admin/users")
            .bearer(&with_payload_of(user, admin))
            .denied(ErrorKind::InvalidSignature),
        // policy denials beyond the tour
        row("group route, machine", Method::GET, "/admin/users")
            .bearer(machine)
            .denied(ErrorKind::Forbidden),
        row(
            "group route, any method, plain user",
            Method::DELETE,
            "/admin/users/7",
        )
        .bearer(user)
        .denied(ErrorKind::Forbidden),
        row(
            "scope route, admin without the scope",
            Method::GET,
            "/reports/7",
        )
        .bearer(
            &issuer
                .access_token()
                .username("carol")
                .groups(["admin"])
                .sign(),
        )
        .denied_for_scopes(&["reports/read"]),
        // allowed, beyond the tour
        row("authenticated, admin", Method::GET, "/me")
            .bearer(admin)
            .allowed(200),
        row(
            "group route, any method, admin",
            Method::DELETE,
            "/admin/users/7",
        )
        .bearer(admin)
        .allowed(200),
        row(
            "group route, nested path, admin",
            Method::POST,
            "/admin/a/b/c",
        )
        .bearer(admin)
        .allowed(200),
    ]);
    // invalid tokens, one family per verification check
    rows.extend(
        invalid_tokens(&issuer, user, admin, now)
            .into_iter()
            .map(|(what, token, kind)| row(what, Method::GET, "/me").bearer(&token).denied(kind)),
    );
    let failures = apps.compare(&rows).await;
    assert_no_failures("main table", &failures);

    // The same tokens once the clock passes their `exp` (each is in both verified-token caches
    // by now, so this also shows a cache hit re-checks expiry).
    issuer
        .manual_clock()
        .expect("manual clock")
        .advance(Duration::from_secs(3600));
    let expired = [
        row("admin token after exp", Method::GET, "/admin/users")
            .bearer(admin)
            .denied(ErrorKind::Expired),
        row("machine token after exp", Method::GET, "/reports/42")
            .bearer(machine)
            .denied(ErrorKind::Expired),
        row("user token after exp", Method::GET, "/me")
            .bearer(user)
            .denied(ErrorKind::Expired),
        row("public, expired token", Method::GET, "/health")
            .bearer(user)
            .allowed(200),
    ];
    let failures = apps.compare(&expired).await;
    assert_no_failures("after exp", &failures);
    apps.stop().await;
}

#[actix_web::test]
async fn both_quickstart_apps_answer_503_alike_when_keys_are_unavailable() {
    let issuer = LocalIssuer::start().await.expect("local issuer");
    // Nothing cached, and every fetch fails.
    issuer
        .server()
        .expect("served issuer")
        .respond_with_status(500);
    let tokens = shared::mint_tokens(&issuer);
    let apps = Apps::start(&issuer).await;
    let rows = [
        row("authenticated, keys down", Method::GET, "/me")
            .bearer(&tokens.user)
            .denied(ErrorKind::JwksUnavailable),
        // asked again: now in back-off with nothing cached, still 503
        row("authenticated, keys down, again", Method::GET, "/me")
            .bearer(&tokens.user)
            .denied(ErrorKind::JwksUnavailable),
        row("group route, keys down", Method::GET, "/admin/users")
            .bearer(&tokens.admin)
            .denied(ErrorKind::JwksUnavailable),
        row("scope route, keys down", Method::GET, "/reports/42")
            .bearer(&tokens.machine)
            .denied(ErrorKind::JwksUnavailable),
        // what needs no key still answers as usual
        row("public, keys down", Method::GET, "/health")
            .bearer(&tokens.admin)
            .allowed(200),
        row("public, no token, keys down", Method::GET, "/health").allowed(200),
        row("no token, keys down", Method::GET, "/me").denied(ErrorKind::MissingToken),
        row("two authorization headers, keys down", Method::GET, "/me")
            .bearer(&tokens.user)
            .bearer(&tokens.user)
            .denied(ErrorKind::InvalidRequest),
        row("not a JWT, keys down", Method::GET, "/me")
            .bearer("not-a-jwt")
            .denied(ErrorKind::MalformedToken),
    ];
    let failures = apps.compare(&rows).await;
    assert_no_failures("keys down", &failures);
    apps.stop().await;
}

/// The quickstart settings plus a revocation store shared by both apps.
fn authorizer_revoking(
    issuer: &LocalIssuer,
    store: cognito_authz::revocation::RevocationStore,
) -> Authorizer {
    let clock = issuer.manual_clock().expect("manual clock").clone();
    let options = shared::authorizer_options(issuer.issuer_config(AcceptedTokenUse::Access))
        .clock(clock)
        .revocation_store(store);
    shared::load_authorizer_with(options).expect("examples/policy.toml loads")
}

#[actix_web::test]
async fn both_quickstart_apps_answer_revoked_and_revocation_unavailable_alike() {
    use cognito_authz::revocation::{Revocation, RevocationStore, WhenStale};

    let issuer = LocalIssuer::offline();
    let tokens = shared::mint_tokens(&issuer);
    let store = RevocationStore::builder()
        .shared_clock(issuer.clock())
        .memory();
    let apps = Apps::start_with(|| authorizer_revoking(&issuer, store.clone())).await;
    let user = authorizer_revoking(&issuer, store.clone())
        .verifier()
        .verify(&tokens.user)
        .await
        .expect("valid");
    store
        .revoke(Revocation::session_of(&user).expect("origin_jti"))
        .await
        .expect("revoke");
    let rows = [
        row("revoked session", Method::GET, "/me")
            .bearer(&tokens.user)
            .denied(ErrorKind::RevokedToken),
        row(
            "revoked session, again (verified-token cache)",
            Method::GET,
            "/me",
        )
        .bearer(&tokens.user)
        .denied(ErrorKind::RevokedToken),
        row("another session", Method::GET, "/admin/users")
            .bearer(&tokens.admin)
            .allowed(200),
        row("revoked token on a public route", Method::GET, "/health")
            .bearer(&tokens.user)
            .allowed(200),
    ];
    assert_no_failures("revoked", &apps.compare(&rows).await);
    apps.stop().await;

    // A Redis store that cannot be reached (nothing listens on the port) and refuses when stale.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    let unreachable = RevocationStore::builder()
        .shared_clock(issuer.clock())
        .when_stale(WhenStale::Refuse)
        .redis(&format!("redis://127.0.0.1:{port}/"))
        .expect("store");
    let apps = Apps::start_with(|| authorizer_revoking(&issuer, unreachable.clone())).await;
    let rows = [
        row("store unreachable", Method::GET, "/me")
            .bearer(&tokens.admin)
            .denied(ErrorKind::RevocationUnavailable),
        row("store unreachable, public", Method::GET, "/health").allowed(200),
        row("store unreachable, no token", Method::GET, "/me").denied(ErrorKind::MissingToken),
    ];
    assert_no_failures("revocation unavailable", &apps.compare(&rows).await);
    apps.stop().await;
}
