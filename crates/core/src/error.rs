//! One error model: every way a request can fail authentication or authorization is an
//! [`ErrorKind`] that knows its code string, its HTTP status and its RFC 6750 challenge.

use std::fmt;

use http::{HeaderValue, StatusCode};

/// Why a request was not admitted.
///
/// The code strings ([`ErrorKind::code`]) are the contract: they appear in logs, in the CLI's JSON
/// and in `WWW-Authenticate` descriptions, and never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No token was found in any configured place (401, plain `Bearer` challenge with no error
    /// code). See `docs/verification.md` for where tokens are read from.
    MissingToken,
    /// The request is ambiguous (400): two `Authorization` headers, or a token in two configured
    /// places at once. Nothing is verified.
    InvalidRequest,
    /// Check 1 (401): the token is longer than `max_token_bytes` (default 16 KiB).
    TokenTooLarge,
    /// Checks 2–3 (401): the token is not exactly three non-empty segments of canonical base64url
    /// without padding; the header or payload is not a UTF-8 JSON object, or has a duplicate
    /// top-level member; or a registered claim has the wrong type (`exp` `nbf` `iat` `auth_time`
    /// finite numbers; `iss` `sub` `token_use` `client_id` `scope` `username` `jti` … strings;
    /// `cognito:groups` an array of strings; JSON `null` is a wrong type, not an absence).
    MalformedToken,
    /// Check 4 (401): the header's `alg` is absent or not in the issuer's allow-list (default
    /// `RS256` only; `none` and `HS*` are always refused, case-sensitive), or the header has a
    /// `crit` member in any form.
    UnsupportedAlg,
    /// Check 5 (401): `iss` is absent or not exactly a configured issuer. The issuer is chosen
    /// before any key lookup, so an unknown issuer causes no fetch.
    InvalidIssuer,
    /// Check 6 (401): the header has no `kid`.
    MissingKid,
    /// Check 7 (401): the issuer's key set has no key with that `kid`, even after one refresh
    /// (at most one refresh per issuer per cooldown; misses inside it fail at once).
    UnknownKid,
    /// Check 7b (503, `Retry-After`): the issuer's key set could not be obtained: never fetched
    /// successfully and the fetch fails, or in back-off with nothing cached.
    JwksUnavailable,
    /// Check 8 (401): the selected key does not fit: `kty` not RSA, `use` present and not `sig`,
    /// the key's `alg` differs from the header's, `key_ops` without `verify`, an RSA modulus
    /// below 2048 or above 8192 bits, or an RSA public exponent below 65537 or even.
    InvalidKey,
    /// Check 9 (401): the signature does not verify with the selected key.
    InvalidSignature,
    /// Check 10 (401): `exp` is missing, or `now ≥ exp + leeway` (at `now == exp` the token has
    /// expired).
    Expired,
    /// Check 11 (401): `nbf` is present and `now < nbf − leeway`.
    NotYetValid,
    /// Check 12 (401): `iat` is present and `iat > now + leeway`.
    IssuedInFuture,
    /// Check 13 (401): `token_use` is not `id` or `access`, or not one the issuer accepts. (An
    /// id-token or access-token extractor given a verified token of the other kind answers
    /// 403 [`Forbidden`](ErrorKind::Forbidden), as the policy `token_use:id` would.)
    InvalidTokenUse,
    /// Check 14 (401): the token's client is not configured: `aud` of an id token or
    /// `client_id` of an access token not among the issuer's `client_ids` (unless the issuer
    /// accepts any client); for a generic OIDC issuer, `aud` not among its audiences.
    InvalidClient,
    /// An ALB token's `signer` is not a configured load balancer ARN (401).
    InvalidSigner,
    /// Check 15 (401): the token was revoked in the configured revocation store: its `jti`, its
    /// session's `origin_jti`, or a sign-out of its user after it was issued. Checked on
    /// verified-token-cache hits too.
    RevokedToken,
    /// The revocation store has been unreachable for longer than its staleness limit and is
    /// configured to refuse rather than serve from its stale replica (503, `Retry-After`).
    RevocationUnavailable,
    /// A policy denial that scopes alone would fix (403): taking every positive `scope:` atom
    /// of the route's policy as satisfied would allow the request. The challenge lists those
    /// scopes in `scope="…"`. See `docs/policy.md`.
    InsufficientScope,
    /// Any other policy denial (403): a missing group, a wrong client, `not scope:x` with `x`
    /// present, an unmatched request under the default policy. The challenge says
    /// `insufficient_scope` (RFC 6750 has no other code); `forbidden` is the code in logs and the
    /// CLI.
    Forbidden,
    /// The token came from a cookie and a state-changing request (any method but `GET`,
    /// `HEAD`, `OPTIONS`) did not show it comes from an allowed page: `Sec-Fetch-Site` not
    /// `same-origin`, or no allowed `Origin`/`Referer` (403, no challenge).
    CrossSiteRequest,
}

