//! One-pass typed parsing of what the verifier reads: the header's `alg`, `kid` and `crit`, and
//! the registered claims whose types the verifier checks (`docs/verification.md`).
//!
//! Checks 2 and 3 both answer `malformed_token`, so one pass can do both: it rejects duplicate
//! top-level members and wrong claim types while reading, borrows strings from the decoded JSON
//! where no unescaping is needed, and skips the user's own claims without building them. The
//! generic JSON object (for `claim:` policies and typed claims) is built later, only if asked.
//!
//! The reading is done by a JSON reader of its own (`reader`) that accepts exactly the
//! documents serde_json accepts as a generic object, so whatever verifies can be read that way
//! later; the tests hold the serde_json reading it replaced as an oracle (`oracle`) and compare
//! the two on generated and mutated documents.

#[cfg(test)]
mod oracle;
mod reader;

use std::borrow::Cow;
use std::collections::HashSet;

use self::reader::{Invalid, Reader};
use crate::error::{Error, ErrorKind};

const fn malformed(detail: &'static str) -> Error {
    Error::new(ErrorKind::MalformedToken, detail)
}

/// `aud`: absent, one string, or (generic OIDC issuers only) an array of strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Audience<'a> {
    #[default]
    Absent,
    One(Cow<'a, str>),
    Many(Vec<Cow<'a, str>>),
}

/// How many strings of an array [`StringList`] keeps in place.
const FEW_STRINGS: usize = 4;

/// The strings of a JSON array (`cognito:groups`): the first few kept in place, as a token's
/// groups usually are, so reading them allocates nothing; all of them in a list beyond.
#[derive(Clone)]
pub(crate) struct StringList<'a> {
    few: [Cow<'a, str>; FEW_STRINGS],
    count: usize,
    /// Every string once there are more than [`FEW_STRINGS`] (`few` is then left empty).
    many: Vec<Cow<'a, str>>,
}

impl Default for StringList<'_> {
    fn default() -> Self {
        Self {
            few: std::array::from_fn(|_| Cow::Borrowed("")),
            count: 0,
            many: Vec::new(),
        }
    }
}

impl<'a> StringList<'a> {
    /// Appends `item`.
    pub(crate) fn push(&mut self, item: Cow<'a, str>) {
        if self.many.is_empty() {
            if let Some(slot) = self.few.get_mut(self.count) {
                *slot = item;
                self.count += 1;
                return;
            }
            self.many.reserve(2 * FEW_STRINGS);
            self.many.extend(self.few.iter_mut().map(std::mem::take));
        }
        self.many.push(item);
    }

    /// The strings, in order.
    pub(crate) fn as_slice(&self) -> &[Cow<'a, str>] {
        if self.many.is_empty() {
            self.few.get(..self.count).unwrap_or_default()
        } else {
            &self.many
        }
    }
}

impl<'a> FromIterator<Cow<'a, str>> for StringList<'a> {
    fn from_iter<I: IntoIterator<Item = Cow<'a, str>>>(items: I) -> Self {
        let mut list = Self::default();
        for item in items {
            list.push(item);
        }
        list
    }
}

impl std::fmt::Debug for StringList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl PartialEq for StringList<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

/// Which of the members read by name were seen already, one bit each (a name read by name
/// can never equal another, so only the other names need [`SeenKeys`]).
#[derive(Debug, Default)]
struct Known(u32);

impl Known {
    /// Records member `bit`; an error if it was seen before.
    fn first(&mut self, bit: u32) -> Result<(), Invalid> {
        let mask = 1 << bit;
        if self.0 & mask != 0 {
            return Err(Invalid);
        }
        self.0 |= mask;
        Ok(())
    }
}

/// How many member names are kept in a plain list before they move to a set.
const FEW_KEYS: usize = 24;

/// Top-level member names seen so far: a short list on the stack (a Cognito payload has about
/// twenty members, so the common token allocates nothing here), a set once the object is large
/// (so a hostile object of thousands of members stays linear).
struct SeenKeys<'a> {
    /// The names read without unescaping, as borrowed from the text: plain references, so the
    /// list costs nothing to set up (all `None`) or to drop.
    borrowed: [Option<&'a str>; FEW_KEYS],
    borrowed_count: usize,
    /// The names that had escapes (rare: a list of its own, allocated only when one comes).
    unescaped: Vec<String>,
    /// One bit per fingerprint of the names in the two lists: a name whose bit is clear is
    /// new, and most names are told apart without comparing strings.
    fingerprints: u64,
    many: Option<HashSet<Cow<'a, str>>>,
}

