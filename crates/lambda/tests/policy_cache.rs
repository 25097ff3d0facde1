//! The compiled-policy cache of a warm authorizer function: a route table is compiled once
//! per principal and token, not on every invocation; a reload, the token's `exp` and a
//! revocation are honoured whatever is kept; and no answer exceeds what API Gateway accepts.

use std::time::Duration;

use cognito_authz_core::{
    AcceptedTokenUse, Authorizer, PolicyFile,
    revocation::{Revocation, RevocationStore},
};
use cognito_authz_lambda::{AuthorizerError, LambdaAuthorizer, MAX_ANSWER_BYTES};
use cognito_authz_test_support::policy::EXAMPLE_ISSUER;
use http::{HeaderMap, HeaderValue, Method};
use serde_json::{Value, json};

mod iam;
mod pool;
mod rest;
mod table;
use iam::iam_allows;
use pool::{fixture, issuer, runtime};
use rest::{arn, cookie_authorizer, token_event};
use table::load;

const TABLE: &str = r#"
[[route]]
path = "/health"
require = "public"

[[route]]
path = "/me"
require = "authenticated"

[[route]]
path = "/admin/{*rest}"
require = "group:admin"

[[route]]
path = "/reports/{id}"
methods = ["GET"]
require = "scope:reports/read"
"#;

fn base_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A REST `REQUEST` event for `method path`, with `headers` (name, value).
fn request_event(method: &str, path: &str, headers: &[(&str, String)]) -> Value {
    let mut event = fixture("example-apigw-custom-auth-request-type-request.json");
    event["methodArn"] = json!(arn(method, path));
    event["path"] = json!(path);
    event["httpMethod"] = json!(method);
    event["requestContext"]["httpMethod"] = json!(method);
    for (name, value) in headers {
        event["headers"][*name] = json!(value);
        event["multiValueHeaders"][*name] = json!([value]);
    }
    event
}

fn compilations(lambda: &LambdaAuthorizer) -> u64 {
    lambda.policy_cache_stats().compilations
}

#[test]
fn a_second_identical_request_compiles_nothing() {
    let issuer = issuer();
    let runtime = runtime();
    let lambda = LambdaAuthorizer::new(load(TABLE, &issuer));
    let token = issuer.access_token().sign();
    let first = runtime
        .block_on(lambda.handle(token_event("GET", "/me", &token)))
        .expect("policy");
    assert_eq!(compilations(&lambda), 1);
    let second = runtime
        .block_on(lambda.handle(token_event("GET", "/me", &token)))
        .expect("policy");
    assert_eq!(
        compilations(&lambda),
        1,
        "the second request compiled the table"
    );
    assert_eq!(first, second);
    // Another request of the same token is answered from the same compiled table, with its
    // own methodArn denied.
    let refused = runtime
        .block_on(lambda.handle(token_event("GET", "/admin/users", &token)))
        .expect("a Deny policy");
    assert_eq!(compilations(&lambda), 1);
    assert!(
        !iam_allows(&refused, &arn("GET", "/admin/users")),
        "{refused:#}"
    );
    assert!(iam_allows(&refused, &arn("GET", "/me")), "{refused:#}");
    let stats = lambda.policy_cache_stats();
    assert_eq!((stats.hits, stats.entries), (2, 1));
    assert!(stats.bytes > token.len(), "{stats:?}");
}

#[test]
fn the_table_for_no_token_is_compiled_once() {
    let issuer = issuer();
    let runtime = runtime();
    let lambda = LambdaAuthorizer::new(load(TABLE, &issuer));
    for _ in 0..3 {
        let event = request_event("GET", "/health", &[]);
        let answer = runtime.block_on(lambda.handle(event)).expect("policy");
        assert_eq!(answer["principalId"], "anonymous");
        assert!(iam_allows(&answer, &arn("GET", "/health")));
        assert!(!iam_allows(&answer, &arn("GET", "/me")));
    }
    assert_eq!(compilations(&lambda), 1);
    assert_eq!(lambda.policy_cache_stats().entries, 0);
}

