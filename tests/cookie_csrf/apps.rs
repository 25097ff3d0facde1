//! The app under attack, twice: an axum app behind `AuthzLayer` and an actix-web app behind
//! `CognitoAuth`, the same routes and the same authorizer settings (a token read from the
//! `id_token` cookie), each on its own port on 127.0.0.1. Outside the authorization layer sits
//! a recorder that reports every request it saw (the headers the cross-site check reads,
//! whether the token cookie came along) and the status it got; the handlers count their runs.
//!
//! Routes:
//! - `GET /` (public): the app's own page, which sends a form `POST` or a `fetch` to
//!   `/transfer` when its URL says `?do=form` or `?do=fetch`;
//! - `GET /login` (public): sets the token cookie;
//! - `/whoami` (public, any method): who the handler was told the caller is;
//! - `/transfer` (authenticated, any method): the state-changing handler an attacker wants
//!   to reach; counts its runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cognito_authz::{AcceptedTokenUse, Authorizer, Policy, TokenSource, TokenSourceBuilder};
use cognito_authz_testkit::LocalIssuer;
use http::HeaderMap;
use serde_json::json;
use tokio::sync::mpsc;

/// The cookie the token is read from.
pub(crate) const COOKIE: &str = "id_token";

/// One request as the recorder outside the authorization layer saw it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) sec_fetch_site: Option<String>,
    pub(crate) origin: Option<String>,
    /// Whether the request carried the token cookie.
    pub(crate) cookie: bool,
    pub(crate) status: u16,
    /// Whether the response had a `WWW-Authenticate` challenge (a `cross_site_request`
    /// refusal is the only 403 without one).
    pub(crate) challenge: bool,
}

impl Seen {
    fn of(method: &str, path: &str, headers: impl Fn(&str) -> Option<String>) -> Self {
        let cookie_prefix = format!("{COOKIE}=");
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            sec_fetch_site: headers("sec-fetch-site"),
            origin: headers("origin"),
            cookie: headers("cookie").is_some_and(|cookies| {
                cookies
                    .split(';')
                    .any(|pair| pair.trim().starts_with(&cookie_prefix))
            }),
            status: 0,
            challenge: false,
        }
    }

    /// Refused by the cross-site check: 403 without a challenge.
    pub(crate) fn refused_cross_site(&self) -> bool {
        self.status == 403 && !self.challenge
    }
}

/// A running app: where it listens, what it saw, how often `/transfer` ran.
pub(crate) struct App {
    pub(crate) framework: &'static str,
    /// `http://127.0.0.1:PORT`
    pub(crate) origin: String,
    pub(crate) port: u16,
    hits: Arc<AtomicUsize>,
    seen: mpsc::UnboundedReceiver<Seen>,
    stop: Stop,
}

enum Stop {
    Axum(tokio::task::JoinHandle<()>),
    Actix(actix_web::dev::ServerHandle),
}

impl App {
    /// How often the `/transfer` handler ran.
    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// The next request the recorder saw (waiting for it, up to 30 s, for a browser to send it).
    pub(crate) async fn next_seen(&mut self) -> Seen {
        tokio::time::timeout(Duration::from_secs(30), self.seen.recv())
            .await
            .unwrap_or_else(|_| {
                panic!("{}: no request reached the app within 30 s", self.framework)
            })
            .expect("the recorder lives as long as the app")
    }

    /// The next request to `path` (skipping others, such as `/favicon.ico`).
    pub(crate) async fn next_seen_at(&mut self, path: &str) -> Seen {
        loop {
            let seen = self.next_seen().await;
            if seen.path == path {
                return seen;
            }
        }
    }

    /// Forgets what was recorded so far.
    pub(crate) fn drain(&mut self) {
        while self.seen.try_recv().is_ok() {}
    }

    pub(crate) async fn stop(self) {
        match self.stop {
            Stop::Axum(task) => task.abort(),
            Stop::Actix(handle) => handle.stop(false).await,
        }
    }
}

/// The authorizer of both apps: the local issuer's access tokens, from the `id_token` cookie
/// (plus the `Authorization` header), with the cross-site settings `configure` adds.
pub(crate) fn authorizer(
    issuer: &LocalIssuer,
    configure: impl FnOnce(TokenSourceBuilder) -> TokenSourceBuilder,
) -> Authorizer {
    let verifier = issuer
        .verifier_builder(AcceptedTokenUse::Access)
        .build()
        .expect("verifier");
    let source = configure(TokenSource::builder().cookie(COOKIE))
        .build()
        .expect("token source");
    Authorizer::builder()
        .verifier(verifier)
        .token_source(source)
        .route("/", Policy::public())
        .route("/login", Policy::public())
        .route("/whoami", Policy::public())
        .route("/transfer", Policy::authenticated())
        .build()
        .expect("authorizer")
}

/// A page with a form and a script that, on load, submits the form (`?do=form`) or sends a
/// `fetch` with the browser's cookies (`?do=fetch`) as a `POST` to `?target=URL` (default: this
/// origin's `/transfer`). The app serves it as its own page at `/`; the attacker serves it
/// from another origin.
pub(crate) const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>page</title></head>
<body>
<form id="form" method="POST"><input name="amount" value="100"></form>
<script>
const params = new URLSearchParams(location.search);
const target = params.get("target") || "/transfer";
const form = document.getElementById("form");
form.action = target;
if (params.get("do") === "form") {
  form.submit();
} else if (params.get("do") === "fetch") {
  fetch(target, { method: "POST", credentials: "include", body: "amount=100" })
    .then(() => { document.title = "sent"; }, () => { document.title = "blocked"; });
}
</script>
</body></html>"#;

