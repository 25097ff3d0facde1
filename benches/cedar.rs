//! A Cedar route against an expression route, one request each on a cached token.
//!
//! - `cedar/expression`: `GET /expr` whose policy is `group:staff and scope:api/read`;
//! - `cedar/cedar`: `GET /cedar` whose policy is `authenticated and cedar`, with ten Cedar
//!   policies (nine about other actions or groups, one permit that applies).
//!
//! Both go through `Authorizer::authorize` with the verified-token cache on, so the token is
//! verified once and its Cedar entities built once; what differs is the Cedar decision. After
//! criterion's runs, an interleaved loop prints the difference per request and the ratio in
//! one run (target: at most 5 µs over).

use std::hint::black_box;
use std::time::{Duration, Instant};

use cognito_authz::cedar::CedarConfig;
use cognito_authz::{AcceptedTokenUse, Authorizer, Policy};
use cognito_authz_testkit::LocalIssuer;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt as _;
use http::{HeaderMap, Method};
use serde_json::json;

const SCHEMA: &str = r#"namespace Bench {
  entity UserGroup;
  entity User in [UserGroup];
  entity Application;
  action "get /cedar", "get /a", "get /b", "get /c", "post /cedar" appliesTo {
    principal: User, resource: Application,
    context: { token: { scope: Set<String> } }
  };
}"#;

fn policies(pool: &str) -> String {
    let mut text = String::new();
    for (index, action) in ["get /a", "get /b", "get /c", "post /cedar"]
        .iter()
        .enumerate()
    {
        text.push_str(&format!(
            "permit(principal in Bench::UserGroup::\"{pool}|group{index}\", action == Bench::Action::\"{action}\", resource);\n"
        ));
        text.push_str(&format!(
            "forbid(principal in Bench::UserGroup::\"{pool}|banned{index}\", action == Bench::Action::\"{action}\", resource);\n"
        ));
    }
    text.push_str(&format!(
        "forbid(principal in Bench::UserGroup::\"{pool}|banned\", action, resource);\n"
    ));
    text.push_str(&format!(
        "permit(principal in Bench::UserGroup::\"{pool}|staff\", action == Bench::Action::\"get /cedar\", resource) when {{ context.token.scope.contains(\"api/read\") }};\n"
    ));
    text
}

fn setup() -> (Authorizer, HeaderMap, String) {
    let issuer = LocalIssuer::offline();
    let cedar = CedarConfig::new("Bench")
        .schema_text("bench.cedarschema", SCHEMA)
        .policies_text("bench.cedar", policies(issuer.pool_id()))
        .build()
        .expect("policies validate");
    assert_eq!(cedar.policy_ids().len(), 10);
    let authorizer = Authorizer::builder()
        .verifier(
            issuer
                .verifier_builder(AcceptedTokenUse::Access)
                .verified_token_cache(1024)
                .build()
                .expect("verifier"),
        )
        .cedar(cedar)
        .route_methods(
            [Method::GET],
            "/expr",
            "group:staff and scope:api/read".parse().expect("policy"),
        )
        .route_methods(
            [Method::GET],
            "/cedar",
            "authenticated and cedar".parse().expect("policy"),
        )
        .route("/other", Policy::authenticated())
        .build()
        .expect("authorizer");
    let token = issuer
        .access_token()
        .groups(["staff", "reports"])
        .scopes(["openid", "api/read"])
        .sign();
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("header"),
    );
    (authorizer, headers, token)
}

/// The same Cedar request straight to `cedar_policy::Authorizer` (entities and context built
/// in advance): the floor that no integration can go below.
fn cedar_floor(authorizer: &Authorizer, token: &str) -> impl Fn() -> bool {
    use cognito_authz::cedar::cedar_policy::{
        Authorizer as CedarAuthorizer, Context, Decision, Entities, EntityUid, Request,
    };
    let cedar = authorizer.cedar().expect("cedar");
    let verified = authorizer
        .verifier()
        .verify(token)
        .now_or_never()
        .expect("cached")
        .expect("valid");
    let json = cedar.entities_json(&verified).expect("entities");
    let entities = Entities::from_json_value(json["entities"].clone(), None).expect("entities");
    let context = Context::from_json_value(json["context"].clone(), None).expect("context");
    let principal: EntityUid =
        EntityUid::from_json(json!({"__entity": json["principal"]})).expect("uid");
    let action: EntityUid = r#"Bench::Action::"get /cedar""#.parse().expect("uid");
    let resource: EntityUid = r#"Bench::Application::"Bench""#.parse().expect("uid");
    let engine = CedarAuthorizer::new();
    move || {
        let request = Request::new(
            principal.clone(),
            action.clone(),
            resource.clone(),
            context.clone(),
            None,
        )
        .expect("request");
        engine
            .is_authorized(&request, cedar.policies(), &entities)
            .decision()
            == Decision::Allow
    }
}

fn decide(authorizer: &Authorizer, path: &str, headers: &HeaderMap) -> bool {
    authorizer
        .authorize(&Method::GET, path, headers)
        .now_or_never()
        .expect("a cached token decides without waiting")
        .is_allowed()
}

fn cedar_route(c: &mut Criterion) {
    let (authorizer, headers, token) = setup();
    assert!(decide(&authorizer, "/expr", &headers));
    assert!(decide(&authorizer, "/cedar", &headers));
    let floor = cedar_floor(&authorizer, &token);
    assert!(floor());
    let mut group = c.benchmark_group("cedar");
    group.bench_function("expression", |b| {
        b.iter(|| black_box(decide(&authorizer, black_box("/expr"), &headers)));
    });
    group.bench_function("cedar", |b| {
        b.iter(|| black_box(decide(&authorizer, black_box("/cedar"), &headers)));
    });
    group.bench_function("cedar_policy_floor", |b| b.iter(|| black_box(floor())));
    group.finish();

    // Interleaved, so both see the same machine state: the cost over, in one run.
    let rounds = 20;
    let per_round = 20_000;
    let (mut expression, mut cedar, mut bare) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..per_round {
            black_box(decide(&authorizer, black_box("/expr"), &headers));
        }
        expression += start.elapsed();
        let start = Instant::now();
        for _ in 0..per_round {
            black_box(decide(&authorizer, black_box("/cedar"), &headers));
        }
        cedar += start.elapsed();
        let start = Instant::now();
        for _ in 0..per_round {
            black_box(floor());
        }
        bare += start.elapsed();
    }
    let count = f64::from(rounds * per_round);
    let expression_us = expression.as_secs_f64() * 1e6 / count;
    let cedar_us = cedar.as_secs_f64() * 1e6 / count;
    let bare_us = bare.as_secs_f64() * 1e6 / count;
    println!(
        "cedar/over: expression route {expression_us:.2} µs, Cedar route (10 policies) {cedar_us:.2} µs: {:.2} µs over (target ≤ 5 µs), ratio {:.2}",
        cedar_us - expression_us,
        cedar_us / expression_us
    );
    println!(
        "cedar/floor: the same request straight to cedar_policy::Authorizer {bare_us:.2} µs (what the integration adds: {:.2} µs)",
        cedar_us - expression_us - bare_us
    );
}

criterion_group!(benches, cedar_route);
criterion_main!(benches);
