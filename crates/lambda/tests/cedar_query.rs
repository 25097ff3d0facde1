//! A Cedar route whose policies read the query string, decided by the Lambda authorizer and by
//! the in-process layer (feature `cedar`: `cargo test -p cognito-authz-lambda --features cedar
//! --test cedar_query`).
//!
//! REST `REQUEST` events carry the query (`queryStringParameters`,
//! `multiValueQueryStringParameters`), and so do HTTP API 2.0 events (`rawQueryString`): the
//! authorizer decides with it, so a Cedar `forbid` on a query parameter applies as it does
//! in-process. REST `TOKEN` events carry no query: the authorizer refuses Cedar routes there.

use cognito_authz_core::{AcceptedTokenUse, Authorizer, AuthorizerBuilder, RequestTarget};
use cognito_authz_lambda::LambdaAuthorizer;
use cognito_authz_test_support::policy::EXAMPLE_ISSUER;
use http::Method;
use serde_json::{Value, json};

mod iam;
mod pool;
mod requests;
use iam::iam_allows;
use pool::{ARN_PREFIX, fixture, issuer, runtime};
use requests::{headers, request_event};

const TABLE: &str = r#"
[cedar]
namespace = "Search"
schema = "search.cedarschema"
policies = ["policies"]

[[route]]
path = "/search"
methods = ["GET"]
require = "authenticated and cedar"
"#;

/// The authorizer of the Cedar route table (its `[cedar]` section needs the `cedar` feature).
fn load(issuer: &cognito_authz_testkit::LocalIssuer) -> Authorizer {
    built(builder(issuer, TABLE, "cedar_query"))
}

/// An authorizer of `table` being built, its Cedar files in `tests/{folder}`.
fn builder(
    issuer: &cognito_authz_testkit::LocalIssuer,
    table: &str,
    folder: &str,
) -> AuthorizerBuilder {
    Authorizer::builder()
        .issuers([issuer.issuer_config(AcceptedTokenUse::Any)])
        .clock(issuer.manual_clock().expect("manual clock").clone())
        .policy_text(format!("{EXAMPLE_ISSUER}{table}"), folder_of(folder))
}

/// The authorizer `builder` builds: its policy file must load.
fn built(builder: AuthorizerBuilder) -> Authorizer {
    builder
        .build()
        .unwrap_or_else(|error| panic!("the policy file loads: {error}"))
}

/// `tests/{folder}` of this crate.
fn folder_of(folder: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(folder)
}

/// A REST `TOKEN` event for `method` `path` with `token`.
fn token_event(method: &str, path: &str, token: &str) -> Value {
    let mut event = fixture("example-apigw-custom-auth-request.json");
    event["methodArn"] = json!(format!("{ARN_PREFIX}{method}{path}"));
    event["authorizationToken"] = json!(format!("Bearer {token}"));
    event
}

/// A REST `REQUEST` event for `GET /search?debug=1`.
fn debug_search(token: &str) -> Value {
    let mut event = request_event("GET", "/search", Some(token));
    event["queryStringParameters"] = json!({"debug": "1"});
    event["multiValueQueryStringParameters"] = json!({"debug": ["1"]});
    event
}

