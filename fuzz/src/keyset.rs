//! Target `keyset`: any bytes as a JWKS document.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cognito_authz_core::ErrorKind;
use cognito_authz_core::jwks::{KeySet, MAX_KEYS};
use serde_json::Value;

use crate::fixture::{KID, build_verifier, probe_token, signing_key};
use crate::oracle::{assert_contract, complete};

/// Target `keyset`: the bytes as a JWKS document.
pub fn keyset_bytes(data: &[u8]) {
    let Ok(set) = KeySet::from_json(data) else {
        return;
    };
    assert!(set.len() <= MAX_KEYS, "kept more than MAX_KEYS keys");
    let document: Value = serde_json::from_slice(data).expect("KeySet accepted it as JSON");
    let entries = document["keys"]
        .as_array()
        .expect("KeySet found a keys array");
    assert!(
        entries.len() <= MAX_KEYS,
        "accepted more than MAX_KEYS entries"
    );
    for kid in set.kids() {
        assert!(set.contains(kid), "{kid} listed but not kept");
        assert!(
            entries.iter().any(|entry| entry["kid"] == kid),
            "kept a kid the document does not have"
        );
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let verifier = build_verifier(text, None).expect("a document KeySet accepts configures");
    match complete(verifier.verify(probe_token())) {
        Ok(verified) => {
            let entry = first_readable(entries, KID).expect("accepted with no readable entry");
            assert_eq!(entry["kty"], "RSA", "accepted with a non-RSA first entry");
            let magnitude = |member: &str| {
                let bytes = URL_SAFE_NO_PAD
                    .decode(entry[member].as_str().expect("readable"))
                    .expect("readable");
                let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
                bytes[first..].to_vec()
            };
            let key = signing_key();
            let real = |text: String| URL_SAFE_NO_PAD.decode(text).expect("own key encodes");
            assert_eq!(magnitude("n"), real(key.modulus_base64url()), "wrong n");
            assert_eq!(magnitude("e"), real(key.exponent_base64url()), "wrong e");
            assert_contract(probe_token(), &verified);
        }
        Err(error) => {
            let kind = error.kind();
            assert!(
                matches!(
                    kind,
                    ErrorKind::UnknownKid | ErrorKind::InvalidKey | ErrorKind::InvalidSignature
                ),
                "a static key set gave {kind}"
            );
            if !set.contains(KID) {
                assert_eq!(kind, ErrorKind::UnknownKid, "absent kid");
            }
        }
    }
}

/// Which key-set entries exist (the verification rules, "Which keys exist"), written
/// independently: the first entry for `kid` that is an object with string `kid` and `kty` and,
/// for RSA, decodable `n` and `e`.
fn first_readable<'a>(entries: &'a [Value], kid: &str) -> Option<&'a Value> {
    entries.iter().find(|entry| {
        let Some(object) = entry.as_object() else {
            return false;
        };
        if object.get("kid").and_then(Value::as_str) != Some(kid) {
            return false;
        }
        match object.get("kty").and_then(Value::as_str) {
            None => false,
            Some("RSA") => ["n", "e"].iter().all(|member| {
                object
                    .get(*member)
                    .and_then(Value::as_str)
                    .is_some_and(|text| URL_SAFE_NO_PAD.decode(text).is_ok())
            }),
            Some(_) => true,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{key_set_json, verifiers};

    #[test]
    fn probe_token_and_key_set_verify() {
        complete(verifiers().uncached.verify(probe_token())).expect("probe token verifies");
        keyset_bytes(key_set_json().as_bytes());
    }
}