/// Compiled tables are kept under the token's payload as signed (and the name of the issuer
/// that accepted it), from which every claim a policy reads comes: tokens of one user that
/// differ in any of them never share a table, and each gets its own grants.
#[test]
fn tokens_that_differ_never_share_a_compiled_table() {
    let issuer = issuer();
    let runtime = runtime();
    let text = format!(
        "{TABLE}\n[[route]]\npath = \"/gold\"\nrequire = \"claim:custom:tier=gold\"\n\n[[route]]\npath = \"/profile\"\nrequire = \"token_use:id\"\n"
    );
    let lambda = LambdaAuthorizer::new(load(&text, &issuer));
    let access = || issuer.access_token().subject("same-user");
    // (token, the one route of the table only it is granted)
    let tokens = [
        (access().sign(), None),
        (access().groups(["admin"]).sign(), Some("/admin/users")),
        (access().scopes(["reports/read"]).sign(), Some("/reports/1")),
        (access().claim("custom:tier", "gold").sign(), Some("/gold")),
        (
            issuer.id_token().subject("same-user").sign(),
            Some("/profile"),
        ),
    ];
    let only = ["/admin/users", "/reports/1", "/gold", "/profile"];
    for round in 0..2 {
        for (token, granted) in &tokens {
            let answer = runtime
                .block_on(lambda.handle(token_event("GET", "/me", token)))
                .expect("policy");
            for path in only {
                assert_eq!(
                    iam_allows(&answer, &arn("GET", path)),
                    *granted == Some(path),
                    "round {round}, {granted:?}, GET {path}: {answer:#}"
                );
            }
        }
    }
    let stats = lambda.policy_cache_stats();
    assert_eq!((stats.compilations, stats.entries), (5, 5), "{stats:?}");
    assert_eq!(stats.hits, 5);
}

#[test]
fn a_reload_compiles_the_new_table() {
    let issuer = issuer();
    let runtime = runtime();
    let authorizer = load(TABLE, &issuer);
    let lambda = LambdaAuthorizer::new(authorizer.clone());
    let token = issuer.access_token().sign();
    for event in [
        token_event("GET", "/me", &token),
        request_event("GET", "/health", &[]),
    ] {
        runtime.block_on(lambda.handle(event)).expect("policy");
    }
    assert_eq!(compilations(&lambda), 2);

    let stricter = TABLE.replace(
        "path = \"/me\"\nrequire = \"authenticated\"",
        "path = \"/me\"\nrequire = \"group:admin\"",
    );
    assert_ne!(stricter, TABLE);
    let file = PolicyFile::parse(&format!("{EXAMPLE_ISSUER}{stricter}"), base_dir(), "reload")
        .expect("policy file");
    authorizer.reload(file).expect("reload");

    let answer = runtime
        .block_on(lambda.handle(token_event("GET", "/health", &token)))
        .expect("policy");
    assert_eq!(
        compilations(&lambda),
        3,
        "the token's table was compiled again"
    );
    assert!(!iam_allows(&answer, &arn("GET", "/me")), "{answer:#}");
    runtime
        .block_on(lambda.handle(request_event("GET", "/health", &[])))
        .expect("policy");
    assert_eq!(compilations(&lambda), 4, "and the anonymous one");
    assert_eq!(lambda.policy_cache_stats().entries, 1);
}

