//! The fixed world every target runs in: the committed signing key, the static key set, the
//! pool, the clock and the verifiers, and well-formed tokens signed by that key.

use std::sync::OnceLock;
use std::time::Duration;

use cognito_authz_core::{
    AcceptedTokenUse, Algorithm, ConfigError, FixedClock, IssuerConfig, Verifier,
};
use cognito_authz_testkit::{SigningKey, base64url};
use serde_json::{Value, json};

/// The fixed time of every verifier here (2023-11-14T22:13:20Z).
pub const NOW_SECS: u64 = 1_700_000_000;
/// The user pool the verifiers accept.
pub const POOL_ID: &str = "us-east-1_FuzzPool1";
/// The pool's original issuer form.
pub const ISS: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_FuzzPool1";
/// The pool's updated issuer form (also accepted).
pub const UPDATED_ISS: &str =
    "https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_FuzzPool1";
/// The one accepted app client.
pub const CLIENT_ID: &str = "fuzzclient123";
/// The kid of the real signing key.
pub const KID: &str = "fuzz-key-1";
/// The verifiers' token cap (the default, 16 KiB).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

const KEY_DER: &[u8] = include_bytes!("../keys/fuzz-signing-key.pk8");

/// The committed RSA-2048 signing key, loaded once.
pub fn signing_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| {
        SigningKey::from_pkcs8_der(KID, KEY_DER)
            .expect("keys/fuzz-signing-key.pk8 is an RSA-2048 PKCS#8 key")
    })
}

/// The static key set: the real key first, then entries that exist to fail check 8 (same
/// material marked for encryption, for RS512 only, without `verify`; an EC key; a 1024-bit
/// modulus; an `oct` key holding the modulus; an EC entry carrying the real RSA material).
pub fn key_set_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let key = signing_key();
        let variant = |kid: &str, member: &str, value: Value| {
            let mut jwk = key.to_jwk();
            jwk["kid"] = kid.into();
            jwk[member] = value;
            jwk
        };
        json!({"keys": [
            key.to_jwk(),
            variant("enc", "use", json!("enc")),
            variant("rs512", "alg", json!("RS512")),
            variant("encrypt-only", "key_ops", json!(["encrypt"])),
            {"kid": "ec", "kty": "EC", "crv": "P-256",
             "x": base64url([0x11u8; 32]), "y": base64url([0x22u8; 32])},
            {"kid": "small", "kty": "RSA", "n": base64url([0xc5u8; 128]), "e": "AQAB"},
            {"kid": "hmac", "kty": "oct", "k": key.modulus_base64url()},
            {"kid": "ec-claims-rs", "kty": "EC", "alg": "RS256",
             "n": key.modulus_base64url(), "e": key.exponent_base64url()},
        ]})
        .to_string()
    })
}

/// A verifier for [`POOL_ID`] / [`CLIENT_ID`] (id and access tokens) over a static key set, at
/// [`NOW_SECS`], with an optional verified-token cache.
///
/// # Errors
/// The key-set text is not a JSON key set.
pub fn build_verifier(jwks_json: &str, cache: Option<usize>) -> Result<Verifier, ConfigError> {
    let issuer = IssuerConfig::user_pool(POOL_ID)
        .client_ids([CLIENT_ID])
        .token_use(AcceptedTokenUse::Any)
        .jwks_json(jwks_json)
        .build()?;
    let mut builder = Verifier::builder()
        .issuer(issuer)
        .clock(FixedClock(Duration::from_secs(NOW_SECS)));
    if let Some(capacity) = cache {
        builder = builder.verified_token_cache(capacity);
    }
    builder.build()
}

pub(crate) struct Verifiers {
    pub(crate) cached: Verifier,
    pub(crate) uncached: Verifier,
}

pub(crate) fn verifiers() -> &'static Verifiers {
    static VERIFIERS: OnceLock<Verifiers> = OnceLock::new();
    VERIFIERS.get_or_init(|| Verifiers {
        cached: build_verifier(key_set_json(), Some(64)).expect("valid fuzz verifier"),
        uncached: build_verifier(key_set_json(), None).expect("valid fuzz verifier"),
    })
}

/// A real, valid access token signed by [`signing_key`] with kid [`KID`].
pub fn probe_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| sign(&valid_header(KID), &valid_access_payload()))
}

/// `{"alg":"RS256","kid":…}`.
pub fn valid_header(kid: &str) -> String {
    json!({"alg": "RS256", "kid": kid}).to_string()
}

/// A Cognito-shaped access token payload, valid at [`NOW_SECS`] for [`CLIENT_ID`].
pub fn valid_access_payload() -> String {
    json!({
        "sub": "5d1c2b6a-0000-4000-8000-000000000001",
        "cognito:groups": ["admin"],
        "iss": ISS,
        "client_id": CLIENT_ID,
        "origin_jti": "6e2d3c7b-0000-4000-8000-000000000002",
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": NOW_SECS - 10,
        "exp": NOW_SECS + 3600,
        "iat": NOW_SECS - 10,
        "jti": "7f3e4d8c-0000-4000-8000-000000000003",
        "username": "fuzz-user",
    })
    .to_string()
}

/// A Cognito-shaped id token payload, valid at [`NOW_SECS`] for [`CLIENT_ID`].
pub fn valid_id_payload() -> String {
    json!({
        "sub": "5d1c2b6a-0000-4000-8000-000000000001",
        "cognito:groups": ["admin"],
        "email_verified": true,
        "iss": ISS,
        "cognito:username": "fuzz-user",
        "origin_jti": "6e2d3c7b-0000-4000-8000-000000000002",
        "aud": CLIENT_ID,
        "event_id": "8a4f5e9d-0000-4000-8000-000000000004",
        "token_use": "id",
        "auth_time": NOW_SECS - 10,
        "exp": NOW_SECS + 3600,
        "iat": NOW_SECS - 10,
        "jti": "7f3e4d8c-0000-4000-8000-000000000003",
        "email": "fuzz@example.com",
    })
    .to_string()
}

/// Signs exact header and payload text with the fixed key (RS256).
pub fn sign(header_json: &str, payload_json: &str) -> String {
    sign_with(Algorithm::RS256, header_json, payload_json)
}

pub(crate) fn sign_with(algorithm: Algorithm, header_json: &str, payload_json: &str) -> String {
    let input = format!("{}.{}", base64url(header_json), base64url(payload_json));
    let signature = signing_key().sign(algorithm, input.as_bytes());
    format!("{input}.{}", base64url(signature))
}
