//! Metrics end to end: the quickstart app and the Prometheus endpoint of
//! `examples/metrics_prometheus.rs` on 127.0.0.1; requests are sent, `/metrics` is scraped
//! over HTTP, and the counters must have moved by exactly what was sent; a reload that drops
//! a key set stops its key gauge. Its own test binary: a process has one metrics recorder,
//! which its tests share (each on key sets and routes of its own).

#[path = "../examples/shared/mod.rs"]
mod shared;

#[path = "../examples/shared/prometheus.rs"]
mod prometheus;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use cognito_authz::{Authorizer, PolicyFile};
use cognito_authz_test_support::responses::bearer_headers;
use cognito_authz_testkit::LocalIssuer;
use metrics_exporter_prometheus::PrometheusHandle;

/// Every sample of the Prometheus text: `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            Some((key.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// The value of the sample named `name` whose labels include every `labels` pair (0 if none).
fn value(samples: &BTreeMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(key, _)| {
            let (sample, rest) = key.split_once('{').unwrap_or((key.as_str(), ""));
            sample == name
                && labels
                    .iter()
                    .all(|(label, wanted)| rest.contains(&format!("{label}=\"{wanted}\"")))
        })
        .map(|(_, value)| value)
        .sum()
}

/// The process's one Prometheus recorder, installed by the first test that needs it (before
/// it builds an authorizer).
fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| prometheus::install().expect("the only recorder of this process"))
        .clone()
}

/// `GET /metrics` of the recorder on 127.0.0.1: its URL and its server task.
async fn serve_metrics() -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    let metrics = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let metrics_url = format!("http://{}", metrics.local_addr().expect("address"));
    let router = prometheus::router(recorder());
    let server = tokio::spawn(async move { axum::serve(metrics, router).await });
    (metrics_url, server)
}

