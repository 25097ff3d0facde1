//! The serde_json reading of the header and payload the verifier used before it had its own
//! reader, kept as the oracle the reader is compared with: for every input both must accept
//! or reject alike and extract the same values.
//!
//! Every value the verifier does not read goes through `deserialize_any`, so it gets exactly
//! the checks `serde_json::Value` applies (number range, escapes, nesting depth).

use std::borrow::Cow;
use std::fmt;

use proptest::prelude::*;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{Audience, Claims, Header, SeenKeys};

mod adversarial;

/// A string, borrowed from the JSON text when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(value)))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(value.to_owned())))
            }
            fn visit_string<E: de::Error>(self, value: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(value)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// A value the verifier does not read, consumed with exactly the checks `serde_json::Value`
/// applies (number range, string escapes, nesting depth) but without building anything.
///
/// `serde::de::IgnoredAny` would be cheaper but serde_json only checks its syntax: a signed
/// token with `1e999` or 200 nested arrays in a user claim would verify here and then fail to
/// parse as a JSON object for `claim:` policies and typed claims. Going through
/// `deserialize_any` makes both parsers accept exactly the same documents.
struct Skip;

impl<'de> de::Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SkipVisitor;
        impl<'de> Visitor<'de> for SkipVisitor {
            type Value = Skip;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(Skip)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
                while map.next_entry::<Skip, Skip>()?.is_some() {}
                Ok(Skip)
            }
        }
        deserializer.deserialize_any(SkipVisitor)
    }
}

/// A user claim read leniently: a string if it is one, otherwise skipped (never an error).
struct AnyText<'a>(Option<Cow<'a, str>>);

