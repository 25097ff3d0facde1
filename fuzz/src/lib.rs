//! The harness behind the fuzz targets, shared with the stable corpus replay
//! (`tests/corpus_replay.rs`), so both run exactly the same code.
//!
//! Every target checks more than "no panic":
//!
//! - `verify`: any bytes as a token. The verifier never awaits on a static key set, every
//!   rejection is a 401 invalid-token kind, the verified-token cache never changes a decision
//!   (cached verifier twice, uncached once: same outcome), a token `decode_unverified` calls
//!   malformed is `malformed_token`, and anything accepted obeys the contract of DESIGN.md §3.
//! - `verify_structured`: header and payload JSON built from an [`arbitrary`] description
//!   (duplicate and escape-equivalent member names, wrong claim types, nulls, huge and odd
//!   numbers, odd algs, `crit`, embedded key headers, odd kids), signed with a fixed RSA key,
//!   then maybe tampered with. Nothing but the exact string that was signed may be accepted,
//!   never one with duplicate members, and acceptance implies the contract as above.
//! - `keyset`: any bytes as a JWKS document. `KeySet::from_json` never panics, never keeps more
//!   than `MAX_KEYS`, and a verifier over the document accepts a real token only when the first
//!   readable entry for its kid is exactly the real public key.
//! - `policy_expr`: any bytes (lossy UTF-8) as a policy expression. Errors point inside the
//!   text, print -> parse is the identity, and compiling (against [`POLICY_SET`] and alone) and
//!   evaluating against two real tokens never panic, answer `insufficient_scope` only with the
//!   required scopes, and decide as the effective (inlined) form does.
//! - `policy_file`: any bytes (lossy UTF-8) as a TOML policy file. Errors name a line and column
//!   inside the text; every loaded policy re-parses and recompiles to the same thing, and a
//!   static route is found by a lookup of its own path.
//! - `token_source`: a request (headers from a small set of names, a prefix such as `Bearer `
//!   or `id_token=` plus any bytes) and a token source configuration, built with [`arbitrary`].
//!   Extraction follows DESIGN.md §3 (the header twice or a token in two places:
//!   `invalid_request`; nothing there: `missing_token`), a token is a substring of a header the
//!   source reads, and neither unread headers nor the `HeaderLookup` implementation matter.
//!
//! The signing key is committed (`keys/fuzz-signing-key.pk8`, RSA-2048, used for nothing else) so
//! corpora stay meaningful across runs. The clock is fixed at [`NOW_SECS`].

use std::fmt::Write as _;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cognito_authz_core::jwks::{KeySet, MAX_KEYS};
use cognito_authz_core::{
    AcceptedTokenUse, Algorithm, CompiledPolicy, ConfigError, Error, ErrorKind, Evaluation,
    FixedClock, HeaderLookup, IssuerConfig, Policy, PolicyFile, PolicySet, TokenSource,
    VerifiedToken, Verifier,
};
use cognito_authz_core::dangerous::decode_unverified;
use cognito_authz_testkit::{SigningKey, base64url};
use http::header::COOKIE;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
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

struct Verifiers {
    cached: Verifier,
    uncached: Verifier,
}

fn verifiers() -> &'static Verifiers {
    static VERIFIERS: OnceLock<Verifiers> = OnceLock::new();
    VERIFIERS.get_or_init(|| Verifiers {
        cached: build_verifier(key_set_json(), Some(64)).expect("valid fuzz verifier"),
        uncached: build_verifier(key_set_json(), None).expect("valid fuzz verifier"),
    })
}

/// Runs a future that must complete without waiting: verification against a static key set
/// never awaits (DESIGN.md §4), so `Pending` is a bug.
pub fn complete<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("verification against a static key set awaited"),
    }
}

/// Which token, if any, a run may accept.
#[derive(Debug, Clone, Copy)]
enum MayAccept<'a> {
    /// Unknown (random bytes): acceptance is checked against the contract only.
    AnyValid,
    /// Only exactly this string (the one that was signed), and only if it obeys the contract.
    Exactly(&'a str),
    /// Nothing (e.g. signed with another digest than the header claims).
    Nothing,
}

fn decision(outcome: &Result<Arc<VerifiedToken>, Error>) -> Result<(), ErrorKind> {
    outcome.as_ref().map(|_| ()).map_err(Error::kind)
}

/// Verifies `token` three ways (cached verifier twice, so an accepted token also goes through a
/// cache hit; uncached once) and checks every invariant.
fn check_token(token: &str, may_accept: MayAccept<'_>) {
    let verifiers = verifiers();
    let first = complete(verifiers.cached.verify(token));
    let again = complete(verifiers.cached.verify(token));
    let uncached = complete(verifiers.uncached.verify(token));
    assert_eq!(
        decision(&first),
        decision(&uncached),
        "the verified-token cache changed a decision"
    );
    assert_eq!(
        decision(&first),
        decision(&again),
        "a repeated token got another decision"
    );
    match &first {
        Err(error) => {
            assert!(
                error.kind().is_invalid_token(),
                "a static key set produced {} ({})",
                error.code(),
                error.detail()
            );
            if token.len() <= MAX_TOKEN_BYTES && decode_unverified(token).is_err() {
                assert_eq!(
                    error.kind(),
                    ErrorKind::MalformedToken,
                    "decode_unverified and the verifier disagree on structure"
                );
            }
        }
        Ok(verified) => {
            match may_accept {
                MayAccept::AnyValid => {}
                MayAccept::Exactly(signed) => assert_eq!(
                    token, signed,
                    "accepted a token other than the one that was signed"
                ),
                MayAccept::Nothing => panic!("accepted a token that must be rejected"),
            }
            assert_contract(token, verified);
        }
    }
}

/// What every accepted token must satisfy, checked independently of the verifier's code.
fn assert_contract(token: &str, verified: &VerifiedToken) {
    assert!(
        token.len() <= MAX_TOKEN_BYTES,
        "accepted an oversized token"
    );
    let Ok((header, payload)) = decode_unverified(token) else {
        panic!("accepted a token decode_unverified rejects");
    };
    assert_eq!(header.get("alg"), Some(&json!("RS256")), "accepted alg");
    assert_eq!(
        header.get("kid").and_then(Value::as_str),
        Some(KID),
        "accepted kid"
    );
    assert!(!header.contains_key("crit"), "accepted a crit header");
    let iss = payload
        .get("iss")
        .and_then(Value::as_str)
        .expect("accepted without a string iss");
    assert!(iss == ISS || iss == UPDATED_ISS, "accepted iss {iss:?}");
    let now = NOW_SECS as f64;
    let number = |name: &str| {
        payload.get(name).map(|value| {
            value
                .as_f64()
                .unwrap_or_else(|| panic!("accepted a non-number {name}"))
        })
    };
    let exp = number("exp").expect("accepted without exp");
    assert!(now < exp, "accepted an expired token");
    assert!(number("nbf").is_none_or(|nbf| nbf <= now), "accepted nbf");
    assert!(number("iat").is_none_or(|iat| iat <= now), "accepted iat");
    let _ = number("auth_time");
    for name in [
        "sub",
        "client_id",
        "scope",
        "username",
        "cognito:username",
        "jti",
        "origin_jti",
    ] {
        assert!(
            payload.get(name).is_none_or(Value::is_string),
            "accepted a non-string {name}"
        );
    }
    if let Some(groups) = payload.get("cognito:groups") {
        assert!(
            groups
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string)),
            "accepted cognito:groups that is not an array of strings"
        );
    }
    let client = |name: &str| payload.get(name).and_then(Value::as_str);
    match payload.get("token_use").and_then(Value::as_str) {
        Some("id") => assert_eq!(client("aud"), Some(CLIENT_ID), "accepted id token aud"),
        Some("access") => assert_eq!(
            client("client_id"),
            Some(CLIENT_ID),
            "accepted access token client_id"
        ),
        other => panic!("accepted token_use {other:?}"),
    }
    assert_eq!(verified.kid(), KID);
    assert_eq!(verified.issuer(), iss);
    assert!(verified.expires_at() == exp);
    assert_eq!(verified.payload(), payload, "verified claims differ");
}