#[test]
fn a_token_past_its_exp_is_not_answered_from_the_cache() {
    let issuer = issuer();
    let runtime = runtime();
    let clock = issuer.manual_clock().expect("manual clock").clone();
    // A leeway lets the verifier accept the token for a while after its `exp`: the cache
    // must not.
    let config = issuer
        .issuer_builder(AcceptedTokenUse::Any)
        .leeway(Duration::from_secs(600))
        .build()
        .expect("issuer");
    let authorizer = Authorizer::builder()
        .issuers([config])
        .clock(clock.clone())
        .policy_text(format!("{EXAMPLE_ISSUER}{TABLE}"), base_dir())
        .build()
        .expect("authorizer");
    let lambda = LambdaAuthorizer::new(authorizer);
    let token = issuer
        .access_token()
        .expires_at(clock.now_secs() + 60)
        .sign();
    runtime
        .block_on(lambda.handle(token_event("GET", "/me", &token)))
        .expect("policy");
    assert_eq!(compilations(&lambda), 1);
    clock.advance(Duration::from_secs(120));
    let answer = runtime
        .block_on(lambda.handle(token_event("GET", "/me", &token)))
        .expect("still within the leeway");
    assert!(iam_allows(&answer, &arn("GET", "/me")));
    assert_eq!(
        compilations(&lambda),
        2,
        "an expired entry answered the request"
    );
    let stats = lambda.policy_cache_stats();
    assert_eq!((stats.hits, stats.entries), (0, 0));
}

#[test]
fn a_token_revoked_after_its_policy_was_cached_is_refused() {
    let issuer = issuer();
    let runtime = runtime();
    let clock = issuer.manual_clock().expect("manual clock").clone();
    let store = RevocationStore::builder().clock(clock.clone()).memory();
    let authorizer = Authorizer::builder()
        .issuers([issuer.issuer_config(AcceptedTokenUse::Any)])
        .clock(clock)
        .revocation_store(store.clone())
        .policy_text(format!("{EXAMPLE_ISSUER}{TABLE}"), base_dir())
        .build()
        .expect("authorizer");
    let lambda = LambdaAuthorizer::new(authorizer.clone());
    let token = issuer.access_token().groups(["admin"]).sign();
    runtime
        .block_on(lambda.handle(token_event("GET", "/me", &token)))
        .expect("policy");
    assert_eq!(lambda.policy_cache_stats().entries, 1);

    let verified = runtime
        .block_on(authorizer.verifier().verify(&token))
        .expect("verified");
    runtime
        .block_on(store.revoke(Revocation::this_token(&verified).expect("jti")))
        .expect("revoked");
    assert_eq!(
        runtime.block_on(lambda.handle(token_event("GET", "/me", &token))),
        Err(AuthorizerError::Unauthorized)
    );
    // A public route still answers, for no principal: not with the revoked token's grants.
    let answer = runtime
        .block_on(lambda.handle(token_event("GET", "/health", &token)))
        .expect("policy");
    assert_eq!(answer["principalId"], "anonymous");
    assert!(
        !iam_allows(&answer, &arn("GET", "/admin/users")),
        "{answer:#}"
    );
    assert!(!iam_allows(&answer, &arn("GET", "/me")), "{answer:#}");
    assert_eq!(lambda.policy_cache_stats().hits, 0);
}

#[test]
fn a_cookie_token_compiles_its_table_and_the_anonymous_one_once() {
    let issuer = issuer();
    let runtime = runtime();
    let authorizer = cookie_authorizer(&issuer)
        .route("/orders", "authenticated".parse().expect("policy"))
        .route("/feedback", "public".parse().expect("policy"))
        .build()
        .expect("authorizer");
    let lambda = LambdaAuthorizer::new(authorizer);
    let token = issuer.access_token().sign();
    let cookie = [("Cookie", format!("id_token={token}"))];
    for method in ["GET", "POST", "GET", "POST"] {
        runtime
            .block_on(lambda.handle(request_event(method, "/orders", &cookie)))
            .expect("policy");
    }
    assert_eq!(compilations(&lambda), 2);
}

/// A route table of `routes` routes, each allowed to a group the token holds (`staff`) or
/// to another (`admin`), on every method.
fn table_of(routes: usize) -> String {
    let mut text = String::new();
    for n in 0..routes {
        let require = if n % 3 == 0 {
            "group:admin"
        } else {
            "group:staff"
        };
        text.push_str(&format!(
            "[[route]]\npath = \"/section-{n}/items/{{id}}\"\nrequire = \"{require}\"\n\n"
        ));
    }
    text
}

