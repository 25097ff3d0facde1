//! Router differential: the policy must guard exactly what the router dispatches.
//!
//! Real axum and actix-web servers on 127.0.0.1, in every placement the adapters support (the
//! layer or middleware at the root with a route table, per-route and per-scope `require`, a
//! layer inside a nested router, file servers that decode their tail, method-guarded actix
//! resources in both registration orders, path normalisation before and after the
//! authorization layer, handlers that accept every method). Every handler answers with its own
//! route name (`x-route` header and `route=NAME` body; the served files contain their route
//! name), and each app shape has a table from route name to the policy its author wrote for
//! it: the ground truth.
//!
//! Request targets are written byte for byte on a TCP socket (no HTTP client that could
//! normalise them): every base path of a shape through every transform (percent-encoded
//! letters in either hex case, encoded `/`, `.` and `%`, double encoding, dot and empty
//! segments, case, trailing `/` and `.`, `;` parameters, `?` and `#`, backslashes,
//! absolute-form), with HEAD, OPTIONS with and without preflight headers, lowercase and
//! extension methods, from four callers (no token, a plain user, staff, an administrator).
//!
//! The one assertion, for every request: **a handler ran ⇒ the caller satisfies the policy of
//! that handler's route.** Nothing here says which status a refused request gets, so the test
//! holds whatever the exact lookup rules are; it only fails when someone reached a handler
//! they should not have. A second table per shape lists requests that must reach their
//! handler, so a server that refuses everything cannot pass. A fallback (the not-found
//! handler) serves whatever no route takes, so which policy covers it depends on the path:
//! its rows are a third table (`UNROUTED`), plain paths no route covers.
//!
//! The shapes: `axum_root` (`Router::layer`), `axum_normalize_outside` and
//! `axum_normalize_inside` (tower-http `NormalizePathLayer` around or inside the layer),
//! `axum_require` (`route_layer(require(..))`), `axum_nested` (the layer inside `nest`, and
//! around a `ServeDir` mounted with `nest_service`), `actix_root` (`App::wrap`, the quickstart's
//! `/admin/{rest:.+}`, scopes, `actix-files`, method guards), `actix_normalize_outside` and
//! `actix_normalize_inside` (actix `NormalizePath` before or after the middleware),
//! `actix_require` (`wrap(cognito_authz_actix::require(..))` on a scope and resources, and a whole
//! route table on a scope).
//!
//! Also here: CORS preflights with a real `tower_http::cors::CorsLayer` and `actix-cors`. A
//! CORS layer outside the authorization layer answers the preflight itself; inside it, the
//! preflight is decided like any request (401 without a token). Neither lets a handler run.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path as FsPath, PathBuf};
use std::time::Duration;

use actix_web::{App, HttpResponse, web};
use axum::Router;
use axum::extract::Path;
use axum::routing::{any, delete, get};
use cognito_authz::{AcceptedTokenUse, Authorizer};
use cognito_authz_actix::CognitoAuth;
use cognito_authz_axum::{AuthzLayer, require};
use cognito_authz_test_support::policy::with_rows;
use cognito_authz_test_support::raw_http::RawAnswer;
use cognito_authz_testkit::LocalIssuer;
use futures_util::StreamExt as _;
use http::Method;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tower::Layer as _;
use tower_http::normalize_path::NormalizePathLayer;
use tower_http::services::ServeDir;

/// Requests in flight at once per app shape: enough to finish in a few seconds, few enough
/// for a 2-core CI.
const CONCURRENCY: usize = 8;

/// How long one raw request may take before it counts as a failure of the test itself.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Ground truth: who may reach which route.
// ---------------------------------------------------------------------------------------------

/// The policy an app's author wrote for a route: what must hold for a caller to reach it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Truth {
    /// Anyone.
    Public,
    /// Any caller with a valid token.
    Authenticated,
    /// A caller in this `cognito:groups` group.
    Group(&'static str),
}

impl Truth {
    fn allows(self, caller: Caller) -> bool {
        match self {
            Truth::Public => true,
            Truth::Authenticated => caller != Caller::Anonymous,
            Truth::Group(group) => caller.groups().contains(&group),
        }
    }
}

impl std::fmt::Display for Truth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Truth::Public => f.write_str("public"),
            Truth::Authenticated => f.write_str("authenticated"),
            Truth::Group(group) => write!(f, "group:{group}"),
        }
    }
}

/// Who sends a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Caller {
    Anonymous,
    User,
    Staff,
    Admin,
}

impl Caller {
    const ALL: [Caller; 4] = [
        Caller::Anonymous,
        Caller::User,
        Caller::Staff,
        Caller::Admin,
    ];

    fn groups(self) -> &'static [&'static str] {
        match self {
            Caller::Anonymous | Caller::User => &[],
            Caller::Staff => &["staff"],
            Caller::Admin => &["admin"],
        }
    }
}

/// One access token per caller, minted by the local issuer.
struct Tokens {
    user: String,
    staff: String,
    admin: String,
}

impl Tokens {
    fn mint(issuer: &LocalIssuer) -> Self {
        Self {
            user: issuer.access_token().username("user").sign(),
            staff: issuer
                .access_token()
                .username("staff")
                .groups(["staff"])
                .sign(),
            admin: issuer
                .access_token()
                .username("admin")
                .groups(["admin"])
                .sign(),
        }
    }

