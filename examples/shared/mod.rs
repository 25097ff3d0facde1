//! What the quickstart examples share (axum's `quickstart.rs`, actix's `actix_quickstart.rs`,
//! and the parity test that builds both apps): the issuer set-up (a local Cognito-shaped issuer
//! or a real pool from the environment), loading `examples/policy.toml`, binding the port, the
//! `curl` lines printed at start-up, and the JSON each handler answers.
//!
//! Not an example target itself: examples include it with `mod shared;`, tests with
//! `#[path = "../examples/shared/mod.rs"] mod shared;`.

// Each includer uses a different part of this module, and `pub` here is for the includers.
#![allow(dead_code, unreachable_pub)]

pub mod actix_app;
pub mod axum_app;

use std::error::Error;
use std::fmt::Write as _;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use cognito_authz::{AcceptedTokenUse, Authorizer, AuthorizerBuilder, IssuerConfig};
use cognito_authz_testkit::LocalIssuer;
use serde::Deserialize;
use serde_json::{Value, json};

/// The error type of the set-up functions.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// The port used when `PORT` is not set.
pub const DEFAULT_PORT: u16 = 3000;

/// Verified tokens kept so a repeated token skips the signature check.
pub const VERIFIED_TOKEN_CACHE: usize = 10_000;

/// `examples/policy.toml`, the route table of every quickstart, found from the includer's
/// package: the repository root (examples, tests) or a folder below it (`tools/soak`).
pub fn policy_path() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|folder| folder.join("examples/policy.toml"))
        .find(|path| path.is_file())
        .unwrap_or_else(|| manifest.join("examples/policy.toml"))
}

/// The authorizer an app runs with, and the local issuer behind it when there is one (keep it
/// alive: it serves the key set the verifier fetches).
#[derive(Debug)]
pub struct Setup {
    /// Verifier + the routes of `examples/policy.toml`.
    pub authorizer: Authorizer,
    /// The local issuer, when no Cognito pool is configured.
    pub local: Option<LocalIssuer>,
}

/// With `COGNITO_USER_POOL_ID` and `COGNITO_CLIENT_ID` set, the real pool (tokens of kind
/// `COGNITO_TOKEN_USE`: `access` by default, or `id`, `any`); otherwise a local issuer on
/// 127.0.0.1. Must run inside a tokio runtime (the local issuer's key server is a task).
///
/// # Errors
/// A bad pool id, client id or token use, the pool's keys cannot be fetched, the key server
/// cannot bind, or the policy file does not load.
pub async fn setup_from_env() -> Result<Setup, BoxError> {
    let pool = std::env::var("COGNITO_USER_POOL_ID")
        .ok()
        .filter(|v| !v.is_empty());
    let client = std::env::var("COGNITO_CLIENT_ID")
        .ok()
        .filter(|v| !v.is_empty());
    match (pool, client) {
        (Some(pool_id), Some(client_id)) => {
            let token_use = std::env::var("COGNITO_TOKEN_USE").unwrap_or_default();
            let issuer = cognito_issuer(&pool_id, &client_id, &token_use)?;
            let authorizer = load_authorizer(issuer)?;
            // Fetch the pool's keys before serving, so a wrong pool id or no network is
            // reported now, as a sentence, rather than as 503s on the first requests.
            authorizer.verifier().warm_up().await.map_err(|error| {
                format!(
                    "{error}: cannot fetch the key set of pool {pool_id} (check \
                     COGNITO_USER_POOL_ID, its region prefix, and the network)"
                )
            })?;
            Ok(Setup {
                authorizer,
                local: None,
            })
        }
        (None, None) => local_setup().await,
        _ => Err("set both COGNITO_USER_POOL_ID and COGNITO_CLIENT_ID, or neither".into()),
    }
}