impl ErrorKind {
    /// Every kind, in the order the checks run followed by the policy denials, then the
    /// cookie cross-site refusal.
    pub const ALL: [ErrorKind; 22] = [
        ErrorKind::MissingToken,
        ErrorKind::InvalidRequest,
        ErrorKind::TokenTooLarge,
        ErrorKind::MalformedToken,
        ErrorKind::UnsupportedAlg,
        ErrorKind::InvalidIssuer,
        ErrorKind::MissingKid,
        ErrorKind::UnknownKid,
        ErrorKind::JwksUnavailable,
        ErrorKind::InvalidKey,
        ErrorKind::InvalidSignature,
        ErrorKind::Expired,
        ErrorKind::NotYetValid,
        ErrorKind::IssuedInFuture,
        ErrorKind::InvalidTokenUse,
        ErrorKind::InvalidClient,
        ErrorKind::InvalidSigner,
        ErrorKind::RevokedToken,
        ErrorKind::RevocationUnavailable,
        ErrorKind::InsufficientScope,
        ErrorKind::Forbidden,
        ErrorKind::CrossSiteRequest,
    ];

    /// The stable snake_case code, e.g. `"unknown_kid"`.
    pub const fn code(self) -> &'static str {
        match self {
            ErrorKind::MissingToken => "missing_token",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::TokenTooLarge => "token_too_large",
            ErrorKind::MalformedToken => "malformed_token",
            ErrorKind::UnsupportedAlg => "unsupported_alg",
            ErrorKind::InvalidIssuer => "invalid_issuer",
            ErrorKind::MissingKid => "missing_kid",
            ErrorKind::UnknownKid => "unknown_kid",
            ErrorKind::JwksUnavailable => "jwks_unavailable",
            ErrorKind::InvalidKey => "invalid_key",
            ErrorKind::InvalidSignature => "invalid_signature",
            ErrorKind::Expired => "expired",
            ErrorKind::NotYetValid => "not_yet_valid",
            ErrorKind::IssuedInFuture => "issued_in_future",
            ErrorKind::InvalidTokenUse => "invalid_token_use",
            ErrorKind::InvalidClient => "invalid_client",
            ErrorKind::InvalidSigner => "invalid_signer",
            ErrorKind::RevokedToken => "revoked_token",
            ErrorKind::RevocationUnavailable => "revocation_unavailable",
            ErrorKind::InsufficientScope => "insufficient_scope",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::CrossSiteRequest => "cross_site_request",
        }
    }

    /// Looks a kind up by its code string.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.code() == code)
    }

    /// The HTTP status this kind answers with: 400, 401, 403 or 503.
    pub const fn status(self) -> StatusCode {
        match self {
            ErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorKind::JwksUnavailable | ErrorKind::RevocationUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ErrorKind::InsufficientScope | ErrorKind::Forbidden | ErrorKind::CrossSiteRequest => {
                StatusCode::FORBIDDEN
            }
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The RFC 6750 `WWW-Authenticate` challenge of this kind, or `None` when the answer has
    /// none (the 503s, and `cross_site_request`: the credentials are fine, where the request
    /// came from is not, and no other token would change that).
    ///
    /// `scopes` fill the `scope` parameter of `insufficient_scope`; `realm`, when valid (see
    /// [`validate_realm`](crate::validate_realm)), is quoted first. `forbidden` answers with
    /// `error="insufficient_scope"` too: RFC 6750 has no other code for a policy denial.
    pub fn challenge(self, scopes: &[String], realm: Option<&str>) -> Option<HeaderValue> {
        let mut params: Vec<String> = Vec::with_capacity(3);
        if let Some(realm) =
            realm.filter(|realm| crate::edge::response::validate_realm(realm).is_ok())
        {
            params.push(format!("realm=\"{realm}\""));
        }
        match self {
            ErrorKind::JwksUnavailable
            | ErrorKind::CrossSiteRequest
            | ErrorKind::RevocationUnavailable => return None,
            ErrorKind::MissingToken => {}
            ErrorKind::InvalidRequest => params.push("error=\"invalid_request\"".to_owned()),
            ErrorKind::InsufficientScope => {
                params.push("error=\"insufficient_scope\"".to_owned());
                let listed: Vec<&str> = scopes
                    .iter()
                    .map(String::as_str)
                    .filter(|scope| is_quotable(scope))
                    .collect();
                if !listed.is_empty() {
                    params.push(format!("scope=\"{}\"", listed.join(" ")));
                }
            }
            ErrorKind::Forbidden => params.push("error=\"insufficient_scope\"".to_owned()),
            invalid => params.push(format!(
                "error=\"invalid_token\", error_description=\"{}\"",
                invalid.description()
            )),
        }
        let text = if params.is_empty() {
            "Bearer".to_owned()
        } else {
            format!("Bearer {}", params.join(", "))
        };
        Some(HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("Bearer")))
    }

    /// A short, fixed description for `error_description`; never derived from the token.
    pub const fn description(self) -> &'static str {
        match self {
            ErrorKind::MissingToken => "no bearer token",
            ErrorKind::InvalidRequest => "ambiguous credentials",
            ErrorKind::TokenTooLarge => "token too large",
            ErrorKind::MalformedToken => "malformed token",
            ErrorKind::UnsupportedAlg => "unsupported algorithm",
            ErrorKind::InvalidIssuer => "untrusted issuer",
            ErrorKind::MissingKid => "missing key id",
            ErrorKind::UnknownKid => "unknown key id",
            ErrorKind::JwksUnavailable => "signing keys unavailable",
            ErrorKind::InvalidKey => "unusable signing key",
            ErrorKind::InvalidSignature => "invalid signature",
            ErrorKind::Expired => "token expired",
            ErrorKind::NotYetValid => "token not yet valid",
            ErrorKind::IssuedInFuture => "token issued in the future",
            ErrorKind::InvalidTokenUse => "wrong token use",
            ErrorKind::InvalidClient => "wrong client",
            ErrorKind::InvalidSigner => "untrusted load balancer",
            ErrorKind::RevokedToken => "token revoked",
            ErrorKind::RevocationUnavailable => "revocation status unavailable",
            ErrorKind::InsufficientScope => "insufficient scope",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::CrossSiteRequest => "cross site request",
        }
    }

    /// Whether this kind is a verification failure of an offered token (steps 1–15, not the
    /// 503s).
    pub const fn is_invalid_token(self) -> bool {
        self.status().as_u16() == 401 && !matches!(self, ErrorKind::MissingToken)
    }
}