// --- target: verify ----------------------------------------------------------------------------

/// Target `verify`: the bytes (lossily as UTF-8, as a header value would be) as a token.
pub fn verify_bytes(data: &[u8]) {
    let token = String::from_utf8_lossy(data);
    check_token(&token, MayAccept::AnyValid);
}

// --- target: keyset ----------------------------------------------------------------------------

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

fn sign_with(algorithm: Algorithm, header_json: &str, payload_json: &str) -> String {
    let input = format!("{}.{}", base64url(header_json), base64url(payload_json));
    let signature = signing_key().sign(algorithm, input.as_bytes());
    format!("{input}.{}", base64url(signature))
}

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

/// DESIGN.md §3 "Which keys exist", written independently: the first entry for `kid` that is an
/// object with string `kid` and `kty` and, for RSA, decodable `n` and `e`.
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

// --- target: verify_structured -----------------------------------------------------------------

/// A JSON value for one member, relative to the member's good value.
#[derive(Arbitrary, Debug, Clone)]
pub enum JsonValue {
    /// The value a valid token has.
    Good,
    /// One of the member's hand-picked tricky values (kid of an unfit key, alg `none`, …).
    Alternate(u8),
    /// The good value nudged: number + n, string + "n", array + "n".
    GoodPlus(i16),
    /// The good value wrapped in an array.
    GoodInArray,
    /// The good string with every character `\u`-escaped (same value, other bytes).
    GoodEscaped,
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float (non-finite ones are written as `1e999`, which JSON parsers reject).
    Float(f64),
    /// A string.
    Text(String),
    /// An array of strings.
    Texts(Vec<String>),
    /// An object.
    Object(Vec<(String, i8)>),
    /// `[[[…]]]`, this deep.
    Nested(u8),
}

/// How one known member appears.
#[derive(Arbitrary, Debug, Clone)]
pub enum Slot {
    /// As in a valid token of this kind (present with the good value, or absent).
    Default,
    /// Absent.
    Absent,
    /// Present with this value.
    Set(JsonValue),
    /// Present twice (the second name maybe `\u`-escaped: the same name to a JSON parser).
    Twice {
        /// First occurrence.
        first: JsonValue,
        /// Second occurrence.
        second: JsonValue,
        /// Escape the second name's first character.
        escaped_name: bool,
    },
}

/// The name of an extra member.
#[derive(Arbitrary, Debug, Clone)]
pub enum MemberName {
    /// A known member's name (so the member is duplicated if also present).
    Known(u8),
    /// A known member's name, first character `\u`-escaped.
    KnownEscaped(u8),
    /// Any name.
    Free(String),
}

/// How the JSON text is laid out.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Layout {
    /// `{"a":1,"b":2}`.
    Compact,
    /// `{ "a" : 1 , "b" : 2 }` with newlines and tabs.
    Spaced,
    /// Members in reverse order.
    Reversed,
    /// A byte-order mark before the object.
    Bom,
    /// Text after the closing brace.
    Trailing,
}

/// Digests a signature may be made with when the header still says RS256.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum OtherDigest {
    /// SHA-384.
    Rs384,
    /// SHA-512.
    Rs512,
}

/// What happens to the signed token before it is verified.
#[derive(Arbitrary, Debug, Clone)]
pub enum Tamper {
    /// Nothing: the signed token as is.
    None,
    /// Replace one character.
    Replace {
        /// Position (modulo the length).
        offset: u16,
        /// New byte (non-ASCII bytes become a two-byte UTF-8 character).
        with: u8,
    },
    /// Insert one character.
    Insert {
        /// Position (modulo the length + 1).
        offset: u16,
        /// Inserted byte.
        with: u8,
    },
    /// Remove one character.
    Remove {
        /// Position (modulo the length).
        offset: u16,
    },
    /// Sign the payload, then send it with one known member changed.
    SignedOtherPayload {
        /// Which payload member.
        member: u8,
        /// Its new value.
        value: JsonValue,
    },
    /// Sign with another digest under the same header.
    SignedWith(OtherDigest),
    /// Replace the signature with these bytes.
    Signature(Vec<u8>),
    /// Add `=` padding to every segment.
    Padded,
    /// Standard base64 alphabet for the payload segment.
    StandardAlphabet,
    /// Swap header and payload segments.
    SwapSegments,
    /// Cut the token to this length.
    Truncate(u16),
    /// Append a fourth segment.
    ExtraSegment,
    /// Prefix `Bearer ` (the token source strips it; the verifier must not).
    BearerPrefix,
}

/// An arbitrary token description: header, payload, layout and tampering.
#[derive(Arbitrary, Debug, Clone)]
pub struct TokenSpec {
    /// An id token (else an access token): decides `token_use` and the client member.
    pub id_token: bool,
    /// One slot per [`HEADER`] member.
    pub header: [Slot; HEADER.len()],
    /// One slot per [`PAYLOAD`] member.
    pub payload: [Slot; PAYLOAD.len()],
    /// Members added after the known ones in the header.
    pub extra_header: Vec<(MemberName, JsonValue)>,
    /// Members added after the known ones in the payload.
    pub extra_payload: Vec<(MemberName, JsonValue)>,
    /// Layout of the header text.
    pub header_layout: Layout,
    /// Layout of the payload text.
    pub payload_layout: Layout,
    /// Replace the rendered payload text with this (the raw parser path).
    pub raw_payload: Option<String>,
    /// What happens after signing.
    pub tamper: Tamper,
}

/// The good value of a member, by token kind.
#[derive(Debug, Clone, Copy)]
enum Good {
    Str(&'static str),
    IdOrAccess(&'static str, &'static str),
    Num(i64),
    Strs(&'static [&'static str]),
    Raw(&'static str),
}

/// Whether a member is present in a valid token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    Always,
    IdOnly,
    AccessOnly,
    Never,
}

/// A known member: name, good value, presence in a valid token, tricky alternates (JSON text).
#[derive(Debug)]
pub struct Member {
    name: &'static str,
    good: Good,
    presence: Presence,
    alternates: &'static [&'static str],
}

const NOW: i64 = NOW_SECS as i64;

