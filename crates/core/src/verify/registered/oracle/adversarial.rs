//! Adversarial comparisons of the hand-written reader with the serde path it replaced and with
//! a generic `serde_json::Value` parse: hand-picked edge values placed in every position the
//! reader treats differently, and generators aimed at numbers, escapes, nesting, member names,
//! separators and whitespace.
//!
//! For every input: the reader and the serde path accept or reject alike, extract the same
//! values (numbers by their bits, strings with whether they were borrowed) and answer the same
//! error; a document whose top-level names are distinct and not read by name is accepted
//! exactly when a generic parse accepts it.

use proptest::prelude::*;

use super::super::{Claims, Header};
use super::{READ_NAMES, assert_same, claims, claims_outcome, header, header_outcome};
use crate::error::{Error, ErrorKind};

/// The errors the serde path answered, word for word.
fn header_error() -> Error {
    Error::new(
        ErrorKind::MalformedToken,
        "header is not a JSON object of unique, well-typed members",
    )
}

fn payload_error() -> Error {
    Error::new(
        ErrorKind::MalformedToken,
        "payload is not a JSON object of unique, well-typed members",
    )
}

fn generic_accepts(json: &str) -> bool {
    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json).is_ok()
}

/// Everything compared for one document: the serde path's outcome, the errors' kind and text,
/// and (for documents whose top-level names are distinct and none is read by name) the
/// generic parse's accept or reject.
fn check(json: &str, names_are_plain_and_distinct: bool) {
    assert_same(json);
    match Claims::parse(json) {
        Ok(_) => assert!(claims(json).is_ok(), "payload accepted: {json:?}"),
        Err(error) => assert_eq!(error, payload_error(), "payload {json:?}"),
    }
    match Header::parse(json) {
        Ok(_) => assert!(header(json).is_ok(), "header accepted: {json:?}"),
        Err(error) => assert_eq!(error, header_error(), "header {json:?}"),
    }
    if names_are_plain_and_distinct {
        let generic = generic_accepts(json);
        assert_eq!(
            Claims::read(json).is_ok(),
            generic,
            "payload reader vs generic parse: {json:?}"
        );
        assert_eq!(
            Header::read(json).is_ok(),
            generic,
            "header reader vs generic parse: {json:?}"
        );
    }
}

/// Number texts at every edge of the grammar and of the `f64` range.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "-0.0",
    "0.0",
    "0e0",
    "0E0",
    "-0e0",
    "0e-0",
    "0e+0",
    "0e400",
    "-0e-400",
    "0.000e99999",
    "1",
    "-1",
    "9",
    "10",
    "123456789012345",
    "999999999999999",
    "-999999999999999",
    "1000000000000000",
    "9999999999999999",
    "-9999999999999999",
    "9007199254740991",
    "9007199254740992",
    "9007199254740993",
    "-9007199254740993",
    "12345678901234567",
    "99999999999999999",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "-9223372036854775809",
    "1e308",
    "-1e308",
    "1e309",
    "1.7976931348623157e308",
    "-1.7976931348623157e308",
    "1.7976931348623158e308",
    "1.7976931348623159e308",
    "1.797693134862315807e308",
    "1.797693134862315808e308",
    "17976931348623157e292",
    "179769313486231570000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "179769313486231590000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "2e-324",
    "3e-324",
    "5e-324",
    "4.9406564584124654e-324",
    "2.4703282292062327e-324",
    "2.4703282292062328e-324",
    "1e-400",
    "-1e-400",
    "1e-99999999999999999999",
    "1e99999999999999999999",
    "0e99999999999999999999",
    "1e+308",
    "1E+308",
    "1E-308",
    "2.2250738585072011e-308",
    "2.2250738585072014e-308",
    "1.5",
    "1700000000.5",
    "1.0",
    "1.00000000000000000000000000000000001",
    "0.1",
    "1e0",
    "1e-0",
    "1E2",
    "1e+2",
    "1e02",
    "1e0002",
    "1.5e9",
    "01",
    "-01",
    "00",
    "-00",
    "0.",
    "-",
    "-a",
    "- 1",
    "1.",
    "1.e5",
    ".5",
    "-.5",
    "1e",
    "1E",
    "1e+",
    "1E+",
    "1e-",
    "1e+-1",
    "1ee1",
    "+1",
    "+0",
    "0x1",
    "0x10",
    "0b1",
    "1_000",
    "1,5",
    "NaN",
    "-NaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1.5.3",
    "--1",
    "1-",
    "1e5.5",
    "1 2",
    "1\u{0}",
    "١",
];