/// A local issuer (system clock, key server on 127.0.0.1) and an authorizer that trusts it
/// in place of the policy file's pool.
///
/// # Errors
/// The key server cannot bind, or the policy file does not load.
pub async fn local_setup() -> Result<Setup, BoxError> {
    let issuer = LocalIssuer::builder().system_clock().start().await?;
    let authorizer = load_authorizer(issuer.issuer_config(AcceptedTokenUse::Access))?;
    Ok(Setup {
        authorizer,
        local: Some(issuer),
    })
}

/// The configuration of a real Cognito pool; `token_use` is `access` (also when empty),
/// `id` or `any`.
///
/// # Errors
/// A malformed pool id, or an unknown token use.
pub fn cognito_issuer(
    pool_id: &str,
    client_id: &str,
    token_use: &str,
) -> Result<IssuerConfig, BoxError> {
    let token_use = match token_use {
        "" | "access" => AcceptedTokenUse::Access,
        "id" => AcceptedTokenUse::Id,
        "any" => AcceptedTokenUse::Any,
        other => {
            return Err(format!("COGNITO_TOKEN_USE {other:?} is not id, access or any").into());
        }
    };
    Ok(IssuerConfig::user_pool(pool_id)
        .name("main")
        .client_ids([client_id])
        .token_use(token_use)
        .build()?)
}

/// The quickstart's settings: `issuer` in place of the policy file's issuers, and a
/// verified-token cache.
pub fn authorizer_options(issuer: IssuerConfig) -> AuthorizerBuilder {
    Authorizer::builder()
        .issuers([issuer])
        .verified_token_cache(VERIFIED_TOKEN_CACHE)
}

/// Loads `examples/policy.toml` with [`authorizer_options`].
///
/// # Errors
/// The policy file does not load.
pub fn load_authorizer(issuer: IssuerConfig) -> Result<Authorizer, BoxError> {
    load_authorizer_with(authorizer_options(issuer))
}

/// Loads `examples/policy.toml` with these options (the parity test adds its manual clock
/// to [`authorizer_options`]).
///
/// # Errors
/// The policy file does not load.
pub fn load_authorizer_with(options: AuthorizerBuilder) -> Result<Authorizer, BoxError> {
    Ok(options.policy_file(policy_path()).build()?)
}

/// The port from `PORT`, or [`DEFAULT_PORT`].
///
/// # Errors
/// `PORT` is set but is not a port number.
pub fn port_from_env() -> Result<u16, BoxError> {
    match std::env::var("PORT") {
        Ok(text) if !text.is_empty() => Ok(text
            .parse()
            .map_err(|_| format!("PORT {text:?} is not a port number"))?),
        _ => Ok(DEFAULT_PORT),
    }
}

/// Binds 127.0.0.1:`port`, or an ephemeral port if that one is taken; non-blocking, ready for
/// `tokio::net::TcpListener::from_std` or actix's `HttpServer::listen`.
///
/// # Errors
/// Not even an ephemeral port can be bound.
pub fn bind(port: u16) -> io::Result<TcpListener> {
    let listener = match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
        Ok(listener) => listener,
        Err(error) if port != 0 => {
            eprintln!("port {port} is not available ({error}); using an ephemeral port");
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        }
        Err(error) => return Err(error),
    };
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// `http://127.0.0.1:PORT`.
pub fn base_url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// Freshly minted tokens for the three callers of the quickstart.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// `alice`, in group `admin`, scopes `openid` and `reports/read`.
    pub admin: String,
    /// `bob`, no groups, Cognito's default user scope.
    pub user: String,
    /// A client_credentials machine client with scope `reports/read`.
    pub machine: String,
}

/// Mints [`Tokens`] (access tokens, valid for an hour on the issuer's clock).
pub fn mint_tokens(issuer: &LocalIssuer) -> Tokens {
    Tokens {
        admin: issuer
            .access_token()
            .username("alice")
            .groups(["admin"])
            .scopes(["openid", "reports/read"])
            .claim("custom:tenant", "acme")
            .sign(),
        user: issuer.access_token().username("bob").sign(),
        machine: issuer.machine_token().scopes(["reports/read"]).sign(),
    }
}