/// The header members a spec controls.
pub const HEADER: [Member; 9] = [
    Member {
        name: "alg",
        good: Good::Str("RS256"),
        presence: Presence::Always,
        alternates: &[
            r#""none""#,
            r#""None""#,
            r#""HS256""#,
            r#""RS384""#,
            r#""RS512""#,
            r#""rs256""#,
            r#""ES256""#,
            r#""PS256""#,
            r#""RS256 ""#,
            r#""""#,
            r#""RS256\u0000""#,
            r#""\u0052S256""#,
        ],
    },
    Member {
        name: "kid",
        good: Good::Str(KID),
        presence: Presence::Always,
        alternates: &[
            r#""ec""#,
            r#""small""#,
            r#""enc""#,
            r#""rs512""#,
            r#""encrypt-only""#,
            r#""hmac""#,
            r#""ec-claims-rs""#,
            r#""fuzz-key-1\u0000""#,
            r#""FUZZ-KEY-1""#,
            r#""""#,
            r#""../../fuzz-key-1""#,
            r#""fuzz-key-\u0031""#,
            r#""' OR 1=1 --""#,
        ],
    },
    Member {
        name: "typ",
        good: Good::Str("JWT"),
        presence: Presence::Never,
        alternates: &[r#""at+jwt""#, r#""JOSE""#],
    },
    Member {
        name: "crit",
        good: Good::Strs(&["exp"]),
        presence: Presence::Never,
        alternates: &["[]", r#"["b64"]"#, "null", r#""exp""#, "{}"],
    },
    Member {
        name: "b64",
        good: Good::Raw("false"),
        presence: Presence::Never,
        alternates: &["true"],
    },
    Member {
        name: "jwk",
        good: Good::Raw(r#"{"kty":"RSA","kid":"attacker","n":"AQAB","e":"AQAB"}"#),
        presence: Presence::Never,
        alternates: &[r#"{"kty":"oct","k":"c2VjcmV0"}"#],
    },
    Member {
        name: "jku",
        good: Good::Str("https://attacker.invalid/jwks.json"),
        presence: Presence::Never,
        alternates: &[r#""http://127.0.0.1:1/jwks.json""#],
    },
    Member {
        name: "x5u",
        good: Good::Str("https://attacker.invalid/cert.pem"),
        presence: Presence::Never,
        alternates: &[],
    },
    Member {
        name: "x5c",
        good: Good::Strs(&["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]),
        presence: Presence::Never,
        alternates: &[],
    },
];

/// The payload members a spec controls.
pub const PAYLOAD: [Member; 16] = [
    Member {
        name: "sub",
        good: Good::Str("5d1c2b6a-0000-4000-8000-000000000001"),
        presence: Presence::Always,
        alternates: &[],
    },
    Member {
        name: "cognito:groups",
        good: Good::Strs(&["admin"]),
        presence: Presence::Always,
        alternates: &[
            r#""admin""#,
            r#""[\"admin\"]""#,
            r#""admin,users""#,
            r#"[["admin"]]"#,
            "[null]",
            r#"{"0":"admin"}"#,
            "[]",
        ],
    },
    Member {
        name: "iss",
        good: Good::Str(ISS),
        presence: Presence::Always,
        alternates: &[
            r#""https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_FuzzPool1""#,
            r#""https://cognito-idp.us-east-1.amazonaws.com/us-east-1_FuzzPool1/""#,
            r#""https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OtherPool""#,
            r#""http://cognito-idp.us-east-1.amazonaws.com/us-east-1_FuzzPool1""#,
            r#""https://cognito-idp.us-east-1.amazonaws.com/us-east-1_fuzzpool1""#,
            r#""https://cognito-idp.us-east-1.amazonaws.com/us-east-1_FuzzPool1\u0000""#,
        ],
    },
    Member {
        name: "client_id",
        good: Good::Str(CLIENT_ID),
        presence: Presence::AccessOnly,
        alternates: &[
            r#""otherclient""#,
            r#""FUZZCLIENT123""#,
            r#"["fuzzclient123"]"#,
        ],
    },
    Member {
        name: "aud",
        good: Good::Str(CLIENT_ID),
        presence: Presence::IdOnly,
        alternates: &[
            r#"["fuzzclient123"]"#,
            r#""otherclient""#,
            r#"["otherclient","fuzzclient123"]"#,
        ],
    },
    Member {
        name: "token_use",
        good: Good::IdOrAccess("id", "access"),
        presence: Presence::Always,
        alternates: &[
            r#""refresh""#,
            r#""ID""#,
            r#""access ""#,
            r#""id""#,
            r#""access""#,
        ],
    },
    Member {
        name: "scope",
        good: Good::Str("aws.cognito.signin.user.admin"),
        presence: Presence::AccessOnly,
        alternates: &[r#"["api/read"]"#],
    },
    Member {
        name: "auth_time",
        good: Good::Num(NOW - 10),
        presence: Presence::Always,
        alternates: &[],
    },
    Member {
        name: "exp",
        good: Good::Num(NOW + 3600),
        presence: Presence::Always,
        alternates: &[
            "1700000000",
            "1700000001",
            "1699999999",
            "1700000000.0",
            "1700000000.000001",
            "1.7000036e9",
            "1700003600.5",
            "1e300",
            "-1e300",
            "1e400",
            "-0",
            "17000036000000000000000000000",
            r#""1700003600""#,
        ],
    },
    Member {
        name: "iat",
        good: Good::Num(NOW - 10),
        presence: Presence::Always,
        alternates: &[
            "1700000000",
            "1700000001",
            "1700000000.5",
            "1e300",
            "-1e300",
        ],
    },
    Member {
        name: "nbf",
        good: Good::Num(NOW - 10),
        presence: Presence::Never,
        alternates: &["1700000000", "1700000001", "1699999999.9", "1e300"],
    },
    Member {
        name: "username",
        good: Good::Str("fuzz-user"),
        presence: Presence::AccessOnly,
        alternates: &[],
    },
    Member {
        name: "cognito:username",
        good: Good::Str("fuzz-user"),
        presence: Presence::IdOnly,
        alternates: &[],
    },
    Member {
        name: "jti",
        good: Good::Str("7f3e4d8c-0000-4000-8000-000000000003"),
        presence: Presence::Always,
        alternates: &[],
    },
    Member {
        name: "origin_jti",
        good: Good::Str("6e2d3c7b-0000-4000-8000-000000000002"),
        presence: Presence::Always,
        alternates: &[],
    },
    Member {
        name: "email",
        good: Good::Str("fuzz@example.com"),
        presence: Presence::IdOnly,
        alternates: &["null", r#""a\r\nSet-Cookie: x=y""#],
    },
];

fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

/// Every character `\u`-escaped (surrogate pairs for characters beyond the BMP).
fn escaped_string(text: &str) -> String {
    let mut out = String::from("\"");
    for unit in text.encode_utf16() {
        let _ = write!(out, "\\u{unit:04x}");
    }
    out.push('"');
    out
}

/// A member name with its first character `\u`-escaped.
fn escaped_name(name: &str) -> String {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return json_string(name);
    };
    let rest = json_string(chars.as_str());
    let mut out = String::from("\"");
    let mut units = [0u16; 2];
    for unit in first.encode_utf16(&mut units) {
        let _ = write!(out, "\\u{unit:04x}");
    }
    out.push_str(&rest[1..]);
    out
}

fn good_text(member: &Member, id_token: bool) -> String {
    match member.good {
        Good::Str(text) => json_string(text),
        Good::IdOrAccess(id, access) => json_string(if id_token { id } else { access }),
        Good::Num(number) => number.to_string(),
        Good::Strs(items) => serde_json::to_string(items).expect("strings serialize"),
        Good::Raw(raw) => raw.to_owned(),
    }
}

fn render_value(member: Option<&Member>, id_token: bool, value: &JsonValue) -> String {
    let good = || member.map_or_else(|| "1".to_owned(), |m| good_text(m, id_token));
    match value {
        JsonValue::Good => good(),
        JsonValue::Alternate(index) => match member {
            Some(m) if !m.alternates.is_empty() => {
                m.alternates[usize::from(*index) % m.alternates.len()].to_owned()
            }
            _ => good(),
        },
        JsonValue::GoodPlus(delta) => match member.map(|m| m.good) {
            Some(Good::Num(number)) => (number + i64::from(*delta)).to_string(),
            Some(Good::Str(text)) => json_string(&format!("{text}{delta}")),
            Some(Good::IdOrAccess(id, access)) => {
                json_string(&format!("{}{delta}", if id_token { id } else { access }))
            }
            Some(Good::Strs(items)) => {
                let mut items: Vec<String> = items.iter().map(|s| (*s).to_owned()).collect();
                items.push(delta.to_string());
                serde_json::to_string(&items).expect("strings serialize")
            }
            Some(Good::Raw(_)) | None => good(),
        },
        JsonValue::GoodInArray => format!("[{}]", good()),
        JsonValue::GoodEscaped => match member.map(|m| m.good) {
            Some(Good::Str(text)) => escaped_string(text),
            Some(Good::IdOrAccess(id, access)) => {
                escaped_string(if id_token { id } else { access })
            }
            _ => good(),
        },
        JsonValue::Null => "null".to_owned(),
        JsonValue::Bool(value) => value.to_string(),
        JsonValue::Int(value) => value.to_string(),
        JsonValue::Float(value) => serde_json::Number::from_f64(*value)
            .map_or_else(|| "1e999".to_owned(), |number| number.to_string()),
        JsonValue::Text(text) => json_string(text),
        JsonValue::Texts(items) => serde_json::to_string(items).expect("strings serialize"),
        JsonValue::Object(members) => {
            let members: Vec<String> = members
                .iter()
                .map(|(name, value)| format!("{}:{value}", json_string(name)))
                .collect();
            format!("{{{}}}", members.join(","))
        }
        JsonValue::Nested(depth) => {
            let depth = usize::from(*depth);
            format!("{}{}", "[".repeat(depth), "]".repeat(depth))
        }
    }
}

/// Rendered members of one object, with the names as a JSON parser sees them.
#[derive(Default)]
struct Members {
    /// (name text as written, parsed name, value text).
    items: Vec<(String, String, String)>,
}

impl Members {
    fn push(&mut self, written_name: String, name: &str, value: String) {
        self.items.push((written_name, name.to_owned(), value));
    }

    fn has_duplicates(&self) -> bool {
        let mut names: Vec<&str> = self
            .items
            .iter()
            .map(|(_, name, _)| name.as_str())
            .collect();
        names.sort_unstable();
        names.windows(2).any(|pair| pair[0] == pair[1])
    }

    fn render(&self, layout: Layout) -> String {
        let mut items: Vec<String> = self
            .items
            .iter()
            .map(|(name, _, value)| match layout {
                Layout::Spaced => format!("\n\t{name} : {value} "),
                _ => format!("{name}:{value}"),
            })
            .collect();
        if matches!(layout, Layout::Reversed) {
            items.reverse();
        }
        let body = format!("{{{}}}", items.join(","));
        match layout {
            Layout::Bom => format!("\u{feff}{body}"),
            Layout::Trailing => format!("{body} x"),
            Layout::Compact | Layout::Spaced | Layout::Reversed => body,
        }
    }
}

fn render_object(
    members: &[Member],
    slots: &[Slot],
    extras: &[(MemberName, JsonValue)],
    id_token: bool,
) -> Members {
    let mut out = Members::default();
    for (member, slot) in members.iter().zip(slots) {
        let present = match member.presence {
            Presence::Always => true,
            Presence::IdOnly => id_token,
            Presence::AccessOnly => !id_token,
            Presence::Never => false,
        };
        let name = json_string(member.name);
        match slot {
            Slot::Default if present => {
                out.push(name, member.name, good_text(member, id_token));
            }
            Slot::Default | Slot::Absent => {}
            Slot::Set(value) => {
                out.push(
                    name,
                    member.name,
                    render_value(Some(member), id_token, value),
                );
            }
            Slot::Twice {
                first,
                second,
                escaped_name: escape,
            } => {
                out.push(
                    name.clone(),
                    member.name,
                    render_value(Some(member), id_token, first),
                );
                let second_name = if *escape {
                    escaped_name(member.name)
                } else {
                    name
                };
                out.push(
                    second_name,
                    member.name,
                    render_value(Some(member), id_token, second),
                );
            }
        }
    }
    for (name, value) in extras {
        match name {
            MemberName::Known(index) | MemberName::KnownEscaped(index) => {
                let member = &members[usize::from(*index) % members.len()];
                let written = if matches!(name, MemberName::KnownEscaped(_)) {
                    escaped_name(member.name)
                } else {
                    json_string(member.name)
                };
                out.push(
                    written,
                    member.name,
                    render_value(Some(member), id_token, value),
                );
            }
            MemberName::Free(free) => {
                out.push(json_string(free), free, render_value(None, id_token, value));
            }
        }
    }
    out
}

fn splice(token: &str, offset: u16, edit: impl FnOnce(&mut String, usize)) -> String {
    let mut out = token.to_owned();
    if !out.is_empty() {
        // The token is ASCII until tampered with, so every byte offset is a char boundary.
        edit(&mut out, usize::from(offset) % token.len());
    }
    out
}

/// Renders, signs and tampers with a spec; returns the token to verify and which string (if
/// any) may be accepted.
fn build(spec: &TokenSpec) -> (String, Option<String>, bool) {
    let header = render_object(&HEADER, &spec.header, &spec.extra_header, spec.id_token);
    let payload = render_object(&PAYLOAD, &spec.payload, &spec.extra_payload, spec.id_token);
    let duplicates =
        header.has_duplicates() || (spec.raw_payload.is_none() && payload.has_duplicates());
    let header_text = header.render(spec.header_layout);
    let payload_text = spec
        .raw_payload
        .clone()
        .unwrap_or_else(|| payload.render(spec.payload_layout));
    let signed = sign(&header_text, &payload_text);
    let (head, signature) = signed.rsplit_once('.').expect("three segments");
    let (header_segment, payload_segment) = head.split_once('.').expect("three segments");
    let mut genuine = Some(signed.clone());
    let token = match &spec.tamper {
        Tamper::None => signed.clone(),
        Tamper::Replace { offset, with } => splice(&signed, *offset, |out, at| {
            out.replace_range(at..=at, &char::from(*with).to_string());
        }),
        Tamper::Insert { offset, with } => {
            let at = usize::from(*offset) % (signed.len() + 1);
            let mut out = signed.clone();
            out.insert(at, char::from(*with));
            out
        }
        Tamper::Remove { offset } => splice(&signed, *offset, |out, at| {
            out.remove(at);
        }),
        Tamper::SignedOtherPayload { member, value } => {
            let mut slots = spec.payload.clone();
            slots[usize::from(*member) % PAYLOAD.len()] = Slot::Set(value.clone());
            let other = render_object(&PAYLOAD, &slots, &spec.extra_payload, spec.id_token)
                .render(spec.payload_layout);
            format!("{header_segment}.{}.{signature}", base64url(other))
        }
        Tamper::SignedWith(digest) => {
            genuine = None;
            let algorithm = match digest {
                OtherDigest::Rs384 => Algorithm::RS384,
                OtherDigest::Rs512 => Algorithm::RS512,
            };
            sign_with(algorithm, &header_text, &payload_text)
        }
        Tamper::Signature(bytes) => format!("{head}.{}", base64url(bytes)),
        Tamper::Padded => {
            let pad = |segment: &str| {
                let mut segment = segment.to_owned();
                while !segment.len().is_multiple_of(4) {
                    segment.push('=');
                }
                segment
            };
            format!(
                "{}.{}.{}",
                pad(header_segment),
                pad(payload_segment),
                pad(signature)
            )
        }
        Tamper::StandardAlphabet => format!(
            "{header_segment}.{}.{signature}",
            STANDARD.encode(payload_text.as_bytes())
        ),
        Tamper::SwapSegments => format!("{payload_segment}.{header_segment}.{signature}"),
        Tamper::Truncate(length) => {
            let mut out = signed.clone();
            out.truncate(usize::from(*length));
            out
        }
        Tamper::ExtraSegment => format!("{signed}.{signature}"),
        Tamper::BearerPrefix => format!("Bearer {signed}"),
    };
    (token, genuine, duplicates)
}

/// Target `verify_structured`: decodes a [`TokenSpec`] from the bytes as `fuzz_target!` would,
/// then checks it.
pub fn verify_structured_bytes(data: &[u8]) {
    if let Ok(spec) = TokenSpec::arbitrary_take_rest(Unstructured::new(data)) {
        verify_structured(&spec);
    }
}

/// Builds the token a spec describes and checks the verifier's decision.
pub fn verify_structured(spec: &TokenSpec) {
    let (token, genuine, duplicates) = build(spec);
    let may_accept = match &genuine {
        Some(signed) => MayAccept::Exactly(signed),
        None => MayAccept::Nothing,
    };
    check_token(&token, may_accept);
    if duplicates {
        assert!(
            complete(verifiers().uncached.verify(&token)).is_err(),
            "accepted a token with duplicate members"
        );
    }
}

// --- target: policy_expr -----------------------------------------------------------------------

/// The named policies `policy_expr` compiles against: a reference chain, a public one (and an
/// alias of it), a negative scope and quoted names.
pub const POLICY_SET: [(&str, &str); 7] = [
    ("admin", "group:admin"),
    ("reader", "scope:api/read or policy:admin"),
    ("open", "public"),
    ("open_alias", "policy:open"),
    ("no_banned", "not scope:api/banned"),
    ("team", r#"group:"team blue" and claim:custom:tenant=acme"#),
    (
        "careful",
        "policy:reader and policy:no_banned and not token_use:id",
    ),
];

fn policy_set() -> &'static PolicySet {
    static SET: OnceLock<PolicySet> = OnceLock::new();
    SET.get_or_init(|| {
        PolicySet::from_policies(POLICY_SET.iter().map(|(name, text)| {
            let policy: Policy = text.parse().expect("a valid named policy");
            (*name, policy)
        }))
        .expect("a valid policy set")
    })
}

/// Verified tokens the compiled policies are evaluated against: an access token with scopes,
/// groups (one with a space) and custom claims of every JSON type, and an id token.
fn policy_tokens() -> &'static [Arc<VerifiedToken>] {
    static TOKENS: OnceLock<Vec<Arc<VerifiedToken>>> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let extend = |payload: String, extra: Value| {
            let mut value: Value = serde_json::from_str(&payload).expect("json");
            let map = value.as_object_mut().expect("object");
            for (name, member) in extra.as_object().expect("object") {
                map.insert(name.clone(), member.clone());
            }
            value.to_string()
        };
        let access = extend(
            valid_access_payload(),
            json!({
                "scope": "api/read openid",
                "cognito:groups": ["admin", "team blue"],
                "custom:tenant": "acme",
                "custom:n": 42,
                "custom:f": 1.5,
                "custom:flag": true,
                "custom:none": null,
                "custom:list": ["a", 1, false, null, {"x": 1}],
                "custom:obj": {"k": "v"},
            }),
        );
        let id = extend(
            valid_id_payload(),
            json!({"cognito:groups": ["team blue"], "custom:tenant": "other"}),
        );
        [access, id]
            .iter()
            .map(|payload| {
                complete(
                    verifiers()
                        .uncached
                        .verify(&sign(&valid_header(KID), payload)),
                )
                .expect("a valid token of the fuzz pool")
            })
            .collect()
    })
}

/// Target `policy_expr`: the bytes (lossy UTF-8) as a policy expression.
pub fn policy_expr_bytes(data: &[u8]) {
    policy_expr(&String::from_utf8_lossy(data));
}

/// Parses `text` and checks the parser's and the compiler's promises:
/// - an error's column lies within `1..=chars + 1` and its text is `column N: MESSAGE`;
/// - a parsed policy prints to text that parses to an equal policy and prints identically;
/// - compiling against [`POLICY_SET`] (and against an empty set) never panics; a compiled policy
///   keeps the printed text, evaluates every token without panicking, with `insufficient_scope`
///   only when it has required scopes (and listing exactly those), a public one allows all,
///   `explain` agrees with `evaluate`, and the effective (inlined) form, when it parses, compiles
///   without the set to a policy that decides every token the same way;
/// - a policy that compiles without the set compiles with it, to the same decisions.
pub fn policy_expr(text: &str) {
    let policy = match text.parse::<Policy>() {
        Ok(policy) => policy,
        Err(error) => {
            let chars = text.chars().count();
            assert!(
                (1..=chars + 1).contains(&error.column),
                "error column {} outside 1..={} for {text:?}: {error}",
                error.column,
                chars + 1
            );
            assert!(!error.message.is_empty(), "an error without a message");
            assert_eq!(
                error.to_string(),
                format!("column {}: {}", error.column, error.message)
            );
            return;
        }
    };
    let printed = policy.to_string();
    let reparsed: Policy = printed
        .parse()
        .unwrap_or_else(|error| panic!("printed form {printed:?} does not parse: {error}"));
    assert_eq!(reparsed, policy, "print -> parse changed the policy");
    assert_eq!(reparsed.to_string(), printed, "print -> parse -> print");

    let with_set = policy_set().compile(&policy);
    if let Ok(compiled) = &with_set {
        check_compiled(compiled, &printed);
        if policy.is_public() {
            assert!(
                compiled.is_public(),
                "`public` compiled to a non-public policy"
            );
        }
    }
    if let Ok(alone) = policy.compile() {
        check_compiled(&alone, &printed);
        let Ok(compiled) = &with_set else {
            panic!("compiles without the set but not with it: {with_set:?}");
        };
        assert_eq!(alone.is_public(), compiled.is_public());
        assert_eq!(alone.required_scopes(), compiled.required_scopes());
        for token in policy_tokens() {
            assert_eq!(alone.evaluate(token), compiled.evaluate(token));
        }
    }
}

/// The promises of a compiled policy (see [`policy_expr`]).
fn check_compiled(compiled: &CompiledPolicy, printed: &str) {
    assert_eq!(
        compiled.text(),
        printed,
        "compiled text is not the printed form"
    );
    let scopes = compiled.required_scopes();
    for (index, scope) in scopes.iter().enumerate() {
        assert!(
            !scopes[..index].contains(scope),
            "required scopes repeat {scope:?}"
        );
    }
    let decisions: Vec<Evaluation> = policy_tokens()
        .iter()
        .map(|token| {
            let evaluation = compiled.evaluate(token);
            if compiled.is_public() {
                assert_eq!(evaluation, Evaluation::Allow, "a public policy denied");
            }
            if let Evaluation::InsufficientScope(listed) = &evaluation {
                assert!(!listed.is_empty(), "insufficient_scope without scopes");
                assert_eq!(&listed[..], scopes, "challenge scopes differ from required");
            }
            assert_eq!(
                compiled.explain(token).allowed,
                evaluation.is_allowed(),
                "explain and evaluate disagree"
            );
            evaluation
        })
        .collect();
    let effective = compiled.effective();
    if let Ok(inlined) = effective.parse::<Policy>() {
        let inlined = inlined.compile().unwrap_or_else(|error| {
            panic!("effective form {effective:?} does not compile on its own: {error}")
        });
        assert_eq!(inlined.is_public(), compiled.is_public());
        assert_eq!(
            inlined.required_scopes(),
            scopes,
            "inlining changed the scopes"
        );
        for (token, decision) in policy_tokens().iter().zip(&decisions) {
            assert_eq!(
                &inlined.evaluate(token),
                decision,
                "the effective form {effective:?} decides otherwise"
            );
        }
    }
}

// --- target: policy_file -----------------------------------------------------------------------

/// The folder relative `jwks_file` paths resolve against. Never read: `PolicyFile::parse` only
/// joins paths (key files are read by `check_key_files`, which the target does not call).
pub const POLICY_FILE_BASE_DIR: &str = "/nonexistent/cognito-authz-fuzz";
/// The label errors name.
pub const POLICY_FILE_LABEL: &str = "fuzz.toml";

/// Target `policy_file`: the bytes (lossy UTF-8) as a policy file.
pub fn policy_file_bytes(data: &[u8]) {
    policy_file(&String::from_utf8_lossy(data));
}

/// Loads `text` as a policy file and checks:
/// - an error names [`POLICY_FILE_LABEL`], a line within the text and a column within that line
///   (both 1-based; the column may be one past the line's last character);
/// - a loaded file has issuers with distinct names, and every route's policy, the unmatched
///   default and every named policy prints to text that parses back to the same text and
///   compiles against the file's named policies to the same scopes, publicness and effective
///   form;
/// - a route with a plain static pattern is what a lookup of that very path finds, for the
///   route's first method (GET when it has none).
pub fn policy_file(text: &str) {
    let file = match PolicyFile::parse(text, POLICY_FILE_BASE_DIR, POLICY_FILE_LABEL) {
        Ok(file) => file,
        Err(error) => {
            assert_eq!(
                error.location().map(cognito_authz_core::Location::file),
                Some(POLICY_FILE_LABEL)
            );
            let lines: Vec<&str> = text.split('\n').collect();
            assert!(
                (1..=lines.len()).contains(&error.line()),
                "error line {} outside 1..={}: {error}",
                error.line(),
                lines.len()
            );
            let width = lines[error.line() - 1].chars().count();
            assert!(
                (1..=width + 1).contains(&error.column()),
                "error column {} outside 1..={} of line {}: {error}",
                error.column(),
                width + 1,
                error.line()
            );
            assert!(!error.message().is_empty(), "an error without a message");
            return;
        }
    };
    assert_eq!(file.label(), POLICY_FILE_LABEL);
    let issuers = file.issuers();
    assert!(!issuers.is_empty(), "a file without issuers loaded");
    for (index, issuer) in issuers.iter().enumerate() {
        assert!(!issuer.name().is_empty(), "an issuer with an empty name");
        assert!(
            issuers[..index]
                .iter()
                .all(|other| other.name() != issuer.name()),
            "two issuers named {:?}",
            issuer.name()
        );
    }
    let table = file.routes();
    let set = table.policies();
    let reparse = |what: &str, compiled: &CompiledPolicy| {
        let text = compiled.text();
        let policy: Policy = text
            .parse()
            .unwrap_or_else(|error| panic!("{what}: policy {text:?} does not re-parse: {error}"));
        assert_eq!(policy.to_string(), text, "{what}: print -> parse -> print");
        let again = set
            .compile(&policy)
            .unwrap_or_else(|error| panic!("{what}: {text:?} does not compile again: {error}"));
        assert_eq!(again.is_public(), compiled.is_public(), "{what}");
        assert_eq!(
            again.required_scopes(),
            compiled.required_scopes(),
            "{what}"
        );
        assert_eq!(again.effective(), compiled.effective(), "{what}");
    };
    for route in table.routes() {
        reparse(&format!("route {:?}", route.pattern()), route.policy());
        let pattern = route.pattern();
        if !pattern.contains(['{', '}', '*', ':']) {
            let method = route
                .methods()
                .and_then(<[Method]>::first)
                .unwrap_or(&Method::GET);
            let found = table.lookup(method, pattern);
            assert_eq!(
                found.pattern(),
                Some(pattern),
                "{method} {pattern} does not find its own static route"
            );
        }
    }
    reparse("defaults.unmatched", table.unmatched());
    for name in set.names() {
        let policy = set.get(name).expect("a listed name is defined");
        let text = policy.to_string();
        let reparsed: Policy = text
            .parse()
            .unwrap_or_else(|error| panic!("policy {name:?}: {text:?} does not re-parse: {error}"));
        assert_eq!(&reparsed, policy, "policy {name:?}: print -> parse");
    }
    let _ = file.to_string();
    let _ = file.token_source().header_name();
}

// --- target: token_source ----------------------------------------------------------------------

/// A request header's name, spelled as a client might.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderChoice {
    /// `authorization`
    Authorization,
    /// `Authorization`
    AuthorizationTitle,
    /// `cookie`
    Cookie,
    /// `Cookie`
    CookieTitle,
    /// `dev-auth-token`
    DevAuthToken,
    /// `x-other`
    XOther,
}

impl HeaderChoice {
    /// The name as sent.
    pub fn name(self) -> &'static str {
        match self {
            Self::Authorization => "authorization",
            Self::AuthorizationTitle => "Authorization",
            Self::Cookie => "cookie",
            Self::CookieTitle => "Cookie",
            Self::DevAuthToken => "dev-auth-token",
            Self::XOther => "x-other",
        }
    }
}

/// What a header value starts with (then the raw bytes follow), so the interesting shapes are
/// one choice away.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValuePrefix {
    /// nothing: the raw bytes only
    None,
    /// `Bearer `
    Bearer,
    /// `bearer\t`
    BearerLowerTab,
    /// `  BEARER   ` (padded, several spaces)
    BearerPadded,
    /// `Basic `
    Basic,
    /// `id_token=`
    IdTokenCookie,
    /// `theme=dark; id_token=`
    SecondIdTokenCookie,
    /// `id_token="`
    QuotedIdTokenCookie,
    /// `token=`
    TokenCookie,
    /// `a.b.c` (a token-shaped value)
    Token,
}

impl ValuePrefix {
    /// The prefix bytes.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Self::None => b"",
            Self::Bearer => b"Bearer ",
            Self::BearerLowerTab => b"bearer\t",
            Self::BearerPadded => b"  BEARER   ",
            Self::Basic => b"Basic ",
            Self::IdTokenCookie => b"id_token=",
            Self::SecondIdTokenCookie => b"theme=dark; id_token=",
            Self::QuotedIdTokenCookie => b"id_token=\"",
            Self::TokenCookie => b"token=",
            Self::Token => b"a.b.c",
        }
    }
}

