//! RSA signing keys with kids, their public JWKs, and the key-set JSON a JWKS endpoint serves.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _, RsaEncoding};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cognito_authz_core::Algorithm;
use serde_json::{Value, json};

/// An RSA key pair with a key id, as a Cognito user pool holds two of.
///
/// Cheap to clone (the key pair is shared). The key's [`Algorithm`] is what its JWK advertises
/// (`alg`) and what tokens signed by it use unless a token says otherwise.
///
/// # Example
///
/// ```
/// use cognito_authz_testkit::SigningKey;
/// let key = SigningKey::generate("key-1");
/// let jwk = key.to_jwk();
/// assert_eq!(jwk["kid"], "key-1");
/// assert_eq!(jwk["kty"], "RSA");
/// assert_eq!(jwk["e"], "AQAB");
/// ```
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    algorithm: Algorithm,
    pair: Arc<KeyPair>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print private material; the kid and size identify the key well enough.
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("bits", &self.bits())
            .finish_non_exhaustive()
    }
}

/// Key material that could not be read as an RSA private key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a usable RSA private key: {reason}")]
pub struct InvalidKeyMaterial {
    reason: String,
}

impl SigningKey {
    /// Generates a fresh RSA-2048 key with this kid, advertised and used as `RS256`.
    ///
    /// # Panics
    /// Only if the operating system's random source fails, which leaves nothing to test.
    pub fn generate(kid: impl Into<String>) -> Self {
        Self::generate_with_size(kid, KeySize::Rsa2048)
    }

    /// Generates a fresh RSA key of the given size (2048, 3072, 4096 or 8192 bits).
    ///
    /// # Panics
    /// Only if the operating system's random source fails.
    pub fn generate_with_size(kid: impl Into<String>, size: KeySize) -> Self {
        let pair =
            KeyPair::generate(size).expect("RSA key generation needs a working random source");
        Self {
            kid: kid.into(),
            algorithm: Algorithm::RS256,
            pair: Arc::new(pair),
        }
    }

    /// Generates an RSA-2048 key with a random, Cognito-looking kid: standard base64 of 32
    /// random bytes, so it contains `+`, `/` or `=` as real Cognito kids often do.
    pub fn generate_with_random_kid() -> Self {
        Self::generate(random_kid())
    }

    /// Loads a PKCS#8 (DER) RSA private key, e.g. one saved with [`SigningKey::to_pkcs8_der`].
    ///
    /// # Errors
    /// The bytes are not an RSA private key of 2048 to 8192 bits.
    pub fn from_pkcs8_der(kid: impl Into<String>, der: &[u8]) -> Result<Self, InvalidKeyMaterial> {
        Self::loaded(kid, KeyPair::from_pkcs8(der))
    }

    /// Loads an RSA private key in either DER form: PKCS#8 `PrivateKeyInfo` (what
    /// [`SigningKey::to_pkcs8_der`] and `openssl pkcs8 -topk8` write) or PKCS#1 `RSAPrivateKey`
    /// (what `openssl genrsa` and, on OpenSSL 3, `openssl genpkey -outform DER` write).
    ///
    /// # Errors
    /// The bytes are neither form of an RSA private key of 2048 to 8192 bits.
    pub fn from_der(kid: impl Into<String>, der: &[u8]) -> Result<Self, InvalidKeyMaterial> {
        Self::loaded(
            kid,
            KeyPair::from_pkcs8(der).or_else(|_| KeyPair::from_der(der)),
        )
    }

    /// An RS256 key from a parsed (or rejected) key pair.
    fn loaded(
        kid: impl Into<String>,
        pair: Result<KeyPair, aws_lc_rs::error::KeyRejected>,
    ) -> Result<Self, InvalidKeyMaterial> {
        let pair = pair.map_err(|error| InvalidKeyMaterial {
            reason: error.to_string(),
        })?;
        Ok(Self {
            kid: kid.into(),
            algorithm: Algorithm::RS256,
            pair: Arc::new(pair),
        })
    }

