//! The cache-safe IAM policy (`PolicyScope::Table`) against route patterns IAM wildcards
//! cannot write as they are: a `*` that may span several segments, parameters with text
//! around them, IAM wildcard characters in a pattern. With the authorizer cache on, API
//! Gateway applies the policy returned for a principal's first request to every later request
//! of that principal, so the policy never grants what the in-process layer refuses; where it
//! cannot write the table exactly it refuses instead, except for the very request it was
//! returned for, which it grants by its exact ARN when the layer allows it.

use cognito_authz_lambda::{AuthorizerError, LambdaAuthorizer};
use cognito_authz_testkit::LocalIssuer;
use http::Method;
use serde_json::Value;

mod iam;
mod pool;
mod random_table;
mod requests;
mod table;
use iam::iam_allows;
use pool::{ARN_PREFIX, issuer, runtime};
use requests::{headers, request_event};
use table::load;

/// Whether a path can be written in a resource ARN as itself: no IAM wildcard (`*`, `?`) and
/// no `$` (a policy variable).
fn writable(path: &str) -> bool {
    !path.contains(['*', '?', '$'])
}

/// The policy returned for the principal's first request `GET first`, which fills API
/// Gateway's cache.
fn first_policy(issuer: &LocalIssuer, table: &str, token: Option<&str>, first: &str) -> Value {
    let lambda = LambdaAuthorizer::new(load(table, issuer));
    runtime()
        .block_on(lambda.handle(request_event("GET", first, token)))
        .unwrap_or_else(|error| panic!("{first}: {error:?}"))
}

/// The principal's first request (which fills API Gateway's cache) and later requests checked
/// against the policy returned for it: what goes wrong — a later request the policy grants
/// but the layer refuses, or the first request itself refused by its own policy although the
/// layer allows it and its path can be written exactly.
fn cached_policy_errors(
    issuer: &LocalIssuer,
    table: &str,
    token: Option<&str>,
    first: &str,
    later: &[&str],
) -> Vec<String> {
    let authorizer = load(table, issuer);
    let runtime = runtime();
    let policy = first_policy(issuer, table, token, first);
    let mut wrong = Vec::new();
    let first_allowed = runtime
        .block_on(authorizer.authorize(&Method::GET, first, &headers(token)))
        .is_allowed();
    if first_allowed && writable(first) && !iam_allows(&policy, &format!("{ARN_PREFIX}GET{first}"))
    {
        wrong.push(format!(
            "GET {first} (the request that filled the cache): the layer allows, the policy returned for it refuses\n{policy:#}"
        ));
    }
    for path in later {
        let layer = runtime
            .block_on(authorizer.authorize(&Method::GET, *path, &headers(token)))
            .is_allowed();
        let cached = iam_allows(&policy, &format!("{ARN_PREFIX}GET{path}"));
        if cached && !layer {
            wrong.push(format!(
                "GET {path}: cached policy grants, layer refuses\n{policy:#}"
            ));
        }
    }
    wrong
}

