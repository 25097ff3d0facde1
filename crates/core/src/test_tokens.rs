//! A tiny local issuer for this crate's unit tests: one RSA-2048 key generated per test run,
//! its JWKS JSON, and Cognito-shaped tokens signed with it. (The shared fixture crate is
//! `cognito-authz-testkit`; the core cannot depend on it, so it keeps this minimal copy.)

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::{AcceptedTokenUse, FixedClock, IssuerConfig, Verifier};

/// The instant every test token is minted at.
pub(crate) const NOW: u64 = 1_700_000_000;
pub(crate) const POOL_ID: &str = "us-east-1_Example1";
pub(crate) const CLIENT_ID: &str = "1example23456789";
pub(crate) const KID: &str = "test-key-1";

/// The policy file most tests decide with: the test pool, tokens from the `Authorization`
/// header or an `id_token` cookie, named policies, and a route for each kind of rule.
pub(crate) const POLICY: &str = r#"
[[issuer]]
name = "main"
user_pool_id = "us-east-1_Example1"
client_ids = ["1example23456789"]
token_use = "any"

[token]
cookie = "id_token"

[defaults]
unmatched = "authenticated"

[policies]
admin = "group:admin"
reader = "scope:api/read or policy:admin"

[[route]]
path = "/health"
require = "public"

[[route]]
path = "/reports/{id}"
methods = ["GET"]
require = "policy:reader"

[[route]]
path = "/admin/{*rest}"
require = "policy:admin"

[[route]]
path = "/admin/public"
methods = ["GET"]
require = "public"

[[route]]
path = "/id-only"
require = "token_use:id and claim:email"

[[route]]
path = "/scoped"
require = "scope:api/write and scope:api/read"

[[route]]
path = "/tenant"
require = 'claim:custom:tenant=acme and not group:banned'
"#;

/// Runs `future` to completion on a fresh single-threaded runtime (for tests that are not
/// async themselves, such as property tests).
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

pub(crate) struct TestIssuer {
    key: KeyPair,
    jwks: String,
}

/// The shared test issuer (key generation is slow, so once per test binary).
pub(crate) fn issuer() -> &'static TestIssuer {
    static ISSUER: OnceLock<TestIssuer> = OnceLock::new();
    ISSUER.get_or_init(|| {
        let key = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        let public = key.public_key();
        let jwks = json!({"keys": [{
            "kty": "RSA",
            "kid": KID,
            "use": "sig",
            "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        }]})
        .to_string();
        TestIssuer { key, jwks }
    })
}

impl TestIssuer {
    pub(crate) fn jwks_json(&self) -> &str {
        &self.jwks
    }

    pub(crate) fn iss() -> String {
        format!("https://cognito-idp.us-east-1.amazonaws.com/{POOL_ID}")
    }

    /// Signs `payload` with the test key (header: RS256 + kid).
    pub(crate) fn sign(&self, payload: &Value) -> String {
        let header = json!({"alg": "RS256", "kid": KID, "typ": "JWT"});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .expect("signing");
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// A Cognito-shaped access token; `extra` members are merged over the defaults
    /// (`null` removes one).
    pub(crate) fn access_token(&self, scope: &str, groups: &[&str], extra: Value) -> String {
        let mut payload = json!({
            "sub": "user-sub-1",
            "iss": Self::iss(),
            "client_id": CLIENT_ID,
            "origin_jti": "origin-1",
            "event_id": "event-1",
            "token_use": "access",
            "scope": scope,
            "auth_time": NOW,
            "exp": NOW + 3600,
            "iat": NOW,
            "jti": "jti-1",
            "username": "alice",
            "version": 2,
            "cognito:groups": groups,
        });
        merge(&mut payload, extra);
        self.sign(&payload)
    }

    /// A Cognito-shaped id token.
    pub(crate) fn id_token(&self, groups: &[&str], extra: Value) -> String {
        let mut payload = json!({
            "sub": "user-sub-1",
            "iss": Self::iss(),
            "aud": CLIENT_ID,
            "cognito:username": "alice",
            "email": "alice@example.com",
            "token_use": "id",
            "auth_time": NOW,
            "exp": NOW + 3600,
            "iat": NOW,
            "cognito:groups": groups,
        });
        merge(&mut payload, extra);
        self.sign(&payload)
    }

    /// The JWKS written to a file in a per-process temporary folder.
    pub(crate) fn jwks_path(&self) -> &'static Path {
        static PATH: OnceLock<PathBuf> = OnceLock::new();
        PATH.get_or_init(|| {
            let folder = std::env::temp_dir()
                .join(format!("cognito-authz-core-tests-{}", std::process::id()));
            std::fs::create_dir_all(&folder).expect("temporary folder");
            let path = folder.join("jwks.json");
            std::fs::write(&path, self.jwks_json()).expect("write jwks");
            path
        })
    }

    /// The issuer configuration for these tokens (static keys, both token uses).
    pub(crate) fn config(&self) -> IssuerConfig {
        IssuerConfig::user_pool(POOL_ID)
            .name("main")
            .client_ids([CLIENT_ID])
            .token_use(AcceptedTokenUse::Any)
            .jwks_json(self.jwks.clone())
            .build()
            .expect("valid test issuer")
    }

    /// A verifier for these tokens with the clock at [`NOW`].
    pub(crate) fn verifier(&self) -> Verifier {
        Verifier::builder()
            .issuer(self.config())
            .clock(FixedClock(Duration::from_secs(NOW)))
            .build()
            .expect("valid verifier")
    }
}

fn merge(payload: &mut Value, extra: Value) {
    if let (Value::Object(target), Value::Object(extra)) = (payload, extra) {
        for (name, value) in extra {
            if value.is_null() {
                target.remove(&name);
            } else {
                target.insert(name, value);
            }
        }
    }
}
