//! Attacks on "the policy guards exactly the handler that runs", beside
//! `router_differential.rs` (which covers the common shapes): placements and spellings it does
//! not send. Every server is real, on 127.0.0.1, with the local issuer's keys served over HTTP;
//! request targets are written byte for byte on a TCP socket; every handler answers with its
//! route name in `x-route` (kept on `HEAD` answers) and counts its runs.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpResponse, web};
use axum::Router;
use axum::routing::{any, get};
use cognito_authz::{AcceptedTokenUse, Authorizer, AuthorizerBuilder};
use cognito_authz_actix::CognitoAuth;
use cognito_authz_axum::AuthzLayer;
use cognito_authz_test_support::policy::with_rows;
use cognito_authz_test_support::raw_http::{RawAnswer, head_end};
use cognito_authz_testkit::LocalIssuer;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tower::Layer as _;

/// How long one raw exchange may take before it counts as a failure of the test itself.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Callers, tables, the raw client.
// ---------------------------------------------------------------------------------------------

/// An issuer whose keys are served over HTTP on 127.0.0.1, and a token per caller.
struct Callers {
    issuer: LocalIssuer,
    user: String,
    admin: String,
}

impl Callers {
    async fn start() -> Self {
        let issuer = LocalIssuer::start().await.expect("local issuer");
        let user = issuer.access_token().username("user").sign();
        let admin = issuer
            .access_token()
            .username("admin")
            .groups(["admin"])
            .sign();
        Self {
            issuer,
            user,
            admin,
        }
    }

    /// An authorizer over `routes` (`(method or "*", pattern, expression)`), `unmatched`
    /// left at its default (`deny`) unless given.
    fn authorizer(&self, routes: &[(&str, &str, &str)], unmatched: Option<&str>) -> Authorizer {
        self.builder(routes, unmatched).build().expect("authorizer")
    }

    /// The builder of [`Callers::authorizer`], not yet built.
    fn builder(&self, routes: &[(&str, &str, &str)], unmatched: Option<&str>) -> AuthorizerBuilder {
        let verifier = self
            .issuer
            .verifier_builder(AcceptedTokenUse::Access)
            .build()
            .expect("verifier");
        with_rows(Authorizer::builder().verifier(verifier), routes, unmatched)
    }
}

/// What came back, as read off the socket.
type Reply = RawAnswer;

/// The route whose handler answered: its `x-route` header.
trait Route {
    fn route(&self) -> Option<&str>;
}

impl Route for Reply {
    fn route(&self) -> Option<&str> {
        self.header("x-route")
    }
}

/// `METHOD target HTTP/1.1` with a Host, an optional bearer token, `Connection: close`.
fn request(method: &str, target: &str, token: Option<&str>) -> Vec<u8> {
    let mut text = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    if let Some(token) = token {
        text.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    text.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
    text.into_bytes()
}

/// Writes `bytes` on a fresh connection and reads until the answer's head is complete (or
/// the server closes): a tunnel opened by a `CONNECT` never holds the test up.
async fn exchange(address: SocketAddr, bytes: &[u8]) -> Reply {
    let work = async {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        stream.write_all(bytes).await.expect("write");
        let mut received = Vec::new();
        let mut buffer = [0_u8; 4096];
        // Bounded: a head is at most a few KiB, and the server closes after it.
        for _ in 0..1024 {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => received.extend_from_slice(&buffer[..read]),
            }
            if head_end(&received).is_some() {
                break;
            }
        }
        received
    };
    let received = tokio::time::timeout(REQUEST_TIMEOUT, work)
        .await
        .expect("answer in time");
    Reply::parse(&received).unwrap_or_else(|| {
        panic!(
            "no HTTP answer: {:?}",
            String::from_utf8_lossy(&received[..received.len().min(120)])
        )
    })
}

