//! REST `TOKEN` events for the test API, and an authorizer reading its token from a cookie:
//! what the tests of cached answers send and build.

use cognito_authz_core::{AcceptedTokenUse, Authorizer, AuthorizerBuilder, TokenSource};
use cognito_authz_testkit::LocalIssuer;
use serde_json::{Value, json};

use crate::pool::{ARN_PREFIX, fixture};

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

/// An authorizer builder trusting `issuer` and reading the token from the `id_token` cookie,
/// with `https://app.example.com` as the app's own origin; the routes are the caller's.
pub(crate) fn cookie_authorizer(issuer: &LocalIssuer) -> AuthorizerBuilder {
    let verifier = issuer
        .verifier_builder(AcceptedTokenUse::Any)
        .build()
        .expect("verifier");
    Authorizer::builder().verifier(verifier).token_source(
        TokenSource::builder()
            .cookie("id_token")
            .allowed_origins(["https://app.example.com"])
            .build()
            .expect("token source"),
    )
}
