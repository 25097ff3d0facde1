//! The bytes a denial answers with, as the tables of the adapters' tests expect them, and the
//! request headers those tables send.

/// The body of every 401.
pub const UNAUTHORIZED: &str = r#"{"message":"Unauthorized"}"#;
/// The body of every 403.
pub const FORBIDDEN: &str = r#"{"message":"Forbidden"}"#;
/// The body of every 400.
pub const BAD_REQUEST: &str = r#"{"message":"Bad Request"}"#;
/// The body of every 503.
pub const UNAVAILABLE: &str = r#"{"message":"Service Unavailable"}"#;
/// The challenge of a `forbidden` denial (RFC 6750 has no other error code for it).
pub const FORBIDDEN_CHALLENGE: &str = r#"Bearer error="insufficient_scope""#;

/// The challenge of a 401 for an invalid token with this fixed description.
pub fn invalid(description: &str) -> String {
    format!(r#"Bearer error="invalid_token", error_description="{description}""#)
}

/// `Authorization: Bearer <token>` as the one header of a table row.
pub fn bearer(token: &str) -> Vec<(&'static str, String)> {
    vec![("authorization", format!("Bearer {token}"))]
}

/// `Authorization: Bearer <token>` as the one header of a map, for `Authorizer::authorize`.
pub fn bearer_headers(token: &str) -> http::HeaderMap {
    http::HeaderMap::from_iter([(
        http::header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("header"),
    )])
}

/// Sets the `Authorization` header of a Lambda event (API Gateway or ALB, as JSON) to
/// `authorization`, or takes it out: in `headers`, and in `multiValueHeaders` where the event
/// has them, whatever case the fixture spelled the name in.
pub fn set_event_authorization(event: &mut serde_json::Value, authorization: Option<&str>) {
    if let Some(headers) = event
        .get_mut("headers")
        .and_then(serde_json::Value::as_object_mut)
    {
        headers.retain(|name, _| !name.eq_ignore_ascii_case("authorization"));
        if let Some(value) = authorization {
            headers.insert("Authorization".to_owned(), serde_json::json!(value));
        }
    }
    if let Some(multi) = event
        .get_mut("multiValueHeaders")
        .and_then(serde_json::Value::as_object_mut)
    {
        multi.retain(|name, _| !name.eq_ignore_ascii_case("authorization"));
        if let Some(value) = authorization {
            multi.insert("Authorization".to_owned(), serde_json::json!([value]));
        }
    }
}