impl Default for SeenKeys<'_> {
    fn default() -> Self {
        Self {
            borrowed: [None; FEW_KEYS],
            borrowed_count: 0,
            unescaped: Vec::new(),
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
    /// Records `key`; an error if it was seen before.
    fn first(&mut self, key: Cow<'a, str>) -> Result<(), Invalid> {
        if self.insert(key) {
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// Records `key`; false if it was already there.
    fn insert(&mut self, key: Cow<'a, str>) -> bool {
        if let Some(many) = &mut self.many {
            return many.insert(key);
        }
        let bit = fingerprint(&key);
        if self.fingerprints & bit != 0 && self.contains(&key) {
            return false;
        }
        if self.borrowed_count + self.unescaped.len() < FEW_KEYS {
            self.fingerprints |= bit;
            match key {
                Cow::Borrowed(name) => {
                    if let Some(slot) = self.borrowed.get_mut(self.borrowed_count) {
                        *slot = Some(name);
                        self.borrowed_count += 1;
                    }
                }
                Cow::Owned(name) => self.unescaped.push(name),
            }
        } else {
            let mut many = HashSet::with_capacity(2 * FEW_KEYS);
            many.extend(
                self.borrowed
                    .iter()
                    .flatten()
                    .map(|name| Cow::Borrowed(*name)),
            );
            many.extend(self.unescaped.drain(..).map(Cow::Owned));
            many.insert(key);
            self.many = Some(many);
        }
        true
    }

    /// Whether `key` is in the short lists.
    fn contains(&self, key: &str) -> bool {
        let borrowed = self.borrowed.get(..self.borrowed_count).unwrap_or_default();
        borrowed.iter().flatten().any(|name| *name == key)
            || self.unescaped.iter().any(|name| name == key)
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
    pub(crate) groups: Option<StringList<'a>>,
}

impl<'a> Header<'a> {
    /// Checks 2–3 for the header: a JSON object, unique members, `alg`/`kid` strings.
    pub(crate) fn parse(json: &'a str) -> Result<Self, Error> {
        Self::read(json).map_err(|Invalid| {
            malformed("header is not a JSON object of unique, well-typed members")
        })
    }

    fn read(json: &'a str) -> Result<Self, Invalid> {
        let mut reader = Reader::new(json);
        let mut header = Header::default();
        // A header seldom has members the verifier does not read: the list of their names
        // is set up at the first one.
        let (mut known, mut others) = (Known::default(), None::<SeenKeys<'a>>);
        let mut first = true;
        reader.object()?;
        while let Some(name) = reader.member(&mut first)? {
            match name.as_ref() {
                "alg" => header.alg = Some(known.first(0).and_then(|()| reader.string())?),
                "kid" => header.kid = Some(known.first(1).and_then(|()| reader.string())?),
                "crit" => {
                    known.first(2).and_then(|()| reader.skip())?;
                    header.crit = true;
                }
                _ => others
                    .get_or_insert_with(SeenKeys::default)
                    .first(name)
                    .and_then(|()| reader.skip())?,
            }
        }
        reader.end()?;
        Ok(header)
    }
}

impl<'a> Claims<'a> {
    /// Checks 2–3 for the payload: a JSON object, unique members, registered claims typed.
    pub(crate) fn parse(json: &'a str) -> Result<Self, Error> {
        Self::read(json).map_err(|Invalid| {
            malformed("payload is not a JSON object of unique, well-typed members")
        })
    }

    fn read(json: &'a str) -> Result<Self, Invalid> {
        let mut reader = Reader::new(json);
        let mut claims = Claims::default();
        let (mut known, mut others) = (Known::default(), SeenKeys::default());
        let mut first = true;
        reader.object()?;
        while let Some(name) = reader.member(&mut first)? {
            // Each member read by name has its own bit in `known`; the others are checked
            // for repeats by name.
            let mut text = |bit| known.first(bit).and_then(|()| reader.string()).map(Some);
            match name.as_ref() {
                "iss" => claims.iss = text(0)?,
                "sub" => claims.sub = text(1)?,
                "token_use" => claims.token_use = text(2)?,
                "client_id" => claims.client_id = text(3)?,
                "scope" => claims.scope = text(4)?,
                "username" => claims.username = text(5)?,
                "cognito:username" => claims.cognito_username = text(6)?,
                "jti" => claims.jti = text(7)?,
                "origin_jti" => claims.origin_jti = text(8)?,
                "exp" => claims.exp = Some(known.first(9).and_then(|()| reader.number())?),
                "nbf" => claims.nbf = Some(known.first(10).and_then(|()| reader.number())?),
                "iat" => claims.iat = Some(known.first(11).and_then(|()| reader.number())?),
                "auth_time" => {
                    claims.auth_time = Some(known.first(12).and_then(|()| reader.number())?);
                }
                "aud" => claims.aud = known.first(13).and_then(|()| audience(&mut reader))?,
                "cognito:groups" => {
                    known.first(14).and_then(|()| reader.array())?;
                    let mut groups = StringList::default();
                    strings(&mut reader, |group| groups.push(group))?;
                    claims.groups = Some(groups);
                }
                "email" => claims.email = known.first(15).and_then(|()| reader.string_or_skip())?,
                _ => others.first(name).and_then(|()| reader.skip())?,
            }
        }
        reader.end()?;
        Ok(claims)
    }
}

/// `aud`: one string or an array of strings.
fn audience<'a>(reader: &mut Reader<'a>) -> Result<Audience<'a>, Invalid> {
    if reader.is_next(b'[') {
        reader.array()?;
        // Room for a few, as most tokens have (growing from empty costs a second allocation).
        let mut audiences = Vec::with_capacity(4);
        strings(reader, |audience| audiences.push(audience))?;
        Ok(Audience::Many(audiences))
    } else {
        reader.string().map(Audience::One)
    }
}

/// The strings of the array just entered, each handed to `push` in order.
fn strings<'a>(reader: &mut Reader<'a>, mut push: impl FnMut(Cow<'a, str>)) -> Result<(), Invalid> {
    let mut first = true;
    while reader.element(&mut first)? {
        push(reader.string()?);
    }
    Ok(())
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
        assert_eq!(
            claims.groups.as_ref().map(StringList::as_slice),
            Some(&[Cow::Borrowed("g")][..])
        );
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

    /// An object opening with one of serde_json's private member names is refused wherever it
    /// stands (a generic parse reads it as something else in builds with serde_json's
    /// `raw_value` or `arbitrary_precision` feature); the names are ordinary anywhere else.
    #[test]
    fn serde_json_private_names_do_not_open_an_object() {
        for name in [
            "$serde_json::private::RawValue",
            "$serde_json::private::Number",
        ] {
            for json in [
                format!(r#"{{"{name}":"{{}}"}}"#),
                format!(r#"{{"{name}":5}}"#),
                format!(r#"{{"sub":"a","x":{{"{name}":5}}}}"#),
                format!(r#"{{"x":[1,{{"{name}":"1"}}]}}"#),
                format!(r#"{{"email":{{"{name}":"1e999"}}}}"#),
                format!(
                    r#"{{"x":{{"\u0024serde_json::private::{}":5}}}}"#,
                    &name[22..]
                ),
            ] {
                assert!(Claims::parse(&json).is_err(), "{json}");
                assert!(Header::parse(&json).is_err(), "{json}");
            }
            for json in [
                format!(r#"{{"sub":"a","{name}":5}}"#),
                format!(r#"{{"x":{{"y":1,"{name}":5}}}}"#),
                format!(r#"{{"x":"{name}"}}"#),
            ] {
                assert!(Claims::parse(&json).is_ok(), "{json}");
                assert!(Header::parse(&json).is_ok(), "{json}");
            }
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
            // Refused under serde_json's default features; the numbers out of `f64` range are
            // kept (and accepted by both) where the application's serde_json keeps numbers as
            // text.
            let generic =
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json).is_ok();
            assert_eq!(Claims::parse(json).is_ok(), generic, "claims {json:.40}");
            assert_eq!(Header::parse(json).is_ok(), generic, "header {json:.40}");
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
    fn escaped_and_plain_names_are_checked_for_duplicates_together() {
        for json in [
            r#"{"a\u0062":1,"ab":2}"#,
            r#"{"ab":1,"a\u0062":2}"#,
            r#"{"\u0061":1,"\u0061":2}"#,
            r#"{"x":1,"\u0061":1,"y":2,"a":2}"#,
        ] {
            assert!(Claims::parse(json).is_err(), "{json}");
            assert!(Header::parse(json).is_err(), "{json}");
        }
        // Escaped names count toward the move to a set like the others.
        for (members, repeated) in [(23, 0), (23, 22), (24, 5), (30, 29)] {
            let mut json: String = (0..members)
                .map(|i| {
                    if i % 2 == 0 {
                        format!("\"k{i}\":{i},")
                    } else {
                        format!("\"\\u006b{i}\":{i},")
                    }
                })
                .collect();
            json.insert(0, '{');
            assert!(
                Claims::parse(&format!("{json}\"last\":0}}")).is_ok(),
                "{json}"
            );
            let repeated = format!("{json}\"k{repeated}\":0}}");
            assert!(Claims::parse(&repeated).is_err(), "{repeated}");
            assert!(Header::parse(&repeated).is_err(), "{repeated}");
        }
    }

    /// Groups are kept in place up to a few and in a list beyond, in order either way.
    #[test]
    fn groups_of_any_count_read_in_order() {
        for count in 0..=10 {
            let groups: Vec<String> = (0..count).map(|i| format!("g{i}")).collect();
            let json = format!(r#"{{"cognito:groups":{groups:?}}}"#);
            let claims = Claims::parse(&json).expect("parses");
            let read: Vec<&str> = claims
                .groups
                .as_ref()
                .expect("groups")
                .as_slice()
                .iter()
                .map(AsRef::as_ref)
                .collect();
            assert_eq!(read, groups, "{json}");
            let list: StringList<'_> = groups.iter().map(|g| Cow::Borrowed(g.as_str())).collect();
            assert_eq!(list, claims.groups.clone().expect("groups"));
            assert_eq!(format!("{list:?}"), format!("{groups:?}"));
        }
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
