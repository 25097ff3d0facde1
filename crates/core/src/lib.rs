//! Core of cognito-authz: strict verification of AWS Cognito user-pool JWTs against the pool's
//! JWKS, a JWKS cache that holds under load and faults, typed claims, and a policy language over
//! groups, scopes, `token_use`, client and claims.
//!
//! This crate knows no web framework; the adapters (`cognito-authz-tower`, `-axum`, `-actix`)
//! read the request, call [`Verifier::verify`] or the authorizer, and map the outcome to a
//! response.
//!
//! The pieces, in the order a request meets them: [`TokenSource`] finds the token in the
//! headers, [`Verifier`] runs the ordered checks, [`RouteTable`] picks the route's
//! [`CompiledPolicy`] (the [`Policy`] language), and [`Authorizer::authorize`]
//! does all of it in one call, answering a [`Decision`]; a [`Denial`] turns into the
//! [`DenialResponse`] both adapters send. [`Authorizer::builder`] loads all of it from a
//! TOML [`PolicyFile`] or takes it from code.
//!
//! In production: [`Authorizer::reload`] (and a [`PolicyWatcher`]) swaps in a new policy file
//! atomically, keeping the last good one when the new one fails to load; [`OpenApiSecurity`]
//! documents the route table's security in OpenAPI 3.1; with feature `metrics`, decisions,
//! cache, key fetches and revocation state are counted through the `metrics` facade.
//!
//! ```
//! use cognito_authz_core::{AcceptedTokenUse, ErrorKind, IssuerConfig, Verifier};
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let verifier = Verifier::builder()
//!     .issuer(
//!         IssuerConfig::user_pool("us-east-1_Example1")
//!             .client_ids(["1example23456789"])
//!             .token_use(AcceptedTokenUse::Access)
//!             .build()?,
//!     )
//!     .verified_token_cache(10_000)
//!     .build()?;
//! // A token with padding is rejected before any key is looked up (no network needed):
//! let error = verifier.verify("eyJ9.e30=.c2ln").await.unwrap_err();
//! assert_eq!(error.code(), "malformed_token");
//! assert_eq!(error.status(), 401);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
#![forbid(unsafe_code)]

mod authorizer;
pub mod bounded_read;
#[cfg(feature = "cedar")]
pub mod cedar;
mod edge;
mod error;
pub mod guide;
pub mod jwks;
mod metrics;
mod policy;
mod reload;
pub mod revocation;
mod shared_fetch;
#[cfg(test)]
mod test_tokens;
mod verify;

pub use authorizer::{Authorizer, AuthorizerBuilder, Decision, Denial};
pub use edge::extract::{Rejection, RejectionKind, RequestAuth};
pub use edge::response::{DenialResponse, RETRY_AFTER_SECS, validate_realm};
pub use edge::token_source::{HeaderLookup, TokenLocation, TokenSource, TokenSourceBuilder};
pub use error::{ConfigError, ConfigErrorKind, Error, ErrorKind, Location};
pub use policy::file::PolicyFile;
#[doc(hidden)]
pub use policy::guard::syntax_error as __guard_syntax_error;
pub use policy::guard::{
    GuardCell, GuardError, GuardErrorKind, PolicyGuard, compile as compile_guard,
};
pub use policy::openapi::{OpenApiSecurity, POLICY_EXTENSION, SchemeStyle};
pub use policy::paths::{Dispatch, RequestTarget};
pub use policy::routes::{
    Route, RouteError, RouteMatch, RouteMatches, RouteTable, RouteTableBuilder,
};
pub use policy::{
    CompiledPolicy, Evaluation, Explanation, Policy, PolicyError, PolicyParseError, PolicySet,
};
pub use reload::{PolicyWatcher, Reloaded, WatchEvent, WatchHandle};
#[cfg(feature = "alb")]
pub use verify::alb::{ALB_DATA_HEADER, AlbConfig, AlbConfigBuilder, AlbVerifier};
pub use verify::claims::{CognitoClaims, Names, NamesIter, TokenUse, VerifiedToken};
pub use verify::clock::{Clock, FixedClock, SharedClock, SystemClock};
pub use verify::config::{
    AcceptedTokenUse, Algorithm, FetchSettings, IssuerBuilder, IssuerConfig, parse_user_pool_id,
};
pub use verify::dangerous;
pub use verify::jwt::JsonObject;
pub use verify::{
    BackgroundRefresh, DEFAULT_MAX_TOKEN_BYTES, DEFAULT_VERIFIED_TOKEN_CACHE_BYTES, Verifier,
    VerifierBuilder, WarmUpError,
};