/// One request of the quickstart tour, with the status the app answers.
#[derive(Debug, Clone)]
pub struct Check {
    /// What the line shows.
    pub description: &'static str,
    /// `GET`, `POST`, …
    pub method: &'static str,
    /// Path and query.
    pub path: &'static str,
    /// The bearer token sent, if any.
    pub token: Option<String>,
    /// The status the app answers.
    pub expected_status: u16,
}

impl Check {
    /// A ready-to-paste `curl` command against `base_url`.
    pub fn curl(&self, base_url: &str) -> String {
        let mut line = String::from("curl -i");
        if self.method != "GET" {
            let _ = write!(line, " -X {}", self.method);
        }
        if let Some(token) = &self.token {
            let _ = write!(line, " -H 'Authorization: Bearer {token}'");
        }
        let _ = write!(line, " {base_url}{}", self.path);
        line
    }
}

/// The tour: every route of `examples/policy.toml` with the right and the wrong caller.
pub fn checks(tokens: &Tokens) -> Vec<Check> {
    let check = |description, method, path, token: Option<&String>, expected_status| Check {
        description,
        method,
        path,
        token: token.cloned(),
        expected_status,
    };
    vec![
        check("public route, no token", "GET", "/health", None, 200),
        check("authenticated route, no token", "GET", "/me", None, 401),
        check(
            "authenticated route, plain user",
            "GET",
            "/me",
            Some(&tokens.user),
            200,
        ),
        check(
            "authenticated route, machine client",
            "GET",
            "/me",
            Some(&tokens.machine),
            200,
        ),
        check(
            "group admin only, plain user",
            "GET",
            "/admin/users",
            Some(&tokens.user),
            403,
        ),
        check(
            "group admin only, admin",
            "GET",
            "/admin/users",
            Some(&tokens.admin),
            200,
        ),
        check(
            "scope reports/read, plain user",
            "GET",
            "/reports/42",
            Some(&tokens.user),
            403,
        ),
        check(
            "scope reports/read, machine client",
            "GET",
            "/reports/42",
            Some(&tokens.machine),
            200,
        ),
        check(
            "scope reports/read, admin",
            "GET",
            "/reports/42",
            Some(&tokens.admin),
            200,
        ),
    ]
}

/// What every example server does first: the set-up from the environment, the listener on
/// `PORT`, and the banner with ready-to-paste `curl` lines for `framework`.
pub async fn start(framework: &str) -> Result<(Setup, TcpListener), BoxError> {
    let setup = setup_from_env().await?;
    let listener = bind(port_from_env()?)?;
    let base_url = base_url(listener.local_addr()?);
    let checks = setup
        .local
        .as_ref()
        .map(|issuer| checks(&mint_tokens(issuer)))
        .unwrap_or_default();
    println!("{}", banner(framework, &base_url, &setup, &checks));
    Ok((setup, listener))
}

