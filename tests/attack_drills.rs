//! Attack drills: what a hostile client sends, one table row each, with the exact code the
//! verifier must answer. tests/verify_checks.rs proves each check in isolation; these rows are
//! the known attacks on JWT verifiers (alg confusion, embedded keys, kid injection, claim
//! smuggling, cross-pool replay, size games, cache poisoning, header injection) and assert that
//! nothing an attacker controls reaches a key lookup, a fetch, the cache or a response.
//!
//! Also here: the stable replay of the committed fuzz corpora (`fuzz/corpus/verify`, `keyset`),
//! so every CI run pushes the fuzz seeds through the verifier even without cargo-fuzz.

use std::path::Path;
use std::time::Duration;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cognito_authz::jwks::KeySet;
use cognito_authz::{AcceptedTokenUse, ErrorKind, FixedClock, IssuerConfig, Verifier};
use cognito_authz_testkit::{
    JwksReply, JwksServer, LocalIssuer, SigningKey, base64url, jwks_value, sign_raw,
};
use serde_json::{Value, json};

/// The pool under attack (served over HTTP, warmed up), an attacker with their own key and
/// their own JWKS endpoint, and a real P-256 key published in the pool's set.
struct Drills {
    pool: LocalIssuer,
    attacker_key: SigningKey,
    attacker_server: JwksServer,
    ec: EcdsaKeyPair,
    verifier: Verifier,
}

const EC_KID: &str = "ec-p256";
const EC_WITH_RSA_MATERIAL_KID: &str = "ec-with-rsa-material";

impl Drills {
    async fn start() -> Self {
        let pool = LocalIssuer::start().await.expect("pool starts");
        let attacker_key = SigningKey::generate("attacker-key");
        let attacker_server = JwksServer::start([attacker_key.clone()])
            .await
            .expect("attacker endpoint starts");
        let ec =
            EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).expect("P-256 key");
        let point = ec.public_key().as_ref();
        let key = pool.signing_key();
        let mut document = jwks_value([&key]);
        let keys = document["keys"].as_array_mut().expect("keys");
        keys.push(json!({
            "kty": "EC", "kid": EC_KID, "crv": "P-256", "alg": "ES256", "use": "sig",
            "x": base64url(&point[1..33]), "y": base64url(&point[33..65]),
        }));
        // Type confusion: an EC entry that carries the real RSA material and claims RS256.
        keys.push(json!({
            "kty": "EC", "kid": EC_WITH_RSA_MATERIAL_KID, "alg": "RS256", "use": "sig",
            "n": key.modulus_base64url(), "e": key.exponent_base64url(),
        }));
        server(&pool).set_reply(JwksReply::Body(document.to_string()));
        let verifier = pool
            .verifier_builder(AcceptedTokenUse::Any)
            .verified_token_cache(10_000)
            .build()
            .expect("valid verifier");
        verifier.warm_up().await.expect("pool keys fetched");
        Self {
            pool,
            attacker_key,
            attacker_server,
            ec,
            verifier,
        }
    }

    fn real_kid(&self) -> String {
        self.pool.signing_key().kid().to_owned()
    }

    /// An access token with these header members, signed by the attacker's key.
    fn attacker_token(&self, kid: &str, members: &[(&str, Value)]) -> String {
        let mut token = self
            .pool
            .access_token()
            .signed_by(&self.attacker_key)
            .header("kid", kid);
        for (name, value) in members {
            token = token.header(*name, value.clone());
        }
        token.sign()
    }

    /// A valid access token's payload with `edit` applied to its JSON text, re-signed by the
    /// pool's key.
    fn resigned_payload(&self, edit: impl Fn(String) -> String) -> String {
        let token = self.pool.access_token();
        sign_raw(
            &self.pool.signing_key(),
            &token.header_json(),
            &edit(token.payload_json()),
        )
    }
}

fn server(pool: &LocalIssuer) -> &JwksServer {
    pool.server().expect("pool started with a server")
}

/// `header.payload.signature` with an HMAC over `header.payload` keyed by `secret`.
fn hmac_token(drills: &Drills, alg: &str, secret: &[u8]) -> String {
    let token = drills.pool.access_token().header("alg", alg);
    let input = format!(
        "{}.{}",
        base64url(token.header_json()),
        base64url(token.payload_json())
    );
    let algorithm = match alg {
        "HS384" => aws_lc_rs::hmac::HMAC_SHA384,
        "HS512" => aws_lc_rs::hmac::HMAC_SHA512,
        _ => aws_lc_rs::hmac::HMAC_SHA256,
    };
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(algorithm, secret),
        input.as_bytes(),
    );
    format!("{input}.{}", base64url(tag.as_ref()))
}

