//! `cognito-authz policy openapi FILE`: the OpenAPI 3.1 security of a policy file's routes —
//! a security scheme per issuer and each route's requirement — as a JSON document.

use std::path::PathBuf;

use cognito_authz_core::{OpenApiSecurity, PolicyFile, SchemeStyle};

use crate::{Outcome, UsageError};

/// How the document presents tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Style {
    /// OpenID Connect discovery at each issuer (the pool's own URLs).
    Oidc,
    /// OAuth 2.0 flows at the Cognito domain given with `--domain`.
    Oauth2,
    /// An HTTP bearer JWT, no discovery.
    Bearer,
}

/// Arguments of `policy openapi`.
#[derive(Debug, clap::Args)]
pub(crate) struct OpenApiArgs {
    /// The policy file (TOML).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// How tokens are presented in the security schemes.
    #[arg(long, value_enum, default_value = "oidc")]
    style: Style,
    /// The Cognito domain for `--style oauth2`
    /// (`https://<prefix>.auth.<region>.amazoncognito.com` or a custom domain).
    #[arg(long, value_name = "URL")]
    domain: Option<String>,
    /// The document's `info.title`.
    #[arg(long, default_value = "API")]
    title: String,
    /// The document's `info.version`.
    #[arg(long = "api-version", value_name = "VERSION", default_value = "1.0.0")]
    api_version: String,
    /// Write the document to this file instead of standard output.
    #[arg(long, short, value_name = "OUT")]
    output: Option<PathBuf>,
}

/// Exit 0 with the document written, 1 when the file has an error (printed as
/// `file:line:column: message`), 2 for bad arguments.
pub(crate) fn run(args: &OpenApiArgs) -> Result<Outcome, UsageError> {
    let style = match (args.style, &args.domain) {
        (Style::Oidc, None) => SchemeStyle::OpenIdConnect,
        (Style::Bearer, None) => SchemeStyle::Bearer,
        (Style::Oauth2, Some(domain)) => {
            if !domain.starts_with("https://") {
                return Err(UsageError(format!(
                    "--domain must be an https:// URL, not {domain:?}"
                )));
            }
            SchemeStyle::OAuth2 {
                domain: domain.clone(),
            }
        }
        (Style::Oauth2, None) => {
            return Err(UsageError(
                "--style oauth2 needs --domain https://<prefix>.auth.<region>.amazoncognito.com"
                    .to_owned(),
            ));
        }
        (_, Some(_)) => {
            return Err(UsageError(
                "--domain applies to --style oauth2 only".to_owned(),
            ));
        }
    };
    let file = match PolicyFile::load(&args.file) {
        Ok(file) => file,
        Err(error) => {
            eprintln!("{error}");
            return Ok(Outcome::Rejected);
        }
    };
    let document = OpenApiSecurity::new(file.issuers(), file.routes())
        .style(style)
        .document(&args.title, &args.api_version);
    let mut text = serde_json::to_string_pretty(&document)?;
    text.push('\n');
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .map_err(|error| UsageError(format!("cannot write {}: {error}", path.display())))?,
        None => print!("{text}"),
    }
    Ok(Outcome::Accepted)
}
