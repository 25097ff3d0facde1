//! Replays every committed corpus input through the same harness the fuzz targets run, on stable
//! and without libFuzzer: `cargo test --manifest-path fuzz/Cargo.toml --no-default-features`.
//!
//! `COGNITO_AUTHZ_FUZZ_WRITE_SEEDS=1` first (re)writes the generated seed files (real tokens and
//! key sets signed by the committed fuzz key; RSA PKCS#1 v1.5 is deterministic, so the files only
//! change when the generator does).

use std::fs;
use std::path::{Path, PathBuf};

use arbitrary::{Arbitrary, Unstructured};
use cognito_authz_fuzz::{
    CookieChoice, CustomHeader, HeaderChoice, HeaderSpec, KID, NOW_SECS, SourceInput, SourceSpec,
    UPDATED_ISS, ValuePrefix, encode_source_input, key_set_json, keyset_bytes, policy_expr_bytes,
    policy_file_bytes, sign, signing_key, token_source_bytes, valid_access_payload, valid_header,
    valid_id_payload, verify_bytes, verify_structured_bytes,
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

#[test]
fn policy_expr_corpus_replays_without_panics() {
    replay("policy_expr", policy_expr_bytes);
}

#[test]
fn policy_file_corpus_replays_without_panics() {
    replay("policy_file", policy_file_bytes);
}

#[test]
fn token_source_corpus_replays_without_panics() {
    replay("token_source", token_source_bytes);
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

    write_policy_seeds();
}

/// The policy expression and policy file seeds (text), and the token-source seeds (encoded for
/// `arbitrary`, each checked to decode back to the request it describes).
fn write_policy_seeds() {
    let expressions: [(&str, String); 28] = [
        ("example-admin", "group:admin".into()),
        ("example-public", "public".into()),
        ("example-authenticated", "authenticated".into()),
        ("example-named", "policy:admin".into()),
        ("example-scope", "scope:reports/read".into()),
        ("design-reader", "scope:api/read or policy:admin".into()),
        ("design-admin-id", "policy:admin and token_use:id".into()),
        ("design-nested", "group:admin and (scope:api/read or token_use:id)".into()),
        ("design-quoted", r#"group:"team blue" or claim:custom:team="blue green""#.into()),
        ("not-reader", "not policy:reader".into()),
        ("every-atom", "claim:custom:tenant=acme and issuer:us-east-1_FuzzPool1 and client:fuzzclient123 and claim:email and token_use:access".into()),
        ("claim-values", r#"claim:custom:n=42 or claim:custom:f=1.5 or claim:custom:flag=true or claim:custom:list=a or claim:x="""#.into()),
        ("escapes", r#"group:"say \"hi\"" or group:"back\\slash" or claim:"a=b"=c=d"#.into()),
        ("not-not", "not not group:a and (group:b or not (group:c and scope:x))".into()),
        ("named-chain", "policy:careful or policy:team or not policy:no_banned".into()),
        ("open-alias", "policy:open_alias".into()),
        ("err-trailing-and", "group:a and ".into()),
        ("err-unclosed-paren", "(group:a".into()),
        ("err-unclosed-quote", "group:\"team blue".into()),
        ("err-unknown-atom", "groups:admin".into()),
        ("err-token-use", "token_use:both".into()),
        ("err-claim-name", "claim:=x".into()),
        ("err-escape", r#"group:"a\nb""#.into()),
        ("err-deep", format!("{}group:a{}", "(".repeat(70), ")".repeat(70))),
        ("err-multibyte", "group:\u{e9}\u{1f600} and".into()),
        ("compile-public-combined", "public or group:x".into()),
        ("compile-invalid-scope", r#"scope:"a b" and not scope:"q\"""#.into()),
        ("compile-unknown", "policy:nope or group:a".into()),
    ];
    for (name, text) in &expressions {
        write("policy_expr", name, text);
    }

    let example =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/policy.toml"))
            .expect("examples/policy.toml");
    write("policy_file", "example.toml", example);
    write(
        "policy_file",
        "every-section.toml",
        r#"[[issuer]]
name = "main"
user_pool_id = "us-east-1_Example1"
client_ids = ["1example23456789", "2example"]
token_use = "access"
replica_regions = ["us-west-2"]
jwks_url = "https://keys.example.com/jwks.json"
jwks_file = "keys/jwks.json"
leeway_secs = 5
algorithms = ["RS256", "RS512"]

[[issuer]]
name = "local"
cognito_issuer = "http://127.0.0.1:9229/local_pool"
any_client = true
token_use = "any"
jwks_url = "http://127.0.0.1:9229/local_pool/.well-known/jwks.json"

[[issuer]]
issuer = "https://login.example.com"
audiences = ["api://x"]
jwks_file = "/etc/keys.json"

[token]
header = "Dev-Auth-Token"
cookie = "id_token"

[defaults]
unmatched = "not authenticated"

[policies]
admin = "group:admin"
reader = "scope:api/read or policy:admin"
team = 'group:"team blue" and claim:custom:team="blue green"'

[[route]]
path = "/health"
require = "public"

[[route]]
path = "/reports/{id}"
methods = ["GET", "head"]
require = "policy:reader"

[[route]]
path = "/reports/{id}"
methods = ["DELETE"]
require = "policy:admin and token_use:id"

[[route]]
path = "/admin/{*rest}"
require = "policy:admin"

[[route]]
path = "/admin/public"
methods = ["GET"]
require = "public"

[[route]]
path = "/teams/{team}/members"
methods = ["post", "PUT", "PATCH"]
require = "policy:team or issuer:local"
"#,
    );
    let issuer = "[[issuer]]\nname = \"main\"\nuser_pool_id = \"us-east-1_Example1\"\nclient_ids = [\"client\"]\ntoken_use = \"access\"\n\n";
    let errors: [(&str, String); 10] = [
        ("err-empty.toml", String::new()),
        ("err-unclosed-array.toml", "x = [\n".into()),
        ("err-unknown-field.toml", format!("{issuer}[token]\nheadr = \"x\"\n")),
        ("err-expression.toml", format!("{issuer}[[route]]\npath = \"/x\"\nrequire = \"group:a and\"\n")),
        ("err-cycle.toml", format!("{issuer}[policies]\na = \"policy:b\"\nb = \"group:y or policy:a\"\n")),
        ("err-conflict.toml", format!("{issuer}[[route]]\npath = \"/a/{{x}}\"\nrequire = \"public\"\n\n[[route]]\npath = \"/a/{{y}}\"\nrequire = \"public\"\n")),
        ("err-method.toml", format!("{issuer}[[route]]\npath = \"/x\"\nmethods = [\"GET\", \"NOT A METHOD\"]\nrequire = \"public\"\n")),
        ("err-multibyte.toml", "[[issuer]]\nname = \"\u{e9}\"\nuser_pool_id = \"us-east-1_X\"\nany_client = true\ntoken_use = \"id\"\n\n[[route]]\npath = \"/\u{fc}\"  ; require = \"group:a and\"\n".into()),
        ("err-public-combined.toml", format!("{issuer}[defaults]\nunmatched = \"public or group:a\"\n")),
        ("err-crlf.toml", format!("{issuer}[[route]]\npath = \"/x\"\nrequire = \"(\"\n").replace('\n', "\r\n")),
    ];
    for (name, text) in &errors {
        write("policy_file", name, text);
    }

    let header = |name: HeaderChoice, prefix: ValuePrefix, value: &[u8]| HeaderSpec {
        name,
        prefix,
        value: value.to_vec(),
    };
    let token = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
    let requests: Vec<(&str, SourceInput)> = vec![
        (
            "empty",
            SourceInput {
                source: SourceSpec::Default,
                headers: vec![],
            },
        ),
        (
            "bearer",
            SourceInput {
                source: SourceSpec::Default,
                headers: vec![header(
                    HeaderChoice::AuthorizationTitle,
                    ValuePrefix::Bearer,
                    token,
                )],
            },
        ),
        (
            "raw-token-and-other",
            SourceInput {
                source: SourceSpec::Default,
                headers: vec![
                    header(HeaderChoice::XOther, ValuePrefix::Bearer, b"x"),
                    header(HeaderChoice::Authorization, ValuePrefix::None, token),
                ],
            },
        ),
        (
            "two-authorization",
            SourceInput {
                source: SourceSpec::Default,
                headers: vec![
                    header(HeaderChoice::Authorization, ValuePrefix::Bearer, token),
                    header(HeaderChoice::AuthorizationTitle, ValuePrefix::Bearer, token),
                ],
            },
        ),
        (
            "basic-scheme",
            SourceInput {
                source: SourceSpec::Default,
                headers: vec![header(
                    HeaderChoice::Authorization,
                    ValuePrefix::Basic,
                    b"dXNlcjpwdw==",
                )],
            },
        ),
        (
            "padded-bearer",
            SourceInput {
                source: SourceSpec::Default,
                headers: vec![header(
                    HeaderChoice::Authorization,
                    ValuePrefix::BearerPadded,
                    b"a.b.c \t",
                )],
            },
        ),
        (
            "not-utf8",
            SourceInput {
                source: SourceSpec::Default,
                headers: vec![header(
                    HeaderChoice::Authorization,
                    ValuePrefix::Bearer,
                    b"a.\xff.c",
                )],
            },
        ),
        (
            "cookie-only",
            SourceInput {
                source: SourceSpec::Cookie(CookieChoice::IdToken),
                headers: vec![header(
                    HeaderChoice::CookieTitle,
                    ValuePrefix::SecondIdTokenCookie,
                    token,
                )],
            },
        ),
        (
            "header-and-cookie",
            SourceInput {
                source: SourceSpec::Cookie(CookieChoice::IdToken),
                headers: vec![
                    header(
                        HeaderChoice::Authorization,
                        ValuePrefix::BearerLowerTab,
                        token,
                    ),
                    header(HeaderChoice::Cookie, ValuePrefix::IdTokenCookie, token),
                ],
            },
        ),
        (
            "cookie-twice-different",
            SourceInput {
                source: SourceSpec::Cookie(CookieChoice::IdToken),
                headers: vec![
                    header(HeaderChoice::Cookie, ValuePrefix::IdTokenCookie, b"a.b.c"),
                    header(
                        HeaderChoice::Cookie,
                        ValuePrefix::QuotedIdTokenCookie,
                        b"a.b.d\"",
                    ),
                ],
            },
        ),
        (
            "custom-header-and-cookie",
            SourceInput {
                source: SourceSpec::HeaderAndCookie(
                    CustomHeader::DevAuthTokenTitle,
                    CookieChoice::Token,
                ),
                headers: vec![
                    header(HeaderChoice::Authorization, ValuePrefix::Bearer, token),
                    header(HeaderChoice::DevAuthToken, ValuePrefix::Token, b""),
                    header(HeaderChoice::Cookie, ValuePrefix::TokenCookie, b""),
                ],
            },
        ),
        (
            "custom-header-twice",
            SourceInput {
                source: SourceSpec::Header(CustomHeader::XOther),
                headers: vec![
                    header(HeaderChoice::XOther, ValuePrefix::Token, b""),
                    header(HeaderChoice::XOther, ValuePrefix::None, b"\x00"),
                    header(HeaderChoice::XOther, ValuePrefix::None, b""),
                ],
            },
        ),
    ];
    for (name, input) in &requests {
        let bytes = encode_source_input(input);
        let decoded = SourceInput::arbitrary_take_rest(Unstructured::new(&bytes))
            .expect("an encoded seed decodes");
        assert_eq!(
            &decoded, input,
            "{name}: the seed encoding no longer matches arbitrary"
        );
        write("token_source", name, bytes);
    }
}
