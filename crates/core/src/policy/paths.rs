//! The paths a request may be dispatched on: the one the framework routes on, the one sent,
//! and the forms a handler that decodes its path (a file server, a `Path<String>` tail) may
//! act on. The route table applies the policies of all of them, so a spelling the policy and
//! the router read differently can only ever make a request stricter.

use std::borrow::Cow;

/// How the framework in front of the authorizer picks a handler among routes whose patterns
/// match a path, which decides which routes of the table guard a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Dispatch {
    /// The most specific pattern wins and a method mismatch never falls through to another
    /// route (axum, matchit, tonic, lambda_http): the most specific route of the table for
    /// the method guards the request.
    #[default]
    MostSpecific,
    /// Routes are tried in registration order and a failed method guard falls through to the
    /// next (actix-web): every route of the table that matches the path for the method guards
    /// the request, and all of them must allow it.
    EveryMatch,
}

/// The request target the route table is consulted with.
///
/// `path` is the path the framework routes on; `raw_path` the path as the client sent it,
/// when the framework decodes before routing (actix-web). `From<&str>` gives a target for a
/// framework that routes on the path as sent with [`Dispatch::MostSpecific`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestTarget<'a> {
    path: &'a str,
    raw_path: Option<&'a str>,
    /// One reading only: the path is plain (see [`is_plain`]) and the raw path, if any, is
    /// the same. Worked out once, as the target is made.
    plain: bool,
    dispatch: Dispatch,
    /// The query string (without `?`), read by Cedar routes for their context.
    query: Option<&'a str>,
}

impl<'a> RequestTarget<'a> {
    /// A framework that routes on `path` as sent, most specific pattern first (tower, axum).
    pub fn new(path: &'a str) -> Self {
        Self {
            path,
            raw_path: None,
            plain: is_plain(path),
            dispatch: Dispatch::MostSpecific,
            query: None,
        }
    }

    /// A framework that routes on `routed` (its decoded form of `raw`) in registration order
    /// with method fall-through (actix-web: `match_info().as_str()` and `uri().path()`).
    pub fn actix(routed: &'a str, raw: &'a str) -> Self {
        Self {
            path: routed,
            raw_path: Some(raw),
            // actix-web hands out the same text for both when decoding changed nothing.
            plain: (std::ptr::eq(routed, raw) || routed == raw) && is_plain(routed),
            dispatch: Dispatch::EveryMatch,
            query: None,
        }
    }

    /// The same target with the path as the client sent it, when the framework routes on a
    /// form of it rebuilt in between (lambda_http resolves `.` and `..` segments as it builds
    /// the request): both readings guard the request, and a dot segment in either is refused.
    #[must_use]
    pub fn with_raw_path(mut self, raw: &'a str) -> Self {
        self.plain = self.plain && raw == self.path;
        self.raw_path = Some(raw);
        self
    }

    /// The same target, dispatched as `dispatch` says.
    #[must_use]
    pub fn dispatch(mut self, dispatch: Dispatch) -> Self {
        self.dispatch = dispatch;
        self
    }

    /// The same target with the request's query string (without `?`), which Cedar routes put
    /// in their context; routing never reads it.
    #[must_use]
    pub fn with_query(mut self, query: Option<&'a str>) -> Self {
        self.query = query;
        self
    }

    /// The query string, if the adapter gave it.
    pub fn query(&self) -> Option<&'a str> {
        self.query
    }

    /// The path the framework routes on.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// How the framework picks among matching routes.
    pub fn dispatch_kind(&self) -> Dispatch {
        self.dispatch
    }

    /// Whether the path has a `.` or `..` segment, as sent or percent-encoded (`%2e%2e`,
    /// `..%2F`). Clients resolve these before sending; a server-side component resolves them
    /// relative to where it is mounted (a file server at `/docs` serves
    /// `/docs/../internal/x` from its own `internal` folder), which no reading of the whole
    /// path can tell, so such requests are refused.
    #[inline]
    pub fn has_dot_segments(&self) -> bool {
        !self.plain && self.has_dot_segments_unplain()
    }

    /// [`RequestTarget::has_dot_segments`] for a path that is not plain (out of line: most
    /// requests never get here).
    #[inline(never)]
    fn has_dot_segments_unplain(&self) -> bool {
        [Some(self.path), self.raw_path]
            .into_iter()
            .flatten()
            .any(|path| {
                (path.contains('.') && is_dotted(path))
                    || (path.contains('%') && is_dotted(&percent_decode(path)))
            })
    }

    /// The path, when it is the only reading of the request (plain, and the raw path, if
    /// any, the same): then [`RequestTarget::interpretations`] holds it alone.
    #[inline]
    pub(crate) fn only_reading(&self) -> Option<&'a str> {
        self.plain.then_some(self.path)
    }

    /// Every distinct path the request may be dispatched on, the routed one first.
    ///
    /// Beside the routed and raw paths: each fully percent-decoded (`%2F` included, invalid
    /// UTF-8 replaced), and that again with empty and `.` segments removed, `..` resolved
    /// and any trailing `/` dropped — what a file server or a decoding handler acts on.
    pub(crate) fn interpretations(&self) -> Interpretations<'a> {
        let mut list = Interpretations {
            first: self.path,
            more: Vec::new(),
        };
        if self.plain {
            return list;
        }
        if let Some(raw) = self.raw_path {
            list.push(Cow::Borrowed(raw));
        }
        for base in [Some(self.path), self.raw_path].into_iter().flatten() {
            if !needs_canonical_forms(base) {
                continue;
            }
            let decoded = percent_decode(base);
            let normalized = normalize(&decoded);
            list.push(decoded);
            list.push(Cow::Owned(normalized));
        }
        list
    }
}

