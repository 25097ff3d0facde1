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
