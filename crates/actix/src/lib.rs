//! actix-web adapter of cognito-authz: AWS Cognito user-pool JWTs verified and authorized per
//! route by a middleware, with extractors that hand typed claims to handlers.
//!
//! ```
//! use actix_web::{App, HttpResponse, test, web};
//! use cognito_authz_actix::{Claims, CognitoAuth, OptionalClaims, policy_guard, validate_guards};
//! use cognito_authz_core::{AcceptedTokenUse, Authorizer, Policy};
//! use cognito_authz_testkit::LocalIssuer;
//!
//! policy_guard!(Writer, "scope:api/write");
//!
//! async fn me(Claims(claims): Claims) -> HttpResponse {
//!     HttpResponse::Ok().body(claims.username.clone().unwrap_or_default())
//! }
//!
//! async fn hello(OptionalClaims(claims): OptionalClaims) -> HttpResponse {
//!     let who = claims.as_ref().and_then(|claims| claims.username.as_deref());
//!     HttpResponse::Ok().body(format!("hello {}", who.unwrap_or("stranger")))
//! }
//!
//! async fn write(_: Writer) -> HttpResponse {
//!     HttpResponse::NoContent().finish()
//! }
//!
//! # actix_web::rt::System::new().block_on(async {
//! // A local user pool (tests and development); in production, a policy file
//! // (`Authorizer::builder().policy_file("policy.toml")`).
//! let issuer = LocalIssuer::offline();
//! let authorizer = Authorizer::builder()
//!     .verifier(issuer.verifier_builder(AcceptedTokenUse::Access).build()?)
//!     .route("/hello", Policy::public())
//!     .route("/admin/{*rest}", "group:admin".parse()?)
//!     .unmatched(Policy::authenticated())
//!     .build()?;
//! validate_guards!(Writer)?; // a typo in a guard fails here, before serving
//!
//! let app = test::init_service(
//!     App::new()
//!         .wrap(CognitoAuth::new(authorizer.clone()))
//!         .route("/hello", web::get().to(hello))
//!         .route("/me", web::get().to(me))
//!         .route("/write", web::post().to(write))
//!         .service(
//!             web::scope("/admin")
//!                 .route("/users", web::get().to(HttpResponse::Ok)),
//!         ),
//! )
//! .await;
//!
//! let alice = issuer.access_token().username("alice").scopes(["api/write"]).sign();
//! let bob = issuer.access_token().username("bob").sign();
//! let call = |method: &str, uri: &str, token: Option<&str>| {
//!     let mut request = match method {
//!         "POST" => test::TestRequest::post(),
//!         _ => test::TestRequest::get(),
//!     }
//!     .uri(uri);
//!     if let Some(token) = token {
//!         request = request.insert_header(("authorization", format!("Bearer {token}")));
//!     }
//!     test::call_service(&app, request.to_request())
//! };
//!
//! // Public route, with or without a token:
//! let response = call("GET", "/hello", None).await;
//! assert_eq!(response.status(), 200);
//! assert_eq!(test::read_body(response).await, "hello stranger");
//! let response = call("GET", "/hello", Some(&bob)).await;
//! assert_eq!(test::read_body(response).await, "hello bob");
//!
//! // Authenticated routes (the `unmatched` default):
//! let response = call("GET", "/me", None).await;
//! assert_eq!(response.status(), 401);
//! assert_eq!(response.headers().get("www-authenticate").unwrap(), "Bearer");
//! assert_eq!(test::read_body(call("GET", "/me", Some(&alice)).await).await, "alice");
//!
//! // The policy guard: scopes missing → 403 insufficient_scope with the scope list.
//! assert_eq!(call("POST", "/write", Some(&alice)).await.status(), 204);
//! let response = call("POST", "/write", Some(&bob)).await;
//! assert_eq!(response.status(), 403);
//! assert_eq!(
//!     response.headers().get("www-authenticate").unwrap(),
//!     r#"Bearer error="insufficient_scope", scope="api/write""#
//! );
//!
//! // The route table: /admin/{*rest} needs group:admin.
//! assert_eq!(call("GET", "/admin/users", Some(&bob)).await.status(), 403);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # The middleware
//!
//! [`CognitoAuth`] wraps an app, a `scope` or a `resource`:
//!
//! - `App::new().wrap(CognitoAuth::new(authorizer))` applies an [`Authorizer`]'s whole route
//!   table, usually a policy file ([`AuthorizerBuilder::policy_file`]);
//! - `web::scope("/admin").wrap(require(&authorizer, "group:admin")?)` ([`require`]) applies one
//!   policy to everything inside (`policy:NAME` resolves against the authorizer's named
//!   policies).
//!
//! Building it is where configuration fails ([`GuardError`] with the position of a syntax
//! error); nothing fails in `new_transform` or on a request, and no request can make it panic.
//! It answers refused requests itself, byte for byte as the tower adapter does (the response table in `docs/responses.md`)
//! ([`http_response`] copies the core's [`DenialResponse`]); give it another
//! [`DenialResponder`] with [`CognitoAuth::responder`]. Allowed requests carry the verified
//! token in their extensions as `Arc<VerifiedToken>`. CORS preflights (`OPTIONS` with
//! `Access-Control-Request-Method`) are decided like any request: wrap `actix-cors` outside
//! the middleware (a later `.wrap`) so it answers them first.
//!
//! The policy is looked up on the path actix-web routes on (its decoded `match_info()` path,
//! the full path even inside a scope) and on the raw path; and since actix tries resources in
//! registration order and falls through failed method guards, every route of the table whose
//! pattern matches the path for the method must allow the request (see the README's "Routing
//! and paths"). A resource without a method guard runs for every method, so a pattern that
//! matches the path but has no route for the request's method brings in the `unmatched`
//! default as well: give resources method guards (`web::get()`, `web::post()`) that mirror the
//! table's `methods`, and a route of that pattern to every method a resource serves.
//!
//! The route table tells routes apart by method and path and by nothing else of the request.
//! Resources registered on the same path and told apart only by another guard —
//! `guard::Host`, `guard::Header`, or one of the app's own — share one route of the table, so
//! one policy decides for all of them, whichever handler actix then runs. The client chooses
//! its `Host` and headers: with `/reports` served by an admin handler under
//! `guard::Host("admin.example.com")` and by a public one otherwise, a policy of `public` for
//! `/reports` lets anyone reach the admin handler by sending that `Host`. Give such resources
//! distinct paths (`/admin/reports` and `/reports`), or write the shared pattern's policy as
//! the strictest any of its handlers needs.
//!
//! With a token source that reads a cookie, a state-changing request another site may have
//! made the browser send is refused with `cross_site_request` (403, no challenge), as in the
//! tower adapter; see
//! [`TokenSource::check_cross_site`](cognito_authz_core::TokenSource::check_cross_site).
//!
//! actix-web 4 is built on `http` 0.2 and the core on `http` 1.x: the method is converted
//! (free for the standard ones) and the headers are not copied at all, the core reads the few
//! it needs through [`HeaderLookup`](cognito_authz_core::HeaderLookup).
//!
//! # Extractors
//!
//! | extractor | gives | no token | other rejections |
//! |---|---|---|---|
//! | [`Claims<T>`] | the payload as `T` (default [`CognitoClaims`]), a shared `Arc<T>` parsed once per token | 401 | 403 `forbidden` when the claims do not fit `T` |
//! | `Option<Claims<T>>` | `None` instead of any rejection (actix-web's rule) | `None` | `None`, even without the middleware |
//! | [`OptionalClaims<T>`] | `None` without a token | `None` | 403 as `Claims`; 500 without the middleware |
//! | [`IdToken`] / [`AccessToken`] | the token, of that kind | 401 | 403 `forbidden` for the other kind |
//! | [`Groups`] / [`Scopes`] | `cognito:groups` / the scopes | 401 | |
//! | [`Verified`] | the [`VerifiedToken`] | 401 | |
//! | a [`policy_guard!`] type | nothing: admits or refuses by its expression | 401 | 403 `insufficient_scope` / `forbidden` |
//!
//! Every extractor answers 500, with a body naming the middleware to add, when no
//! [`CognitoAuth`] ran for the request (a wiring bug). "No token" happens on public routes:
//! there, take `Option<Claims>` or [`OptionalClaims`]. Extractor
//! rejections are [`Rejection`]s with the same responses as the middleware (they do not go
//! through a custom [`DenialResponder`]).
//!
//! No actix-web `Guard` is offered: guards only choose routes and can never answer 401 or 403,
//! so authorization always comes from the middleware or an extractor.
//!
//! [`Authorizer`]: cognito_authz_core::Authorizer
//! [`AuthorizerBuilder::policy_file`]: cognito_authz_core::AuthorizerBuilder::policy_file
//! [`DenialResponse`]: cognito_authz_core::DenialResponse
//! [`CognitoClaims`]: cognito_authz_core::CognitoClaims
//! [`VerifiedToken`]: cognito_authz_core::VerifiedToken
#![forbid(unsafe_code)]

mod extract;
mod guard;
mod middleware;
mod rejection;
mod response;

pub use cognito_authz_core::{GuardError, PolicyGuard, RejectionKind, validate_guards};
pub use middleware::{CognitoAuth, CognitoAuthMiddleware, require};
pub use response::{DefaultResponder, DenialResponder, http_response};

/// The core crate, so `cognito_authz_actix::core::Authorizer` needs no second dependency.
pub use cognito_authz_core as core;

cognito_authz_core::__adapter_types!();

#[doc(hidden)]
pub mod __private {
    //! Paths used by [`policy_guard!`](crate::policy_guard); not a public API.
    pub use crate::guard::guard;
    pub use actix_web::dev::Payload;
    pub use actix_web::{FromRequest, HttpRequest};
    pub use cognito_authz_core::__policy_guard_type;
}