impl<'de> de::Deserialize<'de> for AnyText<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AnyTextVisitor;
        impl<'de> Visitor<'de> for AnyTextVisitor {
            type Value = AnyText<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<AnyText<'de>, E> {
                Ok(AnyText(Some(Cow::Borrowed(value))))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<AnyText<'de>, E> {
                Ok(AnyText(Some(Cow::Owned(value.to_owned()))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<AnyText<'de>, E> {
                Ok(AnyText(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<AnyText<'de>, E> {
                Ok(AnyText(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<AnyText<'de>, E> {
                Ok(AnyText(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<AnyText<'de>, E> {
                Ok(AnyText(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<AnyText<'de>, E> {
                Ok(AnyText(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AnyText<'de>, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(AnyText(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyText<'de>, A::Error> {
                while map.next_entry::<Skip, Skip>()?.is_some() {}
                Ok(AnyText(None))
            }
        }
        deserializer.deserialize_any(AnyTextVisitor)
    }
}

impl<'de> de::Deserialize<'de> for Audience<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AudienceVisitor;
        impl<'de> Visitor<'de> for AudienceVisitor {
            type Value = Audience<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Audience<'de>, E> {
                Ok(Audience::One(Cow::Borrowed(value)))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Audience<'de>, E> {
                Ok(Audience::One(Cow::Owned(value.to_owned())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Audience<'de>, A::Error> {
                Ok(Audience::Many(strings(seq)?))
            }
        }
        deserializer.deserialize_any(AudienceVisitor)
    }
}

/// An array of strings (`cognito:groups`).
struct Strings<'a>(Vec<Cow<'a, str>>);

impl<'de> de::Deserialize<'de> for Strings<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StringsVisitor;
        impl<'de> Visitor<'de> for StringsVisitor {
            type Value = Strings<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Strings<'de>, A::Error> {
                Ok(Strings(strings(seq)?))
            }
        }
        deserializer.deserialize_seq(StringsVisitor)
    }
}

fn strings<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Vec<Cow<'de, str>>, A::Error> {
    let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(64));
    while let Some(Text(item)) = seq.next_element::<Text<'de>>()? {
        items.push(item);
    }
    Ok(items)
}

struct HeaderSeed;

impl<'de> DeserializeSeed<'de> for HeaderSeed {
    type Value = Header<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Header<'de>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HeaderSeed {
    type Value = Header<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JOSE header object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header<'de>, A::Error> {
        let mut header = Header::default();
        let mut seen = SeenKeys::default();
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom("duplicate member"));
            }
            match key.as_ref() {
                "alg" => header.alg = Some(map.next_value::<Text<'de>>()?.0),
                "kid" => header.kid = Some(map.next_value::<Text<'de>>()?.0),
                "crit" => {
                    map.next_value::<Skip>()?;
                    header.crit = true;
                }
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(header)
    }
}

struct ClaimsSeed;

impl<'de> DeserializeSeed<'de> for ClaimsSeed {
    type Value = Claims<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Claims<'de>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ClaimsSeed {
    type Value = Claims<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWT claims object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Claims<'de>, A::Error> {
        let mut claims = Claims::default();
        let mut seen = SeenKeys::default();
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom("duplicate member"));
            }
            let text = |map: &mut A| map.next_value::<Text<'de>>().map(|text| Some(text.0));
            let number = |map: &mut A| map.next_value::<f64>().map(Some);
            match key.as_ref() {
                "iss" => claims.iss = text(&mut map)?,
                "sub" => claims.sub = text(&mut map)?,
                "token_use" => claims.token_use = text(&mut map)?,
                "client_id" => claims.client_id = text(&mut map)?,
                "scope" => claims.scope = text(&mut map)?,
                "username" => claims.username = text(&mut map)?,
                "cognito:username" => claims.cognito_username = text(&mut map)?,
                "jti" => claims.jti = text(&mut map)?,
                "origin_jti" => claims.origin_jti = text(&mut map)?,
                "exp" => claims.exp = number(&mut map)?,
                "nbf" => claims.nbf = number(&mut map)?,
                "iat" => claims.iat = number(&mut map)?,
                "auth_time" => claims.auth_time = number(&mut map)?,
                "aud" => claims.aud = map.next_value::<Audience<'de>>()?,
                "cognito:groups" => {
                    claims.groups = Some(map.next_value::<Strings<'de>>()?.0.into_iter().collect());
                }
                "email" => claims.email = map.next_value::<AnyText<'de>>()?.0,
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(claims)
    }
}

/// The header as the serde path reads it.
fn header(json: &str) -> Result<Header<'_>, ()> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    HeaderSeed
        .deserialize(&mut deserializer)
        .and_then(|header| deserializer.end().map(|()| header))
        .map_err(drop)
}

/// The payload's claims as the serde path reads them.
fn claims(json: &str) -> Result<Claims<'_>, ()> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    ClaimsSeed
        .deserialize(&mut deserializer)
        .and_then(|claims| deserializer.end().map(|()| claims))
        .map_err(drop)
}

/// What a reading yields, in a form two readings can be compared by: the values (numbers by
/// their bits, so `-0` differs from `0`) and which strings were borrowed from the text.
fn header_outcome(header: Result<Header<'_>, impl Sized>) -> Option<String> {
    header.ok().map(|header| {
        let borrowed = [&header.alg, &header.kid].map(|text| borrowed(text.as_ref()));
        format!("{header:?} {borrowed:?}")
    })
}

fn claims_outcome(claims: Result<Claims<'_>, impl Sized>) -> Option<String> {
    claims.ok().map(|claims| {
        let numbers = [claims.exp, claims.nbf, claims.iat, claims.auth_time]
            .map(|number| number.map(f64::to_bits));
        let texts = [
            &claims.iss,
            &claims.sub,
            &claims.token_use,
            &claims.client_id,
            &claims.scope,
            &claims.username,
            &claims.cognito_username,
            &claims.jti,
            &claims.origin_jti,
            &claims.email,
        ]
        .map(|text| borrowed(text.as_ref()));
        format!("{claims:?} {numbers:?} {texts:?}")
    })
}

fn borrowed(text: Option<&Cow<'_, str>>) -> Option<bool> {
    text.map(|text| matches!(text, Cow::Borrowed(_)))
}

