//! axum integration for cognito-authz: the authorization layer, extractors for the verified
//! token and its claims, policy guards, and per-route policies.
//!
//! Put [`AuthzLayer`] on the router (a whole route table from a policy file, or one policy),
//! then take what the handler needs as arguments:
//!
//! | extractor | gives | refuses with |
//! |---|---|---|
//! | [`Claims<T>`] | the payload as your type (default [`CognitoClaims`]), `custom:*` included, as a shared `Arc<T>` parsed once per token | 403 if it does not fit `T` |
//! | `Option<Claims<T>>` or [`OptionalClaims<T>`] | `None` when the request passed without a token (public routes) | as above |
//! | [`Verified`] | the shared [`VerifiedToken`] (standard claims parsed) | |
//! | [`IdToken`] / [`AccessToken`] | the token, if it is of that kind | 403 for the other kind |
//! | [`Groups`] / [`Scopes`] | `cognito:groups` / the scopes, as lists of names | |
//! | a [`policy_guard!`] type | nothing: admits or refuses by its expression | 403 `insufficient_scope` / `forbidden` |
//!
//! Without a token where one is needed (a handler on a `public` route) every extractor
//! answers 401 `Bearer`; without the layer, 500 with a message naming the layer to add.
//! Every refusal is a [`Rejection`] whose 401/403 responses are byte-identical to the
//! layer's (`docs/responses.md`).
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use cognito_authz_axum::{AuthzLayer, Claims, Groups, require};
//! use cognito_authz_core::{AcceptedTokenUse, Authorizer, Policy};
//! use cognito_authz_testkit::LocalIssuer;
//! use http::{Request, StatusCode};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let issuer = LocalIssuer::offline(); // a local Cognito-shaped pool for the example
//! let authorizer = Authorizer::builder()
//!     .verifier(issuer.verifier_builder(AcceptedTokenUse::Access).build()?)
//!     .route("/health", Policy::public())
//!     .unmatched(Policy::authenticated()) // every other route (the default is `deny`)
//!     .build()?;
//!
//! async fn me(Claims(claims): Claims, groups: Groups) -> String {
//!     format!("{} in {:?}", claims.username.as_deref().unwrap_or_default(), &*groups)
//! }
//!
//! let app = Router::new()
//!     .route("/me", get(me))
//!     // Per-route policy, parsed now: a bad expression fails here, before serving.
//!     .route("/admin", get(|| async { "admin area" }).route_layer(require(&authorizer, "group:admin")?))
//!     .route("/health", get(|| async { "ok" }))
//!     .layer(AuthzLayer::new(authorizer));
//!
//! let get = |path: &str, token: Option<&str>| {
//!     let mut request = Request::get(path);
//!     if let Some(token) = token {
//!         request = request.header("authorization", format!("Bearer {token}"));
//!     }
//!     request.body(Body::empty()).unwrap()
//! };
//! let alice = issuer.access_token().username("alice").groups(["admin"]).sign();
//! let bob = issuer.access_token().username("bob").sign();
//!
//! assert_eq!(app.clone().oneshot(get("/health", None)).await?.status(), StatusCode::OK);
//! assert_eq!(app.clone().oneshot(get("/me", None)).await?.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(app.clone().oneshot(get("/me", Some(&bob))).await?.status(), StatusCode::OK);
//! let denied = app.clone().oneshot(get("/admin", Some(&bob))).await?;
//! assert_eq!(denied.status(), StatusCode::FORBIDDEN);
//! assert_eq!(denied.headers()["www-authenticate"], r#"Bearer error="insufficient_scope""#);
//! assert_eq!(app.oneshot(get("/admin", Some(&alice))).await?.status(), StatusCode::OK);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Optional claims
//!
//! Every extractor reads what the layer left in the request extensions:
//!
//! | the layer left | `X` | `Option<X>` |
//! |---|---|---|
//! | a verified token | `X` | `Some(X)` |
//! | [`NoToken`] (a `public` route without a valid token) | 401 ([`RejectionKind::MissingToken`]) | `None` |
//! | nothing (no layer ran) | 500 ([`RejectionKind::MissingMiddleware`]) | 500 |
//!
//! `Option<Claims<T>>` (and `Option` of every other extractor) is `None` exactly when the
//! layer let the request through without a token: on a `public` route, a missing **or
//! invalid** token is ignored there (the core's rule), and a valid one is still offered.
//! On any other route the layer refuses missing and invalid tokens before the handler runs,
//! so the handler only ever sees `Some`. `Option` does not hide wiring bugs or mismatches: no
//! layer is still 500, and a token of the wrong shape or kind still 403.
//!
//! # Per-route policies
//!
//! [`require`] (or [`AuthzLayer::require`]) turns an expression into a layer for
//! `route_layer`, with the authorizer's verifier, token source and realm; `policy:NAME`
//! refers to the authorizer's named policies. It parses when called, so start-up fails on a
//! bad expression. On a route that also sits under a root layer, both decide (the second
//! verification of the same token is a cache hit when the verified-token cache is on).
//!
//! A per-route layer decides only the requests of what it wraps, and axum's
//! `MethodRouter::route_layer` wraps only the methods the method router has when it is
//! called, never its `fallback`:
//!
//! | wiring | undecided |
//! |---|---|
//! | `get(h).route_layer(require(..)).post(p)` | `POST` (runs `p`) |
//! | `get(h).fallback(f).route_layer(require(..))` | every method but `GET` (runs `f`) |
//! | `get(h).post(p).route_layer(require(..))` | nothing |
//! | `get(h).fallback(f).layer(require(..))` | nothing |
//! | `Router::new().route("/x", get(h).fallback(f)).route_layer(require(..))`, merged | nothing |
//!
//! So call `route_layer(require(..))` after the last method; on a method router with a
//! `fallback` (or built with `any`) use `.layer(require(..))`, which wraps the fallback too, or
//! put the routes in a router of their own and call `Router::route_layer` on it.
//!
//! # Where to put the layer
//!
//! The layer looks the policy up on the client's path (axum's `OriginalUri`), so the policy
//! file is written in client paths even for a layer inside `nest`/`nest_service`. Call
//! `Router::layer` **after** every `route`, `nest` and `merge`: axum applies a layer only to
//! what was added before it. A CORS layer goes outside (a later `.layer(CorsLayer…)`), so it
//! answers preflights; the authorization layer decides every `OPTIONS` like any request.
//!
//! `Router::layer(AuthzLayer::new(..))` is the usual form. axum boxes every route's service
//! once more per layer added that way, and clones it on every request: a layer that does
//! nothing at all already makes a minimal request about a tenth slower here. Wrapping the
//! finished router instead, `AuthzLayer::new(..).layer(router)` (served with
//! `axum::ServiceExt::into_make_service`), skips that and behaves the same for the
//! extractors. `benches/http.rs` measures both, and that do-nothing layer.
//!
//! # Custom responses
//!
//! [`AuthzLayer::responder`] replaces the layer's denial bodies. Extractor rejections are
//! [`Rejection`]s; to change their bodies, wrap the extractor in your own (axum's usual
//! pattern) or map responses with middleware.
#![forbid(unsafe_code)]