/// String texts (quotes included): every escape, surrogates paired and not, raw control
/// characters, non-ASCII, unterminated.
fn strings() -> Vec<String> {
    let mut cases: Vec<String> = [
        r#""""#,
        r#""a""#,
        r#""\"""#,
        r#""\\""#,
        r#""\/""#,
        r#""\b\f\n\r\t""#,
        r#""\a""#,
        r#""\v""#,
        r#""\'""#,
        r#""\0""#,
        r#""\x41""#,
        r#""\U0041""#,
        r#""\u""#,
        r#""\u0""#,
        r#""\u00""#,
        r#""\u004""#,
        r#""\u0041""#,
        r#""\u004g""#,
        r#""\u00e9""#,
        r#""\u00E9""#,
        r#""\uFFFF""#,
        r#""\uffff""#,
        r#""\uFEFF""#,
        r#""\u0000""#,
        r#""\u001f""#,
        r#""\u007f""#,
        r#""\ud83d\ude00""#,
        r#""\uD83D\uDE00""#,
        r#""\uD83d\uDe00""#,
        r#""\ud800\udc00""#,
        r#""\udbff\udfff""#,
        r#""\ud800""#,
        r#""\udbff""#,
        r#""\udc00""#,
        r#""\udfff""#,
        r#""\ude00\ud83d""#,
        r#""\ud800\n""#,
        r#""\ud800\\""#,
        r#""\ud800\"""#,
        r#""\ud800\u0041""#,
        r#""\ud800\ud800""#,
        r#""\ud800\ud800\udc00""#,
        r#""\ud800\udbff""#,
        r#""\ud800\ue000""#,
        r#""\ud800x""#,
        r#""\ud800\""#,
        r#""\ud800\u""#,
        r#""\ud800\udc0""#,
        r#""\ud800\udc0g""#,
        r#""\ud800 \udc00""#,
        r#""\ud800\\udc00""#,
        r#""\ud800\Udc00""#,
        r#""é""#,
        r#""😀""#,
        "\"\u{a0}\"",
        "\"\u{feff}\"",
        "\"\u{2028}\u{2029}\"",
        "\"\u{7f}\"",
        "\"\u{80}\u{9f}\"",
        "\"\u{10ffff}\"",
        r#""abc"#,
        r#""abc\"#,
        r#""abc\""#,
        r#"""#,
        r#""\"#,
        r#""12345678\"#,
        r#""1234567\u00e9""#,
        r#""12345678""#,
        r#""1234567"""#,
        r#""escaped \\ then plain and long enough to scan in words""#,
    ]
    .iter()
    .map(|text| (*text).to_owned())
    .collect();
    // Every raw control character, at each offset of an eight-byte word.
    for byte in (0_u8..0x20).chain([0x7f]) {
        for offset in 0..9 {
            let text = format!("\"{}{}z\"", "x".repeat(offset), char::from(byte));
            cases.push(text);
        }
    }
    cases
}

/// Whitespace between tokens: JSON's four kinds and others that are not JSON whitespace.
const SPACES: &[&str] = &[
    "", " ", "\t", "\n", "\r", "\r\n", "  \t\n", "\u{b}", "\u{c}", "\u{a0}", "\u{feff}",
    "\u{2028}", "\u{0}", "\u{85}", "/**/", "//\n",
];