/// A table whose cache-safe policy is far larger than API Gateway accepts, even for one
/// method.
fn large_table() -> String {
    table_of(120)
}

fn answer_bytes(answer: &Value) -> usize {
    answer.to_string().len()
}

/// With the cache declared off, API Gateway applies each answer to its own request alone: no
/// table is compiled, for tokens or for no token, and every answer allows or denies exactly
/// its own `methodArn`, as the layer decides that request.
#[test]
fn with_the_cache_off_nothing_is_compiled_and_each_answer_names_its_own_request() {
    let issuer = issuer();
    let runtime = runtime();
    let authorizer = load(&large_table(), &issuer);
    let lambda = LambdaAuthorizer::new(authorizer.clone()).cache_disabled();
    let staff = issuer.access_token().groups(["staff"]).sign();
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {staff}")).expect("header"),
    );
    for (method, path) in [
        ("GET", "/section-1/items/7"),
        ("GET", "/section-3/items/7"),
        ("DELETE", "/section-2/items/7"),
        ("GET", "/section-1/nothing"),
    ] {
        let answer = runtime
            .block_on(lambda.handle(token_event(method, path, &staff)))
            .expect("policy");
        let statements = answer["policyDocument"]["Statement"]
            .as_array()
            .expect("statements");
        assert_eq!(statements.len(), 1, "{answer:#}");
        assert_eq!(statements[0]["Resource"], json!([arn(method, path)]));
        let allowed = runtime
            .block_on(authorizer.authorize(
                &Method::from_bytes(method.as_bytes()).expect("method"),
                path,
                &headers,
            ))
            .is_allowed();
        let effect = if allowed { "Allow" } else { "Deny" };
        assert_eq!(
            statements[0]["Effect"], effect,
            "{method} {path}: {answer:#}"
        );
    }
    let anonymous =
        runtime.block_on(lambda.handle(request_event("GET", "/section-1/items/7", &[])));
    assert!(
        matches!(anonymous, Err(AuthorizerError::Unauthorized)),
        "{anonymous:?}"
    );
    assert_eq!(compilations(&lambda), 0);
    assert_eq!(lambda.policy_cache_stats().entries, 0);
}

