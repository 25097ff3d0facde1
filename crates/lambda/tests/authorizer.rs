//! The Lambda authorizer on API Gateway's own event JSON (the fixtures shipped by
//! `aws_lambda_events`, in `tests/fixtures/`), against the in-process decision.

use std::path::{Path, PathBuf};

use cognito_authz_core::{AcceptedTokenUse, Authorizer, AuthorizerBuilder};
use cognito_authz_lambda::{AuthorizerError, LambdaAuthorizer, PolicyScope};
use cognito_authz_test_support::policy::EXAMPLE_ISSUER;
use cognito_authz_testkit::{JwksReply, LocalIssuer};
use http::Method;
use proptest::prelude::*;
use serde_json::{Value, json};

mod iam;
mod pool;
mod requests;
use iam::iam_allows;
use pool::{ARN_PREFIX, CLIENT, POOL, fixture, issuer, runtime};
use requests::{headers, request_event};

const METHODS: [&str; 7] = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn options(issuer: &LocalIssuer) -> AuthorizerBuilder {
    Authorizer::builder()
        .issuers([issuer.issuer_config(AcceptedTokenUse::Any)])
        .clock(issuer.manual_clock().expect("manual clock").clone())
}

/// Policy files the property test runs over: the shipped example, and tables with every
/// shape of overlap (static beside param and catch-all, a catch-all's bare prefix, methods,
/// `deny` routes, a permissive default).
const TABLES: [(&str, &str); 3] = [
    (
        "overlaps",
        r#"
[policies]
admin = "group:admin"

[[route]]
path = "/"
require = "public"

[[route]]
path = "/admin/{*rest}"
require = "policy:admin"

[[route]]
path = "/admin/status"
methods = ["GET"]
require = "public"

[[route]]
path = "/reports/{id}"
methods = ["GET", "HEAD"]
require = "scope:reports/read or policy:admin"

[[route]]
path = "/reports/{id}"
methods = ["DELETE"]
require = "policy:admin"

[[route]]
path = "/reports/summary"
methods = ["GET"]
require = "authenticated"

[[route]]
path = "/files/{*path}"
require = "authenticated"

[[route]]
path = "/files/secret/{*rest}"
require = "policy:admin"

[[route]]
path = "/users/{id}/profile"
require = "token_use:id"

[[route]]
path = "/legacy"
require = "deny"
"#,
    ),
    (
        "permissive-default",
        r#"
[defaults]
unmatched = "authenticated"

[[route]]
path = "/admin/{*rest}"
require = "group:admin"

[[route]]
path = "/open/{page}"
require = "public"

[[route]]
path = "/writes/{*rest}"
methods = ["POST", "PUT", "PATCH", "DELETE"]
require = "scope:api/write"
"#,
    ),
    ("example", ""),
];

fn load(name: &str, text: &str, issuer: &LocalIssuer) -> Authorizer {
    if name == "example" {
        options(issuer)
            .policy_file(root().join("examples/policy.toml"))
            .build()
    } else {
        options(issuer)
            .policy_text(format!("{EXAMPLE_ISSUER}{text}"), root())
            .build()
    }
    .unwrap_or_else(|error| panic!("{name}: {error}"))
}

/// The principals every table is decided for.
fn principals(issuer: &LocalIssuer) -> Vec<(&'static str, Option<String>)> {
    vec![
        ("anonymous", None),
        (
            "user",
            Some(issuer.access_token().scopes(["openid"]).sign()),
        ),
        (
            "reader",
            Some(issuer.access_token().scopes(["reports/read"]).sign()),
        ),
        (
            "writer",
            Some(issuer.access_token().scopes(["api/write"]).sign()),
        ),
        (
            "admin",
            Some(issuer.access_token().groups(["admin"]).sign()),
        ),
        ("id-token", Some(issuer.id_token().sign())),
    ]
}

fn token_event(method: &str, path: &str, token: &str) -> Value {
    let mut event = fixture("example-apigw-custom-auth-request.json");
    event["methodArn"] = json!(format!("{ARN_PREFIX}{method}{path}"));
    event["authorizationToken"] = json!(token);
    event
}