/// Runs of each handler, by route name.
#[derive(Clone, Default)]
struct Runs(Arc<std::sync::Mutex<BTreeMap<&'static str, usize>>>);

impl Runs {
    fn record(&self, name: &'static str) {
        *self.0.lock().expect("runs").entry(name).or_default() += 1;
    }

    fn of(&self, name: &'static str) -> usize {
        self.0.lock().expect("runs").get(name).copied().unwrap_or(0)
    }
}

/// An axum handler that records its run and answers with its name.
fn axum_handler(
    runs: &Runs,
    name: &'static str,
) -> impl Fn() -> std::future::Ready<axum::response::Response> + Clone + Send + Sync + 'static {
    let runs = runs.clone();
    move || {
        runs.record(name);
        std::future::ready(axum::response::IntoResponse::into_response((
            [("x-route", name)],
            format!("route={name}\n"),
        )))
    }
}

async fn serve_axum(router: Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.expect("axum serves");
    });
    (address, server)
}

// ---------------------------------------------------------------------------------------------
// HEAD: a route naming HEAD against axum's GET handler.
// ---------------------------------------------------------------------------------------------

/// A route naming `HEAD` does not replace the `GET` route of the same pattern: axum serves
/// `HEAD` with the `GET` handler whenever the method router has no `head(..)` of its own,
/// which the table cannot see, so both policies must allow a `HEAD`. Table: `GET
/// /reports/{id}` = `group:admin`, `HEAD /reports/{id}` = `public`; app:
/// `route("/reports/{id}", get(report))`. An anonymous `HEAD /reports/7` must not run the
/// admin-only `report` handler (its side effects and its response headers, `content-length`
/// included, would reach the caller).
#[tokio::test]
async fn a_public_head_route_does_not_open_the_admin_get_handler_axum_serves_head_with() {
    let callers = Callers::start().await;
    let authorizer = callers.authorizer(
        &[
            ("GET", "/reports/{id}", "group:admin"),
            ("HEAD", "/reports/{id}", "public"),
        ],
        None,
    );
    let runs = Runs::default();
    let app = Router::new()
        .route("/reports/{id}", get(axum_handler(&runs, "report")))
        .layer(AuthzLayer::new(authorizer));
    let (address, server) = serve_axum(app).await;

    // The admin reaches it with GET; a plain user does not.
    let admin = exchange(address, &request("GET", "/reports/7", Some(&callers.admin))).await;
    assert_eq!((admin.status, admin.route()), (200, Some("report")));
    let user = exchange(address, &request("GET", "/reports/7", Some(&callers.user))).await;
    assert_eq!(user.status, 403);
    let before = runs.of("report");

    let head = exchange(address, &request("HEAD", "/reports/7", None)).await;
    server.abort();
    assert_eq!(
        (head.route(), runs.of("report") - before),
        (None, 0),
        "an anonymous HEAD ran the admin-only GET handler (status {})",
        head.status
    );
}

/// A `HEAD` route with a *less* specific pattern than the `GET` route does not shadow it
/// (the `GET` route is in the `HEAD` router too, most specific wins), and a `HEAD` with no
/// route of its own meets the `GET` policy.
#[tokio::test]
async fn a_head_catch_all_does_not_shadow_a_more_specific_get_route() {
    let callers = Callers::start().await;
    let authorizer = callers.authorizer(
        &[
            ("HEAD", "/files/{*rest}", "public"),
            ("GET", "/files/secret", "group:admin"),
            ("GET", "/plain/{id}", "group:admin"),
        ],
        None,
    );
    let runs = Runs::default();
    let app = Router::new()
        .route("/files/secret", get(axum_handler(&runs, "secret")))
        .route("/files/{*rest}", get(axum_handler(&runs, "files")))
        .route("/plain/{id}", get(axum_handler(&runs, "plain")))
        .layer(AuthzLayer::new(authorizer));
    let (address, server) = serve_axum(app).await;
    for target in [
        "/files/secret",
        "/plain/1",
        "/files/%73ecret",
        "/files//secret",
    ] {
        let reply = exchange(address, &request("HEAD", target, None)).await;
        assert!(
            !matches!(reply.route(), Some("secret" | "plain")),
            "HEAD {target}: {reply:?}"
        );
    }
    let files = exchange(address, &request("HEAD", "/files/a.txt", None)).await;
    server.abort();
    assert_eq!(files.route(), Some("files"), "{files:?}");
    assert_eq!(runs.of("secret") + runs.of("plain"), 0);
}

// ---------------------------------------------------------------------------------------------
// Patterns with a trailing `/`.
// ---------------------------------------------------------------------------------------------

