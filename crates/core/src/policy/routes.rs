//! The route table: method + path pattern → compiled policy, with the most specific pattern
//! winning and a default for requests no route matches.
//!
//! Patterns use matchit 0.8 syntax (the same as axum): `/users/{id}`, `/files/{*rest}`; static
//! segments beat parameters, which beat catch-alls. A request is matched only against the
//! routes that allow its method. Lookup costs one small scan over the *methods* named in the
//! table plus one radix-tree walk per path interpretation, so it does not grow with the number
//! of routes: the table keeps one router per explicitly named method (holding that method's
//! routes and the all-method routes) and one router of the all-method routes for every other
//! method.
//!
//! `HEAD` requests also match `GET` routes (axum and actix serve `HEAD` with the `GET`
//! handler, so the `GET` policy must guard it). A route that names `HEAD` is matched before a
//! `GET` route with the same pattern, but that `GET` route guards the `HEAD` request too: the
//! table cannot tell whether the app has a `HEAD` handler of its own or serves `HEAD` with the
//! `GET` one, so both policies must allow it.
//!
//! Under [`Dispatch::EveryMatch`] (actix-web), a pattern that matches the path but that no
//! route gives the request's method (a `GET`-only `/things/{id}` for a `POST /things/open`)
//! also brings in `unmatched`: a resource registered with that pattern and no method guard
//! runs for every method, and for this method the table says only `unmatched` there.
//!
//! A pattern that some reading of its own paths would miss is a build error, since that
//! reading would leave its requests to `unmatched`: a trailing `/` or an empty segment (the
//! normalized reading drops them), a `.` or `..` segment (such requests are refused), and
//! `%`, whitespace, control or non-ASCII characters outside parameters (requests carry those
//! percent-encoded and are also read decoded).
//!
//! A catch-all `/p/{*rest}` also guards its bare prefix `/p` and `/p/` (frameworks serve those
//! from a scope or a nested router too) unless another route names that pattern for the
//! method. The paths a request is looked up on are those of [`RequestTarget`]: every one's
//! policy must allow.

use std::fmt;
use std::sync::Arc;

use http::Method;
use matchit::{InsertError, Router};

use super::paths::{Dispatch, RequestTarget};
use super::{CompiledPolicy, Policy, PolicyError, PolicySet};

/// One route of a [`RouteTable`]: a pattern, the methods it applies to, and its policy.
#[derive(Debug, Clone)]
pub struct Route {
    pattern: Arc<str>,
    methods: Option<Vec<Method>>,
    policy: CompiledPolicy,
}

impl Route {
    /// The path pattern as written, e.g. `/reports/{id}`.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    pub(crate) fn shared_pattern(&self) -> &Arc<str> {
        &self.pattern
    }

    /// The methods the route applies to; `None` means every method.
    pub fn methods(&self) -> Option<&[Method]> {
        self.methods.as_deref()
    }

    /// The route's compiled policy.
    pub fn policy(&self) -> &CompiledPolicy {
        &self.policy
    }
}

/// The result of a lookup: the matched route (if any) and the policy that applies.
#[derive(Debug, Clone, Copy)]
pub struct RouteMatch<'a> {
    route: Option<&'a Route>,
    policy: &'a CompiledPolicy,
}

impl<'a> RouteMatch<'a> {
    /// The matched route, or `None` when the table's `unmatched` policy applies.
    pub fn route(&self) -> Option<&'a Route> {
        self.route
    }

    /// The matched pattern, or `None` for the `unmatched` default.
    pub fn pattern(&self) -> Option<&'a str> {
        self.route.map(Route::pattern)
    }

    /// The policy to enforce.
    pub fn policy(&self) -> &'a CompiledPolicy {
        self.policy
    }

    fn same(&self, other: &RouteMatch<'_>) -> bool {
        match (self.route, other.route) {
            (Some(a), Some(b)) => std::ptr::eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }
}

/// Every route that guards a request ([`RouteTable::matches`]): all of their policies must
/// allow it. The first is the route of the path as routed.
#[derive(Debug, Clone)]
pub struct RouteMatches<'a> {
    first: RouteMatch<'a>,
    more: Vec<RouteMatch<'a>>,
}

impl<'a> RouteMatches<'a> {
    fn push(&mut self, found: RouteMatch<'a>) {
        if !self.first.same(&found) && !self.more.iter().any(|seen| seen.same(&found)) {
            self.more.push(found);
        }
    }

    /// The route of the path as routed (or the `unmatched` default).
    pub fn primary(&self) -> RouteMatch<'a> {
        self.first
    }

    /// Every guarding route, the primary first, each once.
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = RouteMatch<'a>> + '_ {
        std::iter::once(self.first).chain(self.more.iter().copied())
    }

    /// How many routes guard the request.
    pub fn len(&self) -> usize {
        1 + self.more.len()
    }

    /// Always `false`: at least the `unmatched` default guards a request.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Method + path → policy, built once at start-up.
///
/// Patterns use matchit 0.8 (axum) syntax; the most specific pattern among the routes allowing
/// the request's method wins (static > parameter > catch-all), and `{*rest}` needs at least one
/// segment — but a catch-all route also guards its bare prefix (`/admin` and `/admin/` for
/// `/admin/{*rest}`) unless another route names that pattern for the method. Paths are
/// matched as sent (no percent-decoding or trailing-slash folding, like axum's router);
/// [`RouteTable::matches`] adds the decoded and normalized forms. `HEAD` requests also match
/// `GET` routes, since frameworks serve `HEAD` with the `GET` handler; a route naming `HEAD`
/// is looked up before a `GET` route with the same pattern, and [`RouteTable::matches`] adds
/// that `GET` route, so both must allow. Under [`Dispatch::EveryMatch`], a pattern matching
/// the path that no route gives the method adds `unmatched`. For one method, the same pattern
/// twice (parameter names ignored) or a parameter and a catch-all at the same position is a
/// build error; the same path with disjoint methods is fine. So are segments in another
/// router's syntax (`:id`, `*rest`, `<id>`), patterns that end in `/` or hold an empty, `.`
/// or `..` segment, `%`, whitespace, control or non-ASCII characters outside parameters, and
/// methods that are not standard HTTP methods unless allowed with
/// [`RouteTableBuilder::extension_methods`]. Requests no route matches get the `unmatched`
/// policy, `deny` unless set. Lookup does not grow with the number of routes.
///
/// # Example
///
/// ```
/// use cognito_authz_core::{Policy, RouteTable};
/// use http::Method;
/// let table = RouteTable::builder()
///     .policy("admin", "group:admin".parse()?)
///     .route("/health", Policy::public())
///     .route("/admin/{*rest}", Policy::named("admin"))
///     .route_methods([Method::GET], "/admin/public", Policy::public())
///     .build()?;
/// let get = table.lookup(&Method::GET, "/admin/public");
/// assert_eq!(get.pattern(), Some("/admin/public"));
/// assert!(get.policy().is_public());
/// // POST has no /admin/public route, so the catch-all applies:
/// let post = table.lookup(&Method::POST, "/admin/public");
/// assert_eq!(post.pattern(), Some("/admin/{*rest}"));
/// assert_eq!(post.policy().text(), "policy:admin");
/// // The catch-all guards its bare prefix too:
/// assert_eq!(table.lookup(&Method::GET, "/admin/").pattern(), Some("/admin/{*rest}"));
/// // Nothing matches: the default, which denies.
/// let other = table.lookup(&Method::GET, "/elsewhere");
/// assert_eq!(other.pattern(), None);
/// assert_eq!(other.policy().text(), "deny");
/// // An encoded spelling is guarded by the route of its decoded form as well:
/// let sneaky = table.matches(&Method::GET, "/%61dmin/users".into());
/// assert!(sneaky.iter().any(|found| found.pattern() == Some("/admin/{*rest}")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RouteTable {
    routes: Vec<Route>,
    /// Matchers for the routes (one per route, same index) and then the implied bare
    /// prefixes of catch-alls.
    entries: Vec<Entry>,
    by_method: Vec<(Method, MethodRoutes)>,
    any_method: MethodRoutes,
    unmatched: CompiledPolicy,
    policies: PolicySet,
}