impl<'a> From<&'a str> for RequestTarget<'a> {
    fn from(path: &'a str) -> Self {
        Self::new(path)
    }
}

/// The distinct paths of a target; the routed one is borrowed and first.
#[derive(Debug)]
pub(crate) struct Interpretations<'a> {
    first: &'a str,
    more: Vec<Cow<'a, str>>,
}

impl<'a> Interpretations<'a> {
    fn push(&mut self, path: Cow<'a, str>) {
        if path != self.first && !self.more.contains(&path) {
            self.more.push(path);
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.first).chain(self.more.iter().map(|path| &**path))
    }
}

/// Whether `path` reads the same every way: no `%`, no `.` at all (so no dot segment), no
/// empty segment and no trailing `/` beyond the root. One pass over the bytes, eight at a
/// time; most request paths are plain, and then the table is consulted once.
fn is_plain(path: &str) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW_BITS: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    /// The high bit of every byte of `word` that is `byte`, and no other bit (no carry
    /// crosses a byte: `(t & 0x7f) + 0x7f` stays below 0x100).
    fn equal(word: u64, byte: u8) -> u64 {
        let t = word ^ (ONES * u64::from(byte));
        !(((t & LOW_BITS) + LOW_BITS) | t | LOW_BITS)
    }
    let bytes = path.as_bytes();
    if bytes.len() > 1 && bytes.last() == Some(&b'/') {
        return false;
    }
    let mut chunks = bytes.chunks_exact(8);
    // The high bit of byte 0 when the byte before the chunk is a `/`.
    let mut slash_before = 0_u64;
    for chunk in &mut chunks {
        let Ok(chunk) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let word = u64::from_le_bytes(chunk);
        let slashes = equal(word, b'/');
        let after_slash = (slashes << 8) | slash_before;
        if equal(word, b'%') | equal(word, b'.') | (slashes & after_slash) != 0 {
            return false;
        }
        slash_before = slashes >> 56;
    }
    let mut previous = if slash_before == 0 { 0 } else { b'/' };
    for &byte in chunks.remainder() {
        if byte == b'%' || byte == b'.' || (byte == b'/' && previous == b'/') {
            return false;
        }
        previous = byte;
    }
    true
}

fn is_dotted(path: &str) -> bool {
    // A byte scan: this runs on every request, and `str::split` costs more than the lookup.
    path.as_bytes()
        .split(|&byte| byte == b'/')
        .any(|segment| segment == b"." || segment == b"..")
}

/// Whether decoding or normalizing could change `path`: a `%`, an empty or dot segment, or a
/// trailing `/` (beyond the root).
fn needs_canonical_forms(path: &str) -> bool {
    let bytes = path.as_bytes();
    if bytes.contains(&b'%') || (bytes.len() > 1 && bytes.ends_with(b"/")) {
        return true;
    }
    bytes
        .split(|&byte| byte == b'/')
        .skip(1)
        .any(|segment| segment.is_empty() || segment == b"." || segment == b"..")
}

