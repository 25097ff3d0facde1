//! The Lambda authorizer against the in-process layer running behind lambda_http on the same
//! API Gateway request: the two must read the same path.
//!
//! A function behind API Gateway built with lambda_http (the Rust runtime's HTTP adapter) does
//! not route on the path API Gateway sends as it is: lambda_http puts the stage in front of the
//! event's raw path unless the raw path starts with `/{stage}/`, and parses the result as an
//! `https` URL, which reads a `\` as `/`. The in-process layer (`crates/tower/src/lambda.rs`,
//! `StagePath::policy_path` and `StagePath::sent_path`) reads the path that way (stage put in
//! front as lambda_http puts it, segmented as a URL parser segments it, stage taken off once)
//! and decides on both readings. [`in_process`] below does the same with
//! `Authorizer::authorize`, so each test holds the authorizer's answer against what the layer
//! decides for the request the backend will dispatch.
//!
//! The rule: the authorizer never admits (directly, or through the policy API Gateway caches
//! for the token) a request the layer refuses.

use cognito_authz_core::{Authorizer, RequestTarget};
use cognito_authz_lambda::{AuthorizerError, LambdaAuthorizer};
use http::Method;
use serde_json::{Value, json};

mod iam;
mod pool;
mod requests;
mod table;
use iam::iam_allows;
use pool::{ARN_PREFIX, fixture, issuer, runtime};
use requests::{headers, request_event};

/// An admin area and a public rest: the shape of most APIs' tables.
const TABLE: &str = r#"
[defaults]
unmatched = "group:admin"

[[route]]
path = "/"
require = "public"

[[route]]
path = "/admin/{*rest}"
require = "group:admin"

[[route]]
path = "/docs/{*rest}"
require = "public"

[[route]]
path = "/{page}"
require = "group:admin"
"#;

/// The path lambda_http builds from an event's raw path on stage `stage` (`None`: `$default`),
/// before the URL parser reads it: `apigw_path_with_stage` in lambda_http 1.3.
fn lambda_http_path(stage: Option<&str>, raw: &str) -> String {
    match stage {
        Some(stage) if !raw.starts_with(&format!("/{stage}/")) => format!("/{stage}{raw}"),
        _ => raw.to_owned(),
    }
}

/// What a URL parser does to where segments begin and end, as the layer reads the path as
/// sent (`segmented_as_a_url` in crates/tower/src/lambda.rs): `\` is `/` in an `https` URL,
/// tabs and line breaks are dropped.
fn segmented_as_a_url(path: &str) -> String {
    path.trim_end_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .map(|c| if c == '\\' { '/' } else { c })
        .collect()
}

/// The path of the URI lambda_http builds (`Url::parse`): segmented as above, and ending at a
/// `?` (the query begins) or a `#` (the fragment). The paths of these tests hold no dot
/// segment, percent sign or character the parser encodes, so this is the whole of the
/// parser's change to them.
fn url_path(path: &str) -> String {
    let segmented = segmented_as_a_url(path);
    let end = segmented.find(['?', '#']).unwrap_or(segmented.len());
    segmented[..end].to_owned()
}

/// `path` without one leading `/{stage}` segment (as the layer's `strip_stage`).
fn strip_stage(path: &str, stage: Option<&str>) -> String {
    let Some(stage) = stage else {
        return path.to_owned();
    };
    match path
        .strip_prefix('/')
        .and_then(|rest| rest.strip_prefix(stage))
    {
        Some("") => "/".to_owned(),
        Some(rest) if rest.starts_with('/') => rest.to_owned(),
        _ => path.to_owned(),
    }
}

/// What the in-process layer behind lambda_http decides for an API Gateway request whose raw
/// path (REST `path`, HTTP API `rawPath`) is `raw` on stage `stage`: the URI path lambda_http
/// builds and the path as sent, each with the stage taken off once, both guarding.
fn in_process(
    authorizer: &Authorizer,
    method: &Method,
    stage: Option<&str>,
    raw: &str,
    token: Option<&str>,
) -> (bool, String) {
    let built = lambda_http_path(stage, raw);
    let uri_path = strip_stage(&url_path(&built), stage);
    let sent = strip_stage(&segmented_as_a_url(&built), stage);
    let target = RequestTarget::new(&uri_path).with_raw_path(&sent);
    let decision = runtime().block_on(authorizer.authorize(method, target, &headers(token)));
    (decision.is_allowed(), uri_path)
}

