//! Where a request carries its token: a header (`Authorization: Bearer <t>` or the raw token,
//! as API Gateway accepts both) and optionally a cookie.
//!
//! The rules (token-source errors come before any verification check):
//! - no token anywhere → `missing_token` (401, plain `Bearer` challenge);
//! - the header twice, or a token in the header *and* the cookie → `invalid_request` (400).
//!
//! When the token came from the cookie, a state-changing request must also come from an allowed
//! page (`cross_site_request`, 403, see [`TokenSource::check_cross_site`]): browsers attach
//! cookies to requests other sites make them send, never headers.
//!
//! Choices where the design is silent: a header with another scheme (`Basic …`) or an empty
//! value carries no bearer token (so `missing_token`); a header value that is not UTF-8 cannot
//! hold a JWT and is `malformed_token` (401); the same cookie sent twice with the same value is
//! one token, with different values it is `invalid_request`. Nothing here panics on any bytes.

use http::header::{COOKIE, HeaderMap, HeaderName};

/// Read access to request headers, so adapters whose framework has another header map type
/// (actix-web's) can hand theirs to [`TokenSource::extract_from`] and
/// [`Authorizer::authorize`](crate::Authorizer::authorize) without copying it.
///
/// Implemented for [`http::HeaderMap`].
///
/// # Example
///
/// ```
/// use cognito_authz_core::{HeaderLookup, TokenSource};
/// use http::HeaderName;
///
/// /// Headers as a list of pairs (names lowercase).
/// struct Pairs<'a>(&'a [(&'a str, &'a str)]);
///
/// impl HeaderLookup for Pairs<'_> {
///     fn values<'a>(&'a self, name: &HeaderName) -> impl Iterator<Item = &'a [u8]> {
///         let name = name.as_str();
///         self.0.iter().filter(move |(n, _)| *n == name).map(|(_, v)| v.as_bytes())
///     }
/// }
///
/// let pairs = [("authorization", "Bearer a.b.c")];
/// assert_eq!(TokenSource::default().extract_from(&Pairs(&pairs)), Ok("a.b.c"));
/// ```
pub trait HeaderLookup {
    /// Every value of the header `name`, in the order received (none when absent).
    fn values<'a>(&'a self, name: &HeaderName) -> impl Iterator<Item = &'a [u8]>;

    /// Whether the header `name` is present.
    fn contains(&self, name: &HeaderName) -> bool {
        self.values(name).next().is_some()
    }
}

impl HeaderLookup for HeaderMap {
    fn values<'a>(&'a self, name: &HeaderName) -> impl Iterator<Item = &'a [u8]> {
        self.get_all(name).iter().map(http::HeaderValue::as_bytes)
    }

    fn contains(&self, name: &HeaderName) -> bool {
        self.contains_key(name)
    }
}

use crate::edge::cross_site::{CrossSiteCheck, normalize_origin};
use crate::error::{ConfigError, Error, ErrorKind};

/// Where a request's token was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenLocation {
    /// The configured header (`Authorization` or a custom one). Browsers only send it
    /// cross-origin after a CORS preflight the server approves, so it needs no origin check.
    Header,
    /// The configured cookie, which browsers attach to other sites' requests too.
    Cookie,
}

/// Reads the token from request headers.
///
/// # Example
///
/// ```
/// use cognito_authz_core::{ErrorKind, TokenSource};
/// use http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
///
/// let source = TokenSource::builder().cookie("id_token").build()?;
/// let mut headers = HeaderMap::new();
/// headers.insert(AUTHORIZATION, HeaderValue::from_static("bearer abc.def.ghi"));
/// assert_eq!(source.extract(&headers), Ok("abc.def.ghi"));
///
/// headers.insert("cookie", HeaderValue::from_static("theme=dark; id_token=abc.def.ghi"));
/// assert_eq!(source.extract(&headers).unwrap_err().kind(), ErrorKind::InvalidRequest);
///
/// assert_eq!(
///     source.extract(&HeaderMap::new()).unwrap_err().kind(),
///     ErrorKind::MissingToken
/// );
/// # Ok::<(), cognito_authz_core::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSource {
    header: HeaderName,
    cookie: Option<Box<str>>,
    cross_site: CrossSiteCheck,
}

