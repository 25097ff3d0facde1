//! Extractors that hand the verified token to handlers: typed claims, optional claims, id and
//! access token views, groups, scopes and the raw token.
//!
//! Each reads what [`CognitoAuth`](crate::CognitoAuth) put into the request extensions, so it
//! costs a lookup (typed claims are deserialized once per token and type, then shared). Without the middleware they
//! answer 500 naming what to add; without a token (a public route) 401 `missing_token`.

use std::future::{Ready, ready};
use std::ops::Deref;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest};
use cognito_authz_core::{CognitoClaims, ErrorKind, Names, TokenUse, VerifiedToken};
use serde::de::DeserializeOwned;

use crate::middleware::AuthContext;
use crate::rejection::{Denied, MissingMiddleware, Rejection};

/// What the middleware left for this request: `Ok(None)` when it ran without a token.
pub(crate) fn found(
    request: &HttpRequest,
    extractor: &'static str,
) -> Result<(Option<Arc<VerifiedToken>>, Rc<AuthContext>), Rejection> {
    let extensions = request.extensions();
    let Some(context) = extensions.get::<Rc<AuthContext>>() else {
        tracing::error!(
            extractor,
            path = request.path(),
            "no CognitoAuth middleware ran for this request"
        );
        return Err(Rejection::MissingMiddleware(MissingMiddleware::new(
            extractor,
        )));
    };
    let token = extensions.get::<Arc<VerifiedToken>>().cloned();
    Ok((token, Rc::clone(context)))
}

/// The verified token, or the rejection for its absence.
pub(crate) fn verified(
    request: &HttpRequest,
    extractor: &'static str,
) -> Result<(Arc<VerifiedToken>, Rc<AuthContext>), Rejection> {
    match found(request, extractor)? {
        (Some(token), context) => Ok((token, context)),
        (None, context) => Err(deny(
            request,
            &context,
            ErrorKind::MissingToken,
            &[],
            format!("`{extractor}` needs a token and the request has none"),
        )),
    }
}

/// A denial from an extractor, logged at `debug` like the middleware's.
pub(crate) fn deny(
    request: &HttpRequest,
    context: &AuthContext,
    kind: ErrorKind,
    scopes: &[String],
    reason: String,
) -> Rejection {
    tracing::debug!(
        code = kind.code(),
        route = request.match_pattern().as_deref().unwrap_or("<unmatched>"),
        method = %request.method(),
        reason = %reason,
        "request denied by an extractor"
    );
    Rejection::Denied(Denied::new(kind, context.response(kind, scopes), reason))
}

/// [`VerifiedToken::shared_claims`] (deserialized once per token and type, kept with the cached
/// token), with a rejection that logs only the type and the error's place, never claim values.
fn deserialize<T>(
    request: &HttpRequest,
    context: &AuthContext,
    token: &VerifiedToken,
) -> Result<Arc<T>, Rejection>
where
    T: DeserializeOwned + Send + Sync + 'static,
{
    token.shared_claims::<T>().map_err(|error| {
        // The serde message may quote claim values; the log gets the kind and place only.
        deny(
            request,
            context,
            ErrorKind::Forbidden,
            &[],
            format!(
                "the token's claims do not fit `{}` ({:?} error at column {})",
                std::any::type_name::<T>(),
                error.classify(),
                error.column()
            ),
        )
    })
}

/// The verified token's claims deserialized into `T` (default [`CognitoClaims`]; use your own
/// struct for `custom:*` attributes).
///
/// Rejections: no middleware → 500; no token (public route) → 401 `missing_token`; claims
/// that do not deserialize into `T` → 403 `forbidden` (the token is valid, but not one this
/// handler can serve). Use `Option<Claims<T>>` on public routes (actix-web turns any
/// rejection into `None`) or [`OptionalClaims`] (which still answers 500 without middleware).
///
/// The value is shared: it is deserialized once per token and type and kept with the verified
/// token ([`VerifiedToken::shared_claims`]), so with the verifier's verified-token cache a
/// repeated token's claims cost a reference count, not a parse. Read fields through the `Arc`
/// (`claims.sub`), clone what you keep, or take `T` with [`Claims::into_inner`].
///
/// ```
/// use actix_web::Responder;
/// use cognito_authz_actix::Claims;
///
/// #[derive(serde::Deserialize)]
/// struct Tenant {
///     sub: String,
///     #[serde(rename = "custom:tenant")]
///     tenant: String,
/// }
///
/// async fn handler(Claims(claims): Claims<Tenant>) -> impl Responder {
///     format!("{} of {}", claims.sub, claims.tenant)
/// }
/// ```
#[derive(Debug, Clone)]
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