mod extract;
mod guard;
mod rejection;

pub use cognito_authz_core::{
    Authorizer, AuthorizerBuilder, CognitoClaims, GuardError, Policy, PolicyGuard, RejectionKind,
    TokenUse, VerifiedToken, validate_guards,
};
pub use cognito_authz_tower::{
    Authz, AuthzLayer, DefaultResponder, NoToken, Realm, Responder, ResponseFuture,
};

/// A layer for one route (`route_layer`) that applies the policy `expression` with
/// `authorizer`'s verifier, token source and realm; see [`AuthzLayer::require`].
///
/// On a method router, add it after the last method: `MethodRouter::route_layer` wraps only
/// the methods present when it is called and never a `fallback` (use `.layer(..)` there); see
/// the crate docs' "Per-route policies".
///
/// ```
/// # use cognito_authz_core::{AcceptedTokenUse, Authorizer, Policy};
/// # let issuer = cognito_authz_testkit::LocalIssuer::offline();
/// # let verifier = issuer.verifier_builder(AcceptedTokenUse::Any).build()?;
/// # let authorizer = Authorizer::builder().verifier(verifier).unmatched(Policy::authenticated()).build()?;
/// use axum::{Router, routing::get};
/// use cognito_authz_axum::require;
///
/// let app: Router = Router::new()
///     .route("/admin", get(|| async { "admin" }))
///     .route_layer(require(&authorizer, "group:admin and token_use:id")?);
/// assert!(require(&authorizer, "group:admin and").is_err()); // fails at start-up
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// The expression does not parse or compile.
pub fn require(authorizer: &Authorizer, expression: &str) -> Result<AuthzLayer, GuardError> {
    AuthzLayer::new(authorizer.clone()).require(expression)
}

cognito_authz_core::__adapter_types!();

#[doc(hidden)]
pub mod __private {
    //! Paths used by [`policy_guard!`](crate::policy_guard); not a public API.
    pub use crate::guard::guard;
    pub use axum_core::extract::FromRequestParts;
    pub use cognito_authz_core::__policy_guard_type;
    pub use http::request::Parts;
}
