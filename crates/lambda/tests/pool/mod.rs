//! The user pool, app client and API the Lambda authorizer's tests share, the API Gateway
//! event fixtures under `tests/fixtures`, and the runtime the tests drive the function on.

use cognito_authz_testkit::LocalIssuer;
use serde_json::Value;

pub(crate) const POOL: &str = "us-east-1_Example1";
pub(crate) const CLIENT: &str = "1example23456789";
/// The `methodArn` of the test API and stage, up to the method.
pub(crate) const ARN_PREFIX: &str = "arn:aws:execute-api:us-east-1:123456789012:s4x3opwd6i/test/";

/// The event fixture `name`, parsed.
pub(crate) fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An offline issuer for the test pool and client.
pub(crate) fn issuer() -> LocalIssuer {
    LocalIssuer::builder()
        .pool_id(POOL)
        .client_id(CLIENT)
        .offline()
        .expect("offline issuer")
}

/// A single-threaded runtime for driving the function from a test.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}
