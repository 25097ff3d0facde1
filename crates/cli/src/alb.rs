//! `cognito-authz verify --alb ARN …`: the checks of an ALB's `x-amzn-oidc-data` token
//! (ES256 over the segments as received, PEM key by kid, signer, client, issuer, expiry).

use std::time::Duration;

use cognito_authz_core::{AlbConfig, AlbVerifier, FixedClock, SharedClock};
use serde_json::json;

use crate::{Outcome, UsageError};

/// The ALB settings `verify` takes.
#[derive(Debug)]
pub(crate) struct AlbArgs<'a> {
    pub(crate) arns: &'a [String],
    pub(crate) client_ids: &'a [String],
    pub(crate) issuer: Option<&'a str>,
    pub(crate) key_url: Option<&'a str>,
    pub(crate) leeway: Option<u64>,
    pub(crate) now: Option<u64>,
    pub(crate) json: bool,
}

pub(crate) fn run(args: &AlbArgs<'_>, token: &str) -> Result<Outcome, UsageError> {
    let issuer = args.issuer.ok_or_else(|| {
        UsageError("--alb needs --issuer URL (the identity provider's `iss`)".into())
    })?;
    if args.client_ids.is_empty() {
        return Err(UsageError("--alb needs --client-id ID (repeatable)".into()));
    }
    let mut builder = AlbConfig::builder()
        .client_ids(args.client_ids.iter().cloned())
        .issuer(issuer)
        .leeway(Duration::from_secs(args.leeway.unwrap_or(0)));
    for arn in args.arns {
        builder = builder.load_balancer_arn(arn.clone());
    }
    if let Some(url) = args.key_url {
        builder = builder.key_url_base(url);
    }
    if let Some(now) = args.now {
        builder = builder.clock(SharedClock::new(FixedClock(Duration::from_secs(now))));
    }
    let verifier = AlbVerifier::new(builder.build()?)?;
    let runtime = crate::runtime()?;
    match runtime.block_on(verifier.verify(token)) {
        Ok(verified) => {
            if args.json {
                let document = json!({
                    "valid": true,
                    "issuer": verified.issuer(),
                    "kid": verified.kid(),
                    "claims": verified.payload(),
                });
                println!("{document}");
            } else {
                println!("valid ALB token");
                println!("  issuer:   {}", verified.issuer());
                println!("  kid:      {}", verified.kid());
                if let Some(sub) = verified.sub() {
                    println!("  sub:      {sub}");
                }
                crate::verify::print_claims(&verified)?;
            }
            Ok(Outcome::Accepted)
        }
        Err(error) => Ok(crate::verify::rejected(&error, args.json, Vec::new)),
    }
}
