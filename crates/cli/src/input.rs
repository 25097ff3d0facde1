//! Where a subcommand reads its token from: an argument, `--token-file`, or standard input.

use std::io::Read as _;
use std::path::PathBuf;

use crate::UsageError;

/// The token arguments shared by `verify` and `check`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct TokenInput {
    /// The token, or `-` to read it from standard input.
    #[arg(value_name = "TOKEN")]
    pub(crate) token: Option<String>,
    /// Read the token from a file.
    #[arg(long, value_name = "F", conflicts_with = "token")]
    pub(crate) token_file: Option<PathBuf>,
}

impl TokenInput {
    /// The token, trimmed of surrounding whitespace (nothing else: no `Bearer ` stripping).
    pub(crate) fn read(&self) -> Result<String, UsageError> {
        let raw = match (&self.token, &self.token_file) {
            (Some(token), None) if token == "-" => {
                let mut text = String::new();
                std::io::stdin()
                    .take(1 << 20)
                    .read_to_string(&mut text)
                    .map_err(|error| {
                        UsageError(format!(
                            "cannot read the token from standard input: {error}"
                        ))
                    })?;
                text
            }
            (Some(token), None) => token.clone(),
            (None, Some(path)) => std::fs::read_to_string(path).map_err(|error| {
                UsageError(format!(
                    "cannot read --token-file {}: {error}",
                    path.display()
                ))
            })?,
            (None, None) => {
                return Err(UsageError(
                    "no token given: pass TOKEN, --token-file F, or - for standard input".into(),
                ));
            }
            (Some(_), Some(_)) => {
                return Err(UsageError("give TOKEN or --token-file, not both".into()));
            }
        };
        Ok(raw.trim().to_owned())
    }
}
