//! `cognito-authz mint`: a Cognito-shaped token signed by a local test key, for development.
//!
//! The key lives in a PKCS#8 file (created on first use) so tokens minted across runs verify
//! against the same key set; `--jwks-out` writes that key set for `verify --jwks-file`.

use std::path::PathBuf;

use cognito_authz_testkit::{LocalIssuer, ManualClock, SigningKey, TokenKind};
use serde_json::Value;

use crate::{Outcome, UsageError};

/// Arguments of `mint`.
#[derive(Debug, clap::Args)]
pub(crate) struct MintArgs {
    /// The user pool id the token claims to come from.
    #[arg(long, value_name = "ID", default_value = cognito_authz_testkit::DEFAULT_POOL_ID)]
    user_pool_id: String,
    /// The app client id (aud of id tokens, client_id of access tokens).
    #[arg(long, value_name = "ID", default_value = cognito_authz_testkit::DEFAULT_CLIENT_ID)]
    client_id: String,
    /// Which token: id, access, or machine (client_credentials access token).
    #[arg(long, value_name = "id|access|machine", default_value = "access")]
    kind: String,
    /// The user name (cognito:username / username).
    #[arg(long, value_name = "NAME")]
    username: Option<String>,
    /// A group for cognito:groups (repeatable).
    #[arg(long = "group", value_name = "GROUP")]
    groups: Vec<String>,
    /// A scope for the scope claim (repeatable).
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// Any claim as NAME=JSON (e.g. custom:tenant="\"blue\"" or exp=1700000000); repeatable.
    #[arg(long = "claim", value_name = "NAME=JSON")]
    claims: Vec<String>,
    /// Lifetime in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    lifetime: u64,
    /// Mint as if the time were this (seconds since the epoch).
    #[arg(long, value_name = "UNIX_SECS")]
    now: Option<u64>,
    /// The signing key (RSA, PKCS#8 or PKCS#1 DER); created (PKCS#8) if missing.
    #[arg(long, value_name = "F", default_value = "cognito-authz-dev.key")]
    key_file: PathBuf,
    /// The kid of a newly created key.
    #[arg(long, value_name = "KID", default_value = "local-dev-key")]
    kid: String,
    /// Also write the key set (JWKS) that verifies the token to this file.
    #[arg(long, value_name = "F")]
    jwks_out: Option<PathBuf>,
}

pub(crate) fn run(args: &MintArgs) -> Result<Outcome, UsageError> {
    let kind = match args.kind.as_str() {
        "id" => TokenKind::Id,
        "access" => TokenKind::Access,
        "machine" => TokenKind::Machine,
        other => {
            return Err(UsageError(format!(
                "--kind must be id, access or machine, not {other:?}"
            )));
        }
    };
    let key = load_or_create_key(args)?;
    let mut builder = LocalIssuer::builder()
        .pool_id(&args.user_pool_id)
        .client_id(&args.client_id)
        .signing_key(key);
    builder = match args.now {
        Some(now) => builder.clock(ManualClock::at(now)),
        None => builder.system_clock(),
    };
    let issuer = builder.offline()?;
    let mut token = issuer
        .token(kind)
        .lifetime(std::time::Duration::from_secs(args.lifetime));
    if let Some(username) = &args.username {
        token = token.username(username);
    }
    if !args.groups.is_empty() {
        token = token.groups(args.groups.clone());
    }
    if !args.scopes.is_empty() {
        token = token.scopes(args.scopes.clone());
    }
    for claim in &args.claims {
        let (name, json) = claim
            .split_once('=')
            .ok_or_else(|| UsageError(format!("--claim {claim:?} is not NAME=JSON")))?;
        let value: Value = serde_json::from_str(json)
            .map_err(|error| UsageError(format!("--claim {name}: value is not JSON ({error})")))?;
        token = token.claim(name, value);
    }
    if let Some(path) = &args.jwks_out {
        std::fs::write(path, issuer.jwks_json()).map_err(|error| {
            UsageError(format!(
                "cannot write --jwks-out {}: {error}",
                path.display()
            ))
        })?;
        eprintln!("cognito-authz: key set written to {}", path.display());
    }
    eprintln!("cognito-authz: test token signed by a local key; it is NOT valid for a real pool");
    println!("{}", token.sign());
    Ok(Outcome::Accepted)
}

fn load_or_create_key(args: &MintArgs) -> Result<SigningKey, UsageError> {
    match cognito_authz_core::bounded_read::read_file_bounded(&args.key_file) {
        Ok(der) => SigningKey::from_der(&args.kid, &der).map_err(|error| {
            UsageError(format!("--key-file {}: {error}", args.key_file.display()))
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let key = SigningKey::generate(&args.kid);
            write_private(&args.key_file, &key.to_pkcs8_der()).map_err(|error| {
                UsageError(format!(
                    "cannot write --key-file {}: {error}",
                    args.key_file.display()
                ))
            })?;
            eprintln!(
                "cognito-authz: created signing key {}",
                args.key_file.display()
            );
            Ok(key)
        }
        Err(error) => Err(UsageError(format!(
            "cannot read --key-file {}: {error}",
            args.key_file.display()
        ))),
    }
}

/// Writes a private key readable by its owner only.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}
