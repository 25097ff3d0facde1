//! `cognito-authz mint`: a Cognito-shaped token signed by a local test key, for development.
//!
//! The key lives in a PKCS#8 file (created on first use) so tokens minted across runs verify
//! against the same key set; `--jwks-out` writes that key set for `verify --jwks-file`. Unless
//! `--key-file` says where, that file is in the user's cache folder
//! (`$XDG_CACHE_HOME/cognito-authz/`, else `~/.cache/cognito-authz/`), never the current
//! folder, where a private key could end up committed.

use std::path::{Path, PathBuf};

use cognito_authz_testkit::{LocalIssuer, ManualClock, SigningKey, TokenKind};
use serde_json::Value;

use crate::{Outcome, UsageError};

/// Arguments of `mint`.
#[derive(Debug, clap::Args)]
pub(crate) struct MintArgs {
    /// The user pool id the token claims to come from (the default is the README's and
    /// examples/policy.toml's example pool).
    #[arg(long, value_name = "ID", default_value = EXAMPLE_POOL_ID)]
    user_pool_id: String,
    /// The app client id (aud of id tokens, client_id of access tokens).
    #[arg(long, value_name = "ID", default_value = EXAMPLE_CLIENT_ID)]
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
    /// Any claim as NAME=JSON, e.g. 'custom:tenant="blue"' (a string keeps its JSON quotes,
    /// so quote the whole argument for the shell) or exp=1700000000; repeatable.
    #[arg(long = "claim", value_name = "NAME=JSON")]
    claims: Vec<String>,
    /// Lifetime in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    lifetime: u64,
    /// Mint as if the time were this (seconds since the epoch).
    #[arg(long, value_name = "UNIX_SECS")]
    now: Option<u64>,
    /// The signing key (RSA, PKCS#8 or PKCS#1 DER); created (PKCS#8, owner-only) if missing.
    /// Default: dev-signing-key.der in $XDG_CACHE_HOME/cognito-authz (else
    /// ~/.cache/cognito-authz).
    #[arg(long, value_name = "F")]
    key_file: Option<PathBuf>,
    /// The kid of a newly created key.
    #[arg(long, value_name = "KID", default_value = "local-dev-key")]
    kid: String,
    /// Also write the key set (JWKS) that verifies the token to this file.
    #[arg(long, value_name = "F")]
    jwks_out: Option<PathBuf>,
}

/// The pool id of the README's and `examples/policy.toml`'s examples, so `mint` then
/// `verify`/`check` against those files works with no flags.
const EXAMPLE_POOL_ID: &str = "us-east-1_Example1";

/// The app client id of the same examples.
const EXAMPLE_CLIENT_ID: &str = "1example23456789";

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
        let value: Value = serde_json::from_str(json).map_err(|error| {
            UsageError(format!(
                "--claim {name}: value is not JSON ({error}); a string needs JSON quotes, \
                 quoted again for the shell: --claim '{name}=\"{json}\"'"
            ))
        })?;
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
    let path = match &args.key_file {
        Some(path) => path.clone(),
        None => default_key_file(&|name| std::env::var_os(name))?,
    };
    match cognito_authz_core::bounded_read::read_file_bounded(&path) {
        Ok(der) => {
            let key = SigningKey::from_der(&args.kid, &der)
                .map_err(|error| UsageError(format!("--key-file {}: {error}", path.display())))?;
            eprintln!("cognito-authz: signed with the key in {}", path.display());
            Ok(key)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let key = SigningKey::generate(&args.kid);
            if let (None, Some(folder)) = (&args.key_file, path.parent()) {
                create_private_dir(folder).map_err(|error| {
                    UsageError(format!(
                        "cannot create {} for the signing key: {error}; pass --key-file F",
                        folder.display()
                    ))
                })?;
            }
            write_private(&path, &key.to_pkcs8_der()).map_err(|error| {
                UsageError(format!(
                    "cannot write --key-file {}: {error}",
                    path.display()
                ))
            })?;
            eprintln!(
                "cognito-authz: created a signing key in {} (owner-only; delete it to start over)",
                path.display()
            );
            Ok(key)
        }
        Err(error) => Err(UsageError(format!(
            "cannot read --key-file {}: {error}",
            path.display()
        ))),
    }
}

/// Where the signing key lives without `--key-file`: the per-user cache folder. `env` reads an
/// environment variable (a parameter so the rule is testable without touching the process's).
fn default_key_file(
    env: &dyn Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<PathBuf, UsageError> {
    let absolute = |name: &str| {
        env(name)
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    let cache = absolute("XDG_CACHE_HOME")
        .or_else(|| absolute("LOCALAPPDATA"))
        .or_else(|| absolute("HOME").map(|home| home.join(".cache")))
        .ok_or_else(|| {
            UsageError(
                "no cache folder for the signing key ($XDG_CACHE_HOME and $HOME are unset): \
                 pass --key-file F"
                    .into(),
            )
        })?;
    Ok(cache.join("cognito-authz").join("dev-signing-key.der"))
}

/// Creates a folder (and its parents) that only its owner can enter.
fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
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

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;

    fn key_file_with(vars: &[(&str, &str)]) -> Result<PathBuf, UsageError> {
        default_key_file(&|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| OsString::from(value))
        })
    }

    #[test]
    fn the_default_key_file_is_in_the_user_cache_folder_never_the_current_one() {
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>);
        let cases: &[Case<'_>] = &[
            (
                &[("XDG_CACHE_HOME", "/c"), ("HOME", "/h")],
                Some("/c/cognito-authz/dev-signing-key.der"),
            ),
            (
                &[("HOME", "/h")],
                Some("/h/.cache/cognito-authz/dev-signing-key.der"),
            ),
            // A relative setting would put the key under the current folder: ignored.
            (
                &[("XDG_CACHE_HOME", "cache"), ("HOME", "/h")],
                Some("/h/.cache/cognito-authz/dev-signing-key.der"),
            ),
            (&[("XDG_CACHE_HOME", ""), ("HOME", "")], None),
            (&[], None),
        ];
        for (vars, expected) in cases {
            match (key_file_with(vars), expected) {
                (Ok(path), Some(expected)) => assert_eq!(path, Path::new(expected), "{vars:?}"),
                (Err(UsageError(message)), None) => {
                    assert!(message.contains("--key-file"), "{message}");
                }
                (other, _) => panic!("{vars:?}: {other:?}"),
            }
        }
    }
}