#[test]
fn a_table_too_large_for_api_gateway_is_answered_with_a_smaller_correct_policy() {
    let issuer = issuer();
    let runtime = runtime();
    let authorizer = load(&large_table(), &issuer);
    let staff = issuer.access_token().groups(["staff"]).sign();
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {staff}")).expect("header"),
    );
    let paths: Vec<String> = (0..120)
        .flat_map(|n| [format!("/section-{n}/items/7"), format!("/section-{n}/x")])
        .collect();

    for lambda in [
        LambdaAuthorizer::new(authorizer.clone()),
        LambdaAuthorizer::new(authorizer.clone()).cache_disabled(),
    ] {
        for (method, path) in [
            ("GET", "/section-1/items/7"),
            ("DELETE", "/section-2/items/7"),
            ("GET", "/section-3/items/7"),
        ] {
            let answer = runtime
                .block_on(lambda.handle(token_event(method, path, &staff)))
                .expect("policy");
            let bytes = answer_bytes(&answer);
            assert!(bytes <= MAX_ANSWER_BYTES, "{bytes} bytes");
            let layer = |method: &str, path: &str| {
                let method = Method::from_bytes(method.as_bytes()).expect("method");
                runtime
                    .block_on(authorizer.authorize(&method, path, &headers))
                    .is_allowed()
            };
            // The request itself is decided as the layer decides it.
            assert_eq!(iam_allows(&answer, &arn(method, path)), layer(method, path));
            // Nothing the layer refuses is granted, on any route or method.
            for other in ["GET", "POST", "DELETE"] {
                for path in &paths {
                    if iam_allows(&answer, &arn(other, path)) {
                        assert!(layer(other, path), "{other} {path} granted: {answer:#}");
                    }
                }
            }
        }
    }
    // A path holding an IAM wildcard is granted by its own ARN only while nothing is cached:
    // cached, `…/items/7*` would grant `…/items/7x` and every path below it.
    let wildcard = "/section-1/items/7*";
    assert!(
        runtime
            .block_on(authorizer.authorize(&Method::GET, wildcard, &headers))
            .is_allowed()
    );
    let cached = runtime
        .block_on(
            LambdaAuthorizer::new(authorizer.clone()).handle(token_event("GET", wildcard, &staff)),
        )
        .expect("policy");
    assert!(
        !iam_allows(&cached, &arn("GET", "/section-1/items/7x")),
        "{cached:#}"
    );
    assert!(!iam_allows(&cached, &arn("GET", wildcard)), "{cached:#}");
    let uncached = runtime
        .block_on(
            LambdaAuthorizer::new(authorizer)
                .cache_disabled()
                .handle(token_event("GET", wildcard, &staff)),
        )
        .expect("policy");
    assert!(iam_allows(&uncached, &arn("GET", wildcard)), "{uncached:#}");

    // The full policy is indeed too large: the one for the principal, all methods, written
    // out, holds more than the limit in resources alone.
    let full: usize = paths.len() / 2 * arn("GET", "/section-00/items/*").len();
    assert!(full > MAX_ANSWER_BYTES, "{full}");
}

#[test]
fn with_the_cache_on_a_too_large_table_keeps_the_policy_of_the_requests_method() {
    let issuer = issuer();
    let runtime = runtime();
    // Thirty routes on seven methods: too large written out for every method, small enough
    // for one.
    let text = table_of(30);
    let staff = issuer.access_token().groups(["staff"]).sign();
    let lambda = LambdaAuthorizer::new(load(&text, &issuer));
    let answer = runtime
        .block_on(lambda.handle(token_event("GET", "/section-1/items/7", &staff)))
        .expect("policy");
    assert!(answer_bytes(&answer) <= MAX_ANSWER_BYTES);
    // The cached answer still decides the principal's other GETs as the layer does, and
    // grants no other method.
    for n in 0..30 {
        let path = format!("/section-{n}/items/7");
        assert_eq!(
            iam_allows(&answer, &arn("GET", &path)),
            n % 3 != 0,
            "GET {path}: {answer:#}"
        );
        for method in ["POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"] {
            assert!(!iam_allows(&answer, &arn(method, &path)), "{method} {path}");
        }
    }
    assert!(!iam_allows(&answer, &arn("GET", "/section-1/items/7/x")));

    // With the cache declared off, the request's own methodArn is exact and smallest.
    let uncached = LambdaAuthorizer::new(load(&text, &issuer)).cache_disabled();
    let single = runtime
        .block_on(uncached.handle(token_event("GET", "/section-1/items/7", &staff)))
        .expect("policy");
    let statements = single["policyDocument"]["Statement"]
        .as_array()
        .expect("statements");
    assert_eq!(statements.len(), 1, "{single:#}");
    assert_eq!(
        statements[0]["Resource"],
        json!([arn("GET", "/section-1/items/7")])
    );
}