/// One header of the request.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct HeaderSpec {
    /// Its name.
    pub name: HeaderChoice,
    /// The start of its value.
    pub prefix: ValuePrefix,
    /// The rest of its value.
    pub value: Vec<u8>,
}

/// The header a token source reads, when not the default.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomHeader {
    /// `dev-auth-token`
    DevAuthToken,
    /// `Dev-Auth-Token` (the builder lowercases)
    DevAuthTokenTitle,
    /// `Authorization` (the default, spelled differently)
    AuthorizationTitle,
    /// `x-other`
    XOther,
}

/// The cookie a token source reads.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieChoice {
    /// `id_token`
    IdToken,
    /// `token`
    Token,
    /// `access_token`
    AccessToken,
}

/// A token source configuration.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceSpec {
    /// `TokenSource::default()` (the `Authorization` header, no cookie).
    Default,
    /// Another header, no cookie.
    Header(CustomHeader),
    /// The `Authorization` header and a cookie.
    Cookie(CookieChoice),
    /// Another header and a cookie.
    HeaderAndCookie(CustomHeader, CookieChoice),
}

/// A request's headers and the token source reading them.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct SourceInput {
    /// The configuration.
    pub source: SourceSpec,
    /// The headers, in order (repeated names are appended, not replaced).
    pub headers: Vec<HeaderSpec>,
}