/// Reads `json` both ways and asserts the same outcome; a document the reader accepts must
/// also parse as a generic JSON object (what `claim:` policies and typed claims read).
fn assert_same(json: &str) {
    let ours = claims_outcome(Claims::read(json));
    assert_eq!(ours, claims_outcome(claims(json)), "payload {json:?}");
    assert_eq!(
        header_outcome(Header::read(json)),
        header_outcome(header(json)),
        "header {json:?}"
    );
    if ours.is_some() {
        assert!(
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json).is_ok(),
            "accepted but not a generic object: {json:?}"
        );
    }
}

/// Every member name the verifier reads in a payload or a header, and `typ`.
pub(super) const READ_NAMES: [&str; 20] = [
    "iss",
    "sub",
    "token_use",
    "client_id",
    "scope",
    "username",
    "cognito:username",
    "jti",
    "origin_jti",
    "email",
    "exp",
    "nbf",
    "iat",
    "auth_time",
    "aud",
    "cognito:groups",
    "alg",
    "kid",
    "crit",
    "typ",
];

/// Member names: every one the verifier reads, escaped spellings of some, and others.
fn name() -> impl Strategy<Value = String> {
    let others = [
        "custom:tenant",
        "ex\\u0070",
        "\\u0065xp",
        "a\\u0075d",
        "cognito:group\\u0073",
        "",
    ];
    prop_oneof![
        prop::sample::select([READ_NAMES.as_slice(), &others].concat()).prop_map(str::to_owned),
        "[a-z:_]{1,6}",
    ]
}

/// Strings, well-formed or not: plain text, every escape, good and lone surrogates, control
/// characters, non-ASCII, an unterminated string.
fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => r#""([a-zA-Z0-9 :/._-]|é|😀|\\["\\/bfnrt]|\\u00[0-9a-fA-F]{2}|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}){0,12}""#,
        1 => r#""([a-z]|\\[a-z"\\/]|\\u[0-9a-fA-F]{0,4}|\\u[dD][89abAB][0-9a-fA-F]{2}(\\u[0-9a-fA-F]{4})?|\\u[dD][c-fC-F][0-9a-fA-F]{2}|[\x00-\x1f\x7f]){0,6}"?"#,
    ]
}

/// Numbers, well-formed or not: integers of every size, floats, exponents at and beyond the
/// range, negative zero, leading zeros, missing digits.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "0",
            "-0",
            "-0.0",
            "0e0",
            "1E+2",
            "1e-2",
            "1e999",
            "-1e400",
            "1e-999",
            "1e308",
            "1.7976931348623157e308",
            "1.7976931348623159e308",
            "1.8e308",
            "0e999999999999999999999",
            "1e-99999999999999999999",
            "123456789012345678901234567890",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "9007199254740993",
            "999999999999999",
            "1000000000000000",
            "01",
            "-01",
            "00",
            "1.",
            ".5",
            "+1",
            "1e",
            "1e+",
            "-",
            "--1",
            "1.5.3",
            "0x10",
            "1_0",
            "Infinity",
            "NaN",
        ])
        .prop_map(str::to_owned),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| format!("{n:?}")),
        any::<f64>().prop_map(|n| format!("{n:e}")),
        (1_u32..400).prop_map(|digits| format!("1{}", "0".repeat(digits as usize))),
        "-?[0-9]{1,22}(\\.[0-9]{0,4})?([eE][+-]?[0-9]{0,4})?",
    ]
}

/// Any value, nested a few levels.
fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        string(),
        number(),
        prop::sample::select(vec!["null", "true", "false", "nul", "tru", "fals", "nulll"])
            .prop_map(str::to_owned),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        // Now and then a stray comma before the closing bracket or brace.
        let trailing = || prop::sample::select(vec!["", "", "", "", ","]);
        prop_oneof![
            (prop::collection::vec(inner.clone(), 0..5), trailing())
                .prop_map(|(items, trailing)| format!("[{}{trailing}]", items.join(","))),
            (prop::collection::vec((name(), inner), 0..4), trailing()).prop_map(
                |(members, trailing)| {
                    let members: Vec<String> = members
                        .into_iter()
                        .map(|(name, value)| format!("\"{name}\":{value}"))
                        .collect();
                    format!("{{{}{trailing}}}", members.join(","))
                }
            ),
        ]
    })
}

