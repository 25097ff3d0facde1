//! Cross-site request forgery protection for tokens read from a cookie.
//!
//! A browser attaches a cookie to every request for its site, including the ones another site
//! makes it send (an auto-submitting form, a `fetch` with `credentials: "include"`). A token
//! in the `Authorization` header or a custom header is never sent that way: a page can only
//! set such headers on a cross-origin request after a CORS preflight the server must approve.
//! So only cookie tokens are checked, and only for methods that change state.
//!
//! The rule, following OWASP's CSRF prevention cheat sheet: a request with a cookie token and
//! any method but `GET`, `HEAD` and `OPTIONS` must prove it comes from an allowed page.
//!
//! 1. **Fetch Metadata.** When the browser sends `Sec-Fetch-Site` (current browsers do, to
//!    HTTPS and loopback origins), `same-origin` and `none` (a navigation the user started: bookmark, typed URL)
//!    pass; `same-site` passes only when configured; anything else (`cross-site`, `same-site`
//!    when not allowed, an unknown value, the header twice) passes only when the request's
//!    `Origin` is one of the allowed origins.
//! 2. **`Origin`**, when there is no `Sec-Fetch-Site`: it must be one of the allowed origins.
//!    `Origin: null` (sandboxed frames, `data:` pages, redirected requests) never matches.
//! 3. **`Referer`**, when there is neither: its origin must be one of the allowed origins.
//! 4. **None of the three**: refused, unless configured to allow (for non-browser clients that
//!    cannot send `Authorization` instead).
//!
//! None of these headers can be set by a web page's script: `Sec-Fetch-*`, `Origin` and
//! `Referer` are forbidden request headers that only the browser writes. A client that is not
//! a browser can write anything, but it has no victim's cookie to borrow.

use http::Method;
use http::header::{HeaderName, ORIGIN, REFERER};

use crate::edge::token_source::HeaderLookup;
use crate::error::{ConfigError, Error, ErrorKind};

/// The `Sec-Fetch-Site` request header (Fetch Metadata).
static SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// Which pages may send state-changing requests that carry the token cookie.
///
/// Configured through [`TokenSourceBuilder`](crate::TokenSourceBuilder) (`allowed_origins`,
/// `allow_same_site`, `allow_missing_origin`) or the policy file's `[token]` section; applied
/// by [`TokenSource::check_cross_site`](crate::TokenSource::check_cross_site).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CrossSiteCheck {
    /// Normalized origins (`scheme://host[:port]`, lowercase, default port dropped).
    pub(crate) allowed_origins: Vec<Box<str>>,
    /// Whether `Sec-Fetch-Site: same-site` passes (default false).
    pub(crate) allow_same_site: bool,
    /// Whether a request with no `Sec-Fetch-Site`, `Origin` or `Referer` passes (default false).
    pub(crate) allow_missing_origin: bool,
}

impl CrossSiteCheck {
    /// Refuses a state-changing request that a cookie token must not authorize.
    ///
    /// # Errors
    /// `cross_site_request`, with a detail naming the header that decided.
    pub(crate) fn check<H: HeaderLookup + ?Sized>(
        &self,
        method: &Method,
        headers: &H,
    ) -> Result<(), Error> {
        if is_safe(method) {
            return Ok(());
        }
        match single(headers, &SEC_FETCH_SITE) {
            Single::One(b"same-origin" | b"none") => Ok(()),
            Single::One(b"same-site") if self.allow_same_site => Ok(()),
            Single::One(b"same-site") => self.origin_listed(headers, "Sec-Fetch-Site: same-site"),
            Single::One(b"cross-site") => self.origin_listed(headers, "Sec-Fetch-Site: cross-site"),
            Single::One(_) => self.origin_listed(headers, "unknown Sec-Fetch-Site value"),
            Single::Many => self.origin_listed(headers, "Sec-Fetch-Site repeated"),
            Single::None => self.without_fetch_metadata(headers),
        }
    }

    /// Fetch Metadata said "not same-origin": only an allowed `Origin` can still let it in.
    fn origin_listed<H: HeaderLookup + ?Sized>(
        &self,
        headers: &H,
        why: &'static str,
    ) -> Result<(), Error> {
        match single(headers, &ORIGIN) {
            Single::One(value) if self.allows(parse_origin(value).as_deref()) => Ok(()),
            _ => Err(refused(why)),
        }
    }