/// `GET /search?debug=1` by a signed-in user: the layer (the query given, as every
/// adapter gives it) refuses with 403 (`no-debug-view`). The authorizer, cache declared off,
/// asks Cedar with the event's query too (REST query parameters written out again, HTTP API
/// `rawQueryString`), so it refuses as well: a `Deny` of the request's own `methodArn`, and
/// `isAuthorized: false`.
#[test]
fn a_cedar_forbid_on_a_query_parameter_holds_in_the_authorizer() {
    let issuer = issuer();
    let authorizer = load(&issuer);
    let token = issuer.access_token().sign();
    let layer = |query: Option<&str>| {
        runtime()
            .block_on(authorizer.authorize(
                &Method::GET,
                RequestTarget::new("/search").with_query(query),
                &headers(Some(&token)),
            ))
            .is_allowed()
    };
    assert!(layer(None), "the layer allows GET /search");
    assert!(
        !layer(Some("debug=1")),
        "the layer refuses GET /search?debug=1"
    );

    let lambda = LambdaAuthorizer::new(authorizer.clone()).cache_disabled();
    let mut wrong = Vec::new();
    let rest = runtime()
        .block_on(lambda.handle(debug_search(&token)))
        .expect("a policy");
    if iam_allows(&rest, &format!("{ARN_PREFIX}GET/search")) {
        wrong.push(format!(
            "REST REQUEST GET /search?debug=1 allowed: {rest:#}"
        ));
    }
    let mut v2 = fixture("example-apigw-v2-custom-authorizer-v2-request.json");
    v2["rawPath"] = json!("/search");
    v2["rawQueryString"] = json!("debug=1");
    v2["queryStringParameters"] = json!({"debug": "1"});
    v2["requestContext"]["http"]["method"] = json!("GET");
    v2["requestContext"]["http"]["path"] = json!("/search");
    v2["cookies"] = json!([]);
    v2["headers"]["authorization"] = json!(format!("Bearer {token}"));
    let answer = runtime().block_on(lambda.handle(v2));
    if matches!(&answer, Ok(answer) if answer["isAuthorized"] == json!(true)) {
        wrong.push(format!(
            "HTTP API 2.0 GET /search?debug=1 authorized: {answer:?}"
        ));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// What the cache-safe policy (cache on) does with a Cedar route: `layer_allows`
/// (crates/lambda/src/iam.rs) reads the `cedar` atom as false, so neither a glob nor the
/// request's exact ARN grants `GET /search`, which the layer allows. Recorded, not a wrong
/// admit: with the cache on, every Cedar route is refused (403) by the REST authorizer, as the
/// docs say (such routes need a TTL of 0 and `cache_disabled()`).
#[test]
fn with_the_cache_on_a_cedar_route_is_refused_by_its_own_policy() {
    let issuer = issuer();
    let authorizer = load(&issuer);
    let token = issuer.access_token().sign();
    let lambda = LambdaAuthorizer::new(authorizer);
    let answer = runtime()
        .block_on(lambda.handle(request_event("GET", "/search", Some(&token))))
        .expect("a policy");
    let granted = iam_allows(&answer, &format!("{ARN_PREFIX}GET/search"));
    let debug = runtime()
        .block_on(lambda.handle(debug_search(&token)))
        .expect("a policy");
    // Never a wrong admit through the cache.
    assert!(
        !iam_allows(&debug, &format!("{ARN_PREFIX}GET/search")),
        "{debug:#}"
    );
    assert!(!granted, "now granted: update the report ({answer:#})");
}

/// A REST `TOKEN` event carries the token and the `methodArn`, never the query string:
/// `GET /search?debug=1` reaches the authorizer as `GET /search`, which Cedar allows without
/// the query. So a Cedar route is refused on a `TOKEN` event, whatever the query was: a `Deny`
/// of the request's own `methodArn` (403), with the cache off and on. A `REQUEST` event for the
/// same request without a query is still allowed.
#[test]
fn a_token_event_cannot_reach_a_cedar_route() {
    let issuer = issuer();
    let authorizer = load(&issuer);
    let token = issuer.access_token().sign();
    let search = format!("{ARN_PREFIX}GET/search");
    let token_event = token_event("GET", "/search", &token);
    for lambda in [
        LambdaAuthorizer::new(authorizer.clone()).cache_disabled(),
        LambdaAuthorizer::new(authorizer.clone()),
    ] {
        let answer = runtime()
            .block_on(lambda.handle(token_event.clone()))
            .expect("a policy, not Unauthorized: the token is valid");
        assert!(
            !iam_allows(&answer, &search),
            "TOKEN event allowed: {answer:#}"
        );
        let denied = answer["policyDocument"]["Statement"]
            .as_array()
            .expect("statements")
            .iter()
            .any(|statement| {
                statement["Effect"] == "Deny"
                    && statement["Resource"]
                        .as_array()
                        .is_some_and(|resources| resources.iter().any(|r| r == &json!(search)))
            });
        assert!(
            denied,
            "the request's own methodArn is denied by name: {answer:#}"
        );
    }
    let lambda = LambdaAuthorizer::new(authorizer).cache_disabled();
    let request = runtime()
        .block_on(lambda.handle(request_event("GET", "/search", Some(&token))))
        .expect("a policy");
    assert!(
        iam_allows(&request, &search),
        "REQUEST event refused: {request:#}"
    );
}

/// The Cedar route table of the reload test below: `GET /docs/{id}` for any signed-in user
/// Cedar permits, the document supplied by a resource loader.
const CEDAR_DOCS: &str = r#"
[cedar]
namespace = "Docs"
schema = "docs.cedarschema"
policies = ["policies"]

[[route]]
path = "/docs/{id}"
methods = ["GET"]
require = "authenticated and cedar"
"#;

/// The table reloaded over it: `GET` for admins only, without Cedar (Cedar and its loader
/// stay, for `DELETE`).
const ADMIN_DOCS: &str = r#"
[cedar]
namespace = "Docs"
schema = "docs.cedarschema"
policies = ["policies"]

[[route]]
path = "/docs/{id}"
methods = ["GET"]
require = "group:admin"

[[route]]
path = "/docs/{id}"
methods = ["DELETE"]
require = "group:admin and cedar"
"#;

/// A policy reload landing while a `TOKEN` event is decided. The decision is taken on the
/// Cedar table (Cedar permits: the event carries no query, so the authorizer must refuse it);
/// the reload puts the admin-only table in force meanwhile. Whatever the answer reads of the
/// route afterwards (here: whether Cedar guards it) must be of the table that decided, or the
/// Cedar decision passes as if no Cedar had taken it, and a plain user gets a route that both
/// tables refuse them. The authorizer decides again on the new table: a `Deny`.
#[test]
fn a_reload_while_a_token_event_is_decided_grants_nothing_either_table_refuses() {
    use cognito_authz_core::PolicyFile;
    use cognito_authz_core::cedar::{ResourceError, ResourceRequest};

    let issuer = issuer();
    // The loader says when the decision has reached it, then waits for the reload.
    let (entered, reached) = std::sync::mpsc::channel::<()>();
    let entered = std::sync::Mutex::new(entered);
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    let loader_gate = std::sync::Arc::clone(&gate);
    let authorizer = built(
        builder(&issuer, CEDAR_DOCS, "cedar_reload").resource_loader(
            "/docs/{id}",
            move |request: ResourceRequest| {
                let _ = entered.lock().expect("sender").send(());
                let gate = std::sync::Arc::clone(&loader_gate);
                async move {
                    let _open = gate
                        .acquire()
                        .await
                        .map_err(|error| ResourceError::new(error.to_string()))?;
                    request.entity("Doc", "1")?.build()
                }
            },
        ),
    );
    let user = issuer.access_token().sign();
    let docs = format!("{ARN_PREFIX}GET/docs/1");
    let event = token_event("GET", "/docs/1", &user);

    let lambda = LambdaAuthorizer::new(authorizer.clone()).cache_disabled();
    let deciding = std::thread::spawn(move || runtime().block_on(lambda.handle(event)));
    // Bounded only so that a regression fails instead of hanging the suite.
    reached
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the decision asks the loader");
    let admin_only = PolicyFile::parse(
        &format!("{EXAMPLE_ISSUER}{ADMIN_DOCS}"),
        folder_of("cedar_reload"),
        "admin",
    )
    .expect("the admin-only table parses");
    authorizer.reload(admin_only).expect("the reload applies");
    gate.add_permits(1);
    let answer = deciding
        .join()
        .expect("the decision ends")
        .expect("a policy, not Unauthorized: the token is valid");
    assert!(
        !iam_allows(&answer, &docs),
        "a plain user was granted GET /docs/1, which the Cedar table refuses to a TOKEN event and the admin table to anyone but admins: {answer:#}"
    );
}

/// A table where a Cedar route shares its pattern with a `HEAD` route that does not
/// use Cedar (so a `HEAD` request is guarded by both), beside a plain route.
const REPORT_TABLE: &str = r#"
[cedar]
namespace = "Report"
schema = "report.cedarschema"
policies = ["policies"]

[[route]]
path = "/report"
methods = ["GET"]
require = "authenticated and cedar"

[[route]]
path = "/report"
methods = ["HEAD"]
require = "authenticated"

[[route]]
path = "/other"
methods = ["GET"]
require = "authenticated"
"#;

/// A `TOKEN` event never reaches a Cedar route's allow, whichever way it
/// comes: `HEAD /report` (its `HEAD` route plain, the `GET` route it shares its pattern with
/// Cedar's), `GET /report` itself, and, with the cache on, the policy a `TOKEN` event for
/// `GET /other` is answered with (API Gateway applies it to this token's later requests):
/// none grants `GET /report` or `HEAD /report`.
#[test]
fn a_token_event_reaches_no_cedar_route_by_head_or_by_a_cached_policy() {
    let issuer = issuer();
    let authorizer = built(builder(&issuer, REPORT_TABLE, "cedar_token"));
    let token = issuer.access_token().sign();
    // The layer allows `GET /report` (Cedar permits it), so refusing it is not vacuous; it
    // refuses `HEAD /report`, whose Cedar action `head /report` the schema does not declare.
    for (method, allowed) in [(Method::GET, true), (Method::HEAD, false)] {
        let decision = runtime().block_on(authorizer.authorize(
            &method,
            RequestTarget::new("/report"),
            &headers(Some(&token)),
        ));
        assert_eq!(
            decision.is_allowed(),
            allowed,
            "layer {method} /report: {decision:?}"
        );
    }
    let cedar_arns = [
        format!("{ARN_PREFIX}GET/report"),
        format!("{ARN_PREFIX}HEAD/report"),
    ];
    let mut wrong = Vec::new();
    for (cache, lambda) in [
        (
            "off",
            LambdaAuthorizer::new(authorizer.clone()).cache_disabled(),
        ),
        ("on", LambdaAuthorizer::new(authorizer)),
    ] {
        for (method, path) in [("HEAD", "/report"), ("GET", "/report"), ("GET", "/other")] {
            let answer = runtime()
                .block_on(lambda.handle(token_event(method, path, &token)))
                .expect("a policy: the token is valid");
            for arn in &cedar_arns {
                // With the cache off the answer is for its own request only.
                let applies = cache == "on" || arn.ends_with(&format!("{method}{path}"));
                if applies && iam_allows(&answer, arn) {
                    wrong.push(format!("cache {cache}: TOKEN {method} {path} grants {arn}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Two user pools, `staff` and `partners`, with the report route of
/// [`REPORT_TABLE`] and `GET /admin` for one of them by issuer name; the keys of each pool are
/// in `dir` (`a.json`, `b.json`).
fn two_pool_table(dir: &std::path::Path, a: &str, b: &str, admin_issuer: &str) -> String {
    format!(
        r#"[[issuer]]
name = "{a}"
user_pool_id = "us-east-1_Example1"
client_ids = ["1example23456789"]
token_use = "access"
jwks_file = "{a_keys}"

[[issuer]]
name = "{b}"
user_pool_id = "us-east-1_Example2"
client_ids = ["1example23456789"]
token_use = "access"
jwks_file = "{b_keys}"

[cedar]
namespace = "Report"
schema = "report.cedarschema"
policies = ["policies"]

[[route]]
path = "/report"
methods = ["GET"]
require = "authenticated and cedar"

[[route]]
path = "/admin"
methods = ["GET"]
require = "issuer:{admin_issuer}"
"#,
        a_keys = dir.join("a.json").display(),
        b_keys = dir.join("b.json").display(),
    )
}

/// Calls `on_event` on each event whose message holds `needle`, on the thread it is set for.
struct OnEvent<F> {
    needle: &'static str,
    on_event: F,
}

impl<F: Fn() + Send + Sync + 'static> tracing::Subscriber for OnEvent<F> {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::always()
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        if message.0.contains(self.needle) {
            (self.on_event)();
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// A policy reload landing after a `TOKEN` event was decided and before the answer's
/// principal is read. The table in force when the event arrives names pool A `staff` and
/// grants `GET /admin` to `issuer:partners` (pool B); the reload swaps the names (pool A is now
/// `partners`) and grants `GET /admin` to `issuer:staff` (pool B). A token of pool A gets
/// `GET /admin` from neither table. The event (`GET /report`, a Cedar route, refused to a
/// `TOKEN` event) is decided on the first table; the reload lands where the authorizer logs
/// that refusal, which is the moment after the decision (a subscriber of the test's own
/// makes it land there, every time). The answer, with the authorizer cache on, is the cached
/// table compiled for the principal: it must be compiled for the token as the deciding table's
/// issuers read it, or as the new table's, never the first table read with the second's
/// issuer names.
#[test]
fn a_reload_after_the_decision_reads_no_principal_the_deciding_table_did_not_verify() {
    use cognito_authz_core::PolicyFile;

    let a = issuer();
    let b = cognito_authz_testkit::LocalIssuer::builder()
        .pool_id("us-east-1_Example2")
        .client_id(pool::CLIENT)
        .clock(a.manual_clock().expect("manual clock").clone())
        .offline()
        .expect("offline issuer");
    let dir = std::env::temp_dir().join(format!(
        "cognito-authz-lambda-renamed-issuers-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("a.json"), a.jwks_json()).expect("keys of pool A");
    std::fs::write(dir.join("b.json"), b.jwks_json()).expect("keys of pool B");
    let base = folder_of("cedar_token");
    let first = two_pool_table(&dir, "staff", "partners", "partners");
    let renamed = two_pool_table(&dir, "partners", "staff", "staff");
    let authorizer = Authorizer::builder()
        .clock(a.manual_clock().expect("manual clock").clone())
        .policy_text(first.clone(), &base)
        .build()
        .unwrap_or_else(|error| panic!("the first table loads: {error}"));
    let token = a.access_token().sign();
    let admin = format!("{ARN_PREFIX}GET/admin");
    let event = token_event("GET", "/report", &token);

    // Neither table, asked alone, grants pool A's token GET /admin.
    for (name, text) in [("first", &first), ("renamed", &renamed)] {
        let alone = Authorizer::builder()
            .clock(a.manual_clock().expect("manual clock").clone())
            .policy_text(text.clone(), &base)
            .build()
            .unwrap_or_else(|error| panic!("the {name} table loads: {error}"));
        let answer = runtime()
            .block_on(LambdaAuthorizer::new(alone).handle(event.clone()))
            .expect("a policy: the token is valid");
        assert!(
            !iam_allows(&answer, &admin),
            "the {name} table alone grants GET /admin: {answer:#}"
        );
    }

    let lambda = LambdaAuthorizer::new(authorizer.clone());
    let reloading = authorizer;
    let reloaded = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = std::sync::Arc::clone(&reloaded);
    let subscriber = OnEvent {
        needle: "a Cedar route needs a REQUEST authorizer",
        on_event: move || {
            if !done.swap(true, std::sync::atomic::Ordering::SeqCst) {
                let file = PolicyFile::parse(&renamed, &base, "renamed").expect("parses");
                reloading.reload(file).expect("the reload applies");
            }
        },
    };
    let answer =
        tracing::subscriber::with_default(subscriber, || runtime().block_on(lambda.handle(event)))
            .expect("a policy: the token is valid");
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        reloaded.load(std::sync::atomic::Ordering::SeqCst),
        "the reload landed after the decision"
    );
    assert!(
        !iam_allows(&answer, &admin),
        "pool A's token was granted GET /admin, which neither table grants it: {answer:#}"
    );
}
