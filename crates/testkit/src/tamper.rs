//! Token surgery for tests of what a verifier must refuse: segments of real tokens swapped or
//! replaced after signing, so the signature no longer covers what the token says.

use crate::key::base64url;

/// `token` with the payload segment of `other` in place of its own: the header and signature
/// of one token around the claims of another, as a forger would splice them. Both must be
/// compact JWTs (three `.`-separated segments).
///
/// ```
/// use cognito_authz_testkit::{LocalIssuer, with_payload_of};
/// let issuer = LocalIssuer::offline();
/// let user = issuer.access_token().username("bob").sign();
/// let admin = issuer.access_token().username("bob").groups(["admin"]).sign();
/// let forged = with_payload_of(&user, &admin);
/// assert_eq!(forged.split('.').nth(1), admin.split('.').nth(1));
/// assert_eq!(forged.split('.').nth(2), user.split('.').nth(2));
/// ```
///
/// # Panics
/// Either token has fewer than three segments.
#[must_use]
pub fn with_payload_of(token: &str, other: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    assert!(parts.len() >= 3, "token is not a compact JWT");
    let payload = other.split('.').nth(1).expect("other is not a compact JWT");
    format!("{}.{payload}.{}", parts[0], parts[2])
}

/// `token` with its header replaced by `{"alg":"RS256","kid":KID}` and the rest kept: the key
/// lookup sees `kid`, and the signature no longer verifies.
///
/// ```
/// use cognito_authz_testkit::{LocalIssuer, with_kid};
/// let issuer = LocalIssuer::offline();
/// let token = with_kid(&issuer.access_token().sign(), "rotated-meanwhile");
/// assert!(token.starts_with("eyJhbGciOiJSUzI1NiIsImtpZCI6InJvdGF0ZWQtbWVhbndoaWxlIn0."));
/// ```
///
/// # Panics
/// `token` has no `.`.
#[must_use]
pub fn with_kid(token: &str, kid: &str) -> String {
    let header = serde_json::json!({"alg": "RS256", "kid": kid}).to_string();
    let rest = token.split_once('.').expect("token is not a compact JWT").1;
    format!("{}.{rest}", base64url(header))
}
