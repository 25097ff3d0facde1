//! cognito-authz: AWS Cognito user-pool authorization inside your Rust service.
//!
//! It verifies Cognito id and access tokens (RS256, against the pool's JWKS) exactly by
//! Cognito's rules, evaluates per-route policies over `cognito:groups`, OAuth scopes,
//! `token_use`, client and claims, and answers with standard 401/403/503 responses.
//!
//! This facade re-exports [`cognito_authz_core`]; features pull in the framework adapters and
//! the `testkit` (a local issuer for tests).
//!
//! ```
//! use cognito_authz::{AcceptedTokenUse, IssuerConfig, Verifier};
//! # fn main() -> Result<(), cognito_authz::ConfigError> {
//! let verifier = Verifier::builder()
//!     .issuer(
//!         IssuerConfig::user_pool("us-east-1_Example1")
//!             .client_ids(["1example23456789"])
//!             .token_use(AcceptedTokenUse::Access)
//!             .build()?,
//!     )
//!     .build()?;
//! # let _ = verifier;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
// docs.rs builds with every feature and `--cfg docsrs`: each adapter is marked with its feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use cognito_authz_core::*;

/// A local Cognito-shaped issuer for tests (feature `testkit`).
#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub use cognito_authz_testkit as testkit;

/// The tower layer: `AuthzLayer` over any `http::Request` service (feature `tower`); with
/// feature `tonic` its gRPC responder (`AuthzLayer::grpc`), with feature `lambda-http` the
/// API Gateway stage handling for lambda_http (`StagePath`, `lambda_policy_path`).
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use cognito_authz_tower as tower;

/// axum extractors, policy guards and per-route layers (feature `axum`).
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use cognito_authz_axum as axum;

/// actix-web middleware, extractors and policy guards (feature `actix`).
#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub use cognito_authz_actix as actix;

/// The README's Rust examples, compiled with the doctests (all features) so they stay true.
#[cfg(all(
    doctest,
    feature = "axum",
    feature = "actix",
    feature = "testkit",
    feature = "tonic",
    feature = "lambda-http",
    feature = "alb"
))]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
