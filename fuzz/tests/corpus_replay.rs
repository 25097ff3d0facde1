//! Replays every committed corpus input through the same harness the fuzz targets run, on stable
//! and without libFuzzer: `cargo test --manifest-path fuzz/Cargo.toml --no-default-features`.
//!
//! `COGNITO_AUTHZ_FUZZ_WRITE_SEEDS=1` first (re)writes the generated seed files (real tokens and
//! key sets signed by the committed fuzz key; RSA PKCS#1 v1.5 is deterministic, so the files only
//! change when the generator does).

use std::fs;
use std::path::{Path, PathBuf};

use cognito_authz_fuzz::{
    KID, NOW_SECS, UPDATED_ISS, key_set_json, keyset_bytes, sign, signing_key,
    valid_access_payload, valid_header, valid_id_payload, verify_bytes, verify_structured_bytes,
};
use cognito_authz_testkit::base64url;
use serde_json::{Value, json};

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = fs::read_dir(corpus(target))
        .unwrap_or_else(|error| panic!("corpus/{target}: {error}"))
        .map(|entry| entry.expect("corpus entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let bytes = fs::read(&path).expect("readable corpus file");
            (path, bytes)
        })
        .collect()
}

fn replay(target: &str, run: fn(&[u8])) -> usize {
    write_seeds_if_asked();
    let inputs = inputs(target);
    assert!(!inputs.is_empty(), "corpus/{target} is empty");
    for (path, bytes) in &inputs {
        let outcome = std::panic::catch_unwind(|| run(bytes));
        assert!(outcome.is_ok(), "{target}: {} panicked", path.display());
    }
    inputs.len()
}

#[test]
fn verify_corpus_replays_without_panics() {
    replay("verify", verify_bytes);
}

#[test]
fn verify_structured_corpus_replays_without_panics() {
    replay("verify_structured", verify_structured_bytes);
}

#[test]
fn keyset_corpus_replays_without_panics() {
    replay("keyset", keyset_bytes);
}

fn write_seeds_if_asked() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    if std::env::var_os("COGNITO_AUTHZ_FUZZ_WRITE_SEEDS").is_some() {
        ONCE.call_once(write_seeds);
    }
}

fn write(target: &str, name: &str, bytes: impl AsRef<[u8]>) {
    fs::create_dir_all(corpus(target)).expect("corpus folder");
    fs::write(corpus(target).join(name), bytes).expect("seed written");
}

fn write_seeds() {
    let header = valid_header(KID);
    let access = valid_access_payload();
    let id = valid_id_payload();
    let with = |payload: &str, edit: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut value: Value = serde_json::from_str(payload).expect("json");
        edit(value.as_object_mut().expect("object"));
        value.to_string()
    };

    // verify: real tokens (valid, and each failing one check), and structural near-misses.
    let valid_access = sign(&header, &access);
    write("verify", "valid-access", &valid_access);
    write("verify", "valid-id", sign(&header, &id));
    write(
        "verify",
        "valid-updated-iss",
        sign(
            &header,
            &with(&access, &|p| {
                p.insert("iss".into(), UPDATED_ISS.into());
            }),
        ),
    );
    write(
        "verify",
        "expired",
        sign(
            &header,
            &with(&access, &|p| {
                p.insert("exp".into(), NOW_SECS.into());
            }),
        ),
    );
    write(
        "verify",
        "wrong-client",
        sign(
            &header,
            &with(&access, &|p| {
                p.insert("client_id".into(), "x".into());
            }),
        ),
    );
    write(
        "verify",
        "groups-string",
        sign(
            &header,
            &with(&access, &|p| {
                p.insert("cognito:groups".into(), "admin".into());
            }),
        ),
    );
    write(
        "verify",
        "duplicate-exp",
        sign(&header, &access.replacen('{', r#"{"exp":9999999999,"#, 1)),
    );
    write("verify", "kid-ec", sign(&valid_header("ec"), &access));
    write(
        "verify",
        "kid-unknown",
        sign(&valid_header("nope"), &access),
    );
    write(
        "verify",
        "alg-none",
        format!("{}.{}.", base64url(r#"{"alg":"none"}"#), base64url(&access)),
    );
    write(
        "verify",
        "crit",
        sign(
            &json!({"alg":"RS256","kid":KID,"crit":["exp"]}).to_string(),
            &access,
        ),
    );
    write(
        "verify",
        "embedded-jwk",
        sign(
            &json!({"alg":"RS256","kid":"attacker","jwk":signing_key().to_jwk(),"jku":"https://attacker.invalid/jwks.json"})
                .to_string(),
            &access,
        ),
    );
    write("verify", "padded", format!("{valid_access}=="));
    write("verify", "four-segments", format!("{valid_access}.AAAA"));
    write("verify", "bearer", format!("Bearer {valid_access}"));
    write("verify", "empty", "");
    write("verify", "dots", "..");

    // keyset: the fuzz key set, Cognito's shape, and documents at the edges of the rules.
    let key = signing_key();
    let jwk = key.to_jwk();
    write("keyset", "fuzz-key-set.json", key_set_json());
    write("keyset", "single.json", json!({"keys": [jwk]}).to_string());
    write("keyset", "empty.json", r#"{"keys":[]}"#);
    let mut leading_zero = jwk.clone();
    let mut n = vec![0u8];
    n.extend(
        base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            key.modulus_base64url(),
        )
        .expect("n"),
    );
    leading_zero["n"] = base64url(n).into();
    write(
        "keyset",
        "leading-zero-n.json",
        json!({"keys": [leading_zero]}).to_string(),
    );
    let mut padded = jwk.clone();
    padded["n"] = format!("{}=", key.modulus_base64url()).into();
    write(
        "keyset",
        "padded-first-then-real.json",
        json!({"keys": [padded, jwk]}).to_string(),
    );
    let mut ec_first = jwk.clone();
    ec_first["kty"] = "EC".into();
    write(
        "keyset",
        "ec-first-then-real.json",
        json!({"keys": [ec_first, jwk]}).to_string(),
    );
    let many: Vec<Value> = (0..257)
        .map(|i| json!({"kid": format!("k{i}"), "kty": "EC"}))
        .collect();
    write("keyset", "too-many.json", json!({"keys": many}).to_string());
    write("keyset", "not-a-set.json", r#"{"keys":{}}"#);
    write(
        "keyset",
        "duplicate-keys-member.json",
        format!(r#"{{"keys":[],"keys":[{jwk}]}}"#),
    );

    // verify_structured: arbitrary's bytes. All zeros decode to "every member as in a valid
    // token, no tampering"; the others steer the first choices elsewhere.
    write("verify_structured", "zeros-64", [0u8; 64]);
    write("verify_structured", "zeros-512", [0u8; 512]);
    write("verify_structured", "id-token", {
        let mut bytes = [0u8; 256];
        bytes[0] = 1;
        bytes
    });
    write("verify_structured", "ones-256", [1u8; 256]);
    write(
        "verify_structured",
        "ramp-512",
        (0..=255u8).chain(0..=255u8).collect::<Vec<_>>(),
    );
    write("verify_structured", "ff-300", [0xffu8; 300]);
}
