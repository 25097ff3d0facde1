//! The extractors: typed claims, the raw verified token, id/access views, groups and scopes.
//!
//! Each reads what [`AuthzLayer`](crate::AuthzLayer) left in the request extensions; the
//! crate docs ("Optional claims") tabulate the outcomes.

use std::any::type_name;
use std::future::{Future, ready};
use std::ops::Deref;
use std::sync::Arc;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use cognito_authz_core::{CognitoClaims, Names, TokenUse, VerifiedToken};
use cognito_authz_tower::{NoToken, Realm};
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::rejection::{AuthzRejection, InvalidClaims, MissingLayer, MissingToken, WrongTokenUse};

/// The verified token the layer left, `None` for [`NoToken`], or [`MissingLayer`].
pub(crate) fn lookup(parts: &Parts) -> Result<Option<&Arc<VerifiedToken>>, AuthzRejection> {
    if let Some(token) = parts.extensions.get::<Arc<VerifiedToken>>() {
        return Ok(Some(token));
    }
    if parts.extensions.get::<NoToken>().is_some() {
        return Ok(None);
    }
    Err(MissingLayer.into())
}

pub(crate) fn realm(parts: &Parts) -> Option<Realm> {
    parts.extensions.get::<Realm>().cloned()
}

/// The verified token, or a rejection when there is none.
pub(crate) fn required(parts: &Parts) -> Result<&Arc<VerifiedToken>, AuthzRejection> {
    lookup(parts)?.ok_or_else(|| {
        MissingToken {
            realm: realm(parts),
        }
        .into()
    })
}

