//! `cognito-authz revoke`: records a revocation in the store a policy file's `[revocation]`
//! section names, so every instance following that store refuses the tokens it matches.

use std::path::PathBuf;
use std::time::Duration;

use cognito_authz_core::revocation::{Revocation, RevocationStore, StoreLocation};
use cognito_authz_core::{Authorizer, FixedClock, PolicyFile, SharedClock, SystemClock};

use crate::{Outcome, UsageError};

/// Arguments of `revoke`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["session", "user", "token"])))]
pub(crate) struct RevokeArgs {
    /// Revoke a session: every token with this `origin_jti` (what Cognito's RevokeToken does).
    #[arg(long, value_name = "ORIGIN_JTI")]
    session: Option<String>,
    /// Revoke a user's tokens issued at or before `--before` (a global sign-out).
    #[arg(long, value_name = "SUB", requires = "before")]
    user: Option<String>,
    /// The sign-out time for `--user`: seconds since the epoch, or `now`.
    #[arg(long, value_name = "T")]
    before: Option<String>,
    /// The user's issuer (`iss`) for `--user`; default: the policy file's only issuer.
    #[arg(long, value_name = "ISS", requires = "user")]
    issuer: Option<String>,
    /// Revoke one token by its `jti`.
    #[arg(long, value_name = "JTI")]
    token: Option<String>,
    /// The policy file whose `[revocation]` section names the store.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Act as if the time were this (seconds since the epoch).
    #[arg(long, value_name = "UNIX_SECS")]
    now: Option<u64>,
}

pub(crate) fn run(args: &RevokeArgs) -> Result<Outcome, UsageError> {
    let file = PolicyFile::load(&args.config)?;
    let Some(config) = file.revocation() else {
        return Err(UsageError(format!(
            "{}: no [revocation] section: nothing to record a revocation in",
            args.config.display()
        )));
    };
    if *config.store() == StoreLocation::Memory {
        return Err(UsageError(
            "the [revocation] store is \"memory\": it lives inside each process, so a \
             revocation recorded here would reach no one; use a redis:// store"
                .to_owned(),
        ));
    }
    let clock = match args.now {
        Some(now) => SharedClock::new(FixedClock(Duration::from_secs(now))),
        None => SharedClock::new(SystemClock),
    };
    let revocation = revocation(args, &file, &clock)?;
    let what = describe(&revocation);
    let runtime = crate::runtime()?;
    let store: RevocationStore = {
        let _inside = runtime.enter();
        config.build(clock)?
    };
    match runtime.block_on(store.revoke(revocation)) {
        Ok(()) => {
            println!("revoked {what}");
            Ok(Outcome::Accepted)
        }
        Err(error) => {
            eprintln!("cognito-authz: {what} NOT revoked: {error}");
            Ok(Outcome::Rejected)
        }
    }
}

fn revocation(
    args: &RevokeArgs,
    file: &PolicyFile,
    clock: &SharedClock,
) -> Result<Revocation, UsageError> {
    if let Some(origin_jti) = &args.session {
        return Ok(Revocation::session(origin_jti));
    }
    if let Some(jti) = &args.token {
        return Ok(Revocation::token(jti));
    }
    let sub = args.user.as_deref().unwrap_or_default();
    let before = args.before.as_deref().unwrap_or_default();
    let cutoff = if before == "now" {
        clock.now().as_secs()
    } else {
        before.parse::<u64>().map_err(|_| {
            UsageError(format!(
                "--before {before:?} must be seconds since the epoch or \"now\""
            ))
        })?
    };
    let issuer = match &args.issuer {
        Some(issuer) => issuer.clone(),
        None => match file.issuers() {
            [only] => only.issuers().into_iter().next().ok_or_else(|| {
                UsageError("the policy file's issuer has no iss; pass --issuer".to_owned())
            })?,
            _ => {
                return Err(UsageError(
                    "the policy file has several issuers: say which with --issuer ISS".to_owned(),
                ));
            }
        },
    };
    Ok(Revocation::user(issuer, sub, cutoff))
}

fn describe(revocation: &Revocation) -> String {
    match revocation {
        Revocation::Session { origin_jti, .. } => format!("session {origin_jti}"),
        Revocation::Token { jti, .. } => format!("token {jti}"),
        Revocation::User {
            issuer,
            sub,
            cutoff,
            ..
        } => format!("user {sub} of {issuer}: tokens issued at or before {cutoff}"),
        _ => "revocation".to_owned(),
    }
}

/// Lets `check` decide with the policy file's revocation store as an instance would: waits
/// (boundedly) until a shared store's replica has synchronised; if it cannot, the decision
/// follows the store's stale rule, as an instance starting with its store down does.
pub(crate) fn await_store(runtime: &tokio::runtime::Runtime, authorizer: &Authorizer) {
    if let Some(store) = authorizer.verifier().revocation() {
        let _ = runtime.block_on(store.wait_until_connected(Duration::from_secs(5)));
    }
}