async fn scrape(client: &reqwest::Client, url: &str) -> BTreeMap<String, f64> {
    let response = client
        .get(format!("{url}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status(), 200);
    samples(&response.text().await.expect("text"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scraping_the_example_shows_the_requests_that_were_sent() {
    recorder();
    let setup = shared::local_setup().await.expect("local issuer");
    let issuer = setup.local.as_ref().expect("local");
    let tokens = shared::mint_tokens(issuer);

    let app = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let app_url = format!("http://{}", app.local_addr().expect("address"));
    let router = shared::axum_app::router(setup.authorizer.clone());
    let app_server = tokio::spawn(async move { axum::serve(app, router).await });
    let (metrics_url, metrics_server) = serve_metrics().await;

    let client = reqwest::Client::new();
    let send = |path: &'static str, token: Option<&str>| {
        let mut request = client.get(format!("{app_url}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.expect("request").status().as_u16() }
    };
    // 3 allowed on /me (the first verifies, the next two hit the cache), 2 without a token,
    // 1 plain user on the admin route, 1 raw path no route names.
    for _ in 0..3 {
        assert_eq!(send("/me", Some(&tokens.user)).await, 200);
    }
    for _ in 0..2 {
        assert_eq!(send("/me", None).await, 401);
    }
    assert_eq!(send("/admin/users", Some(&tokens.user)).await, 403);
    assert_eq!(send("/no/route/secret-123", Some(&tokens.user)).await, 403);

    let seen = scrape(&client, &metrics_url).await;
    let decisions = "cognito_authz_decisions_total";
    assert_eq!(
        value(
            &seen,
            decisions,
            &[("outcome", "allowed"), ("route", "/me")]
        ),
        3.0,
        "{seen:#?}"
    );
    assert_eq!(
        value(
            &seen,
            decisions,
            &[("code", "missing_token"), ("route", "/me")]
        ),
        2.0
    );
    assert_eq!(
        value(
            &seen,
            decisions,
            &[("code", "forbidden"), ("route", "/admin/{*rest}")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &seen,
            decisions,
            &[("code", "forbidden"), ("route", "<unmatched>")]
        ),
        1.0
    );
    assert!(
        seen.keys()
            .all(|key| !key.contains("secret-123") && !key.contains("/admin/users")),
        "raw paths never become labels"
    );
    assert_eq!(
        value(&seen, "cognito_authz_token_cache_hits_total", &[]),
        3.0,
        "{seen:#?}"
    );
    assert!(value(&seen, "cognito_authz_token_cache_misses_total", &[]) >= 1.0);
    let source = issuer.jwks_url().expect("served keys");
    assert_eq!(
        value(
            &seen,
            "cognito_authz_jwks_fetches_total",
            &[("source", &source), ("result", "ok")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &seen,
            "cognito_authz_jwks_fetch_duration_seconds_count",
            &[("source", &source)]
        ),
        1.0
    );
    assert_eq!(
        value(&seen, "cognito_authz_jwks_keys", &[("source", &source)]),
        1.0
    );

    // An unknown kid right after the fetch is refused by the cooldown, and counted.
    let stranger = cognito_authz_testkit::SigningKey::generate_with_random_kid();
    let unknown = issuer.access_token().signed_by(&stranger).sign();
    assert_eq!(send("/me", Some(&unknown)).await, 401);
    let seen = scrape(&client, &metrics_url).await;
    assert_eq!(
        value(
            &seen,
            "cognito_authz_jwks_cooldown_refusals_total",
            &[("source", &source)]
        ),
        1.0
    );
    assert_eq!(
        value(
            &seen,
            decisions,
            &[("code", "unknown_kid"), ("route", "/me")]
        ),
        1.0
    );

    // A failed fetch is counted under its cause: a second pool whose key server answers 500.
    let failing = cognito_authz_testkit::LocalIssuer::builder()
        .system_clock()
        .start()
        .await
        .expect("second issuer");
    let failing_server = failing.server().expect("served keys");
    failing_server.respond_with_status(500);
    let verifier = failing
        .verifier_builder(cognito_authz::AcceptedTokenUse::Access)
        .build()
        .expect("verifier");
    let error = verifier
        .verify(&failing.access_token().sign())
        .await
        .expect_err("no keys");
    assert_eq!(error.code(), "jwks_unavailable");
    let failing_source = failing.jwks_url().expect("url");
    let seen = scrape(&client, &metrics_url).await;
    assert_eq!(
        value(
            &seen,
            "cognito_authz_jwks_fetches_total",
            &[("source", &failing_source), ("result", "status")]
        ),
        failing_server.fetch_count() as f64
    );
    assert!(failing_server.fetch_count() >= 1);

    // A reload is counted, and so is a refused one.
    setup
        .authorizer
        .reload_from_file(shared::policy_path())
        .expect("reloads");
    assert!(
        setup
            .authorizer
            .reload_from_file("/nonexistent/policy.toml")
            .is_err()
    );
    let seen = scrape(&client, &metrics_url).await;
    assert!(
        value(
            &seen,
            "cognito_authz_policy_reloads_total",
            &[("result", "ok")]
        ) >= 1.0
    );
    assert!(
        value(
            &seen,
            "cognito_authz_policy_reloads_total",
            &[("result", "error")]
        ) >= 1.0
    );

    app_server.abort();
    metrics_server.abort();
}

/// The sample `name{source="…"}`, if the exporter has one.
fn keys_gauge(samples: &BTreeMap<String, f64>, source: &str) -> Option<f64> {
    samples
        .get(&format!("cognito_authz_jwks_keys{{source=\"{source}\"}}"))
        .copied()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_set_a_reload_drops_reports_no_keys_any_more() {
    // A dashboard of keys in use per pool (or an alert on a pool with no keys) must not keep
    // showing a pool the policy no longer names, with the count it had when it was removed.
    recorder();
    let (metrics_url, metrics_server) = serve_metrics().await;
    let client = reqwest::Client::new();
    let start = || LocalIssuer::builder().system_clock().start();
    let (dropped, other) = (
        start().await.expect("issuer"),
        start().await.expect("issuer"),
    );
    let policy = |issuer: &LocalIssuer, extra: &str| {
        format!(
            "[[issuer]]\nname = \"main\"\nuser_pool_id = \"{pool}\"\nclient_ids = [\"{client}\"]\n\
             token_use = \"access\"\njwks_url = \"{url}\"\n{extra}\n\n[[route]]\n\
             path = \"/reload-gauge\"\nrequire = \"authenticated\"\n",
            pool = issuer.pool_id(),
            client = issuer.client_id(),
            url = issuer.jwks_url().expect("served keys"),
        )
    };
    let parse = |text: String| PolicyFile::parse(&text, ".", "policy.toml").expect("parses");
    let authorizer = Authorizer::builder()
        .parsed_policy_file(parse(policy(&dropped, "")))
        .build()
        .expect("builds");
    authorizer.verifier().warm_up().await.expect("fetched");
    let source = dropped.jwks_url().expect("served keys");
    let seen = scrape(&client, &metrics_url).await;
    assert_eq!(keys_gauge(&seen, &source), Some(1.0), "{seen:#?}");

    // The same URL under other fetch settings: a new key set of that URL is in force, so the
    // URL keeps its count.
    let reloaded = authorizer
        .reload(parse(policy(&dropped, "allow_insecure_http = true")))
        .expect("reloads");
    assert_eq!(reloaded.kept_key_sets, 0);
    let seen = scrape(&client, &metrics_url).await;
    assert_eq!(keys_gauge(&seen, &source), Some(1.0), "{seen:#?}");
    // A per-route policy made now keeps this key set after the next reload.
    let per_route = authorizer
        .with_expression("authenticated")
        .expect("compiles");

    // Another pool only: the key set of that URL is left behind, but the per-route policy
    // still decides with it, so its count stands and its fetches report it.
    authorizer
        .reload(parse(policy(&other, "")))
        .expect("reloads");
    let seen = scrape(&client, &metrics_url).await;
    assert_eq!(keys_gauge(&seen, &source), Some(1.0), "{seen:#?}");
    let token = dropped.access_token().sign();
    let decision = per_route
        .authorize(&http::Method::GET, "/reload-gauge", &bearer_headers(&token))
        .await;
    assert!(decision.is_allowed(), "{decision:?}");
    // (Its key set, made by the first reload, had not fetched yet: this request fetched it.)
    let seen = scrape(&client, &metrics_url).await;
    assert_eq!(
        value(
            &seen,
            "cognito_authz_jwks_fetches_total",
            &[("source", &source), ("result", "ok")]
        ),
        2.0
    );
    assert_eq!(keys_gauge(&seen, &source), Some(1.0), "{seen:#?}");

    // Once nothing uses a key set of that URL, it reports no keys.
    drop(per_route);
    let seen = scrape(&client, &metrics_url).await;
    assert_eq!(
        keys_gauge(&seen, &source),
        Some(0.0),
        "the dropped pool still reports its keys"
    );
    metrics_server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_set_reports_its_count_while_it_lives_and_never_fetched_leaves_none() {
    recorder();
    let (metrics_url, metrics_server) = serve_metrics().await;
    let client = reqwest::Client::new();
    let issuer = LocalIssuer::builder()
        .system_clock()
        .start()
        .await
        .expect("issuer");
    let source = issuer.jwks_url().expect("served keys");
    let verifier = || {
        issuer
            .verifier_builder(cognito_authz::AcceptedTokenUse::Access)
            .build()
            .expect("verifier")
    };

    // Made and dropped without a fetch (as by a reload that fails after building it): no
    // count appears for a URL that never reported one.
    drop(verifier());
    let seen = scrape(&client, &metrics_url).await;
    assert_eq!(keys_gauge(&seen, &source), None, "{seen:#?}");

    let first = verifier();
    first.warm_up().await.expect("fetched");
    let second = verifier();
    let seen = scrape(&client, &metrics_url).await;
    assert_eq!(keys_gauge(&seen, &source), Some(1.0), "{seen:#?}");
    // Another key set of the URL still lives: the count stands.
    drop(first);
    let seen = scrape(&client, &metrics_url).await;
    assert_eq!(keys_gauge(&seen, &source), Some(1.0), "{seen:#?}");
    drop(second);
    let seen = scrape(&client, &metrics_url).await;
    assert_eq!(keys_gauge(&seen, &source), Some(0.0), "{seen:#?}");
    metrics_server.abort();
}
