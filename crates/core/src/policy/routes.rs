//! The route table: method + path pattern → compiled policy, with the most specific pattern
//! winning and a default for requests no route matches (DESIGN.md §6).
//!
//! Patterns use matchit 0.8 syntax (the same as axum): `/users/{id}`, `/files/{*rest}`; static
//! segments beat parameters, which beat catch-alls. A request is matched only against the
//! routes that allow its method. Lookup costs one small scan over the *methods* named in the
//! table plus one radix-tree walk, so it does not grow with the number of routes: the table
//! keeps one router per explicitly named method (holding that method's routes and the
//! all-method routes) and one router of the all-method routes for every other method.
//!
//! `HEAD` requests also match `GET` routes (axum and actix serve `HEAD` with the `GET`
//! handler, so the `GET` policy must guard it); a route that names `HEAD` itself wins over a
//! `GET` route with the same pattern.

use std::fmt;
use std::sync::Arc;

use http::Method;
use matchit::{InsertError, Router};

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
}

/// Method + path → policy, built once at start-up.
///
/// Patterns use matchit 0.8 (axum) syntax; the most specific pattern among the routes allowing
/// the request's method wins (static > parameter > catch-all), and `{*rest}` needs at least one
/// segment (`/admin/{*rest}` does not match `/admin` or `/admin/`). Paths are matched as sent
/// (no percent-decoding or trailing-slash folding, like axum's router). `HEAD` requests also
/// match `GET` routes, since frameworks serve `HEAD` with the `GET` handler; a route naming
/// `HEAD` wins over a `GET` route with the same pattern. For one method, the same pattern twice
/// (parameter names ignored) or a parameter and a catch-all at the same position is a build
/// error; the same path with disjoint methods is fine. Lookup does not grow with the number of
/// routes: one router per named method plus one for the rest.
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
///     .unmatched(Policy::authenticated())
///     .build()?;
/// let get = table.lookup(&Method::GET, "/admin/public");
/// assert_eq!(get.pattern(), Some("/admin/public"));
/// assert!(get.policy().is_public());
/// // POST has no /admin/public route, so the catch-all applies:
/// let post = table.lookup(&Method::POST, "/admin/public");
/// assert_eq!(post.pattern(), Some("/admin/{*rest}"));
/// assert_eq!(post.policy().text(), "policy:admin");
/// // Nothing matches: the default.
/// let other = table.lookup(&Method::GET, "/elsewhere");
/// assert_eq!(other.pattern(), None);
/// assert_eq!(other.policy().text(), "authenticated");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RouteTable {
    routes: Vec<Route>,
    by_method: Vec<(Method, Router<usize>)>,
    any_method: Router<usize>,
    unmatched: CompiledPolicy,
    policies: PolicySet,
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
    /// A pattern matchit cannot register (bad parameter syntax, no leading `/`, …).
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
}

#[derive(Debug)]
struct RouteSpec {
    pattern: String,
    methods: Option<Vec<Method>>,
    policy: Policy,
}

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

    /// A route for the listed methods only (duplicates are ignored; an empty list is an error
    /// at build).
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

    /// The policy for requests no route matches (default: `authenticated`).
    pub fn unmatched(mut self, policy: Policy) -> Self {
        self.unmatched = Some(policy);
        self
    }

    /// Compiles every policy and builds the routers.
    ///
    /// # Errors
    /// See [`RouteError`]; the error about the earliest-declared route is reported.
    pub fn build(self) -> Result<RouteTable, RouteError> {
        let policies = PolicySet::from_policies(self.policies).map_err(RouteError::Policies)?;
        let unmatched = policies
            .compile(&self.unmatched.unwrap_or_else(Policy::authenticated))
            .map_err(RouteError::Unmatched)?;
        let mut routes = Vec::with_capacity(self.routes.len());
        for (index, spec) in self.routes.into_iter().enumerate() {
            if !spec.pattern.starts_with('/') {
                return Err(RouteError::Pattern {
                    index,
                    pattern: spec.pattern,
                    message: "a path pattern must start with '/'".to_owned(),
                });
            }
            if spec.methods.as_ref().is_some_and(Vec::is_empty) {
                return Err(RouteError::NoMethods {
                    index,
                    pattern: spec.pattern,
                });
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
        let mut errors = Vec::new();
        let any_method = build_router(&routes, |route| route.methods.is_none(), None, &mut errors);
        let mut by_method: Vec<(Method, Router<usize>)> = methods
            .iter()
            .map(|method| {
                let router = build_router(
                    &routes,
                    |route| route.methods.as_ref().is_none_or(|m| m.contains(method)),
                    Some(method),
                    &mut errors,
                );
                (method.clone(), router)
            })
            .collect();
        if let Some(error) = errors.into_iter().min_by_key(|error| error.route_index()) {
            return Err(error);
        }
        add_get_routes_to_head(&routes, &mut by_method, &any_method);
        Ok(RouteTable {
            routes,
            by_method,
            any_method,
            unmatched,
            policies,
        })
    }
}

/// A router of the routes `include` selects, in declaration order; the first conflict goes to
/// `errors`.
fn build_router(
    routes: &[Route],
    include: impl Fn(&Route) -> bool,
    method: Option<&Method>,
    errors: &mut Vec<RouteError>,
) -> Router<usize> {
    let mut router = Router::new();
    for (index, route) in routes.iter().enumerate().filter(|(_, r)| include(r)) {
        if let Err(error) = router.insert(route.pattern(), index) {
            errors.push(insert_error(index, route, method, error));
            break;
        }
    }
    router
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

/// `HEAD` is served by `GET` handlers, so it must meet the `GET` policy: the `HEAD` router gets
/// every `GET` route whose pattern no explicit `HEAD` route already claims.
fn add_get_routes_to_head(
    routes: &[Route],
    by_method: &mut Vec<(Method, Router<usize>)>,
    any_method: &Router<usize>,
) {
    let names =
        |route: &Route, method: &Method| route.methods.as_ref().is_some_and(|m| m.contains(method));
    if !routes.iter().any(|route| names(route, &Method::GET)) {
        return;
    }
    let position = match by_method.iter().position(|(m, _)| *m == Method::HEAD) {
        Some(position) => position,
        None => {
            by_method.push((Method::HEAD, any_method.clone()));
            by_method.len() - 1
        }
    };
    let router = &mut by_method[position].1;
    for (index, route) in routes.iter().enumerate() {
        if names(route, &Method::GET) && !names(route, &Method::HEAD) {
            // A conflict here is with an explicit HEAD route, which wins; conflicts with
            // all-method routes were already reported by the GET router.
            let _ = router.insert(route.pattern(), index);
        }
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
            by_method: Vec::new(),
            any_method: Router::new(),
            unmatched: policy,
            policies: PolicySet::new(),
        }
    }

    /// The route and policy for a request. Cost is independent of the number of routes.
    pub fn lookup(&self, method: &Method, path: &str) -> RouteMatch<'_> {
        let router = self
            .by_method
            .iter()
            .find(|(candidate, _)| candidate == method)
            .map_or(&self.any_method, |(_, router)| router);
        match router
            .at(path)
            .ok()
            .and_then(|found| self.routes.get(*found.value))
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
            ("GET", "/admin", None, "group:fallback"),
            ("GET", "/admin/", None, "group:fallback"),
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
    fn unmatched_defaults_to_authenticated() {
        let table = RouteTable::builder().build().expect("empty table");
        let found = table.lookup(&Method::GET, "/anything");
        assert_eq!(found.pattern(), None);
        assert_eq!(found.policy().text(), "authenticated");
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
