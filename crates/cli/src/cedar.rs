//! `cognito-authz cedar …`: the Cedar entities a token stands for, and a Cedar schema from an
//! OpenAPI document; plus what `check` prints about a Cedar route's decision.

use std::path::PathBuf;

use cognito_authz_core::{Authorizer, RequestTarget, VerifiedToken};
use http::Method;
use serde_json::{Value, json};

use crate::input::TokenInput;
use crate::{Outcome, UsageError};

/// `cedar` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum CedarCommand {
    /// Verify a token and print the Cedar entities and context built from it, as Amazon
    /// Verified Permissions builds them (what its test bench takes), exit 1 if the token is
    /// invalid.
    Entities(EntitiesArgs),
    /// Print a Cedar schema (JSON) generated from an OpenAPI document, as
    /// `@cedar-policy/cedar-authorization generate-schema` writes it (SimpleRest mapping).
    Schema(SchemaArgs),
}

/// Arguments of `cedar entities`.
#[derive(Debug, clap::Args)]
pub(crate) struct EntitiesArgs {
    /// The policy file with the issuers and the `[cedar]` section.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    #[command(flatten)]
    input: TokenInput,
    /// Use this key-set file for every issuer; nothing is fetched.
    #[arg(long, value_name = "F")]
    jwks_file: Option<PathBuf>,
    /// Verify as if the time were this (seconds since the epoch).
    #[arg(long, value_name = "UNIX_SECS")]
    now: Option<u64>,
}

/// Arguments of `cedar schema`.
#[derive(Debug, clap::Args)]
pub(crate) struct SchemaArgs {
    /// The OpenAPI document (JSON).
    #[arg(long, value_name = "FILE")]
    openapi: PathBuf,
    /// The Cedar namespace of the application.
    #[arg(long, value_name = "NS")]
    namespace: String,
    /// The API's base path, to choose among several `servers` of the document.
    #[arg(long, value_name = "PATH")]
    base_path: Option<String>,
}

pub(crate) fn run(command: &CedarCommand) -> Result<Outcome, UsageError> {
    match command {
        CedarCommand::Entities(args) => entities(args),
        CedarCommand::Schema(args) => schema(args),
    }
}

fn entities(args: &EntitiesArgs) -> Result<Outcome, UsageError> {
    let token = args.input.read()?;
    let (runtime, authorizer) =
        crate::load_authorizer(&args.config, args.jwks_file.as_deref(), args.now)?;
    let Some(cedar) = authorizer.cedar() else {
        return Err(UsageError(format!(
            "{} has no [cedar] section (it names the entity types)",
            args.config.display()
        )));
    };
    match runtime.block_on(authorizer.verifier().verify(&token)) {
        Ok(verified) => {
            let document = cedar.entities_json(&verified)?;
            println!("{}", serde_json::to_string_pretty(&document)?);
            Ok(Outcome::Accepted)
        }
        Err(error) => {
            eprintln!("cognito-authz: the token is not valid: {}", error.code());
            Ok(Outcome::Rejected)
        }
    }
}

fn schema(args: &SchemaArgs) -> Result<Outcome, UsageError> {
    let text = crate::input::read_file(&args.openapi, "--openapi")?;
    let openapi: Value = serde_json::from_str(&text).map_err(|error| {
        UsageError(format!(
            "{} is not a JSON OpenAPI document: {error}",
            args.openapi.display()
        ))
    })?;
    let schema = cognito_authz_core::cedar::schema_gen::generate(
        &openapi,
        &args.namespace,
        args.base_path.as_deref(),
    )
    .map_err(UsageError)?;
    println!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(Outcome::Accepted)
}

/// What `check` reports about the Cedar routes guarding a request: for each, the action, the
/// decision, the determining policies and any errors (decided as the adapters do, with the
/// application resource: resource loaders live in the application's code).
pub(crate) fn check_details(
    runtime: &tokio::runtime::Runtime,
    authorizer: &Authorizer,
    method: &Method,
    target: RequestTarget<'_>,
    token: Option<&str>,
) -> Vec<Value> {
    let (Some(cedar), Some(token)) = (authorizer.cedar(), token) else {
        return Vec::new();
    };
    let guards: Vec<String> = authorizer
        .routes()
        .matches(method, target)
        .iter()
        .filter(|found| found.policy().uses_cedar())
        .filter_map(|found| found.pattern().map(str::to_owned))
        .collect();
    if guards.is_empty() {
        return Vec::new();
    }
    let Ok(verified) = runtime.block_on(authorizer.verifier().verify(token)) else {
        return Vec::new();
    };
    let verified: std::sync::Arc<VerifiedToken> = verified;
    guards
        .iter()
        .map(|pattern| {
            let decision = runtime.block_on(cedar.decide(
                method,
                pattern,
                target.path(),
                target.query(),
                &verified,
            ));
            json!({
                "route": pattern,
                "action": decision.action(),
                "decision": if decision.is_allowed() { "allow" } else { "deny" },
                "policies": decision.determining_policies(),
                "errors": decision.errors(),
            })
        })
        .collect()
}
