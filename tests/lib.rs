//! Cross-crate tests of cognito-authz: one test binary that pulls in a module per area.

mod jwks_cache;
mod moto_interop;
mod verify_checks;