impl Default for TokenSource {
    /// The `Authorization` header, no cookie.
    fn default() -> Self {
        Self {
            header: http::header::AUTHORIZATION,
            cookie: None,
            cross_site: CrossSiteCheck::default(),
        }
    }
}

/// Builds a [`TokenSource`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct TokenSourceBuilder {
    header: Option<String>,
    cookie: Option<String>,
    allowed_origins: Vec<String>,
    allow_same_site: bool,
    allow_missing_origin: bool,
}

impl TokenSourceBuilder {
    /// The header to read (default `authorization`), e.g. `dev-auth-token`. It accepts
    /// `Bearer <token>` (scheme case-insensitive) or the raw token.
    pub fn header(mut self, name: impl Into<String>) -> Self {
        self.header = Some(name.into());
        self
    }

    /// Also read the token from this cookie (default: no cookie).
    pub fn cookie(mut self, name: impl Into<String>) -> Self {
        self.cookie = Some(name.into());
        self
    }

    /// Origins whose pages may send state-changing requests (anything but `GET`, `HEAD`,
    /// `OPTIONS`) that carry the token cookie, besides the API's own origin (default: none).
    ///
    /// Each is `scheme://host` or `scheme://host:port`, exactly as a browser's `Origin` header
    /// writes it (no path, not even `/`); case and the scheme's default port do not matter.
    /// An allowed origin lets a page pass whatever its `Sec-Fetch-Site` says, and is what
    /// browsers without Fetch Metadata (old ones, and every browser talking to a plain-HTTP
    /// origin other than loopback) are judged by (their `Origin`, else `Referer`), so list the
    /// app's own origin too. Only for a cookie source.
    pub fn allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_origins
            .extend(origins.into_iter().map(Into::into));
        self
    }

    /// Let `Sec-Fetch-Site: same-site` pass the cookie check (default false): every origin of
    /// the same registrable domain (any subdomain, any port or scheme) may then send
    /// state-changing requests with the cookie. Prefer listing origins. Only for a cookie
    /// source.
    pub fn allow_same_site(mut self, allow: bool) -> Self {
        self.allow_same_site = allow;
        self
    }

    /// Let a state-changing request with the cookie and none of `Sec-Fetch-Site`, `Origin` or
    /// `Referer` through (default false: refused). Every current browser sends at least one
    /// of them on such a request, so this only matters for other clients, which should send
    /// the token in the header instead. Only for a cookie source.
    pub fn allow_missing_origin(mut self, allow: bool) -> Self {
        self.allow_missing_origin = allow;
        self
    }

    /// Validates the names and origins.
    ///
    /// # Errors
    /// A header name that is not a valid HTTP header name (or is `cookie`), a cookie name
    /// that is not an RFC 6265 token, an allowed origin that is not `scheme://host[:port]`,
    /// or cross-site settings without a cookie.
    pub fn build(self) -> Result<TokenSource, ConfigError> {
        let header = match self.header {
            None => http::header::AUTHORIZATION,
            Some(name) => {
                let parsed =
                    HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).map_err(|_| {
                        ConfigError::new(
                            crate::ConfigErrorKind::TokenSource,
                            format!("token header {name:?} is not a header name"),
                        )
                    })?;
                if parsed == COOKIE {
                    return Err(ConfigError::new(
                        crate::ConfigErrorKind::TokenSource,
                        "the token header cannot be `cookie`: set the cookie name instead",
                    ));
                }
                parsed
            }
        };
        let cookie = match self.cookie {
            None => None,
            Some(name) if is_cookie_name(&name) => Some(name.into_boxed_str()),
            Some(name) => {
                return Err(ConfigError::new(
                    crate::ConfigErrorKind::TokenSource,
                    format!("token cookie {name:?} is not a cookie name (RFC 6265 token)"),
                ));
            }
        };
        let cross_site = CrossSiteCheck {
            allowed_origins: self
                .allowed_origins
                .iter()
                .map(|origin| normalize_origin(origin))
                .collect::<Result<_, _>>()?,
            allow_same_site: self.allow_same_site,
            allow_missing_origin: self.allow_missing_origin,
        };
        if cookie.is_none() && cross_site.is_configured() {
            return Err(ConfigError::new(
                crate::ConfigErrorKind::TokenSource,
                "allowed_origins, allow_same_site and allow_missing_origin apply to a token \
                 cookie: set the cookie name, or remove them",
            ));
        }
        Ok(TokenSource {
            header,
            cookie,
            cross_site,
        })
    }
}

