//! Arbitrary bytes (lossy UTF-8) as a policy expression: never panics, print -> parse is the
//! identity, errors point inside the text, compiling and evaluating never panic and inlining
//! never changes a decision (see `cognito_authz_fuzz::policy_expr`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cognito_authz_fuzz::policy_expr_bytes(data));
