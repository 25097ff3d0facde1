//! Strict compact-JWS parsing (the token's shape and its claims' types: checks 2 and 3 of
//! `docs/verification.md`).
//!
//! Stricter than common verifiers on purpose: padding or non-canonical base64url, duplicate
//! top-level members and registered claims of the wrong type are all `malformed_token`, so two
//! parsers can never read the same token differently.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind};

/// A token split and its segments decoded; JSON not parsed yet.
#[derive(Debug)]
pub(crate) struct Segments<'a> {
    pub(crate) header_json: String,
    pub(crate) payload_json: String,
    pub(crate) signing_input: &'a [u8],
    pub(crate) signature: Vec<u8>,
}

/// A token split, decoded and parsed into generic JSON objects (for `decode`), not verified.
#[derive(Debug)]
pub(crate) struct ParsedToken {
    pub(crate) header: Map<String, Value>,
    pub(crate) payload: Map<String, Value>,
}

const fn malformed(detail: &'static str) -> Error {
    Error::new(ErrorKind::MalformedToken, detail)
}

/// The lengths of the signatures of RSA keys of 2048, 3072 and 4096 bits in base64url: where
/// the last dot of most tokens stands, counted from the end.
const COMMON_SIGNATURE_LENGTHS: [usize; 3] = [342, 512, 683];

/// Check 2, structure: three non-empty canonical base64url segments; header and payload UTF-8.
pub(crate) fn split(token: &str) -> Result<Segments<'_>, Error> {
    // Most signatures have one of a few lengths, so the last dot is looked for where they put
    // it before the signature is searched for one. The guess is kept only when all three
    // segments decode, and then it is the answer of the search: the first dot is the first,
    // and decoded segments hold no dot, so there are exactly two.
    let bytes = token.as_bytes();
    let guess = COMMON_SIGNATURE_LENGTHS.iter().find_map(|&length| {
        let last = bytes.len().checked_sub(length + 1)?;
        (bytes.get(last) == Some(&b'.')).then_some(last)
    });
    if let (Some(last), Some(first)) = (guess, token.find('.')) {
        if first < last {
            if let Ok(segments) = segments_at(token, first, last) {
                return Ok(segments);
            }
        }
    }
    split_searching(token)
}

/// The segments of `token` cut at the dots at `first` and `last`, decoded.
fn segments_at(token: &str, first: usize, last: usize) -> Result<Segments<'_>, Error> {
    let (header, payload, signature) =
        (&token[..first], &token[first + 1..last], &token[last + 1..]);
    if header.is_empty() || payload.is_empty() || signature.is_empty() {
        return Err(malformed("empty segment"));
    }
    let header_json =
        String::from_utf8(decode_segment(header)?).map_err(|_| malformed("header is not UTF-8"))?;
    let payload_json = String::from_utf8(decode_segment(payload)?)
        .map_err(|_| malformed("payload is not UTF-8"))?;
    let signature = decode_segment(signature)?;
    Ok(Segments {
        header_json,
        payload_json,
        // Everything before the last '.' is what was signed.
        signing_input: &token.as_bytes()[..last],
        signature,
    })
}

/// [`split`] without a guess: the first and the last dot searched for.
fn split_searching(token: &str) -> Result<Segments<'_>, Error> {
    const NOT_THREE: Error = malformed("token is not three dot-separated segments");
    // The header is found from the front and the signature from the back, so the payload (the
    // longest part) is not scanned for dots: a dot in it fails its base64url decoding, which
    // then reports the token as not three segments.
    let (Some(first), Some(last)) = (token.find('.'), token.rfind('.')) else {
        return Err(NOT_THREE);
    };
    if first == last {
        return Err(NOT_THREE);
    }
    // Any failure is reported as "not three segments" when the payload holds a dot, exactly
    // as if the token had been split at every dot first.
    segments_at(token, first, last).map_err(|error| {
        if token[first + 1..last].contains('.') {
            NOT_THREE
        } else {
            error
        }
    })
}

/// Check 2 in full, into generic objects: the segments, then header and payload as JSON objects
/// without duplicate top-level members.
pub(crate) fn parse(token: &str) -> Result<ParsedToken, Error> {
    let segments = split(token)?;
    let header = parse_object(segments.header_json.as_bytes())
        .map_err(|()| malformed("header is not a JSON object without duplicate members"))?;
    let payload = parse_object(segments.payload_json.as_bytes())
        .map_err(|()| malformed("payload is not a JSON object without duplicate members"))?;
    Ok(ParsedToken { header, payload })
}

/// A JSON object: a token's header or payload.
pub type JsonObject = Map<String, Value>;

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
/// let (header, payload) = cognito_authz_core::dangerous::decode_unverified("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln").unwrap();
/// assert_eq!(header["alg"], "RS256");
/// assert_eq!(payload["sub"], "a");
/// ```
pub fn decode_unverified(token: &str) -> Result<(JsonObject, JsonObject), Error> {
    let parsed = parse(token)?;
    Ok((parsed.header, parsed.payload))
}