/// `value` placed in every position the reader treats differently: each kind of registered
/// claim, arrays of them, a user claim, a nested user claim, a member name, and the header's
/// members. `true` where the top-level names are distinct and none is read by name.
fn placements(value: &str) -> Vec<(String, bool)> {
    let mut documents: Vec<(String, bool)> = READ_NAMES
        .iter()
        .chain(&["\\u0065xp", "a\\u0075d"])
        .map(|name| (format!("{{\"{name}\":{value}}}"), false))
        .collect();
    for (json, plain) in [
        (format!("{{\"custom\":{value}}}"), true),
        (format!("{{\"custom\":[{value}]}}"), true),
        (format!("{{\"custom\":[1,{value},2]}}"), true),
        (format!("{{\"custom\":{{\"in\":{value}}}}}"), true),
        (format!("{{\"a\":1,\"custom\":{value},\"b\":2}}"), true),
        (format!("{{\"aud\":[{value}]}}"), false),
        (format!("{{\"aud\":[\"a\",{value}]}}"), false),
        (format!("{{\"cognito:groups\":[{value}]}}"), false),
        (format!("{{\"cognito:groups\":[\"g\",{value}]}}"), false),
        (format!("{{\"email\":[{value}]}}"), false),
        (format!("{{\"crit\":[{value}]}}"), false),
        (format!("{{{value}:1}}"), false),
        (format!("{{\"x\":1,{value}:1}}"), false),
        (format!("{{\"x\":{{{value}:1}}}}"), true),
        (format!("{{\"exp\":1,\"custom\":{value}}}"), false),
        (value.to_owned(), false),
        (format!("[{value}]"), false),
    ] {
        documents.push((json, plain));
    }
    documents
}

#[test]
fn edge_numbers_read_alike_everywhere() {
    let mut count = 0;
    for number in NUMBERS {
        for (json, plain) in placements(number) {
            check(&json, plain);
            count += 1;
        }
    }
    assert!(count > 2000, "{count}");
}

#[test]
fn edge_strings_read_alike_everywhere() {
    for string in strings() {
        for (json, plain) in placements(&string) {
            check(&json, plain);
        }
    }
}

