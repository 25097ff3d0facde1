//! One-pass typed parsing of what the verifier reads: the header's `alg`, `kid` and `crit`, and
//! the registered claims whose types the verifier checks (`docs/verification.md`).
//!
//! Checks 2 and 3 both answer `malformed_token`, so one pass can do both: it rejects duplicate
//! top-level members and wrong claim types while reading, borrows strings from the decoded JSON
//! where no unescaping is needed, and skips the user's own claims without building them. The
//! generic JSON object (for `claim:` policies and typed claims) is built later, only if asked.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::{Error, ErrorKind};

const fn malformed(detail: &'static str) -> Error {
    Error::new(ErrorKind::MalformedToken, detail)
}

/// A string, borrowed from the JSON text when it has no escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

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

/// `aud`: absent, one string, or (generic OIDC issuers only) an array of strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Audience<'a> {
    #[default]
    Absent,
    One(Cow<'a, str>),
    Many(Vec<Cow<'a, str>>),
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

/// How many member names are kept in a plain list before they move to a set.
const FEW_KEYS: usize = 24;

/// Top-level member names seen so far: a short list on the stack (a Cognito payload has about
/// twenty members, so the common token allocates nothing here), a set once the object is large
/// (so a hostile object of thousands of members stays linear).
struct SeenKeys<'a> {
    few: [Cow<'a, str>; FEW_KEYS],
    count: usize,
    /// One bit per fingerprint of the names in `few`: a name whose bit is clear is new, and
    /// most names are told apart without comparing strings.
    fingerprints: u64,
    many: Option<HashSet<Cow<'a, str>>>,
}

impl Default for SeenKeys<'_> {
    fn default() -> Self {
        Self {
            few: std::array::from_fn(|_| Cow::Borrowed("")),
            count: 0,
            fingerprints: 0,
            many: None,
        }
    }
}

/// A bit chosen by a name's length and end bytes (not a hash: it only has to spread the
/// names of one payload).
fn fingerprint(key: &str) -> u64 {
    let bytes = key.as_bytes();
    let (first, last) = (bytes.first().copied(), bytes.last().copied());
    let mixed = bytes
        .len()
        .wrapping_mul(31)
        .wrapping_add(usize::from(first.unwrap_or(0)) * 7)
        .wrapping_add(usize::from(last.unwrap_or(0)));
    1 << (mixed % 64)
}

impl<'a> SeenKeys<'a> {
    /// Records `key`; false if it was already there.
    fn insert(&mut self, key: Cow<'a, str>) -> bool {
        if let Some(many) = &mut self.many {
            return many.insert(key);
        }
        let bit = fingerprint(&key);
        if self.fingerprints & bit != 0 && self.few[..self.count].contains(&key) {
            return false;
        }
        if self.count < FEW_KEYS {
            self.fingerprints |= bit;
            self.few[self.count] = key;
            self.count += 1;
        } else {
            let mut many = HashSet::with_capacity(2 * FEW_KEYS);
            many.extend(self.few.iter_mut().map(std::mem::take));
            many.insert(key);
            self.many = Some(many);
        }
        true
    }
}

/// The header members the verifier reads.
#[derive(Debug, Default)]
pub(crate) struct Header<'a> {
    pub(crate) alg: Option<Cow<'a, str>>,
    pub(crate) kid: Option<Cow<'a, str>>,
    pub(crate) crit: bool,
}

/// The registered claims the verifier and [`crate::VerifiedToken`] read.
#[derive(Debug, Default)]
pub(crate) struct Claims<'a> {
    pub(crate) iss: Option<Cow<'a, str>>,
    pub(crate) sub: Option<Cow<'a, str>>,
    pub(crate) token_use: Option<Cow<'a, str>>,
    pub(crate) client_id: Option<Cow<'a, str>>,
    pub(crate) scope: Option<Cow<'a, str>>,
    pub(crate) username: Option<Cow<'a, str>>,
    pub(crate) cognito_username: Option<Cow<'a, str>>,
    pub(crate) jti: Option<Cow<'a, str>>,
    pub(crate) origin_jti: Option<Cow<'a, str>>,
    pub(crate) email: Option<Cow<'a, str>>,
    pub(crate) exp: Option<f64>,
    pub(crate) nbf: Option<f64>,
    pub(crate) iat: Option<f64>,
    pub(crate) auth_time: Option<f64>,
    pub(crate) aud: Audience<'a>,
    pub(crate) groups: Option<Vec<Cow<'a, str>>>,
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
                "cognito:groups" => claims.groups = Some(map.next_value::<Strings<'de>>()?.0),
                "email" => claims.email = map.next_value::<AnyText<'de>>()?.0,
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(claims)
    }
}

impl<'a> Header<'a> {
    /// Checks 2–3 for the header: a JSON object, unique members, `alg`/`kid` strings.
    pub(crate) fn parse(json: &'a str) -> Result<Self, Error> {
        let mut deserializer = serde_json::Deserializer::from_str(json);
        let header = HeaderSeed
            .deserialize(&mut deserializer)
            .and_then(|header| deserializer.end().map(|()| header))
            .map_err(|_| malformed("header is not a JSON object of unique, well-typed members"))?;
        Ok(header)
    }
}

