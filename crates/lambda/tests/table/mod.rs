//! A route table loaded as the authorizer's policy (the test pool's issuer, the pool's manual
//! clock), and the REST `TOKEN` events sent to it.

use cognito_authz_core::{AcceptedTokenUse, Authorizer};
use cognito_authz_test_support::policy::EXAMPLE_ISSUER;
use cognito_authz_testkit::LocalIssuer;
use serde_json::{Value, json};

use crate::pool::{ARN_PREFIX, fixture};

/// The authorizer for the `[[route]]` tables in `text`, trusting `issuer` on its manual clock.
pub(crate) fn load(text: &str, issuer: &LocalIssuer) -> Authorizer {
    Authorizer::builder()
        .issuers([issuer.issuer_config(AcceptedTokenUse::Any)])
        .clock(issuer.manual_clock().expect("manual clock").clone())
        .policy_text(
            format!("{EXAMPLE_ISSUER}{text}"),
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        )
        .build()
        .unwrap_or_else(|error| panic!("{text}: {error}"))
}

/// The `methodArn` of `method path` in the test API and stage.
pub(crate) fn arn(method: &str, path: &str) -> String {
    format!("{ARN_PREFIX}{method}{path}")
}

/// A REST `TOKEN` event for `method path` carrying `token`.
pub(crate) fn token_event(method: &str, path: &str, token: &str) -> Value {
    let mut event = fixture("example-apigw-custom-auth-request.json");
    event["methodArn"] = json!(arn(method, path));
    event["authorizationToken"] = json!(format!("Bearer {token}"));
    event
}
