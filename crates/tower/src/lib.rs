//! A tower layer that authorizes every request against AWS Cognito user-pool tokens and a
//! route table, before the inner service sees it.
//!
//! [`AuthzLayer`] wraps any service over [`http::Request<B>`]: axum routers, tonic servers,
//! hyper services, `lambda_http` handlers. For each request it calls
//! [`Authorizer::authorize`](cognito_authz_core::Authorizer::authorize) with the method, path and
//! headers, then:
//!
//! - **allowed**: inserts the verified token into the request extensions as
//!   `Arc<VerifiedToken>` (or [`NoToken`] when the request passed without one: a public
//!   route) and calls the inner service;
//! - **denied**: answers the denial's response (`docs/responses.md`: 400/401/403/503 with the exact
//!   `WWW-Authenticate` challenge and a small JSON body) without calling the inner service.
//!   Replace the body with your own [`Responder`].
//!
//! A denial is a response, not an error: `Authz<S>` keeps `type Error = S::Error`.
//!
//! With a token source that reads a cookie, a state-changing request that another site may
//! have made the browser send is refused with `cross_site_request` (403, no challenge) before
//! the token is verified; see
//! [`TokenSource::check_cross_site`](cognito_authz_core::TokenSource::check_cross_site).
//!
//! ```
//! use std::convert::Infallible;
//! use std::sync::Arc;
//!
//! use cognito_authz_core::{AcceptedTokenUse, Authorizer, Policy, VerifiedToken};
//! use cognito_authz_testkit::LocalIssuer;
//! use cognito_authz_tower::AuthzLayer;
//! use http::{Request, Response, StatusCode};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // A local Cognito-shaped issuer (offline: its keys go into the configuration).
//! let issuer = LocalIssuer::offline();
//! let authorizer = Authorizer::builder()
//!     .verifier(issuer.verifier_builder(AcceptedTokenUse::Access).build()?)
//!     .route("/health", Policy::public())
//!     .route("/admin/{*rest}", "group:admin".parse()?)
//!     .build()?;
//!
//! // Any service over http::Request works; here a plain function over String bodies.
//! let service = ServiceBuilder::new()
//!     .layer(AuthzLayer::new(authorizer))
//!     .service_fn(|request: Request<String>| async move {
//!         let user = request
//!             .extensions()
//!             .get::<Arc<VerifiedToken>>()
//!             .and_then(|token| token.username())
//!             .unwrap_or("anonymous")
//!             .to_owned();
//!         Ok::<_, Infallible>(Response::new(format!("hello {user}")))
//!     });
//!
//! // Public route, no token: the service runs.
//! let response = service.clone().oneshot(Request::get("/health").body(String::new())?).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.body(), "hello anonymous");
//!
//! // No token on a protected route: 401 with a plain Bearer challenge.
//! let response = service.clone().oneshot(Request::get("/admin/users").body(String::new())?).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(response.headers()["www-authenticate"], "Bearer");
//! assert_eq!(response.body(), r#"{"message":"Unauthorized"}"#);
//!
//! // A valid token without the group: 403.
//! let bob = issuer.access_token().username("bob").sign();
//! let request = Request::get("/admin/users")
//!     .header("authorization", format!("Bearer {bob}"))
//!     .body(String::new())?;
//! let response = service.clone().oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! assert_eq!(response.headers()["www-authenticate"], r#"Bearer error="insufficient_scope""#);
//!
//! // An admin: the service runs and sees the verified token.
//! let alice = issuer.access_token().username("alice").groups(["admin"]).sign();
//! let request = Request::get("/admin/users")
//!     .header("authorization", format!("Bearer {alice}"))
//!     .body(String::new())?;
//! let response = service.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.body(), "hello alice");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Per-route policies
//!
//! [`AuthzLayer::require`] derives a layer that applies one policy expression to every request
//! it sees, with the same verifier, token source and realm; the expression is parsed when the
//! layer is built, so a bad one fails at start-up. Put it on a route (axum's `route_layer`),
//! a tonic service, or a sub-router.
//!
//! # gRPC (feature `tonic`)
//!
//! [`AuthzLayer::grpc`] answers denials the way gRPC clients understand them: a trailers-only
//! response whose `grpc-status` is the gRPC code of the denial's HTTP status (401 →
//! `UNAUTHENTICATED`, 403 → `PERMISSION_DENIED`, 400 → `INVALID_ARGUMENT`, 503 →
//! `UNAVAILABLE`), whose `grpc-message` is the error code, with the `WWW-Authenticate`
//! challenge as metadata ([`GrpcResponder`], [`grpc_status`]). Put it on a whole tonic server
//! with `Server::builder().layer(..)`, or on one service with tonic's
//! `LayerExt::named_layer`. Route patterns name methods by their path,
//! `/package.Service/Method`.
//!
//! # lambda_http (feature `lambda-http`)
//!
//! For requests lambda_http built from an API Gateway event, the route table is matched on
//! the path without the stage lambda_http puts in front of it (`/prod/admin/users` is matched
//! as `/admin/users`); [`lambda_policy_path`] gives a handler the same path, and
//! [`AuthzLayer::stage_path`] chooses otherwise. ALB and function URL events are matched on
//! their path as sent. The event's raw path, read the same way, guards the request too:
//! lambda_http resolves `..` segments as it builds the URI, and such a request is refused with
//! 400 (see [`StagePath`]).
//!
//! # What it costs
//!
//! On a token in the verifier's verified-token cache the decision is ready on the first poll:
//! the layer polls it inline in `call` and allocates nothing for it. Only a decision that has
//! to wait (the issuer's key set is being fetched) is boxed and the request moved into it,
//! with the inner service cloned and swapped the way tower requires. Responses built by the
//! default responder copy a static body.
//!
//! # Requirements
//!
//! The inner service must be `Clone + Send + 'static` with a `Send` future, and request and
//! response bodies `Send + 'static` (true of axum, tonic, hyper and `lambda_http`). The default
//! responder needs a response body that can be made from a `&'static str` (axum's `Body`,
//! `String`, `http_body_util::Full<Bytes>`, …); for any other body, plug in a [`Responder`].
//! Nothing the layer logs contains token content: denials are logged by the core at `debug`
//! with their code and route.
#![forbid(unsafe_code)]

mod extensions;
mod future;
#[cfg(feature = "tonic")]
mod grpc;
#[cfg(feature = "lambda-http")]
mod lambda;
mod layer;
mod policy_path;
mod responder;
mod service;

pub use extensions::{NoToken, Realm};
pub use future::ResponseFuture;
pub use layer::AuthzLayer;
pub use responder::{DefaultResponder, Responder};
pub use service::Authz;

#[cfg(feature = "tonic")]
pub use grpc::{GrpcResponder, grpc_status};
#[cfg(feature = "lambda-http")]
pub use lambda::{StagePath, lambda_policy_path};

pub use cognito_authz_core::{
    Authorizer, Decision, Denial, DenialResponse, GuardError, VerifiedToken,
};
