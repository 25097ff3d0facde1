//! Arbitrary bytes as a JWKS document: `KeySet::from_json` never panics, and a key set built from
//! it never lets the wrong key verify (see `cognito_authz_fuzz::keyset_bytes`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cognito_authz_fuzz::keyset_bytes(data));
