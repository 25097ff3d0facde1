//! The extractors: typed claims (required or optional), the verified token, id/access views,
//! groups and scopes.
//!
//! Each reads what [`CognitoAuth`](crate::CognitoAuth) left in the request extensions and asks
//! the core's [`RequestAuth`] for the rest.

use std::future::{Ready, ready};
use std::ops::Deref;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest};
use cognito_authz_core::{CognitoClaims, Names, RequestAuth, TokenUse, VerifiedToken};
use serde::de::DeserializeOwned;

use crate::middleware::AuthContext;
use crate::rejection::Rejection;

/// Runs `extract` over what the middleware left on `request`, or refuses with
/// [`RejectionKind::MissingMiddleware`](crate::RejectionKind::MissingMiddleware).
pub(crate) fn with_auth<T>(
    request: &HttpRequest,
    extractor: &'static str,
    extract: impl FnOnce(RequestAuth<'_>) -> Result<T, cognito_authz_core::Rejection>,
) -> Result<T, Rejection> {
    let extensions = request.extensions();
    let Some(context) = extensions.get::<Rc<AuthContext>>() else {
        return Err(cognito_authz_core::Rejection::missing_middleware(extractor).into());
    };
    let token = extensions.get::<Arc<VerifiedToken>>();
    let route = request.match_pattern();
    let auth = RequestAuth::new(token, context.realm.as_deref()).on_route(route.as_deref());
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

/// The verified token's payload deserialized into `T` (default: [`CognitoClaims`]),
/// `custom:*` attributes included, shared: deserialized once per token and type.
///
/// Refused with 401 without a token and 403 `forbidden` when the claims do not fit `T`. On
/// public routes take [`OptionalClaims`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims<T = CognitoClaims>(pub Arc<T>);

impl<T: Clone> Claims<T> {
    /// The claims as an owned `T` (cloned if the `Arc` is shared).
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

/// [`Claims<T>`] when the request has a token, `None` on a public route without one. Unlike
/// `Option<Claims<T>>` (which actix-web makes `None` on any rejection), claims that do not
/// fit `T` are still 403 and a missing middleware still 500.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OptionalClaims<T = CognitoClaims>(pub Option<Arc<T>>);

impl<T: Clone> OptionalClaims<T> {
    /// The claims as an owned `T`, if any.
    pub fn into_inner(self) -> Option<T> {
        self.0.map(Arc::unwrap_or_clone)
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> FromRequest for OptionalClaims<T> {
    type Error = Rejection;
    type Future = Ready<Result<Self, Rejection>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(with_auth(request, "OptionalClaims", |auth| {
            auth.optional_claims("OptionalClaims").map(OptionalClaims)
        }))
    }
}

/// The verified token itself, shared: every standard claim parsed and the raw payload.
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

extractor!([] Verified, "Verified", |auth, token| Ok(Verified(Arc::clone(token))));

/// A verified **id** token (`token_use = "id"`); an access token is refused with 403
/// `forbidden`, as the policy `token_use:id` would answer.
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

/// A verified **access** token (`token_use = "access"`); an id token is refused with 403
/// `forbidden`.
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

extractor!([] Groups, "Groups", |auth, token| Ok(Groups(Arc::clone(token))));

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

extractor!([] Scopes, "Scopes", |auth, token| Ok(Scopes(Arc::clone(token))));
