//! Arbitrary bytes as a token, against a verifier with a static key set: never panics, never
//! awaits, and accepts only what a correct verifier would (see `cognito_authz_fuzz::verify_bytes`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cognito_authz_fuzz::verify_bytes(data));