/// A pattern ending in `/` fails at load: a request for `/admin/` is also decided as `/admin`
/// (its trailing `/` dropped), which `/admin/` does not match, so under the default `deny` no
/// one could ever reach the handler it was written for. The error names the pattern that
/// guards that handler, `/admin/{*rest}` (it covers `/admin/` and `/admin`), and with it the
/// axum route `/admin/` admits an administrator and nobody else.
#[tokio::test]
async fn a_route_written_with_a_trailing_slash_fails_at_load_and_its_catch_all_admits_its_caller() {
    let callers = Callers::start().await;
    let error = match callers
        .builder(&[("GET", "/admin/", "group:admin")], None)
        .build()
    {
        Ok(_) => panic!("a pattern ending in '/' was accepted"),
        Err(error) => error.to_string(),
    };
    assert!(
        error.contains("a pattern may not end in '/'") && error.contains("\"/admin/{*rest}\""),
        "{error}"
    );

    let authorizer = callers.authorizer(&[("GET", "/admin/{*rest}", "group:admin")], None);
    let runs = Runs::default();
    let app = Router::new()
        .route("/admin/", get(axum_handler(&runs, "admin_slash")))
        .layer(AuthzLayer::new(authorizer));
    let (address, server) = serve_axum(app).await;
    let reply = exchange(address, &request("GET", "/admin/", Some(&callers.admin))).await;
    let anonymous = exchange(address, &request("GET", "/admin/", None)).await;
    let user = exchange(address, &request("GET", "/admin/", Some(&callers.user))).await;
    server.abort();
    assert_eq!((anonymous.status, anonymous.route()), (401, None));
    assert_eq!((user.status, user.route()), (403, None));
    assert_eq!(
        (reply.status, reply.route()),
        (200, Some("admin_slash")),
        "an administrator was refused the /admin/ route written for administrators"
    );
    assert_eq!(runs.of("admin_slash"), 1);
}

// ---------------------------------------------------------------------------------------------
// axum placements the differential does not build.
// ---------------------------------------------------------------------------------------------

/// The ground truth of the nested apps: route name → who may reach it.
fn nested_truth(name: &str) -> Option<&'static str> {
    match name {
        "v1_public" | "fallback" => Some("public"),
        "v1_me" | "t_me" => Some("authenticated"),
        "v1_admin" | "v1_admin_root" | "t_admin" => Some("group:admin"),
        _ => None,
    }
}

fn allowed(truth: &str, caller: &str) -> bool {
    match truth {
        "public" => true,
        "authenticated" => caller != "anonymous",
        "group:admin" => caller == "admin",
        other => panic!("truth {other}"),
    }
}

/// Bases the nested apps serve, spelled every way the differential spells paths plus a few
/// more: encoded letters and `/`, empty segments, a trailing `/`, overlong and invalid UTF-8
/// escapes, NUL, a fullwidth letter.
fn spellings(base: &str) -> Vec<String> {
    let mut out = vec![
        base.to_owned(),
        format!("{base}/"),
        base.replacen('/', "//", 1),
    ];
    if base.contains("admin") {
        for spelled in ["%61dmin", "%41dmin", "a%64min", "\u{ff41}dmin", "admi%6E"] {
            out.push(base.replacen("admin", spelled, 1));
        }
        out.push(base.replacen("admin", "admin%2F", 1));
        out.push(base.replacen("/admin", "%2Fadmin", 1));
        out.push(base.replacen("/admin", "/x/%2e%2e/admin", 1));
        out.push(base.replacen("/admin", "/x/%C0%AE%C0%AE/admin", 1));
        out.push(base.replacen("/admin", "/%FF/../admin", 1));
        out.push(base.replacen("admin", "admin%00", 1));
        out.push(base.replacen("admin", "ADMIN", 1));
    }
    out
}