#[test]
fn group_names_holding_commas_are_listed_without_loss() {
    let issuer = issuer();
    let runtime = runtime();
    let lambda = LambdaAuthorizer::new(load(TABLE, &issuer));
    let plain = issuer.access_token().groups(["admin", "staff"]).sign();
    let answer = runtime
        .block_on(lambda.handle(token_event("GET", "/me", &plain)))
        .expect("policy");
    assert_eq!(answer["context"]["groups"], "admin,staff");
    assert_eq!(answer["context"]["groups_json"], r#"["admin","staff"]"#);

    let commas = issuer
        .access_token()
        .groups(["Sales, EMEA", "staff"])
        .sign();
    let answer = runtime
        .block_on(lambda.handle(token_event("GET", "/me", &commas)))
        .expect("policy");
    // Joined with commas this would read as three groups: the lossy key is left out.
    assert!(answer["context"].get("groups").is_none(), "{answer:#}");
    let listed: Vec<String> = serde_json::from_str(
        answer["context"]["groups_json"]
            .as_str()
            .expect("groups_json is a string"),
    )
    .expect("a JSON array");
    assert_eq!(listed, ["Sales, EMEA", "staff"]);

    let none = issuer.access_token().sign();
    let answer = runtime
        .block_on(lambda.handle(token_event("GET", "/me", &none)))
        .expect("policy");
    assert_eq!(answer["context"]["groups"], "");
    assert_eq!(answer["context"]["groups_json"], "[]");
}

#[test]
fn an_answer_too_large_even_with_the_smallest_policy_is_a_server_error() {
    let issuer = issuer();
    let runtime = runtime();
    let lambda = LambdaAuthorizer::new(load(TABLE, &issuer)).cache_disabled();
    // 150 groups of 30 characters: listed twice in the context, more than 8 KB.
    let groups: Vec<String> = (0..150).map(|n| format!("group-{n:024}")).collect();
    let token = issuer.access_token().groups(groups).sign();
    let answer = runtime.block_on(lambda.handle(token_event("GET", "/me", &token)));
    let Err(AuthorizerError::Internal(message)) = answer else {
        panic!("{answer:?}")
    };
    assert!(!message.contains(&token));
    let mut event = fixture("example-apigw-v2-custom-authorizer-v2-request.json");
    event["headers"]["authorization"] = json!(format!("Bearer {token}"));
    event["rawPath"] = json!("/me");
    event["requestContext"]["http"]["method"] = json!("GET");
    event["requestContext"]["http"]["path"] = json!("/me");
    let answer = runtime.block_on(lambda.handle(event));
    assert!(
        matches!(answer, Err(AuthorizerError::Internal(_))),
        "{answer:?}"
    );
}

/// Whatever was kept from earlier requests, every answer is the one a function started for
/// that request alone gives: requests of several principals, interleaved, on allowed and
/// refused routes and methods, with header and without.
#[test]
fn kept_tables_change_no_answer() {
    let issuer = issuer();
    let runtime = runtime();
    let authorizer = load(TABLE, &issuer);
    let warm = LambdaAuthorizer::new(authorizer.clone());
    let tokens = [
        None,
        Some(issuer.access_token().sign()),
        Some(issuer.access_token().groups(["admin"]).sign()),
        Some(issuer.access_token().scopes(["reports/read"]).sign()),
        Some(issuer.id_token().sign()),
    ];
    let requests = [
        ("GET", "/health"),
        ("GET", "/me"),
        ("DELETE", "/me"),
        ("GET", "/admin/users/7"),
        ("POST", "/admin/users"),
        ("GET", "/reports/1"),
        ("PUT", "/reports/1"),
        ("GET", "/nowhere"),
        ("GET", "/me/"),
    ];
    let mut answered = 0;
    for round in 0..2 {
        for (method, path) in requests {
            for token in &tokens {
                let headers: Vec<(&str, String)> = token
                    .iter()
                    .map(|token| ("Authorization", format!("Bearer {token}")))
                    .collect();
                let event = request_event(method, path, &headers);
                let fresh = LambdaAuthorizer::new(authorizer.clone());
                let expected = runtime.block_on(fresh.handle(event.clone()));
                let got = runtime.block_on(warm.handle(event));
                assert_eq!(got, expected, "round {round}: {method} {path}");
                answered += usize::from(got.is_ok());
            }
        }
    }
    assert!(answered > 40, "{answered}");
    let stats = warm.policy_cache_stats();
    assert_eq!(stats.compilations, 5, "{stats:?}");
}
