//! `cognito-authz check`: the whole decision for one request against a policy file — route,
//! policy, verification and the status an adapter would answer with.

use std::path::PathBuf;

use cognito_authz_core::{Authorizer, Decision, RequestTarget};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::json;

use crate::input::TokenInput;
use crate::{Outcome, UsageError};

/// Arguments of `check`.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// The policy file (TOML).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The request method, e.g. GET.
    #[arg(long, value_name = "M")]
    method: String,
    /// The request path, e.g. /reports/42 (a `?query` is passed on to Cedar routes).
    #[arg(long, value_name = "P")]
    path: String,
    #[command(flatten)]
    input: TokenInput,
    /// A request header, `Name: value`; repeat for more (the same name twice sends it twice).
    /// E.g. `--header "Cookie: id_token=$TOKEN" --header "Sec-Fetch-Site: cross-site"`.
    #[arg(long = "header", short = 'H', value_name = "'NAME: VALUE'")]
    headers: Vec<String>,
    /// Use this key-set file for every issuer; nothing is fetched.
    #[arg(long, value_name = "F")]
    jwks_file: Option<PathBuf>,
    /// Decide as if the time were this (seconds since the epoch).
    #[arg(long, value_name = "UNIX_SECS")]
    now: Option<u64>,
    /// Decide as the adapter for this framework does: `axum` (also tower, tonic, hyper,
    /// lambda_http: the most specific route guards) or `actix` (every route whose pattern
    /// matches guards, as actix-web tries resources in registration order).
    #[arg(long, value_enum, default_value = "axum")]
    router: Router,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// The framework whose routing `check` follows.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Router {
    /// axum, tower, tonic, hyper, lambda_http.
    Axum,
    /// actix-web.
    Actix,
}

pub(crate) fn run(args: &CheckArgs) -> Result<Outcome, UsageError> {
    let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| UsageError(format!("--method {:?} is not an HTTP method", args.method)))?;
    if !args.path.starts_with('/') {
        return Err(UsageError(format!(
            "--path {:?} must start with /",
            args.path
        )));
    }
    let token = if args.input.token.is_some() || args.input.token_file.is_some() {
        Some(args.input.read()?)
    } else {
        None
    };
    if let Some(hint) = token.as_deref().and_then(crate::hint::token_shape) {
        eprintln!("cognito-authz: hint: {hint}");
    }
    // A Redis revocation store follows Redis on this runtime.
    let (runtime, authorizer) =
        crate::load_authorizer(&args.config, args.jwks_file.as_deref(), args.now)?;
    crate::revoke::await_store(&runtime, &authorizer);
    let mut headers = request_headers(&authorizer, token.as_deref())?;
    for header in &args.headers {
        let (name, value) = parse_header(header)?;
        headers.append(name, value);
    }
    let (path, query) = match args.path.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (args.path.as_str(), None),
    };
    let actix_routed = actix_routed_path(path);
    let target = match args.router {
        Router::Axum => RequestTarget::new(path),
        // actix routes on its own decoding of the path; the adapter passes both.
        Router::Actix => RequestTarget::actix(&actix_routed, path),
    }
    .with_query(query);
    let routes = authorizer.routes();
    let guards = routes.matches(&method, target);
    let guards: Vec<(Option<String>, String)> = guards
        .iter()
        .map(|found| {
            (
                found.pattern().map(str::to_owned),
                found.policy().text().to_owned(),
            )
        })
        .collect();
    let decision = runtime.block_on(authorizer.authorize(&method, target, &headers));
    let (mut route, mut policy) = guards[0].clone();
    let (status, error, reason) = match &decision {
        Decision::Allow { token } => {
            let reason = match token {
                Some(token) => format!("policy satisfied by {}", describe(token)),
                None => "public route".to_owned(),
            };
            (200, None, reason)
        }
        Decision::Deny(denial) => {
            route = denial.route().map(str::to_owned);
            policy = denial.policy().to_owned();
            (
                denial.status().as_u16(),
                Some(denial.code()),
                denial.reason().to_owned(),
            )
        }
    };
    #[cfg(feature = "cedar")]
    let cedar =
        crate::cedar::check_details(&runtime, &authorizer, &method, target, token.as_deref());
    #[cfg(not(feature = "cedar"))]
    let cedar: Vec<serde_json::Value> = Vec::new();
    if args.json {
        let mut document = json!({
            "decision": if decision.is_allowed() { "allow" } else { "deny" },
            "status": status,
            "error": error,
            "route": route,
            "policy": policy,
            "reason": reason,
        });
        if !cedar.is_empty() {
            document["cedar"] = serde_json::Value::Array(cedar);
        }
        println!("{document}");
    } else {
        let verdict = if decision.is_allowed() {
            "allow"
        } else {
            "deny"
        };
        println!("{verdict} ({status}) {method} {}", args.path);
        println!(
            "  route:  {}",
            route.as_deref().unwrap_or("(no route: defaults.unmatched)")
        );
        println!("  policy: {policy}");
        for (other, other_policy) in guards.iter().filter(|(r, p)| (r, p) != (&route, &policy)) {
            println!(
                "  also:   {} -> {other_policy} (another spelling of the path, or a route the framework may dispatch to)",
                other.as_deref().unwrap_or("(no route: defaults.unmatched)")
            );
        }
        if let Some(code) = error {
            println!("  error:  {code}");
        }
        println!("  reason: {reason}");
        for route in &cedar {
            println!(
                "  cedar:  {} {} -> {} (determining: {}{})",
                route["route"].as_str().unwrap_or_default(),
                route["action"],
                route["decision"].as_str().unwrap_or_default(),
                route["policies"],
                match route["errors"].as_array() {
                    Some(errors) if !errors.is_empty() => format!("; errors: {}", route["errors"]),
                    _ => String::new(),
                }
            );
        }
        if let (Decision::Deny(denial), Some(token)) = (&decision, &token) {
            let issuers = cognito_authz_core::PolicyFile::load(&args.config)
                .map(|file| file.issuers().to_vec())
                .unwrap_or_default();
            for line in crate::hint::rejection(denial.kind(), token, &issuers, args.now) {
                println!("  {line}");
            }
        }
    }
    Ok(if decision.is_allowed() {
        Outcome::Accepted
    } else {
        Outcome::Rejected
    })
}

