//! Token minting: Cognito-shaped id, access and machine (client_credentials) tokens, with any
//! claim or header member overridden or removed, and low-level signing of exact bytes.
//!
//! Members are written in the order Cognito writes them, so a minted token decodes to what a
//! real pool would send.

use std::time::Duration;

use cognito_authz_core::{Algorithm, SharedClock};
use serde_json::Value;

use crate::key::{SigningKey, base64url, random_bytes};

/// Default lifetime of a minted token (Cognito's default for id and access tokens): one hour.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// The username minted tokens carry unless [`TokenBuilder::username`] says otherwise.
pub const DEFAULT_USERNAME: &str = "test-user";

/// The scope of a user access token unless [`TokenBuilder::scopes`] says otherwise (what
/// Cognito grants to tokens from `InitiateAuth`).
pub const DEFAULT_USER_SCOPE: &str = "aws.cognito.signin.user.admin";

/// Which kind of Cognito token a [`TokenBuilder`] mints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// An id token: `aud`, `cognito:username`, `email`, `token_use = "id"`.
    Id,
    /// A user's access token: `client_id`, `username`, `scope`, `token_use = "access"`.
    Access,
    /// A machine access token (client_credentials grant): `sub` = `client_id`, `scope`, no user.
    Machine,
}

/// One change to the default members, applied in call order after the defaults are laid out.
#[derive(Debug, Clone)]
enum Edit {
    Set(String, Value),
    Remove(String),
}

/// Builds and signs one token; start from [`LocalIssuer::id_token`](crate::LocalIssuer::id_token),
/// [`access_token`](crate::LocalIssuer::access_token) or
/// [`machine_token`](crate::LocalIssuer::machine_token).
///
/// Shaping methods (`username`, `groups`, `scopes`, times, …) fill Cognito's claims; a value
/// set explicitly is emitted even on a kind that would not carry it by default (a username on
/// a machine token, scopes on an id token). [`claim`](TokenBuilder::claim) and
/// [`remove_claim`](TokenBuilder::remove_claim) are applied last, in call order, and win over
/// everything else; [`header`](TokenBuilder::header) and
/// [`remove_header`](TokenBuilder::remove_header) do the same for the header.
///
/// `jti`, `origin_jti` and `event_id` are fresh random UUIDs on every [`sign`](TokenBuilder::sign).
/// `sub` of a user token is a UUID derived from the issuer and username, so the same user keeps
/// the same `sub` across tokens.
///
/// # Example
///
/// ```
/// use cognito_authz_testkit::LocalIssuer;
/// let issuer = LocalIssuer::offline();
/// let token = issuer
///     .access_token()
///     .username("alice")
///     .groups(["admin"])
///     .claim("custom:tenant", "blue")
///     .remove_claim("jti")
///     .sign();
/// assert_eq!(token.split('.').count(), 3);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct TokenBuilder {
    kind: TokenKind,
    key: SigningKey,
    algorithm: Option<Algorithm>,
    clock: SharedClock,
    iss: String,
    client_id: String,
    username: Option<String>,
    sub: Option<String>,
    email: Option<String>,
    groups: Option<Vec<String>>,
    scopes: Option<Vec<String>>,
    issued_at: Option<u64>,
    expires_at: Option<u64>,
    lifetime: Duration,
    auth_time: Option<u64>,
    not_before: Option<u64>,
    claims: Vec<Edit>,
    header: Vec<Edit>,
}

impl TokenBuilder {
    pub(crate) fn new(
        kind: TokenKind,
        key: SigningKey,
        clock: SharedClock,
        iss: String,
        client_id: String,
    ) -> Self {
        Self {
            kind,
            key,
            algorithm: None,
            clock,
            iss,
            client_id,
            username: None,
            sub: None,
            email: None,
            groups: None,
            scopes: None,
            issued_at: None,
            expires_at: None,
            lifetime: DEFAULT_TOKEN_LIFETIME,
            auth_time: None,
            not_before: None,
            claims: Vec::new(),
            header: Vec::new(),
        }
    }