/// Decodes every `%XX` (hex, either case); anything else is kept. Bytes that are not UTF-8
/// after decoding become U+FFFD.
fn percent_decode(path: &str) -> Cow<'_, str> {
    let bytes = path.as_bytes();
    if !bytes.contains(&b'%') {
        return Cow::Borrowed(path);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && let (Some(high), Some(low)) = (
                bytes.get(index + 1).and_then(|b| hex(*b)),
                bytes.get(index + 2).and_then(|b| hex(*b)),
            )
        {
            out.push(high << 4 | low);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Removes empty and `.` segments, resolves `..` (never above the root) and drops a
/// trailing `/`: `/a//b/./c/../d/` → `/a/b/d`.
fn normalize(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(path.len());
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `is_plain` a byte at a time: what the word-at-a-time version must agree with.
    fn is_plain_bytewise(path: &str) -> bool {
        let mut previous = 0_u8;
        for &byte in path.as_bytes() {
            if byte == b'%' || byte == b'.' || (byte == b'/' && previous == b'/') {
                return false;
            }
            previous = byte;
        }
        path.len() <= 1 || previous != b'/'
    }

    #[test]
    fn plain_paths_are_told_apart_alike_eight_bytes_at_a_time_and_one_at_a_time() {
        // Every path of up to 9 bytes over an alphabet of the bytes that matter, and (up to 7
        // bytes) the same moved across the 8-byte chunk boundaries.
        const ALPHABET: [char; 4] = ['/', '.', '%', 'a'];
        let mut paths = vec![String::new()];
        let mut checked = 0;
        for _ in 0..9 {
            paths = paths
                .iter()
                .flat_map(|path| ALPHABET.iter().map(move |c| format!("{path}{c}")))
                .collect();
            for path in &paths {
                assert_eq!(is_plain(path), is_plain_bytewise(path), "{path:?}");
                for pad in (1..=8).filter(|_| path.len() <= 7) {
                    let padded = format!("/{}{path}", "x".repeat(pad));
                    assert_eq!(is_plain(&padded), is_plain_bytewise(&padded), "{padded:?}");
                }
                checked += 1;
            }
        }
        assert_eq!(checked, (1..=9).map(|n| 4_usize.pow(n)).sum::<usize>());
        for path in [
            "",
            "/",
            "/reports/42",
            "/a//b",
            "/a/",
            "/é/ü",
            "/x%2F",
            "/a.b",
        ] {
            assert_eq!(is_plain(path), is_plain_bytewise(path), "{path:?}");
        }
    }

    fn all(target: RequestTarget<'_>) -> Vec<String> {
        target.interpretations().iter().map(str::to_owned).collect()
    }

    /// The plain fast path never hides a reading or a dot segment: every path over an
    /// alphabet of the bytes that matter, up to six long, read both ways.
    #[test]
    fn plain_paths_read_the_same_as_through_the_full_rules() {
        const ALPHABET: &[u8] = b"/.%a2eF";
        let mut path = Vec::new();
        let mut plain = 0;
        for length in 0..=6_u32 {
            for mut code in 0..ALPHABET.len().pow(length) {
                path.clear();
                for _ in 0..length {
                    path.push(ALPHABET[code % ALPHABET.len()]);
                    code /= ALPHABET.len();
                }
                let text = std::str::from_utf8(&path).expect("ASCII");
                let fast = RequestTarget::new(text);
                let full = RequestTarget {
                    plain: false,
                    ..fast
                };
                assert_eq!(all(fast), all(full), "{text}");
                assert_eq!(fast.has_dot_segments(), full.has_dot_segments(), "{text}");
                let actix = RequestTarget::actix(text, text);
                let actix_full = RequestTarget {
                    plain: false,
                    ..actix
                };
                assert_eq!(all(actix), all(actix_full), "{text}");
                assert_eq!(
                    actix.has_dot_segments(),
                    actix_full.has_dot_segments(),
                    "{text}"
                );
                plain += usize::from(fast.plain);
            }
        }
        assert!(plain > 1000, "{plain}");
    }

    #[test]
    fn clean_paths_have_one_interpretation() {
        for path in ["/", "/admin/users", "/reports/42", "/a.b/c..d/.e"] {
            assert_eq!(all(RequestTarget::new(path)), [path], "{path}");
        }
    }

    #[test]
    fn encoded_dot_and_empty_segments_add_decoded_and_normalized_forms() {
        let cases: [(&str, &[&str]); 9] = [
            ("/%61dmin/users", &["/%61dmin/users", "/admin/users"]),
            (
                "/docs/internal%2Fa",
                &["/docs/internal%2Fa", "/docs/internal/a"],
            ),
            (
                "/docs/%2e%2e/admin/x",
                &["/docs/%2e%2e/admin/x", "/docs/../admin/x", "/admin/x"],
            ),
            ("/admin/", &["/admin/", "/admin"]),
            ("//admin//x", &["//admin//x", "/admin/x"]),
            ("/public/../admin/x", &["/public/../admin/x", "/admin/x"]),
            ("/../../x", &["/../../x", "/x"]),
            ("/a/%zz/%4", &["/a/%zz/%4"]),
            ("/%ff", &["/%ff", "/\u{fffd}"]),
        ];
        for (path, expected) in cases {
            assert_eq!(all(RequestTarget::new(path)), expected, "{path}");
        }
    }

    #[test]
    fn dot_segments_are_found_in_every_spelling() {
        for path in [
            "/docs/../internal/x",
            "/docs/./x",
            "/docs/%2e%2e/internal/x",
            "/docs/%2E/x",
            "/docs/..%2Finternal",
            "/docs/.%2e/x",
            "/docs/%ff/../x",
            "/..",
            "/.",
        ] {
            assert!(RequestTarget::new(path).has_dot_segments(), "{path}");
        }
        for path in [
            "/",
            "/.well-known/jwks.json",
            "/a..b/c.",
            "/files/..hidden",
            "/%2e%2ex",
            "/a%2Fb",
        ] {
            assert!(!RequestTarget::new(path).has_dot_segments(), "{path}");
        }
        assert!(RequestTarget::actix("/docs/x", "/docs/%2e%2e/x").has_dot_segments());
    }

    #[test]
    fn a_raw_path_is_a_second_reading_that_keeps_the_dispatch() {
        // lambda_http resolved `%2e%2e` as it built the URI: the path as sent is refused.
        let target = RequestTarget::new("/public/admin/x").with_raw_path("/%2e%2e/public/admin/x");
        assert_eq!(target.dispatch_kind(), Dispatch::MostSpecific);
        assert!(target.has_dot_segments());
        // A router that saw the path rewritten: both readings guard the request.
        let target = RequestTarget::new("/edit").with_raw_path("/prod/edit");
        assert!(!target.has_dot_segments());
        assert_eq!(all(target), ["/edit", "/prod/edit"]);
        // The same path twice is one plain reading.
        let target = RequestTarget::new("/admin/x").with_raw_path("/admin/x");
        assert_eq!(all(target), ["/admin/x"]);
    }

    #[test]
    fn actix_targets_add_the_raw_path_and_its_forms() {
        assert_eq!(
            all(RequestTarget::actix("/admin/users", "/%61dmin/users")),
            ["/admin/users", "/%61dmin/users"]
        );
        assert_eq!(
            all(RequestTarget::actix("/admin%2Fx", "/%61dmin%2Fx")),
            ["/admin%2Fx", "/%61dmin%2Fx", "/admin/x"]
        );
    }

    /// The one-reading lookup reads exactly what the list of readings holds.
    /// Over every path of up to 6 bytes of the bytes that matter (and actix pairs of them),
    /// a target with an only reading has that path as its sole interpretation, its decoded and
    /// normalized forms are itself (for paths starting with `/`), and it has no dot segment.
    /// An actix routed path that is a prefix of the raw one at the same address (`ptr::eq`
    /// compares lengths too) is not taken for the raw path.
    #[test]
    fn an_only_reading_is_every_reading() {
        const ALPHABET: [char; 7] = ['/', '.', '%', '2', 'e', 'F', 'a'];
        let mut paths = vec![String::new()];
        let mut all = vec![String::new()];
        for _ in 0..6 {
            paths = paths
                .iter()
                .flat_map(|path| ALPHABET.iter().map(move |c| format!("{path}{c}")))
                .collect();
            all.extend(paths.iter().cloned());
        }
        let check = |target: RequestTarget<'_>| {
            let interpretations = target.interpretations();
            let readings: Vec<&str> = interpretations.iter().collect();
            if let Some(only) = target.only_reading() {
                assert_eq!(readings, [only], "{target:?}");
                assert!(!target.has_dot_segments(), "{target:?}");
                assert_eq!(percent_decode(only), only, "{target:?}");
                if only.starts_with('/') {
                    assert_eq!(normalize(only), only, "{target:?}");
                }
            }
        };
        for path in &all {
            check(RequestTarget::new(path));
            check(RequestTarget::actix(path, path));
            check(RequestTarget::new(path).with_raw_path(path));
            check(RequestTarget::new(path).with_raw_path("/a"));
            // Same address, shorter: a different text.
            for cut in 0..path.len() {
                let target = RequestTarget::actix(&path[..cut], path);
                assert_eq!(target.only_reading(), None, "{path:?} cut {cut}");
                check(target);
            }
        }
    }
}