    fn of(&self, caller: Caller) -> Option<&str> {
        match caller {
            Caller::Anonymous => None,
            Caller::User => Some(&self.user),
            Caller::Staff => Some(&self.staff),
            Caller::Admin => Some(&self.admin),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Route tables (what the authorizers are built from) and files.
// ---------------------------------------------------------------------------------------------

/// One route of a policy table: methods (`*` = all), pattern, expression.
type RouteRow = (&'static str, &'static str, &'static str);

/// The table of the root-layer apps (axum and actix share it; actix-only routes at the end).
const ROOT_ROUTES: &[RouteRow] = &[
    ("*", "/health", "public"),
    ("*", "/me", "authenticated"),
    ("*", "/admin/{*rest}", "group:admin"),
    ("*", "/panel/{*rest}", "group:admin"),
    ("*", "/api/admin/{*rest}", "group:admin"),
    ("*", "/items/special", "public"),
    ("GET", "/items/{id}", "authenticated"),
    ("DELETE", "/items/{id}", "group:admin"),
    ("GET", "/things/{id}", "group:staff"),
    ("*", "/things/open", "public"),
    ("*", "/files/{*rest}", "public"),
    ("*", "/files/internal/{*rest}", "group:staff"),
    ("*", "/docs/{*rest}", "public"),
    ("*", "/docs/internal/{*rest}", "group:staff"),
];

/// The table of the nested axum app, written in the paths clients send.
const NESTED_ROUTES: &[RouteRow] = &[
    ("*", "/api/public", "public"),
    ("*", "/api/me", "authenticated"),
    ("*", "/api/admin/{*rest}", "group:admin"),
    ("*", "/api/files/{*rest}", "public"),
    ("*", "/api/files/internal/{*rest}", "group:staff"),
    ("*", "/api/docs/{*rest}", "public"),
    ("*", "/api/docs/internal/{*rest}", "group:staff"),
    ("*", "/static/{*rest}", "public"),
    ("*", "/static/internal/{*rest}", "group:staff"),
];

/// Ground truth of the root-layer apps: route name → policy.
fn root_truth() -> BTreeMap<&'static str, Truth> {
    BTreeMap::from([
        ("health", Truth::Public),
        ("me", Truth::Authenticated),
        // `/admin` and `/admin/` are the bare prefix of `/admin/{*rest}`: the author wrote
        // one rule for the admin area.
        ("admin_root", Truth::Group("admin")),
        ("admin", Truth::Group("admin")),
        ("panel", Truth::Group("admin")),
        ("api_admin", Truth::Group("admin")),
        ("special", Truth::Public),
        ("item_get", Truth::Authenticated),
        ("item_delete", Truth::Group("admin")),
        ("thing_get", Truth::Group("staff")),
        ("thing_open", Truth::Public),
        ("files_public", Truth::Public),
        ("files_internal", Truth::Group("staff")),
        ("docs_public", Truth::Public),
        ("docs_internal", Truth::Group("staff")),
        ("docs_internal_index", Truth::Group("staff")),
        // A fallback is the not-found answer of its app: which paths end there depends on
        // how the table covers bare prefixes, so its rows are in `UNROUTED` instead.
        ("fallback", Truth::Public),
    ])
}

/// The files served under `/docs`, each containing its route name (distinct lengths, so a
/// HEAD answer is recognised by its `content-length`).
const FILES: &[(&str, &str)] = &[
    ("public.txt", "route=docs_public\n"),
    ("internal/secret.txt", "route=docs_internal\n"),
    ("internal/index.html", "route=docs_internal_index\n"),
];

fn write_docs(dir: &FsPath) {
    for (name, content) in FILES {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("docs folder");
        std::fs::write(path, content).expect("docs file");
    }
}

fn authorizer(issuer: &LocalIssuer, routes: &[RouteRow], unmatched: Option<&str>) -> Authorizer {
    let verifier = issuer
        .verifier_builder(AcceptedTokenUse::Access)
        .verified_token_cache(64)
        .build()
        .expect("verifier");
    with_rows(Authorizer::builder().verifier(verifier), routes, unmatched)
        .build()
        .expect("authorizer")
}

/// What a handler that serves files by its decoded tail would serve: `internal/…` after
/// skipping empty and `.` segments and resolving `..`, as file servers do.
fn tail_route(tail: &str) -> &'static str {
    let mut stack: Vec<&str> = Vec::new();
    for segment in tail.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                stack.pop();
            }
            other => stack.push(other),
        }
    }
    if stack.first() == Some(&"internal") {
        "files_internal"
    } else {
        "files_public"
    }
}

// ---------------------------------------------------------------------------------------------
// axum apps.
// ---------------------------------------------------------------------------------------------

fn axum_reply(name: &'static str) -> axum::response::Response {
    axum::response::IntoResponse::into_response(([("x-route", name)], format!("route={name}\n")))
}

async fn axum_tail(Path(tail): Path<String>) -> axum::response::Response {
    axum_reply(tail_route(&tail))
}

/// The routes of the root-layer axum apps, without any layer.
fn axum_routes(docs: &FsPath) -> Router {
    let reply = |name: &'static str| move || async move { axum_reply(name) };
    Router::new()
        .route("/health", get(reply("health")))
        .route("/me", get(reply("me")))
        .route("/admin", any(reply("admin_root")))
        .route("/admin/", any(reply("admin_root")))
        .route("/admin/{*rest}", any(reply("admin")))
        .route("/items/special", get(reply("special")))
        .route(
            "/items/{id}",
            get(reply("item_get")).delete(reply("item_delete")),
        )
        .route("/files/{*path}", get(axum_tail))
        .nest_service("/docs", ServeDir::new(docs))
        .fallback(reply("fallback"))
}

/// Per-route `require` on method routers, no root layer; the fallback is unguarded.
fn axum_require_app(authorizer: &Authorizer) -> Router {
    let reply = |name: &'static str| move || async move { axum_reply(name) };
    let guard = |expression: &str| require(authorizer, expression).expect("require");
    // Router::route_layer covers the routes added before it: one sub-router per policy.
    let admin = Router::new()
        .route("/admin", any(reply("admin_root")))
        .route("/admin/{*rest}", any(reply("admin")))
        .route("/items/{id}", delete(reply("item_delete")))
        .route_layer(guard("group:admin"));
    let signed_in = Router::new()
        .route("/items/{id}", get(reply("item_get")))
        .route_layer(guard("authenticated"));
    let staff = Router::new()
        .route("/staff/{*rest}", any(reply("staff")))
        .route_layer(guard("group:staff"));
    Router::new()
        .route("/health", get(reply("health")))
        .merge(admin)
        .merge(signed_in)
        .merge(staff)
        .fallback(reply("fallback"))
}

/// A layer inside a nested router (`nest("/api", …)`), with a file server nested inside that,
/// and a layer around a file server mounted with `nest_service("/static", …)`; the table is
/// written in client paths and leaves `unmatched` at its default.
fn axum_nested_app(authorizer: Authorizer, docs: &FsPath) -> Router {
    let reply = |name: &'static str| move || async move { axum_reply(name) };
    let api = Router::new()
        .route("/public", get(reply("api_public")))
        .route("/me", get(reply("api_me")))
        .route("/admin/{*rest}", any(reply("api_admin")))
        .route("/files/{*path}", get(axum_tail))
        .nest_service("/docs", ServeDir::new(docs))
        .fallback(reply("api_fallback"))
        .layer(AuthzLayer::new(authorizer.clone()));
    // The layer directly around a file server mounted with nest_service.
    let files = tower::ServiceBuilder::new()
        .layer(AuthzLayer::new(authorizer))
        .map_response(axum::response::IntoResponse::into_response)
        .service(ServeDir::new(docs));
    Router::new()
        .route("/health", get(reply("health")))
        .nest("/api", api)
        .nest_service("/static", files)
        .fallback(reply("fallback"))
}

type AxumServer = tokio::task::JoinHandle<()>;

async fn serve_axum<S>(service: S) -> (SocketAddr, AxumServer)
where
    S: tower::Service<
            axum::extract::Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let server = tokio::spawn(async move {
        let service = axum::ServiceExt::<axum::extract::Request>::into_make_service(service);
        axum::serve(listener, service).await.expect("axum serves");
    });
    (address, server)
}

// ---------------------------------------------------------------------------------------------
// actix-web apps.
// ---------------------------------------------------------------------------------------------

fn actix_reply(name: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("x-route", name))
        .body(format!("route={name}\n"))
}

fn actix_handler(name: &'static str) -> actix_web::Route {
    web::route().to(move || async move { actix_reply(name) })
}

fn actix_get(name: &'static str) -> actix_web::Route {
    web::get().to(move || async move { actix_reply(name) })
}

async fn actix_tail(tail: web::Path<String>) -> HttpResponse {
    actix_reply(tail_route(&tail))
}

/// The routes of the root-middleware actix apps: the quickstart's `/admin/{rest:.+}`
/// resource, a scope with a tail route, nested scopes, method-guarded resources registered
/// static-first and param-first, a tail handler, `actix-files` and a default service.
fn actix_routes(config: &mut web::ServiceConfig, docs: &FsPath) {
    config
        .service(web::resource("/health").route(actix_get("health")))
        .service(web::resource("/me").route(actix_get("me")))
        .service(web::resource("/admin/{rest:.+}").route(actix_handler("admin")))
        .service(web::scope("/panel").route("/{tail:.*}", actix_handler("panel")))
        .service(
            web::scope("/api")
                .service(web::scope("/admin").route("/{tail:.*}", actix_handler("api_admin"))),
        )
        // Static first, GET only: DELETE /items/special falls through to DELETE /items/{id}.
        .route("/items/special", actix_get("special"))
        .route("/items/{id}", actix_get("item_get"))
        .route(
            "/items/{id}",
            web::delete().to(|| async { actix_reply("item_delete") }),
        )
        // Param first: GET /things/open runs the /things/{id} handler.
        .route("/things/{id}", actix_get("thing_get"))
        .route("/things/open", actix_get("thing_open"))
        .route("/files/{tail:.*}", web::get().to(actix_tail))
        .service(actix_files::Files::new("/docs", docs).index_file("index.html"));
}