    /// Browsers without Fetch Metadata: `Origin`, then `Referer`, then the configured fallback.
    fn without_fetch_metadata<H: HeaderLookup + ?Sized>(&self, headers: &H) -> Result<(), Error> {
        match single(headers, &ORIGIN) {
            Single::One(b"null") => Err(refused("Origin: null")),
            Single::One(value) if self.allows(parse_origin(value).as_deref()) => Ok(()),
            Single::One(_) => Err(refused("Origin is not an allowed origin")),
            Single::Many => Err(refused("Origin repeated")),
            Single::None => match single(headers, &REFERER) {
                Single::One(value) if self.allows(referer_origin(value).as_deref()) => Ok(()),
                Single::One(_) => Err(refused("Referer is not from an allowed origin")),
                Single::Many => Err(refused("Referer repeated")),
                Single::None if self.allow_missing_origin => Ok(()),
                Single::None => Err(refused("no Sec-Fetch-Site, Origin or Referer")),
            },
        }
    }

    fn allows(&self, origin: Option<&str>) -> bool {
        origin.is_some_and(|origin| {
            self.allowed_origins
                .iter()
                .any(|allowed| **allowed == *origin)
        })
    }

    /// Whether anything differs from the defaults (which then needs a cookie to apply to).
    pub(crate) fn is_configured(&self) -> bool {
        *self != Self::default()
    }
}

/// `GET`, `HEAD` and `OPTIONS`: methods that must not change state, so never checked.
pub(crate) fn is_safe(method: &Method) -> bool {
    *method == Method::GET || *method == Method::HEAD || *method == Method::OPTIONS
}

fn refused(why: &'static str) -> Error {
    Error::new(ErrorKind::CrossSiteRequest, why)
}

/// A header that should appear at most once.
enum Single<'a> {
    None,
    One(&'a [u8]),
    Many,
}

fn single<'a, H: HeaderLookup + ?Sized>(headers: &'a H, name: &HeaderName) -> Single<'a> {
    let mut values = headers.values(name);
    match (values.next(), values.next()) {
        (None, _) => Single::None,
        (Some(value), None) => Single::One(value.trim_ascii()),
        (Some(_), Some(_)) => Single::Many,
    }
}

/// Validates a configured origin and returns it normalized.
///
/// # Errors
/// Anything but `scheme://host[:port]`: a path (even `/`), query, fragment, user info, an empty
/// or non-ASCII host, a port that is not a number up to 65535, or `null`.
pub(crate) fn normalize_origin(origin: &str) -> Result<Box<str>, ConfigError> {
    parse_origin(origin.as_bytes())
        .map(String::into_boxed_str)
        .ok_or_else(|| {
            ConfigError::new(
                crate::ConfigErrorKind::TokenSource,
                format!(
                    "allowed origin {origin:?} is not an origin: write scheme://host or \
                 scheme://host:port, with no path, not even a trailing '/'"
                ),
            )
        })
}

/// `scheme://host[:port]` in the form browsers serialize origins: scheme and host in lowercase,
/// the scheme's default port dropped, IPv6 addresses in brackets and compressed. `None` for
/// anything else.
fn parse_origin(text: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(text).ok()?;
    let (scheme, rest) = text.split_once("://")?;
    let mut chars = scheme.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    let (host, port) = split_port(rest)?;
    let host = if let Some(inside) = host.strip_prefix('[') {
        let address: std::net::Ipv6Addr = inside.strip_suffix(']')?.parse().ok()?;
        format!("[{address}]")
    } else if !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        host.to_ascii_lowercase()
    } else {
        return None;
    };
    let default_port = match scheme.as_str() {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    };
    Some(match port {
        Some(port) if Some(port) != default_port => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    })
}

/// Splits `host[:port]`; `None` when the port is present but not a number up to 65535.
fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let port_start = match authority.rfind(':') {
        // A colon inside an IPv6 literal is not a port separator.
        Some(index) if !authority[index..].contains(']') => index,
        _ => return Some((authority, None)),
    };
    let digits = &authority[port_start + 1..];
    if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((&authority[..port_start], Some(digits.parse().ok()?)))
}

