//! Structured tokens (header and payload JSON variants around a real signature): never panics and
//! never accepts a token other than exactly the one that was signed
//! (see `cognito_authz_fuzz::verify_structured_bytes`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cognito_authz_fuzz::verify_structured_bytes(data));
