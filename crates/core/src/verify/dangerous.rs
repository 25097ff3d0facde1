//! Reading a token **without verifying it**: for debugging and tooling only.
//!
//! Nothing decoded here may decide anything: the signature, issuer, expiry and every other
//! check are skipped. Use [`Verifier::verify`](crate::Verifier::verify) or an
//! [`Authorizer`](crate::Authorizer) to trust a token.

pub use crate::verify::jwt::decode_unverified;