type ActixServer = actix_web::dev::ServerHandle;

/// Serves the app `factory` builds on 127.0.0.1 with one worker: `(address, handle)`.
macro_rules! serve_actix {
    ($factory:expr) => {{
        let listener =
            std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let address = listener.local_addr().expect("address");
        let handle: ActixServer = crate::serve::spawn_actix!(listener, $factory);
        (address, handle)
    }};
}

/// The root-middleware actix app over `docs`, before any `wrap`.
macro_rules! actix_root_app {
    ($docs:expr) => {{
        let docs: PathBuf = $docs;
        App::new()
            .configure(move |config| actix_routes(config, &docs))
            .default_service(web::to(|| async { actix_reply("fallback") }))
    }};
}

// ---------------------------------------------------------------------------------------------
// Shapes: a server, its ground truth, and what to send it.
// ---------------------------------------------------------------------------------------------

/// One app shape under test.
struct Shape {
    name: &'static str,
    address: SocketAddr,
    truth: BTreeMap<&'static str, Truth>,
    /// Base paths the transforms are applied to.
    bases: &'static [&'static str],
    /// Requests that must reach the named handler (so refusing everything cannot pass).
    must_reach: Vec<(&'static str, &'static str, Caller, &'static str)>,
}

const AXUM_ROOT_BASES: &[&str] = &[
    "/me",
    "/admin",
    "/admin/x",
    "/items/42",
    "/files/internal/secret",
    "/docs/internal/secret.txt",
    "/docs/internal/",
    "/nowhere",
];

/// Where trailing slashes and empty segments matter.
const AXUM_NORMALIZE_BASES: &[&str] = &["/admin", "/admin/x", "/items/42", "/docs/internal/"];

const AXUM_REQUIRE_BASES: &[&str] = &["/admin", "/admin/x", "/items/42", "/staff/x"];

const AXUM_NESTED_BASES: &[&str] = &[
    "/api/public",
    "/api/admin/x",
    "/api/files/internal/secret",
    "/api/docs/internal/secret.txt",
    "/api/docs/internal/",
    "/static/internal/secret.txt",
];

const ACTIX_ROOT_BASES: &[&str] = &[
    "/admin/users",
    "/panel",
    "/api/admin/x",
    "/items/special",
    "/things/open",
    "/files/internal/secret",
    "/docs/internal/secret.txt",
    "/docs/internal",
];

/// Where trailing slashes and empty segments matter.
const ACTIX_NORMALIZE_BASES: &[&str] =
    &["/admin/users", "/panel", "/docs/internal", "/items/special"];

const ACTIX_REQUIRE_BASES: &[&str] = &["/admin/x", "/staff", "/me", "/api/admin/x", "/api/nowhere"];

