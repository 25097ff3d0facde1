//! Target `token_source`: a request's headers and a token source configuration, built with
//! [`arbitrary`].

use arbitrary::{Arbitrary, Unstructured};
use cognito_authz_core::{Error, ErrorKind, HeaderLookup, TokenSource};
use http::header::COOKIE;
use http::{HeaderMap, HeaderName, HeaderValue};

/// A request header's name, spelled as a client might.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderChoice {
    /// `authorization`
    Authorization,
    /// `Authorization`
    AuthorizationTitle,
    /// `cookie`
    Cookie,
    /// `Cookie`
    CookieTitle,
    /// `dev-auth-token`
    DevAuthToken,
    /// `x-other`
    XOther,
}

impl HeaderChoice {
    /// The name as sent.
    pub fn name(self) -> &'static str {
        match self {
            Self::Authorization => "authorization",
            Self::AuthorizationTitle => "Authorization",
            Self::Cookie => "cookie",
            Self::CookieTitle => "Cookie",
            Self::DevAuthToken => "dev-auth-token",
            Self::XOther => "x-other",
        }
    }
}

/// What a header value starts with (then the raw bytes follow), so the interesting shapes are
/// one choice away.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValuePrefix {
    /// nothing: the raw bytes only
    None,
    /// `Bearer `
    Bearer,
    /// `bearer\t`
    BearerLowerTab,
    /// `  BEARER   ` (padded, several spaces)
    BearerPadded,
    /// `Basic `
    Basic,
    /// `id_token=`
    IdTokenCookie,
    /// `theme=dark; id_token=`
    SecondIdTokenCookie,
    /// `id_token="`
    QuotedIdTokenCookie,
    /// `token=`
    TokenCookie,
    /// `a.b.c` (a token-shaped value)
    Token,
}

impl ValuePrefix {
    /// The prefix bytes.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Self::None => b"",
            Self::Bearer => b"Bearer ",
            Self::BearerLowerTab => b"bearer\t",
            Self::BearerPadded => b"  BEARER   ",
            Self::Basic => b"Basic ",
            Self::IdTokenCookie => b"id_token=",
            Self::SecondIdTokenCookie => b"theme=dark; id_token=",
            Self::QuotedIdTokenCookie => b"id_token=\"",
            Self::TokenCookie => b"token=",
            Self::Token => b"a.b.c",
        }
    }
}

/// One header of the request.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct HeaderSpec {
    /// Its name.
    pub name: HeaderChoice,
    /// The start of its value.
    pub prefix: ValuePrefix,
    /// The rest of its value.
    pub value: Vec<u8>,
}

/// The header a token source reads, when not the default.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomHeader {
    /// `dev-auth-token`
    DevAuthToken,
    /// `Dev-Auth-Token` (the builder lowercases)
    DevAuthTokenTitle,
    /// `Authorization` (the default, spelled differently)
    AuthorizationTitle,
    /// `x-other`
    XOther,
}

/// The cookie a token source reads.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieChoice {
    /// `id_token`
    IdToken,
    /// `token`
    Token,
    /// `access_token`
    AccessToken,
}

/// A token source configuration.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceSpec {
    /// `TokenSource::default()` (the `Authorization` header, no cookie).
    Default,
    /// Another header, no cookie.
    Header(CustomHeader),
    /// The `Authorization` header and a cookie.
    Cookie(CookieChoice),
    /// Another header and a cookie.
    HeaderAndCookie(CustomHeader, CookieChoice),
}

/// A request's headers and the token source reading them.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct SourceInput {
    /// The configuration.
    pub source: SourceSpec,
    /// The headers, in order (repeated names are appended, not replaced).
    pub headers: Vec<HeaderSpec>,
}

impl SourceSpec {
    /// The token source it describes.
    pub fn build(self) -> TokenSource {
        let header = |custom: CustomHeader| match custom {
            CustomHeader::DevAuthToken => "dev-auth-token",
            CustomHeader::DevAuthTokenTitle => "Dev-Auth-Token",
            CustomHeader::AuthorizationTitle => "Authorization",
            CustomHeader::XOther => "x-other",
        };
        let cookie = |choice: CookieChoice| match choice {
            CookieChoice::IdToken => "id_token",
            CookieChoice::Token => "token",
            CookieChoice::AccessToken => "access_token",
        };
        let builder = TokenSource::builder();
        let builder = match self {
            Self::Default => return TokenSource::default(),
            Self::Header(custom) => builder.header(header(custom)),
            Self::Cookie(choice) => builder.cookie(cookie(choice)),
            Self::HeaderAndCookie(custom, choice) => {
                builder.header(header(custom)).cookie(cookie(choice))
            }
        };
        builder.build().expect("valid token source names")
    }
}