/// The origin of a `Referer` URL: everything before the path, query or fragment.
fn referer_origin(referer: &[u8]) -> Option<String> {
    let separator = referer.windows(3).position(|window| window == b"://")?;
    let authority_start = separator + 3;
    let end = referer[authority_start..]
        .iter()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .map_or(referer.len(), |offset| authority_start + offset);
    parse_origin(&referer[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};
    use proptest::prelude::*;

    fn check(
        allowed: &[&str],
        allow_same_site: bool,
        allow_missing_origin: bool,
    ) -> CrossSiteCheck {
        CrossSiteCheck {
            allowed_origins: allowed
                .iter()
                .map(|origin| normalize_origin(origin).expect("valid origin"))
                .collect(),
            allow_same_site,
            allow_missing_origin,
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
    }

    #[test]
    fn origins_are_validated_and_normalized() {
        // (configured text, normalized form or None for a configuration error)
        let cases = [
            ("https://app.example.com", Some("https://app.example.com")),
            ("HTTPS://App.Example.COM", Some("https://app.example.com")),
            (
                "https://app.example.com:443",
                Some("https://app.example.com"),
            ),
            ("http://app.example.com:80", Some("http://app.example.com")),
            ("http://127.0.0.1:8080", Some("http://127.0.0.1:8080")),
            (
                "https://app.example.com:8443",
                Some("https://app.example.com:8443"),
            ),
            ("http://[::1]:3000", Some("http://[::1]:3000")),
            ("http://[0:0:0:0:0:0:0:1]", Some("http://[::1]")),
            ("capacitor://localhost", Some("capacitor://localhost")),
            (
                "chrome-extension://abcdef",
                Some("chrome-extension://abcdef"),
            ),
            ("https://app.example.com/", None),
            ("https://app.example.com/path", None),
            ("https://app.example.com?x=1", None),
            ("https://app.example.com#top", None),
            ("https://user@app.example.com", None),
            ("https://user:pw@app.example.com", None),
            ("https://", None),
            ("https://:443", None),
            ("https://app.example.com:", None),
            ("https://app.example.com:65536", None),
            ("https://app.example.com:+80", None),
            ("https://app.example.com:80:80", None),
            ("https://*.example.com", None),
            ("https://exämple.com", None),
            ("https://app%2eexample.com", None),
            ("app.example.com", None),
            ("//app.example.com", None),
            ("1http://app.example.com", None),
            ("null", None),
            ("", None),
            ("http://[::1", None),
            ("http://[nonsense]", None),
            ("https://app.example.com ", None),
        ];
        for (text, expected) in cases {
            let got = normalize_origin(text).ok();
            assert_eq!(got.as_deref(), expected, "{text:?}");
        }
    }

    #[test]
    fn referers_yield_their_origin() {
        let cases = [
            (
                "https://app.example.com/page?q=1#x",
                Some("https://app.example.com"),
            ),
            ("https://app.example.com", Some("https://app.example.com")),
            (
                "https://app.example.com:443/",
                Some("https://app.example.com"),
            ),
            ("http://127.0.0.1:8080?x", Some("http://127.0.0.1:8080")),
            ("https://user@app.example.com/", None),
            ("about:client", None),
            ("/relative/path", None),
            ("", None),
        ];
        for (referer, expected) in cases {
            assert_eq!(
                referer_origin(referer.as_bytes()).as_deref(),
                expected,
                "{referer:?}"
            );
        }
    }

    #[test]
    fn unsafe_methods_need_proof_of_an_allowed_page() {
        let strict = check(&["https://app.example.com"], false, false);
        let same_site = check(&[], true, false);
        let lenient = check(&[], false, true);
        const APP: &str = "https://app.example.com";
        // (check, method, headers, expected: None = pass, Some(detail) = refused)
        type Case<'a> = (
            &'a CrossSiteCheck,
            Method,
            Vec<(&'a str, &'a str)>,
            Option<&'a str>,
        );
        let cases: Vec<Case<'_>> = vec![
            // safe methods are never checked
            (
                &strict,
                Method::GET,
                vec![("sec-fetch-site", "cross-site")],
                None,
            ),
            (&strict, Method::HEAD, vec![], None),
            (&strict, Method::OPTIONS, vec![("origin", "null")], None),
            // Fetch Metadata
            (
                &strict,
                Method::POST,
                vec![("sec-fetch-site", "same-origin")],
                None,
            ),
            (
                &strict,
                Method::DELETE,
                vec![("sec-fetch-site", "none")],
                None,
            ),
            (
                &strict,
                Method::POST,
                vec![("sec-fetch-site", "cross-site")],
                Some("Sec-Fetch-Site: cross-site"),
            ),
            (
                &strict,
                Method::POST,
                vec![
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "https://evil.example"),
                ],
                Some("Sec-Fetch-Site: cross-site"),
            ),
            (
                &strict,
                Method::POST,
                vec![("sec-fetch-site", "cross-site"), ("origin", APP)],
                None,
            ),
            (
                &strict,
                Method::POST,
                vec![("sec-fetch-site", "same-site")],
                Some("Sec-Fetch-Site: same-site"),
            ),
            (
                &strict,
                Method::PUT,
                vec![("sec-fetch-site", "same-site"), ("origin", APP)],
                None,
            ),
            (
                &same_site,
                Method::PATCH,
                vec![("sec-fetch-site", "same-site")],
                None,
            ),
            (
                &same_site,
                Method::POST,
                vec![("sec-fetch-site", "cross-site")],
                Some("Sec-Fetch-Site: cross-site"),
            ),
            // a header no browser writes: case differs, unknown value, twice
            (
                &strict,
                Method::POST,
                vec![("sec-fetch-site", "Same-Origin")],
                Some("unknown Sec-Fetch-Site value"),
            ),
            (
                &strict,
                Method::POST,
                vec![("sec-fetch-site", "same-origin, cross-site")],
                Some("unknown Sec-Fetch-Site value"),
            ),
            (
                &strict,
                Method::POST,
                vec![
                    ("sec-fetch-site", "same-origin"),
                    ("sec-fetch-site", "same-origin"),
                ],
                Some("Sec-Fetch-Site repeated"),
            ),
            (
                &strict,
                Method::POST,
                vec![("sec-fetch-site", "")],
                Some("unknown Sec-Fetch-Site value"),
            ),
            // Fetch Metadata wins over a matching Referer
            (
                &strict,
                Method::POST,
                vec![
                    ("sec-fetch-site", "cross-site"),
                    ("referer", "https://app.example.com/"),
                ],
                Some("Sec-Fetch-Site: cross-site"),
            ),
            // Origin when there is no Fetch Metadata
            (&strict, Method::POST, vec![("origin", APP)], None),
            (
                &strict,
                Method::POST,
                vec![("origin", "https://app.example.com:443")],
                None,
            ),
            (
                &strict,
                Method::POST,
                vec![("origin", "https://APP.example.com")],
                None,
            ),
            (
                &strict,
                Method::POST,
                vec![("origin", "null")],
                Some("Origin: null"),
            ),
            (
                &strict,
                Method::POST,
                vec![("origin", "null"), ("referer", "https://app.example.com/")],
                Some("Origin: null"),
            ),
            (
                &strict,
                Method::POST,
                vec![("origin", "http://app.example.com")],
                Some("Origin is not an allowed origin"),
            ),
            (
                &strict,
                Method::POST,
                vec![("origin", "https://app.example.com:8443")],
                Some("Origin is not an allowed origin"),
            ),
            (
                &strict,
                Method::POST,
                vec![("origin", "https://app.example.com.evil.example")],
                Some("Origin is not an allowed origin"),
            ),
            (
                &strict,
                Method::POST,
                vec![("origin", "https://app.example.com/")],
                Some("Origin is not an allowed origin"),
            ),
            (
                &strict,
                Method::POST,
                vec![("origin", "")],
                Some("Origin is not an allowed origin"),
            ),
            (
                &strict,
                Method::POST,
                vec![("origin", APP), ("origin", APP)],
                Some("Origin repeated"),
            ),
            (
                &strict,
                Method::POST,
                vec![
                    ("origin", "https://evil.example"),
                    ("referer", "https://app.example.com/"),
                ],
                Some("Origin is not an allowed origin"),
            ),
            // Referer when there is neither
            (
                &strict,
                Method::POST,
                vec![("referer", "https://app.example.com/cart?x=1")],
                None,
            ),
            (
                &strict,
                Method::POST,
                vec![("referer", "https://app.example.com.evil.example/")],
                Some("Referer is not from an allowed origin"),
            ),
            (
                &strict,
                Method::POST,
                vec![("referer", "http://app.example.com/")],
                Some("Referer is not from an allowed origin"),
            ),
            (
                &strict,
                Method::POST,
                vec![
                    ("referer", "https://app.example.com/"),
                    ("referer", "https://app.example.com/"),
                ],
                Some("Referer repeated"),
            ),
            // none of the three
            (
                &strict,
                Method::POST,
                vec![],
                Some("no Sec-Fetch-Site, Origin or Referer"),
            ),
            (&lenient, Method::POST, vec![], None),
            (
                &lenient,
                Method::POST,
                vec![("origin", "https://app.example.com")],
                Some("Origin is not an allowed origin"),
            ),
            // any method that is not GET, HEAD or OPTIONS is checked
            (
                &strict,
                Method::from_bytes(b"PROPPATCH").expect("method"),
                vec![],
                Some("no Sec-Fetch-Site, Origin or Referer"),
            ),
            (
                &strict,
                Method::TRACE,
                vec![("sec-fetch-site", "cross-site")],
                Some("Sec-Fetch-Site: cross-site"),
            ),
        ];
        for (check, method, pairs, expected) in cases {
            let got = check.check(&method, &headers(&pairs));
            match (got, expected) {
                (Ok(()), None) => {}
                (Err(error), Some(detail)) => {
                    assert_eq!(
                        error.kind(),
                        ErrorKind::CrossSiteRequest,
                        "{method} {pairs:?}"
                    );
                    assert_eq!(error.detail(), detail, "{method} {pairs:?}");
                }
                (got, expected) => {
                    panic!("{method} {pairs:?}: expected {expected:?}, got {got:?}")
                }
            }
        }
    }

    /// A header value: one a browser writes, one near it, or arbitrary bytes.
    fn value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::sample::select(vec![
                "same-origin",
                "none",
                "same-site",
                "cross-site",
                "null",
                "https://app.example.com",
                "https://app.example.com:443",
                "https://app.example.com/",
                "https://app.example.com/page",
                "http://app.example.com",
                "https://app.example.com.evil",
                "https://[::1]:",
                "https://:",
                "://",
            ])
            .prop_map(|text| text.as_bytes().to_vec()),
            proptest::collection::vec(any::<u8>(), 0..40),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Whatever the three headers hold, the check never panics, and it only lets a request
        /// through with a proof: a passing `Sec-Fetch-Site`, an allowed `Origin`/`Referer`, or
        /// none of the three when that is allowed.
        #[test]
        fn only_a_proof_of_an_allowed_page_passes(
            site in proptest::collection::vec(value(), 0..3),
            origin in proptest::collection::vec(value(), 0..3),
            referer in proptest::collection::vec(value(), 0..3),
            allow_same_site in any::<bool>(),
            allow_missing_origin in any::<bool>(),
        ) {
            let check = check(&["https://app.example.com"], allow_same_site, allow_missing_origin);
            let mut map = HeaderMap::new();
            for (name, values) in [("sec-fetch-site", &site), ("origin", &origin), ("referer", &referer)] {
                for value in values {
                    if let Ok(value) = HeaderValue::from_bytes(value) {
                        map.append(HeaderName::from_static(name), value);
                    }
                }
            }
            let values = |name: &str| -> Vec<&[u8]> {
                map.get_all(name).iter().map(|v| v.as_bytes().trim_ascii()).collect()
            };
            let (site, origin, referer) = (values("sec-fetch-site"), values("origin"), values("referer"));
            let passed = check.check(&Method::POST, &map).is_ok();
            let allowed_origin = |value: &[u8]| {
                matches!(value, b"https://app.example.com" | b"https://app.example.com:443")
            };
            let proof = match site.as_slice() {
                [b"same-origin" | b"none"] => true,
                [b"same-site"] if allow_same_site => true,
                [] => match (origin.as_slice(), referer.as_slice()) {
                    ([value], _) => allowed_origin(value),
                    ([], [value]) => value.starts_with(b"https://app.example.com")
                        && referer_origin(value).as_deref() == Some("https://app.example.com"),
                    ([], []) => allow_missing_origin,
                    _ => false,
                },
                _ => matches!(origin.as_slice(), [value] if allowed_origin(value)),
            };
            prop_assert_eq!(passed, proof, "{:?}", map);
            // Safe methods are never refused.
            prop_assert!(check.check(&Method::GET, &map).is_ok());
        }
    }

    #[test]
    fn header_bytes_that_are_not_text_never_match_and_never_panic() {
        let strict = check(&["https://app.example.com"], false, false);
        for name in ["sec-fetch-site", "origin", "referer"] {
            for value in [&b"\xff\xfe"[..], b"https://app.example.com\x80", b"\x00"] {
                let mut map = HeaderMap::new();
                if let Ok(value) = HeaderValue::from_bytes(value) {
                    map.insert(HeaderName::from_static(name), value);
                    assert!(strict.check(&Method::POST, &map).is_err(), "{name}");
                }
            }
        }
    }
}