/// A pattern registered for a route: its own, or a bare prefix a catch-all implies.
#[derive(Clone)]
struct Entry {
    route: usize,
    implied: bool,
    pattern: Box<str>,
    /// This entry alone, to test whether it matches a path.
    matcher: Router<()>,
}

/// The routes one method is matched against.
#[derive(Clone, Default)]
struct MethodRoutes {
    router: Router<usize>,
    /// For each entry in `router` (by entry index), the other entries of `router` whose
    /// patterns may match a path it matches.
    overlaps: Vec<Box<[usize]>>,
    /// For `HEAD`, by entry index: the entry of a `GET` route with the same pattern as the
    /// entry of a route naming `HEAD`. Both guard a `HEAD` request, since a framework serves
    /// it with the `GET` handler unless the app has a `HEAD` handler of its own. Empty for
    /// every other method.
    companions: Vec<Option<usize>>,
    /// The patterns of the routes that do not apply to this method and that no route applying
    /// to it names (parameter names ignored), in as many routers as it takes to hold patterns
    /// that conflict. Under [`Dispatch::EveryMatch`] a path one of them matches also meets
    /// `unmatched`: a framework resource without method guards runs for every method.
    foreign: Vec<Router<()>>,
}

/// Why a route table cannot be built. Every variant names the route (by index in declaration
/// order) or the policy it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// A named policy does not compile.
    #[error("{0}")]
    Policies(PolicyError),
    /// The `unmatched` default does not compile.
    #[error("default policy: {0}")]
    Unmatched(PolicyError),
    /// A route's policy does not compile.
    #[error("route {pattern:?}: {source}")]
    Policy {
        /// Index of the route, in declaration order.
        index: usize,
        /// The route's pattern.
        pattern: String,
        /// The problem.
        source: PolicyError,
    },
    /// A pattern matchit cannot register (bad parameter syntax, no leading `/`, another
    /// router's syntax, …).
    #[error("route {pattern:?}: {message}")]
    Pattern {
        /// Index of the route.
        index: usize,
        /// The route's pattern.
        pattern: String,
        /// What is wrong.
        message: String,
    },
    /// `methods` is present but empty.
    #[error("route {pattern:?}: methods must list at least one method (omit it for all methods)")]
    NoMethods {
        /// Index of the route.
        index: usize,
        /// The route's pattern.
        pattern: String,
    },
    /// A method that is not a standard HTTP method and was not allowed as an extension.
    #[error(
        "route {pattern:?}: {method:?} is not a standard HTTP method (GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH); list it in extension_methods if your service really serves it"
    )]
    UnknownMethod {
        /// Index of the route.
        index: usize,
        /// The route's pattern.
        pattern: String,
        /// The method as given.
        method: String,
    },
    /// Two routes overlap for one method.
    #[error(
        "route {pattern:?} conflicts with route {with:?} for {method}: the same pattern twice (parameter names are ignored) or a parameter and a catch-all at the same position"
    )]
    Conflict {
        /// Index of the later route.
        index: usize,
        /// The later route's pattern.
        pattern: String,
        /// The earlier route's pattern.
        with: String,
        /// The method they overlap for (`all methods` when neither names one).
        method: String,
    },
}

impl RouteError {
    /// The index of the route the error is about, if it is about one.
    pub fn route_index(&self) -> Option<usize> {
        match self {
            RouteError::Policy { index, .. }
            | RouteError::Pattern { index, .. }
            | RouteError::NoMethods { index, .. }
            | RouteError::UnknownMethod { index, .. }
            | RouteError::Conflict { index, .. } => Some(*index),
            RouteError::Policies(_) | RouteError::Unmatched(_) => None,
        }
    }
}

/// Builds a [`RouteTable`]; see there for an example.
#[derive(Debug, Default)]
#[must_use]
pub struct RouteTableBuilder {
    policies: Vec<(String, Policy)>,
    routes: Vec<RouteSpec>,
    unmatched: Option<Policy>,
    issuers: Option<Vec<String>>,
    extension_methods: Vec<Method>,
}

#[derive(Debug)]
struct RouteSpec {
    pattern: String,
    methods: Option<Vec<Method>>,
    policy: Policy,
}

/// The methods of RFC 9110 and RFC 5789 (`PATCH`).
pub(crate) const STANDARD_METHODS: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::CONNECT,
    Method::OPTIONS,
    Method::TRACE,
    Method::PATCH,
];

impl RouteTableBuilder {
    /// Defines a named policy, referenced as `policy:NAME`.
    pub fn policy(mut self, name: impl Into<String>, policy: Policy) -> Self {
        self.policies.push((name.into(), policy));
        self
    }

    /// A route for every method.
    pub fn route(mut self, pattern: impl Into<String>, policy: Policy) -> Self {
        self.routes.push(RouteSpec {
            pattern: pattern.into(),
            methods: None,
            policy,
        });
        self
    }

    /// A route for the listed methods only (duplicates are ignored; an empty list, or a
    /// method that is neither standard nor an allowed extension, is an error at build).
    pub fn route_methods(
        mut self,
        methods: impl IntoIterator<Item = Method>,
        pattern: impl Into<String>,
        policy: Policy,
    ) -> Self {
        let mut list: Vec<Method> = Vec::new();
        for method in methods {
            if !list.contains(&method) {
                list.push(method);
            }
        }
        self.routes.push(RouteSpec {
            pattern: pattern.into(),
            methods: Some(list),
            policy,
        });
        self
    }

    /// The policy for requests no route matches (default: `deny`, 403 `forbidden`).
    pub fn unmatched(mut self, policy: Policy) -> Self {
        self.unmatched = Some(policy);
        self
    }