impl<'a> Claims<'a> {
    /// Checks 2–3 for the payload: a JSON object, unique members, registered claims typed.
    pub(crate) fn parse(json: &'a str) -> Result<Self, Error> {
        let mut deserializer = serde_json::Deserializer::from_str(json);
        ClaimsSeed
            .deserialize(&mut deserializer)
            .and_then(|claims| deserializer.end().map(|()| claims))
            .map_err(|_| malformed("payload is not a JSON object of unique, well-typed members"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_borrow_unless_escaped() {
        let claims = Claims::parse(r#"{"sub":"plain","iss":"esc\u0061ped"}"#).expect("parses");
        assert!(matches!(claims.sub, Some(Cow::Borrowed("plain"))));
        assert_eq!(claims.iss.as_deref(), Some("escaped"));
    }

    #[test]
    fn registered_claims_are_typed_and_user_claims_are_not() {
        let claims = Claims::parse(
            r#"{"exp":1.5e9,"aud":["a","b"],"cognito:groups":["g"],"email":7,"custom:x":{"y":[null]}}"#,
        )
        .expect("parses");
        assert_eq!(claims.exp, Some(1.5e9));
        assert_eq!(claims.aud, Audience::Many(vec!["a".into(), "b".into()]));
        assert_eq!(claims.groups, Some(vec![Cow::Borrowed("g")]));
        assert_eq!(claims.email, None);
        for bad in [
            r#"{"exp":null}"#,
            r#"{"exp":"1"}"#,
            r#"{"exp":1e400}"#,
            r#"{"sub":1}"#,
            r#"{"aud":{}}"#,
            r#"{"aud":[1]}"#,
            r#"{"cognito:groups":"g"}"#,
            r#"{"cognito:groups":[null]}"#,
            r#"{"a":1,"a":1}"#,
            r#"{"exp":1,"ex\u0070":1}"#,
            r#"{} {}"#,
            r#"[]"#,
        ] {
            assert!(Claims::parse(bad).is_err(), "{bad}");
        }
    }

    /// Whatever the one-pass parser accepts, the generic object parser must accept too: the
    /// generic object is what `claim:` policies and typed claims read.
    #[test]
    fn unread_members_get_the_same_checks_as_a_generic_parse() {
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let cases = [
            r#"{"custom:x":1e999}"#.to_owned(),
            r#"{"custom:x":[-1e400]}"#.to_owned(),
            r#"{"custom:x":{"y":"\ud800"}}"#.to_owned(),
            format!(r#"{{"custom:x":{deep}}}"#),
            r#"{"email":[1e999]}"#.to_owned(),
        ];
        for json in &cases {
            assert!(
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json).is_err(),
                "generic parse rejects {json:.40}"
            );
            assert!(
                Claims::parse(json).is_err(),
                "claims parse rejects {json:.40}"
            );
            assert!(
                Header::parse(json).is_err(),
                "header parse rejects {json:.40}"
            );
        }
        let fine = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        let json = format!(r#"{{"custom:x":{fine},"n":1e300,"s":"\u00e9"}}"#);
        assert!(Claims::parse(&json).is_ok());
        assert!(serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&json).is_ok());
    }

    #[test]
    fn many_members_are_still_checked_for_duplicates() {
        let mut json: String = (0..100).map(|i| format!("\"k{i}\":{i},")).collect();
        json.insert(0, '{');
        json.push_str("\"k50\":0}");
        assert!(Claims::parse(&json).is_err());
        assert!(Header::parse(&json).is_err());
    }

    #[test]
    fn duplicates_are_found_on_either_side_of_the_move_to_a_set() {
        // (members before the repeat, which member is repeated)
        for (members, repeated) in [
            (1, 0),
            (23, 0),
            (24, 0),
            (24, 23),
            (25, 0),
            (25, 24),
            (26, 25),
            (60, 3),
        ] {
            let mut json: String = (0..members).map(|i| format!("\"k{i}\":{i},")).collect();
            json.insert(0, '{');
            let unique = format!("{json}\"last\":0}}");
            assert!(Claims::parse(&unique).is_ok(), "{members} unique members");
            let repeated = format!("{json}\"k{repeated}\":0}}");
            assert!(Claims::parse(&repeated).is_err(), "{repeated}");
            assert!(Header::parse(&repeated).is_err(), "{repeated}");
        }
    }

    #[test]
    fn names_alike_at_their_ends_are_told_apart() {
        // Same length and end bytes: the same fingerprint, so the names themselves decide.
        assert_eq!(fingerprint("axb"), fingerprint("ayb"));
        assert!(Claims::parse(r#"{"axb":1,"ayb":2}"#).is_ok());
        assert!(Claims::parse(r#"{"axb":1,"ayb":2,"axb":3}"#).is_err());
        assert!(Claims::parse(r#"{"":1,"x":2}"#).is_ok());
        assert!(Claims::parse(r#"{"":1,"":2}"#).is_err());
    }

    #[test]
    fn header_reads_alg_kid_and_crit() {
        let header =
            Header::parse(r#"{"alg":"RS256","kid":"k","crit":[],"typ":"JWT"}"#).expect("parses");
        assert_eq!(header.alg.as_deref(), Some("RS256"));
        assert_eq!(header.kid.as_deref(), Some("k"));
        assert!(header.crit);
        assert!(Header::parse(r#"{"kid":null}"#).is_err());
        assert!(Header::parse(r#"{"alg":"RS256","alg":"none"}"#).is_err());
    }
}