/// Implements both extractor traits from one function of the token.
macro_rules! extractor {
    ($(#[$attr:meta])* [$($generics:tt)*] $ty:ty, |$parts:ident, $token:ident| $convert:expr) => {
        impl<S, $($generics)*> FromRequestParts<S> for $ty
        where
            S: Send + Sync,
        {
            type Rejection = AuthzRejection;

            fn from_request_parts(
                parts: &mut Parts,
                _state: &S,
            ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send {
                let convert = |$parts: &Parts, $token: &Arc<VerifiedToken>| -> Result<Self, AuthzRejection> { $convert };
                ready(required(parts).and_then(|token| convert(parts, token)))
            }
        }

        impl<S, $($generics)*> OptionalFromRequestParts<S> for $ty
        where
            S: Send + Sync,
        {
            type Rejection = AuthzRejection;

            fn from_request_parts(
                parts: &mut Parts,
                _state: &S,
            ) -> impl Future<Output = Result<Option<Self>, Self::Rejection>> + Send {
                let convert = |$parts: &Parts, $token: &Arc<VerifiedToken>| -> Result<Self, AuthzRejection> { $convert };
                ready(lookup(parts).and_then(|token| token.map(|token| convert(parts, token)).transpose()))
            }
        }
    };
}

/// The verified token's payload deserialized into `T` (default: [`CognitoClaims`]), `custom:*`
/// attributes included.
///
/// The value is shared: it is deserialized once per token and type and kept with the verified
/// token ([`VerifiedToken::shared_claims`]), so with the verifier's verified-token cache a
/// repeated token's claims cost a reference count, not a parse. Read fields through the `Arc`
/// (`claims.username`), clone what you keep, or take `T` with [`Claims::into_inner`].
///
/// ```
/// use cognito_authz_axum::Claims;
///
/// #[derive(serde::Deserialize)]
/// struct MyClaims {
///     username: String,
///     #[serde(rename = "custom:tenant")]
///     tenant: Option<String>,
/// }
///
/// async fn me(Claims(claims): Claims<MyClaims>) -> String {
///     format!("{} of {}", claims.username, claims.tenant.as_deref().unwrap_or("no tenant"))
/// }
///
/// // Optional on public routes: `None` without a (valid) token.
/// async fn home(claims: Option<Claims>) -> String {
///     match claims.as_ref().and_then(|claims| claims.username.as_deref()) {
///         Some(name) => format!("welcome back, {name}"),
///         None => "welcome".to_owned(),
///     }
/// }
/// # let _: axum::Router = axum::Router::new()
/// #     .route("/me", axum::routing::get(me))
/// #     .route("/", axum::routing::get(home));
/// ```
///
/// Rejections: see [the crate docs](crate#optional-claims); a payload that does not fit `T`
/// is 403 [`InvalidClaims`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims<T = CognitoClaims>(pub Arc<T>);

impl<T: Clone> Claims<T> {
    /// The claims as an owned `T`: moved out when no one else holds them, cloned otherwise
    /// (as they are while the token sits in the verified-token cache).
    pub fn into_inner(self) -> T {
        Arc::unwrap_or_clone(self.0)
    }
}

impl<T> Deref for Claims<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// [`VerifiedToken::shared_claims`] (deserialized once per token and type, kept with the cached
/// token), with a rejection that logs only the type and the error category, never claim values.
fn decode<T>(parts: &Parts, token: &VerifiedToken) -> Result<Arc<T>, AuthzRejection>
where
    T: DeserializeOwned + Send + Sync + 'static,
{
    token.shared_claims::<T>().map_err(|error| {
        let category = match error.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "data",
            serde_json::error::Category::Eof => "eof",
        };
        // serde's message can quote the token's values: log only the type and category.
        tracing::debug!(
            claims_type = type_name::<T>(),
            category,
            "verified token does not fit the claims type"
        );
        InvalidClaims {
            type_name: type_name::<T>(),
            category,
            realm: realm(parts),
        }
        .into()
    })
}

extractor!([T: DeserializeOwned + Send + Sync + 'static] Claims<T>, |parts, token| decode(parts, token).map(Claims));

/// The verified token itself, shared: every standard claim parsed
/// ([`VerifiedToken::username`], [`VerifiedToken::groups`], …) and the raw payload.
#[derive(Debug, Clone)]
pub struct Verified(pub Arc<VerifiedToken>);

impl Deref for Verified {
    type Target = VerifiedToken;

    fn deref(&self) -> &VerifiedToken {
        &self.0
    }
}

extractor!([] Verified, |_parts, token| Ok(Verified(Arc::clone(token))));

/// A verified **id** token (`token_use = "id"`); an access token is refused with 403
/// [`WrongTokenUse`].
#[derive(Debug, Clone)]
pub struct IdToken(pub Arc<VerifiedToken>);

impl Deref for IdToken {
    type Target = VerifiedToken;

    fn deref(&self) -> &VerifiedToken {
        &self.0
    }
}

fn of_kind(
    parts: &Parts,
    token: &Arc<VerifiedToken>,
    expected: TokenUse,
) -> Result<Arc<VerifiedToken>, AuthzRejection> {
    if token.token_use() == Some(expected) {
        Ok(Arc::clone(token))
    } else {
        Err(WrongTokenUse {
            expected,
            realm: realm(parts),
        }
        .into())
    }
}

extractor!([] IdToken, |parts, token| of_kind(parts, token, TokenUse::Id).map(IdToken));

/// A verified **access** token (`token_use = "access"`); an id token is refused with 403
/// [`WrongTokenUse`].
#[derive(Debug, Clone)]
pub struct AccessToken(pub Arc<VerifiedToken>);

impl Deref for AccessToken {
    type Target = VerifiedToken;

    fn deref(&self) -> &VerifiedToken {
        &self.0
    }
}

extractor!([] AccessToken, |parts, token| of_kind(parts, token, TokenUse::Access).map(AccessToken));

/// The token's `cognito:groups` (empty when absent), as a list of names ([`Names`]).
#[derive(Debug, Clone)]
pub struct Groups(Arc<VerifiedToken>);

impl Groups {
    /// Whether the user is in `group`.
    pub fn contains(&self, group: &str) -> bool {
        self.0.in_group(group)
    }
}

impl Deref for Groups {
    type Target = Names;

    fn deref(&self) -> &Names {
        self.0.groups()
    }
}

extractor!([] Groups, |_parts, token| Ok(Groups(Arc::clone(token))));

/// The token's scopes (`scope` split on spaces, sorted, deduplicated), as a list of names
/// ([`Names`]).
#[derive(Debug, Clone)]
pub struct Scopes(Arc<VerifiedToken>);

impl Scopes {
    /// Whether the token grants `scope` (exact, case-sensitive).
    pub fn contains(&self, scope: &str) -> bool {
        self.0.has_scope(scope)
    }
}

impl Deref for Scopes {
    type Target = Names;

    fn deref(&self) -> &Names {
        self.0.scopes()
    }
}

extractor!([] Scopes, |_parts, token| Ok(Scopes(Arc::clone(token))));
