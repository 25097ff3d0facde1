//! The rows of the response-table tests (`crates/core/docs/responses.md`): a request built
//! the same way in every suite, with the suite's own kind of expectation, and the forged
//! tokens that fail each verification check once.

use cognito_authz_core::ErrorKind;
use cognito_authz_testkit::{LocalIssuer, SigningKey, with_payload_of};
use http::{HeaderMap, HeaderName, HeaderValue, Method};

/// One request of a table and what the suite expects of its answer.
#[derive(Debug, Clone)]
pub struct Row<E> {
    /// What the row is about, for failure messages (empty when the request says it).
    pub description: String,
    /// The request's method.
    pub method: Method,
    /// The request's path and query.
    pub path: &'static str,
    /// The request's headers (the same name twice is sent as two header lines).
    pub headers: HeaderMap,
    /// The suite's expectation.
    pub expect: E,
}

/// Starts a row: `method` (any token, `"GET"` or `Method::GET`) to `path`, no headers yet.
///
/// # Panics
/// `method` is not a valid method token.
pub fn row(method: impl AsRef<str>, path: &'static str) -> Request {
    Request {
        description: String::new(),
        method: Method::from_bytes(method.as_ref().as_bytes()).expect("method"),
        path,
        headers: HeaderMap::new(),
    }
}

/// A row's request, waiting for its expectation.
#[derive(Debug, Clone)]
#[must_use]
pub struct Request {
    description: String,
    method: Method,
    path: &'static str,
    headers: HeaderMap,
}

impl Request {
    /// Says what the row is about.
    pub fn describe(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Adds a header (appending: the same name twice is two headers).
    ///
    /// # Panics
    /// The name or the value cannot be a header's.
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        self.headers.append(
            HeaderName::from_bytes(name.as_ref().as_bytes()).expect("header name"),
            HeaderValue::from_str(value.as_ref()).expect("header value"),
        );
        self
    }

    /// `Authorization: Bearer <token>` (appended).
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    /// The row, expecting `expect`.
    pub fn expect<E>(self, expect: E) -> Row<E> {
        Row {
            description: self.description,
            method: self.method,
            path: self.path,
            headers: self.headers,
            expect,
        }
    }
}

/// The tables' plain caller: an access token of `bob`, in no group.
#[must_use]
pub fn user(issuer: &LocalIssuer) -> String {
    issuer.access_token().username("bob").sign()
}

/// The tables' administrator: an access token of `alice`, in the `admin` group.
#[must_use]
pub fn admin(issuer: &LocalIssuer) -> String {
    issuer
        .access_token()
        .username("alice")
        .groups(["admin"])
        .sign()
}

/// The plain caller's token `user` with the payload of the same caller in the `admin` group
/// spliced in: an escalation whose signature no longer matches.
#[must_use]
pub fn escalated(issuer: &LocalIssuer, user: &str) -> String {
    let forged = issuer
        .access_token()
        .username("bob")
        .groups(["admin"])
        .sign();
    with_payload_of(user, &forged)
}

/// One token per verification check that fails it, for a verifier that trusts `issuer`
/// (access tokens of its client) on its clock at `now`: what the token is, the token, the
/// error it must get. `user` and `admin` are two valid access tokens of the issuer.
#[must_use]
pub fn invalid_tokens(
    issuer: &LocalIssuer,
    user: &str,
    admin: &str,
    now: u64,
) -> Vec<(&'static str, String, ErrorKind)> {
    let kid = issuer.signing_key().kid().to_owned();
    vec![
        (
            "token over 16 KiB",
            "a".repeat(17 * 1024),
            ErrorKind::TokenTooLarge,
        ),
        (
            "not a JWT",
            "not-a-jwt".to_owned(),
            ErrorKind::MalformedToken,
        ),
        (
            "padded segment",
            format!("{user}="),
            ErrorKind::MalformedToken,
        ),
        (
            "alg none",
            issuer.access_token().header("alg", "none").sign(),
            ErrorKind::UnsupportedAlg,
        ),
        (
            "alg HS256",
            issuer.access_token().header("alg", "HS256").sign(),
            ErrorKind::UnsupportedAlg,
        ),
        (
            "another pool's issuer",
            issuer
                .access_token()
                .iss("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other")
                .sign(),
            ErrorKind::InvalidIssuer,
        ),
        (
            "no kid",
            issuer.access_token().remove_header("kid").sign(),
            ErrorKind::MissingKid,
        ),
        (
            "unknown kid",
            issuer
                .access_token()
                .signed_by(&SigningKey::generate("stranger"))
                .sign(),
            ErrorKind::UnknownKid,
        ),
        (
            "signed by another key with the pool's kid",
            issuer
                .access_token()
                .signed_by(&SigningKey::generate(kid))
                .sign(),
            ErrorKind::InvalidSignature,
        ),
        (
            "payload swapped",
            with_payload_of(user, admin),
            ErrorKind::InvalidSignature,
        ),
        (
            "expired",
            issuer
                .access_token()
                .issued_at(now - 7200)
                .expires_at(now - 3600)
                .sign(),
            ErrorKind::Expired,
        ),
        (
            "not yet valid",
            issuer.access_token().not_before(now + 600).sign(),
            ErrorKind::NotYetValid,
        ),
        (
            "issued in the future",
            issuer.access_token().issued_at(now + 600).sign(),
            ErrorKind::IssuedInFuture,
        ),
        (
            "id token where access tokens are configured",
            issuer.id_token().sign(),
            ErrorKind::InvalidTokenUse,
        ),
        (
            "another app client",
            issuer.access_token().client_id("someoneelse").sign(),
            ErrorKind::InvalidClient,
        ),
    ]
}
