//! The verified token handed to policies and handlers: Cognito's standard claims parsed once,
//! plus the raw payload for typed deserialization into the user's own struct.

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Which kind of Cognito token this is (`token_use`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenUse {
    /// An id token (`token_use = "id"`): identity claims, audience = app client id.
    Id,
    /// An access token (`token_use = "access"`): scopes, `client_id`.
    Access,
}

impl TokenUse {
    /// `"id"` or `"access"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenUse::Id => "id",
            TokenUse::Access => "access",
        }
    }

    /// Parses `"id"` or `"access"`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "id" => Some(TokenUse::Id),
            "access" => Some(TokenUse::Access),
            _ => None,
        }
    }
}

impl fmt::Display for TokenUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token that passed every check of DESIGN.md §3.
///
/// Standard claims are parsed once at verification; [`VerifiedToken::claims`] deserializes the
/// whole payload into any type, `custom:*` attributes included.
///
/// # Example
///
/// ```
/// # use cognito_authz_core::VerifiedToken;
/// #[derive(serde::Deserialize)]
/// struct MyClaims {
///     sub: String,
///     #[serde(rename = "custom:tenant")]
///     tenant: Option<String>,
/// }
/// fn tenant_of(token: &VerifiedToken) -> Option<String> {
///     token.claims::<MyClaims>().ok()?.tenant
/// }
/// ```
#[derive(Clone)]
pub struct VerifiedToken {
    pub(crate) issuer_name: Arc<str>,
    pub(crate) issuer: String,
    pub(crate) kid: String,
    pub(crate) token_use: Option<TokenUse>,
    pub(crate) sub: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) client: Option<String>,
    pub(crate) audiences: Vec<String>,
    pub(crate) groups: Vec<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) exp: f64,
    pub(crate) nbf: Option<f64>,
    pub(crate) iat: Option<f64>,
    pub(crate) auth_time: Option<f64>,
    pub(crate) jti: Option<String>,
    pub(crate) origin_jti: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) payload: Map<String, Value>,
    pub(crate) payload_json: Box<str>,
}