/// Two levels of `nest` (two `StripPrefix`, one `OriginalUri`), the layer on the
/// innermost router, a nested router at a parameter prefix (`/t/{tenant}`), and a layer
/// applied to a router that is then `merge`d: the table, written in client paths, guards the
/// handler that runs for every spelling.
#[tokio::test]
async fn nested_twice_and_merged_routers_are_guarded_on_the_client_path() {
    let callers = Callers::start().await;
    let authorizer = callers.authorizer(
        &[
            ("GET", "/api/v1/public", "public"),
            ("GET", "/api/v1/me", "authenticated"),
            ("*", "/api/v1/admin/{*rest}", "group:admin"),
            ("GET", "/t/{tenant}/me", "authenticated"),
            ("*", "/t/{tenant}/admin/{*rest}", "group:admin"),
        ],
        Some("public"),
    );
    let runs = Runs::default();
    let v1 = Router::new()
        .route("/public", get(axum_handler(&runs, "v1_public")))
        .route("/me", get(axum_handler(&runs, "v1_me")))
        .route("/admin", any(axum_handler(&runs, "v1_admin_root")))
        .route("/admin/{*rest}", any(axum_handler(&runs, "v1_admin")))
        .layer(AuthzLayer::new(authorizer.clone()));
    let tenant = Router::new()
        .route("/me", get(axum_handler(&runs, "t_me")))
        .route("/admin/{*rest}", any(axum_handler(&runs, "t_admin")))
        .layer(AuthzLayer::new(authorizer));
    let app = Router::new()
        .nest("/api", Router::new().nest("/v1", v1))
        .merge(Router::new().nest("/t/{tenant}", tenant))
        .fallback(axum_handler(&runs, "fallback"));
    let (address, server) = serve_axum(app).await;

    let bases = [
        "/api/v1/public",
        "/api/v1/me",
        "/api/v1/admin",
        "/api/v1/admin/users",
        "/t/acme/me",
        "/t/acme/admin/users",
    ];
    let tokens = [
        ("anonymous", None),
        ("user", Some(callers.user.as_str())),
        ("admin", Some(callers.admin.as_str())),
    ];
    let mut violations = Vec::new();
    let mut reached_admin = 0;
    for base in bases {
        for target in spellings(base) {
            for method in ["GET", "HEAD", "POST"] {
                for (caller, token) in tokens {
                    let reply = exchange(address, &request(method, &target, token)).await;
                    let Some(route) = reply.route() else { continue };
                    let truth = nested_truth(route).unwrap_or("group:admin");
                    if route.contains("admin") && caller == "admin" {
                        reached_admin += 1;
                    }
                    if !allowed(truth, caller) {
                        violations.push(format!(
                            "{method} {target} as {caller} ran {route} ({truth}), {}",
                            reply.status
                        ));
                    }
                }
            }
        }
    }
    server.abort();
    assert!(violations.is_empty(), "{violations:#?}");
    assert!(
        reached_admin >= 4,
        "the admin reached the admin routes {reached_admin} times"
    );
}

// ---------------------------------------------------------------------------------------------
// The tower layer under hyper directly: request targets that are not origin-form.
// ---------------------------------------------------------------------------------------------