    /// The configured issuer names: an `issuer:NAME` atom naming another is a build error.
    pub fn issuers<N: Into<String>>(mut self, names: impl IntoIterator<Item = N>) -> Self {
        self.issuers = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Methods beyond the standard ones that routes may name (e.g. `PURGE`).
    pub fn extension_methods(mut self, methods: impl IntoIterator<Item = Method>) -> Self {
        self.extension_methods.extend(methods);
        self
    }

    /// Compiles every policy and builds the routers.
    ///
    /// # Errors
    /// See [`RouteError`]; the error about the earliest-declared route is reported.
    pub fn build(self) -> Result<RouteTable, RouteError> {
        let mut policies = PolicySet::from_policies(self.policies).map_err(RouteError::Policies)?;
        if let Some(issuers) = self.issuers {
            policies = policies
                .with_issuers(issuers)
                .map_err(RouteError::Policies)?;
        }
        let unmatched = policies
            .compile(&self.unmatched.unwrap_or_else(Policy::deny))
            .map_err(RouteError::Unmatched)?;
        let mut routes = Vec::with_capacity(self.routes.len());
        for (index, spec) in self.routes.into_iter().enumerate() {
            check_pattern(&spec.pattern).map_err(|message| RouteError::Pattern {
                index,
                pattern: spec.pattern.clone(),
                message,
            })?;
            match &spec.methods {
                Some(methods) if methods.is_empty() => {
                    return Err(RouteError::NoMethods {
                        index,
                        pattern: spec.pattern,
                    });
                }
                Some(methods) => {
                    if let Some(method) = methods.iter().find(|method| {
                        !STANDARD_METHODS.contains(method)
                            && !self.extension_methods.contains(method)
                    }) {
                        return Err(RouteError::UnknownMethod {
                            index,
                            method: method.to_string(),
                            pattern: spec.pattern,
                        });
                    }
                }
                None => {}
            }
            let policy = policies
                .compile(&spec.policy)
                .map_err(|source| RouteError::Policy {
                    index,
                    pattern: spec.pattern.clone(),
                    source,
                })?;
            // Every pattern is registered alone first, so syntax errors are reported as such
            // and not as conflicts.
            Router::new()
                .insert(spec.pattern.as_str(), ())
                .map_err(|error| RouteError::Pattern {
                    index,
                    pattern: spec.pattern.clone(),
                    message: error.to_string(),
                })?;
            routes.push(Route {
                pattern: Arc::from(spec.pattern),
                methods: spec.methods,
                policy,
            });
        }
        let entries = entries(&routes);

        let mut methods: Vec<Method> = Vec::new();
        for method in routes
            .iter()
            .filter_map(|route| route.methods.as_ref())
            .flatten()
        {
            if !methods.contains(method) {
                methods.push(method.clone());
            }
        }
        if methods.contains(&Method::GET) && !methods.contains(&Method::HEAD) {
            methods.push(Method::HEAD);
        }
        let names = |route: &Route, method: &Method| {
            route.methods.as_ref().is_some_and(|m| m.contains(method))
        };
        let mut errors = Vec::new();
        let mut any_method = method_routes(
            &routes,
            &entries,
            |route| route.methods.is_none(),
            |_| false,
            None,
            &mut errors,
        );
        any_method.foreign = foreign_patterns(&routes, &entries, |route| route.methods.is_none());
        let by_method: Vec<(Method, MethodRoutes)> = methods
            .iter()
            .map(|method| {
                // HEAD is served by GET handlers, so it must meet the GET policy: the HEAD
                // router also gets every GET route whose pattern no HEAD route claims.
                let get_for_head = |route: &Route| {
                    *method == Method::HEAD
                        && names(route, &Method::GET)
                        && !names(route, &Method::HEAD)
                };
                let mut routes_for_method = method_routes(
                    &routes,
                    &entries,
                    |route| route.methods.is_none() || names(route, method),
                    get_for_head,
                    Some(method),
                    &mut errors,
                );
                routes_for_method.foreign = foreign_patterns(&routes, &entries, |route| {
                    route.methods.is_none()
                        || names(route, method)
                        || (*method == Method::HEAD && names(route, &Method::GET))
                });
                if *method == Method::HEAD {
                    routes_for_method.companions = head_companions(&routes, &entries);
                }
                (method.clone(), routes_for_method)
            })
            .collect();
        if let Some(error) = errors.into_iter().min_by_key(RouteError::route_index) {
            return Err(error);
        }
        Ok(RouteTable {
            routes,
            entries,
            by_method,
            any_method,
            unmatched,
            policies,
        })
    }
}

/// Refuses what matchit would take literally but the author meant as a parameter in another
/// router's syntax (`:id`, `*rest`, `<id>`), and patterns no request could ever be admitted
/// on (see [`check_reachable`]), so such a route cannot silently never match.
fn check_pattern(pattern: &str) -> Result<(), String> {
    if !pattern.starts_with('/') {
        return Err("a path pattern must start with '/'".to_owned());
    }
    check_reachable(pattern)?;
    for segment in pattern.split('/') {
        if segment.starts_with(':') || segment.starts_with('*') {
            let name = segment.trim_start_matches([':', '*']);
            let written = if segment.starts_with('*') {
                format!("{{*{name}}}")
            } else {
                format!("{{{name}}}")
            };
            return Err(format!(
                "segment {segment:?} is another router's parameter syntax; write {written}"
            ));
        }
        if segment.contains(['<', '>']) {
            return Err(format!(
                "segment {segment:?} is another router's parameter syntax; write parameters as {{name}} and catch-alls as {{*name}}"
            ));
        }
    }
    Ok(())
}

/// Refuses a pattern whose own paths are also read in a form it does not match, so that
/// `unmatched` (or another route) always decides them too: a trailing `/` or an empty segment
/// (the normalized reading drops them), a `.` or `..` segment (such requests are refused), and
/// `%`, whitespace, control or non-ASCII characters outside parameters (requests carry them
/// percent-encoded, and are also read percent-decoded).
fn check_reachable(pattern: &str) -> Result<(), String> {
    if pattern == "/" {
        return Ok(());
    }
    let segments: Vec<&str> = pattern.split('/').skip(1).collect();
    for (index, segment) in segments.iter().enumerate() {
        if segment.is_empty() {
            if index + 1 < segments.len() {
                return Err(
                    "a pattern may not contain an empty segment ('//'): a request for such a path is also decided with its empty segments removed, which this pattern does not match"
                        .to_owned(),
                );
            }
            let without = pattern.trim_end_matches('/');
            let without = if without.is_empty() { "/" } else { without };
            let catch_all = format!("{}/{{*rest}}", without.trim_end_matches('/'));
            return Err(format!(
                "a pattern may not end in '/': a request for {pattern:?} is also decided as {without:?} (the trailing '/' dropped), which this pattern does not match; to guard {pattern:?} write {catch_all:?}, which covers {pattern:?} and {without:?} too"
            ));
        }
        if *segment == "." || *segment == ".." {
            return Err(format!(
                "segment {segment:?}: a pattern may not contain a '.' or '..' segment (requests with one are refused)"
            ));
        }
        if static_text(segment)
            .any(|c| c == '%' || c.is_whitespace() || c.is_control() || !c.is_ascii())
        {
            return Err(format!(
                "segment {segment:?}: a pattern may not contain '%', whitespace, control or non-ASCII characters outside parameters: requests carry them percent-encoded and are also decided on the percent-decoded path, and no such pattern matches both; write a parameter ({{name}}) there and check its value in the handler"
            ));
        }
    }
    Ok(())
}

/// The characters of a pattern segment outside its `{…}` parameters (an escaped `{{` or `}}`
/// is literal text).
fn static_text(segment: &str) -> impl Iterator<Item = char> + '_ {
    let mut depth = 0_usize;
    let mut chars = segment.chars().peekable();
    std::iter::from_fn(move || {
        loop {
            let c = chars.next()?;
            match c {
                '{' | '}' if depth == 0 && chars.peek() == Some(&c) => {
                    chars.next();
                    return Some(c);
                }
                '{' => depth += 1,
                '}' => depth = depth.saturating_sub(1),
                other if depth == 0 => return Some(other),
                _ => {}
            }
        }
    })
}