impl VerifiedToken {
    /// Builds the view from a payload that already passed the type checks of step 3.
    pub(crate) fn from_payload(
        issuer_name: Arc<str>,
        kid: String,
        payload: Map<String, Value>,
        payload_json: &str,
    ) -> Self {
        let string = |name: &str| payload.get(name).and_then(Value::as_str).map(str::to_owned);
        let number = |name: &str| payload.get(name).and_then(Value::as_f64);
        let token_use = payload
            .get("token_use")
            .and_then(Value::as_str)
            .and_then(TokenUse::parse);
        let audiences: Vec<String> = match payload.get("aud") {
            Some(Value::String(aud)) => vec![aud.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        let client = match token_use {
            Some(TokenUse::Access) => string("client_id"),
            Some(TokenUse::Id) => audiences.first().cloned(),
            None => string("client_id").or_else(|| audiences.first().cloned()),
        };
        let username = string("cognito:username").or_else(|| string("username"));
        let groups = match payload.get("cognito:groups") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        let mut scopes: Vec<String> = payload
            .get("scope")
            .and_then(Value::as_str)
            .map(|scope| {
                scope
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        scopes.sort_unstable();
        scopes.dedup();
        Self {
            issuer: string("iss").unwrap_or_default(),
            sub: string("sub"),
            exp: number("exp").unwrap_or(0.0),
            nbf: number("nbf"),
            iat: number("iat"),
            auth_time: number("auth_time"),
            jti: string("jti"),
            origin_jti: string("origin_jti"),
            email: string("email"),
            issuer_name,
            kid,
            token_use,
            username,
            client,
            audiences,
            groups,
            scopes,
            payload_json: payload_json.into(),
            payload,
        }
    }

    /// The configured name of the issuer that accepted the token (policy atom `issuer:`).
    pub fn issuer_name(&self) -> &str {
        &self.issuer_name
    }

    /// The `iss` claim.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The `kid` of the key that verified the signature.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// `token_use`: always present for Cognito issuers; `None` only for generic OIDC tokens
    /// without it.
    pub fn token_use(&self) -> Option<TokenUse> {
        self.token_use
    }

    /// The `sub` claim (the user's or machine client's stable id).
    pub fn sub(&self) -> Option<&str> {
        self.sub.as_deref()
    }

    /// The user name: `cognito:username` in id tokens, `username` in access tokens.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The app client: `aud` for id tokens, `client_id` for access tokens.
    pub fn client_id(&self) -> Option<&str> {
        self.client.as_deref()
    }

    /// Every `aud` value (one for Cognito id tokens, none for access tokens).
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// `cognito:groups`, in token order (empty when absent).
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// Whether `cognito:groups` contains `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// The scopes of `scope`, split on spaces, sorted and deduplicated.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Whether the token grants `scope` (exact, case-sensitive).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes
            .binary_search_by(|s| s.as_str().cmp(scope))
            .is_ok()
    }

    /// `exp`, seconds since the epoch.
    pub fn expires_at(&self) -> f64 {
        self.exp
    }

    /// `nbf`, if present.
    pub fn not_before(&self) -> Option<f64> {
        self.nbf
    }

    /// `iat`, if present.
    pub fn issued_at(&self) -> Option<f64> {
        self.iat
    }

    /// `auth_time`, if present.
    pub fn auth_time(&self) -> Option<f64> {
        self.auth_time
    }

    /// `jti`, if present.
    pub fn jti(&self) -> Option<&str> {
        self.jti.as_deref()
    }

    /// `origin_jti`, if present.
    pub fn origin_jti(&self) -> Option<&str> {
        self.origin_jti.as_deref()
    }

    /// `email`, if present as a string.
    pub fn email(&self) -> Option<&str> {
        self.email.as_deref()
    }

    /// Any claim by name, e.g. `claim("custom:tenant")`.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.payload.get(name)
    }

    /// The whole payload as a JSON object.
    pub fn payload(&self) -> &Map<String, Value> {
        &self.payload
    }

    /// Deserializes the whole payload into `T`.
    ///
    /// # Errors
    /// The payload does not fit `T`.
    pub fn claims<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.payload_json)
    }
}

impl fmt::Debug for VerifiedToken {
    // Claims may be personal data; Debug shows who and what, not the payload.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedToken")
            .field("issuer", &self.issuer_name)
            .field("token_use", &self.token_use)
            .field("sub", &self.sub)
            .field("client_id", &self.client)
            .field("groups", &self.groups)
            .field("scopes", &self.scopes)
            .field("exp", &self.exp)
            .finish_non_exhaustive()
    }
}

/// Cognito's standard claims as a plain struct, the default target of typed extractors.
///
/// Every field is optional so the same type reads id and access tokens.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[non_exhaustive]
pub struct CognitoClaims {
    /// `sub`.
    #[serde(default)]
    pub sub: Option<String>,
    /// `iss`.
    #[serde(default)]
    pub iss: Option<String>,
    /// `token_use`.
    #[serde(default)]
    pub token_use: Option<String>,
    /// `cognito:username` (id tokens).
    #[serde(default, rename = "cognito:username")]
    pub cognito_username: Option<String>,
    /// `username` (access tokens).
    #[serde(default)]
    pub username: Option<String>,
    /// `client_id` (access tokens).
    #[serde(default)]
    pub client_id: Option<String>,
    /// `aud` (id tokens).
    #[serde(default)]
    pub aud: Option<Value>,
    /// `cognito:groups`.
    #[serde(default, rename = "cognito:groups")]
    pub groups: Option<Vec<String>>,
    /// `scope` as sent (space-separated).
    #[serde(default)]
    pub scope: Option<String>,
    /// `email` (id tokens).
    #[serde(default)]
    pub email: Option<String>,
    /// `exp`.
    #[serde(default)]
    pub exp: Option<f64>,
    /// `iat`.
    #[serde(default)]
    pub iat: Option<f64>,
    /// `auth_time`.
    #[serde(default)]
    pub auth_time: Option<f64>,
    /// `jti`.
    #[serde(default)]
    pub jti: Option<String>,
    /// `origin_jti`.
    #[serde(default)]
    pub origin_jti: Option<String>,
}