/// A member value shaped for its name most of the time (so documents often pass), anything
/// otherwise.
fn member() -> impl Strategy<Value = (String, String)> {
    name().prop_flat_map(|name| {
        let typed = match name.as_str() {
            "exp" | "nbf" | "iat" | "auth_time" | "ex\\u0070" | "\\u0065xp" => number().boxed(),
            "aud" | "cognito:groups" | "a\\u0075d" | "cognito:group\\u0073" => {
                prop::collection::vec(string(), 0..4)
                    .prop_map(|items| format!("[{}]", items.join(",")))
                    .boxed()
            }
            _ => string().boxed(),
        };
        (Just(name), prop_oneof![3 => typed, 1 => value()])
    })
}

/// Whitespace, JSON's four kinds and a few that are not.
fn space() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just(String::new()),
        3 => "[ \t\r\n]{1,3}",
        1 => prop::sample::select(vec!["\u{b}", "\u{c}", "\u{a0}", "/**/"]).prop_map(str::to_owned),
    ]
}

/// A whole document: an object of members with odd whitespace, sometimes broken at the
/// seams (a missing or doubled separator, trailing text).
fn document() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((member(), space(), space()), 0..24),
        space(),
        prop::sample::select(vec!["", "", "", "", ",", " x", "}", " {}", "\n"]),
        prop::sample::select(vec![",", ",", ",", ",", ",", ",", ",,", ";", ""]),
    )
        .prop_map(|(members, before, after, separator)| {
            let members: Vec<String> = members
                .into_iter()
                .map(|((name, value), left, right)| {
                    format!("{left}\"{name}\"{right}:{left}{value}{right}")
                })
                .collect();
            format!("{before}{{{}}}{after}", members.join(separator))
        })
}

