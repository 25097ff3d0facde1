//! The extractors' `FromRequest` implementations (the types are the core's shared ones,
//! declared in the crate root). Each reads what [`CognitoAuth`](crate::CognitoAuth) left in the request extensions and asks
//! the core's [`RequestAuth`] for the rest.

use std::future::{Ready, ready};
use std::rc::Rc;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest};
use cognito_authz_core::{RequestAuth, TokenUse, VerifiedToken};
use serde::de::DeserializeOwned;

use crate::middleware::AuthContext;
use crate::{AccessToken, Claims, Groups, IdToken, OptionalClaims, Rejection, Scopes, Verified};

/// Runs `extract` over what the middleware left on `request`, or refuses with
/// [`RejectionKind::MissingMiddleware`](crate::RejectionKind::MissingMiddleware).
pub(crate) fn with_auth<T>(
    request: &HttpRequest,
    extractor: &'static str,
    extract: impl FnOnce(RequestAuth<'_>) -> Result<T, cognito_authz_core::Rejection>,
) -> Result<T, Rejection> {
    let extensions = request.extensions();
    let context = extensions.get::<Rc<AuthContext>>();
    let token = extensions.get::<Arc<VerifiedToken>>();
    // The middleware leaves a token, its context, or both.
    if context.is_none() && token.is_none() {
        return Err(cognito_authz_core::Rejection::missing_middleware(extractor).into());
    }
    let realm = context.and_then(|context| context.realm.as_deref());
    // The pattern's text is built only for a refusal's log line.
    let route = || request.match_pattern();
    let auth = RequestAuth::new(token, realm).on_route_lazily(&route);
    Ok(extract(auth)?)
}

/// Implements `FromRequest` for an extractor made from the verified token by `$convert`.
macro_rules! extractor {
    ([$($generics:tt)*] $ty:ty, $name:literal, |$auth:ident, $token:ident| $convert:expr) => {
        impl<$($generics)*> FromRequest for $ty {
            type Error = Rejection;
            type Future = Ready<Result<Self, Rejection>>;

            fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
                ready(with_auth(request, $name, |$auth| {
                    let $token = $auth.required($name)?;
                    $convert
                }))
            }
        }
    };
}

cognito_authz_core::__for_each_extractor!(extractor);

impl<T: DeserializeOwned + Send + Sync + 'static> FromRequest for OptionalClaims<T> {
    type Error = Rejection;
    type Future = Ready<Result<Self, Rejection>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(with_auth(request, "OptionalClaims", |auth| {
            auth.optional_claims("OptionalClaims").map(OptionalClaims)
        }))
    }
}
