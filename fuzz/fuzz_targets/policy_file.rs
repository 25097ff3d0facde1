//! Arbitrary bytes (lossy UTF-8) as a TOML policy file: never panics, errors name a line and
//! column inside the text, and every loaded policy re-parses and recompiles to the same thing
//! (see `cognito_authz_fuzz::policy_file`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cognito_authz_fuzz::policy_file_bytes(data));
