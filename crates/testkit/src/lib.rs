//! A local, Cognito-shaped issuer for tests: RSA signing keys with kids, the JWKS they publish,
//! a JWKS HTTP server on `127.0.0.1` with switches for every failure a real endpoint can show,
//! id/access/machine tokens minted exactly like Cognito's (any claim overridden or removed),
//! and a clock the test moves by hand.
//!
//! ```
//! use cognito_authz_core::{AcceptedTokenUse, Verifier};
//! use cognito_authz_testkit::LocalIssuer;
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! // A user pool in a box: a fresh key, served over HTTP on 127.0.0.1, and a manual clock.
//! let issuer = LocalIssuer::start().await?;
//! let verifier = Verifier::builder()
//!     .issuer(issuer.issuer_config(AcceptedTokenUse::Access))
//!     .shared_clock(issuer.clock())
//!     .build()?;
//!
//! let token = issuer
//!     .access_token()
//!     .username("alice")
//!     .groups(["admin", "readers"])
//!     .scopes(["api/read", "api/write"])
//!     .sign();
//!
//! let verified = verifier.verify(&token).await?;
//! assert_eq!(verified.username(), Some("alice"));
//! assert_eq!(verified.client_id(), Some("localclient123"));
//! assert_eq!(verified.issuer(), "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_LocalTest1");
//! assert!(verified.in_group("admin"));
//! assert!(verified.has_scope("api/write"));
//! // The verifier fetched the key set from the local server, once.
//! assert_eq!(issuer.server().expect("started with a server").fetch_count(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! What is here:
//!
//! - [`LocalIssuer`]: pool id (default `us-east-1_LocalTest1`), client id (default
//!   `localclient123`), key, [`JwksServer`] and clock in one; [`LocalIssuer::issuer_config`]
//!   gives the matching core configuration, [`LocalIssuer::offline`] works without a server.
//! - [`TokenBuilder`]: Cognito's members in Cognito's order, then your edits
//!   (`claim`, `remove_claim`, `header`, `remove_header`) on top; [`sign_raw`] and
//!   [`sign_segments`] sign exact bytes for malformed-token tests; [`with_payload_of`] and
//!   [`with_kid`] splice real tokens into forged ones.
//! - [`JwksServer`]: switch the reply ([`JwksReply`]) and delay at any time, rotate keys, count
//!   fetches and await them ([`JwksServer::wait_for_fetches`]) without sleeping.
//! - [`ManualClock`]: share it between issuer and verifier; `advance` past `exp` to expire a token.
//! - [`LocalIssuer::for_policy_file`]: your own `policy.toml` against a local issuer in one
//!   call, for tests of your router route by route; [`LocalIssuer::authorizer`]: a route table's
//!   text with this issuer as its issuer, a ready [`Authorizer`](cognito_authz_core::Authorizer);
//!   [`LocalIssuer::authorizer_builder`]: the same issuer for a route table written in code.
//!
//! Choices worth knowing: token times come from the issuer's clock, a [`ManualClock`] at
//! [`DEFAULT_START_SECS`] unless the builder asks for the system clock, so give the verifier
//! the same clock ([`LocalIssuer::clock`] or [`LocalIssuer::verifier_builder`]). A verifier
//! refreshes keys at most once per `min_refresh_interval` of *its* clock, so after
//! [`LocalIssuer::rotate`] advance the manual clock past the cooldown (30 s by default).
#![forbid(unsafe_code)]

mod authorizer;
mod clock;
mod issuer;
mod key;
mod policy_file;
mod server;
mod tamper;
mod token;

pub use clock::{DEFAULT_START_SECS, ManualClock};
pub use issuer::{DEFAULT_CLIENT_ID, DEFAULT_POOL_ID, LocalIssuer, LocalIssuerBuilder, StartError};
pub use key::{InvalidKeyMaterial, SigningKey, base64url, jwks_json, jwks_value};
pub use server::{
    GARBAGE_BODY, HTML_BODY, JwksReply, JwksServer, MAX_RECORDED_REQUESTS, RecordedRequest,
};
pub use tamper::{with_kid, with_payload_of};
pub use token::{
    DEFAULT_TOKEN_LIFETIME, DEFAULT_USER_SCOPE, DEFAULT_USERNAME, TokenBuilder, TokenKind,
    random_uuid, sign_raw, sign_segments,
};

/// Re-exported so users need not depend on aws-lc-rs to pick a key size.
pub use aws_lc_rs::rsa::KeySize;