/// Absolute-form targets naming another host, `OPTIONS *`, `CONNECT` in authority-form
/// and an absolute-form target with no path, against the layer over a plain hyper service
/// that routes on `uri().path()` itself (`/admin`, `/admin/…` → admin; anything else →
/// public). The layer matches the same `uri().path()` the service routes on.
#[tokio::test]
async fn hyper_without_a_router_sees_the_path_the_service_routes_on() {
    let callers = Callers::start().await;
    let authorizer = callers.authorizer(
        &[("*", "/admin/{*rest}", "group:admin"), ("*", "/", "public")],
        Some("authenticated"),
    );
    let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = Arc::clone(&seen);
    let service = AuthzLayer::new(authorizer).layer(tower::service_fn(
        move |request: http::Request<hyper::body::Incoming>| {
            let path = request.uri().path().to_owned();
            log.lock().expect("log").push(path.clone());
            let route = if path == "/admin" || path.starts_with("/admin/") {
                "admin"
            } else {
                "other"
            };
            async move {
                // Only the admin route answers 2xx: a CONNECT answered 2xx opens a tunnel.
                let status = if route == "admin" { 200 } else { 404 };
                Ok::<_, Infallible>(
                    http::Response::builder()
                        .status(status)
                        .header("x-route", route)
                        .body(http_body_util::Full::new(hyper::body::Bytes::from(
                            format!("route={route}\n"),
                        )))
                        .expect("response"),
                )
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(service.clone());
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });

    let targets = [
        ("GET", "http://evil.example/admin/x".to_owned()),
        ("GET", "http://evil.example/admin".to_owned()),
        ("GET", "https://evil.example:443/admin/x".to_owned()),
        ("GET", format!("http://{address}/admin/x")),
        ("GET", "http://evil.example".to_owned()),
        ("GET", "http://evil.example?x=/admin/x".to_owned()),
        ("GET", "http://user@evil.example/admin/x".to_owned()),
        ("OPTIONS", "*".to_owned()),
        ("CONNECT", "127.0.0.1:1".to_owned()),
        ("CONNECT", "evil.example:443".to_owned()),
        ("GET", "*".to_owned()),
        ("GET", "/admin?".to_owned()),
        ("GET", "/admin#x".to_owned()),
    ];
    let mut violations = Vec::new();
    for (method, target) in &targets {
        for (caller, token) in [("anonymous", None), ("user", Some(callers.user.as_str()))] {
            let reply = exchange(address, &request(method, target, token)).await;
            if reply.route() == Some("admin") {
                violations.push(format!("{method} {target} as {caller}: {}", reply.status));
            }
        }
    }
    let admin = exchange(
        address,
        &request("GET", "http://evil.example/admin/x", Some(&callers.admin)),
    )
    .await;
    server.abort();
    assert!(violations.is_empty(), "{violations:#?}");
    assert_eq!(admin.route(), Some("admin"), "{admin:?}");
}

// ---------------------------------------------------------------------------------------------
// Long and many-segment paths.
// ---------------------------------------------------------------------------------------------

/// Very long paths (near hyper's limit) made of encoded `/`, empty segments and
/// escapes are answered promptly with a refusal, never a panic, on axum and actix.
#[actix_web::test]
async fn very_long_paths_are_refused_promptly_on_both_frameworks() {
    let callers = Callers::start().await;
    let authorizer = callers.authorizer(&[("*", "/admin/{*rest}", "group:admin")], None);
    let runs = Runs::default();
    let app = Router::new()
        .route("/admin/{*rest}", any(axum_handler(&runs, "admin")))
        .fallback(axum_handler(&runs, "fallback"))
        .layer(AuthzLayer::new(authorizer.clone()));
    let (axum_address, axum_server) = serve_axum(app).await;
    let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let actix_address = listener.local_addr().expect("address");
    let actix_server = crate::serve::spawn_actix!(listener, move || {
        App::new()
            .route(
                "/admin/{rest:.+}",
                web::to(|| async {
                    HttpResponse::Ok()
                        .insert_header(("x-route", "admin"))
                        .finish()
                }),
            )
            .default_service(web::to(|| async {
                HttpResponse::Ok()
                    .insert_header(("x-route", "fallback"))
                    .finish()
            }))
            .wrap(CognitoAuth::new(authorizer.clone()))
    });
    let bodies = [
        "/admin/".to_owned() + &"a%2F".repeat(7000),
        "/".repeat(20_000) + "admin/x",
        "/admin/".to_owned() + &"%C0%AE".repeat(4000),
        "/x".to_owned() + &"/%2e%2e".repeat(3000) + "/admin/x",
        "/admin/".to_owned() + &"%".repeat(20_000),
        "/admin/".to_owned() + &"x/".repeat(10_000),
    ];
    for address in [axum_address, actix_address] {
        for target in &bodies {
            let started = std::time::Instant::now();
            let reply = exchange(address, &request("GET", target, Some(&callers.user))).await;
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{} bytes took {:?}",
                target.len(),
                started.elapsed()
            );
            assert_ne!(
                reply.route(),
                Some("admin"),
                "{} bytes ({}…) reached admin",
                target.len(),
                &target[..40]
            );
        }
    }
    axum_server.abort();
    actix_server.stop(false).await;
    assert_eq!(runs.of("admin"), 0);
}

// ---------------------------------------------------------------------------------------------
// actix: scope spellings, HEAD, custom methods.
// ---------------------------------------------------------------------------------------------

/// actix scopes mounted with and without a trailing `/` (`scope("/admin/")` serves
/// `/admin//x`), an empty-path resource in a scope, a tail resource `{tail}*`, a resource with
/// a regex segment, and extension and `CONNECT` methods: no handler under `/admin` runs for a
/// caller who is not an administrator, whatever the spelling.
#[actix_web::test]
async fn actix_scope_spellings_and_methods_stay_under_the_admin_rule() {
    let callers = Callers::start().await;
    let authorizer = callers.authorizer(
        &[
            ("*", "/admin/{*rest}", "group:admin"),
            ("*", "/ops/{*rest}", "group:admin"),
            ("GET", "/pub/{*rest}", "public"),
            ("GET", "/", "public"),
        ],
        Some("public"),
    );
    let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let address = listener.local_addr().expect("address");
    let reply = |name: &'static str| {
        web::to(move || async move {
            HttpResponse::Ok()
                .insert_header(("x-route", name))
                .body(format!("route={name}\n"))
        })
    };
    let server = crate::serve::spawn_actix!(listener, move || {
        App::new()
            .service(
                web::scope("/admin/")
                    .route("", reply("admin_empty"))
                    .route("/x", reply("admin_x")),
            )
            .service(
                web::scope("/ops")
                    .route("", reply("ops_root"))
                    .route("/", reply("ops_slash"))
                    .route("/{tail}*", reply("ops_tail")),
            )
            .service(web::resource("/pub/{name:[a-z]+}").route(reply("pub")))
            .default_service(reply("fallback"))
            .wrap(CognitoAuth::new(authorizer.clone()))
    });
    let targets = [
        "/admin",
        "/admin/",
        "/admin//",
        "/admin//x",
        "/admin/x",
        "/admin/%2Fx",
        "/%61dmin//x",
        "/admin/%2fx",
        "/admin%2F/x",
        "/admin%2F%2Fx",
        "/ops",
        "/ops/",
        "/ops//",
        "/ops/a/b",
        "/%6Fps",
        "/ops%2F",
        "/ops%2Fa",
        "/o%70s/a",
        "/pub/../admin/x",
        "/pub/%2e%2e/ops",
    ];
    let mut violations = Vec::new();
    for target in targets {
        for method in ["GET", "HEAD", "POST", "PURGE", "get", "CONNECT"] {
            for (caller, token) in [("anonymous", None), ("user", Some(callers.user.as_str()))] {
                let reply = exchange(address, &request(method, target, token)).await;
                if let Some(route) = reply.route()
                    && (route.starts_with("admin") || route.starts_with("ops"))
                {
                    violations.push(format!(
                        "{method} {target} as {caller} ran {route} ({})",
                        reply.status
                    ));
                }
            }
        }
    }
    let admin = exchange(address, &request("GET", "/admin//x", Some(&callers.admin))).await;
    server.stop(false).await;
    assert!(violations.is_empty(), "{violations:#?}");
    assert_eq!(admin.route(), Some("admin_x"), "{admin:?}");
}

