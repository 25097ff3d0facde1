//! Cross-crate tests of cognito-authz: one test binary that pulls in a module per area.

mod moto_interop;
