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

fn setup() -> (Authorizer, HeaderMap) {
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
    (authorizer, headers)
}

fn decide(authorizer: &Authorizer, path: &str, headers: &HeaderMap) -> bool {
    authorizer
        .authorize(&Method::GET, path, headers)
        .now_or_never()
        .expect("a cached token decides without waiting")
        .is_allowed()
}

fn cedar_route(c: &mut Criterion) {
    let (authorizer, headers) = setup();
    assert!(decide(&authorizer, "/expr", &headers));
    assert!(decide(&authorizer, "/cedar", &headers));
    let mut group = c.benchmark_group("cedar");
    group.bench_function("expression", |b| {
        b.iter(|| black_box(decide(&authorizer, black_box("/expr"), &headers)));
    });
    group.bench_function("cedar", |b| {
        b.iter(|| black_box(decide(&authorizer, black_box("/cedar"), &headers)));
    });
    group.finish();

    // Interleaved, so both see the same machine state: the cost over, in one run.
    let rounds = 20;
    let per_round = 20_000;
    let (mut expression, mut cedar) = (Duration::ZERO, Duration::ZERO);
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
    }
    let count = f64::from(rounds * per_round);
    let expression_us = expression.as_secs_f64() * 1e6 / count;
    let cedar_us = cedar.as_secs_f64() * 1e6 / count;
    println!(
        "cedar/over: expression route {expression_us:.2} µs, Cedar route (10 policies) {cedar_us:.2} µs: {:.2} µs over (target ≤ 5 µs), ratio {:.2}",
        cedar_us - expression_us,
        cedar_us / expression_us
    );
}

criterion_group!(benches, cedar_route);
criterion_main!(benches);