#[test]
fn edge_words_and_structures_read_alike_everywhere() {
    for value in [
        "null",
        "true",
        "false",
        "nul",
        "tru",
        "fals",
        "nulll",
        "truee",
        "None",
        "True",
        "NULL",
        "[]",
        "{}",
        "[",
        "]",
        "{",
        "}",
        "[,]",
        "[1,]",
        "[,1]",
        "[1,,2]",
        "[1 2]",
        "{,}",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{\"a\":1 \"b\":2}",
        "{\"a\" 1}",
        "{1:2}",
        "{\"a\":1,\"a\":2}",
        "[[]]",
        "[{}]",
        "{\"a\":[]}",
        "[\"a\"",
        "[\"a\",",
        "\"a\",",
        "'a'",
        "",
        ",",
        ":",
        "[null]",
        "[[\"x\"]]",
        "[\"a\",\"b\"]",
        "[\"a\" , \"b\" ]",
        "[ ]",
        "{ }",
    ] {
        for (json, plain) in placements(value) {
            check(&json, plain);
        }
    }
}

#[test]
fn whitespace_reads_alike_between_every_token() {
    let skeleton = [
        "{", "\"sub\"", ":", "\"s\"", ",", "\"exp\"", ":", "1", ",", "\"aud\"", ":", "[", "\"a\"",
        ",", "\"b\"", "]", ",", "\"x\"", ":", "{", "\"y\"", ":", "[", "null", "]", "}", "}",
    ];
    for space in SPACES {
        for at in 0..=skeleton.len() {
            let mut json = String::new();
            for (index, token) in skeleton.iter().enumerate() {
                if index == at {
                    json.push_str(space);
                }
                json.push_str(token);
            }
            if at == skeleton.len() {
                json.push_str(space);
            }
            check(&json, false);
        }
        check(space, true);
        check(&format!("{space}{{}}{space}"), true);
        check(&format!("{{}}{space}{{}}"), true);
        check(&format!("{{}}{space}x"), true);
    }
}

/// Arrays or objects (chosen by `shape`, one bit per level) nested `depth` deep.
fn nest(depth: usize, shape: u64, inner: &str) -> String {
    let mut open = String::new();
    let mut close = String::new();
    for level in 0..depth {
        if shape >> (level % 64) & 1 == 0 {
            open.push('[');
            close.insert(0, ']');
        } else {
            open.push_str("{\"k\":");
            close.insert(0, '}');
        }
    }
    format!("{open}{inner}{close}")
}

#[test]
fn nesting_reads_alike_at_the_bound_in_every_position() {
    for depth in 124..=131 {
        for shape in [0, u64::MAX, 0x5555_5555_5555_5555, 1, 1 << 63] {
            for inner in ["1", "\"s\"", "[]", "{}", "null"] {
                let deep = nest(depth, shape, inner);
                for (json, plain) in placements(&deep) {
                    check(&json, plain);
                }
                // Siblings at the bound: closing must give the budget back exactly.
                let shallow = nest(depth - 1, shape, inner);
                check(
                    &format!("{{\"a\":{shallow},\"b\":{shallow},\"c\":{deep}}}"),
                    true,
                );
                check(&format!("{{\"a\":[{shallow},{shallow},{deep}]}}"), true);
            }
        }
    }
    // An outer object and 126 more levels pass; 127 more fail.
    for name in ["custom", "email", "crit", "typ"] {
        let fits = format!("{{\"{name}\":{}}}", nest(126, 0, "1"));
        let over = format!("{{\"{name}\":{}}}", nest(127, 0, "1"));
        assert!(generic_accepts(&fits));
        assert!(!generic_accepts(&over));
        assert!(Claims::read(&fits).is_ok());
        assert!(Claims::read(&over).is_err());
        assert!(Header::read(&fits).is_ok());
        assert!(Header::read(&over).is_err());
    }
    // `aud` and `cognito:groups` hold strings only, so one level under them already fails.
    check("{\"aud\":[[\"a\"]]}", false);
    check("{\"cognito:groups\":[[\"a\"]]}", false);
}

#[test]
fn deep_hostile_nesting_stays_bounded() {
    for depth in [1_000, 100_000, 1_000_000] {
        for json in [
            format!("{{\"x\":{}", "[".repeat(depth)),
            format!("{{\"x\":{}", "{\"a\":".repeat(depth)),
            format!("{{\"aud\":{}", "[".repeat(depth)),
            format!("{{\"email\":{}", "[".repeat(depth)),
            format!("{{\"x\":{}1{}}}", "[".repeat(depth), "]".repeat(depth)),
            "[".repeat(depth),
            "{".repeat(depth),
        ] {
            check(&json, false);
        }
    }
}

#[test]
fn names_spelled_differently_are_one_member() {
    for (first, second) in [
        ("exp", "\\u0065xp"),
        ("exp", "ex\\u0070"),
        ("exp", "\\u0065\\u0078\\u0070"),
        ("exp", "\\u0045XP"),
        ("aud", "a\\u0075d"),
        ("sub", "\\u0073ub"),
        ("email", "\\u0065mail"),
        ("cognito:groups", "cognito\\u003agroups"),
        ("cognito:groups", "cognito\\u003Agroups"),
        ("scope", "scop\\u0065"),
        ("alg", "\\u0061lg"),
        ("kid", "ki\\u0064"),
        ("crit", "cri\\u0074"),
        ("x", "\\u0078"),
        ("", "\\u0000"),
        ("", ""),
        ("é", "\\u00e9"),
        ("😀", "\\ud83d\\ude00"),
        ("/", "\\/"),
        ("a/b", "a\\/b"),
    ] {
        for value in ["1", "\"v\"", "[\"v\"]", "null"] {
            for filler in [0, 1, 22, 23, 24, 25, 40] {
                let mut json = String::from("{");
                json.push_str(&format!("\"{first}\":{value},"));
                for index in 0..filler {
                    json.push_str(&format!("\"f{index}\":{index},"));
                }
                json.push_str(&format!("\"{second}\":{value}}}"));
                check(&json, false);
            }
        }
    }
}

/// Builds a document of `n` units of one shape.
type Build = fn(usize) -> String;

#[test]
fn long_documents_read_alike() {
    // (what one unit is, how it closes the document)
    let shapes: [(&str, Build); 8] = [
        ("members", |n| {
            let members: Vec<String> = (0..n).map(|i| format!("\"k{i}\":{i}")).collect();
            format!("{{{}}}", members.join(","))
        }),
        ("members with equal fingerprints", |n| {
            let members: Vec<String> = (0..n).map(|i| format!("\"a{i:08}b\":1")).collect();
            format!("{{{}}}", members.join(","))
        }),
        ("escaped string", |n| {
            format!("{{\"x\":\"{}\"}}", "\\u00e9\\n\\ud83d\\ude00".repeat(n / 4))
        }),
        ("plain string", |n| {
            format!("{{\"sub\":\"{}\"}}", "a".repeat(n * 8))
        }),
        ("long integer", |n| {
            format!("{{\"exp\":1{}}}", "0".repeat(n * 2))
        }),
        ("long fraction", |n| {
            format!("{{\"exp\":1.{}}}", "3".repeat(n * 4))
        }),
        ("long exponent", |n| {
            format!("{{\"x\":1e{}}}", "0".repeat(n * 4))
        }),
        ("array", |n| {
            format!("{{\"aud\":[{}\"a\"]}}", "\"a\",".repeat(n))
        }),
    ];
    // Large enough that a reader quadratic in any of these shapes would not finish: the
    // time is left to benchmarks, the outcome is compared here.
    for (_shape, build) in shapes {
        for units in [1_000, 100_000] {
            check(&build(units), false);
        }
    }
}

/// Number texts built piece by piece, so every edge of the grammar comes up.
fn number_text() -> impl Strategy<Value = String> {
    let sign = prop::sample::select(vec!["", "", "-", "+", "--"]);
    let integer = prop_oneof![
        3 => "[1-9][0-9]{0,20}",
        2 => Just("0".to_owned()),
        1 => "0[0-9]{1,3}",
        1 => Just(String::new()),
        1 => (1_usize..=400).prop_map(|digits| format!("1{}", "0".repeat(digits - 1))),
        1 => (1_usize..=30).prop_map(|digits| "9".repeat(digits)),
        1 => (14_usize..=18).prop_map(|digits| "9".repeat(digits)),
    ];
    let fraction = prop_oneof![
        4 => Just(String::new()),
        2 => "\\.[0-9]{1,20}",
        1 => Just(".".to_owned()),
        1 => (1_usize..=400).prop_map(|digits| format!(".{}1", "0".repeat(digits))),
    ];
    let exponent = prop_oneof![
        4 => Just(String::new()),
        3 => "[eE][+-]?[0-9]{1,4}",
        1 => "[eE][+-]?",
        1 => "[eE][+-]?(30[0-9]|32[0-9])",
        1 => "[eE][+-]?[0-9]{18,24}",
    ];
    let tail = prop::sample::select(vec!["", "", "", "", " ", ".", "e", "x", "0", ",", "]"]);
    (sign, integer, fraction, exponent, tail).prop_map(
        |(sign, integer, fraction, exponent, tail)| {
            format!("{sign}{integer}{fraction}{exponent}{tail}")
        },
    )
}

/// One piece of a string's inside.
fn string_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9 ]{1,9}",
        1 => prop::sample::select(vec!["é", "😀", "\u{7f}", "\u{80}", "\u{a0}", "\u{ffff}", "\u{10ffff}"]).prop_map(str::to_owned),
        2 => prop::sample::select(vec!["\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"]).prop_map(str::to_owned),
        1 => "\\\\[^\"\\\\/bfnrtu]",
        3 => "\\\\u[0-9a-fA-F]{4}",
        2 => "\\\\u[dD][89abAB][0-9a-fA-F]{2}",
        2 => "\\\\u[dD][c-fC-F][0-9a-fA-F]{2}",
        1 => "\\\\u[0-9a-fA-G]{0,4}",
        1 => (0_u8..0x20).prop_map(|byte| char::from(byte).to_string()),
    ]
}