    /// The private key as PKCS#8 DER, to keep a key across runs.
    pub fn to_pkcs8_der(&self) -> Vec<u8> {
        self.pair
            .as_der()
            .expect("an RSA key pair always encodes as PKCS#8")
            .as_ref()
            .to_vec()
    }

    /// The same key material under another kid (for tests of kid handling).
    #[must_use]
    pub fn with_kid(&self, kid: impl Into<String>) -> Self {
        Self {
            kid: kid.into(),
            ..self.clone()
        }
    }

    /// The same key advertising (JWK `alg`) and signing with another algorithm by default.
    #[must_use]
    pub fn with_algorithm(&self, algorithm: Algorithm) -> Self {
        Self {
            algorithm,
            ..self.clone()
        }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm the JWK advertises and tokens are signed with by default.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.pair.public_modulus_len() * 8
    }

    /// The public modulus `n`, base64url without padding or leading zero bytes.
    pub fn modulus_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(
            self.pair
                .public_key()
                .modulus()
                .big_endian_without_leading_zero(),
        )
    }

    /// The public exponent `e`, base64url without padding or leading zero bytes (`AQAB`).
    pub fn exponent_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(
            self.pair
                .public_key()
                .exponent()
                .big_endian_without_leading_zero(),
        )
    }

    /// The public JWK, shaped like Cognito's:
    /// `{"kty":"RSA","kid":…,"alg":"RS256","use":"sig","n":…,"e":"AQAB"}`.
    pub fn to_jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "kid": self.kid,
            "alg": self.algorithm.as_str(),
            "use": "sig",
            "n": self.modulus_base64url(),
            "e": self.exponent_base64url(),
        })
    }

    /// Signs `message` with RSASSA-PKCS1-v1_5 and the digest of `algorithm`.
    pub fn sign(&self, algorithm: Algorithm, message: &[u8]) -> Vec<u8> {
        let encoding: &'static dyn RsaEncoding = match algorithm {
            Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
            Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
            Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
        };
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                encoding,
                &aws_lc_rs::rand::SystemRandom::new(),
                message,
                &mut signature,
            )
            .expect("PKCS#1 v1.5 signing with a valid RSA key does not fail");
        signature
    }
}

/// The key-set document a JWKS endpoint serves: `{"keys":[…]}` with each key's public JWK.
///
/// # Example
///
/// ```
/// use cognito_authz_testkit::{SigningKey, jwks_json};
/// let keys = [SigningKey::generate("a"), SigningKey::generate("b")];
/// let document: serde_json::Value = serde_json::from_str(&jwks_json(&keys)).unwrap();
/// assert_eq!(document["keys"][1]["kid"], "b");
/// ```
pub fn jwks_json<'a>(keys: impl IntoIterator<Item = &'a SigningKey>) -> String {
    jwks_value(keys).to_string()
}

/// The key-set document as a JSON value (see [`jwks_json`]).
pub fn jwks_value<'a>(keys: impl IntoIterator<Item = &'a SigningKey>) -> Value {
    json!({ "keys": keys.into_iter().map(SigningKey::to_jwk).collect::<Vec<_>>() })
}

/// Encodes bytes as base64url without padding, the JWS segment encoding.
pub fn base64url(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    aws_lc_rs::rand::fill(&mut bytes).expect("the operating system's random source works");
    bytes
}

