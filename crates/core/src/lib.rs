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

mod adapter_types;
#[cfg(feature = "alb")]
mod alb;
mod authorizer;
pub mod bounded_read;
#[cfg(feature = "cedar")]
pub mod cedar;
mod claims;
mod clock;
mod config;
mod cross_site;
pub mod dangerous;
mod error;
mod extract;
mod guard;
pub mod guide;
pub mod jwks;
mod jwt;
mod metrics;
mod openapi;
mod policy;
mod policy_file;
mod registered;
mod reload;
mod response;
pub mod revocation;
#[cfg(test)]
mod test_tokens;
mod token_cache;
mod token_source;
mod verify;

#[cfg(feature = "alb")]
pub use alb::{ALB_DATA_HEADER, AlbConfig, AlbConfigBuilder, AlbVerifier};
pub use authorizer::{Authorizer, AuthorizerBuilder, Decision, Denial};
pub use claims::{CognitoClaims, Names, NamesIter, TokenUse, VerifiedToken};
pub use clock::{Clock, FixedClock, SharedClock, SystemClock};
pub use config::{
    AcceptedTokenUse, Algorithm, FetchSettings, IssuerBuilder, IssuerConfig, parse_user_pool_id,
};
pub use error::{ConfigError, ConfigErrorKind, Error, ErrorKind, Location};
pub use extract::{Rejection, RejectionKind, RequestAuth};
#[doc(hidden)]
pub use guard::syntax_error as __guard_syntax_error;
pub use guard::{GuardCell, GuardError, GuardErrorKind, PolicyGuard, compile as compile_guard};
pub use jwt::JsonObject;
pub use openapi::{OpenApiSecurity, POLICY_EXTENSION, SchemeStyle};
pub use policy::paths::{Dispatch, RequestTarget};
pub use policy::routes::{
    Route, RouteError, RouteMatch, RouteMatches, RouteTable, RouteTableBuilder,
};
pub use policy::{
    CompiledPolicy, Evaluation, Explanation, Policy, PolicyError, PolicyParseError, PolicySet,
};
pub use policy_file::PolicyFile;
pub use reload::{PolicyWatcher, Reloaded, WatchEvent, WatchHandle};
pub use response::{DenialResponse, RETRY_AFTER_SECS, validate_realm};
pub use token_source::{HeaderLookup, TokenLocation, TokenSource, TokenSourceBuilder};
pub use verify::{
    BackgroundRefresh, DEFAULT_MAX_TOKEN_BYTES, DEFAULT_VERIFIED_TOKEN_CACHE_BYTES, Verifier,
    VerifierBuilder, WarmUpError,
};