/// RFC 7230 `token` (which RFC 6265 uses for cookie names).
fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl TokenSource {
    /// Starts building a token source.
    pub fn builder() -> TokenSourceBuilder {
        TokenSourceBuilder::default()
    }

    /// The header read.
    pub fn header_name(&self) -> &HeaderName {
        &self.header
    }

    /// The cookie read, if any.
    pub fn cookie_name(&self) -> Option<&str> {
        self.cookie.as_deref()
    }

    /// The normalized allowed origins of the cookie check (see
    /// [`TokenSourceBuilder::allowed_origins`]).
    pub fn allowed_origins(&self) -> impl Iterator<Item = &str> {
        self.cross_site.allowed_origins.iter().map(AsRef::as_ref)
    }

    /// Whether `Sec-Fetch-Site: same-site` passes the cookie check.
    pub fn allows_same_site(&self) -> bool {
        self.cross_site.allow_same_site
    }

    /// Whether a request with no `Sec-Fetch-Site`, `Origin` or `Referer` passes the cookie
    /// check.
    pub fn allows_missing_origin(&self) -> bool {
        self.cross_site.allow_missing_origin
    }

    /// Refuses a request whose cookie token another site may have made the browser send.
    ///
    /// Tokens from the header always pass, and so do `GET`, `HEAD` and `OPTIONS` (which must
    /// not change state). For any other method with a cookie token: `Sec-Fetch-Site:
    /// same-origin` or `none` passes, `same-site` passes when allowed, and otherwise the
    /// request's `Origin` must be an allowed origin. A browser that sends no `Sec-Fetch-Site`
    /// is judged by its `Origin` (never `null`), or else its `Referer`, against the allowed
    /// origins; a request with none of the three is refused unless allowed.
    ///
    /// # Errors
    /// `cross_site_request` (403), its detail naming the header that decided.
    ///
    /// # Example
    ///
    /// ```
    /// use cognito_authz_core::{TokenLocation, TokenSource};
    /// use http::{HeaderMap, HeaderValue, Method};
    ///
    /// let source = TokenSource::builder()
    ///     .cookie("__Host-id_token")
    ///     .allowed_origins(["https://app.example.com"])
    ///     .build()?;
    /// let mut headers = HeaderMap::new();
    /// headers.insert("cookie", HeaderValue::from_static("__Host-id_token=a.b.c"));
    /// headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
    /// let (token, location) = source.extract_located_from(&headers).unwrap();
    /// assert_eq!((token, location), ("a.b.c", TokenLocation::Cookie));
    ///
    /// let refused = source.check_cross_site(&Method::POST, &headers, location).unwrap_err();
    /// assert_eq!((refused.code(), refused.status().as_u16()), ("cross_site_request", 403));
    /// assert!(source.check_cross_site(&Method::GET, &headers, location).is_ok());
    /// assert!(source.check_cross_site(&Method::POST, &headers, TokenLocation::Header).is_ok());
    ///
    /// headers.insert("origin", HeaderValue::from_static("https://app.example.com"));
    /// assert!(source.check_cross_site(&Method::POST, &headers, location).is_ok());
    /// # Ok::<(), cognito_authz_core::ConfigError>(())
    /// ```
    pub fn check_cross_site<H: HeaderLookup + ?Sized>(
        &self,
        method: &http::Method,
        headers: &H,
        location: TokenLocation,
    ) -> Result<(), Error> {
        match location {
            TokenLocation::Header => Ok(()),
            TokenLocation::Cookie => self.cross_site.check(method, headers),
        }
    }

    /// Whether [`TokenSource::check_cross_site`] judges a cookie token on a `method` request:
    /// every method but `GET`, `HEAD` and `OPTIONS` (which must not change state).
    ///
    /// ```
    /// use cognito_authz_core::TokenSource;
    /// use http::Method;
    ///
    /// let source = TokenSource::builder().cookie("id_token").build()?;
    /// assert!(source.checks_cross_site(&Method::POST));
    /// assert!(!source.checks_cross_site(&Method::GET));
    /// # Ok::<(), cognito_authz_core::ConfigError>(())
    /// ```
    pub fn checks_cross_site(&self, method: &http::Method) -> bool {
        !crate::edge::cross_site::is_safe(method)
    }

    /// [`TokenSource::extract_from`], also saying where the token was found (for
    /// [`TokenSource::check_cross_site`]).
    ///
    /// # Errors
    /// As [`TokenSource::extract`].
    pub fn extract_located_from<'a, H: HeaderLookup + ?Sized>(
        &self,
        headers: &'a H,
    ) -> Result<(&'a str, TokenLocation), Error> {
        let (raw, location) = self.extract_raw_located(headers)?;
        Ok((token_text(raw)?, location))
    }

    /// The token of a request, borrowed from its headers (without any `Bearer ` prefix).
    ///
    /// # Errors
    /// `missing_token` when no configured place holds one; `invalid_request` for two headers,
    /// or a token in the header and the cookie at once; `malformed_token` for a token that is
    /// not UTF-8.
    pub fn extract<'a>(&self, headers: &'a HeaderMap) -> Result<&'a str, Error> {
        self.extract_from(headers)
    }

    /// [`TokenSource::extract`] over any [`HeaderLookup`] (another framework's header map).
    ///
    /// # Errors
    /// As [`TokenSource::extract`].
    pub fn extract_from<'a, H: HeaderLookup + ?Sized>(
        &self,
        headers: &'a H,
    ) -> Result<&'a str, Error> {
        self.extract_raw(headers).and_then(token_text)
    }

    /// [`TokenSource::extract_from`] without the final UTF-8 check of the token itself, so the
    /// verified-token cache can answer a repeated token on its bytes alone (a cached token is
    /// ASCII, so equal bytes are a valid token). Every other error is the same.
    pub(crate) fn extract_raw<'a, H: HeaderLookup + ?Sized>(
        &self,
        headers: &'a H,
    ) -> Result<&'a [u8], Error> {
        self.extract_raw_located(headers).map(|(raw, _)| raw)
    }

    /// [`TokenSource::extract_raw`], then [`TokenSource::check_cross_site`] for the request's
    /// method: what the authorizer runs before verification.
    pub(crate) fn extract_raw_checked<'a, H: HeaderLookup + ?Sized>(
        &self,
        method: &http::Method,
        headers: &'a H,
    ) -> Result<&'a [u8], Error> {
        let (raw, location) = self.extract_raw_located(headers)?;
        self.check_cross_site(method, headers, location)?;
        Ok(raw)
    }

    /// Why `raw`, the token a request's header carried, is not one token but several: a comma,
    /// which no JWT holds, is how a proxy joins a repeated header into one (an API Gateway
    /// HTTP API does), so such a value is two `Authorization` headers (`invalid_request`).
    /// Read only for a token the verified-token cache did not know (a cached token holds no
    /// comma), so the common request never scans its token for one.
    pub(crate) fn joined_values<H: HeaderLookup + ?Sized>(
        &self,
        raw: &[u8],
        headers: &H,
    ) -> Option<Error> {
        if !raw.contains(&b',') {
            return None;
        }
        match self.extract_raw_located(headers) {
            Ok((_, TokenLocation::Header)) => Some(Error::new(
                ErrorKind::InvalidRequest,
                "the token header holds more than one value",
            )),
            _ => None,
        }
    }

    /// [`TokenSource::extract_raw`] and where the token was found.
    pub(crate) fn extract_raw_located<'a, H: HeaderLookup + ?Sized>(
        &self,
        headers: &'a H,
    ) -> Result<(&'a [u8], TokenLocation), Error> {
        let from_header = self.header_token(headers)?;
        let from_cookie = match &self.cookie {
            Some(name) => cookie_token(headers, name)?,
            None => None,
        };
        match (from_header, from_cookie) {
            (Some(token), None) => Ok((token, TokenLocation::Header)),
            (None, Some(token)) => Ok((token, TokenLocation::Cookie)),
            (Some(_), Some(_)) => Err(Error::new(
                ErrorKind::InvalidRequest,
                "token in both the header and the cookie",
            )),
            (None, None) => Err(Error::new(
                ErrorKind::MissingToken,
                "no token in the request",
            )),
        }
    }

    fn header_token<'a, H: HeaderLookup + ?Sized>(
        &self,
        headers: &'a H,
    ) -> Result<Option<&'a [u8]>, Error> {
        let mut values = headers.values(&self.header);
        let Some(value) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                "the token header appears more than once",
            ));
        }
        bearer_token(value)
    }
}