fn string_text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(string_piece(), 0..10),
        prop::sample::select(vec!["\"", "\"", "\"", "\"", "", "\\", "\\\""]),
    )
        .prop_map(|(pieces, end)| format!("\"{}{end}", pieces.concat()))
}

/// A name spelled with some of its characters as `\u` escapes (either case of hex).
fn spelled(name: &str, escapes: u64, upper: bool) -> String {
    let mut out = String::new();
    for (index, character) in name.chars().enumerate() {
        if escapes >> (index % 64) & 1 == 1 {
            let mut units = [0_u16; 2];
            for unit in character.encode_utf16(&mut units) {
                if upper {
                    out.push_str(&format!("\\u{unit:04X}"));
                } else {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        } else {
            match character {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\0'..='\u{1f}' => out.push_str(&format!("\\u{:04x}", u32::from(character))),
                _ => out.push(character),
            }
        }
    }
    out
}

fn member_name() -> impl Strategy<Value = String> {
    (
        prop::sample::select(
            [
                READ_NAMES.as_slice(),
                &["", "a", "b", "ab", "ba", "axb", "ayb", "é"],
            ]
            .concat(),
        ),
        any::<u64>(),
        any::<bool>(),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(name, escapes, upper, escaped)| {
            if escaped {
                spelled(name, escapes, upper)
            } else {
                name.to_owned()
            }
        })
}

/// A value of any kind, well-formed or not, that may be typed for a registered claim.
fn value_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        3 => string_text(),
        3 => number_text(),
        1 => prop::sample::select(vec!["null", "true", "false", "nul", "truex", "[]", "{}"]).prop_map(str::to_owned),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5)
                .prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec((member_name(), inner), 0..4).prop_map(|members| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(name, value)| format!("\"{name}\":{value}"))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

/// A JSON-ish token soup: structure bytes, literals and separators in any order, so the
/// reader's handling of every token in every state comes up.
fn soup() -> impl Strategy<Value = Vec<&'static str>> {
    let token = prop::sample::select(vec![
        "{",
        "{",
        "}",
        "}",
        "[",
        "[",
        "]",
        "]",
        ",",
        ",",
        ":",
        ":",
        "\"a\"",
        "\"exp\"",
        "\"aud\"",
        "\"cognito:groups\"",
        "\"sub\"",
        "\"email\"",
        "\"s\"",
        "1",
        "-0",
        "1e5",
        "null",
        "true",
        " ",
        "\n",
        "\"",
        "\\",
        "x",
    ]);
    prop::collection::vec(token, 0..24)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn generated_numbers_read_alike(number in number_text(), at in 0_usize..4) {
        let json = match at {
            0 => format!("{{\"exp\":{number}}}"),
            1 => format!("{{\"iat\":{number},\"x\":{number}}}"),
            2 => format!("{{\"custom\":[{number}]}}"),
            _ => format!("{{\"email\":{number}}}"),
        };
        check(&json, at == 2);
        let alone = format!("{{\"n\":{number}}}");
        check(&alone, true);
        // The value the reader takes for `exp` is the one a generic parse gives. (With
        // serde_json's `arbitrary_precision` a generic parse keeps the text and rounds it
        // exactly, one unit in the last place away from serde_json's own conversion at
        // times, which the serde path used too: not compared then.)
        if let (Ok(claims), false) = (Claims::read(&alone.replace("\"n\"", "\"exp\"")), arbitrary_precision()) {
            let value = serde_json::from_str::<serde_json::Value>(&alone).ok();
            let generic = value.as_ref().and_then(|value| value.get("n")).and_then(serde_json::Value::as_f64);
            prop_assert_eq!(claims.exp.map(f64::to_bits), generic.map(f64::to_bits), "{}", alone);
        }
    }

    #[test]
    fn generated_strings_read_alike(string in string_text(), at in 0_usize..6) {
        let json = match at {
            0 => format!("{{\"sub\":{string}}}"),
            1 => format!("{{\"aud\":[{string},{string}]}}"),
            2 => format!("{{\"custom\":{string}}}"),
            3 => format!("{{{string}:1}}"),
            4 => format!("{{\"cognito:groups\":[{string}]}}"),
            _ => format!("{{\"alg\":{string},\"kid\":{string}}}"),
        };
        check(&json, at == 2);
        // The text the reader takes for `sub` is the one a generic parse gives.
        let generic = format!("{{\"s\":{string}}}");
        if let Ok(claims) = Claims::read(&format!("{{\"sub\":{string}}}")) {
            let value = serde_json::from_str::<serde_json::Value>(&generic).ok();
            let text = value.as_ref().and_then(|value| value.get("s")).and_then(serde_json::Value::as_str);
            prop_assert_eq!(claims.sub.as_deref(), text, "{}", generic);
        } else {
            prop_assert!(!generic_accepts(&generic), "{}", generic);
        }
    }

    #[test]
    fn generated_members_read_alike(
        members in prop::collection::vec((member_name(), value_text()), 0..40),
        space in prop::sample::select(SPACES.to_vec()),
        spaced in any::<u64>(),
    ) {
        let mut json = String::from("{");
        for (index, (name, value)) in members.iter().enumerate() {
            let gap = if spaced >> (index % 64) & 1 == 1 { space } else { "" };
            if index > 0 {
                json.push(',');
            }
            json.push_str(&format!("{gap}\"{name}\"{gap}:{gap}{value}{gap}"));
        }
        json.push('}');
        check(&json, false);
    }

    #[test]
    fn generated_plain_documents_match_a_generic_parse(
        values in prop::collection::vec(value_text(), 0..30),
    ) {
        let members: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(index, value)| format!("\"u{index}\":{value}"))
            .collect();
        check(&format!("{{{}}}", members.join(",")), true);
    }

    #[test]
    fn generated_nesting_reads_alike(
        depth in 100_usize..140,
        shape in any::<u64>(),
        inner in value_text(),
        at in 0_usize..6,
    ) {
        let deep = nest(depth, shape, &inner);
        let json = match at {
            0 => format!("{{\"custom\":{deep}}}"),
            1 => format!("{{\"email\":{deep}}}"),
            2 => format!("{{\"crit\":{deep}}}"),
            3 => format!("{{\"aud\":{deep}}}"),
            4 => format!("{{\"a\":[{deep},{deep}]}}"),
            _ => format!("{{\"cognito:groups\":{deep}}}"),
        };
        check(&json, at == 0 || at == 4);
    }

    #[test]
    fn token_soup_reads_alike(tokens in soup()) {
        check(&format!("{{{}", tokens.concat()), false);
        // The same soup with every string made distinct and unread by name (and lone quotes
        // and backslashes dropped): accepted exactly when a generic parse accepts it.
        let mut plain = String::from("{");
        for (index, token) in tokens.iter().enumerate() {
            match *token {
                "\"" | "\\" => {}
                token if token.starts_with('"') => plain.push_str(&format!("\"q{index}\"")),
                token => plain.push_str(token),
            }
        }
        check(&plain, true);
    }
}