/// The exit code of an example whose `run` gave `result`: a failed start-up is reported as a
/// sentence, not as `main`'s `Debug` of the error.
pub fn exit_code(example: &str, result: Result<(), BoxError>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{example}: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The start-up text: where the app listens and what to try.
pub fn banner(framework: &str, base_url: &str, setup: &Setup, checks: &[Check]) -> String {
    let mut text = format!("{framework} quickstart listening on {base_url}\n");
    match &setup.local {
        Some(issuer) => {
            let _ = writeln!(
                text,
                "issuer: local (pool {}, client {}, keys at {})\n\nTry these (expected status first):\n",
                issuer.pool_id(),
                issuer.client_id(),
                issuer.jwks_url().unwrap_or_default(),
            );
            for check in checks {
                let _ = writeln!(
                    text,
                    "# {}: {}\n{}\n",
                    check.expected_status,
                    check.description,
                    check.curl(base_url)
                );
            }
        }
        None => {
            let _ = writeln!(
                text,
                "issuer: your Cognito pool\n\n{}\n# 200\ncurl -i {base_url}/health\n# 200 with a token of your pool\ncurl -i -H \"Authorization: Bearer $TOKEN\" {base_url}/me",
                real_pool_token_help()
            );
        }
    }
    text
}

/// How to put a token of the configured pool in `$TOKEN` (the AWS CLI, a user name and
/// password); the other ways are in `docs/cognito-pool.md`.
pub fn real_pool_token_help() -> String {
    let pool = std::env::var("COGNITO_USER_POOL_ID").unwrap_or_default();
    let client = std::env::var("COGNITO_CLIENT_ID").unwrap_or_default();
    let region = pool.split('_').next().unwrap_or_default();
    let field = match std::env::var("COGNITO_TOKEN_USE").as_deref() {
        Ok("id") => "IdToken",
        _ => "AccessToken",
    };
    format!(
        "Get a token (the app client must allow USER_PASSWORD_AUTH; a client with a secret also \
         needs SECRET_HASH; hosted UI, client_credentials and curl: docs/cognito-pool.md):\n\
         TOKEN=$(aws cognito-idp initiate-auth --region {region} --auth-flow USER_PASSWORD_AUTH \\\n  \
         --client-id {client} --auth-parameters USERNAME=alice,PASSWORD='the password' \\\n  \
         --query AuthenticationResult.{field} --output text)\n"
    )
}

/// The claims the quickstart handlers read, deserialized from the verified payload (the
/// typed-claims extractors of both adapters fill it).
#[derive(Debug, Clone, Deserialize)]
pub struct AppClaims {
    /// `sub`.
    pub sub: String,
    /// `token_use`: `id` or `access`.
    pub token_use: String,
    /// `username` (access tokens) or `cognito:username` (id tokens); machine tokens have none.
    #[serde(default, alias = "cognito:username")]
    pub username: Option<String>,
    /// `cognito:groups`.
    #[serde(default, rename = "cognito:groups")]
    pub groups: Vec<String>,
    /// `scope`, space-separated.
    #[serde(default)]
    pub scope: Option<String>,
    /// `client_id` (access tokens).
    #[serde(default)]
    pub client_id: Option<String>,
    /// `aud` (id tokens).
    #[serde(default)]
    pub aud: Option<String>,
    /// A custom attribute, `custom:tenant`.
    #[serde(default, rename = "custom:tenant")]
    pub tenant: Option<String>,
}

impl AppClaims {
    /// The app client: `client_id` or `aud`.
    pub fn client(&self) -> Option<&str> {
        self.client_id.as_deref().or(self.aud.as_deref())
    }

    /// The scopes, split on spaces.
    pub fn scopes(&self) -> Vec<&str> {
        self.scope
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|scope| !scope.is_empty())
            .collect()
    }
}

/// Who is calling, as JSON: `username`, `sub`, `token_use`, `groups`, `scopes`, `client`,
/// `tenant`.
pub fn caller_json(claims: &AppClaims) -> Value {
    json!({
        "username": claims.username,
        "sub": claims.sub,
        "token_use": claims.token_use,
        "groups": claims.groups,
        "scopes": claims.scopes(),
        "client": claims.client(),
        "tenant": claims.tenant,
    })
}

/// `GET /health`: `{"status":"ok","caller":…}` (`null` without a valid token).
pub fn health_json(caller: Option<&AppClaims>) -> Value {
    json!({ "status": "ok", "caller": caller.map(caller_json) })
}

/// `/me`: the caller.
pub fn me_json(claims: &AppClaims) -> Value {
    caller_json(claims)
}

/// `/admin/{*rest}`: `{"admin":"<rest>","caller":…}`.
pub fn admin_json(rest: &str, claims: &AppClaims) -> Value {
    json!({ "admin": rest, "caller": caller_json(claims) })
}

/// `GET /reports/{id}`: `{"report":"<id>","caller":…}`.
pub fn report_json(id: &str, claims: &AppClaims) -> Value {
    json!({ "report": id, "caller": caller_json(claims) })
}