/// On actix, a resource without a method guard registered before a more specific one runs for
/// every method, so a pattern that matches the path but has no route for the request's method
/// brings in `unmatched`. Table: `GET /things/{id}` = `group:admin`, `/things/open` (every
/// method) = `public`, `unmatched` left at `deny`. App: `route("/things/{id}",
/// web::to(thing))` then `route("/things/open", web::to(open))`. `POST /things/7` is refused
/// (no route for POST: `unmatched`, 403), so the table says nobody may POST to the `thing`
/// handler; an anonymous `POST /things/open`, which actix dispatches to that same handler,
/// meets `/things/open` (public) and, for the `/things/{id}` pattern, `unmatched`: refused.
#[actix_web::test]
async fn actix_an_unguarded_resource_registered_first_meets_its_own_policy_for_every_method() {
    let callers = Callers::start().await;
    let authorizer = callers.authorizer(
        &[
            ("GET", "/things/{id}", "group:admin"),
            ("*", "/things/open", "public"),
        ],
        None,
    );
    let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let address = listener.local_addr().expect("address");
    let reply = |name: &'static str| {
        web::to(move || async move {
            HttpResponse::Ok()
                .insert_header(("x-route", name))
                .body(format!("route={name}\n"))
        })
    };
    let server = crate::serve::spawn_actix!(listener, move || {
        App::new()
            .route("/things/{id}", reply("thing"))
            .route("/things/open", reply("open"))
            .wrap(CognitoAuth::new(authorizer.clone()))
    });
    // The table's own answer for the `thing` handler under POST: nobody.
    let direct = exchange(address, &request("POST", "/things/7", Some(&callers.admin))).await;
    assert_eq!((direct.status, direct.route()), (403, None), "{direct:?}");
    // GET /things/open runs `thing` too, and needs the admin rule.
    let get = exchange(address, &request("GET", "/things/open", None)).await;
    assert_ne!(get.route(), Some("thing"), "{get:?}");
    let admin = exchange(address, &request("GET", "/things/7", Some(&callers.admin))).await;
    assert_eq!(admin.route(), Some("thing"), "{admin:?}");

    let post = exchange(address, &request("POST", "/things/open", None)).await;
    let put = exchange(
        address,
        &request("PUT", "/things/open", Some(&callers.user)),
    )
    .await;
    server.stop(false).await;
    assert_eq!(
        (post.route(), put.route()),
        (None, None),
        "anonymous POST {post:?} / user PUT {put:?} ran the handler whose POST/PUT the table refuses"
    );
}