/// The outcomes of one reading, for tests that print them.
#[test]
fn outcomes_of_a_typical_payload_are_identical() {
    let json = r#"{"sub":"a\u00e9","exp":1.7e9,"aud":["x","y\/z"],"cognito:groups":[],"email":{"a":1},"scope":"b a b"}"#;
    assert_eq!(
        claims_outcome(Claims::read(json)),
        claims_outcome(claims(json))
    );
    assert_eq!(
        header_outcome(Header::read(json)),
        header_outcome(header(json))
    );
}

/// A value of the type each name needs, so only repeats can make a document fail.
fn typed_value(name: &str) -> &'static str {
    match name {
        "exp" | "nbf" | "iat" | "auth_time" | "crit" | "typ" => "1",
        "cognito:groups" => "[]",
        "aud" => "[\"v\"]",
        _ => "\"v\"",
    }
}

/// The top-level names of `json` in order, as a generic parse reads them (escapes undone).
fn top_level_names(json: &str) -> Option<Vec<String>> {
    struct Names;
    impl<'de> serde::de::Visitor<'de> for Names {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Vec<String>, A::Error> {
            let mut names = Vec::new();
            while let Some((name, _)) = map.next_entry::<String, serde_json::Value>()? {
                names.push(name);
            }
            Ok(names)
        }
    }
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let names = serde::Deserializer::deserialize_map(&mut deserializer, Names).ok()?;
    deserializer.end().ok()?;
    Some(names)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Repeats are found exactly when an independent set of the unescaped names has fewer
    /// entries than the object has members, on either side of the move to a set, for names
    /// alike at their ends (same fingerprint) and for names read by name.
    #[test]
    fn repeats_match_an_independent_count(
        picks in prop::collection::vec(
            (
                prop::sample::select(vec![
                    "a", "b", "", "ab", "ba", "aab", "abb", "axb", "ayb", "exp", "sub", "aud",
                    "email", "cognito:groups", "alg", "kid", "crit", "typ", "é", "a\u{0}b",
                ]),
                any::<u64>(),
                any::<bool>(),
                prop::bool::weighted(0.3),
            ),
            0..70,
        ),
        fresh in 0_usize..60,
    ) {
        let mut json = String::from("{");
        let mut names = Vec::new();
        for index in 0..fresh {
            names.push(format!("f{index}"));
            json.push_str(&format!("\"f{index}\":0,"));
        }
        for (name, escapes, upper, escaped) in &picks {
            let spelling = if *escaped { spelled(name, *escapes, *upper) } else { spelled(name, 0, false) };
            json.push_str(&format!("\"{spelling}\":{},", typed_value(name)));
            names.push((*name).to_owned());
        }
        if json.ends_with(',') {
            json.pop();
        }
        json.push('}');
        let parsed = top_level_names(&json);
        prop_assert_eq!(parsed.as_ref(), Some(&names), "{}", json);
        let distinct = names.iter().collect::<std::collections::HashSet<_>>().len() == names.len();
        prop_assert_eq!(Claims::read(&json).is_ok(), distinct, "{}", json);
        prop_assert_eq!(Header::read(&json).is_ok(), distinct, "{}", json);
        check(&json, false);
    }
}

