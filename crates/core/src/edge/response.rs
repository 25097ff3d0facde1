//! The HTTP answer to a denial, as plain data, so the tower and actix adapters send
//! byte-identical responses (`docs/responses.md` lists them).
//!
//! | case | status | `WWW-Authenticate` | body |
//! |---|---|---|---|
//! | `missing_token` | 401 | `Bearer` (`Bearer realm="…"` with a realm) | `{"message":"Unauthorized"}` |
//! | invalid token (checks 1–14) | 401 | `Bearer error="invalid_token", error_description="…"` | `{"message":"Unauthorized"}` |
//! | `invalid_request` | 400 | `Bearer error="invalid_request"` | `{"message":"Bad Request"}` |
//! | `insufficient_scope` | 403 | `Bearer error="insufficient_scope", scope="a b"` | `{"message":"Forbidden"}` |
//! | `forbidden` | 403 | `Bearer error="insufficient_scope"` | `{"message":"Forbidden"}` |
//! | `jwks_unavailable` | 503 | none; `Retry-After: 5` instead | `{"message":"Service Unavailable"}` |
//! | `cross_site_request` | 403 | none | `{"message":"Forbidden"}` |
//! | `revoked_token` | 401 | `Bearer error="invalid_token", error_description="token revoked"` | `{"message":"Unauthorized"}` |
//! | `revocation_unavailable` | 503 | none; `Retry-After: 5` instead | `{"message":"Service Unavailable"}` |
//!
//! Auth-params are separated by `, `; a configured realm comes first. Every value is a fixed
//! text, a scope name from the policy, or the realm: never anything from the token.

use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};

use crate::error::{ConfigError, ErrorKind};

/// Seconds a client is asked to wait when signing keys are unavailable (`Retry-After`).
pub const RETRY_AFTER_SECS: u32 = 5;

/// The status, headers and body of a denial; adapters copy them into their response type.
///
/// # Example
///
/// ```
/// use cognito_authz_core::{DenialResponse, ErrorKind};
/// let scopes = ["api/read".to_owned(), "api/write".to_owned()];
/// let response = DenialResponse::new(ErrorKind::InsufficientScope, &scopes, None);
/// assert_eq!(response.status(), 403);
/// assert_eq!(
///     response.www_authenticate().unwrap(),
///     r#"Bearer error="insufficient_scope", scope="api/read api/write""#
/// );
/// assert_eq!(response.body(), r#"{"message":"Forbidden"}"#);
///
/// let missing = DenialResponse::new(ErrorKind::MissingToken, &[], Some("api"));
/// assert_eq!(missing.www_authenticate().unwrap(), r#"Bearer realm="api""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenialResponse {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: &'static str,
}

