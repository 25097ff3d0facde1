//! Strict compact-JWS parsing (checks 2 and 3 of DESIGN.md §3).
//!
//! Stricter than common verifiers on purpose: padding or non-canonical base64url, duplicate
//! top-level members and registered claims of the wrong type are all `malformed_token`, so two
//! parsers can never read the same token differently.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind};

/// A token split, decoded and parsed, not yet verified.
#[derive(Debug)]
pub(crate) struct ParsedToken<'a> {
    pub(crate) header: Map<String, Value>,
    pub(crate) payload: Map<String, Value>,
    pub(crate) payload_json: String,
    pub(crate) signing_input: &'a [u8],
    pub(crate) signature: Vec<u8>,
}

const fn malformed(detail: &'static str) -> Error {
    Error::new(ErrorKind::MalformedToken, detail)
}

/// Check 2: three non-empty canonical base64url segments; header and payload are UTF-8 JSON
/// objects without duplicate top-level members.
pub(crate) fn parse(token: &str) -> Result<ParsedToken<'_>, Error> {
    let mut segments = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(malformed("token is not three dot-separated segments"));
    };
    if header.is_empty() || payload.is_empty() || signature.is_empty() {
        return Err(malformed("empty segment"));
    }
    // Everything before the last '.' is what was signed.
    let signing_input = &token.as_bytes()[..token.len() - signature.len() - 1];
    let header_bytes = decode_segment(header)?;
    let payload_bytes = decode_segment(payload)?;
    let signature = decode_segment(signature)?;
    let header = parse_object(&header_bytes)
        .map_err(|()| malformed("header is not a JSON object without duplicate members"))?;
    let payload_json =
        String::from_utf8(payload_bytes).map_err(|_| malformed("payload is not UTF-8"))?;
    let payload = parse_object(payload_json.as_bytes())
        .map_err(|()| malformed("payload is not a JSON object without duplicate members"))?;
    Ok(ParsedToken {
        header,
        payload,
        payload_json,
        signing_input,
        signature,
    })
}

/// Decodes a token's header and payload **without verifying anything** (the CLI's `decode`).
///
/// Applies the structural rules of check 2, so what it shows is what the verifier would read.
///
/// # Errors
/// `malformed_token` when check 2 fails.
///
/// # Example
///
/// ```
/// let (header, payload) = cognito_authz_core::decode_unverified("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln").unwrap();
/// assert_eq!(header["alg"], "RS256");
/// assert_eq!(payload["sub"], "a");
/// ```
pub fn decode_unverified(token: &str) -> Result<(Map<String, Value>, Map<String, Value>), Error> {
    let parsed = parse(token)?;
    Ok((parsed.header, parsed.payload))
}

/// Decodes one segment: base64url alphabet only, no padding, no non-zero trailing bits.
pub(crate) fn decode_segment(segment: &str) -> Result<Vec<u8>, Error> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| malformed("segment is not canonical unpadded base64url"))
}

/// Parses a JSON object, rejecting duplicate top-level member names.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, ()> {
    serde_json::from_slice::<StrictObject>(bytes)
        .map(|object| object.0)
        .map_err(|_| ())
}

/// A JSON object whose top-level member names are unique.
struct StrictObject(Map<String, Value>);

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;

        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = StrictObject;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<StrictObject, A::Error> {
                let mut map = Map::new();
                while let Some(key) = access.next_key::<String>()? {
                    if map.contains_key(&key) {
                        return Err(serde::de::Error::custom("duplicate member"));
                    }
                    let value: Value = access.next_value()?;
                    map.insert(key, value);
                }
                Ok(StrictObject(map))
            }
        }

        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// Claims that must be finite numbers when present.
const NUMBER_CLAIMS: [&str; 4] = ["exp", "nbf", "iat", "auth_time"];
/// Claims that must be strings when present.
const STRING_CLAIMS: [&str; 9] = [
    "iss",
    "sub",
    "token_use",
    "client_id",
    "scope",
    "username",
    "cognito:username",
    "jti",
    "origin_jti",
];