    /// The kind of token being built.
    pub fn kind(&self) -> TokenKind {
        self.kind
    }

    /// The user's name: `cognito:username` (id) or `username` (access). Default
    /// [`DEFAULT_USERNAME`]; machine tokens have none unless set here.
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// The app client: `aud` (id), `client_id` (access), `client_id` and `sub` (machine).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = client_id.into();
        self
    }

    /// The `sub` claim (default: a UUID derived from issuer and username; the client id for
    /// machine tokens).
    pub fn subject(mut self, sub: impl Into<String>) -> Self {
        self.sub = Some(sub.into());
        self
    }

    /// The `email` of an id token (default `{username}@example.com`).
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// The `cognito:groups` (replaces earlier groups; omitted when never set or empty).
    pub fn groups<I, S>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.groups = Some(groups.into_iter().map(Into::into).collect());
        self
    }

    /// The scopes, joined with spaces into `scope` (replaces the default; omitted when empty).
    /// User access tokens default to [`DEFAULT_USER_SCOPE`]; machine tokens to none.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// `iat` in seconds since the epoch (default: the issuer's clock). `auth_time` follows it
    /// unless set, and `exp` is `iat` plus the lifetime unless set.
    pub fn issued_at(mut self, secs: u64) -> Self {
        self.issued_at = Some(secs);
        self
    }

    /// `exp` in seconds since the epoch (default `iat + 3600`).
    pub fn expires_at(mut self, secs: u64) -> Self {
        self.expires_at = Some(secs);
        self
    }

    /// `exp` as `iat + lifetime` (default one hour); ignored when `expires_at` is set.
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// `auth_time` in seconds since the epoch (default `iat`).
    pub fn auth_time(mut self, secs: u64) -> Self {
        self.auth_time = Some(secs);
        self
    }

    /// Adds `nbf` (Cognito never sends it; for tests of the rule).
    pub fn not_before(mut self, secs: u64) -> Self {
        self.not_before = Some(secs);
        self
    }

    /// The issuer (`iss`) written into the token (default: the [`LocalIssuer`](crate::LocalIssuer)'s).
    pub fn iss(mut self, iss: impl Into<String>) -> Self {
        self.iss = iss.into();
        self
    }

    /// Signs with this key; the header `kid` becomes its kid (unless set with `header`).
    pub fn signed_by(mut self, key: &SigningKey) -> Self {
        self.key = key.clone();
        self
    }

    /// Signs with this algorithm and says so in the header `alg` (default: the key's).
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = Some(algorithm);
        self
    }

    /// Sets any payload member, replacing the default in place or appending it. Applied
    /// after the defaults, so it overrides everything (`exp`, `token_use`, …), in any JSON type.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims.push(Edit::Set(name.into(), value.into()));
        self
    }

    /// Removes a payload member (default or added).
    pub fn remove_claim(mut self, name: impl Into<String>) -> Self {
        self.claims.push(Edit::Remove(name.into()));
        self
    }

    /// Sets any header member (`alg`, `kid`, `crit`, `jku`, …); the signature still uses the
    /// builder's algorithm, so `header("alg", "none")` yields an RS256-signed token claiming
    /// `none`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.header.push(Edit::Set(name.into(), value.into()));
        self
    }

    /// Removes a header member.
    pub fn remove_header(mut self, name: impl Into<String>) -> Self {
        self.header.push(Edit::Remove(name.into()));
        self
    }

    /// The header JSON [`sign`](TokenBuilder::sign) would sign.
    pub fn header_json(&self) -> String {
        let mut members = Members::default();
        members.set("kid", self.key.kid());
        members.set("alg", self.signing_algorithm().as_str());
        members.apply(&self.header);
        members.to_json()
    }

    /// The payload JSON [`sign`](TokenBuilder::sign) would sign (with fresh random ids).
    pub fn payload_json(&self) -> String {
        self.payload().to_json()
    }

    /// Signs the token: `base64url(header).base64url(payload).base64url(signature)`.
    pub fn sign(&self) -> String {
        let header = self.header_json();
        let payload = self.payload_json();
        sign_segments(
            &self.key,
            self.signing_algorithm(),
            &base64url(header),
            &base64url(payload),
        )
    }

    fn signing_algorithm(&self) -> Algorithm {
        self.algorithm.unwrap_or(self.key.algorithm())
    }

    fn payload(&self) -> Members {
        let iat = self.issued_at.unwrap_or_else(|| self.clock.now().as_secs());
        let exp = self
            .expires_at
            .unwrap_or_else(|| iat.saturating_add(self.lifetime.as_secs()));
        let auth_time = self.auth_time.unwrap_or(iat);
        let username = self.username.as_deref().unwrap_or(DEFAULT_USERNAME);
        let sub = self.sub.clone().unwrap_or_else(|| match self.kind {
            TokenKind::Machine => self.client_id.clone(),
            TokenKind::Id | TokenKind::Access => derived_uuid(&self.iss, username),
        });
        let groups = self.groups.as_ref().filter(|groups| !groups.is_empty());
        let scope = match (&self.scopes, self.kind) {
            (Some(scopes), _) => scopes.join(" "),
            (None, TokenKind::Access) => DEFAULT_USER_SCOPE.to_owned(),
            (None, TokenKind::Id | TokenKind::Machine) => String::new(),
        };
        let mut members = Members::default();
        // Member order follows tokens Cognito issues.
        match self.kind {
            TokenKind::Id => {
                members.set("sub", sub);
                if let Some(groups) = groups {
                    members.set("cognito:groups", groups.clone());
                }
                members.set("email_verified", true);
                members.set("iss", self.iss.as_str());
                members.set("cognito:username", username);
                members.set("origin_jti", random_uuid());
                members.set("aud", self.client_id.as_str());
                members.set("event_id", random_uuid());
                members.set("token_use", "id");
                if !scope.is_empty() {
                    members.set("scope", scope);
                }
                members.set("auth_time", auth_time);
                members.set("exp", exp);
                members.set("iat", iat);
                self.set_nbf(&mut members);
                members.set("jti", random_uuid());
                members.set(
                    "email",
                    self.email
                        .clone()
                        .unwrap_or_else(|| format!("{username}@example.com")),
                );
            }
            TokenKind::Access => {
                members.set("sub", sub);
                if let Some(groups) = groups {
                    members.set("cognito:groups", groups.clone());
                }
                members.set("iss", self.iss.as_str());
                members.set("version", 2);
                members.set("client_id", self.client_id.as_str());
                members.set("origin_jti", random_uuid());
                members.set("event_id", random_uuid());
                members.set("token_use", "access");
                if !scope.is_empty() {
                    members.set("scope", scope);
                }
                members.set("auth_time", auth_time);
                members.set("exp", exp);
                members.set("iat", iat);
                self.set_nbf(&mut members);
                members.set("jti", random_uuid());
                members.set("username", username);
                if let Some(email) = &self.email {
                    members.set("email", email.as_str());
                }
            }
            TokenKind::Machine => {
                members.set("sub", sub);
                if let Some(groups) = groups {
                    members.set("cognito:groups", groups.clone());
                }
                members.set("token_use", "access");
                if !scope.is_empty() {
                    members.set("scope", scope);
                }
                members.set("auth_time", auth_time);
                members.set("iss", self.iss.as_str());
                members.set("exp", exp);
                members.set("iat", iat);
                self.set_nbf(&mut members);
                members.set("version", 2);
                members.set("jti", random_uuid());
                members.set("client_id", self.client_id.as_str());
                if let Some(username) = &self.username {
                    members.set("username", username.as_str());
                }
                if let Some(email) = &self.email {
                    members.set("email", email.as_str());
                }
            }
        }
        members.apply(&self.claims);
        members
    }

    fn set_nbf(&self, members: &mut Members) {
        if let Some(nbf) = self.not_before {
            members.set("nbf", nbf);
        }
    }
}

