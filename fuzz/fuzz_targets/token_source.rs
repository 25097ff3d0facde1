//! Structured requests (headers from a small set of names, any value bytes) and token source
//! configurations: extraction never panics and follows the token-source rules
//! (see `cognito_authz_fuzz::token_source`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cognito_authz_fuzz::token_source_bytes(data));
