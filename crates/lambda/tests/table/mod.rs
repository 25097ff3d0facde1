//! A route table loaded as the authorizer's policy: the test pool's issuer, on the pool's
//! manual clock.

use cognito_authz_core::{AcceptedTokenUse, Authorizer, ConfigError};
use cognito_authz_test_support::policy::EXAMPLE_ISSUER;
use cognito_authz_testkit::LocalIssuer;

/// The authorizer for the `[[route]]` tables in `text`, trusting `issuer` on its manual clock.
pub(crate) fn load(text: &str, issuer: &LocalIssuer) -> Authorizer {
    try_load(text, issuer).unwrap_or_else(|error| panic!("{text}: {error}"))
}

/// [`load`], or why the text does not load.
pub(crate) fn try_load(text: &str, issuer: &LocalIssuer) -> Result<Authorizer, ConfigError> {
    Authorizer::builder()
        .issuers([issuer.issuer_config(AcceptedTokenUse::Any)])
        .clock(issuer.manual_clock().expect("manual clock").clone())
        .policy_text(
            format!("{EXAMPLE_ISSUER}{text}"),
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        )
        .build()
}
