//! A wider search for a cached IAM policy that grants a request the in-process layer refuses:
//! random small tables over segment names that share prefixes (`a`, `ab`, `abc`), names with a
//! dot or a capital, parameters with text around them, catch-alls, routes naming `HEAD`,
//! `OPTIONS`, `PUT` or `GET` alone; three principals; the first request (which fills API
//! Gateway's cache) on any method; every later request on all seven methods API Gateway
//! routes, over every path of up to three segments of a name alphabet beside them.
//!
//! The oracle is `Authorizer::authorize` on the same method and path; the policy is applied as
//! IAM applies it (`tests/iam`: `*` any run of characters, `/` included, `?` one; an explicit
//! `Deny` wins).

use cognito_authz_core::Authorizer;
use cognito_authz_lambda::LambdaAuthorizer;
use http::Method;

mod iam;
mod pool;
mod random_table;
mod requests;
mod table;
use iam::iam_allows;
use pool::{ARN_PREFIX, issuer, runtime};
use requests::{headers, request_event};

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

const SEGMENTS: [&str; 12] = [
    "a", "ab", "abc", "A", "a.b", "{p}", "{*r}", "a{p}", "{p}.b", "x{p}", "b", "{q}",
];

/// Path segments of the later requests: names of the patterns, prefixes and extensions of
/// them, and names no pattern uses.
const NAMES: [&str; 9] = ["a", "ab", "abc", "A", "a.b", "b", "x0", "aa", "b.b"];

fn table(routes: &[(usize, Vec<usize>, usize)], unmatched: usize) -> String {
    const POLICIES: [&str; 5] = [
        "public",
        "authenticated",
        "group:admin",
        "deny",
        "not group:admin",
    ];
    const ROUTE_METHODS: [&str; 6] = [
        "",
        "methods = [\"GET\"]\n",
        "methods = [\"HEAD\"]\n",
        "methods = [\"OPTIONS\"]\n",
        "methods = [\"PUT\", \"POST\"]\n",
        "methods = [\"DELETE\"]\n",
    ];
    random_table::text(
        &SEGMENTS,
        "/ab",
        &ROUTE_METHODS,
        &POLICIES,
        routes,
        POLICIES[unmatched % POLICIES.len()],
    )
}

/// The path of the later-request names `names` picks (`/` for none).
fn path_of(names: &[usize]) -> String {
    if names.is_empty() {
        return "/".to_owned();
    }
    names
        .iter()
        .map(|name| format!("/{}", NAMES[*name]))
        .collect()
}

fn paths() -> Vec<String> {
    let mut out = vec!["/".to_owned()];
    let mut layer = vec![String::new()];
    for _ in 0..3 {
        layer = layer
            .iter()
            .flat_map(|prefix| NAMES.iter().map(move |name| format!("{prefix}/{name}")))
            .collect();
        out.extend(layer.iter().cloned());
    }
    out
}

/// The token in the `id_token` cookie of a request another site's page made (`Origin` and
/// `Sec-Fetch-Site` say so): the layer refuses it on guarded routes for every method the
/// cross-site check judges, and a cached answer may be reused for such a request.
fn cross_site_cookie(token: Option<&str>) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    if let Some(token) = token {
        headers.insert(
            "cookie",
            http::HeaderValue::from_str(&format!("id_token={token}")).expect("header"),
        );
    }
    headers.insert(
        "origin",
        http::HeaderValue::from_static("https://evil.example"),
    );
    headers.insert(
        "sec-fetch-site",
        http::HeaderValue::from_static("cross-site"),
    );
    headers
}

/// [`cross_site_cookie`] as a REST `REQUEST` event for `method path`.
fn cookie_event(method: &str, path: &str, token: Option<&str>) -> serde_json::Value {
    let mut event = request_event(method, path, None);
    for (name, value) in &cross_site_cookie(token) {
        let value = value.to_str().expect("text");
        event["headers"][name.as_str()] = serde_json::json!(value);
        event["multiValueHeaders"][name.as_str()] = serde_json::json!([value]);
    }
    event
}

