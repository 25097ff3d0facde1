//! The JWKS cache (the key-set rules of `crates/core/docs/verification.md`) against a real
//! HTTP server on 127.0.0.1 (the testkit's): rotation, removal, single-flight, cooldown,
//! outages, slow and hostile endpoints, back-off, warm-up, background refresh, and the
//! verified-token cache.

use std::time::Duration;

use cognito_authz::{AcceptedTokenUse, ErrorKind, IssuerConfig, Verifier};
use cognito_authz_test_support::jwks::{COOLDOWN, advance, pool, server, stats, verifier_of};
use cognito_authz_testkit::{JwksReply, LocalIssuer, with_kid};
use futures_util::future::join_all;

fn plain_verifier(issuer: &LocalIssuer) -> Verifier {
    issuer
        .verifier_builder(AcceptedTokenUse::Any)
        .build()
        .expect("valid verifier")
}

fn verifier_with(
    issuer: &LocalIssuer,
    edit: impl FnOnce(cognito_authz::IssuerBuilder) -> cognito_authz::IssuerBuilder,
) -> Verifier {
    let config = edit(issuer.issuer_builder(AcceptedTokenUse::Any))
        .build()
        .expect("valid issuer");
    Verifier::builder()
        .issuer(config)
        .shared_clock(issuer.clock())
        .verified_token_cache(64)
        .build()
        .expect("valid verifier")
}

#[tokio::test]
async fn rotated_key_is_fetched_once_and_old_key_keeps_verifying() {
    let issuer = pool().await;
    let verifier = plain_verifier(&issuer);
    let old_token = issuer.access_token().sign();
    verifier
        .verify(&old_token)
        .await
        .expect("first key verifies");
    assert_eq!(server(&issuer).fetch_count(), 1);

    let new_key = issuer.rotate();
    let new_token = issuer.access_token().signed_by(&new_key).sign();
    // Inside the cooldown the new kid is unknown, without a fetch.
    let error = verifier
        .verify(&new_token)
        .await
        .expect_err("inside cooldown");
    assert_eq!(error.kind(), ErrorKind::UnknownKid);
    assert_eq!(server(&issuer).fetch_count(), 1);
    assert_eq!(stats(&verifier).cooldown_hits, 1);

    advance(&issuer, COOLDOWN);
    verifier.verify(&new_token).await.expect("new key fetched");
    verifier.verify(&new_token).await.expect("new key cached");
    verifier
        .verify(&old_token)
        .await
        .expect("old key still published");
    assert_eq!(server(&issuer).fetch_count(), 2);
}

#[tokio::test]
async fn a_removed_key_stops_verifying_after_the_next_successful_fetch() {
    let issuer = pool().await;
    let verifier = plain_verifier(&issuer);
    let old_key = issuer.signing_key();
    let old_token = issuer.access_token().sign();
    verifier.verify(&old_token).await.expect("verifies");

    let new_key = issuer.rotate();
    assert!(issuer.remove_key(old_key.kid()));
    // Cached keys are not refetched until something triggers a refresh.
    verifier.verify(&old_token).await.expect("still cached");
    advance(&issuer, COOLDOWN);
    let new_token = issuer.access_token().signed_by(&new_key).sign();
    verifier
        .verify(&new_token)
        .await
        .expect("refresh brings the new key");
    let error = verifier.verify(&old_token).await.expect_err("old key gone");
    assert_eq!(error.kind(), ErrorKind::UnknownKid);
    assert_eq!(stats(&verifier).keys, 1);
}

