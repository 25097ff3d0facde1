//! REST `REQUEST` events for the test API, and the same request's headers for the in-process
//! layer, so a test can hold the function's answer against the layer's decision.

use http::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use crate::pool::{ARN_PREFIX, fixture};

/// The headers of a request carrying `token` (if any) as a bearer token.
pub(crate) fn headers(token: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(token) = token {
        headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
        );
    }
    headers
}

/// A REST `REQUEST` authorizer event for `method path` (the shipped fixture's shape), with
/// the token if any.
pub(crate) fn request_event(method: &str, path: &str, token: Option<&str>) -> Value {
    let mut event = fixture("example-apigw-custom-auth-request-type-request.json");
    event["methodArn"] = json!(format!("{ARN_PREFIX}{method}{path}"));
    event["path"] = json!(path);
    event["httpMethod"] = json!(method);
    event["requestContext"]["httpMethod"] = json!(method);
    if let Some(token) = token {
        let value = format!("Bearer {token}");
        event["headers"]["Authorization"] = json!(value);
        event["multiValueHeaders"]["Authorization"] = json!([value]);
    }
    event
}