/// Encodes `input` as the bytes `arbitrary` 1.x decodes back to it (for writing seeds; the
/// round trip is checked where seeds are written).
pub fn encode_source_input(input: &SourceInput) -> Vec<u8> {
    fn variant(out: &mut Vec<u8>, index: u32, count: u32) {
        // derive(Arbitrary) picks variant `(u64::from(u32) * count) >> 32`.
        let x = ((u64::from(index) << 32).div_ceil(u64::from(count))) as u32;
        out.extend_from_slice(&x.to_le_bytes());
    }
    fn custom(out: &mut Vec<u8>, custom: CustomHeader) {
        variant(out, custom as u32, 4);
    }
    fn cookie(out: &mut Vec<u8>, choice: CookieChoice) {
        variant(out, choice as u32, 3);
    }
    let mut out = Vec::new();
    match input.source {
        SourceSpec::Default => variant(&mut out, 0, 4),
        SourceSpec::Header(c) => {
            variant(&mut out, 1, 4);
            custom(&mut out, c);
        }
        SourceSpec::Cookie(k) => {
            variant(&mut out, 2, 4);
            cookie(&mut out, k);
        }
        SourceSpec::HeaderAndCookie(c, k) => {
            variant(&mut out, 3, 4);
            custom(&mut out, c);
            cookie(&mut out, k);
        }
    }
    for header in &input.headers {
        out.push(1);
        variant(&mut out, header.name as u32, 6);
        variant(&mut out, header.prefix as u32, 10);
        for byte in &header.value {
            out.extend([1, *byte]);
        }
        out.push(0);
    }
    out.push(0);
    out
}

/// Target `token_source`: decodes a [`SourceInput`] from the bytes as `fuzz_target!` would,
/// then checks it.
pub fn token_source_bytes(data: &[u8]) {
    if let Ok(input) = SourceInput::arbitrary_take_rest(Unstructured::new(data)) {
        token_source(&input);
    }
}

/// Headers as a list of pairs, looked up case-insensitively: a second [`HeaderLookup`] the
/// result must not depend on.
struct Pairs<'p>(&'p [(HeaderName, Vec<u8>)]);

impl HeaderLookup for Pairs<'_> {
    fn values<'a>(&'a self, name: &HeaderName) -> impl Iterator<Item = &'a [u8]> {
        let name = name.clone();
        self.0
            .iter()
            .filter(move |(candidate, _)| *candidate == name)
            .map(|(_, value)| value.as_slice())
    }
}

