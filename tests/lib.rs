//! Cross-crate tests of cognito-authz: one test binary that pulls in a module per area.

mod serve;

mod attack_drills;
#[cfg(feature = "cedar")]
mod cedar;
mod cookie_csrf;
mod first_hour;
mod front_doors;
mod jwks_abandoned;
mod jwks_cache;
mod jwks_faults;
mod key_fetch_attacks;
mod moto_interop;
mod parity;
mod reload;
mod revocation;
mod route_attacks;
mod router_differential;
mod verify_checks;
