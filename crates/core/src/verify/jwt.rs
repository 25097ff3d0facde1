//! Strict compact-JWS parsing (the token's shape and its claims' types: checks 2 and 3 of
//! `docs/verification.md`).
//!
//! Stricter than common verifiers on purpose: padding or non-canonical base64url, duplicate
//! top-level members and registered claims of the wrong type are all `malformed_token`, so two
//! parsers can never read the same token differently.

use std::borrow::Cow;
use std::fmt;

use base64_simd::AsOut as _;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind};

/// A token split and its segments decoded; JSON not parsed yet.
#[derive(Debug)]
pub(crate) struct Segments<'a> {
    /// In the caller's [`SegmentBuffers`] when it fits there.
    pub(crate) header_json: Cow<'a, str>,
    pub(crate) payload_json: String,
    pub(crate) signing_input: &'a [u8],
    /// In the caller's [`SegmentBuffers`] when it fits there.
    pub(crate) signature: Cow<'a, [u8]>,
}

/// Room for the decoded header: Cognito's and most others are well under 128 bytes.
const HEADER_ROOM: usize = 128;

/// Room for the decoded signature: an RSA-2048 one (342 base64url characters; the decoder
/// asks for room by the characters' count, which for 342 is two bytes more than the 256).
const SIGNATURE_ROOM: usize = base64_simd::URL_SAFE_NO_PAD.estimated_decoded_length(342);

/// Room on the verifier's stack for the segments it reads and then drops (the header and the
/// signature), so the common token decodes them without allocating; longer ones, and tokens
/// whose last dot is not where a common signature length puts it, decode to the heap.
#[derive(Debug)]
pub(crate) struct SegmentBuffers {
    header: [u8; HEADER_ROOM],
    signature: [u8; SIGNATURE_ROOM],
}

impl SegmentBuffers {
    pub(crate) const fn new() -> Self {
        Self {
            header: [0; HEADER_ROOM],
            signature: [0; SIGNATURE_ROOM],
        }
    }
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
pub(crate) fn split<'a>(
    token: &'a str,
    buffers: &'a mut SegmentBuffers,
) -> Result<Segments<'a>, Error> {
    // Most signatures have one of a few lengths, so the last dot is looked for where they put
    // it before the signature is searched for one. The guess is kept only when all three
    // segments decode, and then it is the answer of the search: the first dot is the first,
    // and decoded segments hold no dot, so there are exactly two.
    let bytes = token.as_bytes();
    let guess = COMMON_SIGNATURE_LENGTHS.iter().find_map(|&length| {
        let last = bytes.len().checked_sub(length + 1)?;
        (bytes.get(last) == Some(&b'.')).then_some(last)
    });
    if let (Some(last), Some(first)) = (guess, token.find('.'))
        && first < last
        && let Ok(segments) = segments_at(token, first, last, Some(buffers))
    {
        return Ok(segments);
    }
    split_searching(token)
}

