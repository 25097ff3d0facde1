//! `cognito-authz decode TOKEN`: header and payload, no verification.

use serde_json::json;

use crate::input::TokenInput;
use crate::{Outcome, UsageError};

/// Arguments of `decode`.
#[derive(Debug, clap::Args)]
pub(crate) struct DecodeArgs {
    #[command(flatten)]
    input: TokenInput,
}

pub(crate) fn run(args: &DecodeArgs) -> Result<Outcome, UsageError> {
    let token = args.input.read()?;
    if let Some(hint) = crate::hint::token_shape(&token) {
        eprintln!("cognito-authz: hint: {hint}");
    }
    eprintln!("cognito-authz: decoded WITHOUT verification: nothing below is trusted");
    match cognito_authz_core::dangerous::decode_unverified(&token) {
        Ok((header, payload)) => {
            let document = json!({ "header": header, "payload": payload });
            println!("{}", serde_json::to_string_pretty(&document)?);
            Ok(Outcome::Accepted)
        }
        Err(error) => {
            eprintln!(
                "cognito-authz: cannot decode: {} ({})",
                error.code(),
                error.detail()
            );
            Ok(Outcome::Rejected)
        }
    }
}
