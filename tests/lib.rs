//! Cross-crate tests of cognito-authz: one test binary that pulls in a module per area.

mod attack_drills;
mod jwks_cache;
mod jwks_faults;
mod moto_interop;
mod parity;
mod revocation;
mod router_differential;
mod verify_checks;