/// The path actix-web routes on for `raw`: every `%XX` decoded except `%25`, `%2F` and `%2B`
/// (bytes that are not UTF-8 after decoding become U+FFFD), as its router's quoter does.
fn actix_routed_path(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let decoded = (bytes[index] == b'%')
            .then(|| raw.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .filter(|byte| !matches!(byte, b'%' | b'/' | b'+'));
        match decoded {
            Some(byte) => {
                out.push(byte);
                index += 3;
            }
            None => {
                out.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Puts the token where the policy file's token source reads it: its header (as
/// `Bearer <token>` for `Authorization`, raw otherwise), or its cookie when only a cookie… the
/// header is always configured, so the header it is.
fn request_headers(authorizer: &Authorizer, token: Option<&str>) -> Result<HeaderMap, UsageError> {
    let mut headers = HeaderMap::new();
    let Some(token) = token.filter(|token| !token.is_empty()) else {
        return Ok(headers);
    };
    let name = authorizer.token_source().header_name().clone();
    let value = if name == http::header::AUTHORIZATION {
        format!("Bearer {token}")
    } else {
        token.to_owned()
    };
    let value = HeaderValue::from_str(&value)
        .map_err(|_| UsageError("the token contains characters a header cannot carry".into()))?;
    headers.insert(name, value);
    Ok(headers)
}

/// `Name: value` as a header (the value trimmed of surrounding blanks, as HTTP parsers do).
fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue), UsageError> {
    let usage = || UsageError(format!("--header {text:?} is not 'Name: value'"));
    let (name, value) = text.split_once(':').ok_or_else(usage)?;
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| usage())?;
    let value = HeaderValue::from_str(value.trim()).map_err(|_| usage())?;
    Ok((name, value))
}

fn describe(token: &cognito_authz_core::VerifiedToken) -> String {
    let who = token.username().or(token.sub()).unwrap_or("a token");
    match token.token_use() {
        Some(kind) => format!("{who} ({kind} token)"),
        None => who.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::actix_routed_path;

    #[test]
    fn actix_decodes_all_but_percent_slash_and_plus() {
        assert_eq!(actix_routed_path("/%61dmin/users"), "/admin/users");
        assert_eq!(
            actix_routed_path("/a%2Fb%2fc%25d%2Be"),
            "/a%2Fb%2fc%25d%2Be"
        );
        assert_eq!(actix_routed_path("/%zz/%4"), "/%zz/%4");
        assert_eq!(actix_routed_path("/%ff"), "/\u{fffd}");
    }
}