/// Decodes one segment: base64url alphabet only, no padding, no non-zero trailing bits.
///
/// The buffer is allocated at the exact decoded length, so the payload text is kept as
/// decoded, never reallocated. Decoding uses the CPU's vector instructions where it has them;
/// a test holds it to the `base64` crate's strict decoding, bytes and errors alike.
pub(crate) fn decode_segment(segment: &str) -> Result<Vec<u8>, Error> {
    base64_simd::URL_SAFE_NO_PAD
        .decode_to_vec(segment)
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

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn b64(text: &str) -> String {
        URL_SAFE_NO_PAD.encode(text)
    }

    /// `decode_segment` answers `segment` as the base64 crate's strict decoding does: the same
    /// bytes, or an error where it errs.
    fn decodes_as_the_base64_crate(
        segment: &str,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let ours = decode_segment(segment).map_err(|error| error.detail());
        let theirs = URL_SAFE_NO_PAD
            .decode(segment)
            .map_err(|_| "segment is not canonical unpadded base64url");
        proptest::prop_assert_eq!(ours, theirs, "{}", segment);
        Ok(())
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), b64("sig"))
    }

    /// Splitting at every dot first, then checking the segments in order: what `split` must
    /// answer, error text included.
    fn split_everywhere(token: &str) -> Result<(String, String, Vec<u8>), &'static str> {
        let parts: Vec<&str> = token.split('.').collect();
        let [header, payload, signature] = parts[..] else {
            return Err("token is not three dot-separated segments");
        };
        if header.is_empty() || payload.is_empty() || signature.is_empty() {
            return Err("empty segment");
        }
        let decode = |segment| decode_segment(segment).map_err(|error| error.detail());
        let header = String::from_utf8(decode(header)?).map_err(|_| "header is not UTF-8")?;
        let payload = String::from_utf8(decode(payload)?).map_err(|_| "payload is not UTF-8")?;
        Ok((header, payload, decode(signature)?))
    }

    #[test]
    fn splitting_from_both_ends_answers_as_splitting_at_every_dot() {
        const ALPHABET: &[u8] = b".eyJ9A_-=";
        let mut text = Vec::new();
        for length in 0..=6_u32 {
            for mut code in 0..ALPHABET.len().pow(length) {
                text.clear();
                for _ in 0..length {
                    text.push(ALPHABET[code % ALPHABET.len()]);
                    code /= ALPHABET.len();
                }
                let token = std::str::from_utf8(&text).expect("ASCII");
                let fast = split(token)
                    .map(|s| (s.header_json, s.payload_json, s.signature))
                    .map_err(|error| error.detail());
                assert_eq!(fast, split_everywhere(token), "{token}");
            }
        }
        let real = token(r#"{"alg":"RS256"}"#, r#"{"sub":"a"}"#);
        assert!(split(&real).is_ok());
        assert_eq!(
            split(&format!("{real}.x"))
                .map(|_| ())
                .map_err(|e| e.detail()),
            Err("token is not three dot-separated segments")
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// Tokens whose signature has one of the lengths the last dot is guessed by, or one
        /// more or less, with faults anywhere (dots, padding, other bytes): `split` answers as
        /// splitting at every dot, and signs everything before the last dot.
        #[test]
        fn guessing_where_the_last_dot_stands_answers_as_splitting_at_every_dot(
            header in "[a-z{}\":]{0,40}",
            payload in "[a-z{}\":.]{0,60}",
            signature_bytes in proptest::prelude::prop_oneof![
                proptest::prelude::Just(255_usize), proptest::prelude::Just(256),
                proptest::prelude::Just(257), proptest::prelude::Just(383),
                proptest::prelude::Just(384), proptest::prelude::Just(385),
                proptest::prelude::Just(511), proptest::prelude::Just(512),
                proptest::prelude::Just(513),
            ],
            seed in proptest::prelude::any::<u8>(),
            faults in proptest::collection::vec(
                (
                    proptest::prelude::any::<proptest::sample::Index>(),
                    proptest::prelude::prop_oneof![
                        proptest::prelude::Just('.'), proptest::prelude::Just('='),
                        proptest::prelude::Just('+'), proptest::prelude::Just('A'),
                        proptest::prelude::Just('_'), proptest::prelude::Just('é'),
                    ],
                    proptest::prelude::any::<bool>(),
                ),
                0..3,
            ),
        ) {
            let signature: Vec<u8> = (0..signature_bytes).map(|at| seed.wrapping_add(at as u8)).collect();
            let token = format!("{}.{}.{}", b64(&header), b64(&payload), URL_SAFE_NO_PAD.encode(&signature));
            let mut token: Vec<char> = token.chars().collect();
            // Each fault replaces a character, or is put in before it.
            for (at, fault, replace) in faults {
                let index = at.index(token.len());
                if replace {
                    token[index] = fault;
                } else {
                    token.insert(index, fault);
                }
            }
            let token: String = token.into_iter().collect();
            let fast = split(&token);
            if let Ok(segments) = &fast {
                let last = token.rfind('.').expect("a dot");
                proptest::prop_assert_eq!(segments.signing_input, &token.as_bytes()[..last]);
            }
            let fast = fast
                .map(|s| (s.header_json, s.payload_json, s.signature))
                .map_err(|error| error.detail());
            proptest::prop_assert_eq!(fast, split_everywhere(&token), "{}", token);
        }

        /// Headers and signatures of any length decode to their bytes.
        #[test]
        fn segments_of_any_length_split_to_their_bytes(
            header in "[a-z{}\":]{1,400}",
            signature in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..700),
        ) {
            let token = format!("{}.{}.{}", b64(&header), b64("{}"), URL_SAFE_NO_PAD.encode(&signature));
            let segments = split(&token).expect("splits");
            proptest::prop_assert_eq!(segments.header_json, header);
            proptest::prop_assert_eq!(segments.signature, signature);
        }

        /// Exactly sized decoding answers as the base64 crate's own decoding, bytes and all.
        #[test]
        fn segments_decode_as_the_base64_crate_does(
            segment in "[A-Za-z0-9_=+/.-]{0,70}",
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..70),
        ) {
            for segment in [segment, b64(&String::from_utf8_lossy(&bytes)), URL_SAFE_NO_PAD.encode(&bytes)] {
                decodes_as_the_base64_crate(&segment)?;
            }
        }

        /// Long segments, which decode in vector-sized blocks, answer as the base64 crate too
        /// with one character replaced anywhere (in a block or in the tail) or one appended.
        #[test]
        fn long_segments_with_one_fault_anywhere_decode_as_the_base64_crate_does(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1_200),
            at in proptest::prelude::any::<proptest::sample::Index>(),
            fault in proptest::prelude::prop_oneof![
                proptest::prelude::Just('='), proptest::prelude::Just('+'),
                proptest::prelude::Just('/'), proptest::prelude::Just('.'),
                proptest::prelude::Just(' '), proptest::prelude::Just('\n'),
                proptest::prelude::Just('\0'), proptest::prelude::Just('\u{7f}'),
                proptest::prelude::Just('é'), proptest::prelude::Just('\u{ff}'),
                proptest::prelude::Just('A'), proptest::prelude::Just('_'),
                proptest::prelude::Just('-'), proptest::prelude::Just('z'),
                proptest::prelude::any::<char>(),
            ],
        ) {
            let valid = URL_SAFE_NO_PAD.encode(&bytes);
            let mut replaced: Vec<char> = valid.chars().collect();
            if !replaced.is_empty() {
                let index = at.index(replaced.len());
                replaced[index] = fault;
            }
            let replaced: String = replaced.into_iter().collect();
            for segment in [valid.clone(), replaced, format!("{valid}{fault}")] {
                decodes_as_the_base64_crate(&segment)?;
            }
        }
    }

    /// The decoder picks its code by the CPU it runs on (AVX2, SSE4.1, or scalar on x86-64;
    /// NEON on ARM), and the machines the tests usually run on have AVX2. So the three
    /// decoding proptests above run again in this test binary under qemu's user-mode x86-64
    /// emulation, as a CPU without AVX2 (`Nehalem`: the SSE4.1 code) and one without SSE4.1
    /// (`qemu64`: the scalar code).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_decoding_proptests_pass_on_cpus_without_avx2_or_sse41() {
        const PROPTESTS: [&str; 3] = [
            "verify::jwt::tests::segments_of_any_length_split_to_their_bytes",
            "verify::jwt::tests::segments_decode_as_the_base64_crate_does",
            "verify::jwt::tests::long_segments_with_one_fault_anywhere_decode_as_the_base64_crate_does",
        ];
        let this = std::env::current_exe().expect("the test binary's path");
        for cpu in ["Nehalem", "qemu64"] {
            let output = std::process::Command::new("qemu-x86_64")
                .args(["-cpu", cpu])
                .arg(&this)
                .args(["--exact", "--test-threads", "1"])
                .args(PROPTESTS)
                .output()
                .unwrap_or_else(|error| {
                    panic!(
                        "cannot run qemu-x86_64 ({error}): install it with \
                         `apt-get install qemu-user` (scripts/test.sh does)"
                    )
                });
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success() && stdout.contains("test result: ok. 3 passed"),
                "as a {cpu} CPU: {stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }

    #[test]
    fn well_formed_token_parses() {
        let raw = token(r#"{"alg":"RS256","kid":"k"}"#, r#"{"sub":"a"}"#);
        let parsed = parse(&raw).expect("parses");
        assert_eq!(parsed.header["kid"], "k");
        assert_eq!(parsed.payload["sub"], "a");
        let segments = split(&raw).expect("splits");
        assert_eq!(segments.signature, b"sig");
        assert_eq!(
            segments.signing_input,
            &raw.as_bytes()[..raw.rfind('.').expect("dot")]
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
}
