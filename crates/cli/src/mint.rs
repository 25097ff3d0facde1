//! `cognito-authz mint`: a testkit token for local development.

use crate::{Outcome, UsageError};

/// Arguments of `mint`.
#[derive(Debug, clap::Args)]
pub(crate) struct MintArgs {}

pub(crate) fn run(_args: &MintArgs) -> Result<Outcome, UsageError> {
    Err(UsageError("mint is not available yet".into()))
}