impl SourceSpec {
    /// The token source it describes.
    pub fn build(self) -> TokenSource {
        let header = |custom: CustomHeader| match custom {
            CustomHeader::DevAuthToken => "dev-auth-token",
            CustomHeader::DevAuthTokenTitle => "Dev-Auth-Token",
            CustomHeader::AuthorizationTitle => "Authorization",
            CustomHeader::XOther => "x-other",
        };
        let cookie = |choice: CookieChoice| match choice {
            CookieChoice::IdToken => "id_token",
            CookieChoice::Token => "token",
            CookieChoice::AccessToken => "access_token",
        };
        let builder = TokenSource::builder();
        let builder = match self {
            Self::Default => return TokenSource::default(),
            Self::Header(custom) => builder.header(header(custom)),
            Self::Cookie(choice) => builder.cookie(cookie(choice)),
            Self::HeaderAndCookie(custom, choice) => {
                builder.header(header(custom)).cookie(cookie(choice))
            }
        };
        builder.build().expect("valid token source names")
    }
}

/// Encodes `input` as the bytes `arbitrary` 1.x decodes back to it (for writing seeds; the
/// round trip is checked where seeds are written).
pub fn encode_source_input(input: &SourceInput) -> Vec<u8> {
    fn variant(out: &mut Vec<u8>, index: u32, count: u32) {
        // derive(Arbitrary) picks variant `(u64::from(u32) * count) >> 32`.
        let x = ((u64::from(index) << 32).div_ceil(u64::from(count))) as u32;
        out.extend_from_slice(&x.to_le_bytes());
    }
    fn custom(out: &mut Vec<u8>, custom: CustomHeader) {
        variant(out, custom as u32, 4);
    }
    fn cookie(out: &mut Vec<u8>, choice: CookieChoice) {
        variant(out, choice as u32, 3);
    }
    let mut out = Vec::new();
    match input.source {
        SourceSpec::Default => variant(&mut out, 0, 4),
        SourceSpec::Header(c) => {
            variant(&mut out, 1, 4);
            custom(&mut out, c);
        }
        SourceSpec::Cookie(k) => {
            variant(&mut out, 2, 4);
            cookie(&mut out, k);
        }
        SourceSpec::HeaderAndCookie(c, k) => {
            variant(&mut out, 3, 4);
            custom(&mut out, c);
            cookie(&mut out, k);
        }
    }
    for header in &input.headers {
        out.push(1);
        variant(&mut out, header.name as u32, 6);
        variant(&mut out, header.prefix as u32, 10);
        for byte in &header.value {
            out.extend([1, *byte]);
        }
        out.push(0);
    }
    out.push(0);
    out
}