/// A token's bytes as text: `malformed_token` when they are not UTF-8 (no JWT can be).
pub(crate) fn token_text(raw: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(raw).map_err(|_| not_utf8())
}

fn not_utf8() -> Error {
    Error::new(ErrorKind::MalformedToken, "token is not UTF-8")
}

/// The token in an authorization header's value: `Bearer <token>` (scheme in any case, blanks
/// around either part ignored); `None` for another scheme or no token.
#[inline]
fn bearer_token(value: &[u8]) -> Result<Option<&[u8]>, Error> {
    // The spelling nearly every client sends, read without a scan: `Bearer `, then a token
    // with no blank at either end. Anything else takes the general reading, which gives the
    // same answer here.
    if let Some(token) = value.strip_prefix(b"Bearer ")
        && let (Some(&first), Some(&last)) = (token.first(), token.last())
        && !is_blank(first)
        && !is_blank(last)
    {
        return Ok(Some(token));
    }
    bearer_token_in_general(value)
}

/// [`bearer_token`] for any spelling.
#[inline(never)]
fn bearer_token_in_general(value: &[u8]) -> Result<Option<&[u8]>, Error> {
    let text = trim_blanks(value);
    match text.iter().position(|b| is_blank(*b)) {
        Some(end) => {
            if !text[..end].eq_ignore_ascii_case(b"bearer") {
                // Another scheme (Basic, Negotiate, …) carries no bearer token; a value
                // that is not UTF-8 cannot be a well-formed header of any scheme.
                return match std::str::from_utf8(value) {
                    Ok(_) => Ok(None),
                    Err(_) => Err(not_utf8()),
                };
            }
            let token = trim_blanks(&text[end + 1..]);
            Ok((!token.is_empty()).then_some(token))
        }
        None if text.is_empty() || text.eq_ignore_ascii_case(b"bearer") => Ok(None),
        None => Ok(Some(text)),
    }
}

