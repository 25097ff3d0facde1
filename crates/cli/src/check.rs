//! `cognito-authz check`: the whole decision for one request against a policy file — route,
//! policy, verification and the status an adapter would answer with.

use std::path::PathBuf;
use std::time::Duration;

use cognito_authz_core::{Authorizer, AuthorizerOptions, Decision, FixedClock};
use http::{HeaderMap, HeaderValue, Method};
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
    /// The request path, e.g. /reports/42.
    #[arg(long, value_name = "P")]
    path: String,
    #[command(flatten)]
    input: TokenInput,
    /// Use this key-set file for every issuer; nothing is fetched.
    #[arg(long, value_name = "F")]
    jwks_file: Option<PathBuf>,
    /// Decide as if the time were this (seconds since the epoch).
    #[arg(long, value_name = "UNIX_SECS")]
    now: Option<u64>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
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
    let mut options = AuthorizerOptions::new();
    if let Some(path) = &args.jwks_file {
        options = options.jwks_file(path);
    }
    if let Some(now) = args.now {
        options = options.clock(FixedClock(Duration::from_secs(now)));
    }
    let authorizer = Authorizer::from_file_with(&args.config, options)?;
    let headers = request_headers(&authorizer, token.as_deref())?;
    let found = authorizer.routes().lookup(&method, &args.path);
    let route = found.pattern().map(str::to_owned);
    let policy = found.policy().text().to_owned();
    let decision = crate::runtime()?.block_on(authorizer.authorize(&method, &args.path, &headers));
    let (status, error, reason) = match &decision {
        Decision::Allow { token } => {
            let reason = match token {
                _ if found.policy().is_public() => "public route".to_owned(),
                Some(token) => format!("policy satisfied by {}", describe(token)),
                None => "CORS preflight passed through".to_owned(),
            };
            (200, None, reason)
        }
        Decision::Deny(denial) => (
            denial.status(),
            Some(denial.code()),
            denial.reason().to_owned(),
        ),
    };
    if args.json {
        let document = json!({
            "decision": if decision.is_allowed() { "allow" } else { "deny" },
            "status": status,
            "error": error,
            "route": route,
            "policy": policy,
            "reason": reason,
        });
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
        if let Some(code) = error {
            println!("  error:  {code}");
        }
        println!("  reason: {reason}");
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

fn describe(token: &cognito_authz_core::VerifiedToken) -> String {
    let who = token.username().or(token.sub()).unwrap_or("a token");
    match token.token_use() {
        Some(kind) => format!("{who} ({kind} token)"),
        None => who.to_owned(),
    }
}