fn root_must_reach() -> Vec<(&'static str, &'static str, Caller, &'static str)> {
    vec![
        ("GET", "/health", Caller::Anonymous, "health"),
        ("GET", "/me", Caller::User, "me"),
        ("GET", "/items/42", Caller::User, "item_get"),
        ("DELETE", "/items/42", Caller::Admin, "item_delete"),
        ("GET", "/files/public", Caller::Anonymous, "files_public"),
        (
            "GET",
            "/files/internal/secret",
            Caller::Staff,
            "files_internal",
        ),
        ("GET", "/docs/public.txt", Caller::Anonymous, "docs_public"),
        (
            "GET",
            "/docs/internal/secret.txt",
            Caller::Staff,
            "docs_internal",
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Request targets.
// ---------------------------------------------------------------------------------------------

/// One request as written on the socket (the `Authorization` header is added per caller).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Probe {
    method: String,
    /// Origin-form target; sent in absolute-form when `absolute`.
    target: String,
    absolute: bool,
    preflight: bool,
    /// Which transform or named row produced it.
    label: String,
}

fn hex(byte: u8, upper: bool) -> String {
    if upper {
        format!("%{byte:02X}")
    } else {
        format!("%{byte:02x}")
    }
}

/// `path` split into its segments (the part before the first `/` is empty and dropped).
fn segments(path: &str) -> Vec<String> {
    path.split('/').skip(1).map(str::to_owned).collect()
}

fn join(segments: &[String]) -> String {
    format!("/{}", segments.join("/"))
}

/// Replaces the letter at `pick` (first/last letter) of segment `index` with `encode(letter)`.
fn encode_letter(
    path: &str,
    index: usize,
    last: bool,
    encode: impl Fn(u8) -> String,
) -> Option<String> {
    let mut parts = segments(path);
    let part = parts.get(index)?;
    let position = if last {
        part.rfind(|c: char| c.is_ascii_alphabetic())?
    } else {
        part.find(|c: char| c.is_ascii_alphabetic())?
    };
    let byte = part.as_bytes()[position];
    let replaced = format!(
        "{}{}{}",
        &part[..position],
        encode(byte),
        &part[position + 1..]
    );
    parts[index] = replaced;
    Some(join(&parts))
}

/// Inserts `extra` as a segment after segment `index`.
fn insert_segment(path: &str, index: usize, extra: &str) -> Option<String> {
    let mut parts = segments(path);
    if index >= parts.len() {
        return None;
    }
    parts.insert(index + 1, extra.to_owned());
    Some(join(&parts))
}

/// Replaces the `/` before segment `index` (≥ 1) with `separator`.
fn replace_separator(path: &str, index: usize, separator: &str) -> Option<String> {
    let parts = segments(path);
    if index == 0 || index >= parts.len() {
        return None;
    }
    Some(format!(
        "/{}{separator}{}",
        parts[..index].join("/"),
        parts[index..].join("/")
    ))
}

type Transform = (&'static str, fn(&str) -> Option<String>);

/// Every way a target is rewritten; each keeps what a lenient router or file server would
/// still take for the same resource, or a near neighbour of it.
fn transforms() -> Vec<Transform> {
    vec![
        ("as is", |p| Some(p.to_owned())),
        // percent-encoded letters
        ("first letter %xx", |p| {
            encode_letter(p, 0, false, |b| hex(b, false))
        }),
        ("last letter of first segment %XX", |p| {
            encode_letter(p, 0, true, |b| hex(b, true))
        }),
        ("first letter of second segment %xx", |p| {
            encode_letter(p, 1, false, |b| hex(b, false))
        }),
        ("last letter of second segment %XX", |p| {
            encode_letter(p, 1, true, |b| hex(b, true))
        }),
        ("every letter, mixed-case hex", |p| {
            let mut out = String::new();
            for (index, byte) in p.bytes().enumerate() {
                if byte.is_ascii_alphabetic() {
                    out.push_str(&hex(byte, index % 2 == 0));
                } else {
                    out.push(char::from(byte));
                }
            }
            (out != p).then_some(out)
        }),
        ("first letter as its capital %XX", |p| {
            encode_letter(p, 0, false, |b| hex(b.to_ascii_uppercase(), true))
        }),
        ("double-encoded first letter", |p| {
            encode_letter(p, 0, false, |b| format!("%25{:02x}", b))
        }),
        ("double-encoded letter of second segment", |p| {
            encode_letter(p, 1, false, |b| format!("%25{:02x}", b))
        }),
        ("encoded percent appended", |p| Some(format!("{p}%25"))),
        // encoded separators and dots
        ("first inner / as %2F", |p| replace_separator(p, 1, "%2F")),
        ("first inner / as %2f", |p| replace_separator(p, 1, "%2f")),
        ("second inner / as %2F", |p| replace_separator(p, 2, "%2F")),
        ("every inner / as %2F", |p| {
            let rest = p.get(1..)?;
            rest.contains('/')
                .then(|| format!("/{}", rest.replace('/', "%2F")))
        }),
        ("dots as %2E", |p| {
            p.contains('.').then(|| p.replace('.', "%2E"))
        }),
        // dot segments
        ("/./ after first segment", |p| insert_segment(p, 0, ".")),
        ("/./ after second segment", |p| insert_segment(p, 1, ".")),
        ("leading /./", |p| Some(format!("/.{p}"))),
        ("sibling /zz/../ after first segment", |p| {
            insert_segment(p, 0, "zz/..")
        }),
        ("sibling /zz/../ after second segment", |p| {
            insert_segment(p, 1, "zz/..")
        }),
        // `..` right after the first or second segment climbs above a mount point, where a
        // file server (actix-files) or a tail handler clamps it at its own root
        ("/../ after first segment", |p| insert_segment(p, 0, "..")),
        ("/../ after second segment", |p| insert_segment(p, 1, "..")),
        ("/%2e%2e/ after first segment", |p| {
            insert_segment(p, 0, "%2e%2e")
        }),
        ("leading /../", |p| Some(format!("/..{p}"))),
        ("from a public route: /health/../", |p| {
            Some(format!("/health/..{p}"))
        }),
        ("from a public file: /docs/public.txt/../../", |p| {
            Some(format!("/docs/public.txt/../..{p}"))
        }),
        ("from public files: /files/x/../../", |p| {
            Some(format!("/files/x/../..{p}"))
        }),
        ("/%2e/ after first segment", |p| insert_segment(p, 0, "%2e")),
        ("sibling /zz/%2e%2e/", |p| insert_segment(p, 0, "zz/%2e%2e")),
        ("sibling /zz/%2E%2E/ after second segment", |p| {
            insert_segment(p, 1, "zz/%2E%2E")
        }),
        ("overlong UTF-8 dots /zz/%c0%ae%c0%ae/", |p| {
            insert_segment(p, 0, "zz/%c0%ae%c0%ae")
        }),
        // invalid UTF-8 once decoded: a lenient decoder beside a strict one
        ("sibling /%ff/../ after first segment", |p| {
            insert_segment(p, 0, "%ff/..")
        }),
        ("%ff appended to the first segment", |p| {
            let mut parts = segments(p);
            parts.first_mut()?.push_str("%ff");
            Some(join(&parts))
        }),
        // empty segments
        ("leading //", |p| Some(format!("/{p}"))),
        ("// after first segment", |p| insert_segment(p, 0, "")),
        ("// after second segment", |p| insert_segment(p, 1, "")),
        // case
        ("first segment capitalised", |p| {
            let mut parts = segments(p);
            let first = parts.first_mut()?;
            let mut chars = first.chars();
            let head = chars.next()?.to_ascii_uppercase();
            *first = format!("{head}{}", chars.as_str());
            Some(join(&parts))
        }),
        ("upper case", |p| Some(p.to_ascii_uppercase())),
        // trailing
        ("trailing /", |p| {
            (!p.ends_with('/')).then(|| format!("{p}/"))
        }),
        ("trailing .", |p| Some(format!("{p}."))),
        ("trailing /.", |p| Some(format!("{p}/."))),
        ("trailing %00", |p| Some(format!("{p}%00"))),
        // parameters, queries and fragments
        ("; on first segment", |p| {
            let mut parts = segments(p);
            let first = parts.first_mut()?;
            first.push_str(";a=b");
            Some(join(&parts))
        }),
        ("trailing ;", |p| Some(format!("{p};"))),
        ("trailing ;jsessionid", |p| {
            Some(format!("{p};jsessionid=1"))
        }),
        ("query", |p| Some(format!("{p}?a=1"))),
        ("encoded ?", |p| Some(format!("{p}%3Fx"))),
        ("raw #", |p| Some(format!("{p}#x"))),
        // other separators
        ("first inner / as \\", |p| replace_separator(p, 1, "\\")),
        ("first inner / as %5C", |p| replace_separator(p, 1, "%5C")),
    ]
}

/// The transforms also sent with every method and in absolute-form.
const METHOD_TRANSFORMS: &[&str] = &["as is", "first letter %xx"];

/// Methods sent besides GET; `PREFLIGHT` is `OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`.
const METHODS: &[&str] = &[
    "HEAD",
    "OPTIONS",
    "PREFLIGHT",
    "get",
    "PURGE",
    "DELETE",
    "POST",
];

fn probes(bases: &[&str]) -> Vec<Probe> {
    let mut out = BTreeSet::new();
    let transforms = transforms();
    for base in bases {
        for (label, transform) in &transforms {
            let Some(target) = transform(base) else {
                continue;
            };
            let probe = |method: &str, absolute: bool| {
                let preflight = method == "PREFLIGHT";
                Probe {
                    method: if preflight { "OPTIONS" } else { method }.to_owned(),
                    target: target.clone(),
                    absolute,
                    preflight,
                    label: (*label).to_owned(),
                }
            };
            out.insert(probe("GET", false));
            if METHOD_TRANSFORMS.contains(label) {
                out.insert(probe("GET", true));
                for method in METHODS {
                    out.insert(probe(method, false));
                }
            }
        }
    }
    out.into_iter().collect()
}

/// The classes of divergence, as named rows: (shape, method, target, preflight, row).
const NAMED_ROWS: &[(&str, &str, &str, bool, &str)] = &[
    (
        "actix_root",
        "GET",
        "/%61dmin/users",
        false,
        "quickstart: %61dmin reaches /admin/{rest:.+}",
    ),
    (
        "actix_root",
        "GET",
        "/docs/%69nternal/secret.txt",
        false,
        "actix-files decodes its tail",
    ),
    (
        "actix_root",
        "GET",
        "/docs/public.txt/../internal/secret.txt",
        false,
        "actix-files resolves ..",
    ),
    (
        "actix_root",
        "GET",
        "/docs/../internal/secret.txt",
        false,
        "actix-files clamps .. at its mount",
    ),
    (
        "actix_root",
        "GET",
        "/files/../internal/secret",
        false,
        "tail handler clamps .. at its mount",
    ),
    (
        "actix_root",
        "GET",
        "/panel/",
        false,
        "scope tail serves the bare prefix with /",
    ),
    (
        "actix_root",
        "DELETE",
        "/items/special",
        false,
        "method fallthrough to DELETE /items/{id}",
    ),
    (
        "actix_root",
        "GET",
        "/things/open",
        false,
        "param resource registered first",
    ),
    (
        "actix_root",
        "OPTIONS",
        "/admin/users",
        true,
        "preflight to web::route()",
    ),
    (
        "actix_require",
        "OPTIONS",
        "/admin/x",
        true,
        "preflight through a scope's require",
    ),
    (
        "actix_require",
        "OPTIONS",
        "/me",
        true,
        "preflight to resource.to() with require",
    ),
    (
        "actix_require",
        "GET",
        "/api/admin/x",
        false,
        "route table on a scope",
    ),
    (
        "axum_root",
        "GET",
        "/docs/%69nternal/secret.txt",
        false,
        "ServeDir decodes its tail",
    ),
    (
        "axum_root",
        "GET",
        "/docs//internal/secret.txt",
        false,
        "ServeDir skips empty segments",
    ),
    (
        "axum_root",
        "GET",
        "/docs/./internal/secret.txt",
        false,
        "ServeDir skips . segments",
    ),
    (
        "axum_root",
        "GET",
        "/docs/internal%2Fsecret.txt",
        false,
        "ServeDir decodes %2F",
    ),
    (
        "axum_root",
        "GET",
        "/files/internal%2Fsecret",
        false,
        "Path<String> tail decodes %2F",
    ),
    (
        "axum_root",
        "GET",
        "/files/../internal/secret",
        false,
        "tail handler clamps .. at its mount",
    ),
    ("axum_root", "GET", "/admin/", false, "bare prefix with /"),
    (
        "axum_root",
        "OPTIONS",
        "/admin/x",
        true,
        "preflight to any()",
    ),
    (
        "axum_require",
        "OPTIONS",
        "/admin/x",
        true,
        "preflight through route_layer(require)",
    ),
    (
        "axum_nested",
        "GET",
        "/api/admin/x",
        false,
        "layer inside nest sees /admin/x",
    ),
    (
        "axum_nested",
        "GET",
        "/api/docs/internal/secret.txt",
        false,
        "layer inside nest, nest_service(ServeDir)",
    ),
    (
        "axum_nested",
        "GET",
        "/api/files/../internal/secret",
        false,
        "nested tail handler clamps ..",
    ),
    (
        "actix_root",
        "GET",
        "/docs/%ff/../internal/secret.txt",
        false,
        "an undecodable segment removed by .. (actix-files)",
    ),
    (
        "actix_root",
        "GET",
        "/files/%ff/../internal/secret",
        false,
        "an undecodable segment removed by .. (lossy Path<String>)",
    ),
];

/// Requests that must not reach an app's fallback (its not-found handler, reached by paths
/// no route covers): (shape, method, target, preflight, caller, fallback route, row).
type UnroutedRow = (
    &'static str,
    &'static str,
    &'static str,
    bool,
    Caller,
    &'static str,
    &'static str,
);

const UNROUTED: &[UnroutedRow] = &[
    (
        "axum_root",
        "OPTIONS",
        "*",
        false,
        Caller::Anonymous,
        "fallback",
        "asterisk-form",
    ),
    (
        "actix_root",
        "OPTIONS",
        "*",
        false,
        Caller::Anonymous,
        "fallback",
        "asterisk-form",
    ),
    (
        "axum_root",
        "GET",
        "/nowhere",
        false,
        Caller::Anonymous,
        "fallback",
        "unmatched = authenticated",
    ),
    (
        "axum_root",
        "OPTIONS",
        "/nowhere",
        true,
        Caller::Anonymous,
        "fallback",
        "preflight to the fallback",
    ),
    (
        "axum_nested",
        "GET",
        "/api/nowhere",
        false,
        Caller::User,
        "api_fallback",
        "unmatched left at its default",
    ),
    (
        "axum_nested",
        "OPTIONS",
        "/api/nowhere",
        true,
        Caller::Anonymous,
        "api_fallback",
        "preflight to a nested fallback",
    ),
    (
        "actix_root",
        "GET",
        "/nowhere",
        false,
        Caller::Anonymous,
        "fallback",
        "unmatched = authenticated",
    ),
    (
        "actix_root",
        "OPTIONS",
        "/nowhere",
        true,
        Caller::Anonymous,
        "fallback",
        "preflight to default_service",
    ),
    (
        "actix_normalize_inside",
        "GET",
        "/nowhere",
        false,
        Caller::User,
        "fallback",
        "unmatched left at its default",
    ),
    (
        "actix_require",
        "GET",
        "/api/nowhere",
        false,
        Caller::User,
        "api_fallback",
        "table on a scope, unmatched left at its default",
    ),
    (
        "actix_require",
        "OPTIONS",
        "/api/nowhere",
        true,
        Caller::Anonymous,
        "api_fallback",
        "preflight to a scope's default_service",
    ),
];

// ---------------------------------------------------------------------------------------------
// The raw client.
// ---------------------------------------------------------------------------------------------

/// What came back (status, headers, body), as read off the socket.
type Reply = RawAnswer;

/// Which handler an answer came from.
trait Reached {
    /// The route whose handler answered, if one did: the `x-route` header, else `route=NAME`
    /// in the body, else (a file server's answer to HEAD) the file of that length.
    fn reached(&self) -> Option<String>;
}

impl Reached for Reply {
    fn reached(&self) -> Option<String> {
        if let Some(route) = self.header("x-route") {
            return Some(route.to_owned());
        }
        if let Some(start) = self.body.windows(6).position(|w| w == b"route=") {
            let name: String = self.body[start + 6..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .map(|b| char::from(*b))
                .collect();
            return Some(name);
        }
        if (200..300).contains(&self.status) {
            let length: usize = self.header("content-length")?.parse().ok()?;
            return FILES
                .iter()
                .find(|(_, content)| content.len() == length)
                .map(|(_, content)| content.trim_end().trim_start_matches("route=").to_owned());
        }
        None
    }
}

fn request_bytes(address: SocketAddr, probe: &Probe, token: Option<&str>) -> Vec<u8> {
    let target = if probe.absolute {
        format!("http://{address}{}", probe.target)
    } else {
        probe.target.clone()
    };
    let mut text = format!("{} {target} HTTP/1.1\r\nHost: {address}\r\n", probe.method);
    if let Some(token) = token {
        let _ = write!(text, "Authorization: Bearer {token}\r\n");
    }
    if probe.preflight {
        text.push_str(
            "Origin: https://app.example\r\nAccess-Control-Request-Method: DELETE\r\n\
             Access-Control-Request-Headers: authorization\r\n",
        );
    }
    if matches!(probe.method.as_str(), "POST" | "PURGE" | "DELETE") {
        text.push_str("Content-Length: 0\r\n");
    }
    text.push_str("Connection: close\r\n\r\n");
    text.into_bytes()
}

/// [`exchange_once`], tried again (twice at most) when the exchange itself fails — a timeout
/// on a loaded machine, a reset before any answer — so a transport hiccup is not reported as
/// a broken exchange. A decision is never retried: any HTTP answer is returned as it came.
async fn exchange(address: SocketAddr, bytes: &[u8]) -> Result<Reply, String> {
    let mut last = Err(String::new());
    for _ in 0..3 {
        last = exchange_once(address, bytes).await;
        if last.is_ok() {
            break;
        }
    }
    last
}

/// Sends `bytes` on a fresh connection and reads until the server closes it.
async fn exchange_once(address: SocketAddr, bytes: &[u8]) -> Result<Reply, String> {
    let work = async {
        let mut stream = TcpStream::connect(address)
            .await
            .map_err(|error| format!("connect: {error}"))?;
        stream
            .write_all(bytes)
            .await
            .map_err(|error| format!("write: {error}"))?;
        let mut received = Vec::new();
        // A reset after a complete answer (servers that refuse a target and close) still
        // leaves the answer readable.
        let _ = stream.read_to_end(&mut received).await;
        Reply::parse(&received).ok_or_else(|| {
            format!(
                "no HTTP answer ({} bytes: {:?})",
                received.len(),
                String::from_utf8_lossy(&received[..received.len().min(80)])
            )
        })
    };
    tokio::time::timeout(REQUEST_TIMEOUT, work)
        .await
        .map_err(|_| "timed out".to_owned())?
}

/// A handler ran for a caller its route's policy refuses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Violation {
    shape: &'static str,
    route: String,
    caller: Caller,
    method: String,
    target: String,
    absolute: bool,
    preflight: bool,
    status: u16,
    label: String,
    truth: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{}] {} {}{}{} as {:?} reached `{}` (guarded by {}), status {} — {}",
            self.shape,
            self.method,
            if self.absolute { "http://HOST" } else { "" },
            self.target,
            if self.preflight { " (preflight)" } else { "" },
            self.caller,
            self.route,
            self.truth,
            self.status,
            self.label
        )
    }
}