/// The segments of `token` cut at the dots at `first` and `last`, decoded (the header and the
/// signature into `buffers` where they fit).
fn segments_at<'a>(
    token: &'a str,
    first: usize,
    last: usize,
    buffers: Option<&'a mut SegmentBuffers>,
) -> Result<Segments<'a>, Error> {
    let (header, payload, signature) =
        (&token[..first], &token[first + 1..last], &token[last + 1..]);
    if header.is_empty() || payload.is_empty() || signature.is_empty() {
        return Err(malformed("empty segment"));
    }
    let (header_room, signature_room) = match buffers {
        Some(buffers) => (
            Some(&mut buffers.header[..]),
            Some(&mut buffers.signature[..]),
        ),
        None => (None, None),
    };
    let not_utf8 = || malformed("header is not UTF-8");
    let header_json = match decode_segment_into(header, header_room)? {
        Cow::Borrowed(bytes) => Cow::Borrowed(std::str::from_utf8(bytes).map_err(|_| not_utf8())?),
        Cow::Owned(bytes) => Cow::Owned(String::from_utf8(bytes).map_err(|_| not_utf8())?),
    };
    let payload_json = String::from_utf8(decode_segment(payload)?)
        .map_err(|_| malformed("payload is not UTF-8"))?;
    let signature = decode_segment_into(signature, signature_room)?;
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
    segments_at(token, first, last, None).map_err(|error| {
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
    let mut buffers = SegmentBuffers::new();
    let segments = split(token, &mut buffers)?;
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

/// A segment's decoding failed, whichever way it was decoded.
const NOT_BASE64URL: Error = malformed("segment is not canonical unpadded base64url");

/// Decodes one segment: base64url alphabet only, no padding, no non-zero trailing bits.
///
/// The buffer is allocated at the exact decoded length, so the payload text is kept as
/// decoded, never reallocated. Decoding uses the CPU's vector instructions where it has them;
/// a test holds it to the `base64` crate's strict decoding, bytes and errors alike.
pub(crate) fn decode_segment(segment: &str) -> Result<Vec<u8>, Error> {
    base64_simd::URL_SAFE_NO_PAD
        .decode_to_vec(segment)
        .map_err(|_| NOT_BASE64URL)
}

/// [`decode_segment`] into `room` when the segment surely fits there, else to the heap; the
/// same bytes or the same error either way.
fn decode_segment_into<'b>(
    segment: &str,
    room: Option<&'b mut [u8]>,
) -> Result<Cow<'b, [u8]>, Error> {
    let engine = base64_simd::URL_SAFE_NO_PAD;
    match room {
        Some(room) if engine.estimated_decoded_length(segment.len()) <= room.len() => engine
            .decode(segment.as_bytes(), room.as_out())
            .map(|decoded| Cow::Borrowed(&*decoded))
            .map_err(|_| NOT_BASE64URL),
        _ => decode_segment(segment).map(Cow::Owned),
    }
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
        proptest::prop_assert_eq!(&ours, &theirs, "{}", segment);
        // Into a buffer: one of just the room asked for, a roomy one, and one too small.
        let asked = base64_simd::URL_SAFE_NO_PAD.estimated_decoded_length(segment.len());
        for room in [asked, asked + 64, asked.saturating_sub(1)] {
            let mut buffer = vec![0_u8; room];
            let into = decode_segment_into(segment, Some(&mut buffer))
                .map(Cow::into_owned)
                .map_err(|error| error.detail());
            proptest::prop_assert_eq!(&into, &theirs, "{} into {} bytes", segment, room);
        }
        Ok(())
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), b64("sig"))
    }

    /// `split`'s answer, owned: the header and payload text and the signature, or the error.
    fn split_owned(token: &str) -> Result<(String, String, Vec<u8>), &'static str> {
        split(token, &mut SegmentBuffers::new())
            .map(|s| {
                (
                    s.header_json.into_owned(),
                    s.payload_json,
                    s.signature.into_owned(),
                )
            })
            .map_err(|error| error.detail())
    }

    /// A common token's header and signature decode into the buffers, not to the heap; a
    /// header too long for its buffer, or a signature of another length, to the heap.
    #[test]
    fn common_tokens_decode_header_and_signature_into_the_buffers() {
        let signature = URL_SAFE_NO_PAD.encode([7_u8; 256]);
        let common = format!(
            "{}.{}.{signature}",
            b64(r#"{"alg":"RS256","kid":"k"}"#),
            b64("{}")
        );
        let mut buffers = SegmentBuffers::new();
        let segments = split(&common, &mut buffers).expect("splits");
        assert!(matches!(
            segments.header_json,
            Cow::Borrowed(r#"{"alg":"RS256","kid":"k"}"#)
        ));
        assert!(matches!(&segments.signature, Cow::Borrowed(bytes) if *bytes == [7_u8; 256]));
        let long_header = format!(r#"{{"alg":"RS256","kid":"{}"}}"#, "k".repeat(200));
        let long = format!("{}.{}.{signature}", b64(&long_header), b64("{}"));
        let segments = split(&long, &mut buffers).expect("splits");
        assert!(matches!(&segments.header_json, Cow::Owned(text) if *text == long_header));
        assert!(matches!(segments.signature, Cow::Borrowed(_)));
        let other = format!(
            "{}.{}.{}",
            b64("{}"),
            b64("{}"),
            URL_SAFE_NO_PAD.encode([7_u8; 255])
        );
        let segments = split(&other, &mut buffers).expect("splits");
        assert!(matches!(segments.signature, Cow::Owned(_)));
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
                let fast = split_owned(token);
                assert_eq!(fast, split_everywhere(token), "{token}");
            }
        }
        let real = token(r#"{"alg":"RS256"}"#, r#"{"sub":"a"}"#);
        assert!(split_owned(&real).is_ok());
        assert_eq!(
            split_owned(&format!("{real}.x")).map(|_| ()),
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
            if let Ok(segments) = split(&token, &mut SegmentBuffers::new()) {
                let last = token.rfind('.').expect("a dot");
                proptest::prop_assert_eq!(segments.signing_input, &token.as_bytes()[..last]);
            }
            proptest::prop_assert_eq!(split_owned(&token), split_everywhere(&token), "{}", token);
        }

        /// Headers and signatures of any length decode to their bytes.
        #[test]
        fn segments_of_any_length_split_to_their_bytes(
            header in "[a-z{}\":]{1,400}",
            signature in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..700),
        ) {
            let token = format!("{}.{}.{}", b64(&header), b64("{}"), URL_SAFE_NO_PAD.encode(&signature));
            let (header_json, _, decoded_signature) = split_owned(&token).expect("splits");
            proptest::prop_assert_eq!(header_json, header);
            proptest::prop_assert_eq!(decoded_signature, signature);
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
        let mut buffers = SegmentBuffers::new();
        let segments = split(&raw, &mut buffers).expect("splits");
        assert_eq!(&*segments.signature, b"sig");
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