/// Check 3: registered claims and header members have their types. `aud` may be an array of
/// strings only when the token names a generic OIDC issuer (`aud_array_allowed`).
pub(crate) fn check_types(
    header: &Map<String, Value>,
    payload: &Map<String, Value>,
    aud_array_allowed: bool,
) -> Result<(), Error> {
    for name in ["alg", "kid"] {
        if header.get(name).is_some_and(|value| !value.is_string()) {
            return Err(malformed("header alg or kid is not a string"));
        }
    }
    for name in NUMBER_CLAIMS {
        if payload
            .get(name)
            .is_some_and(|value| value.as_f64().is_none_or(|n| !n.is_finite()))
        {
            return Err(malformed("time claim is not a number"));
        }
    }
    for name in STRING_CLAIMS {
        if payload.get(name).is_some_and(|value| !value.is_string()) {
            return Err(malformed("string claim has another type"));
        }
    }
    match payload.get("aud") {
        None | Some(Value::String(_)) => {}
        Some(Value::Array(items)) if aud_array_allowed && items.iter().all(Value::is_string) => {}
        Some(_) => return Err(malformed("aud has the wrong type")),
    }
    if let Some(groups) = payload.get("cognito:groups") {
        let ok = groups
            .as_array()
            .is_some_and(|items| items.iter().all(Value::is_string));
        if !ok {
            return Err(malformed("cognito:groups is not an array of strings"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(text: &str) -> String {
        URL_SAFE_NO_PAD.encode(text)
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), b64("sig"))
    }

    #[test]
    fn well_formed_token_parses() {
        let raw = token(r#"{"alg":"RS256","kid":"k"}"#, r#"{"sub":"a"}"#);
        let parsed = parse(&raw).expect("parses");
        assert_eq!(parsed.header["kid"], "k");
        assert_eq!(parsed.payload["sub"], "a");
        assert_eq!(parsed.signature, b"sig");
        assert_eq!(
            parsed.signing_input,
            raw[..raw.rfind('.').expect("dot")].as_bytes()
        );
    }

    #[test]
    fn structural_faults_are_malformed() {
        let good_header = b64(r#"{"alg":"RS256"}"#);
        let good_payload = b64(r#"{"sub":"a"}"#);
        let cases = [
            String::new(),
            "a.b".to_owned(),
            "a.b.c.d".to_owned(),
            format!("{good_header}..c2ln"),
            format!(".{good_payload}.c2ln"),
            format!("{good_header}.{good_payload}."),
            format!("{good_header}=.{good_payload}.c2ln"),
            format!("{good_header}.{good_payload}.c2ln="),
            format!("{}.{good_payload}.c2ln", good_header.replace('e', "+")),
            format!("{good_header}.{}.c2ln", b64("[1,2]")),
            format!("{good_header}.{}.c2ln", b64("\"text\"")),
            format!("{good_header}.{}.c2ln", b64(r#"{"a":1,"a":2}"#)),
            format!("{good_header}.{}.c2ln", b64(r#"{"exp":1,"ex\u0070":2}"#)),
            format!(
                "{}.{good_payload}.c2ln",
                b64(r#"{"alg":"RS256","alg":"none"}"#)
            ),
            format!("{good_header}.{}.c2ln", b64(r#"{"a":1} x"#)),
            // "c2lo" decodes, "c2lp" has non-zero trailing bits in a 3-char group ("c2l" + "p").
            format!("{good_header}.{good_payload}.c2p"),
        ];
        for case in &cases {
            let error = parse(case).expect_err(case);
            assert_eq!(error.kind(), ErrorKind::MalformedToken, "{case}");
        }
    }

    #[test]
    fn non_utf8_payload_is_malformed() {
        let raw = format!(
            "{}.{}.c2ln",
            b64("{}"),
            URL_SAFE_NO_PAD.encode([0x7b, 0xff, 0x7d])
        );
        assert_eq!(
            parse(&raw).expect_err("bad utf8").kind(),
            ErrorKind::MalformedToken
        );
    }

    #[test]
    fn nested_duplicates_are_not_checked() {
        let raw = token("{}", r#"{"x":{"a":1,"a":2}}"#);
        assert!(parse(&raw).is_ok());
    }

    #[test]
    fn claim_types_are_enforced() {
        let header: Map<String, Value> = Map::new();
        let bad = [
            r#"{"exp":"1"}"#,
            r#"{"exp":null}"#,
            r#"{"iat":true}"#,
            r#"{"iss":1}"#,
            r#"{"token_use":null}"#,
            r#"{"scope":["a"]}"#,
            r#"{"aud":["a"]}"#,
            r#"{"aud":1}"#,
            r#"{"cognito:groups":"admin"}"#,
            r#"{"cognito:groups":["a",1]}"#,
            r#"{"cognito:username":{}}"#,
        ];
        for payload in bad {
            let payload = parse_object(payload.as_bytes()).expect("object");
            assert_eq!(
                check_types(&header, &payload, false)
                    .expect_err("bad type")
                    .kind(),
                ErrorKind::MalformedToken
            );
        }
        let payload =
            parse_object(br#"{"aud":["a","b"],"email":null,"custom:x":1}"#).expect("object");
        assert!(check_types(&header, &payload, true).is_ok());
        let header = parse_object(br#"{"kid":5}"#).expect("object");
        assert!(check_types(&header, &Map::new(), false).is_err());
    }
}