/// The authorizer of `table`, the token read from the `id_token` cookie when `cookie`.
fn build(
    issuer: &cognito_authz_testkit::LocalIssuer,
    table: &str,
    cookie: bool,
) -> Result<Authorizer, cognito_authz_core::ConfigError> {
    let token_section = if cookie {
        "\n[token]\ncookie = \"id_token\"\nallowed_origins = [\"https://app.example.com\"]\n"
    } else {
        ""
    };
    table::try_load(&format!("{token_section}{table}"), issuer)
}

#[test]
fn the_search_tables_load() {
    let issuer = issuer();
    table::load(&table(&[(0, vec![0, 5], 1)], 0), &issuer);
    build(&issuer, &table(&[(0, vec![0, 5], 1)], 0), true).expect("a table");
}

fn check(
    table: &str,
    principal: usize,
    first_method: &str,
    first: &str,
) -> Result<(), proptest::test_runner::TestCaseError> {
    check_with(table, principal, first_method, first, false)
}

fn check_with(
    table: &str,
    principal: usize,
    first_method: &str,
    first: &str,
    cookie: bool,
) -> Result<(), proptest::test_runner::TestCaseError> {
    let issuer = issuer();
    let Ok(authorizer) = build(&issuer, table, cookie) else {
        return Ok(());
    };
    let token = random_table::principal_token(&issuer, principal);
    let lambda = LambdaAuthorizer::new(authorizer.clone());
    let runtime = runtime();
    let event = if cookie {
        cookie_event(first_method, first, token.as_deref())
    } else {
        request_event(first_method, first, token.as_deref())
    };
    let Ok(policy) = runtime.block_on(lambda.handle(event)) else {
        return Ok(());
    };
    let headers = if cookie {
        cross_site_cookie(token.as_deref())
    } else {
        headers(token.as_deref())
    };
    for method in METHODS {
        let http_method = Method::from_bytes(method.as_bytes()).expect("method");
        for path in paths() {
            if !iam_allows(&policy, &format!("{ARN_PREFIX}{method}{path}")) {
                continue;
            }
            let layer = runtime
                .block_on(authorizer.authorize(&http_method, path.as_str(), &headers))
                .is_allowed();
            proptest::prop_assert!(
                layer,
                "{} {} granted by the policy returned for {} {}, refused by the layer\n{}\n{:#}",
                method,
                path,
                first_method,
                first,
                table,
                policy
            );
        }
    }
    Ok(())
}

/// A route table's rows as the proptests draw them: each row's methods, path segments and policy.
fn routes() -> impl proptest::strategy::Strategy<Value = Vec<(usize, Vec<usize>, usize)>> {
    proptest::collection::vec(
        (
            0..6usize,
            proptest::collection::vec(0..SEGMENTS.len(), 0..4),
            0..5usize,
        ),
        1..7,
    )
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 384, ..Default::default() })]

    #[test]
    fn no_cached_policy_grants_what_the_layer_refuses(
        routes in routes(),
        unmatched in 0..5usize,
        principal in 0..3usize,
        first_method in 0..METHODS.len(),
        first in proptest::collection::vec(0..NAMES.len(), 0..4),
    ) {
        let table = table(&routes, unmatched);
        let first = path_of(&first);
        check(&table, principal, METHODS[first_method], &first)?;
    }

    /// The same with the token in a cookie, every request (the first included) made by another
    /// site's page: the cached policy grants no request the layer refuses to such a page.
    #[test]
    fn no_cached_policy_of_a_cookie_token_grants_another_site_what_the_layer_refuses(
        routes in routes(),
        unmatched in 0..5usize,
        principal in 1..3usize,
        first_method in 0..METHODS.len(),
        first in proptest::collection::vec(0..NAMES.len(), 0..4),
    ) {
        let table = table(&routes, unmatched);
        let first = path_of(&first);
        check_with(&table, principal, METHODS[first_method], &first, true)?;
    }
}