/// `Set-Cookie` for the token: `SameSite=None; Secure` so the browser itself attaches it to
/// other sites' requests (what an app with a laxer cookie, or an older browser, allows), and
/// this library's check is what refuses them. Chromium treats `http://127.0.0.1` as a secure
/// context, so a `Secure` cookie can be set over plain HTTP there.
fn set_cookie(token: &str) -> String {
    format!("{COOKIE}={token}; Path=/; HttpOnly; Secure; SameSite=None")
}

fn handler_json(sub: Option<&str>) -> serde_json::Value {
    json!({ "sub": sub })
}

/// Starts the axum app on 127.0.0.1 (port chosen by the system); `make` builds its
/// authorizer, given the app's origin.
pub(crate) async fn start_axum(make: impl FnOnce(&str) -> Authorizer, token: String) -> App {
    use axum::extract::{Request, State};
    use axum::middleware::Next;
    use axum::response::{Html, IntoResponse, Response};
    use axum::routing::{any, get};
    use axum::{Json, Router};
    use cognito_authz_axum::{AuthzLayer, Claims};

    #[derive(Clone)]
    struct Shared {
        hits: Arc<AtomicUsize>,
        seen: mpsc::UnboundedSender<Seen>,
        token: Arc<str>,
    }

    async fn record(State(shared): State<Shared>, request: Request, next: Next) -> Response {
        let mut seen = Seen::of(request.method().as_str(), request.uri().path(), |name| {
            header_text(request.headers(), name)
        });
        let response = next.run(request).await;
        seen.status = response.status().as_u16();
        seen.challenge = response.headers().contains_key("www-authenticate");
        let _ = shared.seen.send(seen);
        response
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let origin = format!("http://127.0.0.1:{port}");
    let authorizer = make(&origin);
    let (sender, seen) = mpsc::unbounded_channel();
    let hits = Arc::new(AtomicUsize::new(0));
    let shared = Shared {
        hits: Arc::clone(&hits),
        seen: sender,
        token: Arc::from(token),
    };
    let router = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route(
            "/login",
            get(|State(shared): State<Shared>| async move {
                ([("set-cookie", set_cookie(&shared.token))], "signed in").into_response()
            }),
        )
        .route(
            "/whoami",
            any(|caller: Option<Claims>| async move {
                Json(handler_json(caller.as_ref().and_then(|c| c.sub.as_deref())))
            }),
        )
        .route(
            "/transfer",
            any(
                |State(shared): State<Shared>, Claims(claims): Claims| async move {
                    shared.hits.fetch_add(1, Ordering::SeqCst);
                    Json(handler_json(claims.sub.as_deref()))
                },
            ),
        )
        .layer(AuthzLayer::new(authorizer))
        .layer(axum::middleware::from_fn_with_state(shared.clone(), record))
        .with_state(shared);
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.expect("axum serves");
    });
    App {
        framework: "axum",
        origin,
        port,
        hits,
        seen,
        stop: Stop::Axum(task),
    }
}

/// Starts the actix-web app on 127.0.0.1 (port chosen by the system); `make` builds its
/// authorizer, given the app's origin. Must run on an actix system (`#[actix_web::test]`).
pub(crate) fn start_actix(make: impl FnOnce(&str) -> Authorizer, token: String) -> App {
    use actix_web::dev::Service as _;
    use actix_web::{HttpResponse, web};
    use cognito_authz_actix::{Claims, CognitoAuth};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let origin = format!("http://127.0.0.1:{port}");
    let authorizer = make(&origin);
    let (sender, seen) = mpsc::unbounded_channel();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let token: Arc<str> = Arc::from(token);
    let handle = crate::serve::spawn_actix!(listener, move || {
        let sender = sender.clone();
        let counter = Arc::clone(&counter);
        let token = Arc::clone(&token);
        actix_web::App::new()
            .route(
                "/",
                web::get().to(|| async {
                    HttpResponse::Ok()
                        .content_type("text/html; charset=utf-8")
                        .body(PAGE)
                }),
            )
            .route(
                "/login",
                web::get().to(move || {
                    let cookie = set_cookie(&token);
                    async move {
                        HttpResponse::Ok()
                            .insert_header(("set-cookie", cookie))
                            .body("signed in")
                    }
                }),
            )
            .route(
                "/whoami",
                web::route().to(|caller: Option<Claims>| async move {
                    HttpResponse::Ok()
                        .json(handler_json(caller.as_ref().and_then(|c| c.sub.as_deref())))
                }),
            )
            .route(
                "/transfer",
                web::route().to(move |Claims(claims): Claims| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async move { HttpResponse::Ok().json(handler_json(claims.sub.as_deref())) }
                }),
            )
            .wrap(CognitoAuth::new(authorizer.clone()))
            .wrap_fn(move |request, service| {
                let mut seen = Seen::of(request.method().as_str(), request.path(), |name| {
                    request
                        .headers()
                        .get(name)
                        .and_then(|value| value.to_str().ok())
                        .map(str::to_owned)
                });
                let sender = sender.clone();
                let answer = service.call(request);
                async move {
                    let response = answer.await?;
                    seen.status = response.status().as_u16();
                    seen.challenge = response.headers().contains_key("www-authenticate");
                    let _ = sender.send(seen);
                    Ok(response)
                }
            })
    });
    App {
        framework: "actix",
        origin,
        port,
        hits,
        seen,
        stop: Stop::Actix(handle),
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}