/// An HTTP API payload 2.0 event for `method raw_path` on stage `stage`.
fn http_api_event(method: &str, stage: &str, raw_path: &str, token: Option<&str>) -> Value {
    let mut event = fixture("example-apigw-v2-custom-authorizer-v2-request.json");
    event["rawPath"] = json!(raw_path);
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(raw_path);
    event["requestContext"]["stage"] = json!(stage);
    event["cookies"] = json!([]);
    if let Some(token) = token {
        event["headers"]["authorization"] = json!(format!("Bearer {token}"));
    }
    event
}

fn is_authorized(answer: &Result<Value, cognito_authz_lambda::AuthorizerError>) -> bool {
    matches!(answer, Ok(answer) if answer["isAuthorized"] == json!(true))
}

/// An HTTP API on a named stage, a request for the path equal to the stage name:
/// `rawPath` `/prod`, stage `prod`. Taking the stage off alone (`strip_stage`,
/// crates/lambda/src/event.rs), the authorizer would decide `/` (public). lambda_http builds
/// `/prod/prod` (the raw path does not start with `/prod/`, so the stage goes in front), the
/// layer decides `/prod` (`/{page}`, `group:admin`) and refuses, and a router nested under
/// `/prod` runs the `/{page}` handler with `page = prod`. So the authorizer decides `/prod`
/// too, and refuses.
#[test]
fn an_http_api_path_equal_to_the_stage_is_decided_as_the_layer_decides_it() {
    let issuer = issuer();
    let authorizer = table::load(TABLE, &issuer);
    let lambda = LambdaAuthorizer::new(authorizer.clone()).cache_disabled();
    let (layer, path) = in_process(&authorizer, &Method::GET, Some("prod"), "/prod", None);
    assert_eq!(path, "/prod");
    assert!(
        !layer,
        "the layer refuses GET /prod for an anonymous caller"
    );
    let answer = runtime().block_on(lambda.handle(http_api_event("GET", "prod", "/prod", None)));
    assert!(
        !is_authorized(&answer),
        "rawPath /prod on stage prod: the layer refuses {path}, the authorizer answered {answer:?}"
    );
}