/// Whether serde_json keeps numbers as text (its `arbitrary_precision` feature, which any
/// crate of an application can switch on for the whole build).
fn arbitrary_precision() -> bool {
    serde_json::from_str::<serde_json::Value>("1e400").is_ok()
}

/// User claims whose numbers are out of `f64` range: under serde_json's default features every
/// parser refuses them; with its `arbitrary_precision` feature (which any crate of an
/// application can switch on for the whole build) a generic parse keeps them as text and the
/// serde path skipped them, so the reader accepts them too. The registered numeric claims are
/// `f64`s either way. To run this in the other configuration: `cargo test -p
/// cognito-authz-core --lib --features serde_json/arbitrary_precision -- adversarial`.
#[test]
fn out_of_range_user_numbers_read_as_a_generic_parse_does() {
    for number in [
        "1e400",
        "-1e400",
        "1.7976931348623159e308",
        "1e99999999999999999999",
    ] {
        for json in [
            format!("{{\"custom\":{number}}}"),
            format!("{{\"custom\":[{number}]}}"),
            format!("{{\"custom\":{{\"n\":{number}}}}}"),
        ] {
            check(&json, true);
            assert_eq!(Claims::read(&json).is_ok(), arbitrary_precision(), "{json}");
        }
        check(&format!("{{\"email\":{number}}}"), false);
        check(&format!("{{\"crit\":{number}}}"), false);
    }
}