/// What one shape's run found.
#[derive(Debug, Default)]
struct Findings {
    sent: usize,
    violations: Vec<Violation>,
    /// Requests that got no HTTP answer, or reached a route missing from the truth table.
    broken: Vec<String>,
    /// `must_reach` rows that did not reach their handler.
    unreached: Vec<String>,
}

async fn run_shape(shape: &Shape, tokens: &Tokens) -> Findings {
    let mut probes = probes(shape.bases);
    for (name, method, target, preflight, label) in NAMED_ROWS {
        if *name == shape.name {
            probes.push(Probe {
                method: (*method).to_owned(),
                target: (*target).to_owned(),
                absolute: false,
                preflight: *preflight,
                label: format!("named row: {label}"),
            });
        }
    }
    let jobs: Vec<(Probe, Caller)> = probes
        .iter()
        .flat_map(|probe| Caller::ALL.map(|caller| (probe.clone(), caller)))
        .collect();
    let answers: Vec<(Probe, Caller, Result<Reply, String>)> =
        futures_util::stream::iter(jobs.into_iter().map(|(probe, caller)| {
            let bytes = request_bytes(shape.address, &probe, tokens.of(caller));
            async move {
                let reply = exchange(shape.address, &bytes).await;
                (probe, caller, reply)
            }
        }))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;

    let mut findings = Findings {
        sent: answers.len(),
        ..Findings::default()
    };
    for (probe, caller, reply) in &answers {
        let reply = match reply {
            Ok(reply) => reply,
            Err(error) => {
                findings.broken.push(format!(
                    "[{}] {} {} as {caller:?}: {error}",
                    shape.name, probe.method, probe.target
                ));
                continue;
            }
        };
        let Some(route) = reply.reached() else {
            continue;
        };
        let Some(truth) = shape.truth.get(route.as_str()) else {
            findings.broken.push(format!(
                "[{}] {} {} as {caller:?} reached `{route}`, which the truth table lacks",
                shape.name, probe.method, probe.target
            ));
            continue;
        };
        if !truth.allows(*caller) {
            findings.violations.push(Violation {
                shape: shape.name,
                route,
                caller: *caller,
                method: probe.method.clone(),
                target: probe.target.clone(),
                absolute: probe.absolute,
                preflight: probe.preflight,
                status: reply.status,
                label: probe.label.clone(),
                truth: truth.to_string(),
            });
        }
    }
    for (method, target, caller, route) in &shape.must_reach {
        let probe = Probe {
            method: (*method).to_owned(),
            target: (*target).to_owned(),
            absolute: false,
            preflight: false,
            label: String::new(),
        };
        let bytes = request_bytes(shape.address, &probe, tokens.of(*caller));
        let reached = exchange(shape.address, &bytes)
            .await
            .ok()
            .and_then(|reply| reply.reached());
        if reached.as_deref() != Some(*route) {
            findings.unreached.push(format!(
                "[{}] {method} {target} as {caller:?} must reach `{route}`, reached {reached:?}",
                shape.name
            ));
        }
    }
    for (name, method, target, preflight, caller, route, row) in UNROUTED {
        if *name != shape.name {
            continue;
        }
        let probe = Probe {
            method: (*method).to_owned(),
            target: (*target).to_owned(),
            absolute: false,
            preflight: *preflight,
            label: format!("unrouted row: {row}"),
        };
        let bytes = request_bytes(shape.address, &probe, tokens.of(*caller));
        let Ok(reply) = exchange(shape.address, &bytes).await else {
            findings
                .broken
                .push(format!("[{}] {method} {target}: no answer", shape.name));
            continue;
        };
        if reply.reached().as_deref() == Some(*route) {
            findings.violations.push(Violation {
                shape: shape.name,
                route: (*route).to_owned(),
                caller: *caller,
                method: probe.method,
                target: probe.target,
                absolute: false,
                preflight: *preflight,
                status: reply.status,
                label: probe.label,
                truth: "the unmatched policy, which refuses this caller".to_owned(),
            });
        }
    }
    findings
}