fn random_kid() -> String {
    STANDARD.encode(random_bytes::<32>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwk_has_cognito_members_and_canonical_material() {
        let key = SigningKey::generate("k1");
        let jwk = key.to_jwk();
        let object = jwk.as_object().expect("object");
        let mut names: Vec<_> = object.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["alg", "e", "kid", "kty", "n", "use"]);
        assert_eq!(jwk["alg"], "RS256");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["e"], "AQAB");
        let n = jwk["n"].as_str().expect("n is a string");
        assert!(!n.contains('=') && !n.contains('+') && !n.contains('/'));
        let decoded = URL_SAFE_NO_PAD.decode(n).expect("base64url");
        assert_eq!(decoded.len(), 256, "2048-bit modulus, no leading zero byte");
        assert_ne!(decoded[0], 0);
        assert_eq!(key.bits(), 2048);
    }

    #[test]
    fn signature_verifies_with_the_public_components() {
        let key = SigningKey::generate("k1");
        let n = URL_SAFE_NO_PAD
            .decode(key.modulus_base64url())
            .expect("n decodes");
        let e = URL_SAFE_NO_PAD
            .decode(key.exponent_base64url())
            .expect("e decodes");
        let public = signature::RsaPublicKeyComponents { n: &n, e: &e };
        for (algorithm, parameters) in [
            (Algorithm::RS256, &signature::RSA_PKCS1_2048_8192_SHA256),
            (Algorithm::RS384, &signature::RSA_PKCS1_2048_8192_SHA384),
            (Algorithm::RS512, &signature::RSA_PKCS1_2048_8192_SHA512),
        ] {
            let signature = key.sign(algorithm, b"message");
            assert!(public.verify(parameters, b"message", &signature).is_ok());
            assert!(public.verify(parameters, b"other", &signature).is_err());
        }
    }

    #[test]
    fn pkcs8_round_trip_keeps_the_public_key() {
        let key = SigningKey::generate("k1");
        let loaded = SigningKey::from_pkcs8_der("k2", &key.to_pkcs8_der()).expect("loads");
        assert_eq!(loaded.modulus_base64url(), key.modulus_base64url());
        assert_eq!(loaded.kid(), "k2");
        assert!(SigningKey::from_pkcs8_der("x", b"not a key").is_err());
    }

    /// The PKCS#1 `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo`: the contents of its
    /// closing OCTET STRING (`SEQUENCE { INTEGER 0, AlgorithmIdentifier, OCTET STRING }`).
    fn pkcs1_inside(pkcs8: &[u8]) -> &[u8] {
        /// (tag, header length, content length) of the element at the start of `der`.
        fn element(der: &[u8]) -> (u8, usize, usize) {
            match der[1] {
                short @ 0..=0x7f => (der[0], 2, usize::from(short)),
                long => {
                    let count = usize::from(long & 0x7f);
                    let length = der[2..2 + count]
                        .iter()
                        .fold(0, |length, byte| length << 8 | usize::from(*byte));
                    (der[0], 2 + count, length)
                }
            }
        }
        let (_, header, _) = element(pkcs8);
        let mut rest = &pkcs8[header..];
        loop {
            let (tag, header, length) = element(rest);
            if tag == 0x04 {
                return &rest[header..header + length];
            }
            rest = &rest[header + length..];
        }
    }

    #[test]
    fn pkcs1_and_pkcs8_der_both_load() {
        let key = SigningKey::generate("k1");
        let pkcs8 = key.to_pkcs8_der();
        let pkcs1 = pkcs1_inside(&pkcs8);
        assert!(
            SigningKey::from_pkcs8_der("x", pkcs1).is_err(),
            "PKCS#1 is not PKCS#8"
        );
        for der in [&pkcs8[..], pkcs1] {
            let loaded = SigningKey::from_der("k2", der).expect("loads");
            assert_eq!(loaded.modulus_base64url(), key.modulus_base64url());
        }
        assert!(SigningKey::from_der("x", b"not a key").is_err());
    }

    #[test]
    fn random_kids_look_like_cognito_kids() {
        let key = SigningKey::generate_with_random_kid();
        assert_eq!(key.kid().len(), 44);
        assert!(key.kid().ends_with('='));
        assert_ne!(key.kid(), SigningKey::generate_with_random_kid().kid());
    }
}