/// The matchers: one per route (same index), then the bare prefixes `/p` and `/p/` of each
/// catch-all `/p/{*rest}` (just `/` for `/{*rest}`).
fn entries(routes: &[Route]) -> Vec<Entry> {
    let matcher = |pattern: &str| {
        let mut router = Router::new();
        // Each pattern was registered alone already, and a bare prefix of a valid pattern is
        // valid; a failure would only leave this matcher empty (matching nothing).
        let _ = router.insert(pattern, ());
        router
    };
    let mut entries: Vec<Entry> = routes
        .iter()
        .enumerate()
        .map(|(route, r)| Entry {
            route,
            implied: false,
            pattern: Box::from(r.pattern()),
            matcher: matcher(r.pattern()),
        })
        .collect();
    for (route, r) in routes.iter().enumerate() {
        if let Some(prefix) = catch_all_prefix(r.pattern()) {
            let mut implied = vec![format!("{prefix}/")];
            if !prefix.is_empty() {
                implied.push(prefix.to_owned());
            }
            for pattern in implied {
                entries.push(Entry {
                    route,
                    implied: true,
                    matcher: matcher(&pattern),
                    pattern: pattern.into_boxed_str(),
                });
            }
        }
    }
    entries
}

/// `/p` for a catch-all pattern `/p/{*rest}` (empty for `/{*rest}`).
fn catch_all_prefix(pattern: &str) -> Option<&str> {
    let (prefix, last) = pattern.rsplit_once('/')?;
    (last.starts_with("{*") && last.ends_with('}')).then_some(prefix)
}

/// The router of the routes `include` selects (conflicts are errors) plus those `lenient`
/// selects (conflicts skipped: a stronger claim on the pattern exists), then the implied bare
/// prefixes of all of them (skipped where a route names the pattern).
fn method_routes(
    routes: &[Route],
    entries: &[Entry],
    include: impl Fn(&Route) -> bool,
    lenient: impl Fn(&Route) -> bool,
    method: Option<&Method>,
    errors: &mut Vec<RouteError>,
) -> MethodRoutes {
    let mut router = Router::new();
    let mut members: Vec<usize> = Vec::new();
    for (index, route) in routes.iter().enumerate().filter(|(_, r)| include(r)) {
        match router.insert(route.pattern(), index) {
            Ok(()) => members.push(index),
            Err(error) => {
                errors.push(insert_error(index, route, method, error));
                break;
            }
        }
    }
    for (index, route) in routes.iter().enumerate() {
        if !include(route) && lenient(route) && router.insert(route.pattern(), index).is_ok() {
            members.push(index);
        }
    }
    let routed = members.len();
    for (index, entry) in entries.iter().enumerate().filter(|(_, e)| e.implied) {
        if members[..routed].contains(&entry.route) && router.insert(&*entry.pattern, index).is_ok()
        {
            members.push(index);
        }
    }
    let segments: Vec<(usize, Vec<Segment<'_>>)> = members
        .iter()
        .map(|&index| (index, segments(&entries[index].pattern)))
        .collect();
    let mut overlaps = vec![Box::<[usize]>::default(); entries.len()];
    for (index, mine) in &segments {
        overlaps[*index] = segments
            .iter()
            .filter(|(other, theirs)| other != index && may_overlap(mine, theirs))
            .map(|(other, _)| *other)
            .collect();
    }
    MethodRoutes {
        router,
        overlaps,
        companions: Vec::new(),
        foreign: Vec::new(),
    }
}

/// A pattern with its parameter names dropped (`/a/{id}` → `/a/{}`, `/f/{*rest}` → `/f/{*}`):
/// two patterns with the same shape match the same paths.
fn shape(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // An escaped brace (`{{`, `}}`) is literal text.
            '{' | '}' if chars.peek() == Some(&c) => {
                chars.next();
                out.push(c);
                out.push(c);
            }
            '{' => {
                let catch_all = chars.peek() == Some(&'*');
                for inner in chars.by_ref() {
                    if inner == '}' {
                        break;
                    }
                }
                out.push_str(if catch_all { "{*}" } else { "{}" });
            }
            other => out.push(other),
        }
    }
    out
}

/// The routers of the entries whose routes `applies` rejects and whose pattern no entry of a
/// route it accepts has (see [`MethodRoutes::foreign`]). Each pattern shape is kept once; a
/// pattern that conflicts with the ones already held goes to the next router.
fn foreign_patterns(
    routes: &[Route],
    entries: &[Entry],
    applies: impl Fn(&Route) -> bool,
) -> Vec<Router<()>> {
    let mut seen: std::collections::HashSet<String> = entries
        .iter()
        .filter(|entry| applies(&routes[entry.route]))
        .map(|entry| shape(&entry.pattern))
        .collect();
    let mut layers: Vec<Router<()>> = Vec::new();
    for entry in entries
        .iter()
        .filter(|entry| !applies(&routes[entry.route]))
    {
        if !seen.insert(shape(&entry.pattern)) {
            continue;
        }
        if layers
            .iter_mut()
            .any(|layer| layer.insert(&*entry.pattern, ()).is_ok())
        {
            continue;
        }
        let mut layer = Router::new();
        // Every pattern was registered alone already; this cannot fail on an empty router.
        if layer.insert(&*entry.pattern, ()).is_ok() {
            layers.push(layer);
        }
    }
    layers
}

/// For each entry (by index) of a route naming `HEAD`, the entry of a route naming `GET` but
/// not `HEAD` with the same pattern shape, if there is one (see [`MethodRoutes::companions`]).
fn head_companions(routes: &[Route], entries: &[Entry]) -> Vec<Option<usize>> {
    let names =
        |route: &Route, method: &Method| route.methods.as_ref().is_some_and(|m| m.contains(method));
    let get_only = |entry: &Entry| {
        let route = &routes[entry.route];
        names(route, &Method::GET) && !names(route, &Method::HEAD)
    };
    let get_shapes: Vec<(usize, String)> = entries
        .iter()
        .enumerate()
        .filter(|(_, entry)| get_only(entry))
        .map(|(index, entry)| (index, shape(&entry.pattern)))
        .collect();
    entries
        .iter()
        .map(|entry| {
            if !names(&routes[entry.route], &Method::HEAD) {
                return None;
            }
            let wanted = shape(&entry.pattern);
            get_shapes
                .iter()
                .find(|(_, shape)| *shape == wanted)
                .map(|(index, _)| *index)
        })
        .collect()
}

