//! Adversarial checks of the accessors of a verified token: every accessor answers what the
//! payload says, computed here independently from a generic `serde_json::Value` parse with the
//! rules the accessors document (the user name prefers `cognito:username`, the client follows
//! `token_use`, scopes split on single spaces, sorted and deduplicated), for empty strings,
//! absent claims, repeated and many scopes, non-ASCII text and escaped member names.

use proptest::prelude::*;

use super::*;

/// What every accessor must answer for `json`, read from a generic parse.
#[derive(Debug, PartialEq)]
struct Expected {
    issuer: String,
    kid: String,
    token_use: Option<TokenUse>,
    sub: Option<String>,
    username: Option<String>,
    client_id: Option<String>,
    jti: Option<String>,
    origin_jti: Option<String>,
    email: Option<String>,
    audiences: Vec<String>,
    groups: Vec<String>,
    scopes: Vec<String>,
    exp: u64,
    nbf: Option<u64>,
    iat: Option<u64>,
    auth_time: Option<u64>,
}

fn expected(json: &str, kid: &str) -> Expected {
    let object: Map<String, Value> = serde_json::from_str(json).expect("generic parse");
    let text = |name: &str| object.get(name).and_then(Value::as_str).map(str::to_owned);
    let texts = |name: &str| -> Vec<String> {
        match object.get(name) {
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().expect("string item").to_owned())
                .collect(),
            _ => Vec::new(),
        }
    };
    let number = |name: &str| object.get(name).and_then(Value::as_f64).map(f64::to_bits);
    let token_use = text("token_use").as_deref().and_then(TokenUse::parse);
    let audiences = texts("aud");
    let client_id = match token_use {
        Some(TokenUse::Access) => text("client_id"),
        Some(TokenUse::Id) => audiences.first().cloned(),
        None => text("client_id").or_else(|| audiences.first().cloned()),
    };
    let mut scopes: Vec<String> = text("scope")
        .unwrap_or_default()
        .split(' ')
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect();
    scopes.sort();
    scopes.dedup();
    Expected {
        issuer: text("iss").unwrap_or_default(),
        kid: kid.to_owned(),
        token_use,
        sub: text("sub"),
        username: text("cognito:username").or_else(|| text("username")),
        client_id,
        jti: text("jti"),
        origin_jti: text("origin_jti"),
        email: text("email"),
        audiences,
        groups: texts("cognito:groups"),
        scopes,
        exp: number("exp").unwrap_or(0.0_f64.to_bits()),
        nbf: number("nbf"),
        iat: number("iat"),
        auth_time: number("auth_time"),
    }
}

/// Every list a [`Names`] answers, read through each of its accessors.
fn names_read_every_way(names: &Names) -> Vec<String> {
    let by_iter = names.to_vec();
    let by_get: Vec<String> = (0..names.len())
        .map(|index| names.get(index).expect("in range").to_owned())
        .collect();
    let mut backwards: Vec<String> = names.iter().rev().map(str::to_owned).collect();
    backwards.reverse();
    assert_eq!(by_iter, by_get);
    assert_eq!(by_iter, backwards);
    assert_eq!(names.len(), names.iter().len());
    assert_eq!(names.is_empty(), by_iter.is_empty());
    assert_eq!(names.first(), by_iter.first().map(String::as_str));
    assert_eq!(names.get(names.len()), None);
    assert_eq!(names.join("|"), by_iter.join("|"));
    assert!(*names == by_iter);
    by_iter
}

fn actual(token: &VerifiedToken) -> Expected {
    Expected {
        issuer: token.issuer().to_owned(),
        kid: token.kid().to_owned(),
        token_use: token.token_use(),
        sub: token.sub().map(str::to_owned),
        username: token.username().map(str::to_owned),
        client_id: token.client_id().map(str::to_owned),
        jti: token.jti().map(str::to_owned),
        origin_jti: token.origin_jti().map(str::to_owned),
        email: token.email().map(str::to_owned),
        audiences: names_read_every_way(token.audiences()),
        groups: names_read_every_way(token.groups()),
        scopes: names_read_every_way(token.scopes()),
        exp: token.expires_at().to_bits(),
        nbf: token.not_before().map(f64::to_bits),
        iat: token.issued_at().map(f64::to_bits),
        auth_time: token.auth_time().map(f64::to_bits),
    }
}