/// Verifies `token` in 1,000 tasks at once; every one must accept it.
async fn verify_1000_at_once(verifier: &Verifier, token: &str) {
    let results = join_all((0..1000).map(|_| {
        let verifier = verifier.clone();
        let token = token.to_owned();
        tokio::spawn(async move { verifier.verify(&token).await.map(|_| ()) })
    }))
    .await;
    assert!(results.into_iter().all(|r| r.expect("task").is_ok()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_misses_cause_exactly_one_fetch() {
    let issuer = pool().await;
    let verifier = plain_verifier(&issuer);
    let token = issuer.access_token().sign();
    // Cold start: nothing fetched yet.
    verify_1000_at_once(&verifier, &token).await;
    assert_eq!(server(&issuer).fetch_count(), 1);

    // Rotation: 1,000 concurrent requests with the one unknown kid.
    let new_key = issuer.rotate();
    advance(&issuer, COOLDOWN);
    let token = issuer.access_token().signed_by(&new_key).sign();
    verify_1000_at_once(&verifier, &token).await;
    assert_eq!(server(&issuer).fetch_count(), 2);
}

#[tokio::test]
async fn a_flood_of_random_kids_inside_the_cooldown_fetches_nothing_and_grows_nothing() {
    let issuer = pool().await;
    let verifier = verifier_with(&issuer, |b| b);
    verifier
        .verify(&issuer.access_token().sign())
        .await
        .expect("warm");
    let before = stats(&verifier);
    let template = issuer.access_token().sign();
    for i in 0..10_000 {
        let token = with_kid(&template, &format!("random-{i}"));
        let error = verifier.verify(&token).await.expect_err("unknown kid");
        assert_eq!(error.kind(), ErrorKind::UnknownKid);
    }
    let after = stats(&verifier);
    assert_eq!(server(&issuer).fetch_count(), 1);
    assert_eq!(after.fetches, before.fetches);
    assert_eq!(after.keys, before.keys);
    assert_eq!(after.cooldown_hits, 10_000);
    assert_eq!(verifier.cached_tokens(), 1);

    // After the cooldown, the flood costs at most one fetch per cooldown.
    advance(&issuer, COOLDOWN);
    for i in 0..100 {
        let token = with_kid(&template, &format!("again-{i}"));
        assert_eq!(
            verifier.verify(&token).await.expect_err("unknown").kind(),
            ErrorKind::UnknownKid
        );
    }
    assert_eq!(server(&issuer).fetch_count(), 2);
}

#[tokio::test]
async fn endpoint_down_at_start_is_jwks_unavailable_with_503() {
    let issuer = pool().await;
    server(&issuer).set_reply(JwksReply::Status(500));
    let verifier = plain_verifier(&issuer);
    let error = verifier
        .verify(&issuer.access_token().sign())
        .await
        .expect_err("no keys");
    assert_eq!(error.kind(), ErrorKind::JwksUnavailable);
    assert_eq!(error.status(), 503);
    // In back-off, nothing is fetched and the answer stays 503.
    let error = verifier
        .verify(&issuer.access_token().sign())
        .await
        .expect_err("backing off");
    assert_eq!(error.kind(), ErrorKind::JwksUnavailable);
    assert_eq!(server(&issuer).fetch_count(), 1);
    assert_eq!(stats(&verifier).backoff_hits, 1);

    // Once the back-off has passed and the endpoint is back, keys arrive.
    server(&issuer).set_reply(JwksReply::Keys);
    advance(&issuer, Duration::from_secs(1));
    verifier
        .verify(&issuer.access_token().sign())
        .await
        .expect("recovered");
    assert_eq!(server(&issuer).fetch_count(), 2);
}

#[tokio::test]
async fn nothing_listening_is_jwks_unavailable() {
    let issuer = LocalIssuer::offline();
    let port = cognito_authz_test_support::free_loopback_port();
    let config = cognito_authz::IssuerConfig::user_pool(issuer.pool_id())
        .client_ids([issuer.client_id()])
        .token_use(AcceptedTokenUse::Any)
        .jwks_url(format!("http://127.0.0.1:{port}/.well-known/jwks.json"))
        .build()
        .expect("valid");
    let verifier = verifier_of(&issuer, config);
    let error = verifier
        .verify(&issuer.access_token().sign())
        .await
        .expect_err("refused");
    assert_eq!(error.kind(), ErrorKind::JwksUnavailable);
}

#[tokio::test]
async fn cached_keys_keep_working_when_the_endpoint_goes_down() {
    let issuer = pool().await;
    let verifier = plain_verifier(&issuer);
    let token = issuer.access_token().sign();
    verifier.verify(&token).await.expect("fetched");
    server(&issuer).set_reply(JwksReply::Close);
    advance(&issuer, COOLDOWN);
    // The known kid needs no fetch.
    verifier.verify(&token).await.expect("cached key");
    // An unknown kid tries once, fails, and is unknown_kid (keys are cached), not 503.
    let rogue = issuer
        .access_token()
        .header("kid", "rotated-while-down")
        .sign();
    assert_eq!(
        verifier.verify(&rogue).await.expect_err("down").kind(),
        ErrorKind::UnknownKid
    );
    assert_eq!(stats(&verifier).failures, 1);
    verifier.verify(&token).await.expect("stale-if-error");
}

#[tokio::test]
async fn a_stalled_endpoint_is_bounded_by_the_fetch_timeout() {
    let issuer = pool().await;
    server(&issuer).set_delay(Some(Duration::from_secs(5)));
    let verifier = verifier_with(&issuer, |b| b.fetch_timeout(Duration::from_millis(300)));
    let started = std::time::Instant::now();
    let outcome = tokio::time::timeout(
        Duration::from_secs(4),
        verifier.verify(&issuer.access_token().sign()),
    )
    .await
    .expect("the fetch timeout ends the request before the stall does");
    assert_eq!(
        outcome.expect_err("timed out").kind(),
        ErrorKind::JwksUnavailable
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn hostile_bodies_are_failed_fetches() {
    let issuer = pool().await;
    let url = server(&issuer).url();
    let replies = [
        JwksReply::Garbage,
        JwksReply::Html,
        JwksReply::Oversized(300 * 1024),
        JwksReply::OversizedNoLength(10 * 1024 * 1024),
        JwksReply::Redirect(url.clone()),
        JwksReply::Status(404),
        JwksReply::Body(r#"{"keys":{}}"#.into()),
        JwksReply::Close,
    ];
    for reply in replies {
        server(&issuer).set_reply(reply.clone());
        let verifier = plain_verifier(&issuer);
        let error = verifier
            .verify(&issuer.access_token().sign())
            .await
            .expect_err("no usable keys");
        assert_eq!(error.kind(), ErrorKind::JwksUnavailable, "{reply:?}");
        assert_eq!(stats(&verifier).failures, 1, "{reply:?}");
    }
    // The body cap is a setting: a small cap rejects a normal set.
    server(&issuer).set_reply(JwksReply::Keys);
    let verifier = verifier_with(&issuer, |b| b.max_jwks_bytes(64));
    assert_eq!(
        verifier
            .verify(&issuer.access_token().sign())
            .await
            .expect_err("cap")
            .kind(),
        ErrorKind::JwksUnavailable
    );
}

#[tokio::test]
async fn a_set_with_one_garbage_key_still_serves_the_good_ones() {
    let issuer = pool().await;
    let mut set: serde_json::Value = serde_json::from_str(&issuer.jwks_json()).expect("json");
    set["keys"]
        .as_array_mut()
        .expect("keys")
        .push(serde_json::json!({"kid": "junk", "kty": "RSA", "n": "!!", "e": "AQAB"}));
    server(&issuer).set_reply(JwksReply::Body(set.to_string()));
    let verifier = plain_verifier(&issuer);
    verifier
        .verify(&issuer.access_token().sign())
        .await
        .expect("good key still verifies");
    assert_eq!(stats(&verifier).keys, 1);
}

#[tokio::test]
async fn warm_up_fetches_before_the_first_request_and_reports_failures() {
    let issuer = pool().await;
    let verifier = plain_verifier(&issuer);
    verifier.warm_up().await.expect("warm-up fetch succeeds");
    assert_eq!(server(&issuer).fetch_count(), 1);
    verifier
        .verify(&issuer.access_token().sign())
        .await
        .expect("no further fetch needed");
    assert_eq!(server(&issuer).fetch_count(), 1);

    server(&issuer).set_reply(JwksReply::Status(503));
    let cold = plain_verifier(&issuer);
    let error = cold.warm_up().await.expect_err("endpoint down");
    assert_eq!(error.failed.len(), 1);
    assert_eq!(error.causes, ["HTTP status 503"]);
    assert!(
        error
            .to_string()
            .starts_with("could not fetch the keys of ")
            && error.to_string().ends_with(": HTTP status 503"),
        "{error}"
    );

    // Nothing listens: a connection failure, said so.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("address").port();
    drop(closed);
    let unreachable = Verifier::builder()
        .issuer(
            IssuerConfig::user_pool("us-east-1_Example1")
                .client_ids(["c"])
                .token_use(AcceptedTokenUse::Access)
                .jwks_url(format!("http://127.0.0.1:{port}/jwks.json"))
                .build()
                .expect("issuer"),
        )
        .build()
        .expect("verifier");
    let error = unreachable.warm_up().await.expect_err("nothing listens");
    assert_eq!(error.causes, ["connection failed"], "{error}");

    // A server that answers a TLS hello with plain text: the handshake fails, said so.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let plain = format!(
        "https://{}/jwks.json",
        listener.local_addr().expect("address")
    );
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            use tokio::io::AsyncWriteExt as _;
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    let tls = Verifier::builder()
        .issuer(
            IssuerConfig::user_pool("us-east-1_Example1")
                .client_ids(["c"])
                .token_use(AcceptedTokenUse::Access)
                .jwks_url(plain)
                .build()
                .expect("issuer"),
        )
        .build()
        .expect("verifier");
    let error = tls.warm_up().await.expect_err("not TLS");
    assert_eq!(error.causes, ["TLS handshake failed"], "{error}");
}

#[tokio::test]
async fn background_refresh_fetches_on_its_interval() {
    let issuer = pool().await;
    let verifier = verifier_with(&issuer, |b| b.background_refresh(Duration::from_millis(20)));
    let _refresh = verifier
        .spawn_background_refresh()
        .expect("inside a runtime");
    tokio::time::timeout(Duration::from_secs(10), server(&issuer).wait_for_fetches(3))
        .await
        .expect("three background fetches arrive");
    let new_key = issuer.rotate();
    let token = issuer.access_token().signed_by(&new_key).sign();
    let target = server(&issuer).fetch_count() + 1;
    tokio::time::timeout(
        Duration::from_secs(10),
        server(&issuer).wait_for_fetches(target),
    )
    .await
    .expect("next background fetch");
    // The rotated key arrived without a miss-triggered fetch (the cooldown would refuse one).
    verifier
        .verify(&token)
        .await
        .expect("background refresh picked up the new key");
    assert_eq!(stats(&verifier).cooldown_hits, 0);
}

#[tokio::test]
async fn verified_token_cache_rechecks_expiry_and_drops_replaced_keys() {
    let issuer = pool().await;
    let verifier = verifier_with(&issuer, |b| b);
    let now = issuer.clock().now().as_secs();
    let token = issuer.access_token().expires_at(now + 60).sign();
    verifier.verify(&token).await.expect("verifies");
    assert_eq!(verifier.cached_tokens(), 1);
    verifier.verify(&token).await.expect("cache hit");
    advance(&issuer, Duration::from_secs(60));
    assert_eq!(
        verifier
            .verify(&token)
            .await
            .expect_err("expired on hit")
            .kind(),
        ErrorKind::Expired
    );
    assert_eq!(verifier.cached_tokens(), 0);

    // A key set replacement that drops the kid invalidates cached tokens of that kid.
    let token = issuer.access_token().sign();
    verifier
        .verify(&token)
        .await
        .expect("verifies and is cached");
    let old_kid = issuer.signing_key().kid().to_owned();
    let new_key = issuer.rotate();
    issuer.remove_key(&old_kid);
    advance(&issuer, COOLDOWN);
    verifier
        .verify(&issuer.access_token().signed_by(&new_key).sign())
        .await
        .expect("refresh");
    assert_eq!(
        verifier
            .verify(&token)
            .await
            .expect_err("kid dropped")
            .kind(),
        ErrorKind::UnknownKid
    );
}

#[tokio::test]
async fn a_refresh_that_keeps_a_key_keeps_its_cached_tokens() {
    let issuer = pool().await;
    let verifier = verifier_with(&issuer, |b| b);
    let old_token = issuer.access_token().sign();
    verifier
        .verify(&old_token)
        .await
        .expect("verified and cached");
    verifier.verify(&old_token).await.expect("cache hit");
    assert_eq!(verifier.cached_token_hits(), 1);

    // A rotation publishes a second key; the refresh it triggers leaves the first unchanged.
    let new_key = issuer.rotate();
    advance(&issuer, COOLDOWN);
    verifier
        .verify(&issuer.access_token().signed_by(&new_key).sign())
        .await
        .expect("refresh brings the new key");
    assert_eq!(server(&issuer).fetch_count(), 2);
    verifier.verify(&old_token).await.expect("still verifies");
    assert_eq!(
        verifier.cached_token_hits(),
        2,
        "served from the cache, not re-verified"
    );
}

#[tokio::test]
async fn verified_token_cache_is_bounded() {
    let issuer = pool().await;
    let verifier = verifier_with(&issuer, |b| b);
    for i in 0..200 {
        let token = issuer.access_token().username(format!("user{i}")).sign();
        verifier.verify(&token).await.expect("verifies");
        assert!(verifier.cached_tokens() <= 64);
    }
    assert_eq!(verifier.cached_tokens(), 64);
}