/// An ordered JSON object (serde_json's map may sort its keys; Cognito's order is kept here).
#[derive(Debug, Default)]
struct Members(Vec<(String, Value)>);

impl Members {
    fn set(&mut self, name: &str, value: impl Into<Value>) {
        let value = value.into();
        match self.0.iter_mut().find(|(existing, _)| existing == name) {
            Some((_, slot)) => *slot = value,
            None => self.0.push((name.to_owned(), value)),
        }
    }

    fn apply(&mut self, edits: &[Edit]) {
        for edit in edits {
            match edit {
                Edit::Set(name, value) => self.set(name, value.clone()),
                Edit::Remove(name) => self.0.retain(|(existing, _)| existing != name),
            }
        }
    }

    fn to_json(&self) -> String {
        let mut json = String::from("{");
        for (index, (name, value)) in self.0.iter().enumerate() {
            if index > 0 {
                json.push(',');
            }
            json.push_str(&Value::from(name.as_str()).to_string());
            json.push(':');
            json.push_str(&value.to_string());
        }
        json.push('}');
        json
    }
}

/// Signs exact header and payload JSON text with the key's algorithm, for tokens no builder
/// would produce (duplicate members, wrong types, odd whitespace).
///
/// # Example
///
/// ```
/// use cognito_authz_testkit::{SigningKey, sign_raw};
/// let key = SigningKey::generate("k1");
/// let token = sign_raw(&key, r#"{"kid":"k1","alg":"RS256"}"#, r#"{"sub":"a","sub":"b"}"#);
/// assert_eq!(token.split('.').count(), 3);
/// ```
pub fn sign_raw(key: &SigningKey, header_json: &str, payload_json: &str) -> String {
    sign_segments(
        key,
        key.algorithm(),
        &base64url(header_json),
        &base64url(payload_json),
    )
}