/// Builds the token from `json` and compares every accessor with the generic reading,
/// `has_scope` and `in_group` included (for each name present and for `probes`).
fn assert_accessors(json: &str, kid: &str, probes: &[&str]) {
    let token = VerifiedToken::from_payload(Arc::from("main"), kid, json);
    let want = expected(json, kid);
    assert_eq!(actual(&token), want, "{json}");
    let clone = token.clone();
    assert_eq!(actual(&clone), want, "clone of {json}");
    for scope in want
        .scopes
        .iter()
        .map(String::as_str)
        .chain(probes.iter().copied())
    {
        assert_eq!(
            token.has_scope(scope),
            want.scopes.iter().any(|want| want == scope),
            "has_scope({scope:?}) for {json}"
        );
    }
    for group in want
        .groups
        .iter()
        .map(String::as_str)
        .chain(probes.iter().copied())
    {
        assert_eq!(
            token.in_group(group),
            want.groups.iter().any(|want| want == group),
            "in_group({group:?}) for {json}"
        );
    }
}

const PROBES: &[&str] = &[
    "",
    " ",
    "a",
    "b",
    "A",
    "api/read",
    "api/write",
    "é",
    "e",
    "\u{0}",
    "zzz",
    "a ",
    " a",
    "ab",
];

#[test]
fn hand_picked_payloads_read_as_before() {
    let many: Vec<String> = (0..40).map(|index| format!("s{:02}", 39 - index)).collect();
    let many = many.join(" ");
    let repeated = "b a b a c a".to_owned();
    let cases = [
        "{}".to_owned(),
        r#"{"iss":"","sub":"","username":"","jti":"","origin_jti":"","email":"","client_id":"","scope":"","aud":"","cognito:groups":[""]}"#.to_owned(),
        r#"{"token_use":"access","client_id":"c","aud":"a","username":"u","cognito:username":"cu"}"#.to_owned(),
        r#"{"token_use":"id","client_id":"c","aud":"a","username":"u"}"#.to_owned(),
        r#"{"token_use":"id","client_id":"c","aud":[],"cognito:username":""}"#.to_owned(),
        r#"{"token_use":"other","client_id":"c","aud":"a"}"#.to_owned(),
        r#"{"token_use":"ID","aud":["a","b"]}"#.to_owned(),
        r#"{"aud":["a","b"]}"#.to_owned(),
        r#"{"aud":["","b"],"token_use":"id"}"#.to_owned(),
        r#"{"token_use":"access"}"#.to_owned(),
        r#"{"token_use":"acc\u0065ss","client_id":"c"}"#.to_owned(),
        r#"{"\u0073ub":"s","\u0069ss":"i","cognito\u003ausername":"n","emai\u006c":"e"}"#.to_owned(),
        r#"{"sub":"\u00e9\ud83d\ude00","iss":"https:\/\/x","email":"a\"b\\c"}"#.to_owned(),
        r#"{"email":7,"sub":"s"}"#.to_owned(),
        r#"{"email":null,"jti":"j"}"#.to_owned(),
        r#"{"email":["a"],"origin_jti":"o"}"#.to_owned(),
        r#"{"exp":-0,"nbf":1e300,"iat":1.5,"auth_time":123456789012345678901234567890}"#.to_owned(),
        format!(r#"{{"scope":"{many}"}}"#),
        format!(r#"{{"scope":"{many} {many}"}}"#),
        format!(r#"{{"scope":"{repeated}"}}"#),
        r#"{"scope":"  a   a  "}"#.to_owned(),
        r#"{"scope":"a\tb a\u00a0b a\nb"}"#.to_owned(),
        r#"{"scope":"é e E é"}"#.to_owned(),
        r#"{"scope":"s1 s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 s12 s13 s14 s15 s16"}"#.to_owned(),
        r#"{"scope":"s1 s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 s12 s13 s14 s15 s16 s17"}"#.to_owned(),
        r#"{"scope":"s1 s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 s12 s13 s14 s15 s16 s16"}"#.to_owned(),
        r#"{"scope":"s1 s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 s12 s13 s14 s15 s16 s17 s1"}"#.to_owned(),
        r#"{"scope":"x x x x x x x x x x x x x x x x x x x x x x x x"}"#.to_owned(),
        r#"{"cognito:groups":["b","a","b",""]}"#.to_owned(),
        r#"{"cognito:groups":[]}"#.to_owned(),
        r#"{"sub":"a","username":"b","cognito:username":"c","client_id":"d","jti":"e","origin_jti":"f","email":"g","iss":"h","token_use":"access"}"#.to_owned(),
        r#"{"sub":"","username":"","jti":"x","origin_jti":"","email":"","iss":"y","token_use":"access"}"#.to_owned(),
    ];
    for json in &cases {
        for kid in ["k", "", "kid\u{e9}"] {
            assert_accessors(json, kid, PROBES);
        }
    }
}

/// A text value: empty, ASCII, non-ASCII, with characters that need escaping.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(String::new()),
        4 => "[a-z0-9]{1,8}",
        1 => "[ a-zé😀\"\\\\/\t\u{0}\u{7f}\u{a0}]{0,8}",
    ]
}

/// A scope string: words from a small set (so repeats are common), joined by runs of spaces.
fn scope() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(vec![
                "a",
                "b",
                "c",
                "A",
                "api/read",
                "api/write",
                "é",
                "e",
                "ab",
                "s1",
                "s10",
                "s2",
                "x\ty",
            ]),
            prop::sample::select(vec![" ", " ", " ", "  ", "\u{a0}", ""]),
        ),
        0..50,
    )
    .prop_map(|words| {
        words
            .into_iter()
            .map(|(word, space)| format!("{word}{space}"))
            .collect()
    })
}

