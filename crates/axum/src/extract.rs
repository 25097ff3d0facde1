//! The extractors: typed claims, the raw verified token, id/access views, groups and scopes.
//!
//! Each reads what [`AuthzLayer`](crate::AuthzLayer) left in the request extensions and asks
//! the core's [`RequestAuth`] for the rest; the crate docs ("Optional claims") tabulate the
//! outcomes.

use std::future::{Future, ready};
use std::ops::Deref;
use std::sync::Arc;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use cognito_authz_core::{CognitoClaims, Names, RequestAuth, TokenUse, VerifiedToken};
use cognito_authz_tower::{NoToken, Realm};
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::rejection::Rejection;

/// What the layer left on the request, or [`RejectionKind::MissingMiddleware`](crate::RejectionKind::MissingMiddleware).
pub(crate) fn request_auth<'a>(
    parts: &'a Parts,
    extractor: &'static str,
) -> Result<RequestAuth<'a>, Rejection> {
    let token = parts.extensions.get::<Arc<VerifiedToken>>();
    if token.is_none() && parts.extensions.get::<NoToken>().is_none() {
        return Err(cognito_authz_core::Rejection::missing_middleware(extractor).into());
    }
    let realm = parts.extensions.get::<Realm>().map(Realm::as_str);
    Ok(RequestAuth::new(token, realm))
}

/// Implements `FromRequestParts` (needs a token) and `OptionalFromRequestParts` (`None`
/// without one) for an extractor made from the verified token by `$convert`.
macro_rules! extractor {
    ([$($generics:tt)*] $ty:ty, $name:literal, |$auth:ident, $token:ident| $convert:expr) => {
        impl<S, $($generics)*> FromRequestParts<S> for $ty
        where
            S: Send + Sync,
        {
            type Rejection = Rejection;

            fn from_request_parts(
                parts: &mut Parts,
                _state: &S,
            ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send {
                let convert = |$auth: &RequestAuth<'_>, $token: &Arc<VerifiedToken>| -> Result<Self, cognito_authz_core::Rejection> { $convert };
                ready(request_auth(parts, $name).and_then(|auth| {
                    let token = auth.required($name)?;
                    Ok(convert(&auth, token)?)
                }))
            }
        }

        impl<S, $($generics)*> OptionalFromRequestParts<S> for $ty
        where
            S: Send + Sync,
        {
            type Rejection = Rejection;

            fn from_request_parts(
                parts: &mut Parts,
                _state: &S,
            ) -> impl Future<Output = Result<Option<Self>, Self::Rejection>> + Send {
                let convert = |$auth: &RequestAuth<'_>, $token: &Arc<VerifiedToken>| -> Result<Self, cognito_authz_core::Rejection> { $convert };
                ready(request_auth(parts, $name).and_then(|auth| {
                    Ok(auth.token().map(|token| convert(&auth, token)).transpose()?)
                }))
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
/// is 403 `forbidden` ([`RejectionKind::InvalidClaims`](crate::RejectionKind::InvalidClaims)).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims<T = CognitoClaims>(pub Arc<T>);

impl<T: Clone> Claims<T> {
    /// The claims by value (cloned if the `Arc` is shared).
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

extractor!([T: DeserializeOwned + Send + Sync + 'static] Claims<T>, "Claims", |auth, token| auth.claims("Claims", token).map(Claims));

/// [`Claims<T>`] when the request has a token, `None` on a `public` route without one (the
/// same as `Option<Claims<T>>`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OptionalClaims<T = CognitoClaims>(pub Option<Arc<T>>);

impl<T: Clone> OptionalClaims<T> {
    /// The claims by value, if any.
    pub fn into_inner(self) -> Option<T> {
        self.0.map(Arc::unwrap_or_clone)
    }
}

impl<S, T> FromRequestParts<S> for OptionalClaims<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send + Sync + 'static,
{
    type Rejection = Rejection;

    fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send {
        ready(
            request_auth(parts, "OptionalClaims")
                .and_then(|auth| Ok(OptionalClaims(auth.optional_claims("OptionalClaims")?))),
        )
    }
}

/// The verified token itself, shared: every standard claim parsed
/// ([`VerifiedToken::username`], [`VerifiedToken::groups`], …) and the raw payload.
#[derive(Debug, Clone)]
pub struct Verified(pub Arc<VerifiedToken>);

impl Verified {
    /// The shared token.
    pub fn into_inner(self) -> Arc<VerifiedToken> {
        self.0
    }
}

impl Deref for Verified {
    type Target = VerifiedToken;

    fn deref(&self) -> &VerifiedToken {
        &self.0
    }
}

extractor!([] Verified, "Verified", |_auth, token| Ok(Verified(Arc::clone(token))));

/// The verified token if it is an **id** token; 403 `forbidden` for an access token.
#[derive(Debug, Clone)]
pub struct IdToken(pub Arc<VerifiedToken>);

impl IdToken {
    /// The shared token.
    pub fn into_inner(self) -> Arc<VerifiedToken> {
        self.0
    }
}

impl Deref for IdToken {
    type Target = VerifiedToken;

    fn deref(&self) -> &VerifiedToken {
        &self.0
    }
}

extractor!([] IdToken, "IdToken", |auth, _token| auth.of_use("IdToken", TokenUse::Id).map(|token| IdToken(Arc::clone(token))));

/// The verified token if it is an **access** token; 403 `forbidden` for an id token.
#[derive(Debug, Clone)]
pub struct AccessToken(pub Arc<VerifiedToken>);

impl AccessToken {
    /// The shared token.
    pub fn into_inner(self) -> Arc<VerifiedToken> {
        self.0
    }
}

impl Deref for AccessToken {
    type Target = VerifiedToken;

    fn deref(&self) -> &VerifiedToken {
        &self.0
    }
}

extractor!([] AccessToken, "AccessToken", |auth, _token| auth.of_use("AccessToken", TokenUse::Access).map(|token| AccessToken(Arc::clone(token))));

/// The token's `cognito:groups`, dereferencing to [`Names`].
#[derive(Debug, Clone)]
pub struct Groups(Arc<VerifiedToken>);

impl Groups {
    /// Whether the token is in `group`.
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

extractor!([] Groups, "Groups", |_auth, token| Ok(Groups(Arc::clone(token))));

/// The token's scopes (`scope` split on spaces), dereferencing to [`Names`].
#[derive(Debug, Clone)]
pub struct Scopes(Arc<VerifiedToken>);

impl Scopes {
    /// Whether the token has `scope`.
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

extractor!([] Scopes, "Scopes", |_auth, token| Ok(Scopes(Arc::clone(token))));