/// Scope names from compiled policies are RFC 6749 scope-tokens already; this keeps the header
/// valid even for scopes given some other way.
fn is_quotable(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| (0x21..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An authentication or authorization failure: a kind plus an internal detail for logs.
///
/// The detail is for operators (it says which check failed and why, never the token); clients
/// only ever see the kind's code and fixed description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {detail}")]
pub struct Error {
    kind: ErrorKind,
    detail: &'static str,
}

impl Error {
    /// An error of `kind` with a fixed detail text for logs.
    pub const fn new(kind: ErrorKind, detail: &'static str) -> Self {
        Self { kind, detail }
    }

    /// The kind of failure.
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The stable code string of the kind.
    pub const fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The HTTP status of the kind.
    pub const fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The internal detail (for logs; never sent to clients).
    pub const fn detail(&self) -> &'static str {
        self.detail
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self::new(kind, kind.description())
    }
}

/// A configuration mistake found at start-up: a bad pool id, a missing `token_use`, a policy
/// that does not parse, a key file that cannot be read, an unknown key in a policy file, ….
///
/// Errors found in a policy file carry its name and the 1-based line and column
/// ([`ConfigError::location`]) and display as `FILE:LINE:COLUMN: MESSAGE`; an error about a
/// file as a whole (it cannot be read) displays as `FILE: MESSAGE`.
#[derive(Debug, Clone)]
pub struct ConfigError {
    kind: ConfigErrorKind,
    message: String,
    location: Option<Location>,
    /// The error underneath (an I/O error, a key-set error, …), for [`std::error::Error::source`].
    source: Option<std::sync::Arc<dyn std::error::Error + Send + Sync>>,
}

/// Equal when kind, message and location are (the underlying error is not compared).
impl PartialEq for ConfigError {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.message == other.message && self.location == other.location
    }
}

