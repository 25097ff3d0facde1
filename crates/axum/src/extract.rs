//! The extractors' `FromRequestParts` implementations (the types are the core's shared ones,
//! declared in the crate root). Each reads what [`AuthzLayer`](crate::AuthzLayer) left in the request extensions and asks
//! the core's [`RequestAuth`] for the rest; the crate docs ("Optional claims") tabulate the
//! outcomes.

use std::future::{Future, ready};
use std::sync::Arc;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use cognito_authz_core::{RequestAuth, TokenUse, VerifiedToken};
use cognito_authz_tower::{NoToken, Realm};
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::{AccessToken, Claims, Groups, IdToken, OptionalClaims, Rejection, Scopes, Verified};

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

extractor!([T: DeserializeOwned + Send + Sync + 'static] Claims<T>, "Claims", |auth, token| auth.claims("Claims", token).map(Claims));
extractor!([] Verified, "Verified", |_auth, token| Ok(Verified(Arc::clone(token))));
extractor!([] IdToken, "IdToken", |auth, _token| auth.of_use("IdToken", TokenUse::Id).map(|token| IdToken(Arc::clone(token))));
extractor!([] AccessToken, "AccessToken", |auth, _token| auth.of_use("AccessToken", TokenUse::Access).map(|token| AccessToken(Arc::clone(token))));
extractor!([] Groups, "Groups", |_auth, token| Ok(Groups(Arc::clone(token))));
extractor!([] Scopes, "Scopes", |_auth, token| Ok(Scopes(Arc::clone(token))));

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
