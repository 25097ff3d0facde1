//! Key fetching under hostile or extreme conditions, beyond tests/jwks_*.rs: fetch settings at
//! `Duration::MAX` answer like any other setting (never a panic inside `verify`).

use std::time::Duration;

use cognito_authz::{AcceptedTokenUse, ErrorKind, Verifier};
use cognito_authz_testkit::LocalIssuer;
use futures_util::FutureExt as _;

// --- fetch settings at their extremes ---------------------------------------------------------

/// A cooldown of `Duration::MAX` means "never refresh on an unknown kid": the unknown kid is
/// answered `unknown_kid` (the cooldown's sum with the clock saturates instead of panicking).
#[tokio::test]
async fn a_cooldown_of_duration_max_answers_unknown_kid_instead_of_panicking() {
    let issuer = LocalIssuer::start().await.expect("issuer");
    let config = issuer
        .issuer_builder(AcceptedTokenUse::Any)
        .min_refresh_interval(Duration::MAX)
        .build()
        .expect("the builder accepts the setting");
    let verifier = Verifier::builder()
        .issuer(config)
        .shared_clock(issuer.clock())
        .build()
        .expect("verifier");
    verifier
        .verify(&issuer.access_token().sign())
        .await
        .expect("the first fetch");
    let unknown = issuer.access_token().header("kid", "not-published").sign();
    let verifier_in_task = verifier.clone();
    let answer = tokio::spawn(async move { verifier_in_task.verify(&unknown).await }).await;
    let answer = answer.unwrap_or_else(|panic| panic!("verify panicked: {panic}"));
    assert_eq!(
        answer.map(|_| ()).map_err(|error| error.kind()),
        Err(ErrorKind::UnknownKid)
    );
}

/// A back-off of `Duration::MAX` (uncapped) after a failed fetch is recorded like any other:
/// the request that failed and every later one get `jwks_unavailable`, and no later request
/// fetches again.
#[tokio::test]
async fn a_back_off_of_duration_max_answers_jwks_unavailable_instead_of_panicking() {
    let issuer = LocalIssuer::start().await.expect("issuer");
    issuer
        .server()
        .expect("served keys")
        .set_reply(cognito_authz_testkit::JwksReply::Status(500));
    let settings = cognito_authz::FetchSettings {
        backoff_initial: Duration::MAX,
        backoff_max: Duration::MAX,
        ..cognito_authz::FetchSettings::default()
    };
    let config = issuer
        .issuer_builder(AcceptedTokenUse::Any)
        .fetch_settings(settings)
        .build()
        .expect("the builder accepts the setting");
    let verifier = Verifier::builder()
        .issuer(config)
        .shared_clock(issuer.clock())
        .build()
        .expect("verifier");
    let token = issuer.access_token().sign();
    for _ in 0..3 {
        let verifier_in_task = verifier.clone();
        let token = token.clone();
        let answer = tokio::spawn(async move { verifier_in_task.verify(&token).await }).await;
        let answer = answer.unwrap_or_else(|panic| panic!("verify panicked: {panic}"));
        assert_eq!(
            answer.map(|_| ()).map_err(|error| error.kind()),
            Err(ErrorKind::JwksUnavailable)
        );
    }
    let stats = verifier.key_source_stats()[0];
    assert_eq!(
        (stats.fetches, stats.failures, stats.backoff_hits),
        (1, 1, 2),
        "one failed fetch, then back-off: {stats:?}"
    );
}

/// A fetch timeout of `Duration::MAX` ("no timeout") keeps the fetch under way joinable for as
/// long as it runs: a second request for the same key joins it (no panic computing how long
/// the fetch stays fresh) and both get the key from the one fetch.
#[tokio::test]
async fn a_fetch_timeout_of_duration_max_lets_a_request_join_the_fetch_under_way() {
    let issuer = LocalIssuer::start().await.expect("issuer");
    let server = issuer.server().expect("served keys");
    let config = issuer
        .issuer_builder(AcceptedTokenUse::Any)
        .fetch_timeout(Duration::MAX)
        .build()
        .expect("the builder accepts the setting");
    let verifier = Verifier::builder()
        .issuer(config)
        .shared_clock(issuer.clock())
        .build()
        .expect("verifier");
    server.hold_replies();
    let token = issuer.access_token().sign();
    let first = tokio::spawn({
        let verifier = verifier.clone();
        let token = token.clone();
        async move { verifier.verify(&token).await.map(|_| ()) }
    });
    server.wait_for_fetches(1).await;
    // One poll runs the second request up to joining the held fetch.
    let mut second = std::pin::pin!(verifier.verify(&token));
    assert!(
        (&mut second).now_or_never().is_none(),
        "the second request waits for the fetch under way"
    );
    server.release_replies();
    second.await.expect("the joined fetch brings the key");
    first
        .await
        .expect("the first request ran")
        .expect("the fetch brings the key");
    assert_eq!(server.fetch_count(), 1, "one fetch for both requests");
}