impl Eq for ConfigError {}

/// What part of the configuration a [`ConfigError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// An issuer: pool id, issuer URL, client ids, `token_use`, algorithms, key location.
    Issuer,
    /// A key set given as a file or a string that cannot be read or is not a JSON key set.
    KeySet,
    /// A policy expression that does not parse or compile, or a route table that conflicts.
    Policy,
    /// Where tokens are read from (header, cookie, allowed origins).
    TokenSource,
    /// The `realm` of the challenges.
    Realm,
    /// The revocation store.
    Revocation,
    /// An Application Load Balancer verifier.
    Alb,
    /// A policy file that cannot be read, is not TOML, or has an unknown or misplaced key.
    PolicyFile,
    /// The parts given to a builder do not go together (e.g. overrides without a policy file).
    Builder,
}

/// Where in a policy file a [`ConfigError`] was found.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    file: String,
    line: usize,
    column: usize,
}

impl Location {
    /// The file as given (or `<string>` for policy text without a file).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// 1-based line; 0 when the error concerns the file as a whole.
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based column, in characters; 0 when the error concerns the file as a whole.
    pub fn column(&self) -> usize {
        self.column
    }
}

impl ConfigError {
    /// A configuration error of `kind` with a message for the operator.
    pub fn new(kind: ConfigErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            location: None,
            source: None,
        }
    }

    /// The same error, caused by `source` (what [`std::error::Error::source`] returns).
    #[must_use]
    pub(crate) fn caused_by(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.source = Some(std::sync::Arc::new(source));
        self
    }

    /// The same error, found in `file` at 1-based `line` and `column` (0 and 0: the file as a
    /// whole).
    #[must_use]
    pub fn at(mut self, file: impl Into<String>, line: usize, column: usize) -> Self {
        self.location = Some(Location {
            file: file.into(),
            line,
            column,
        });
        self
    }

    /// What part of the configuration is wrong.
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }

    /// What is wrong, without the location.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where in a policy file, when the error was found in one.
    pub fn location(&self) -> Option<&Location> {
        self.location.as_ref()
    }

    /// The 1-based line in the policy file (0 when not found in a file, or about all of it).
    pub fn line(&self) -> usize {
        self.location.as_ref().map_or(0, |location| location.line)
    }

    /// The 1-based column in the policy file (0 when not found in a file, or about all of it).
    pub fn column(&self) -> usize {
        self.location.as_ref().map_or(0, |location| location.column)
    }

    /// The same error with another message (the kind and location are kept).
    #[must_use]
    pub(crate) fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(Location { file, line: 0, .. }) => write!(f, "{file}: {}", self.message),
            Some(Location { file, line, column }) => {
                write!(f, "{file}:{line}:{column}: {}", self.message)
            }
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_code(kind.code()), Some(kind));
        }
        let mut codes: Vec<_> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ErrorKind::ALL.len());
    }

    #[test]
    fn statuses_follow_the_contract() {
        assert_eq!(ErrorKind::MissingToken.status(), 401);
        assert_eq!(ErrorKind::InvalidRequest.status(), 400);
        assert_eq!(ErrorKind::JwksUnavailable.status(), 503);
        assert_eq!(ErrorKind::InsufficientScope.status(), 403);
        assert_eq!(ErrorKind::Forbidden.status(), 403);
        assert_eq!(ErrorKind::CrossSiteRequest.status(), 403);
        assert_eq!(ErrorKind::InvalidClient.status(), 401);
        assert_eq!(ErrorKind::RevokedToken.status(), 401);
        assert_eq!(ErrorKind::RevocationUnavailable.status(), 503);
    }

    #[test]
    fn descriptions_are_safe_header_text() {
        for kind in ErrorKind::ALL {
            let text = kind.description();
            assert!(text.bytes().all(|b| b == b' ' || b.is_ascii_alphanumeric()));
        }
    }
}