/// The pool's RSA public key as SubjectPublicKeyInfo DER: what `alg` confusion attacks feed to
/// HMAC, because verifiers that take the key "as bytes" would do the same.
fn public_key_der(key: &SigningKey) -> Vec<u8> {
    let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&key.to_pkcs8_der()).expect("own key");
    pair.public_key()
        .as_der()
        .expect("public key encodes")
        .as_ref()
        .to_vec()
}

fn public_key_pem(key: &SigningKey) -> String {
    let body = STANDARD.encode(public_key_der(key));
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

fn unsigned(header: &Value, payload: &str, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        base64url(header.to_string()),
        base64url(payload)
    )
}

type Drill = (&'static str, Box<dyn Fn(&Drills) -> String>, ErrorKind);

fn drill(
    name: &'static str,
    build: impl Fn(&Drills) -> String + 'static,
    expected: ErrorKind,
) -> Drill {
    (name, Box::new(build), expected)
}

fn drills() -> Vec<Drill> {
    use ErrorKind::*;
    vec![
        // --- alg none: unsigned tokens ---
        drill(
            "alg none, empty signature segment",
            |d| {
                unsigned(
                    &json!({"alg": "none"}),
                    &d.pool.access_token().payload_json(),
                    "",
                )
            },
            MalformedToken,
        ),
        drill(
            "alg none, one zero byte as signature",
            |d| {
                unsigned(
                    &json!({"alg": "none"}),
                    &d.pool.access_token().payload_json(),
                    "AA",
                )
            },
            UnsupportedAlg,
        ),
        drill(
            "alg NONE with the real kid",
            |d| {
                let header = json!({"alg": "NONE", "kid": d.real_kid()});
                unsigned(&header, &d.pool.access_token().payload_json(), "AA")
            },
            UnsupportedAlg,
        ),
        drill(
            "alg nOnE",
            |d| {
                unsigned(
                    &json!({"alg": "nOnE"}),
                    &d.pool.access_token().payload_json(),
                    "AA",
                )
            },
            UnsupportedAlg,
        ),
        // --- alg confusion: HMAC keyed with the RSA public key ---
        drill(
            "HS256 keyed with the public key DER",
            |d| hmac_token(d, "HS256", &public_key_der(&d.pool.signing_key())),
            UnsupportedAlg,
        ),
        drill(
            "HS256 keyed with the public key PEM",
            |d| hmac_token(d, "HS256", public_key_pem(&d.pool.signing_key()).as_bytes()),
            UnsupportedAlg,
        ),
        drill(
            "HS256 keyed with the JWK text",
            |d| {
                hmac_token(
                    d,
                    "HS256",
                    d.pool.signing_key().to_jwk().to_string().as_bytes(),
                )
            },
            UnsupportedAlg,
        ),
        drill(
            "HS512 keyed with the modulus bytes",
            |d| {
                let n = d.pool.signing_key().modulus_base64url();
                let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(n)
                    .expect("n");
                hmac_token(d, "HS512", &n)
            },
            UnsupportedAlg,
        ),
        // --- key type confusion ---
        drill(
            "RS256 header, kid of the EC key in the set",
            |d| d.pool.access_token().header("kid", EC_KID).sign(),
            InvalidKey,
        ),
        drill(
            "RS256 header, kid of an EC entry carrying the RSA material",
            |d| {
                d.pool
                    .access_token()
                    .header("kid", EC_WITH_RSA_MATERIAL_KID)
                    .sign()
            },
            InvalidKey,
        ),
        drill(
            "a real ES256 signature by the published EC key",
            |d| {
                let token = d
                    .pool
                    .access_token()
                    .header("alg", "ES256")
                    .header("kid", EC_KID);
                let input = format!(
                    "{}.{}",
                    base64url(token.header_json()),
                    base64url(token.payload_json())
                );
                let rng = aws_lc_rs::rand::SystemRandom::new();
                let signature = d.ec.sign(&rng, input.as_bytes()).expect("signs");
                format!("{input}.{}", base64url(signature.as_ref()))
            },
            UnsupportedAlg,
        ),
        // --- embedded keys and key URLs (signed by the attacker) ---
        drill(
            "jwk header with the attacker's key, attacker's kid",
            |d| {
                let jwk = d.attacker_key.to_jwk();
                d.attacker_token(d.attacker_key.kid(), &[("jwk", jwk)])
            },
            UnknownKid,
        ),
        drill(
            "jwk header with the attacker's key under the real kid",
            |d| {
                let mut jwk = d.attacker_key.to_jwk();
                jwk["kid"] = d.real_kid().into();
                d.attacker_token(&d.real_kid(), &[("jwk", jwk)])
            },
            InvalidSignature,
        ),
        drill(
            "jku to the attacker's endpoint, attacker's kid",
            |d| {
                let url = d.attacker_server.url();
                d.attacker_token(d.attacker_key.kid(), &[("jku", url.into())])
            },
            UnknownKid,
        ),
        drill(
            "jku to the attacker's endpoint, real kid",
            |d| {
                let url = d.attacker_server.url();
                d.attacker_token(&d.real_kid(), &[("jku", url.into())])
            },
            InvalidSignature,
        ),
        drill(
            "x5u to the attacker's endpoint, attacker's kid",
            |d| {
                let url = format!("{}/cert.pem", d.attacker_server.base_url());
                d.attacker_token(d.attacker_key.kid(), &[("x5u", url.into())])
            },
            UnknownKid,
        ),
        drill(
            "x5c with the attacker's public key, real kid",
            |d| {
                let der = STANDARD.encode(public_key_der(&d.attacker_key));
                d.attacker_token(&d.real_kid(), &[("x5c", json!([der]))])
            },
            InvalidSignature,
        ),
        drill(
            "jwk, jku, x5u and x5c at once, real kid",
            |d| {
                let url = d.attacker_server.url();
                let der = STANDARD.encode(public_key_der(&d.attacker_key));
                d.attacker_token(
                    &d.real_kid(),
                    &[
                        ("jwk", d.attacker_key.to_jwk()),
                        ("jku", url.clone().into()),
                        ("x5u", url.into()),
                        ("x5c", json!([der])),
                    ],
                )
            },
            InvalidSignature,
        ),
        // --- kid injection: strings that would mean something to a file system or a database ---
        drill(
            "kid ../../x",
            |d| d.pool.access_token().header("kid", "../../x").sign(),
            UnknownKid,
        ),
        drill(
            "kid url-encoded traversal",
            |d| d.pool.access_token().header("kid", "..%2F..%2Fx").sign(),
            UnknownKid,
        ),
        drill(
            "kid SQL",
            |d| d.pool.access_token().header("kid", "' OR 1=1 --").sign(),
            UnknownKid,
        ),
        drill(
            "kid 8,000 characters",
            |d| {
                d.pool
                    .access_token()
                    .header("kid", "k".repeat(8_000))
                    .sign()
            },
            UnknownKid,
        ),
        drill(
            "real kid followed by NUL",
            |d| {
                let kid = format!("{}\0", d.real_kid());
                d.pool.access_token().header("kid", kid).sign()
            },
            UnknownKid,
        ),
        drill(
            "NUL then the real kid",
            |d| {
                let kid = format!("\0{}", d.real_kid());
                d.pool.access_token().header("kid", kid).sign()
            },
            UnknownKid,
        ),
        drill(
            "real kid with trailing space",
            |d| {
                let kid = format!("{} ", d.real_kid());
                d.pool.access_token().header("kid", kid).sign()
            },
            UnknownKid,
        ),
        // --- duplicate members smuggling a second value (last-wins parsers would take it) ---
        drill(
            "second exp at the end",
            |d| d.resigned_payload(|payload| payload.replacen('}', r#","exp":9999999999}"#, 1)),
            MalformedToken,
        ),
        drill(
            "token_use id then access",
            |d| d.resigned_payload(|payload| payload.replacen('{', r#"{"token_use":"id","#, 1)),
            MalformedToken,
        ),
        drill(
            "token_use duplicated under an escaped name",
            |d| {
                d.resigned_payload(|payload| payload.replacen('}', r#","tok\u0065n_use":"id"}"#, 1))
            },
            MalformedToken,
        ),
        drill(
            "iss duplicated",
            |d| {
                d.resigned_payload(|payload| {
                    payload.replacen(
                        '}',
                        r#","iss":"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Evil1"}"#,
                        1,
                    )
                })
            },
            MalformedToken,
        ),
        drill(
            "cognito:groups duplicated",
            |d| {
                let token = d.pool.access_token().groups(["users"]);
                let payload =
                    token
                        .payload_json()
                        .replacen('}', r#","cognito:groups":["admin"]}"#, 1);
                sign_raw(&d.pool.signing_key(), &token.header_json(), &payload)
            },
            MalformedToken,
        ),
        drill(
            "kid duplicated in the header",
            |d| {
                let header = format!(
                    r#"{{"kid":"{}","alg":"RS256","kid":"attacker-key"}}"#,
                    d.real_kid()
                );
                sign_raw(
                    &d.attacker_key,
                    &header,
                    &d.pool.access_token().payload_json(),
                )
            },
            MalformedToken,
        ),
        // --- cognito:groups smuggled in other shapes ---
        drill(
            "groups as JSON text in a string",
            |d| {
                let token = d.pool.access_token();
                token.claim("cognito:groups", r#"["admin"]"#).sign()
            },
            MalformedToken,
        ),
        drill(
            "groups as a comma-separated string",
            |d| {
                d.pool
                    .access_token()
                    .claim("cognito:groups", "admin,users")
                    .sign()
            },
            MalformedToken,
        ),
        drill(
            "groups nested",
            |d| {
                d.pool
                    .access_token()
                    .claim("cognito:groups", json!([["admin"]]))
                    .sign()
            },
            MalformedToken,
        ),
        drill(
            "groups as an object",
            |d| {
                d.pool
                    .access_token()
                    .claim("cognito:groups", json!({"0": "admin"}))
                    .sign()
            },
            MalformedToken,
        ),
        drill(
            "groups null",
            |d| {
                d.pool
                    .access_token()
                    .claim("cognito:groups", Value::Null)
                    .sign()
            },
            MalformedToken,
        ),
        drill(
            "groups with a null member",
            |d| {
                d.pool
                    .access_token()
                    .claim("cognito:groups", json!(["admin", null]))
                    .sign()
            },
            MalformedToken,
        ),
        // --- another app client ---
        drill(
            "access token of another client",
            |d| d.pool.access_token().client_id("anotherclient1").sign(),
            InvalidClient,
        ),
        drill(
            "access token of another client carrying our client id as aud",
            |d| {
                let ours = d.pool.client_id().to_owned();
                d.pool
                    .access_token()
                    .client_id("anotherclient1")
                    .claim("aud", ours)
                    .sign()
            },
            InvalidClient,
        ),
        drill(
            "id token of another client carrying our client id as client_id",
            |d| {
                let ours = d.pool.client_id().to_owned();
                d.pool
                    .id_token()
                    .claim("aud", "anotherclient1")
                    .claim("client_id", ours)
                    .sign()
            },
            InvalidClient,
        ),
    ]
}

#[tokio::test]
async fn each_attack_is_rejected_with_its_exact_code_and_fetches_nothing() {
    let d = Drills::start().await;
    let cooldown_hits_before = d.verifier.key_source_stats()[0].cooldown_hits;
    let mut failures = Vec::new();
    let mut unknown_kid_rows = 0;
    for (name, build, expected) in drills() {
        let token = build(&d);
        if expected == ErrorKind::UnknownKid {
            unknown_kid_rows += 1;
        }
        match d.verifier.verify(&token).await {
            Ok(_) => failures.push(format!("{name}: ACCEPTED, expected {expected}")),
            Err(error) if error.kind() != expected => failures.push(format!(
                "{name}: got {} ({}), expected {expected}",
                error.code(),
                error.detail()
            )),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Nothing in a token made the verifier contact the attacker, or the pool a second time:
    // every unknown kid was refused inside the cooldown.
    assert_eq!(d.attacker_server.fetch_count(), 0);
    assert_eq!(server(&d.pool).fetch_count(), 1);
    let stats = d.verifier.key_source_stats()[0];
    assert_eq!(stats.fetches, 1);
    assert_eq!(stats.cooldown_hits - cooldown_hits_before, unknown_kid_rows);
    // No rejected token entered the verified-token cache.
    assert_eq!(d.verifier.cached_tokens(), 0);
}

#[tokio::test]
async fn a_cold_verifier_fetches_only_its_configured_url_whatever_the_token_names() {
    let d = Drills::start().await;
    let cold = d
        .pool
        .verifier_builder(AcceptedTokenUse::Any)
        .build()
        .expect("valid verifier");
    let url = d.attacker_server.url();
    let token = d.attacker_token(
        d.attacker_key.kid(),
        &[
            ("jku", url.clone().into()),
            ("x5u", url.into()),
            ("jwk", d.attacker_key.to_jwk()),
        ],
    );
    let error = cold.verify(&token).await.expect_err("attacker's key");
    assert_eq!(error.kind(), ErrorKind::UnknownKid);
    // The miss fetched the pool's configured URL (the warm-up of `d` was the first fetch).
    assert_eq!(server(&d.pool).fetch_count(), 2);
    assert_eq!(d.attacker_server.fetch_count(), 0);
    let requests = server(&d.pool).requests();
    assert!(
        requests
            .iter()
            .all(|request| request.path == "/.well-known/jwks.json")
    );
}

#[tokio::test]
async fn a_token_of_pool_a_never_verifies_at_pool_b() {
    let pool_a = LocalIssuer::builder()
        .pool_id("us-east-1_PoolAaaa1")
        .client_id("sharedclient1")
        .offline()
        .expect("pool A");
    let pool_b = LocalIssuer::builder()
        .pool_id("us-east-1_PoolBbbb2")
        .client_id("sharedclient1")
        .clock(pool_a.manual_clock().expect("manual clock").clone())
        .offline()
        .expect("pool B");
    let only_b = pool_b
        .verifier_builder(AcceptedTokenUse::Any)
        .build()
        .expect("verifier of B");
    let a_and_b = Verifier::builder()
        .issuer(pool_a.issuer_config(AcceptedTokenUse::Any))
        .issuer(pool_b.issuer_config(AcceptedTokenUse::Any))
        .shared_clock(pool_a.clock())
        .build()
        .expect("verifier of A and B");
    let b_iss = pool_b.iss();
    let b_kid = pool_b.signing_key().kid().to_owned();
    let rows: Vec<(&str, &Verifier, String, ErrorKind)> = vec![
        (
            "A's id token at B (same client id)",
            &only_b,
            pool_a.id_token().sign(),
            ErrorKind::InvalidIssuer,
        ),
        (
            "A's access token at B",
            &only_b,
            pool_a.access_token().sign(),
            ErrorKind::InvalidIssuer,
        ),
        (
            "A's token relabelled with B's iss, A's kid",
            &only_b,
            pool_a.id_token().iss(b_iss.clone()).sign(),
            ErrorKind::UnknownKid,
        ),
        (
            "A's token relabelled with B's iss and B's kid",
            &only_b,
            pool_a
                .id_token()
                .iss(b_iss.clone())
                .header("kid", b_kid.clone())
                .sign(),
            ErrorKind::InvalidSignature,
        ),
        (
            "A's key under B's iss, verifier trusting both pools",
            &a_and_b,
            pool_a.id_token().iss(b_iss).sign(),
            ErrorKind::UnknownKid,
        ),
    ];
    for (name, verifier, token, expected) in rows {
        let error = verifier.verify(&token).await.expect_err(name);
        assert_eq!(error.kind(), expected, "{name}: {}", error.detail());
    }
    // Each pool's own token still verifies where it belongs.
    assert!(a_and_b.verify(&pool_a.id_token().sign()).await.is_ok());
    assert!(a_and_b.verify(&pool_b.id_token().sign()).await.is_ok());
}

/// base64url length of `bytes` bytes, unpadded.
fn encoded_len(bytes: usize) -> usize {
    (bytes * 4).div_ceil(3)
}

/// A valid token of exactly `target` bytes: a padding claim in the payload and, where base64's
/// 4/3 steps cannot reach the length, a padding member in the header.
fn token_of_exact_length(issuer: &LocalIssuer, target: usize) -> String {
    let builder = |header_pad: usize, payload_pad: usize| {
        issuer
            .access_token()
            .header("pad", "h".repeat(header_pad))
            .claim("pad", "p".repeat(payload_pad))
    };
    let signature_len = encoded_len(issuer.signing_key().bits() / 8);
    let header_base = builder(0, 0).header_json().len();
    let payload_base = builder(0, 0).payload_json().len();
    for header_pad in 0..3 {
        let head = encoded_len(header_base + header_pad);
        for payload_pad in 0..target {
            let length = head + 1 + encoded_len(payload_base + payload_pad) + 1 + signature_len;
            if length == target {
                let token = builder(header_pad, payload_pad).sign();
                assert_eq!(token.len(), target, "length arithmetic");
                return token;
            }
            if length > target {
                break;
            }
        }
    }
    panic!("no padding reaches {target} bytes");
}

#[tokio::test]
async fn a_token_at_the_size_cap_verifies_and_one_byte_more_is_too_large() {
    let issuer = LocalIssuer::offline();
    let verifier = issuer
        .verifier_builder(AcceptedTokenUse::Any)
        .build()
        .expect("valid verifier");
    let cap = cognito_authz::DEFAULT_MAX_TOKEN_BYTES;
    assert_eq!(cap, 16 * 1024);
    let at_cap = token_of_exact_length(&issuer, cap);
    verifier
        .verify(&at_cap)
        .await
        .expect("a token of exactly max_token_bytes is not too large");
    let over = token_of_exact_length(&issuer, cap + 1);
    assert_eq!(
        verifier.verify(&over).await.expect_err("over").kind(),
        ErrorKind::TokenTooLarge
    );
    // The same at a configured cap.
    let small = issuer
        .verifier_builder(AcceptedTokenUse::Any)
        .max_token_bytes(2_000)
        .build()
        .expect("valid verifier");
    small
        .verify(&token_of_exact_length(&issuer, 2_000))
        .await
        .expect("at the configured cap");
    assert_eq!(
        small
            .verify(&token_of_exact_length(&issuer, 2_001))
            .await
            .expect_err("over the configured cap")
            .kind(),
        ErrorKind::TokenTooLarge
    );
}

#[tokio::test]
async fn rejected_tokens_never_enter_the_verified_token_cache() {
    // tests/jwks_cache.rs floods 10,000 random kids (no fetch, no key growth); this drill covers
    // the other store an attacker could try to grow: the verified-token cache. Tokens that pass
    // the signature and fail a later check are the interesting ones.
    let issuer = LocalIssuer::offline();
    let verifier = issuer
        .verifier_builder(AcceptedTokenUse::Access)
        .verified_token_cache(10_000)
        .build()
        .expect("valid verifier");
    let now = issuer.clock().now().as_secs();
    for i in 0..40 {
        let user = format!("user{i}");
        let rejected = [
            issuer.access_token().username(&user).expires_at(now).sign(),
            issuer
                .access_token()
                .username(&user)
                .not_before(now + 60)
                .sign(),
            issuer
                .access_token()
                .username(&user)
                .issued_at(now + 60)
                .expires_at(now + 3600)
                .sign(),
            issuer
                .access_token()
                .username(&user)
                .client_id("other")
                .sign(),
            issuer.id_token().username(&user).sign(),
            issuer
                .access_token()
                .username(&user)
                .claim("token_use", "refresh")
                .sign(),
            issuer
                .access_token()
                .username(&user)
                .header("kid", format!("k{i}"))
                .sign(),
        ];
        for token in rejected {
            assert!(verifier.verify(&token).await.is_err());
            assert!(verifier.verify(&token).await.is_err(), "second try too");
        }
    }
    assert_eq!(verifier.cached_tokens(), 0);

    // A cached token's signature does not vouch for another payload of the same length and
    // signature tail (the cache hashes the length and the last bytes; equality is on all).
    let honest = issuer.access_token().groups(["users"]).sign();
    verifier
        .verify(&honest)
        .await
        .expect("verifies and is cached");
    assert_eq!(verifier.cached_tokens(), 1);
    let forged_payload = issuer.access_token().groups(["admin"]).payload_json();
    let (header, rest) = honest.split_once('.').expect("segments");
    let signature = rest.rsplit_once('.').expect("segments").1;
    let forged = format!("{header}.{}.{signature}", base64url(forged_payload));
    assert_eq!(forged.len(), honest.len());
    assert_eq!(
        verifier.verify(&forged).await.expect_err("forged").kind(),
        ErrorKind::InvalidSignature
    );
    assert_eq!(verifier.cached_tokens(), 1);
}

/// Text an attacker would like to see echoed into a `WWW-Authenticate` header or a body.
const INJECTION: &str = "x\r\nSet-Cookie: session=evil, error=\"forged\"";

#[tokio::test]
async fn token_content_never_reaches_error_text() {
    let issuer = LocalIssuer::offline();
    let verifier = issuer
        .verifier_builder(AcceptedTokenUse::Access)
        .build()
        .expect("valid verifier");
    let now = issuer.clock().now().as_secs();
    let tokens = [
        issuer.access_token().client_id(INJECTION).sign(),
        issuer.access_token().iss(INJECTION).sign(),
        issuer.access_token().header("kid", INJECTION).sign(),
        issuer.access_token().header("alg", INJECTION).sign(),
        issuer.access_token().claim("token_use", INJECTION).sign(),
        issuer
            .access_token()
            .username(INJECTION)
            .expires_at(now)
            .sign(),
        issuer.access_token().claim("exp", INJECTION).sign(),
        format!("{INJECTION}.{INJECTION}.{INJECTION}"),
    ];
    for token in &tokens {
        let error = verifier.verify(token).await.expect_err("rejected");
        // The detail and Display are fixed texts for logs: no token byte in them.
        for text in [error.to_string(), error.detail().to_owned()] {
            assert!(
                !text.contains(['\r', '\n'])
                    && !text.contains("Set-Cookie")
                    && !text.contains("forged"),
                "{text:?} carries token content"
            );
        }
        assert_eq!(error.code(), error.kind().code());
    }
    // What responses are built from: fixed codes and descriptions, nothing else.
    for kind in ErrorKind::ALL {
        assert!(
            kind.description()
                .bytes()
                .all(|b| b == b' ' || b.is_ascii_lowercase() || b.is_ascii_digit()),
            "{kind}: {:?}",
            kind.description()
        );
        assert!(
            kind.code()
                .bytes()
                .all(|b| b == b'_' || b.is_ascii_lowercase()),
            "{kind}"
        );
    }
    // Accepted claims are handed to the handler verbatim, never reinterpreted.
    let token = issuer.access_token().username(INJECTION).sign();
    let verified = verifier.verify(&token).await.expect("verifies");
    assert_eq!(verified.username(), Some(INJECTION));
}

/// The committed fuzz corpora (fuzz/corpus/verify, fuzz/corpus/keyset) through the verifier
/// and the key-set parser on stable. The fuzz harness's own replay
/// (`cargo test --manifest-path fuzz/Cargo.toml --no-default-features`) adds the structured
/// corpus and the harness's oracles; this one runs in every `cargo test`.
#[tokio::test]
async fn committed_fuzz_corpora_replay_without_panics() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let read = |target: &str| {
        let mut files: Vec<_> = std::fs::read_dir(corpus.join(target))
            .expect("committed corpus")
            .map(|entry| entry.expect("entry").path())
            .filter(|path| path.is_file())
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|path| (path.clone(), std::fs::read(path).expect("readable")))
            .collect::<Vec<_>>()
    };
    let key_set = std::fs::read_to_string(corpus.join("keyset/fuzz-key-set.json"))
        .expect("the fuzz key set is a committed seed");
    let verifier = Verifier::builder()
        .issuer(
            IssuerConfig::user_pool("us-east-1_FuzzPool1")
                .client_ids(["fuzzclient123"])
                .token_use(AcceptedTokenUse::Any)
                .jwks_json(key_set)
                .build()
                .expect("valid issuer"),
        )
        .clock(FixedClock(Duration::from_secs(1_700_000_000)))
        .build()
        .expect("valid verifier");
    let tokens = read("verify");
    assert!(tokens.len() >= 10, "verify corpus has its seeds");
    let mut accepted = 0;
    for (path, bytes) in &tokens {
        let token = String::from_utf8_lossy(bytes).into_owned();
        let verifier = verifier.clone();
        let outcome = tokio::spawn(async move { verifier.verify(&token).await })
            .await
            .unwrap_or_else(|_| panic!("{} panicked the verifier", path.display()));
        match outcome {
            Ok(_) => accepted += 1,
            Err(error) => assert!(error.kind().is_invalid_token(), "{}", path.display()),
        }
    }
    // The "valid-*" seeds are real tokens of the fuzz pool.
    assert!(accepted >= 2, "the valid seeds verify");
    let documents = read("keyset");
    assert!(documents.len() >= 5, "keyset corpus has its seeds");
    for (path, bytes) in &documents {
        let outcome = std::panic::catch_unwind(|| KeySet::from_json(bytes).map(|set| set.len()));
        assert!(
            outcome.is_ok(),
            "{} panicked KeySet::from_json",
            path.display()
        );
    }
}
