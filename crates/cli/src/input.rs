//! Where a subcommand reads its token from: an argument, `--token-file`, or standard input.

use std::path::{Path, PathBuf};

use cognito_authz_core::bounded_read::{MAX_INPUT_BYTES, read_bounded, read_file_bounded};

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
            (Some(token), None) if token == "-" => read_stdin("the token from standard input")?,
            (Some(token), None) => token.clone(),
            (None, Some(path)) => read_file(path, "--token-file")?,
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

/// Reads a whole file given on the command line, at most [`MAX_INPUT_BYTES`]: a bigger file (or
/// `/dev/zero`, an endless FIFO) is a usage error naming `what`, never a truncated read.
pub(crate) fn read_file(path: &Path, what: &str) -> Result<String, UsageError> {
    let bytes = read_file_bounded(path)
        .map_err(|error| UsageError(format!("cannot read {what} {}: {error}", path.display())))?;
    String::from_utf8(bytes).map_err(|_| {
        UsageError(format!(
            "cannot read {what} {}: not UTF-8 text",
            path.display()
        ))
    })
}

/// Reads standard input to its end, with the same bound as [`read_file`].
pub(crate) fn read_stdin(what: &str) -> Result<String, UsageError> {
    let bytes = read_bounded(std::io::stdin().lock(), MAX_INPUT_BYTES)
        .map_err(|error| UsageError(format!("cannot read {what}: {error}")))?;
    String::from_utf8(bytes).map_err(|_| UsageError(format!("cannot read {what}: not UTF-8 text")))
}