impl DenialResponse {
    /// The response for `kind`; `scopes` feed the `scope` parameter of `insufficient_scope`,
    /// `realm` (if any) is quoted first in every challenge.
    pub fn new(kind: ErrorKind, scopes: &[String], realm: Option<&str>) -> Self {
        let status = kind.status();
        let body = match status {
            StatusCode::BAD_REQUEST => r#"{"message":"Bad Request"}"#,
            StatusCode::FORBIDDEN => r#"{"message":"Forbidden"}"#,
            StatusCode::SERVICE_UNAVAILABLE => r#"{"message":"Service Unavailable"}"#,
            _ => r#"{"message":"Unauthorized"}"#,
        };
        let mut headers = vec![(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.push((RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS)));
        } else if let Some(challenge) = kind.challenge(scopes, realm) {
            headers.push((WWW_AUTHENTICATE, challenge));
        }
        Self {
            status,
            headers,
            body,
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers, in order: `content-type`, then `www-authenticate` or `retry-after` (or
    /// neither, for `cross_site_request`).
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    /// The `WWW-Authenticate` challenge, if the response has one (not for 503 or
    /// `cross_site_request`).
    pub fn www_authenticate(&self) -> Option<&HeaderValue> {
        self.headers
            .iter()
            .find(|(name, _)| *name == WWW_AUTHENTICATE)
            .map(|(_, value)| value)
    }

    /// The JSON body.
    pub fn body(&self) -> &'static str {
        self.body
    }

    /// Builds an `http::Response` with any body type that can hold a `&'static str`.
    pub fn into_response<B: From<&'static str>>(self) -> http::Response<B> {
        let mut response = http::Response::new(B::from(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        response
    }
}

/// Checks a realm for use in a challenge: printable ASCII without `"` or `\`.
///
/// # Errors
/// The realm is empty or has other characters.
pub fn validate_realm(realm: &str) -> Result<(), ConfigError> {
    if !realm.is_empty()
        && realm
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        Ok(())
    } else {
        Err(ConfigError::new(
            crate::ConfigErrorKind::Realm,
            format!("realm {realm:?} must be non-empty printable ASCII without '\"' or '\\'"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_answers_with_the_contract_bytes() {
        let two = ["api/read".to_owned(), "api/write".to_owned()];
        // (kind, scopes, realm, status, challenge or None, body)
        type Case<'a> = (
            ErrorKind,
            &'a [String],
            Option<&'a str>,
            u16,
            Option<&'a str>,
            &'a str,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                ErrorKind::MissingToken,
                &[],
                None,
                401,
                Some("Bearer"),
                r#"{"message":"Unauthorized"}"#,
            ),
            (
                ErrorKind::MissingToken,
                &[],
                Some("my api"),
                401,
                Some(r#"Bearer realm="my api""#),
                r#"{"message":"Unauthorized"}"#,
            ),
            (
                ErrorKind::Expired,
                &[],
                None,
                401,
                Some(r#"Bearer error="invalid_token", error_description="token expired""#),
                r#"{"message":"Unauthorized"}"#,
            ),
            (
                ErrorKind::InvalidSignature,
                &[],
                Some("api"),
                401,
                Some(
                    r#"Bearer realm="api", error="invalid_token", error_description="invalid signature""#,
                ),
                r#"{"message":"Unauthorized"}"#,
            ),
            (
                ErrorKind::InvalidRequest,
                &[],
                None,
                400,
                Some(r#"Bearer error="invalid_request""#),
                r#"{"message":"Bad Request"}"#,
            ),
            (
                ErrorKind::InsufficientScope,
                &two,
                None,
                403,
                Some(r#"Bearer error="insufficient_scope", scope="api/read api/write""#),
                r#"{"message":"Forbidden"}"#,
            ),
            (
                ErrorKind::InsufficientScope,
                &two[..1],
                Some("api"),
                403,
                Some(r#"Bearer realm="api", error="insufficient_scope", scope="api/read""#),
                r#"{"message":"Forbidden"}"#,
            ),
            (
                ErrorKind::Forbidden,
                &[],
                None,
                403,
                Some(r#"Bearer error="insufficient_scope""#),
                r#"{"message":"Forbidden"}"#,
            ),
            (
                ErrorKind::JwksUnavailable,
                &[],
                Some("api"),
                503,
                None,
                r#"{"message":"Service Unavailable"}"#,
            ),
            (
                ErrorKind::CrossSiteRequest,
                &two,
                Some("api"),
                403,
                None,
                r#"{"message":"Forbidden"}"#,
            ),
            (
                ErrorKind::RevokedToken,
                &[],
                None,
                401,
                Some(r#"Bearer error="invalid_token", error_description="token revoked""#),
                r#"{"message":"Unauthorized"}"#,
            ),
            (
                ErrorKind::RevocationUnavailable,
                &[],
                Some("api"),
                503,
                None,
                r#"{"message":"Service Unavailable"}"#,
            ),
            (
                ErrorKind::MissingToken,
                &[],
                Some("bad\"realm"),
                401,
                Some("Bearer"),
                r#"{"message":"Unauthorized"}"#,
            ),
        ];
        for (kind, scopes, realm, status, challenge, body) in cases {
            let response = DenialResponse::new(kind, scopes, realm);
            assert_eq!(response.status().as_u16(), status, "{kind}");
            assert_eq!(
                response
                    .www_authenticate()
                    .map(|v| v.to_str().expect("ascii")),
                challenge,
                "{kind}"
            );
            assert_eq!(response.body(), body, "{kind}");
            assert_eq!(response.headers()[0].0, CONTENT_TYPE);
            assert_eq!(response.headers()[0].1, "application/json");
            let retry = response
                .headers()
                .iter()
                .find(|(name, _)| *name == RETRY_AFTER)
                .map(|(_, value)| value.clone());
            assert_eq!(retry.is_some(), status == 503, "{kind}");
        }
    }

    #[test]
    fn every_invalid_token_kind_has_a_description_challenge() {
        for kind in ErrorKind::ALL.into_iter().filter(|k| k.is_invalid_token()) {
            let response = DenialResponse::new(kind, &[], None);
            let expected = format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\"",
                kind.description()
            );
            assert_eq!(
                response
                    .www_authenticate()
                    .map(|v| v.to_str().expect("ascii")),
                Some(expected.as_str())
            );
        }
    }

    #[test]
    fn into_response_copies_everything() {
        let response: http::Response<String> =
            DenialResponse::new(ErrorKind::JwksUnavailable, &[], None).into_response();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "5");
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.body(), r#"{"message":"Service Unavailable"}"#);
    }
}