/// Target `token_source`: decodes a [`SourceInput`] from the bytes as `fuzz_target!` would,
/// then checks it.
pub fn token_source_bytes(data: &[u8]) {
    if let Ok(input) = SourceInput::arbitrary_take_rest(Unstructured::new(data)) {
        token_source(&input);
    }
}

/// Headers as a list of pairs, looked up case-insensitively: a second [`HeaderLookup`] the
/// result must not depend on.
struct Pairs<'p>(&'p [(HeaderName, Vec<u8>)]);

impl HeaderLookup for Pairs<'_> {
    fn values<'a>(&'a self, name: &HeaderName) -> impl Iterator<Item = &'a [u8]> {
        let name = name.clone();
        self.0
            .iter()
            .filter(move |(candidate, _)| *candidate == name)
            .map(|(_, value)| value.as_slice())
    }
}

/// Bytes that are plainly one token: `[A-Za-z0-9._-]+`.
fn plain_token(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn outcome(result: Result<&str, Error>) -> Result<String, ErrorKind> {
    result.map(str::to_owned).map_err(|error| error.kind())
}

/// Builds the `HeaderMap` (skipping values `HeaderValue` rejects), extracts, and checks:
/// - the same answer from a second header-lookup implementation, and from a map holding only
///   the headers the source reads (the configured header, and `Cookie` when a cookie is set);
/// - errors are `missing_token`, `invalid_request` or `malformed_token`, the last only when a
///   header the source reads is not UTF-8;
/// - a token is non-empty and a substring of a value of a header the source reads;
/// - DESIGN.md §3: the configured header twice → `invalid_request`; no configured header and
///   no cookie header naming the cookie → `missing_token`; exactly one header holding
///   `Bearer <t>` (or plain `<t>`) with a plain `t` → `t`, unless a cookie header holds
///   `NAME=<u>` with a plain `u` (a token in two places) → `invalid_request`.
pub fn token_source(input: &SourceInput) {
    let source = input.source.build();
    let mut kept: Vec<(HeaderName, Vec<u8>)> = Vec::new();
    let mut map = HeaderMap::new();
    for header in &input.headers {
        let name = HeaderName::from_bytes(header.name.name().as_bytes()).expect("a header name");
        let mut value = header.prefix.bytes().to_vec();
        value.extend_from_slice(&header.value);
        let Ok(header_value) = HeaderValue::from_bytes(&value) else {
            continue;
        };
        map.append(name.clone(), header_value);
        kept.push((name, value));
    }
    let result = outcome(source.extract(&map));
    assert_eq!(
        outcome(source.extract_from(&Pairs(&kept))),
        result,
        "another header lookup changed the answer"
    );

    let configured = source.header_name();
    let cookie = source.cookie_name();
    let read = |name: &HeaderName| name == configured || (cookie.is_some() && *name == COOKIE);
    let relevant: Vec<(HeaderName, Vec<u8>)> = kept
        .iter()
        .filter(|(name, _)| read(name))
        .cloned()
        .collect();
    let mut only_relevant = HeaderMap::new();
    for (name, value) in &relevant {
        only_relevant.append(name.clone(), HeaderValue::from_bytes(value).expect("kept"));
    }
    assert_eq!(
        outcome(source.extract(&only_relevant)),
        result,
        "a header the source does not read changed the answer"
    );

    let header_values: Vec<&[u8]> = relevant
        .iter()
        .filter(|(name, _)| name == configured)
        .map(|(_, value)| value.as_slice())
        .collect();
    let cookie_values: Vec<&[u8]> = relevant
        .iter()
        .filter(|(name, _)| *name == COOKIE && name != configured)
        .map(|(_, value)| value.as_slice())
        .collect();
    let names_cookie = |name: &str| {
        cookie_values.iter().any(|value| {
            value
                .windows(name.len())
                .any(|window| window == name.as_bytes())
        })
    };
    let cookie_possible = cookie.is_some_and(names_cookie);
    let plain_cookie = cookie.is_some_and(|name| {
        cookie_values.iter().any(|value| {
            value
                .strip_prefix(name.as_bytes())
                .and_then(|rest| rest.strip_prefix(b"="))
                .is_some_and(plain_token)
        })
    });

    match &result {
        Ok(token) => {
            assert!(!token.is_empty(), "an empty token");
            assert!(
                relevant.iter().any(|(_, value)| value
                    .windows(token.len())
                    .any(|window| window == token.as_bytes())),
                "token {token:?} is in no header the source reads"
            );
        }
        Err(kind) => {
            assert!(
                matches!(
                    kind,
                    ErrorKind::MissingToken | ErrorKind::InvalidRequest | ErrorKind::MalformedToken
                ),
                "token extraction answered {kind:?}"
            );
            if *kind == ErrorKind::MalformedToken {
                assert!(
                    relevant
                        .iter()
                        .any(|(_, value)| std::str::from_utf8(value).is_err()),
                    "malformed_token without a non-UTF-8 value"
                );
            }
        }
    }
    if header_values.len() >= 2 {
        assert_eq!(
            result,
            Err(ErrorKind::InvalidRequest),
            "the token header twice must be invalid_request"
        );
    }
    if header_values.is_empty() && !cookie_possible {
        assert_eq!(
            result,
            Err(ErrorKind::MissingToken),
            "no configured header or cookie must be missing_token"
        );
    }
    if let [value] = header_values[..] {
        let text = value.strip_prefix(b"Bearer ").unwrap_or(value);
        if plain_token(text) && !text.eq_ignore_ascii_case(b"bearer") {
            if plain_cookie {
                assert_eq!(
                    result,
                    Err(ErrorKind::InvalidRequest),
                    "a token in the header and the cookie must be invalid_request"
                );
            } else if !cookie_possible {
                assert_eq!(
                    result.as_ref().ok().map(String::as_bytes),
                    Some(text),
                    "the header's token"
                );
            }
        }
    }
}

/// Describes what an input means to a target and what the verifier decides (the `explain`
/// example; for triage, not used by the targets).
pub fn explain(target: &str, data: &[u8]) -> String {
    let mut out = String::new();
    let show_token = |out: &mut String, token: &str| {
        let _ = writeln!(out, "token: {token}");
        match decode_unverified(token) {
            Ok((header, payload)) => {
                let _ = writeln!(
                    out,
                    "header: {}\npayload: {}",
                    Value::from(header),
                    Value::from(payload)
                );
            }
            Err(error) => {
                let _ = writeln!(out, "decode_unverified: {error}");
            }
        }
        for (name, verifier) in [
            ("cached", &verifiers().cached),
            ("uncached", &verifiers().uncached),
        ] {
            let outcome = complete(verifier.verify(token));
            let _ = writeln!(
                out,
                "{name}: {:?}",
                outcome.map(|verified| verified.kid().to_owned())
            );
        }
    };
    match target {
        "verify" => show_token(&mut out, &String::from_utf8_lossy(data)),
        "verify_structured" => match TokenSpec::arbitrary_take_rest(Unstructured::new(data)) {
            Ok(spec) => {
                let (token, genuine, duplicates) = build(&spec);
                let _ = writeln!(out, "spec: {spec:#?}");
                let header =
                    render_object(&HEADER, &spec.header, &spec.extra_header, spec.id_token);
                let payload =
                    render_object(&PAYLOAD, &spec.payload, &spec.extra_payload, spec.id_token);
                let _ = writeln!(out, "header text: {}", header.render(spec.header_layout));
                let _ = writeln!(out, "payload text: {}", payload.render(spec.payload_layout));
                let _ = writeln!(
                    out,
                    "genuine: {}; duplicates: {duplicates}",
                    genuine.as_deref() == Some(token.as_str())
                );
                show_token(&mut out, &token);
            }
            Err(error) => {
                let _ = writeln!(out, "not a spec: {error}");
            }
        },
        "keyset" => {
            let _ = writeln!(
                out,
                "KeySet::from_json: {:?}",
                KeySet::from_json(data)
                    .map(|set| set.kids().map(str::to_owned).collect::<Vec<_>>())
            );
        }
        "policy_expr" => {
            let text = String::from_utf8_lossy(data);
            let _ = writeln!(out, "text: {text:?}");
            match text.parse::<Policy>() {
                Ok(policy) => {
                    let _ = writeln!(out, "parsed: {policy:?}\nprinted: {policy}");
                    let _ = writeln!(out, "reparsed: {:?}", policy.to_string().parse::<Policy>());
                    match policy_set().compile(&policy) {
                        Ok(compiled) => {
                            let _ = writeln!(
                                out,
                                "compiled: {compiled:?}\neffective: {}",
                                compiled.effective()
                            );
                            for token in policy_tokens() {
                                let _ = writeln!(
                                    out,
                                    "{:?} token: {:?} ({})",
                                    token.token_use(),
                                    compiled.evaluate(token),
                                    compiled.explain(token)
                                );
                            }
                        }
                        Err(error) => {
                            let _ = writeln!(out, "compile: {error}");
                        }
                    }
                }
                Err(error) => {
                    let _ = writeln!(
                        out,
                        "error: {error} (text has {} chars)",
                        text.chars().count()
                    );
                }
            }
        }
        "policy_file" => {
            let text = String::from_utf8_lossy(data);
            let _ = writeln!(out, "text: {text:?}");
            match PolicyFile::parse(&text, POLICY_FILE_BASE_DIR, POLICY_FILE_LABEL) {
                Ok(file) => {
                    let _ = writeln!(
                        out,
                        "loaded, issuers: {:?}",
                        file.issuers()
                            .iter()
                            .map(IssuerConfig::name)
                            .collect::<Vec<_>>()
                    );
                    let _ = write!(out, "{file}");
                }
                Err(error) => {
                    let _ = writeln!(out, "error: {error}");
                }
            }
        }
        "token_source" => match SourceInput::arbitrary_take_rest(Unstructured::new(data)) {
            Ok(input) => {
                let _ = writeln!(out, "input: {input:#?}");
                let source = input.source.build();
                let _ = writeln!(out, "source: {source:?}");
                let mut map = HeaderMap::new();
                for header in &input.headers {
                    let mut value = header.prefix.bytes().to_vec();
                    value.extend_from_slice(&header.value);
                    match HeaderValue::from_bytes(&value) {
                        Ok(header_value) => {
                            if let Ok(name) = HeaderName::from_bytes(header.name.name().as_bytes())
                            {
                                map.append(name, header_value);
                            }
                        }
                        Err(_) => {
                            let _ = writeln!(
                                out,
                                "skipped (not a header value): {:?}",
                                String::from_utf8_lossy(&value)
                            );
                        }
                    }
                }
                let _ = writeln!(out, "headers: {map:?}");
                let _ = writeln!(out, "extract: {:?}", outcome(source.extract(&map)));
            }
            Err(error) => {
                let _ = writeln!(out, "not an input: {error}");
            }
        },
        other => {
            let _ = writeln!(out, "unknown target {other:?}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_all_default_spec_is_a_valid_token_for_both_kinds() {
        for id_token in [false, true] {
            let spec = TokenSpec {
                id_token,
                header: std::array::from_fn(|_| Slot::Default),
                payload: std::array::from_fn(|_| Slot::Default),
                extra_header: Vec::new(),
                extra_payload: Vec::new(),
                header_layout: Layout::Compact,
                payload_layout: Layout::Compact,
                raw_payload: None,
                tamper: Tamper::None,
            };
            let (token, genuine, duplicates) = build(&spec);
            assert_eq!(genuine.as_deref(), Some(token.as_str()));
            assert!(!duplicates);
            let verified = complete(verifiers().uncached.verify(&token)).expect("valid");
            assert_eq!(verified.client_id(), Some(CLIENT_ID));
        }
    }

    #[test]
    fn escaped_names_parse_to_the_same_name() {
        let text = format!("{{{}:1}}", escaped_name("exp"));
        let value: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(value["exp"], 1);
        let text = escaped_string("fuzz-key-1");
        let value: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(value, "fuzz-key-1");
    }

    #[test]
    fn source_inputs_encode_to_what_arbitrary_decodes() {
        let header = |name, prefix, value: &[u8]| HeaderSpec {
            name,
            prefix,
            value: value.to_vec(),
        };
        let inputs = [
            SourceInput {
                source: SourceSpec::Default,
                headers: Vec::new(),
            },
            SourceInput {
                source: SourceSpec::HeaderAndCookie(
                    CustomHeader::XOther,
                    CookieChoice::AccessToken,
                ),
                headers: vec![
                    header(HeaderChoice::XOther, ValuePrefix::Token, b"\x00\xff"),
                    header(HeaderChoice::CookieTitle, ValuePrefix::TokenCookie, b""),
                ],
            },
        ];
        for input in inputs {
            let bytes = encode_source_input(&input);
            let decoded = SourceInput::arbitrary_take_rest(Unstructured::new(&bytes));
            assert_eq!(decoded.ok(), Some(input));
        }
    }

    #[test]
    fn the_policy_set_compiles_and_the_policy_tokens_verify() {
        assert_eq!(policy_set().len(), POLICY_SET.len());
        assert_eq!(policy_tokens().len(), 2);
        policy_expr("policy:careful or policy:team");
    }

    #[test]
    fn probe_token_and_key_set_verify() {
        complete(verifiers().uncached.verify(probe_token())).expect("probe token verifies");
        keyset_bytes(key_set_json().as_bytes());
    }
}