fn http_api_event(method: &str, raw_path: &str, token: Option<&str>) -> Value {
    let mut event = fixture("example-apigw-v2-custom-authorizer-v2-request.json");
    event["rawPath"] = json!(raw_path);
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(raw_path);
    if let Some(token) = token {
        event["headers"]["authorization"] = json!(format!("Bearer {token}"));
    }
    event
}

/// Concrete paths of a table: each pattern instantiated, its prefixes, longer paths below
/// it, and paths no route names.
fn paths_of(authorizer: &Authorizer) -> Vec<String> {
    let mut out = vec![
        "/".to_owned(),
        "/nope".to_owned(),
        "/nope/deeper".to_owned(),
    ];
    for route in authorizer.routes().routes() {
        let segments: Vec<&str> = route.pattern().split('/').skip(1).collect();
        for fill in [("42", "a"), ("summary", "a/b/c"), ("status", "secret")] {
            let mut path = String::new();
            for segment in &segments {
                path.push('/');
                if segment.starts_with("{*") {
                    out.push(if path.len() > 1 {
                        path[..path.len() - 1].to_owned()
                    } else {
                        "/".to_owned()
                    });
                    path.push_str(fill.1);
                } else if segment.starts_with('{') {
                    path.push_str(fill.0);
                } else {
                    path.push_str(segment);
                }
                out.push(path.trim_end_matches('/').to_owned());
            }
            out.push(format!("{path}/extra"));
            out.push(format!("{path}/extra/more"));
        }
    }
    out.retain(|path| !path.is_empty());
    out.sort();
    out.dedup();
    out
}

/// The cache-safe policy returned for a principal's first request.
async fn cached_policy(lambda: &LambdaAuthorizer, token: Option<&str>) -> Option<Value> {
    // Any request that yields a policy will do: a public path for the anonymous principal.
    for path in ["/", "/health", "/open/x", "/me", "/admin/status"] {
        if let Ok(response) = lambda.handle(request_event("GET", path, token)).await {
            return Some(response);
        }
    }
    None
}

#[test]
fn cached_table_policies_decide_every_route_method_and_principal_as_the_layer() {
    let issuer = issuer();
    let runtime = runtime();
    for (name, text) in TABLES {
        let authorizer = load(name, text, &issuer);
        let lambda = LambdaAuthorizer::new(authorizer.clone());
        let paths = paths_of(&authorizer);
        for (principal, token) in principals(&issuer) {
            let Some(policy) = runtime.block_on(cached_policy(&lambda, token.as_deref())) else {
                assert_eq!(principal, "anonymous", "{name}: no policy for {principal}");
                continue;
            };
            let headers = headers(token.as_deref());
            let mut checked = 0;
            for method in METHODS {
                let http_method = Method::from_bytes(method.as_bytes()).expect("method");
                for path in &paths {
                    let layer = runtime
                        .block_on(authorizer.authorize(&http_method, path.as_str(), &headers))
                        .is_allowed();
                    let arn = format!("{ARN_PREFIX}{method}{path}");
                    assert_eq!(
                        iam_allows(&policy, &arn),
                        layer,
                        "{name}: {principal} {method} {path}\npolicy: {policy:#}"
                    );
                    checked += 1;
                }
            }
            assert!(checked > 100, "{name}: {checked}");
        }
    }
}

#[test]
fn cached_table_policies_refuse_paths_the_layer_reads_in_several_ways() {
    let issuer = issuer();
    let runtime = runtime();
    let (name, text) = TABLES[0];
    let lambda = LambdaAuthorizer::new(load(name, text, &issuer));
    let admin = issuer.access_token().groups(["admin"]).sign();
    let policy = runtime
        .block_on(cached_policy(&lambda, Some(&admin)))
        .expect("policy");
    for path in [
        "/admin/%2e%2e/x",
        "/admin/a%2Fb",
        "/admin//x",
        "/admin/x/",
        "/admin/./x",
        "/admin/../x",
        "/admin/x/.",
        "/admin/x/..",
    ] {
        let arn = format!("{ARN_PREFIX}GET{path}");
        assert!(!iam_allows(&policy, &arn), "{path}");
    }
    // The root stays itself.
    assert!(iam_allows(&policy, &format!("{ARN_PREFIX}GET/")));
}

