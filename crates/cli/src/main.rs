//! The `cognito-authz` command: verify Cognito tokens, explain policy decisions, decode tokens,
//! and mint local test tokens.
//!
//! Exit codes: 0 accepted/allowed, 1 rejected/denied, 2 usage or configuration error.
#![forbid(unsafe_code)]

mod alb;
#[cfg(feature = "cedar")]
mod cedar;
mod check;
mod decode;
mod hint;
mod input;
mod lint;
mod mint;
mod openapi;
mod revoke;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Verify AWS Cognito user-pool tokens and explain authorization decisions.
#[derive(Debug, Parser)]
#[command(name = "cognito-authz", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify a token: signature, issuer, times, token_use and client (exit 0 valid, 1 invalid).
    Verify(verify::VerifyArgs),
    /// Decide one request against a policy file (exit 0 allow, 1 deny).
    Check(check::CheckArgs),
    /// Policy-file tools.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Print a token's header and payload WITHOUT verifying anything.
    Decode(decode::DecodeArgs),
    /// Mint a Cognito-shaped token signed by a local test key (for development only).
    Mint(mint::MintArgs),
    /// Record a revocation (session, user sign-out, or one token) in the policy file's
    /// revocation store (exit 0 recorded, 1 store unreachable).
    Revoke(revoke::RevokeArgs),
    /// Cedar tools: the entities built from a token, a schema from an OpenAPI document.
    #[cfg(feature = "cedar")]
    #[command(subcommand)]
    Cedar(cedar::CedarCommand),
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Load a policy file, report its first error with line and column, list its routes in
    /// match order (exit 0 ok, 1 errors).
    Lint(lint::LintArgs),
    /// Write the OpenAPI 3.1 security of a policy file's routes (schemes per issuer, each
    /// route's scopes; groups and claims in `x-cognito-authz-policy`) as JSON.
    Openapi(openapi::OpenApiArgs),
}

/// What a subcommand concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Accepted or allowed.
    Accepted,
    /// Rejected or denied.
    Rejected,
}

/// A usage or configuration error (exit 2).
#[derive(Debug)]
struct UsageError(String);

impl<E: std::fmt::Display> From<E> for UsageError {
    fn from(error: E) -> Self {
        UsageError(error.to_string())
    }
}

fn main() -> ExitCode {
    // clap's own "similar subcommand" tip for `lint` is `mint`, which is never what was meant.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|first| first == "lint")
    {
        eprintln!(
            "cognito-authz: there is no `lint` command: policy files are checked with \
             `cognito-authz policy lint FILE`"
        );
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Verify(args) => verify::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Policy(PolicyCommand::Lint(args)) => lint::run(&args),
        Command::Policy(PolicyCommand::Openapi(args)) => openapi::run(&args),
        Command::Decode(args) => decode::run(&args),
        Command::Mint(args) => mint::run(&args),
        Command::Revoke(args) => revoke::run(&args),
        #[cfg(feature = "cedar")]
        Command::Cedar(command) => cedar::run(&command),
    };
    match result {
        Ok(Outcome::Accepted) => ExitCode::SUCCESS,
        Ok(Outcome::Rejected) => ExitCode::from(1),
        Err(UsageError(message)) => {
            eprintln!("cognito-authz: {message}");
            ExitCode::from(2)
        }
    }
}

/// A current-thread tokio runtime for the one async call a subcommand makes.
fn runtime() -> Result<tokio::runtime::Runtime, UsageError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| UsageError(format!("cannot start the async runtime: {error}")))
}

/// The authorizer of the policy file `config` (keys from `jwks_file` when given, time fixed at
/// `now` when given), built inside a runtime that stays for the store and fetches it starts.
fn load_authorizer(
    config: &std::path::Path,
    jwks_file: Option<&std::path::Path>,
    now: Option<u64>,
) -> Result<(tokio::runtime::Runtime, cognito_authz_core::Authorizer), UsageError> {
    let mut options = cognito_authz_core::Authorizer::builder();
    if let Some(path) = jwks_file {
        options = options.jwks_file(path);
    }
    if let Some(now) = now {
        options = options.clock(cognito_authz_core::FixedClock(
            std::time::Duration::from_secs(now),
        ));
    }
    let runtime = runtime()?;
    let authorizer = {
        let _inside = runtime.enter();
        options.policy_file(config).build()?
    };
    Ok((runtime, authorizer))
}