/// A per-route `require` decides the requests of what it wraps, as the axum crate docs and the
/// README say: `MethodRouter::route_layer` wraps only the methods the method router has when it
/// is called and never its `fallback`, so the documented wiring calls it after the last method,
/// uses `.layer(require(..))` on a method router with a `fallback`, or `Router::route_layer` on
/// a router of its own; every method each of those serves is decided. The placements the docs
/// warn against do leave a method undecided (axum's behaviour, which the warning describes: if
/// axum changes it, this test says the docs must change too).
#[tokio::test]
async fn per_route_require_on_a_method_router_guards_every_method_it_serves() {
    let callers = Callers::start().await;
    let authorizer = callers.authorizer(&[], Some("authenticated"));
    let runs = Runs::default();
    let guard = || cognito_authz_axum::require(&authorizer, "group:admin").expect("require");
    let documented: Router = Router::new()
        .route(
            "/a",
            get(axum_handler(&runs, "a_get"))
                .post(axum_handler(&runs, "a_post"))
                .route_layer(guard()),
        )
        .route(
            "/b",
            get(axum_handler(&runs, "b_get"))
                .fallback(axum_handler(&runs, "b_fallback"))
                .layer(guard()),
        )
        .merge(
            Router::new()
                .route(
                    "/c",
                    get(axum_handler(&runs, "c_get")).fallback(axum_handler(&runs, "c_fallback")),
                )
                .route_layer(guard()),
        );
    let warned: Router = Router::new()
        .route(
            "/a",
            get(axum_handler(&runs, "late_get"))
                .route_layer(guard())
                .post(axum_handler(&runs, "late_post")),
        )
        .route(
            "/b",
            get(axum_handler(&runs, "fallback_get"))
                .fallback(axum_handler(&runs, "fallback_other"))
                .route_layer(guard()),
        );
    let (documented, documented_server) = serve_axum(documented).await;
    let (warned, warned_server) = serve_axum(warned).await;
    let requests = [
        ("GET", "/a"),
        ("POST", "/a"),
        ("GET", "/b"),
        ("PUT", "/b"),
        ("GET", "/c"),
        ("PUT", "/c"),
    ];
    let mut ran = Vec::new();
    let mut admin_ran = Vec::new();
    for (method, target) in requests {
        let reply = exchange(documented, &request(method, target, None)).await;
        if let Some(route) = reply.route() {
            ran.push(format!(
                "anonymous {method} {target} ran {route} ({})",
                reply.status
            ));
        }
        let admin = exchange(documented, &request(method, target, Some(&callers.admin))).await;
        admin_ran.extend(admin.route().map(str::to_owned));
    }
    let mut undecided = Vec::new();
    for (method, target) in &requests[..4] {
        let reply = exchange(warned, &request(method, target, None)).await;
        undecided.extend(reply.route().map(str::to_owned));
    }
    documented_server.abort();
    warned_server.abort();
    assert!(ran.is_empty(), "{ran:#?}");
    assert_eq!(
        admin_ran,
        [
            "a_get",
            "a_post",
            "b_get",
            "b_fallback",
            "c_get",
            "c_fallback"
        ]
    );
    assert_eq!(undecided, ["late_post", "fallback_other"]);
}