/// Tables IAM wildcards cannot write exactly, because a `*` also crosses `/`: `/a/{id}`
/// also covers `/a/x/y` while `/a/{id}/b` is allowed and `/a/x/y` is not; a denied `{id}`
/// route under a permissive default. The policy refuses, never grants, where it differs from
/// the layer.
#[test]
fn tables_iam_cannot_express_are_narrowed_never_widened() {
    let tables = [
        r#"
[[route]]
path = "/a/{id}"
require = "authenticated"

[[route]]
path = "/a/{id}/b"
require = "authenticated"

[[route]]
path = "/a/{id}/c"
require = "group:admin"
"#,
        r#"
[defaults]
unmatched = "authenticated"

[[route]]
path = "/writes/{id}"
methods = ["DELETE"]
require = "scope:api/write"
"#,
    ];
    let issuer = issuer();
    let runtime = runtime();
    let user = issuer.access_token().sign();
    let headers = headers(Some(&user));
    for table in tables {
        let authorizer = load("narrowed", table, &issuer);
        let lambda = LambdaAuthorizer::new(authorizer.clone());
        let response = runtime
            .block_on(lambda.handle(request_event("GET", "/a/1", Some(&user))))
            .expect("policy");
        let mut differences = 0;
        for method in METHODS {
            let http_method = Method::from_bytes(method.as_bytes()).expect("method");
            for path in paths_of(&authorizer).iter().map(String::as_str).chain([
                "/a/1/x",
                "/a/1/b/x",
                "/a/1/c",
                "/writes/1/x",
                "/other",
            ]) {
                let layer = runtime
                    .block_on(authorizer.authorize(&http_method, path, &headers))
                    .is_allowed();
                let policy = iam_allows(&response, &format!("{ARN_PREFIX}{method}{path}"));
                assert!(
                    !policy || layer,
                    "the policy grants {method} {path}, which the layer refuses"
                );
                differences += usize::from(policy != layer);
            }
        }
        assert!(
            differences > 0,
            "{table}: expected the policy to be narrower"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn cached_table_policies_agree_with_the_layer_on_random_paths(
        table in 0..TABLES.len(),
        principal in 0..6usize,
        method in 0..METHODS.len(),
        segments in proptest::collection::vec(
            prop_oneof![
                Just("admin"), Just("status"), Just("reports"), Just("summary"),
                Just("files"), Just("secret"), Just("users"), Just("profile"),
                Just("legacy"), Just("open"), Just("writes"), Just("me"), Just("health"),
                Just("42"), Just("x0"), Just("zz"),
            ],
            0..6,
        ),
    ) {
        let issuer = issuer();
        let runtime = runtime();
        let (name, text) = TABLES[table];
        let authorizer = load(name, text, &issuer);
        let lambda = LambdaAuthorizer::new(authorizer.clone());
        let (who, token) = principals(&issuer).swap_remove(principal);
        let path = format!("/{}", segments.join("/"));
        let method = METHODS[method];
        if let Some(policy) = runtime.block_on(cached_policy(&lambda, token.as_deref())) {
            let layer = runtime
                .block_on(authorizer.authorize(
                    &Method::from_bytes(method.as_bytes()).expect("method"),
                    path.as_str(),
                    &headers(token.as_deref()),
                ))
                .is_allowed();
            let arn = format!("{ARN_PREFIX}{method}{path}");
            prop_assert_eq!(iam_allows(&policy, &arn), layer, "{} {} {} {}", name, who, method, path);
        }
    }
}

#[test]
fn fixture_events_of_every_shape_are_decided() {
    let issuer = issuer();
    let runtime = runtime();
    let authorizer = load("example", "", &issuer);
    let lambda = LambdaAuthorizer::new(authorizer);
    let user = issuer
        .access_token()
        .username("alice")
        .groups(["a", "b"])
        .scopes(["openid", "profile"])
        .sign();

    // TOKEN: the fixture as shipped names the root, which no route of the example names.
    let mut event = fixture("example-apigw-custom-auth-request.json");
    event["authorizationToken"] = json!(format!("Bearer {user}"));
    let response = runtime
        .block_on(lambda.handle(event.clone()))
        .expect("policy");
    let arn = event["methodArn"].as_str().expect("arn");
    assert!(!iam_allows(&response, arn), "{response:#}");
    event["methodArn"] = json!("arn:aws:execute-api:us-west-2:123456789012:ymy8tbxw7b/*/GET/me");
    let response = runtime
        .block_on(lambda.handle(event.clone()))
        .expect("policy");
    assert!(iam_allows(
        &response,
        event["methodArn"].as_str().expect("arn")
    ));
    let sub = response["principalId"].as_str().expect("principalId");
    assert!(!sub.is_empty() && sub != "anonymous");
    let context = response["context"].as_object().expect("context");
    assert_eq!(context["sub"], sub);
    assert_eq!(context["username"], "alice");
    assert_eq!(context["token_use"], "access");
    assert_eq!(context["client_id"], CLIENT);
    assert_eq!(context["groups"], "a,b");
    assert_eq!(context["scopes"], "openid profile");
    assert_eq!(context["route"], "/me");
    assert_eq!(context["event"], "rest_token");
    assert!(
        context
            .values()
            .all(|v| v.is_string() || v.is_number() || v.is_boolean())
    );
    // The raw token works in a TOKEN authorizer as in-process (no "Bearer ").
    let response = runtime
        .block_on(lambda.handle(token_event("GET", "/me", &user)))
        .expect("policy");
    assert!(iam_allows(&response, &format!("{ARN_PREFIX}GET/me")));

    // REQUEST, from the fixture's methodArn and headers.
    let mut event = fixture("example-apigw-custom-auth-request-type-request.json");
    event["methodArn"] = json!(format!("{ARN_PREFIX}GET/me"));
    event["multiValueHeaders"]["Authorization"] = json!([format!("Bearer {user}")]);
    let response = runtime.block_on(lambda.handle(event)).expect("policy");
    assert!(iam_allows(&response, &format!("{ARN_PREFIX}GET/me")));
    assert_eq!(response["context"]["event"], "rest_request");
    assert_eq!(response["context"]["route_key"], "/request");

    // HTTP API payload 1.0 is a REQUEST event too.
    let mut event = fixture("example-apigw-v2-custom-authorizer-v1-request.json");
    event["methodArn"] = json!(format!("{ARN_PREFIX}GET/me"));
    event["headers"]["Authorization"] = json!(format!("Bearer {user}"));
    let response = runtime.block_on(lambda.handle(event)).expect("policy");
    assert!(iam_allows(&response, &format!("{ARN_PREFIX}GET/me")));

    // HTTP API 2.0: simple responses, route from rawPath and the request's method.
    for name in [
        "example-apigw-v2-custom-authorizer-v2-request.json",
        "example-apigw-v2-custom-authorizer-v2-request-without-cookies.json",
    ] {
        let mut event = fixture(name);
        event["headers"]["authorization"] = json!(format!("Bearer {user}"));
        let response = runtime
            .block_on(lambda.handle(event.clone()))
            .expect("answer");
        assert_eq!(
            response["isAuthorized"], false,
            "{name}: /my/path is unmatched"
        );
        event["rawPath"] = json!("/me");
        let response = runtime.block_on(lambda.handle(event)).expect("answer");
        assert_eq!(response["isAuthorized"], true, "{name}: {response}");
        assert_eq!(response["context"]["route"], "/me");
        assert_eq!(response["context"]["route_key"], "$default");
        assert_eq!(response["context"]["event"], "http_api_v2");
    }
    // A named stage is part of rawPath but not of the application's routes.
    let mut event = http_api_event("GET", "/prod/me", Some(&user));
    event["requestContext"]["stage"] = json!("prod");
    let response = runtime.block_on(lambda.handle(event)).expect("answer");
    assert_eq!(response["isAuthorized"], true);
}

#[test]
fn answers_follow_api_gateways_rules() {
    let issuer = issuer();
    let runtime = runtime();
    let authorizer = load("example", "", &issuer);
    let lambda = LambdaAuthorizer::new(authorizer);
    let user = issuer.access_token().sign();
    let reader = issuer.access_token().scopes(["reports/read"]).sign();
    let expired = issuer.access_token().expires_at(1).issued_at(0).sign();
    let stranger = LocalIssuer::builder()
        .pool_id(POOL)
        .client_id(CLIENT)
        .offline()
        .expect("issuer")
        .access_token()
        .sign();
    let unauthorized = Err(AuthorizerError::Unauthorized);
    // (event, expected: Err(Unauthorized) | Ok(allowed))
    let cases: Vec<(&str, Value, Result<bool, AuthorizerError>)> = vec![
        (
            "no token",
            request_event("GET", "/me", None),
            unauthorized.clone(),
        ),
        (
            "garbage",
            token_event("GET", "/me", "not-a-token"),
            unauthorized.clone(),
        ),
        (
            "expired",
            token_event("GET", "/me", &expired),
            unauthorized.clone(),
        ),
        (
            "unknown key",
            token_event("GET", "/me", &stranger),
            unauthorized.clone(),
        ),
        (
            "dot segment",
            token_event("GET", "/reports/../me", &user),
            unauthorized.clone(),
        ),
        (
            "encoded dot segment",
            token_event("GET", "/reports/%2e%2e/me", &user),
            unauthorized.clone(),
        ),
        (
            "scope missing",
            token_event("GET", "/reports/1", &user),
            Ok(false),
        ),
        (
            "scope present",
            token_event("GET", "/reports/1", &reader),
            Ok(true),
        ),
        (
            "unmatched method",
            token_event("DELETE", "/reports/1", &reader),
            Ok(false),
        ),
        (
            "unmatched path",
            token_event("GET", "/nowhere", &reader),
            Ok(false),
        ),
        (
            "public, no token",
            request_event("GET", "/health", None),
            Ok(true),
        ),
        (
            "http api, no token",
            http_api_event("GET", "/me", None),
            unauthorized,
        ),
        (
            "http api, scope missing",
            http_api_event("GET", "/reports/1", Some(&user)),
            Ok(false),
        ),
    ];
    for (name, event, expected) in cases {
        let arn = event["methodArn"].as_str().map(str::to_owned);
        let answer = runtime.block_on(lambda.handle(event));
        match (&answer, &expected) {
            (Err(error), Err(want)) => {
                assert_eq!(error, want, "{name}");
                assert_eq!(error.to_string(), "Unauthorized", "{name}");
            }
            (Ok(response), Ok(allowed)) => {
                let got = match &arn {
                    Some(arn) => iam_allows(response, arn),
                    None => response["isAuthorized"].as_bool().expect("isAuthorized"),
                };
                assert_eq!(got, *allowed, "{name}: {response:#}");
            }
            _ => panic!("{name}: {answer:?}, expected {expected:?}"),
        }
    }
    // A public route without a token answers for the anonymous principal.
    let response = runtime
        .block_on(lambda.handle(request_event("GET", "/health", None)))
        .expect("policy");
    assert_eq!(response["principalId"], "anonymous");
    assert!(response["context"].get("sub").is_none());
}

#[test]
fn two_tokens_in_a_request_event_are_unauthorized() {
    let issuer = issuer();
    let runtime = runtime();
    let lambda = LambdaAuthorizer::new(load("example", "", &issuer));
    let user = issuer.access_token().sign();
    let mut event = request_event("GET", "/me", Some(&user));
    event["multiValueHeaders"]["Authorization"] =
        json!([format!("Bearer {user}"), format!("Bearer {user}")]);
    assert_eq!(
        runtime.block_on(lambda.handle(event)),
        Err(AuthorizerError::Unauthorized)
    );
}

/// The example policy for a pool whose key server answers 500: no token can be verified.
async fn unavailable_keys() -> (LocalIssuer, Authorizer) {
    let issuer = LocalIssuer::builder()
        .pool_id(POOL)
        .client_id(CLIENT)
        .start()
        .await
        .expect("issuer");
    issuer
        .server()
        .expect("server")
        .set_reply(JwksReply::Status(500));
    let authorizer = options(&issuer)
        .policy_file(root().join("examples/policy.toml"))
        .build()
        .expect("authorizer");
    (issuer, authorizer)
}

#[test]
fn unavailable_keys_are_a_server_error_not_unauthorized() {
    let runtime = runtime();
    runtime.block_on(async {
        let (issuer, authorizer) = unavailable_keys().await;
        let lambda = LambdaAuthorizer::new(authorizer);
        let token = issuer.access_token().sign();
        let answer = lambda.handle(token_event("GET", "/me", &token)).await;
        let Err(AuthorizerError::Internal(message)) = answer else {
            panic!("{answer:?}")
        };
        assert_ne!(message, "Unauthorized");
        assert!(!message.contains(&token));
    });
}

/// A public route is served whatever the keys' state, but with the cache on its answer is
/// reused for the token's later requests: an answer written for no principal, because the
/// token could not be verified for a while, would refuse the user's other routes until the
/// TTL ends. So it is a server error (not cached); with the cache off, the route is served.
#[test]
fn a_public_route_with_a_token_and_unavailable_keys_is_not_answered_for_no_principal() {
    let runtime = runtime();
    runtime.block_on(async {
        let (issuer, authorizer) = unavailable_keys().await;
        let token = issuer.access_token().sign();
        let cached = LambdaAuthorizer::new(authorizer.clone());
        let answer = cached.handle(token_event("GET", "/health", &token)).await;
        assert!(
            matches!(answer, Err(AuthorizerError::Internal(_))),
            "{answer:?}"
        );
        assert_eq!(cached.policy_cache_stats().compilations, 0);
        let uncached = LambdaAuthorizer::new(authorizer).cache_disabled();
        let answer = uncached
            .handle(token_event("GET", "/health", &token))
            .await
            .expect("a policy");
        assert!(iam_allows(&answer, &format!("{ARN_PREFIX}GET/health")));
        assert_eq!(answer["principalId"], "anonymous");
    });
}

#[test]
fn request_scoped_policies_name_only_the_method_arn() {
    let issuer = issuer();
    let runtime = runtime();
    let lambda = LambdaAuthorizer::new(load("example", "", &issuer))
        .policy_scope(PolicyScope::Request)
        .cache_disabled();
    let user = issuer.access_token().sign();
    for (path, effect) in [("/me", "Allow"), ("/reports/1", "Deny")] {
        let response = runtime
            .block_on(lambda.handle(token_event("GET", path, &user)))
            .expect("policy");
        let statements = response["policyDocument"]["Statement"]
            .as_array()
            .expect("statements");
        assert_eq!(statements.len(), 1);
        assert_eq!(statements[0]["Effect"], effect);
        assert_eq!(
            statements[0]["Resource"],
            json!([format!("{ARN_PREFIX}GET{path}")])
        );
    }
}

#[test]
fn events_that_are_not_authorizer_events_are_server_errors() {
    let issuer = issuer();
    let runtime = runtime();
    let lambda = LambdaAuthorizer::new(load("example", "", &issuer));
    for event in [
        json!({}),
        json!({"type": "TOKEN", "authorizationToken": "x"}),
        json!("text"),
    ] {
        let answer = runtime.block_on(lambda.handle(event.clone()));
        assert!(
            matches!(answer, Err(AuthorizerError::Internal(_))),
            "{event}: {answer:?}"
        );
    }
}