/// Characters a URL parser reads as syntax in an HTTP API `rawPath`. HTTP APIs are reported to
/// deliver `rawPath` percent-decoded (REST and function URLs keep the encoding), so an
/// ordinary request for `/prod/admin%5Cusers`,
/// `/prod/ad%09min/users`, `/prod/admin%3Fusers`, `/prod/admin%23users` or `/prod/admin%20`
/// reaches the function with a `\`, a tab, a `?`, a `#` or a trailing space in `rawPath`.
/// lambda_http parses the path as a URL: `\` is `/`, a tab is dropped, `?` and `#` end the
/// path, trailing spaces and control characters go, so the backend routes `/admin/users` or
/// `/admin` (the `/admin/{*rest}` handler, admin only), and the layer refuses. The authorizer
/// would read one segment (`admin\users`, `ad\tmin`, `admin?users`, `admin#users`, `admin `),
/// matched by `/{page}` (public) or nothing; it refuses such paths (`Unauthorized`).
#[test]
fn characters_a_url_parser_reads_in_an_http_api_path_are_read_as_in_the_layer() {
    let table = r#"
[defaults]
unmatched = "public"

[[route]]
path = "/admin/{*rest}"
require = "group:admin"

[[route]]
path = "/{page}"
require = "public"
"#;
    let issuer = issuer();
    let authorizer = table::load(table, &issuer);
    let lambda = LambdaAuthorizer::new(authorizer.clone()).cache_disabled();
    let user = issuer.access_token().sign();
    let mut wrong = Vec::new();
    for (stage, raw, routed) in [
        ("prod", "/prod/admin\\users", "/admin/users"),
        ("$default", "/admin\\users", "/admin/users"),
        ("prod", "/prod/ad\tmin/users", "/admin/users"),
        ("prod", "/prod/admin?users", "/admin"),
        ("prod", "/prod/admin#users", "/admin"),
        ("prod", "/prod/admin ", "/admin"),
        ("prod", "/prod/admin\u{1}", "/admin"),
    ] {
        for token in [None, Some(user.as_str())] {
            let named = (stage != "$default").then_some(stage);
            let (layer, path) = in_process(&authorizer, &Method::GET, named, raw, token);
            assert_eq!(path, routed);
            assert!(!layer, "the layer refuses {raw:?}");
            let answer =
                runtime().block_on(lambda.handle(http_api_event("GET", stage, raw, token)));
            if is_authorized(&answer) {
                wrong.push(format!(
                    "rawPath {raw:?} (stage {stage}, token: {}): the layer refuses {path}, the authorizer answered {answer:?}",
                    token.is_some()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The REST form of the same: `methodArn` `…/GET/admin\users` (the path API Gateway
/// routed, which lambda_http reads as `/admin/users`). With the cache off the answer allows
/// the request's own ARN; with the cache on, the policy returned for a signed-in user's
/// `GET /` (`Allow GET/*` beside `Deny GET/admin/*`…) grants `GET /admin\users` to every later
/// request with the token, for as long as the TTL: no odd-spelling `Deny` covers a `\`.
#[test]
fn a_backslash_in_a_rest_path_is_not_granted_by_the_answer_or_the_cached_policy() {
    let table = r#"
[defaults]
unmatched = "group:admin"

[[route]]
path = "/admin/{*rest}"
require = "group:admin"

[[route]]
path = "/{*rest}"
require = "authenticated"
"#;
    let issuer = issuer();
    let authorizer = table::load(table, &issuer);
    let user = issuer.access_token().sign();
    let raw = "/admin\\users";
    let (layer, path) = in_process(&authorizer, &Method::GET, Some("test"), raw, Some(&user));
    assert_eq!(path, "/admin/users");
    assert!(!layer);
    let arn = format!("{ARN_PREFIX}GET{raw}");
    let mut wrong = Vec::new();
    // The request itself, cache off and on.
    for lambda in [
        LambdaAuthorizer::new(authorizer.clone()).cache_disabled(),
        LambdaAuthorizer::new(authorizer.clone()),
    ] {
        // `Unauthorized` (a 401 from API Gateway) grants nothing, and caches nothing.
        match runtime().block_on(lambda.handle(request_event("GET", raw, Some(&user)))) {
            Ok(answer) if iam_allows(&answer, &arn) => {
                wrong.push(format!("its own answer grants GET {raw}: {answer:#}"));
            }
            Ok(_) | Err(AuthorizerError::Unauthorized) => {}
            Err(error) => panic!("GET {raw}: {error:?}"),
        }
    }
    // A later request answered from the policy cached for GET /.
    let lambda = LambdaAuthorizer::new(authorizer);
    let cached = runtime()
        .block_on(lambda.handle(request_event("GET", "/", Some(&user))))
        .expect("a policy");
    if iam_allows(&cached, &arn) {
        wrong.push(format!(
            "the policy cached for GET / grants GET {raw}: {cached:#}"
        ));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Held (the control): the same paths with `/` are refused by both, and the root, equal for
/// both readings, is allowed by both; so are the stage twice, an empty segment, percent-encoded
/// letters, `/` and dot segments, and a stage in another case.
#[test]
fn paths_both_read_alike_are_decided_alike() {
    let issuer = issuer();
    let authorizer = table::load(TABLE, &issuer);
    let lambda = LambdaAuthorizer::new(authorizer.clone()).cache_disabled();
    for (stage, raw, allowed) in [
        ("prod", "/prod/admin/users", false),
        ("prod", "/prod/", true),
        ("prod", "/prod/docs/a", true),
        ("prod", "/prod/prod/docs/a", false),
        ("prod", "/prod/prod/admin/users", false),
        ("prod", "/prod//admin/users", false),
        ("prod", "/prod/%61dmin/users", false),
        ("prod", "/prod/admin%2Fusers", false),
        ("prod", "/prod/docs%2F..%2Fadmin", false),
        ("prod", "/prod/docs/%2e%2e/admin/x", false),
        ("prod", "/PROD/admin/users", false),
        ("prod", "/prod%2Fadmin/users", false),
        ("$default", "/admin/users", false),
        ("$default", "/", true),
    ] {
        let named = (stage != "$default").then_some(stage);
        let (layer, path) = in_process(&authorizer, &Method::GET, named, raw, None);
        assert_eq!(layer, allowed, "{raw} read as {path}");
        let answer = runtime().block_on(lambda.handle(http_api_event("GET", stage, raw, None)));
        assert_eq!(is_authorized(&answer), allowed, "{raw}: {answer:?}");
    }
}