impl<T: DeserializeOwned + Send + Sync + 'static> FromRequest for Claims<T> {
    type Error = Rejection;
    type Future = Ready<Result<Self, Rejection>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            verified(request, "Claims")
                .and_then(|(token, context)| deserialize(request, &context, &token).map(Claims)),
        )
    }
}

/// Claims when the request carried a valid token, `None` when it carried none (public routes,
/// where invalid tokens are ignored too).
///
/// Unlike `Option<Claims<T>>`, which actix-web turns into `None` on any rejection, this still
/// answers 500 without the middleware and 403 when a token's claims do not fit `T`.
#[derive(Debug, Clone)]
pub struct OptionalClaims<T = CognitoClaims>(pub Option<Arc<T>>);

impl<T: Clone> OptionalClaims<T> {
    /// The claims, if any, as an owned `T` (see [`Claims::into_inner`]).
    pub fn into_inner(self) -> Option<T> {
        self.0.map(Arc::unwrap_or_clone)
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> FromRequest for OptionalClaims<T> {
    type Error = Rejection;
    type Future = Ready<Result<Self, Rejection>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            found(request, "OptionalClaims").and_then(|(token, context)| match token {
                Some(token) => deserialize(request, &context, &token).map(|t| Self(Some(t))),
                None => Ok(Self(None)),
            }),
        )
    }
}

/// The verified token itself (standard claims parsed, the payload for anything else).
///
/// Rejections: no middleware → 500; no token → 401 `missing_token`.
#[derive(Debug, Clone)]
pub struct Token(pub Arc<VerifiedToken>);

impl Token {
    /// The shared token.
    pub fn into_inner(self) -> Arc<VerifiedToken> {
        self.0
    }
}

impl Deref for Token {
    type Target = VerifiedToken;

    fn deref(&self) -> &VerifiedToken {
        &self.0
    }
}

impl FromRequest for Token {
    type Error = Rejection;
    type Future = Ready<Result<Self, Rejection>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(verified(request, "Token").map(|(token, _)| Token(token)))
    }
}

fn of_kind(
    request: &HttpRequest,
    extractor: &'static str,
    wanted: TokenUse,
) -> Result<Arc<VerifiedToken>, Rejection> {
    let (token, context) = verified(request, extractor)?;
    if token.token_use() == Some(wanted) {
        Ok(token)
    } else {
        // As the policy `token_use:id` (or `:access`) would answer: 403 `forbidden`.
        Err(deny(
            request,
            &context,
            ErrorKind::Forbidden,
            &[],
            format!("`{extractor}` needs token_use {wanted}"),
        ))
    }
}

/// A verified **id** token (`token_use = "id"`: identity claims, `aud` = app client).
///
/// Rejections: no middleware → 500; no token → 401 `missing_token`; an access token → 403
/// `forbidden` (as the policy `token_use:id` would answer).
#[derive(Debug, Clone)]
pub struct IdToken(Arc<VerifiedToken>);

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

impl FromRequest for IdToken {
    type Error = Rejection;
    type Future = Ready<Result<Self, Rejection>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(of_kind(request, "IdToken", TokenUse::Id).map(IdToken))
    }
}

/// A verified **access** token (`token_use = "access"`: scopes, `client_id`).
///
/// Rejections: no middleware → 500; no token → 401 `missing_token`; an id token → 403
/// `forbidden` (as the policy `token_use:access` would answer).
#[derive(Debug, Clone)]
pub struct AccessToken(Arc<VerifiedToken>);

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

impl FromRequest for AccessToken {
    type Error = Rejection;
    type Future = Ready<Result<Self, Rejection>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(of_kind(request, "AccessToken", TokenUse::Access).map(AccessToken))
    }
}

/// The token's `cognito:groups`, in token order (empty when absent).
///
/// Rejections: no middleware → 500; no token → 401 `missing_token`.
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

impl FromRequest for Groups {
    type Error = Rejection;
    type Future = Ready<Result<Self, Rejection>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(verified(request, "Groups").map(|(token, _)| Groups(token)))
    }
}

/// The token's scopes (`scope` split on spaces), sorted and deduplicated.
///
/// Rejections: no middleware → 500; no token → 401 `missing_token`.
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

impl FromRequest for Scopes {
    type Error = Rejection;
    type Future = Ready<Result<Self, Rejection>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(verified(request, "Scopes").map(|(token, _)| Scopes(token)))
    }
}