/// Signs two already-encoded segments exactly as given (padding, bad alphabet and all):
/// returns `{header_segment}.{payload_segment}.{signature}` where the signature covers
/// `{header_segment}.{payload_segment}`.
pub fn sign_segments(
    key: &SigningKey,
    algorithm: Algorithm,
    header_segment: &str,
    payload_segment: &str,
) -> String {
    let signing_input = format!("{header_segment}.{payload_segment}");
    let signature = key.sign(algorithm, signing_input.as_bytes());
    format!("{signing_input}.{}", base64url(signature))
}

/// A random version-4 UUID, as Cognito uses for `jti`, `origin_jti`, `event_id` and `sub`.
pub fn random_uuid() -> String {
    format_uuid(random_bytes::<16>())
}

/// A UUID-shaped `sub` that is stable for one user of one issuer.
fn derived_uuid(iss: &str, username: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{iss}\n{username}").as_bytes(),
    );
    let mut bytes = [0; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    format_uuid(bytes)
}

fn format_uuid(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4_shaped() {
        let uuid = random_uuid();
        assert_eq!(uuid.len(), 36);
        assert_eq!(uuid.as_bytes()[14], b'4');
        assert!(matches!(uuid.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
        assert_eq!(derived_uuid("i", "u"), derived_uuid("i", "u"));
        assert_ne!(derived_uuid("i", "u"), derived_uuid("i", "v"));
    }

    #[test]
    fn members_keep_order_and_edits_apply_in_call_order() {
        let mut members = Members::default();
        members.set("b", 1);
        members.set("a", "x");
        members.apply(&[
            Edit::Set("b".into(), Value::Null),
            Edit::Set("c".into(), true.into()),
            Edit::Remove("a".into()),
        ]);
        assert_eq!(members.to_json(), r#"{"b":null,"c":true}"#);
    }
}
