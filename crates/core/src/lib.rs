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
//! [`CompiledPolicy`] (the [`Policy`] language of DESIGN.md §6), and [`Authorizer::authorize`]
//! does all of it in one call, answering a [`Decision`]; a [`Denial`] turns into the
//! [`DenialResponse`] both adapters send. [`Authorizer::from_file`] loads all of it from a
//! TOML [`PolicyFile`].
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
mod error;
pub mod jwks;
mod jwt;
mod policy;
mod policy_file;
mod registered;
mod response;
pub mod revocation;
#[cfg(test)]
mod test_tokens;
mod token_cache;
mod token_source;
mod verify;

#[cfg(feature = "alb")]
pub use alb::{ALB_DATA_HEADER, AlbConfig, AlbConfigBuilder, AlbVerifier};
pub use authorizer::{Authorizer, AuthorizerBuilder, AuthorizerOptions, Decision, Denial};
pub use claims::{CognitoClaims, Names, NamesIter, TokenUse, VerifiedToken};
pub use clock::{Clock, FixedClock, SharedClock, SystemClock};
pub use config::{
    AcceptedTokenUse, Algorithm, FetchSettings, IssuerBuilder, IssuerConfig, parse_user_pool_id,
};
pub use error::{ConfigError, Error, ErrorKind};
pub use jwt::{JsonObject, decode_unverified};
pub use policy::paths::{Dispatch, RequestTarget};
pub use policy::routes::{
    Route, RouteError, RouteMatch, RouteMatches, RouteTable, RouteTableBuilder,
};
pub use policy::{
    CompiledPolicy, Evaluation, Explanation, Policy, PolicyError, PolicyParseError, PolicySet,
};
pub use policy_file::{PolicyFile, PolicyFileError};
pub use response::{DenialResponse, RETRY_AFTER_SECS, validate_realm};
pub use token_source::{HeaderLookup, TokenLocation, TokenSource, TokenSourceBuilder};
pub use verify::{
    BackgroundRefresh, DEFAULT_MAX_TOKEN_BYTES, DEFAULT_VERIFIED_TOKEN_CACHE_BYTES, Verifier,
    VerifierBuilder, WarmUpError,
};
