//! `cognito-authz verify`: run every verification check on one token, in order.

use std::path::PathBuf;
use std::time::Duration;

use clap::ArgGroup;
use cognito_authz_core::jwks::{KeyFileError, KeySetError};
use cognito_authz_core::{
    AcceptedTokenUse, ConfigError, Error, FixedClock, IssuerConfig, PolicyFile, VerifiedToken,
    Verifier,
};
use serde_json::json;

use crate::input::TokenInput;
use crate::{Outcome, UsageError};

/// Arguments of `verify`.
#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("issuer_kind").required(true).args(["config", "user_pool_id", "cognito_issuer", "issuer"])))]
#[command(group(ArgGroup::new("clients").args(["client_id", "any_client"])))]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    input: TokenInput,
    /// Take the issuers from a policy file (TOML) instead of the flags below.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["client_id", "any_client", "token_use", "replica_regions", "jwks_url", "leeway", "allow_insecure_http"])]
    config: Option<PathBuf>,
    /// The Cognito user pool id, e.g. us-east-1_Example1.
    #[arg(long, value_name = "ID")]
    user_pool_id: Option<String>,
    /// A region the pool is replicated to (repeatable).
    #[arg(long = "replica-region", value_name = "R", requires = "user_pool_id")]
    replica_regions: Vec<String>,
    /// An exact issuer with Cognito rules (emulators such as cognito-local).
    #[arg(long, value_name = "URL")]
    cognito_issuer: Option<String>,
    /// A generic OIDC issuer; --client-id values are then the accepted audiences.
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
    /// An accepted app client id (repeatable).
    #[arg(long = "client-id", value_name = "ID")]
    client_id: Vec<String>,
    /// Accept any app client of the pool.
    #[arg(long)]
    any_client: bool,
    /// Which token_use to accept (Cognito issuers) [default: any].
    #[arg(long, value_name = "id|access|any")]
    token_use: Option<String>,
    /// Use this key-set file; nothing is fetched.
    #[arg(long, value_name = "F", conflicts_with = "jwks_url")]
    jwks_file: Option<PathBuf>,
    /// Fetch keys from this URL instead of the issuer's.
    #[arg(long, value_name = "URL")]
    jwks_url: Option<String>,
    /// Fetch keys over plain HTTP from a non-loopback host (a --jwks-url, or the key URL
    /// derived from an http:// --issuer/--cognito-issuer). Only on a network you control.
    #[arg(long)]
    allow_insecure_http: bool,
    /// Clock-skew leeway in seconds (default 0).
    #[arg(long, value_name = "SECS")]
    leeway: Option<u64>,
    /// Verify as if the time were this (seconds since the epoch).
    #[arg(long, value_name = "UNIX_SECS")]
    now: Option<u64>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Verify an ALB `x-amzn-oidc-data` token signed by this load balancer (ARN; repeatable),
    /// with --issuer (the identity provider's `iss`) and --client-id.
    #[arg(long = "alb", value_name = "ARN", conflicts_with_all = ["config", "user_pool_id", "cognito_issuer", "any_client", "token_use", "jwks_file", "jwks_url"])]
    alb: Vec<String>,
    /// With --alb: fetch keys from `{URL}{kid}` instead of the load balancer's region.
    #[arg(long, value_name = "URL", requires = "alb")]
    alb_key_url: Option<String>,
}

pub(crate) fn run(args: &VerifyArgs) -> Result<Outcome, UsageError> {
    let token = args.input.read()?;
    if let Some(hint) = crate::hint::token_shape(&token) {
        eprintln!("cognito-authz: hint: {hint}");
    }
    if !args.alb.is_empty() {
        let alb = crate::alb::AlbArgs {
            arns: &args.alb,
            client_ids: &args.client_id,
            issuer: args.issuer.as_deref(),
            key_url: args.alb_key_url.as_deref(),
            leeway: args.leeway,
            now: args.now,
            json: args.json,
        };
        return crate::alb::run(&alb, &token);
    }
    let issuers = issuers(args)?;
    let verifier = build_verifier(args, issuers.clone())?;
    let runtime = crate::runtime()?;
    let result = runtime.block_on(verifier.verify(&token));
    match result {
        Ok(verified) => {
            if args.json {
                let document = json!({
                    "valid": true,
                    "token_use": verified.token_use().map(|use_| use_.as_str()),
                    "issuer": verified.issuer(),
                    "kid": verified.kid(),
                    "claims": verified.payload(),
                });
                println!("{document}");
            } else {
                let kind = verified.token_use().map_or("", |use_| use_.as_str());
                println!("valid {kind} token");
                println!("  issuer:   {}", verified.issuer());
                println!("  kid:      {}", verified.kid());
                if let Some(sub) = verified.sub() {
                    println!("  sub:      {sub}");
                }
                if let Some(username) = verified.username() {
                    println!("  username: {username}");
                }
                if let Some(client) = verified.client_id() {
                    println!("  client:   {client}");
                }
                if !verified.groups().is_empty() {
                    println!("  groups:   {}", verified.groups().join(", "));
                }
                if !verified.scopes().is_empty() {
                    println!("  scopes:   {}", verified.scopes().join(" "));
                }
                print_claims(&verified)?;
            }
            Ok(Outcome::Accepted)
        }
        Err(error) => Ok(rejected(&error, args.json, || {
            crate::hint::rejection(error.kind(), &token, &issuers, args.now)
        })),
    }
}

