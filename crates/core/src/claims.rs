//! The verified token handed to policies and handlers: Cognito's standard claims parsed once,
//! plus the raw payload for typed deserialization into the user's own struct.

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::registered::{Audience, Claims};

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
    pub(crate) payload: OnceLock<Map<String, Value>>,
    pub(crate) payload_json: Box<str>,
    typed: [OnceLock<Typed>; TYPED_SLOTS],
    /// The revocation store's generation at which this token was last found not revoked.
    pub(crate) revocation_memo: crate::revocation::Memo,
}

/// How many claim types one token keeps deserialized ([`VerifiedToken::shared_claims`]): a
/// service reads its tokens into one or two types, so four bounds the memory a cached token
/// can grow by without ever missing in practice.
const TYPED_SLOTS: usize = 4;

/// One deserialized claims value and its type.
type Typed = (TypeId, Arc<dyn Any + Send + Sync>);

impl VerifiedToken {
    /// Builds the view from claims that passed checks 2–3; keeps the payload text for typed
    /// deserialization and builds the generic object only when asked.
    pub(crate) fn from_claims(
        issuer_name: Arc<str>,
        kid: String,
        claims: Claims<'_>,
        payload_json: &str,
    ) -> Self {
        let owned = |text: Option<Cow<'_, str>>| text.map(Cow::into_owned);
        let token_use = claims.token_use.as_deref().and_then(TokenUse::parse);
        let audiences: Vec<String> = match claims.aud {
            Audience::Absent => Vec::new(),
            Audience::One(aud) => vec![aud.into_owned()],
            Audience::Many(items) => items.into_iter().map(Cow::into_owned).collect(),
        };
        let client_id = owned(claims.client_id);
        let client = match token_use {
            Some(TokenUse::Access) => client_id,
            Some(TokenUse::Id) => audiences.first().cloned(),
            None => client_id.or_else(|| audiences.first().cloned()),
        };
        let username = owned(claims.cognito_username).or_else(|| owned(claims.username));
        let groups = claims
            .groups
            .map(|groups| groups.into_iter().map(Cow::into_owned).collect())
            .unwrap_or_default();
        let mut scopes: Vec<String> = claims
            .scope
            .as_deref()
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
            issuer: owned(claims.iss).unwrap_or_default(),
            sub: owned(claims.sub),
            exp: claims.exp.unwrap_or(0.0),
            nbf: claims.nbf,
            iat: claims.iat,
            auth_time: claims.auth_time,
            jti: owned(claims.jti),
            origin_jti: owned(claims.origin_jti),
            email: owned(claims.email),
            issuer_name,
            kid,
            token_use,
            username,
            client,
            audiences,
            groups,
            scopes,
            payload: OnceLock::new(),
            payload_json: payload_json.into(),
            typed: Default::default(),
            revocation_memo: crate::revocation::Memo::default(),
        }
    }

    /// Builds a token from payload JSON text, for tests of the code that reads tokens.
    #[cfg(test)]
    pub(crate) fn from_payload(issuer_name: Arc<str>, kid: String, payload_json: &str) -> Self {
        let claims = Claims::parse(payload_json).expect("test payloads are well-formed");
        Self::from_claims(issuer_name, kid, claims, payload_json)
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
        self.payload().get(name)
    }

    /// The whole payload as a JSON object (built on first use, then kept).
    pub fn payload(&self) -> &Map<String, Value> {
        // The text already parsed as a JSON object during verification, so this cannot fail;
        // an empty object is the fail-closed answer if it somehow did.
        self.payload
            .get_or_init(|| serde_json::from_str(&self.payload_json).unwrap_or_default())
    }

    /// The payload exactly as signed (decoded JSON text).
    pub fn payload_json(&self) -> &str {
        &self.payload_json
    }

    /// Deserializes the whole payload into `T`.
    ///
    /// Reads the parsed payload object (built once per token and kept with it), so a token
    /// served from the verified-token cache is not parsed again on every request.
    ///
    /// # Errors
    /// The payload does not fit `T`.
    pub fn claims<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(self.payload())
    }

    /// The payload deserialized into `T` once per token and type, then shared.
    ///
    /// What the adapters' `Claims<T>` extractors hand to handlers: a token served from the
    /// verified-token cache yields the same `Arc<T>` on every request, so reading typed claims
    /// costs a reference count, not a deserialization. A token keeps values of up to four
    /// types; a fifth type is deserialized on each call. A payload that does not fit `T` is not
    /// kept (each call reports the error).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use cognito_authz_core::{CognitoClaims, VerifiedToken};
    /// fn user(token: &VerifiedToken) -> Option<String> {
    ///     let claims: Arc<CognitoClaims> = token.shared_claims().ok()?;
    ///     claims.username.clone()
    /// }
    /// ```
    ///
    /// # Errors
    /// The payload does not fit `T`.
    pub fn shared_claims<T>(&self) -> Result<Arc<T>, serde_json::Error>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let id = TypeId::of::<T>();
        let mut fresh: Option<Arc<T>> = None;
        for slot in &self.typed {
            if slot.get().is_none() {
                let value = match &fresh {
                    Some(value) => Arc::clone(value),
                    None => Arc::clone(fresh.insert(Arc::new(self.claims::<T>()?))),
                };
                // Losing the race to another thread is fine: it stored this type or another.
                let _ = slot.set((id, value));
            }
            if let Some((slot_id, value)) = slot.get()
                && *slot_id == id
                && let Ok(value) = Arc::clone(value).downcast::<T>()
            {
                return Ok(value);
            }
        }
        match fresh {
            Some(value) => Ok(value),
            None => self.claims::<T>().map(Arc::new),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Name {
        username: String,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Tenant {
        #[serde(rename = "custom:tenant")]
        tenant: String,
    }

    fn token(payload: &str) -> VerifiedToken {
        VerifiedToken::from_payload(Arc::from("main"), "k".to_owned(), payload)
    }

    #[test]
    fn shared_claims_are_deserialized_once_per_type() {
        let token = token(r#"{"username":"ann","custom:tenant":"acme"}"#);
        let first = token.shared_claims::<Name>().expect("fits");
        let again = token.shared_claims::<Name>().expect("fits");
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(again.username, "ann");
        let tenant = token.shared_claims::<Tenant>().expect("fits");
        assert_eq!(tenant.tenant, "acme");
        assert!(Arc::ptr_eq(
            &tenant,
            &token.shared_claims::<Tenant>().expect("fits")
        ));
        let standard = token.shared_claims::<CognitoClaims>().expect("fits");
        assert_eq!(standard.username.as_deref(), Some("ann"));
    }

    #[test]
    fn a_payload_that_does_not_fit_is_an_error_every_time_and_takes_no_slot() {
        let token = token(r#"{"username":"ann"}"#);
        for _ in 0..(TYPED_SLOTS + 1) {
            assert!(token.shared_claims::<Tenant>().is_err());
        }
        assert!(token.typed.iter().all(|slot| slot.get().is_none()));
        assert!(token.shared_claims::<Name>().is_ok());
    }

    #[test]
    fn types_beyond_the_slots_are_deserialized_on_each_call() {
        #[derive(serde::Deserialize)]
        struct A {}
        #[derive(serde::Deserialize)]
        struct B {}
        #[derive(serde::Deserialize)]
        struct C {}
        #[derive(serde::Deserialize)]
        struct D {}
        let token = token(r#"{"username":"ann"}"#);
        token.shared_claims::<A>().expect("fits");
        token.shared_claims::<B>().expect("fits");
        token.shared_claims::<C>().expect("fits");
        token.shared_claims::<D>().expect("fits");
        let fifth = token.shared_claims::<Name>().expect("fits");
        let again = token.shared_claims::<Name>().expect("fits");
        assert!(!Arc::ptr_eq(&fifth, &again), "no slot left to keep it");
        assert_eq!(again.username, "ann");
    }

    #[test]
    fn threads_racing_for_slots_each_get_their_own_type() {
        let token = token(r#"{"username":"ann","custom:tenant":"acme"}"#);
        std::thread::scope(|scope| {
            for round in 0..8 {
                let token = &token;
                scope.spawn(move || {
                    if round % 2 == 0 {
                        assert_eq!(token.shared_claims::<Name>().expect("fits").username, "ann");
                    } else {
                        assert_eq!(
                            token.shared_claims::<Tenant>().expect("fits").tenant,
                            "acme"
                        );
                    }
                });
            }
        });
        let kept = token
            .typed
            .iter()
            .filter(|slot| slot.get().is_some())
            .count();
        assert!((2..=TYPED_SLOTS).contains(&kept), "{kept} slots used");
    }
}