#[inline]
fn is_blank(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

/// `value` without leading and trailing spaces and tabs.
#[inline]
fn trim_blanks(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|b| !is_blank(*b))
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !is_blank(*b))
        .map_or(start, |last| last + 1);
    &value[start..end]
}

/// The named cookie's value across every `Cookie` header (HTTP/2 may split them).
#[inline(never)]
fn cookie_token<'a, H: HeaderLookup + ?Sized>(
    headers: &'a H,
    name: &str,
) -> Result<Option<&'a [u8]>, Error> {
    let mut found: Option<&'a [u8]> = None;
    for header in headers.values(&COOKIE) {
        for pair in header.split(|b| *b == b';') {
            let pair = pair.trim_ascii();
            let Some(equals) = pair.iter().position(|b| *b == b'=') else {
                continue;
            };
            if pair[..equals].trim_ascii() != name.as_bytes() {
                continue;
            }
            let mut value = pair[equals + 1..].trim_ascii();
            if let [b'"', inner @ .., b'"'] = value {
                value = inner;
            }
            if value.is_empty() {
                continue;
            }
            match found {
                Some(previous) if previous != value => {
                    return Err(Error::new(
                        ErrorKind::InvalidRequest,
                        "the token cookie appears twice with different values",
                    ));
                }
                _ => found = Some(value),
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quick_reading_of_bearer_values_agrees_with_the_general_one() {
        let blanks: [&[u8]; 4] = [b"", b" ", b"\t", b" \t "];
        let schemes: [&[u8]; 7] = [
            b"", b"Bearer", b"bearer", b"BEARER", b"Basic", b"Bearerx", b"Bea",
        ];
        let tokens: [&[u8]; 8] = [
            b"",
            b"a.b.c",
            b" a",
            b"a ",
            b"a b",
            b"\t",
            b"\xff\xfe",
            b"Bearer",
        ];
        fn kind(result: Result<Option<&[u8]>, Error>) -> Result<Option<&[u8]>, ErrorKind> {
            result.map_err(|error| error.kind())
        }
        let mut checked = 0;
        for lead in blanks {
            for scheme in schemes {
                for gap in blanks {
                    for token in tokens {
                        for tail in blanks {
                            let value = [lead, scheme, gap, token, tail].concat();
                            assert_eq!(
                                kind(bearer_token(&value)),
                                kind(bearer_token_in_general(&value)),
                                "{:?}",
                                String::from_utf8_lossy(&value)
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 4 * 7 * 4 * 8 * 4);
        assert_eq!(
            bearer_token(b"Bearer a.b.c").ok(),
            Some(Some(&b"a.b.c"[..]))
        );
    }

    use http::HeaderValue;

    /// Headers as a list of pairs, like a framework with its own header map.
    struct Pairs<'p>(&'p [(&'p str, &'p [u8])]);

    impl HeaderLookup for Pairs<'_> {
        fn values<'a>(&'a self, name: &HeaderName) -> impl Iterator<Item = &'a [u8]> {
            let name = name.as_str();
            self.0
                .iter()
                .filter(move |(candidate, _)| candidate.eq_ignore_ascii_case(name))
                .map(|(_, value)| *value)
        }
    }

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_bytes(value).expect("value"),
            );
        }
        map
    }

    #[test]
    fn tokens_are_found_or_refused_per_the_contract() {
        let authorization = TokenSource::default();
        let with_cookie = TokenSource::builder()
            .cookie("id_token")
            .build()
            .expect("valid");
        let custom = TokenSource::builder()
            .header("Dev-Auth-Token")
            .build()
            .expect("valid");
        let huge = "a".repeat(100_000);
        // (source, headers, expected token or error code)
        type Case<'a> = (
            &'a TokenSource,
            Vec<(&'a str, &'a [u8])>,
            Result<&'a str, &'a str>,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                &authorization,
                vec![("authorization", b"Bearer t.t.t")],
                Ok("t.t.t"),
            ),
            (
                &authorization,
                vec![("authorization", b"bearer t.t.t")],
                Ok("t.t.t"),
            ),
            (
                &authorization,
                vec![("authorization", b"BEARER   t.t.t ")],
                Ok("t.t.t"),
            ),
            (
                &authorization,
                vec![("authorization", b"t.t.t")],
                Ok("t.t.t"),
            ),
            (
                &authorization,
                vec![("authorization", b"Basic dXNlcjpwdw==")],
                Err("missing_token"),
            ),
            (
                &authorization,
                vec![("authorization", b"Bearer")],
                Err("missing_token"),
            ),
            (
                &authorization,
                vec![("authorization", b"Bearer   ")],
                Err("missing_token"),
            ),
            (
                &authorization,
                vec![("authorization", b"")],
                Err("missing_token"),
            ),
            (&authorization, vec![], Err("missing_token")),
            (
                &authorization,
                vec![
                    ("authorization", b"Bearer a"),
                    ("authorization", b"Bearer a"),
                ],
                Err("invalid_request"),
            ),
            (
                &authorization,
                vec![("authorization", b"Bearer \xff\xfe")],
                Err("malformed_token"),
            ),
            (
                &authorization,
                vec![("authorization", huge.as_bytes())],
                Ok(huge.as_str()),
            ),
            (
                &authorization,
                vec![("cookie", b"id_token=t.t.t")],
                Err("missing_token"),
            ),
            (
                &authorization,
                vec![("dev-auth-token", b"t.t.t")],
                Err("missing_token"),
            ),
            (&custom, vec![("dev-auth-token", b"t.t.t")], Ok("t.t.t")),
            (
                &custom,
                vec![("dev-auth-token", b"Bearer t.t.t")],
                Ok("t.t.t"),
            ),
            (
                &custom,
                vec![("authorization", b"Bearer t.t.t")],
                Err("missing_token"),
            ),
            (
                &custom,
                vec![("dev-auth-token", b"a"), ("dev-auth-token", b"b")],
                Err("invalid_request"),
            ),
            (
                &with_cookie,
                vec![("cookie", b"id_token=c.c.c")],
                Ok("c.c.c"),
            ),
            (
                &with_cookie,
                vec![("cookie", b"a=1; id_token=c.c.c; b=2")],
                Ok("c.c.c"),
            ),
            (
                &with_cookie,
                vec![("cookie", b"id_token=\"c.c.c\"")],
                Ok("c.c.c"),
            ),
            (
                &with_cookie,
                vec![("cookie", b"a=1"), ("cookie", b"id_token=c.c.c")],
                Ok("c.c.c"),
            ),
            (
                &with_cookie,
                vec![("cookie", b"xid_token=c.c.c; id_token_x=d")],
                Err("missing_token"),
            ),
            (
                &with_cookie,
                vec![("cookie", b"id_token=")],
                Err("missing_token"),
            ),
            (
                &with_cookie,
                vec![("cookie", b"id_token")],
                Err("missing_token"),
            ),
            (
                &with_cookie,
                vec![("cookie", b";;;=;")],
                Err("missing_token"),
            ),
            (
                &with_cookie,
                vec![("cookie", b"id_token=c.c.c; id_token=c.c.c")],
                Ok("c.c.c"),
            ),
            (
                &with_cookie,
                vec![("cookie", b"id_token=c.c.c; id_token=d.d.d")],
                Err("invalid_request"),
            ),
            (
                &with_cookie,
                vec![("cookie", b"junk=\xff; id_token=c.c.c")],
                Ok("c.c.c"),
            ),
            (
                &with_cookie,
                vec![("cookie", b"id_token=\xff")],
                Err("malformed_token"),
            ),
            (
                &with_cookie,
                vec![
                    ("authorization", b"Bearer h.h.h"),
                    ("cookie", b"id_token=c.c.c"),
                ],
                Err("invalid_request"),
            ),
            (
                &with_cookie,
                vec![("authorization", b"Bearer h.h.h"), ("cookie", b"other=1")],
                Ok("h.h.h"),
            ),
            (
                &with_cookie,
                vec![("authorization", b"Basic x"), ("cookie", b"id_token=c.c.c")],
                Ok("c.c.c"),
            ),
        ];
        for (source, pairs, expected) in cases {
            let description = format!("{pairs:?}");
            let map = headers(&pairs);
            let got = source.extract(&map).map_err(|error| error.code());
            assert_eq!(got, expected, "{description}");
            // Any other header store gives the same answers through `HeaderLookup`.
            let lookup = Pairs(&pairs);
            let other = source.extract_from(&lookup).map_err(|error| error.code());
            assert_eq!(other, expected, "{description} (HeaderLookup)");
        }
    }

    #[test]
    fn names_are_validated() {
        assert!(TokenSource::builder().header("bad header").build().is_err());
        assert!(TokenSource::builder().header("cookie").build().is_err());
        assert!(TokenSource::builder().cookie("id token").build().is_err());
        assert!(TokenSource::builder().cookie("").build().is_err());
        let source = TokenSource::builder()
            .header("X-Token")
            .cookie("__Host-id")
            .build()
            .expect("valid");
        assert_eq!(source.header_name().as_str(), "x-token");
        assert_eq!(source.cookie_name(), Some("__Host-id"));
    }
}