/// Ends the text report of an accepted token (`verify` and `verify --alb`): its claims.
pub(crate) fn print_claims(verified: &VerifiedToken) -> Result<(), UsageError> {
    println!(
        "claims:\n{}",
        serde_json::to_string_pretty(&verified.payload())?
    );
    Ok(())
}

/// Reports a refused token (`verify` and `verify --alb`): one JSON object, or the code, the
/// status, the reason and the lines of `hints` (asked for only then).
pub(crate) fn rejected(error: &Error, json: bool, hints: impl FnOnce() -> Vec<String>) -> Outcome {
    if json {
        println!(
            "{}",
            json!({"valid": false, "error": error.code(), "status": error.status().as_u16()})
        );
    } else {
        println!("invalid: {} ({})", error.code(), error.status());
        println!("  reason: {}", error.detail());
        for line in hints() {
            println!("  {line}");
        }
    }
    Outcome::Rejected
}

fn build_verifier(args: &VerifyArgs, issuers: Vec<IssuerConfig>) -> Result<Verifier, UsageError> {
    let mut verifier = Verifier::builder().issuers(issuers);
    if let Some(now) = args.now {
        verifier = verifier.clock(FixedClock(Duration::from_secs(now)));
    }
    verifier
        .build()
        .map_err(|error| key_file_error(args, error))
}

/// A build error, worded for `--jwks-file` when that file (given without `--config`, so first
/// read as the verifier is built) is what failed.
fn key_file_error(args: &VerifyArgs, error: ConfigError) -> UsageError {
    let (None, Some(path)) = (&args.config, &args.jwks_file) else {
        return error.into();
    };
    let mut cause = std::error::Error::source(&error);
    while let Some(current) = cause {
        if let Some(KeyFileError::Read(read)) = current.downcast_ref::<KeyFileError>() {
            return UsageError(format!(
                "cannot read --jwks-file {}: {read}",
                path.display()
            ));
        }
        if let Some(invalid) = current.downcast_ref::<KeySetError>() {
            return UsageError(format!("--jwks-file {}: {invalid}", path.display()));
        }
        cause = current.source();
    }
    error.into()
}

/// The issuers: from `--config`, or one built from the flags.
fn issuers(args: &VerifyArgs) -> Result<Vec<IssuerConfig>, UsageError> {
    if let Some(path) = &args.config {
        return Ok(PolicyFile::load(path)?.load_key_files(args.jwks_file.as_deref())?);
    }
    if args.client_id.is_empty() && !args.any_client {
        return Err(UsageError(
            "give --client-id ID (repeatable) or --any-client to accept every client explicitly"
                .into(),
        ));
    }
    let mut builder = match (&args.user_pool_id, &args.cognito_issuer, &args.issuer) {
        (Some(pool), None, None) => {
            IssuerConfig::user_pool(pool).replica_regions(args.replica_regions.clone())
        }
        (None, Some(issuer), None) => IssuerConfig::cognito_issuer(issuer),
        (None, None, Some(issuer)) => IssuerConfig::oidc(issuer),
        _ => {
            return Err(UsageError(
                "give exactly one of --user-pool-id, --cognito-issuer, --issuer".into(),
            ));
        }
    };
    let generic = args.issuer.is_some();
    if args.any_client {
        builder = builder.any_client();
    } else if generic {
        builder = builder.audiences(args.client_id.clone());
    } else {
        builder = builder.client_ids(args.client_id.clone());
    }
    match (&args.token_use, generic) {
        (Some(token_use), _) => builder = builder.token_use(token_use.parse::<AcceptedTokenUse>()?),
        (None, false) => builder = builder.token_use(AcceptedTokenUse::Any),
        (None, true) => {}
    }
    if let Some(path) = &args.jwks_file {
        // Read once, as the verifier is built; `build_verifier` reports it as the flag's.
        builder = builder.jwks_file(path);
    } else if let Some(url) = &args.jwks_url {
        builder = builder.jwks_url(url);
    }
    builder = builder
        .leeway(Duration::from_secs(args.leeway.unwrap_or(0)))
        .allow_insecure_http(args.allow_insecure_http);
    Ok(vec![builder.build()?])
}