/// A member name as JSON text, sometimes with a character spelled as a `\u` escape.
fn spell(name: &str, escape: Option<usize>) -> String {
    match escape {
        Some(at) if !name.is_empty() => {
            let at = at % name.len();
            let mut out = String::new();
            for (index, character) in name.chars().enumerate() {
                if index == at {
                    out.push_str(&format!("\\u{:04x}", u32::from(character)));
                } else {
                    out.push(character);
                }
            }
            out
        }
        _ => name.to_owned(),
    }
}

/// A payload: any subset of the claims the accessors read, in any order, with any values of
/// their types (and non-strings for `email`), names sometimes escaped.
fn payload() -> impl Strategy<Value = String> {
    let names = [
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
        "aud",
        "cognito:groups",
        "exp",
        "custom:x",
    ];
    let member = (
        prop::sample::select(names.to_vec()),
        prop::option::weighted(0.2, any::<usize>()),
        text(),
        scope(),
        prop::collection::vec(text(), 0..6),
        any::<u8>(),
    )
        .prop_map(|(name, escape, text, scope, list, choice)| {
            let quoted = |value: &str| serde_json::to_string(value).expect("a string");
            let list: Vec<String> = list.iter().map(|item| quoted(item)).collect();
            let value = match name {
                "token_use" => match choice % 4 {
                    0 => quoted("access"),
                    1 => quoted("id"),
                    2 => quoted("acc\u{65}ss"),
                    _ => quoted(&text),
                },
                "scope" => quoted(&scope),
                "aud" if choice % 2 == 0 => quoted(&text),
                "aud" | "cognito:groups" => format!("[{}]", list.join(",")),
                "email" => match choice % 4 {
                    0 => "7".to_owned(),
                    1 => "null".to_owned(),
                    2 => format!("[{}]", list.join(",")),
                    _ => quoted(&text),
                },
                "exp" => format!("{}", f64::from(choice) * 1.5),
                _ => quoted(&text),
            };
            (name, format!("\"{}\":{value}", spell(name, escape)))
        });
    prop::collection::vec(member, 0..20).prop_map(|members| {
        // One member per name (the parser rejects repeats; that is tested elsewhere).
        let mut seen = std::collections::HashSet::new();
        let kept: Vec<String> = members
            .into_iter()
            .filter(|(name, _)| seen.insert(*name))
            .map(|(_, member)| member)
            .collect();
        format!("{{{}}}", kept.join(","))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn generated_payloads_read_as_before(json in payload(), kid in text(), probe in text()) {
        let mut probes = PROBES.to_vec();
        probes.push(&probe);
        assert_accessors(&json, &kid, &probes);
    }

    /// The stack sort and in-place deduplication give what sorting and deduplicating a list
    /// gives, below, at and above the number of scopes kept on the stack.
    #[test]
    fn scopes_sort_and_deduplicate_as_a_list_does(scope in scope()) {
        let mut want: Vec<&str> = scope.split(' ').filter(|word| !word.is_empty()).collect();
        want.sort_unstable();
        want.dedup();
        let names = scopes(&scope);
        prop_assert_eq!(names_read_every_way(&names), want.iter().map(|word| (*word).to_owned()).collect::<Vec<_>>());
        for word in &want {
            prop_assert!(names.binary_contains(word));
        }
    }

    /// Each string of one buffer reads back as it went in, absent ones as absent.
    #[test]
    fn texts_read_back_as_given(values in prop::array::uniform8(prop::option::of(text()))) {
        let borrowed = values.each_ref().map(|value| value.as_deref());
        let texts = Texts::new(borrowed);
        let kinds = [
            Text::Issuer,
            Text::Kid,
            Text::Sub,
            Text::Username,
            Text::Client,
            Text::Jti,
            Text::OriginJti,
            Text::Email,
        ];
        for (kind, value) in kinds.into_iter().zip(&values) {
            prop_assert_eq!(texts.get(kind), value.as_deref());
        }
    }
}