/// A pattern segment, for the overlap test.
#[derive(Debug, PartialEq)]
enum Segment<'a> {
    Static(&'a str),
    /// A parameter, or text mixed with one: matches some single segments.
    Wild,
    CatchAll,
}

fn segments(pattern: &str) -> Vec<Segment<'_>> {
    pattern
        .split('/')
        .skip(1)
        .map(|segment| {
            if segment.starts_with("{*") {
                Segment::CatchAll
            } else if segment.contains('{') {
                Segment::Wild
            } else {
                Segment::Static(segment)
            }
        })
        .collect()
}

/// Whether some path could match both patterns (an over-approximation: a `true` is checked
/// against the path at lookup).
fn may_overlap(a: &[Segment<'_>], b: &[Segment<'_>]) -> bool {
    let mut index = 0;
    loop {
        match (a.get(index), b.get(index)) {
            (Some(Segment::CatchAll), _) | (_, Some(Segment::CatchAll)) => return true,
            (Some(Segment::Static(x)), Some(Segment::Static(y))) if x != y => return false,
            (Some(_), Some(_)) => index += 1,
            (None, None) => return true,
            _ => return false,
        }
    }
}

fn insert_error(
    index: usize,
    route: &Route,
    method: Option<&Method>,
    error: InsertError,
) -> RouteError {
    match error {
        InsertError::Conflict { with } => RouteError::Conflict {
            index,
            pattern: route.pattern().to_owned(),
            with,
            method: method.map_or_else(|| "all methods".to_owned(), ToString::to_string),
        },
        other => RouteError::Pattern {
            index,
            pattern: route.pattern().to_owned(),
            message: other.to_string(),
        },
    }
}

impl RouteTable {
    /// Starts building a table.
    pub fn builder() -> RouteTableBuilder {
        RouteTableBuilder::default()
    }

    /// A table with no routes: every request gets `policy` (used by per-route layers).
    pub fn single(policy: CompiledPolicy) -> Self {
        Self {
            routes: Vec::new(),
            entries: Vec::new(),
            by_method: Vec::new(),
            any_method: MethodRoutes::default(),
            unmatched: policy,
            policies: PolicySet::new(),
        }
    }

    fn method_routes(&self, method: &Method) -> &MethodRoutes {
        self.by_method
            .iter()
            .find(|(candidate, _)| candidate == method)
            .map_or(&self.any_method, |(_, routes)| routes)
    }

    fn found(&self, entry: Option<usize>) -> RouteMatch<'_> {
        match entry
            .and_then(|entry| self.entries.get(entry))
            .and_then(|entry| self.routes.get(entry.route))
        {
            Some(route) => RouteMatch {
                route: Some(route),
                policy: &route.policy,
            },
            None => RouteMatch {
                route: None,
                policy: &self.unmatched,
            },
        }
    }

    /// Adds the `GET` route that guards a `HEAD` request beside the matched `entry` of a
    /// route naming `HEAD` (see [`MethodRoutes::companions`]).
    fn push_companion<'a>(
        &'a self,
        routes: &MethodRoutes,
        entry: usize,
        all: &mut RouteMatches<'a>,
    ) {
        if let Some(&Some(companion)) = routes.companions.get(entry) {
            all.push(self.found(Some(companion)));
        }
    }

    /// The most specific route for `path` as given (a catch-all's bare prefix included), or
    /// the `unmatched` default. Cost is independent of the number of routes.
    ///
    /// This is one path as sent; use [`RouteTable::matches`] to decide a request.
    pub fn lookup(&self, method: &Method, path: &str) -> RouteMatch<'_> {
        let entry = self
            .method_routes(method)
            .router
            .at(path)
            .ok()
            .map(|m| *m.value);
        self.found(entry)
    }

    /// Every route guarding a request: for each path of `target` (routed, raw, decoded,
    /// normalized), its most specific route — or, with [`Dispatch::EveryMatch`], every route
    /// matching it, and `unmatched` when a pattern matching it has no route for the method —
    /// and where the most specific is a catch-all's implied bare prefix, also the routes it
    /// was preferred to; for `HEAD`, beside a route naming `HEAD`, the `GET` route with the
    /// same pattern; `unmatched` for a path no route matches. The request must satisfy every
    /// one. A clean path (no `%`, no empty or dot segment, no trailing
    /// `/`) dispatched most-specific-first costs one lookup and no allocation.
    pub fn matches(&self, method: &Method, target: RequestTarget<'_>) -> RouteMatches<'_> {
        let routes = self.method_routes(method);
        let every = target.dispatch_kind() == Dispatch::EveryMatch;
        let mut found: Option<RouteMatches<'_>> = None;
        match target.only_reading() {
            // The common request: one reading, no list of readings built.
            Some(path) => self.guards_of(routes, path, every, &mut found),
            None => {
                for path in target.interpretations().iter() {
                    self.guards_of(routes, path, every, &mut found);
                }
            }
        }
        found.unwrap_or_else(|| RouteMatches {
            first: self.found(None),
            more: Vec::new(),
        })
    }

    /// Adds the routes guarding one reading of a request's path to `found` (the first reading
    /// creates it, its route first).
    fn guards_of<'a>(
        &'a self,
        routes: &MethodRoutes,
        path: &str,
        every: bool,
        found: &mut Option<RouteMatches<'a>>,
    ) {
        let best = routes.router.at(path).ok().map(|m| *m.value);
        let primary = self.found(best);
        let all = found.get_or_insert_with(|| RouteMatches {
            first: primary,
            more: Vec::new(),
        });
        all.push(primary);
        if every && routes.foreign.iter().any(|layer| layer.at(path).is_ok()) {
            all.push(self.found(None));
        }
        let Some(best) = best else { return };
        self.push_companion(routes, best, all);
        let implied = self.entries[best].implied;
        if !(every || implied) {
            return;
        }
        for &other in routes.overlaps.get(best).map_or(&[][..], |o| &o[..]) {
            let entry = &self.entries[other];
            if (every || !entry.implied) && entry.matcher.at(path).is_ok() {
                all.push(self.found(Some(other)));
                self.push_companion(routes, other, all);
            }
        }
    }

    /// The routes, in declaration order.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The policy for requests no route matches.
    pub fn unmatched(&self) -> &CompiledPolicy {
        &self.unmatched
    }

    /// The named policies.
    pub fn policies(&self) -> &PolicySet {
        &self.policies
    }
}