/// A folder under the target directory for the served files, removed when dropped.
struct DocsDir(PathBuf);

impl DocsDir {
    fn create() -> Self {
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("router-differential-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        write_docs(&path);
        Self(path)
    }
}

impl Drop for DocsDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The running apps, stopped at the end.
#[derive(Default)]
struct Servers {
    axum: Vec<AxumServer>,
    actix: Vec<ActixServer>,
}

impl Servers {
    async fn stop(self) {
        for server in self.axum {
            server.abort();
        }
        for server in self.actix {
            server.stop(false).await;
        }
    }
}

#[actix_web::test]
async fn no_handler_runs_for_a_caller_its_routes_policy_refuses() {
    let issuer = LocalIssuer::offline();
    let tokens = Tokens::mint(&issuer);
    let docs = DocsDir::create();
    let mut servers = Servers::default();
    let mut shapes = Vec::new();

    // axum: the layer at the root (Router::layer), over any(), a fallback, a Path<String>
    // tail handler and nest_service(ServeDir).
    let root = authorizer(&issuer, ROOT_ROUTES, Some("authenticated"));
    let (address, server) =
        serve_axum(axum_routes(&docs.0).layer(AuthzLayer::new(root.clone()))).await;
    servers.axum.push(server);
    shapes.push(Shape {
        name: "axum_root",
        address,
        truth: root_truth(),
        bases: AXUM_ROOT_BASES,
        must_reach: root_must_reach(),
    });

    // axum: NormalizePath (trim) outside the authorization layer, then the router.
    let service = NormalizePathLayer::trim_trailing_slash()
        .layer(AuthzLayer::new(root.clone()).layer(axum_routes(&docs.0)));
    let (address, server) = serve_axum(service).await;
    servers.axum.push(server);
    shapes.push(Shape {
        name: "axum_normalize_outside",
        address,
        truth: root_truth(),
        bases: AXUM_NORMALIZE_BASES,
        must_reach: root_must_reach(),
    });

    // axum: the authorization layer outside NormalizePath (trim), then the router.
    let service = AuthzLayer::new(root.clone())
        .layer(NormalizePathLayer::trim_trailing_slash().layer(axum_routes(&docs.0)));
    let (address, server) = serve_axum(service).await;
    servers.axum.push(server);
    shapes.push(Shape {
        name: "axum_normalize_inside",
        address,
        truth: root_truth(),
        bases: AXUM_NORMALIZE_BASES,
        must_reach: root_must_reach(),
    });

    // axum: per-route require (route_layer on method routers), nothing at the root.
    let (address, server) = serve_axum(axum_require_app(&root)).await;
    servers.axum.push(server);
    shapes.push(Shape {
        name: "axum_require",
        address,
        truth: BTreeMap::from([
            ("health", Truth::Public),
            ("admin_root", Truth::Group("admin")),
            ("admin", Truth::Group("admin")),
            ("item_get", Truth::Authenticated),
            ("item_delete", Truth::Group("admin")),
            ("staff", Truth::Group("staff")),
            ("fallback", Truth::Public),
        ]),
        bases: AXUM_REQUIRE_BASES,
        must_reach: vec![
            ("GET", "/admin/x", Caller::Admin, "admin"),
            ("GET", "/items/1", Caller::User, "item_get"),
            ("DELETE", "/items/1", Caller::Admin, "item_delete"),
            ("GET", "/staff/x", Caller::Staff, "staff"),
        ],
    });

    // axum: the layer inside nest("/api", …), a table in client paths, `unmatched` left at
    // its default (which must refuse).
    let nested = authorizer(&issuer, NESTED_ROUTES, None);
    let (address, server) = serve_axum(axum_nested_app(nested, &docs.0)).await;
    servers.axum.push(server);
    shapes.push(Shape {
        name: "axum_nested",
        address,
        truth: BTreeMap::from([
            ("health", Truth::Public),
            ("fallback", Truth::Public),
            ("api_public", Truth::Public),
            ("api_me", Truth::Authenticated),
            ("api_admin", Truth::Group("admin")),
            ("api_fallback", Truth::Public),
            ("files_public", Truth::Public),
            ("files_internal", Truth::Group("staff")),
            ("docs_public", Truth::Public),
            ("docs_internal", Truth::Group("staff")),
            ("docs_internal_index", Truth::Group("staff")),
        ]),
        bases: AXUM_NESTED_BASES,
        must_reach: vec![
            ("GET", "/api/public", Caller::Anonymous, "api_public"),
            ("GET", "/api/me", Caller::User, "api_me"),
            ("GET", "/api/admin/x", Caller::Admin, "api_admin"),
            (
                "GET",
                "/api/files/internal/x",
                Caller::Staff,
                "files_internal",
            ),
            (
                "GET",
                "/api/docs/internal/secret.txt",
                Caller::Staff,
                "docs_internal",
            ),
            (
                "GET",
                "/api/docs/public.txt",
                Caller::Anonymous,
                "docs_public",
            ),
            (
                "GET",
                "/static/public.txt",
                Caller::Anonymous,
                "docs_public",
            ),
            (
                "GET",
                "/static/internal/secret.txt",
                Caller::Staff,
                "docs_internal",
            ),
        ],
    });

    // actix: the middleware at the root, the quickstart's shape and more.
    let actix_must_reach = || {
        let mut rows = root_must_reach();
        rows.extend([
            ("GET", "/admin/users", Caller::Admin, "admin"),
            ("GET", "/panel/x", Caller::Admin, "panel"),
            ("GET", "/api/admin/x", Caller::Admin, "api_admin"),
            ("GET", "/things/7", Caller::Staff, "thing_get"),
        ]);
        rows
    };
    let trim =
        || actix_web::middleware::NormalizePath::new(actix_web::middleware::TrailingSlash::Trim);
    // `App::wrap`: the last one added runs first.
    let authz = authorizer(&issuer, ROOT_ROUTES, Some("authenticated"));
    let dir = docs.0.clone();
    let (address, server) = serve_actix!(move || {
        actix_root_app!(dir.clone()).wrap(CognitoAuth::new(authz.clone()))
    });
    servers.actix.push(server);
    shapes.push(Shape {
        name: "actix_root",
        address,
        truth: root_truth(),
        bases: ACTIX_ROOT_BASES,
        must_reach: actix_must_reach(),
    });

    // actix: NormalizePath (trim) runs before the middleware.
    let authz = authorizer(&issuer, ROOT_ROUTES, Some("authenticated"));
    let dir = docs.0.clone();
    let (address, server) = serve_actix!(move || {
        actix_root_app!(dir.clone())
            .wrap(CognitoAuth::new(authz.clone()))
            .wrap(trim())
    });
    servers.actix.push(server);
    shapes.push(Shape {
        name: "actix_normalize_outside",
        address,
        truth: root_truth(),
        bases: ACTIX_NORMALIZE_BASES,
        must_reach: actix_must_reach(),
    });

    // actix: the middleware runs before NormalizePath (trim); `unmatched` left at its default.
    let authz = authorizer(&issuer, ROOT_ROUTES, None);
    let dir = docs.0.clone();
    let (address, server) = serve_actix!(move || {
        actix_root_app!(dir.clone())
            .wrap(trim())
            .wrap(CognitoAuth::new(authz.clone()))
    });
    servers.actix.push(server);
    shapes.push(Shape {
        name: "actix_normalize_inside",
        address,
        truth: root_truth(),
        bases: ACTIX_NORMALIZE_BASES,
        must_reach: actix_must_reach(),
    });

    // actix: per-scope and per-resource require; a scope wrapped with a whole route table
    // (client paths, `unmatched` at its default); the default service is unguarded.
    let authz = root.clone();
    let api = authorizer(&issuer, NESTED_ROUTES, None);
    let (address, server) = serve_actix!(move || {
        let guard =
            |expression: &str| cognito_authz_actix::require(&authz, expression).expect("require");
        App::new()
            .service(web::resource("/health").route(actix_get("health")))
            .service(
                web::scope("/admin")
                    .wrap(guard("group:admin"))
                    .route("/{tail:.*}", actix_handler("admin")),
            )
            .service(
                web::resource("/staff")
                    .wrap(guard("group:staff"))
                    .route(actix_handler("staff")),
            )
            .service(
                web::resource("/me")
                    .wrap(guard("authenticated"))
                    .to(|| async { actix_reply("me") }),
            )
            .service(
                web::scope("/api")
                    .wrap(CognitoAuth::new(api.clone()))
                    .route("/public", actix_get("api_public"))
                    .route("/admin/{tail:.*}", actix_handler("api_admin"))
                    .default_service(web::to(|| async { actix_reply("api_fallback") })),
            )
            .default_service(web::to(|| async { actix_reply("fallback") }))
    });
    servers.actix.push(server);
    shapes.push(Shape {
        name: "actix_require",
        address,
        truth: BTreeMap::from([
            ("health", Truth::Public),
            ("admin", Truth::Group("admin")),
            ("staff", Truth::Group("staff")),
            ("me", Truth::Authenticated),
            ("fallback", Truth::Public),
            ("api_public", Truth::Public),
            ("api_admin", Truth::Group("admin")),
            ("api_fallback", Truth::Public),
        ]),
        bases: ACTIX_REQUIRE_BASES,
        must_reach: vec![
            ("GET", "/api/public", Caller::Anonymous, "api_public"),
            ("GET", "/api/admin/x", Caller::Admin, "api_admin"),
            ("GET", "/admin/x", Caller::Admin, "admin"),
            ("GET", "/staff", Caller::Staff, "staff"),
            ("GET", "/me", Caller::User, "me"),
        ],
    });

    // All shapes at once (the actix workers run on their own threads), each with a bounded
    // number of requests in flight.
    let all = futures_util::future::join_all(shapes.iter().map(|shape| run_shape(shape, &tokens)));
    let all = all.await;
    let mut report = String::new();
    let mut sent = 0;
    let mut failed = false;
    let mut probes_per_shape = Vec::new();
    for (shape, findings) in shapes.iter().zip(&all) {
        sent += findings.sent;
        probes_per_shape.push((shape.name, findings.sent / Caller::ALL.len()));
        if findings.violations.is_empty()
            && findings.broken.is_empty()
            && findings.unreached.is_empty()
        {
            continue;
        }
        failed = true;
        summarise(&mut report, shape.name, findings);
    }
    servers.stop().await;
    for (name, count) in &probes_per_shape {
        assert!(
            *count >= 150,
            "{name}: only {count} request targets; the test promises at least 150 per shape"
        );
    }
    assert!(
        !failed,
        "{sent} requests to {} app shapes ({probes_per_shape:?} targets each, × 4 callers):\n{report}",
        shapes.len()
    );
}

/// Appends a readable account of one shape's findings: counts per (route, caller, class of
/// transform) and every violating request.
fn summarise(report: &mut String, shape: &str, findings: &Findings) {
    let _ = writeln!(
        report,
        "\n=== {shape}: {} violation(s), {} broken exchange(s), {} required request(s) not served",
        findings.violations.len(),
        findings.broken.len(),
        findings.unreached.len()
    );
    for line in &findings.unreached {
        let _ = writeln!(report, "  NOT SERVED {line}");
    }
    for line in &findings.broken {
        let _ = writeln!(report, "  BROKEN {line}");
    }
    let mut classes: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for violation in &findings.violations {
        let method = if violation.preflight {
            "preflight".to_owned()
        } else {
            violation.method.clone()
        };
        *classes
            .entry((violation.route.clone(), method, violation.label.clone()))
            .or_default() += 1;
    }
    let _ = writeln!(report, "  by reached route, method and transform:");
    for ((route, method, label), count) in &classes {
        let _ = writeln!(report, "    {route:<20} {method:<9} {count:>4} × {label}");
    }
    let mut violations = findings.violations.clone();
    violations.sort();
    for violation in &violations {
        let _ = writeln!(report, "  {violation}");
    }
}

// ---------------------------------------------------------------------------------------------
// CORS preflights with real CORS layers.
// ---------------------------------------------------------------------------------------------

const ORIGIN: &str = "https://app.example";

fn preflight(target: &str) -> Probe {
    Probe {
        method: "OPTIONS".to_owned(),
        target: target.to_owned(),
        absolute: false,
        preflight: true,
        label: "preflight".to_owned(),
    }
}

fn admin_only(issuer: &LocalIssuer) -> Authorizer {
    authorizer(
        issuer,
        &[("*", "/admin/{*rest}", "group:admin")],
        Some("authenticated"),
    )
}

/// Checks a preflight answered by a CORS layer outside authorization and one decided inside.
async fn check_cors(
    framework: &str,
    outside: SocketAddr,
    inside: SocketAddr,
    tokens: &Tokens,
) -> Vec<String> {
    let mut problems = Vec::new();
    for caller in [Caller::Anonymous, Caller::User] {
        let token = tokens.of(caller);
        let bytes = request_bytes(outside, &preflight("/admin/x"), token);
        match exchange(outside, &bytes).await {
            Ok(reply) => {
                if let Some(route) = reply.reached() {
                    problems.push(format!(
                        "{framework}, CORS outside, {caller:?}: the preflight ran handler `{route}`"
                    ));
                }
                if !(200..300).contains(&reply.status)
                    || reply.header("access-control-allow-origin") != Some(ORIGIN)
                {
                    problems.push(format!(
                        "{framework}, CORS outside, {caller:?}: the CORS layer did not answer the \
                         preflight (status {}, allow-origin {:?})",
                        reply.status,
                        reply.header("access-control-allow-origin")
                    ));
                }
            }
            Err(error) => problems.push(format!("{framework}, CORS outside: {error}")),
        }
    }
    // The actual cross-origin request after the preflight is still decided.
    let actual = Probe {
        method: "DELETE".to_owned(),
        target: "/admin/x".to_owned(),
        absolute: false,
        preflight: false,
        label: String::new(),
    };
    for (caller, status) in [
        (Caller::Anonymous, 401),
        (Caller::User, 403),
        (Caller::Admin, 200),
    ] {
        let bytes = request_bytes(outside, &actual, tokens.of(caller));
        match exchange(outside, &bytes).await {
            Ok(reply) if reply.status == status => {}
            Ok(reply) => problems.push(format!(
                "{framework}, CORS outside, DELETE as {caller:?}: status {} (expected {status}), \
                 reached {:?}",
                reply.status,
                reply.reached()
            )),
            Err(error) => problems.push(format!("{framework}, CORS outside: {error}")),
        }
    }
    let bytes = request_bytes(inside, &preflight("/admin/x"), None);
    match exchange(inside, &bytes).await {
        Ok(reply) => {
            if reply.status != 401 || reply.reached().is_some() {
                problems.push(format!(
                    "{framework}, CORS inside: a preflight without a token got {} (expected 401 \
                     from the authorization layer), reached {:?}",
                    reply.status,
                    reply.reached()
                ));
            }
        }
        Err(error) => problems.push(format!("{framework}, CORS inside: {error}")),
    }
    let bytes = request_bytes(inside, &preflight("/admin/x"), tokens.of(Caller::User));
    match exchange(inside, &bytes).await {
        Ok(reply) if reply.reached().is_some() => problems.push(format!(
            "{framework}, CORS inside: a plain user's preflight ran {:?} (status {})",
            reply.reached(),
            reply.status
        )),
        Ok(_) => {}
        Err(error) => problems.push(format!("{framework}, CORS inside: {error}")),
    }
    problems
}

#[actix_web::test]
async fn axum_cors_layer_outside_authorization_answers_preflights_and_inside_they_are_decided() {
    use tower_http::cors::CorsLayer;
    let issuer = LocalIssuer::offline();
    let tokens = Tokens::mint(&issuer);
    let cors = || {
        CorsLayer::new()
            .allow_origin(http::HeaderValue::from_static(ORIGIN))
            .allow_methods([Method::GET, Method::DELETE])
            .allow_headers([http::header::AUTHORIZATION])
    };
    let routes = || Router::new().route("/admin/{*rest}", any(|| async { axum_reply("admin") }));
    // `Router::layer`: the last one added runs first.
    let (outside, outside_server) = serve_axum(
        routes()
            .layer(AuthzLayer::new(admin_only(&issuer)))
            .layer(cors()),
    )
    .await;
    let (inside, inside_server) = serve_axum(
        routes()
            .layer(cors())
            .layer(AuthzLayer::new(admin_only(&issuer))),
    )
    .await;
    let problems = check_cors("axum", outside, inside, &tokens).await;
    outside_server.abort();
    inside_server.abort();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[actix_web::test]
async fn actix_cors_outside_the_middleware_answers_preflights_and_inside_they_are_decided() {
    let issuer = LocalIssuer::offline();
    let tokens = Tokens::mint(&issuer);
    let cors = || {
        actix_cors::Cors::default()
            .allowed_origin(ORIGIN)
            .allowed_methods(["GET", "DELETE"])
            .allowed_header(actix_web::http::header::AUTHORIZATION)
    };
    let authz = admin_only(&issuer);
    let outer = authz.clone();
    // `App::wrap`: the last one added runs first.
    let (outside, outside_server) = serve_actix!(move || {
        App::new()
            .wrap(CognitoAuth::new(outer.clone()))
            .wrap(cors())
            .service(web::resource("/admin/{rest:.+}").route(actix_handler("admin")))
    });
    let (inside, inside_server) = serve_actix!(move || {
        App::new()
            .wrap(cors())
            .wrap(CognitoAuth::new(authz.clone()))
            .service(web::resource("/admin/{rest:.+}").route(actix_handler("admin")))
    });
    let problems = check_cors("actix", outside, inside, &tokens).await;
    outside_server.stop(false).await;
    inside_server.stop(false).await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