/// A Cognito-shaped payload (escaped or not), as a real access or id token has it.
fn cognito_payload() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        "[a-z0-9-]{8,36}",
        prop::collection::vec("[a-z]{1,8}", 0..4),
        1_600_000_000_u64..1_900_000_000,
        any::<bool>(),
    )
        .prop_map(|(access, sub, groups, iat, escape)| {
            let iss = if escape {
                "https:\\/\\/cognito-idp.us-east-1.amazonaws.com\\/us-east-1_Prop1"
            } else {
                "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Prop1"
            };
            let groups: Vec<String> = groups.iter().map(|group| format!("\"{group}\"")).collect();
            let (kind, client) = if access {
                ("access", r#""client_id":"client","scope":"api/read api/write","username":"u""#)
            } else {
                ("id", r#""aud":"client","email":"a@b.c","cognito:username":"u""#)
            };
            format!(
                r#"{{"sub":"{sub}","cognito:groups":[{}],"iss":"{iss}","version":2,{client},"origin_jti":"{sub}","event_id":"{sub}","token_use":"{kind}","auth_time":{iat},"exp":{},"iat":{iat},"jti":"{sub}"}}"#,
                groups.join(","),
                iat + 3600
            )
        })
}

/// Byte edits: (where, what) pairs; a replacement or an insertion of a byte that matters to
/// JSON, or a deletion.
fn mutations() -> impl Strategy<Value = Vec<(prop::sample::Index, u8, u8)>> {
    let byte = prop_oneof![
        prop::sample::select(b"{}[]\",:\\/ \t\n0123456789.eE+-utnfal\x00\x1f\x7f".to_vec()),
        any::<u8>(),
    ];
    prop::collection::vec((any::<prop::sample::Index>(), 0_u8..3, byte), 1..4)
}

fn mutate(text: &str, edits: &[(prop::sample::Index, u8, u8)]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for (index, kind, byte) in edits {
        let at = index.index(bytes.len() + 1);
        match kind {
            0 if at < bytes.len() => bytes[at] = *byte,
            1 if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => bytes.insert(at, *byte),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Arrays and objects nested `depth` deep inside a member (the outer object is one more).
fn nested(depth: usize, objects: bool, name: &str) -> String {
    let (open, close) = if objects {
        ("{\"a\":", "}")
    } else {
        ("[", "]")
    };
    format!(
        "{{\"{name}\":{}1{}}}",
        open.repeat(depth),
        close.repeat(depth)
    )
}

#[test]
fn fixed_cases_read_alike() {
    let cases = [
        "",
        " ",
        "{}",
        " {} ",
        "{} {}",
        "[]",
        "null",
        "{\"a\":1,}",
        "{,\"a\":1}",
        "{\"a\" 1}",
        "{\"a\":}",
        "{\"a\":1 \"b\":2}",
        "{\"exp\":-0}",
        "{\"exp\":1E+2}",
        "{\"exp\":1e999}",
        "{\"exp\":0.1}",
        "{\"exp\":1700000000.5}",
        "{\"exp\":\"1\"}",
        "{\"sub\":\"\\ud83d\\ude00\"}",
        "{\"sub\":\"\\ud83d\"}",
        "{\"sub\":\"\\ude00\"}",
        "{\"sub\":\"\\ud83d\\u0041\"}",
        "{\"sub\":\"\\ud83dx\"}",
        "{\"sub\":\"\\u00e9\"}",
        "{\"sub\":\"a\u{1}\"}",
        "{\"sub\":\"\\x\"}",
        "{\"sub\":\"\\",
        "{\"sub\":\"\\u12\"}",
        "{\"aud\":[]}",
        "{\"aud\":[\"a\",]}",
        "{\"aud\":[,\"a\"]}",
        "{\"aud\":{}}",
        "{\"aud\":null}",
        "{\"cognito:groups\":[\"a\" , \"b\"]}",
        "{\"cognito:groups\":[[]]}",
        "{\"email\":[1e999]}",
        "{\"email\":{\"a\":[]}}",
        "{\"email\":\"x\\ny\"}",
        "{\"crit\":null}",
        "{\"alg\":\"RS256\",\"kid\":\"k\",\"typ\":\"JWT\"}",
        "{\"a\":{\"b\":1,\"b\":2}}",
        "{\"x\":tru}",
        "{\"x\":nulll}",
        "\u{feff}{}",
    ];
    for json in cases {
        assert_same(json);
    }
}

#[test]
fn nesting_reads_alike_at_the_bound() {
    for depth in 120..=130 {
        for objects in [false, true] {
            for name in ["custom", "email", "aud", "crit", "cognito:groups"] {
                assert_same(&nested(depth, objects, name));
            }
        }
    }
    // The bound sits exactly between these: the outer object and 126 arrays.
    assert!(Claims::read(&nested(126, false, "x")).is_ok());
    assert!(Claims::read(&nested(127, false, "x")).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn documents_read_alike(json in document()) {
        assert_same(&json);
    }

    #[test]
    fn mutated_documents_read_alike(json in document(), edits in mutations()) {
        assert_same(&mutate(&json, &edits));
    }

    #[test]
    fn cognito_payloads_read_alike(json in cognito_payload(), edits in mutations(), mutated in any::<bool>()) {
        let json = if mutated { mutate(&json, &edits) } else { json };
        if !mutated {
            prop_assert!(Claims::read(&json).is_ok(), "{}", json);
        }
        assert_same(&json);
    }

    #[test]
    fn values_read_alike(value in value(), name in name()) {
        assert_same(&format!("{{\"{name}\":{value}}}"));
        assert_same(&value);
    }

    #[test]
    fn any_text_reads_alike(json in "\\PC{0,40}") {
        assert_same(&json);
    }
}