impl fmt::Debug for RouteTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteTable")
            .field("routes", &self.routes)
            .field("unmatched", &self.unmatched)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Policy {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn table() -> RouteTable {
        RouteTable::builder()
            .policy("admin", p("group:admin"))
            .route("/health", p("public"))
            .route("/me", p("authenticated"))
            .route("/admin/{*rest}", p("policy:admin"))
            .route_methods([Method::GET], "/admin/public", p("public"))
            .route_methods([Method::GET], "/reports/{id}", p("scope:reports/read"))
            .route_methods(
                [Method::POST, Method::PUT],
                "/reports/{id}",
                p("scope:reports/write"),
            )
            .route_methods([Method::HEAD], "/reports/{id}/meta", p("group:head"))
            .route_methods([Method::GET], "/reports/{id}/meta", p("group:get"))
            .route("/users/{id}", p("group:users"))
            .route("/users/me", p("authenticated"))
            .route("/files/{*path}", p("group:files"))
            .unmatched(p("group:fallback"))
            .build()
            .expect("valid table")
    }

    #[test]
    fn lookups_pick_the_most_specific_route_for_the_method() {
        let table = table();
        // (method, path, expected pattern, expected policy text)
        let cases = [
            ("GET", "/health", Some("/health"), "public"),
            ("DELETE", "/health", Some("/health"), "public"),
            ("GET", "/me", Some("/me"), "authenticated"),
            ("GET", "/me/", None, "group:fallback"),
            ("GET", "/admin/public", Some("/admin/public"), "public"),
            (
                "POST",
                "/admin/public",
                Some("/admin/{*rest}"),
                "policy:admin",
            ),
            ("GET", "/admin/x/y", Some("/admin/{*rest}"), "policy:admin"),
            // A catch-all guards its bare prefix (no route names it).
            ("GET", "/admin", Some("/admin/{*rest}"), "policy:admin"),
            ("GET", "/admin/", Some("/admin/{*rest}"), "policy:admin"),
            ("GET", "/files", Some("/files/{*path}"), "group:files"),
            (
                "GET",
                "/reports/7",
                Some("/reports/{id}"),
                "scope:reports/read",
            ),
            (
                "HEAD",
                "/reports/7",
                Some("/reports/{id}"),
                "scope:reports/read",
            ),
            (
                "POST",
                "/reports/7",
                Some("/reports/{id}"),
                "scope:reports/write",
            ),
            (
                "PUT",
                "/reports/7",
                Some("/reports/{id}"),
                "scope:reports/write",
            ),
            ("DELETE", "/reports/7", None, "group:fallback"),
            ("PATCH", "/reports/7", None, "group:fallback"),
            (
                "HEAD",
                "/reports/7/meta",
                Some("/reports/{id}/meta"),
                "group:head",
            ),
            (
                "GET",
                "/reports/7/meta",
                Some("/reports/{id}/meta"),
                "group:get",
            ),
            ("POST", "/reports/7/meta", None, "group:fallback"),
            ("GET", "/users/me", Some("/users/me"), "authenticated"),
            ("GET", "/users/42", Some("/users/{id}"), "group:users"),
            ("GET", "/users/42/x", None, "group:fallback"),
            (
                "GET",
                "/files/a/b/c.txt",
                Some("/files/{*path}"),
                "group:files",
            ),
            ("OPTIONS", "/files/a", Some("/files/{*path}"), "group:files"),
            ("GET", "", None, "group:fallback"),
            ("GET", "/", None, "group:fallback"),
            ("GET", "/héllo/%ff", None, "group:fallback"),
        ];
        for (method, path, pattern, policy) in cases {
            let method = Method::from_bytes(method.as_bytes()).expect("method");
            let found = table.lookup(&method, path);
            assert_eq!(
                (found.pattern(), found.policy().text()),
                (pattern, policy),
                "{method} {path}"
            );
        }
    }

    fn guards(table: &RouteTable, method: &str, target: RequestTarget<'_>) -> Vec<String> {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        table
            .matches(&method, target)
            .iter()
            .map(|found| found.pattern().unwrap_or("<unmatched>").to_owned())
            .collect()
    }

    #[test]
    fn every_spelling_of_a_path_is_guarded_by_its_own_route_too() {
        let table = table();
        // (method, path, guarding routes: the routed path's first)
        let cases: [(&str, &str, &[&str]); 12] = [
            ("GET", "/admin/users", &["/admin/{*rest}"]),
            ("GET", "/health", &["/health"]),
            ("GET", "/%61dmin/users", &["<unmatched>", "/admin/{*rest}"]),
            (
                "GET",
                "/health/../admin/x",
                &["<unmatched>", "/admin/{*rest}"],
            ),
            (
                "GET",
                "/files/a%2F..%2F..%2Fadmin%2Fx",
                &["/files/{*path}", "/admin/{*rest}"],
            ),
            ("GET", "//admin//users", &["<unmatched>", "/admin/{*rest}"]),
            ("GET", "/users/me/", &["<unmatched>", "/users/me"]),
            ("GET", "/users/m%65", &["/users/{id}", "/users/me"]),
            (
                "GET",
                "/admin/public/",
                &["/admin/{*rest}", "/admin/public"],
            ),
            (
                "GET",
                "/admin/./public",
                &["/admin/{*rest}", "/admin/public"],
            ),
            ("POST", "/admin/./public", &["/admin/{*rest}"]),
            ("GET", "/h%65alth", &["<unmatched>", "/health"]),
        ];
        for (method, path, expected) in cases {
            assert_eq!(
                guards(&table, method, RequestTarget::new(path)),
                expected,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn actix_dispatch_applies_every_route_the_path_matches() {
        let table = RouteTable::builder()
            .route("/items/special", p("authenticated"))
            .route_methods([Method::DELETE], "/items/{id}", p("group:admin"))
            .route_methods([Method::GET], "/users/me", p("authenticated"))
            .route("/users/{id}", p("group:users"))
            .build()
            .expect("valid");
        let actix = |path| RequestTarget::actix(path, path);
        // Most specific only (axum): the static route.
        assert_eq!(
            guards(&table, "DELETE", RequestTarget::new("/items/special")),
            ["/items/special"]
        );
        // Every match (actix falls through a failed method guard to the next resource).
        assert_eq!(
            guards(&table, "DELETE", actix("/items/special")),
            ["/items/special", "/items/{id}"]
        );
        // `/items/{id}` names only DELETE: for GET its pattern meets `unmatched`, since an
        // actix resource with that pattern and no method guard would run for GET too.
        assert_eq!(
            guards(&table, "GET", actix("/items/special")),
            ["/items/special", "<unmatched>"]
        );
        assert_eq!(
            guards(&table, "GET", RequestTarget::new("/items/special")),
            ["/items/special"]
        );
        assert_eq!(
            guards(&table, "GET", actix("/users/me")),
            ["/users/me", "/users/{id}"]
        );
        assert_eq!(
            guards(&table, "POST", actix("/users/me")),
            ["/users/{id}", "<unmatched>"]
        );
        // actix routes on its decoded path; the raw one is guarded as well.
        assert_eq!(
            guards(
                &table,
                "GET",
                RequestTarget::actix("/users/me", "/users/%6De")
            ),
            ["/users/me", "/users/{id}"]
        );
    }

    /// The policies (text) guarding a request, in order.
    fn policies(table: &RouteTable, method: &str, target: RequestTarget<'_>) -> Vec<String> {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        table
            .matches(&method, target)
            .iter()
            .map(|found| found.policy().text().to_owned())
            .collect()
    }

    #[test]
    fn under_every_match_a_pattern_no_route_gives_the_method_meets_unmatched() {
        let table = RouteTable::builder()
            .route_methods([Method::GET], "/things/{id}", p("group:admin"))
            .route("/things/open", p("public"))
            .route_methods([Method::POST], "/orders/{id}", p("group:orders"))
            .route_methods([Method::GET], "/orders/{id}", p("authenticated"))
            .route_methods([Method::GET], "/orders/new", p("public"))
            .route_methods([Method::PATCH], "/files/{name}/meta", p("group:meta"))
            .route_methods([Method::PUT], "/files/{*rest}", p("group:files"))
            .route_methods([Method::GET], "/files/readme", p("public"))
            .route("/{page}", p("public"))
            .unmatched(p("group:fallback"))
            .build()
            .expect("valid");
        let actix = |path| RequestTarget::actix(path, path);
        // (method, path, policies under every match)
        let cases: [(&str, &str, &[&str]); 10] = [
            // A resource `/things/{id}` without method guards registered first runs for
            // POST /things/open: the table gives POST nothing there, so `unmatched` guards.
            ("POST", "/things/open", &["public", "group:fallback"]),
            ("GET", "/things/open", &["public", "group:admin"]),
            ("POST", "/things/7", &["group:fallback"]),
            // Another route with the same pattern gives the method a policy there.
            ("POST", "/orders/7", &["group:orders"]),
            ("POST", "/orders/new", &["group:orders", "group:fallback"]),
            ("GET", "/orders/new", &["public", "authenticated"]),
            ("DELETE", "/orders/7", &["group:fallback"]),
            // A catch-all's bare prefix is one of its patterns; patterns that conflict in one
            // router (a parameter and a catch-all at the same position) both count.
            ("GET", "/files", &["public", "group:fallback"]),
            ("GET", "/files/readme", &["public", "group:fallback"]),
            // A method no route names: every method-specific pattern is foreign to it.
            ("PURGE", "/things/open", &["public", "group:fallback"]),
        ];
        for (method, path, expected) in cases {
            assert_eq!(
                policies(&table, method, actix(path)),
                expected,
                "{method} {path}"
            );
        }
        // Most-specific dispatch (axum) answers 405 on a method mismatch: no such rule.
        assert_eq!(
            policies(&table, "POST", RequestTarget::new("/things/open")),
            ["public"]
        );
    }

    #[test]
    fn a_head_route_and_the_get_route_of_its_pattern_both_guard_head() {
        let table = RouteTable::builder()
            .route_methods([Method::GET], "/reports/{id}", p("group:admin"))
            .route_methods([Method::HEAD], "/reports/{id}", p("public"))
            .route_methods([Method::GET], "/files/{*rest}", p("group:files"))
            .route_methods([Method::HEAD], "/files/{*path}", p("authenticated"))
            .route_methods([Method::HEAD], "/only-head", p("public"))
            .route_methods([Method::GET, Method::HEAD], "/both", p("group:both"))
            .build()
            .expect("valid");
        for dispatch in [Dispatch::MostSpecific, Dispatch::EveryMatch] {
            let head = |path| policies(&table, "HEAD", RequestTarget::new(path).dispatch(dispatch));
            assert_eq!(
                head("/reports/7"),
                ["public", "group:admin"],
                "{dispatch:?}"
            );
            // Parameter names are ignored, and a catch-all's bare prefix pairs up too.
            assert_eq!(head("/files/a/b"), ["authenticated", "group:files"]);
            assert_eq!(head("/files"), ["authenticated", "group:files"]);
            assert_eq!(head("/only-head"), ["public"]);
            assert_eq!(head("/both"), ["group:both"]);
        }
        // `lookup` still names the most specific route for the method.
        assert_eq!(
            table.lookup(&Method::HEAD, "/reports/7").policy().text(),
            "public"
        );
        assert_eq!(
            policies(&table, "GET", "/reports/7".into()),
            ["group:admin"]
        );
    }

    #[test]
    fn patterns_no_request_could_be_decided_on_alone_are_build_errors() {
        for (pattern, message) in [
            (
                "/admin/",
                "route \"/admin/\": a pattern may not end in '/': a request for \"/admin/\" is also decided as \"/admin\" (the trailing '/' dropped), which this pattern does not match; to guard \"/admin/\" write \"/admin/{*rest}\", which covers \"/admin/\" and \"/admin\" too",
            ),
            ("/t/{id}/", "write \"/t/{id}/{*rest}\""),
            ("/a//b", "a pattern may not contain an empty segment ('//')"),
            ("//", "a pattern may not contain an empty segment ('//')"),
            (
                "/a/./b",
                "segment \".\": a pattern may not contain a '.' or '..' segment",
            ),
            (
                "/a/..",
                "segment \"..\": a pattern may not contain a '.' or '..' segment",
            ),
            (
                "/caf%C3%A9",
                "segment \"caf%C3%A9\": a pattern may not contain '%'",
            ),
            ("/caf\u{e9}", "non-ASCII characters outside parameters"),
            ("/a b", "whitespace"),
            ("/x-{id}%", "segment \"x-{id}%\""),
        ] {
            let error = RouteTable::builder()
                .route(pattern, p("public"))
                .build()
                .expect_err(pattern);
            assert!(matches!(error, RouteError::Pattern { .. }), "{error}");
            assert!(error.to_string().contains(message), "{pattern}: {error}");
        }
        for pattern in [
            "/",
            "/.well-known/jwks.json",
            "/a..b/c.",
            "/files/{*rest}",
            "/{caf\u{e9}}",
            "/x-{id}",
            "/~user/;v=1/a+b@c:d",
        ] {
            RouteTable::builder()
                .route(pattern, p("public"))
                .build()
                .unwrap_or_else(|error| panic!("{pattern}: {error}"));
        }
    }

    #[test]
    fn shapes_ignore_parameter_names_only() {
        assert_eq!(shape("/a/{id}/b"), "/a/{}/b");
        assert_eq!(shape("/f/{*rest}"), "/f/{*}");
        assert_eq!(shape("/x-{a}.{b}"), "/x-{}.{}");
        assert_eq!(shape("/lit/{{x}}"), "/lit/{{x}}");
        assert_ne!(shape("/a/{x}"), shape("/a/{*x}"));
    }

    #[test]
    fn a_bare_prefix_named_by_a_route_keeps_that_route_and_otherwise_adds_the_catch_all() {
        let table = RouteTable::builder()
            .route("/admin/{*rest}", p("group:admin"))
            .route("/admin", p("public"))
            .route("/{page}", p("authenticated"))
            .route("/docs/{*rest}", p("public"))
            .build()
            .expect("valid");
        assert_eq!(guards(&table, "GET", "/admin".into()), ["/admin"]);
        assert_eq!(
            guards(&table, "GET", "/admin/".into()),
            ["/admin/{*rest}", "/admin"]
        );
        // `/docs` is implied by the catch-all and also matched by `/{page}`: both guard it.
        assert_eq!(
            guards(&table, "GET", "/docs".into()),
            ["/docs/{*rest}", "/{page}"]
        );
        assert_eq!(guards(&table, "GET", "/other".into()), ["/{page}"]);
    }

    #[test]
    fn another_routers_syntax_and_unknown_methods_are_build_errors() {
        for (pattern, message) in [
            (
                "/reports/:id",
                "segment \":id\" is another router's parameter syntax; write {id}",
            ),
            (
                "/files/*rest",
                "segment \"*rest\" is another router's parameter syntax; write {*rest}",
            ),
            (
                "/users/<id>",
                "segment \"<id>\" is another router's parameter syntax",
            ),
        ] {
            let error = RouteTable::builder()
                .route(pattern, p("public"))
                .build()
                .expect_err(pattern);
            assert!(error.to_string().contains(message), "{error}");
        }
        let purge = Method::from_bytes(b"PURGE").expect("token");
        let error = RouteTable::builder()
            .route_methods([purge.clone()], "/cache", p("group:ops"))
            .build()
            .expect_err("PURGE is not standard");
        assert!(matches!(error, RouteError::UnknownMethod { .. }), "{error}");
        let table = RouteTable::builder()
            .extension_methods([purge.clone()])
            .route_methods([purge.clone()], "/cache", p("group:ops"))
            .build()
            .expect("allowed extension");
        assert_eq!(table.lookup(&purge, "/cache").pattern(), Some("/cache"));
        let error = RouteTable::builder()
            .issuers(["main"])
            .route("/x", p("not issuer:partnr"))
            .build()
            .expect_err("unknown issuer");
        assert_eq!(
            error.to_string(),
            "route \"/x\": issuer:partnr names no configured issuer (configured: main)"
        );
    }

    #[test]
    fn overlapping_routes_for_one_method_are_errors() {
        type Spec = (Option<Vec<Method>>, &'static str);
        // (routes, expected error index or None when fine)
        let cases: Vec<(Vec<Spec>, Option<usize>)> = vec![
            (vec![(None, "/a/{x}"), (None, "/a/{y}")], Some(1)),
            (vec![(None, "/a"), (None, "/a")], Some(1)),
            (vec![(None, "/a/{x}"), (None, "/a/{*rest}")], Some(1)),
            (vec![(None, "/a/{*rest}"), (None, "/a/{x}")], Some(1)),
            (vec![(None, "/a/{x}/b"), (None, "/a/{*rest}")], Some(1)),
            (
                vec![(Some(vec![Method::GET]), "/a/{x}"), (None, "/a/{y}")],
                Some(1),
            ),
            (
                vec![
                    (None, "/z"),
                    (None, "/a/{y}"),
                    (Some(vec![Method::GET]), "/a/{x}"),
                ],
                Some(2),
            ),
            (
                vec![
                    (Some(vec![Method::GET]), "/a/{x}"),
                    (Some(vec![Method::POST]), "/a/{y}"),
                ],
                None,
            ),
            (
                vec![
                    (Some(vec![Method::GET]), "/a/{x}"),
                    (Some(vec![Method::POST]), "/a/{*rest}"),
                ],
                None,
            ),
            (
                vec![
                    (Some(vec![Method::GET, Method::POST]), "/a"),
                    (Some(vec![Method::POST]), "/a"),
                ],
                Some(1),
            ),
            (
                vec![
                    (Some(vec![Method::GET]), "/a"),
                    (Some(vec![Method::HEAD]), "/a"),
                ],
                None,
            ),
            (
                vec![(None, "/a"), (None, "/a/{x}"), (None, "/a/static")],
                None,
            ),
        ];
        for (specs, expected) in cases {
            let description = format!("{specs:?}");
            let mut builder = RouteTable::builder();
            for (methods, pattern) in specs {
                builder = match methods {
                    Some(methods) => builder.route_methods(methods, pattern, p("authenticated")),
                    None => builder.route(pattern, p("authenticated")),
                };
            }
            let result = builder.build();
            match expected {
                None => assert!(result.is_ok(), "{description}: {:?}", result.err()),
                Some(index) => {
                    let error = result.expect_err(&description);
                    assert!(matches!(error, RouteError::Conflict { .. }), "{error}");
                    assert_eq!(error.route_index(), Some(index), "{description}: {error}");
                }
            }
        }
    }

    #[test]
    fn bad_routes_are_reported_with_their_index() {
        let error = RouteTable::builder()
            .route("/a/{id}", p("group:x"))
            .route("/b/{id}", p("policy:nope"))
            .build()
            .expect_err("unknown policy");
        assert_eq!(
            error.to_string(),
            "route \"/b/{id}\": unknown policy \"nope\" (referenced as policy:nope)"
        );
        assert_eq!(error.route_index(), Some(1));

        let cases: Vec<(RouteTableBuilder, &str)> = vec![
            (
                RouteTable::builder().route("no-slash", p("public")),
                "route \"no-slash\": a path pattern must start with '/'",
            ),
            (
                RouteTable::builder().route("/{*rest}/x", p("public")),
                "route \"/{*rest}/x\": Catch-all parameters are only allowed at the end of a route",
            ),
            (
                RouteTable::builder().route_methods([], "/x", p("public")),
                "route \"/x\": methods must list at least one method (omit it for all methods)",
            ),
            (
                RouteTable::builder().unmatched(p("policy:x")),
                "default policy: unknown policy \"x\" (referenced as policy:x)",
            ),
            (
                RouteTable::builder()
                    .route("/a/{x}", p("public"))
                    .route("/a/{y}", p("public")),
                "route \"/a/{y}\" conflicts with route \"/a/{x}\" for all methods: the same pattern twice (parameter names are ignored) or a parameter and a catch-all at the same position",
            ),
            (
                RouteTable::builder()
                    .route_methods([Method::GET], "/a/{x}", p("public"))
                    .route("/a/{*y}", p("public")),
                "route \"/a/{*y}\" conflicts with route \"/a/{x}\" for GET: the same pattern twice (parameter names are ignored) or a parameter and a catch-all at the same position",
            ),
        ];
        for (builder, message) in cases {
            assert_eq!(builder.build().expect_err(message).to_string(), message);
        }
    }

    #[test]
    fn unmatched_defaults_to_deny() {
        let table = RouteTable::builder().build().expect("empty table");
        let found = table.lookup(&Method::GET, "/anything");
        assert_eq!(found.pattern(), None);
        assert_eq!(found.policy().text(), "deny");
        assert!(found.policy().is_deny());
    }

    #[test]
    fn lookup_cost_does_not_depend_on_route_count() {
        // Structural check (the bench measures time): one router per named method.
        let mut builder = RouteTable::builder();
        for index in 0..1_000 {
            builder = builder.route_methods(
                [Method::GET],
                format!("/r{index}/{{id}}"),
                p("authenticated"),
            );
        }
        let table = builder.build().expect("valid");
        assert_eq!(table.by_method.len(), 2, "GET plus the implied HEAD");
        assert_eq!(
            table.lookup(&Method::GET, "/r999/x").pattern(),
            Some("/r999/{id}")
        );
    }
}
