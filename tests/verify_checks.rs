//! The ordered verification checks (`crates/core/docs/verification.md`), one table row per
//! case: each fault alone, then rows with several faults that prove which check runs first.
//! Plus the Cognito-shaped happy paths, the three issuer kinds, and RSA keys with a small
//! public exponent. The one table of the
//! verification contract: the testkit's own tests check what it mints, not the verifier.

use std::time::Duration;

use cognito_authz::{AcceptedTokenUse, Algorithm, ErrorKind, IssuerConfig, TokenUse, Verifier};
use cognito_authz_test_support::jwks::verifier_of;
use cognito_authz_test_support::tools;
use cognito_authz_testkit::{
    LocalIssuer, SigningKey, TokenBuilder, base64url, jwks_value, sign_raw, with_payload_of,
};
use serde_json::{Value, json};

const OTHER_POOL_ISS: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OtherPool";

/// A pool whose key set holds the signing key plus crafted entries that exist to fail check 8
/// or 9: the same material marked for encryption, a mismatched alg, no `verify` op, an EC key,
/// a 1024-bit modulus, and another key's material under its own kid.
struct Fixture {
    issuer: LocalIssuer,
    verifier: Verifier,
    key: SigningKey,
}

fn key_set(issuer: &LocalIssuer) -> Value {
    let key = issuer.signing_key();
    let mut set = jwks_value([&key]);
    let keys = set["keys"].as_array_mut().expect("keys array");
    let variant = |kid: &str, edit: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut jwk = key.to_jwk();
        let object = jwk.as_object_mut().expect("jwk object");
        object.insert("kid".into(), kid.into());
        edit(object);
        jwk
    };
    keys.push(variant("enc", &|jwk| {
        jwk.insert("use".into(), "enc".into());
    }));
    keys.push(variant("rs512-only", &|jwk| {
        jwk.insert("alg".into(), "RS512".into());
    }));
    keys.push(variant("encrypt-only", &|jwk| {
        jwk.insert("key_ops".into(), json!(["encrypt"]));
    }));
    keys.push(json!({"kid": "ec", "kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}));
    keys.push(json!({"kid": "small", "kty": "RSA", "n": base64url([0xc5u8; 128]), "e": "AQAB"}));
    let other = SigningKey::generate("other");
    keys.push(other.to_jwk());
    set
}

/// A verifier of `issuer`'s tokens with the static key set `keys` (nothing to fetch).
fn verifier_with_keys(issuer: &LocalIssuer, token_use: AcceptedTokenUse, keys: &Value) -> Verifier {
    let config = issuer
        .issuer_builder(token_use)
        .jwks_json(keys.to_string())
        .build()
        .expect("valid issuer");
    verifier_of(issuer, config)
}

fn fixture_with(token_use: AcceptedTokenUse) -> Fixture {
    let issuer = LocalIssuer::offline();
    let verifier = verifier_with_keys(&issuer, token_use, &key_set(&issuer));
    let key = issuer.signing_key();
    Fixture {
        issuer,
        verifier,
        key,
    }
}

fn fixture() -> Fixture {
    fixture_with(AcceptedTokenUse::Any)
}

fn now(issuer: &LocalIssuer) -> u64 {
    issuer.clock().now().as_secs()
}

/// Re-encodes a token's header or payload segment as exact JSON text, re-signing with `key`.
fn resign(
    key: &SigningKey,
    token: &TokenBuilder,
    header: Option<&str>,
    payload: Option<&str>,
) -> String {
    let header = header.map_or_else(|| token.header_json(), str::to_owned);
    let payload = payload.map_or_else(|| token.payload_json(), str::to_owned);
    sign_raw(key, &header, &payload)
}

type Case = (&'static str, Box<dyn Fn(&Fixture) -> String>, ErrorKind);

fn case(
    name: &'static str,
    build: impl Fn(&Fixture) -> String + 'static,
    expected: ErrorKind,
) -> Case {
    (name, Box::new(build), expected)
}

fn flip_signature(token: &str) -> String {
    let (rest, signature) = token.rsplit_once('.').expect("three segments");
    let mut bytes = signature.as_bytes().to_vec();
    bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
    format!("{rest}.{}", String::from_utf8(bytes).expect("ascii"))
}

fn single_fault_cases() -> Vec<Case> {
    use ErrorKind::*;
    vec![
        // 1. size
        case(
            "token over 16 KiB",
            |f| {
                f.issuer
                    .access_token()
                    .claim("pad", "x".repeat(17_000))
                    .sign()
            },
            TokenTooLarge,
        ),
        // 2. structure
        case(
            "two segments",
            |f| {
                let token = f.issuer.access_token().sign();
                token.rsplit_once('.').expect("dot").0.to_owned()
            },
            MalformedToken,
        ),
        case(
            "four segments",
            |f| format!("{}.x", f.issuer.access_token().sign()),
            MalformedToken,
        ),
        case(
            "padded signature",
            |f| format!("{}==", f.issuer.access_token().sign()),
            MalformedToken,
        ),
        case(
            "standard alphabet",
            |f| {
                f.issuer
                    .access_token()
                    .sign()
                    .replace('-', "+")
                    .replace('_', "/")
                    + "+"
            },
            MalformedToken,
        ),
        case(
            "payload not an object",
            |f| sign_raw(&f.key, &f.issuer.access_token().header_json(), "[1]"),
            MalformedToken,
        ),
        case(
            "duplicate exp",
            |f| {
                let token = f.issuer.access_token();
                let payload = token.payload_json();
                let smuggled =
                    payload.replacen('{', &format!("{{\"exp\":{},", now(&f.issuer) + 999_999), 1);
                resign(&f.key, &token, None, Some(&smuggled))
            },
            MalformedToken,
        ),
        case(
            "duplicate token_use in header",
            |f| {
                let token = f.issuer.access_token();
                resign(
                    &f.key,
                    &token,
                    Some(r#"{"alg":"RS256","alg":"RS256","kid":"k"}"#),
                    None,
                )
            },
            MalformedToken,
        ),
        // 3. types
        case(
            "exp as string",
            |f| f.issuer.access_token().claim("exp", "9999999999").sign(),
            MalformedToken,
        ),
        case(
            "token_use null",
            |f| {
                f.issuer
                    .access_token()
                    .claim("token_use", Value::Null)
                    .sign()
            },
            MalformedToken,
        ),
        case(
            "sub null",
            |f| f.issuer.access_token().claim("sub", Value::Null).sign(),
            MalformedToken,
        ),
        case(
            "groups as string",
            |f| {
                f.issuer
                    .access_token()
                    .claim("cognito:groups", "admin")
                    .sign()
            },
            MalformedToken,
        ),
        case(
            "aud array on a Cognito pool",
            |f| {
                f.issuer
                    .id_token()
                    .claim("aud", json!(["localclient123"]))
                    .sign()
            },
            MalformedToken,
        ),
        case(
            "kid as number",
            |f| f.issuer.access_token().header("kid", 7).sign(),
            MalformedToken,
        ),
        // 4. algorithm
        case(
            "alg none",
            |f| f.issuer.access_token().header("alg", "none").sign(),
            UnsupportedAlg,
        ),
        case(
            "alg HS256",
            |f| f.issuer.access_token().header("alg", "HS256").sign(),
            UnsupportedAlg,
        ),
        case(
            "alg lowercase",
            |f| f.issuer.access_token().header("alg", "rs256").sign(),
            UnsupportedAlg,
        ),
        case(
            "alg RS512 not allowed",
            |f| f.issuer.access_token().header("alg", "RS512").sign(),
            UnsupportedAlg,
        ),
        case(
            "signed with RS384, not allowed",
            |f| f.issuer.access_token().algorithm(Algorithm::RS384).sign(),
            UnsupportedAlg,
        ),
        case(
            "alg missing",
            |f| f.issuer.access_token().remove_header("alg").sign(),
            UnsupportedAlg,
        ),
        case(
            "crit empty",
            |f| f.issuer.access_token().header("crit", json!([])).sign(),
            UnsupportedAlg,
        ),
        // 5. issuer
        case(
            "other pool",
            |f| f.issuer.access_token().iss(OTHER_POOL_ISS).sign(),
            InvalidIssuer,
        ),
        case(
            "iss missing",
            |f| f.issuer.access_token().remove_claim("iss").sign(),
            InvalidIssuer,
        ),
        case(
            "iss trailing slash",
            |f| {
                let iss = format!("{}/", f.issuer.iss());
                f.issuer.access_token().iss(iss).sign()
            },
            InvalidIssuer,
        ),
        // 6. kid
        case(
            "kid missing",
            |f| f.issuer.access_token().remove_header("kid").sign(),
            MissingKid,
        ),
        // 7. key lookup (static key set: nothing to fetch)
        case(
            "kid not in set",
            |f| f.issuer.access_token().header("kid", "nope").sign(),
            UnknownKid,
        ),
        case(
            "kid path traversal",
            |f| {
                f.issuer
                    .access_token()
                    .header("kid", "../../etc/passwd")
                    .sign()
            },
            UnknownKid,
        ),
        // 8. key fits
        case(
            "key for encryption",
            |f| f.issuer.access_token().header("kid", "enc").sign(),
            InvalidKey,
        ),
        case(
            "key alg mismatch",
            |f| f.issuer.access_token().header("kid", "rs512-only").sign(),
            InvalidKey,
        ),
        case(
            "key_ops without verify",
            |f| f.issuer.access_token().header("kid", "encrypt-only").sign(),
            InvalidKey,
        ),
        case(
            "EC key for RS256",
            |f| f.issuer.access_token().header("kid", "ec").sign(),
            InvalidKey,
        ),
        case(
            "1024-bit key",
            |f| f.issuer.access_token().header("kid", "small").sign(),
            InvalidKey,
        ),
        // 9. signature
        case(
            "signed by another key",
            |f| f.issuer.access_token().header("kid", "other").sign(),
            InvalidSignature,
        ),
        case(
            "a stranger's signature under the pool's kid",
            |f| {
                f.issuer
                    .access_token()
                    .signed_by(&SigningKey::generate("stranger"))
                    .header("kid", f.key.kid())
                    .sign()
            },
            InvalidSignature,
        ),
        case(
            "flipped signature",
            |f| flip_signature(&f.issuer.access_token().sign()),
            InvalidSignature,
        ),
        case(
            "payload edited after signing",
            |f| {
                let token = f.issuer.access_token().groups(["user"]).sign();
                let admin = f.issuer.access_token().groups(["admin"]).sign();
                with_payload_of(&token, &admin)
            },
            InvalidSignature,
        ),
        // 10–12. times
        case(
            "exp equals now",
            |f| f.issuer.access_token().expires_at(now(&f.issuer)).sign(),
            Expired,
        ),
        case(
            "exp missing",
            |f| f.issuer.access_token().remove_claim("exp").sign(),
            Expired,
        ),
        case(
            "nbf in the future",
            |f| {
                f.issuer
                    .access_token()
                    .not_before(now(&f.issuer) + 10)
                    .sign()
            },
            NotYetValid,
        ),
        case(
            "iat in the future",
            |f| {
                f.issuer
                    .access_token()
                    .issued_at(now(&f.issuer) + 10)
                    .expires_at(now(&f.issuer) + 3600)
                    .sign()
            },
            IssuedInFuture,
        ),
        // 13. token_use
        case(
            "refresh token_use",
            |f| f.issuer.access_token().claim("token_use", "refresh").sign(),
            InvalidTokenUse,
        ),
        case(
            "token_use missing",
            |f| f.issuer.access_token().remove_claim("token_use").sign(),
            InvalidTokenUse,
        ),
        // 14. client
        case(
            "access token of another client",
            |f| f.issuer.access_token().client_id("someoneelse").sign(),
            InvalidClient,
        ),
        case(
            "id token of another client",
            |f| f.issuer.id_token().claim("aud", "someoneelse").sign(),
            InvalidClient,
        ),
        case(
            "id token without aud",
            |f| f.issuer.id_token().remove_claim("aud").sign(),
            InvalidClient,
        ),
        case(
            "access token with aud only",
            |f| {
                f.issuer
                    .access_token()
                    .remove_claim("client_id")
                    .claim("aud", "localclient123")
                    .sign()
            },
            InvalidClient,
        ),
    ]
}

fn multi_fault_cases() -> Vec<Case> {
    use ErrorKind::*;
    vec![
        case(
            "too large and malformed",
            |f| format!("{}={}", f.issuer.access_token().sign(), "A".repeat(17_000)),
            TokenTooLarge,
        ),
        case(
            "malformed types and alg none",
            |f| {
                f.issuer
                    .access_token()
                    .claim("exp", "soon")
                    .header("alg", "none")
                    .sign()
            },
            MalformedToken,
        ),
        case(
            "alg none and unknown issuer",
            |f| {
                f.issuer
                    .access_token()
                    .header("alg", "none")
                    .iss(OTHER_POOL_ISS)
                    .sign()
            },
            UnsupportedAlg,
        ),
        case(
            "unknown issuer and no kid",
            |f| {
                f.issuer
                    .access_token()
                    .iss(OTHER_POOL_ISS)
                    .remove_header("kid")
                    .sign()
            },
            InvalidIssuer,
        ),
        case(
            "no kid and expired",
            |f| {
                f.issuer
                    .access_token()
                    .remove_header("kid")
                    .expires_at(1)
                    .sign()
            },
            MissingKid,
        ),
        case(
            "unknown kid and expired",
            |f| {
                f.issuer
                    .access_token()
                    .header("kid", "nope")
                    .expires_at(1)
                    .sign()
            },
            UnknownKid,
        ),
        case(
            "unfit key and bad signature",
            |f| flip_signature(&f.issuer.access_token().header("kid", "enc").sign()),
            InvalidKey,
        ),
        case(
            "bad signature and expired",
            |f| flip_signature(&f.issuer.access_token().expires_at(1).sign()),
            InvalidSignature,
        ),
        case(
            "expired and wrong client",
            |f| f.issuer.access_token().expires_at(1).client_id("x").sign(),
            Expired,
        ),
        case(
            "nbf and iat in the future",
            |f| {
                let later = now(&f.issuer) + 100;
                f.issuer
                    .access_token()
                    .not_before(later)
                    .issued_at(later)
                    .expires_at(later + 3600)
                    .sign()
            },
            NotYetValid,
        ),
        case(
            "iat in future and wrong token_use",
            |f| {
                f.issuer
                    .access_token()
                    .issued_at(now(&f.issuer) + 50)
                    .claim("token_use", "x")
                    .sign()
            },
            IssuedInFuture,
        ),
        case(
            "wrong token_use and wrong client",
            |f| {
                f.issuer
                    .access_token()
                    .claim("token_use", "refresh")
                    .client_id("x")
                    .sign()
            },
            InvalidTokenUse,
        ),
    ]
}

async fn run_cases(cases: Vec<Case>) {
    let fixture = fixture();
    let mut failures = Vec::new();
    for (name, build, expected) in cases {
        let token = build(&fixture);
        match fixture.verifier.verify(&token).await {
            Ok(_) => failures.push(format!("{name}: accepted, expected {expected}")),
            Err(error) if error.kind() != expected => {
                failures.push(format!(
                    "{name}: got {} ({}), expected {expected}",
                    error.code(),
                    error.detail()
                ));
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn each_fault_alone_fails_with_its_code() {
    run_cases(single_fault_cases()).await;
}

#[tokio::test]
async fn with_several_faults_the_first_check_in_order_wins() {
    run_cases(multi_fault_cases()).await;
}

/// An RSA-2048 key with the public exponent 3, made for this run.
fn exponent_three_key(kid: &str) -> SigningKey {
    let key = SigningKey::from_der(kid, &tools::openssl_rsa_key(2048, 3)).expect("an RSA key");
    assert_eq!(key.exponent_base64url(), "Aw", "e = 3");
    key
}

#[tokio::test]
async fn a_key_with_a_small_public_exponent_is_refused_with_invalid_key() {
    let issuer = LocalIssuer::offline();
    let weak = exponent_three_key("weak");
    let keys = jwks_value([&issuer.signing_key(), &weak]);
    let verifier = verifier_with_keys(&issuer, AcceptedTokenUse::Any, &keys);
    let signed_by_weak = issuer.access_token().signed_by(&weak).sign();
    let error = verifier
        .verify(&signed_by_weak)
        .await
        .expect_err("a key with e = 3 does not fit");
    assert_eq!(error.kind(), ErrorKind::InvalidKey);
    // The pool's own key (e = 65537) in the same set still verifies.
    verifier
        .verify(&issuer.access_token().sign())
        .await
        .expect("e = 65537 verifies");
}

#[tokio::test]
async fn a_fetched_set_whose_only_key_has_a_small_exponent_is_a_failed_fetch() {
    let issuer = LocalIssuer::builder()
        .signing_key(exponent_three_key("weak"))
        .start()
        .await
        .expect("issuer");
    let verifier = issuer
        .verifier_builder(AcceptedTokenUse::Any)
        .build()
        .expect("valid verifier");
    let error = verifier
        .verify(&issuer.access_token().sign())
        .await
        .expect_err("no usable key was ever fetched");
    assert_eq!(error.kind(), ErrorKind::JwksUnavailable);
}

#[tokio::test]
async fn cognito_shaped_tokens_verify_with_their_claims() {
    let f = fixture();
    let id = f
        .issuer
        .id_token()
        .username("alice")
        .email("alice@example.com")
        .groups(["admin"])
        .sign();
    let verified = f.verifier.verify(&id).await.expect("id token verifies");
    assert_eq!(verified.token_use(), Some(TokenUse::Id));
    assert_eq!(verified.username(), Some("alice"));
    assert_eq!(verified.client_id(), Some("localclient123"));
    assert_eq!(verified.email(), Some("alice@example.com"));
    assert_eq!(verified.groups(), ["admin"]);
    assert_eq!(verified.issuer_name(), "us-east-1_LocalTest1");

    let access = f
        .issuer
        .access_token()
        .username("bob")
        .scopes(["api/read", "api/write"])
        .sign();
    let verified = f
        .verifier
        .verify(&access)
        .await
        .expect("access token verifies");
    assert_eq!(verified.token_use(), Some(TokenUse::Access));
    assert_eq!(verified.username(), Some("bob"));
    assert!(verified.has_scope("api/write"));
    assert!(!verified.has_scope("api/Write"));
    assert!(verified.jti().is_some() && verified.origin_jti().is_some());

    let machine = f.issuer.machine_token().scopes(["svc/run"]).sign();
    let verified = f
        .verifier
        .verify(&machine)
        .await
        .expect("machine token verifies");
    assert_eq!(verified.sub(), Some("localclient123"));
    assert_eq!(verified.username(), None);
}

#[tokio::test]
async fn updated_issuer_form_and_leeway_are_accepted() {
    let f = fixture();
    let updated = f
        .issuer
        .updated_iss()
        .expect("a pool issuer has the updated form");
    assert!(updated.starts_with("https://issuer-cognito-idp.us-east-1.amazonaws.com/"));
    let token = f.issuer.access_token().iss(updated).sign();
    assert!(f.verifier.verify(&token).await.is_ok());

    let issuer = LocalIssuer::offline();
    let verifier = Verifier::builder()
        .issuer(
            issuer
                .issuer_builder(AcceptedTokenUse::Access)
                .leeway(Duration::from_secs(30))
                .build()
                .expect("valid"),
        )
        .shared_clock(issuer.clock())
        .build()
        .expect("valid");
    let now = now(&issuer);
    let barely_expired = issuer.access_token().expires_at(now - 29).sign();
    assert!(verifier.verify(&barely_expired).await.is_ok());
    let expired = issuer.access_token().expires_at(now - 30).sign();
    assert_eq!(
        verifier
            .verify(&expired)
            .await
            .expect_err("past leeway")
            .kind(),
        ErrorKind::Expired
    );
}

#[tokio::test]
async fn token_use_rules_per_issuer() {
    let id_only = fixture_with(AcceptedTokenUse::Id);
    let access = id_only.issuer.access_token().sign();
    assert_eq!(
        id_only
            .verifier
            .verify(&access)
            .await
            .expect_err("access on id-only")
            .kind(),
        ErrorKind::InvalidTokenUse
    );
    assert!(
        id_only
            .verifier
            .verify(&id_only.issuer.id_token().sign())
            .await
            .is_ok()
    );

    let access_only = fixture_with(AcceptedTokenUse::Access);
    let id = access_only.issuer.id_token().sign();
    assert_eq!(
        access_only
            .verifier
            .verify(&id)
            .await
            .expect_err("id on access-only")
            .kind(),
        ErrorKind::InvalidTokenUse
    );
    // An access token that claims to be an id token is judged by its claim.
    let claims_id = access_only
        .issuer
        .access_token()
        .claim("token_use", "id")
        .sign();
    assert_eq!(
        access_only
            .verifier
            .verify(&claims_id)
            .await
            .expect_err("token_use id on access-only")
            .kind(),
        ErrorKind::InvalidTokenUse
    );
}

#[tokio::test]
async fn replica_regions_accept_both_issuer_forms_of_each_region() {
    let issuer = LocalIssuer::offline();
    let config = IssuerConfig::user_pool(issuer.pool_id())
        .replica_regions(["eu-west-1"])
        .client_ids([issuer.client_id()])
        .token_use(AcceptedTokenUse::Any)
        .jwks_json(issuer.jwks_json())
        .build()
        .expect("valid");
    let verifier = verifier_of(&issuer, config);
    for iss in [
        format!(
            "https://cognito-idp.eu-west-1.amazonaws.com/{}",
            issuer.pool_id()
        ),
        format!(
            "https://issuer-cognito-idp.eu-west-1.amazonaws.com/{}",
            issuer.pool_id()
        ),
    ] {
        let token = issuer.access_token().iss(iss.clone()).sign();
        assert!(verifier.verify(&token).await.is_ok(), "{iss}");
    }
    let other_region = format!(
        "https://cognito-idp.eu-west-2.amazonaws.com/{}",
        issuer.pool_id()
    );
    let token = issuer.access_token().iss(other_region).sign();
    assert_eq!(
        verifier
            .verify(&token)
            .await
            .expect_err("unreplicated region")
            .kind(),
        ErrorKind::InvalidIssuer
    );
}

#[tokio::test]
async fn cognito_issuer_and_generic_oidc_issuers_side_by_side() {
    let emulator = LocalIssuer::builder()
        .cognito_issuer("http://localhost:9229/local_4s5bD9x8")
        .offline()
        .expect("offline issuer");
    let oidc_key = SigningKey::generate("oidc-key");
    let oidc_iss = "https://idp.example.com";
    let verifier = Verifier::builder()
        .issuer(emulator.issuer_config(AcceptedTokenUse::Id))
        .issuer(
            IssuerConfig::oidc(oidc_iss)
                .name("corporate")
                .audiences(["api://orders"])
                .jwks_json(jwks_value([&oidc_key]).to_string())
                .build()
                .expect("valid"),
        )
        .shared_clock(emulator.clock())
        .build()
        .expect("valid");

    let id = emulator.id_token().sign();
    let verified = verifier
        .verify(&id)
        .await
        .expect("emulator id token verifies");
    assert_eq!(verified.issuer(), "http://localhost:9229/local_4s5bD9x8");
    let access = emulator.access_token().sign();
    assert_eq!(
        verifier.verify(&access).await.expect_err("id only").kind(),
        ErrorKind::InvalidTokenUse
    );

    let now = now(&emulator);
    let oidc_token = |aud: Value| {
        let header = json!({"alg": "RS256", "kid": "oidc-key"}).to_string();
        let payload =
            json!({"iss": oidc_iss, "sub": "u1", "aud": aud, "exp": now + 60, "iat": now})
                .to_string();
        sign_raw(&oidc_key, &header, &payload)
    };
    let verified = verifier
        .verify(&oidc_token(json!(["other", "api://orders"])))
        .await
        .expect("aud array any-of");
    assert_eq!(verified.issuer_name(), "corporate");
    assert_eq!(verified.token_use(), None);
    assert!(
        verifier
            .verify(&oidc_token(json!("api://orders")))
            .await
            .is_ok()
    );
    let wrong = verifier
        .verify(&oidc_token(json!(["other"])))
        .await
        .expect_err("wrong audience");
    assert_eq!(wrong.kind(), ErrorKind::InvalidClient);
    // A key from one issuer never verifies another issuer's token.
    let cross = sign_raw(
        &oidc_key,
        &emulator
            .access_token()
            .header("kid", "oidc-key")
            .header_json(),
        &emulator.id_token().payload_json(),
    );
    assert_eq!(
        verifier
            .verify(&cross)
            .await
            .expect_err("cross-issuer kid")
            .kind(),
        ErrorKind::UnknownKid
    );
}

#[tokio::test]
async fn typed_claims_include_custom_attributes() {
    #[derive(serde::Deserialize)]
    struct Mine {
        sub: String,
        #[serde(rename = "custom:tenant")]
        tenant: String,
        #[serde(rename = "cognito:groups")]
        groups: Vec<String>,
    }
    let f = fixture();
    let token = f
        .issuer
        .id_token()
        .groups(["a", "b"])
        .claim("custom:tenant", "blue")
        .sign();
    let verified = f.verifier.verify(&token).await.expect("verifies");
    let mine: Mine = verified.claims().expect("deserializes");
    assert_eq!(mine.tenant, "blue");
    assert_eq!(mine.groups, ["a", "b"]);
    assert_eq!(Some(mine.sub.as_str()), verified.sub());
    let standard: cognito_authz::CognitoClaims = verified.claims().expect("standard claims");
    assert_eq!(standard.token_use.as_deref(), Some("id"));
}
