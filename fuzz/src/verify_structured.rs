//! Target `verify_structured`: header and payload JSON built from an [`arbitrary`] description,
//! signed with the fixed key, then maybe tampered with.

use std::fmt::Write as _;

use arbitrary::{Arbitrary, Unstructured};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cognito_authz_core::Algorithm;
use cognito_authz_testkit::base64url;

use crate::fixture::{CLIENT_ID, ISS, KID, NOW_SECS, sign, sign_with, verifiers};
use crate::oracle::{MayAccept, check_token, complete};

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
pub(crate) struct Members {
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

    pub(crate) fn render(&self, layout: Layout) -> String {
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

pub(crate) fn render_object(
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
pub(crate) fn build(spec: &TokenSpec) -> (String, Option<String>, bool) {
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

#[cfg(test)]
mod tests {
    use serde_json::Value;

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
}