/// A parameter with static text around it (`/files/v{version}`, `/users/@{handle}`: the route
/// table accepts such segments) matches some segments and not others, which no IAM resource
/// can say: the cached policy grants none of the paths such a pattern could match at that
/// depth, whatever their route. Table: `/files/{*rest}` = `public`, `/files/v{version}` =
/// `group:admin`: an anonymous `GET /files/readme` is granted by its exact ARN, and the
/// cached policy grants neither `GET /files/v2` (the admin route) nor any other one-segment
/// path below `/files`; `/files/a/b` stays granted.
#[test]
fn a_parameter_with_a_static_prefix_is_not_granted_by_a_cached_wildcard() {
    let table = r#"
[[route]]
path = "/files/{*rest}"
require = "public"

[[route]]
path = "/files/v{version}"
require = "group:admin"

[[route]]
path = "/users/@{handle}"
require = "group:admin"

[[route]]
path = "/users/{id}"
require = "public"
"#;
    let issuer = issuer();
    let wrong = cached_policy_errors(
        &issuer,
        table,
        None,
        "/files/readme",
        &[
            "/files/v2",
            "/files/vX",
            "/users/@alice",
            "/users/42",
            "/files/a/b",
        ],
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let policy = first_policy(&issuer, table, None, "/files/readme");
    for (path, granted) in [
        ("/files/readme", true),
        ("/files/a/b", true),
        ("/files", true),
        ("/files/other", false),
        ("/files/v2", false),
        ("/users/42", false),
    ] {
        assert_eq!(
            iam_allows(&policy, &format!("{ARN_PREFIX}GET{path}")),
            granted,
            "GET {path}\n{policy:#}"
        );
    }
}

/// A static segment with an IAM wildcard character in it (the route table takes `*` and `?`
/// inside a segment literally) is never written into a resource: IAM would read it as a
/// wildcard. Table: `/export/all*` = `public` (a literal `*`), nothing else (`unmatched` =
/// `deny`): the cached policy grants neither `GET /export/all-users` nor
/// `GET /export/all/secrets/x`. Such a path cannot be granted exactly either (any resource
/// matching it matches other paths too), so the policy refuses even the request it was
/// returned for, though the layer allows it.
#[test]
fn a_literal_star_in_a_pattern_does_not_become_an_iam_wildcard() {
    let table = r#"
[[route]]
path = "/export/all*"
require = "public"

[[route]]
path = "/export/any?"
require = "public"
"#;
    let issuer = issuer();
    let later = [
        "/export/all-users",
        "/export/all/secrets/x",
        "/export/all",
        "/export/allx",
        "/export/anyx",
        "/export/any",
    ];
    for first in ["/export/all*", "/export/any?"] {
        if first.contains('?') {
            // Where a URL parser ends the path: refused before any policy is written, and
            // `Unauthorized` is not cached.
            let lambda = LambdaAuthorizer::new(load(table, &issuer));
            let answer = runtime().block_on(lambda.handle(request_event("GET", first, None)));
            assert!(
                matches!(answer, Err(AuthorizerError::Unauthorized)),
                "{answer:?}"
            );
            continue;
        }
        let wrong = cached_policy_errors(&issuer, table, None, first, &later);
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        let policy = first_policy(&issuer, table, None, first);
        assert!(
            !iam_allows(&policy, &format!("{ARN_PREFIX}GET{first}")),
            "{policy:#}"
        );
    }
}

/// The table of the two tests below: a public catch-all at the root under a permissive
/// default, with an admin catch-all, a `deny` route and an `authenticated` parameter below it.
const NESTED: &str = r#"
[defaults]
unmatched = "public"

[[route]]
path = "/a/{x}/c/{*rest}"
require = "group:admin"

[[route]]
path = "/a/b/{y}"
require = "deny"

[[route]]
path = "/a/{x}"
require = "authenticated"

[[route]]
path = "/{*rest}"
require = "public"
"#;

/// Held: whole-segment patterns (static beside parameter and catch-all at several depths, a
/// `deny` route under a public catch-all) are never widened: the cached policy grants none of
/// the paths around them that the layer refuses.
#[test]
fn whole_segment_patterns_are_never_widened() {
    let wrong = cached_policy_errors(
        &issuer(),
        NESTED,
        None,
        "/a",
        &[
            "/a/1",
            "/a/b/c",
            "/a/b/c/d",
            "/a/1/c/d",
            "/a/1/c",
            "/a/b/1",
            "/a/c/c/c",
            "/a/b",
            "/z/a/1/c/d",
        ],
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Where IAM wildcards cannot express the table, the compiler drops the `Allow` that would
/// grant too much, but the request the policy is returned for, when the layer allows it, is
/// granted by its exact ARN: with `NESTED`, `GET/*` cannot be granted (it also covers
/// `/a/1/c/d`), yet an anonymous `GET /z`, public for the layer, is granted by its own
/// policy, and a later `GET /z/y` is not granted by it.
#[test]
fn the_request_that_fills_the_cache_is_allowed_by_its_own_policy() {
    let wrong = cached_policy_errors(&issuer(), NESTED, None, "/z", &["/z/y"]);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// An IAM `*` also crosses `/`, so a glob that ends in a static name matches paths whose last
/// segment has that name at any depth: every glob is checked against paths where each `*`
/// spans several segments. Table: `/{tenant}/settings` = `authenticated`, nothing else
/// (`unmatched` = `deny`): a user's cached policy grants `GET /other/settings` (`Allow
/// GET/*/settings`) but not `GET /acme/admin/settings` or `GET /a/b/c/settings` (`Deny
/// GET/*/*/settings`), which no route names.
#[test]
fn a_wildcard_ending_in_a_static_name_does_not_grant_deeper_paths() {
    let table = r#"
[[route]]
path = "/{tenant}/settings"
require = "authenticated"
"#;
    let issuer = issuer();
    let user = issuer.access_token().sign();
    let wrong = cached_policy_errors(
        &issuer,
        table,
        Some(&user),
        "/acme/settings",
        &[
            "/acme/admin/settings",
            "/a/b/c/settings",
            "/acme/settings/x",
            "/settings",
        ],
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let policy = first_policy(&issuer, table, Some(&user), "/acme/settings");
    for path in ["/other/settings", "/settings/settings"] {
        assert!(
            iam_allows(&policy, &format!("{ARN_PREFIX}GET{path}")),
            "GET {path}\n{policy:#}"
        );
    }
}

/// Whole segments of the random tables.
const WHOLE_SEGMENTS: [&str; 4] = ["a", "b", "{p}", "{*r}"];
/// Segments of the random tables that IAM cannot write as they are, beside whole ones.
const ODD_SEGMENTS: [&str; 8] = ["a", "b", "{p}", "{*r}", "v{p}", "@{p}", "a*", "b?"];

/// A random table over a small alphabet of segments: `(methods, pattern, policy)`.
fn random_table(
    alphabet: &[&str],
    routes: &[(usize, Vec<usize>, usize)],
    unmatched: usize,
) -> String {
    const POLICIES: [&str; 4] = ["public", "authenticated", "group:admin", "deny"];
    const METHODS: [&str; 3] = ["", "methods = [\"GET\"]\n", "methods = [\"POST\"]\n"];
    random_table::text(
        alphabet,
        "/b",
        &METHODS,
        &POLICIES,
        routes,
        POLICIES[unmatched % 3],
    )
}

/// One random case: the policy returned for a principal's first request `GET first` grants
/// no later request the layer refuses, on any of four methods, and grants the first request
/// itself when the layer allows it and its path can be written exactly.
fn check_random_case(
    table: &str,
    principal: usize,
    first: &str,
    later: &[String],
) -> Result<(), proptest::test_runner::TestCaseError> {
    let issuer = issuer();
    let built = table::try_load(table, &issuer);
    // Conflicting patterns are load errors: no table to compile.
    let Ok(authorizer) = built else {
        return Ok(());
    };
    let token = random_table::principal_token(&issuer, principal);
    let lambda = LambdaAuthorizer::new(authorizer.clone());
    let runtime = runtime();
    let Ok(policy) = runtime.block_on(lambda.handle(request_event("GET", first, token.as_deref())))
    else {
        return Ok(());
    };
    let layer_allows = |method: &str, path: &str| {
        runtime
            .block_on(authorizer.authorize(
                &Method::from_bytes(method.as_bytes()).expect("method"),
                path,
                &headers(token.as_deref()),
            ))
            .is_allowed()
    };
    if writable(first) && layer_allows("GET", first) {
        proptest::prop_assert!(
            iam_allows(&policy, &format!("{ARN_PREFIX}GET{first}")),
            "GET {} allowed by the layer, refused by its own policy\n{}\n{:#}",
            first,
            table,
            policy
        );
    }
    for method in ["GET", "POST", "HEAD", "DELETE"] {
        for path in later {
            let cached = iam_allows(&policy, &format!("{ARN_PREFIX}{method}{path}"));
            proptest::prop_assert!(
                !cached || layer_allows(method, path),
                "{} {} granted by the policy for GET {}, refused by the layer\n{}\n{:#}",
                method,
                path,
                first,
                table,
                policy
            );
        }
    }
    Ok(())
}

/// A path of the given segment names.
fn render(names: &[&str], segments: &[usize]) -> String {
    let path: String = segments
        .iter()
        .map(|s| format!("/{}", names[*s % names.len()]))
        .collect();
    if path.is_empty() {
        "/".to_owned()
    } else {
        path
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

    /// Random tables of whole-segment patterns, methods and policies, three principals,
    /// random later paths (the saved case: `unmatched = "group:admin"`, `/{p}/a` public, a
    /// plain user, `GET /a/a/a`, which `Allow GET/*/a` would grant without its
    /// `Deny GET/*/*/a`).
    #[test]
    fn random_whole_segment_tables_are_never_widened(
        routes in proptest::collection::vec(
            (0..3usize, proptest::collection::vec(0..4usize, 0..4), 0..4usize),
            1..6,
        ),
        unmatched in 0..3usize,
        principal in 0..3usize,
        first in proptest::collection::vec(0..3usize, 0..4),
        later in proptest::collection::vec(proptest::collection::vec(0..3usize, 0..6), 1..12),
    ) {
        const NAMES: [&str; 3] = ["a", "b", "c"];
        let table = random_table(&WHOLE_SEGMENTS, &routes, unmatched);
        let later: Vec<String> = later.iter().map(|segments| render(&NAMES, segments)).collect();
        check_random_case(&table, principal, &render(&NAMES, &first), &later)?;
    }

    /// The same with parameters that have text around them, and names holding IAM's `*` and
    /// `?`, beside whole segments; paths use names those segments match and names they do not.
    #[test]
    fn random_tables_with_segments_iam_cannot_write_are_never_widened(
        routes in proptest::collection::vec(
            (0..3usize, proptest::collection::vec(0..ODD_SEGMENTS.len(), 0..4), 0..4usize),
            1..6,
        ),
        unmatched in 0..3usize,
        principal in 0..3usize,
        first in proptest::collection::vec(0..7usize, 0..4),
        later in proptest::collection::vec(proptest::collection::vec(0..7usize, 0..5), 1..12),
    ) {
        const NAMES: [&str; 7] = ["a", "b", "va", "@a", "a*", "b?", "c"];
        let table = random_table(&ODD_SEGMENTS, &routes, unmatched);
        let later: Vec<String> = later.iter().map(|segments| render(&NAMES, segments)).collect();
        check_random_case(&table, principal, &render(&NAMES, &first), &later)?;
    }
}
