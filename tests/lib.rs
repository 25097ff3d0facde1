//! Cross-crate tests of cognito-authz: one test binary that pulls in a module per area.

mod attack_drills;
mod front_doors;
mod jwks_cache;
mod jwks_faults;
mod moto_interop;
mod parity;
mod router_differential;
mod verify_checks;