/// Bytes that are plainly one token: `[A-Za-z0-9._-]+`.
fn plain_token(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

pub(crate) fn outcome(result: Result<&str, Error>) -> Result<String, ErrorKind> {
    result.map(str::to_owned).map_err(|error| error.kind())
}

/// Builds the `HeaderMap` (skipping values `HeaderValue` rejects), extracts, and checks:
/// - the same answer from a second header-lookup implementation, and from a map holding only
///   the headers the source reads (the configured header, and `Cookie` when a cookie is set);
/// - errors are `missing_token`, `invalid_request` or `malformed_token`, the last only when a
///   header the source reads is not UTF-8;
/// - a token is non-empty and a substring of a value of a header the source reads;
/// - the token-source rules: the configured header twice → `invalid_request`; no configured header and
///   no cookie header naming the cookie → `missing_token`; exactly one header holding
///   `Bearer <t>` (or plain `<t>`) with a plain `t` → `t`, unless a cookie header holds
///   `NAME=<u>` with a plain `u` (a token in two places) → `invalid_request`.
pub fn token_source(input: &SourceInput) {
    let source = input.source.build();
    let mut kept: Vec<(HeaderName, Vec<u8>)> = Vec::new();
    let mut map = HeaderMap::new();
    for header in &input.headers {
        let name = HeaderName::from_bytes(header.name.name().as_bytes()).expect("a header name");
        let mut value = header.prefix.bytes().to_vec();
        value.extend_from_slice(&header.value);
        let Ok(header_value) = HeaderValue::from_bytes(&value) else {
            continue;
        };
        map.append(name.clone(), header_value);
        kept.push((name, value));
    }
    let result = outcome(source.extract(&map));
    assert_eq!(
        outcome(source.extract_from(&Pairs(&kept))),
        result,
        "another header lookup changed the answer"
    );

    let configured = source.header_name();
    let cookie = source.cookie_name();
    let read = |name: &HeaderName| name == configured || (cookie.is_some() && *name == COOKIE);
    let relevant: Vec<(HeaderName, Vec<u8>)> = kept
        .iter()
        .filter(|(name, _)| read(name))
        .cloned()
        .collect();
    let mut only_relevant = HeaderMap::new();
    for (name, value) in &relevant {
        only_relevant.append(name.clone(), HeaderValue::from_bytes(value).expect("kept"));
    }
    assert_eq!(
        outcome(source.extract(&only_relevant)),
        result,
        "a header the source does not read changed the answer"
    );

    let header_values: Vec<&[u8]> = relevant
        .iter()
        .filter(|(name, _)| name == configured)
        .map(|(_, value)| value.as_slice())
        .collect();
    let cookie_values: Vec<&[u8]> = relevant
        .iter()
        .filter(|(name, _)| *name == COOKIE && name != configured)
        .map(|(_, value)| value.as_slice())
        .collect();
    let names_cookie = |name: &str| {
        cookie_values.iter().any(|value| {
            value
                .windows(name.len())
                .any(|window| window == name.as_bytes())
        })
    };
    let cookie_possible = cookie.is_some_and(names_cookie);
    let plain_cookie = cookie.is_some_and(|name| {
        cookie_values.iter().any(|value| {
            value
                .strip_prefix(name.as_bytes())
                .and_then(|rest| rest.strip_prefix(b"="))
                .is_some_and(plain_token)
        })
    });

    match &result {
        Ok(token) => {
            assert!(!token.is_empty(), "an empty token");
            assert!(
                relevant.iter().any(|(_, value)| value
                    .windows(token.len())
                    .any(|window| window == token.as_bytes())),
                "token {token:?} is in no header the source reads"
            );
        }
        Err(kind) => {
            assert!(
                matches!(
                    kind,
                    ErrorKind::MissingToken | ErrorKind::InvalidRequest | ErrorKind::MalformedToken
                ),
                "token extraction answered {kind:?}"
            );
            if *kind == ErrorKind::MalformedToken {
                assert!(
                    relevant
                        .iter()
                        .any(|(_, value)| std::str::from_utf8(value).is_err()),
                    "malformed_token without a non-UTF-8 value"
                );
            }
        }
    }
    if header_values.len() >= 2 {
        assert_eq!(
            result,
            Err(ErrorKind::InvalidRequest),
            "the token header twice must be invalid_request"
        );
    }
    if header_values.is_empty() && !cookie_possible {
        assert_eq!(
            result,
            Err(ErrorKind::MissingToken),
            "no configured header or cookie must be missing_token"
        );
    }
    if let [value] = header_values[..] {
        let text = value.strip_prefix(b"Bearer ").unwrap_or(value);
        if plain_token(text) && !text.eq_ignore_ascii_case(b"bearer") {
            if plain_cookie {
                assert_eq!(
                    result,
                    Err(ErrorKind::InvalidRequest),
                    "a token in the header and the cookie must be invalid_request"
                );
            } else if !cookie_possible {
                assert_eq!(
                    result.as_ref().ok().map(String::as_bytes),
                    Some(text),
                    "the header's token"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_inputs_encode_to_what_arbitrary_decodes() {
        let header = |name, prefix, value: &[u8]| HeaderSpec {
            name,
            prefix,
            value: value.to_vec(),
        };
        let inputs = [
            SourceInput {
                source: SourceSpec::Default,
                headers: Vec::new(),
            },
            SourceInput {
                source: SourceSpec::HeaderAndCookie(
                    CustomHeader::XOther,
                    CookieChoice::AccessToken,
                ),
                headers: vec![
                    header(HeaderChoice::XOther, ValuePrefix::Token, b"\x00\xff"),
                    header(HeaderChoice::CookieTitle, ValuePrefix::TokenCookie, b""),
                ],
            },
        ];
        for input in inputs {
            let bytes = encode_source_input(&input);
            let decoded = SourceInput::arbitrary_take_rest(Unstructured::new(&bytes));
            assert_eq!(decoded.ok(), Some(input));
        }
    }
}
