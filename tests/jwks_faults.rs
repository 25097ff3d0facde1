//! JWKS endpoint faults against the testkit server, beyond tests/jwks_cache.rs: a stall at the
//! default timeout (cold and warm), the exact back-off schedule, a 10 MiB body with keys cached,
//! rotation under concurrent traffic across refreshes, and removal across a failed fetch.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cognito_authz::{AcceptedTokenUse, ErrorKind, FetchSettings, Verifier};
use cognito_authz_test_support::events;
use cognito_authz_test_support::jwks::{COOLDOWN, advance, pool, server, stats, verifier_of};
use cognito_authz_testkit::{JwksReply, LocalIssuer, with_kid};

/// A stall longer than the default fetch timeout (3 s).
const STALL: Duration = Duration::from_secs(5);
/// Outer bound for a request that waits out the default fetch timeout: more than 3 s, less
/// than the stall, so only the verifier's own timeout can end it in time.
const PAST_FETCH_TIMEOUT: Duration = Duration::from_millis(4_500);
/// Outer bound for a request that must not wait on the network at all.
const NO_NETWORK: Duration = Duration::from_secs(1);

/// A verifier with default fetch settings (3 s timeout, 1 s initial back-off, 30 s cooldown).
fn default_verifier(issuer: &LocalIssuer) -> Verifier {
    let verifier = issuer
        .verifier_builder(AcceptedTokenUse::Any)
        .build()
        .expect("valid verifier");
    assert_eq!(
        verifier
            .issuers()
            .next()
            .expect("one issuer")
            .fetch_settings(),
        &FetchSettings::default()
    );
    verifier
}

// Paused time: the 3 s timeout and the 5 s stall run on tokio's clock, which jumps to the next
// timer whenever every task (the key server's included) waits; no real second passes.
#[tokio::test(start_paused = true)]
async fn a_stall_with_nothing_cached_is_503_within_the_default_timeout() {
    let issuer = pool().await;
    server(&issuer).set_delay(Some(STALL));
    let verifier = default_verifier(&issuer);
    let token = issuer.access_token().sign();
    let error = tokio::time::timeout(PAST_FETCH_TIMEOUT, verifier.verify(&token))
        .await
        .expect("the 3 s fetch timeout ends the request before the 5 s stall does")
        .expect_err("no keys");
    assert_eq!(error.kind(), ErrorKind::JwksUnavailable);
    assert_eq!(error.status(), 503);
    assert_eq!(stats(&verifier).failures, 1);
    // Backing off: the next request answers 503 at once instead of waiting on the endpoint again.
    let error = tokio::time::timeout(NO_NETWORK, verifier.verify(&token))
        .await
        .expect("no second wait")
        .expect_err("still no keys");
    assert_eq!(error.kind(), ErrorKind::JwksUnavailable);
    assert_eq!(server(&issuer).fetch_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_stall_with_keys_cached_leaves_cached_kids_instant_and_unknown_kids_unknown() {
    let issuer = pool().await;
    let verifier = default_verifier(&issuer);
    let token = issuer.access_token().sign();
    verifier.warm_up().await.expect("keys fetched");
    server(&issuer).set_delay(Some(STALL));
    advance(&issuer, COOLDOWN);

    let rogue = issuer
        .access_token()
        .header("kid", "rotated-meanwhile")
        .sign();
    let miss = {
        let verifier = verifier.clone();
        tokio::spawn(async move {
            tokio::time::timeout(PAST_FETCH_TIMEOUT, verifier.verify(&rogue)).await
        })
    };
    // The refresh is now stalled on the endpoint …
    tokio::time::timeout(Duration::from_secs(2), server(&issuer).wait_for_fetches(2))
        .await
        .expect("the miss started a fetch");
    // … and a cached kid does not wait for it.
    let verified = tokio::time::timeout(NO_NETWORK, verifier.verify(&token))
        .await
        .expect("a cached kid never waits on a fetch")
        .expect("cached key verifies");
    assert_eq!(verified.kid(), issuer.signing_key().kid());
    let error = miss
        .await
        .expect("task")
        .expect("the fetch timeout ends the miss before the stall does")
        .expect_err("unknown kid");
    assert_eq!(error.kind(), ErrorKind::UnknownKid);
    assert_eq!(stats(&verifier).failures, 1);
    // Stale-if-error: still verifying after the failed fetch.
    verifier.verify(&token).await.expect("cached key kept");
}

#[tokio::test]
async fn back_off_after_failed_fetches_doubles_on_the_clock() {
    let issuer = pool().await;
    server(&issuer).set_reply(JwksReply::Status(500));
    let verifier = default_verifier(&issuer);
    let token = issuer.access_token().sign();
    let attempt = |expected_fetches: u64, expected_backoff_hits: u64| {
        let verifier = verifier.clone();
        let token = token.clone();
        async move {
            let error = verifier.verify(&token).await.expect_err("endpoint down");
            assert_eq!(error.kind(), ErrorKind::JwksUnavailable);
            let stats = stats(&verifier);
            assert_eq!(
                (stats.fetches, stats.backoff_hits),
                (expected_fetches, expected_backoff_hits),
                "fetches and back-off hits"
            );
        }
    };
    let ms = Duration::from_millis;

    attempt(1, 0).await; // failure 1 at t0: back off 1 s
    advance(&issuer, ms(500));
    attempt(1, 1).await; // t0 + 0.5 s: refused
    advance(&issuer, ms(499));
    attempt(1, 2).await; // t0 + 0.999 s: refused
    advance(&issuer, ms(1));
    attempt(2, 2).await; // t0 + 1 s: allowed, failure 2: back off 2 s
    advance(&issuer, ms(1_000));
    attempt(2, 3).await; // +1 s: refused
    advance(&issuer, ms(999));
    attempt(2, 4).await; // +1.999 s: refused
    advance(&issuer, ms(1));
    attempt(3, 4).await; // +2 s: allowed, failure 3: back off 4 s
    advance(&issuer, ms(3_999));
    attempt(3, 5).await; // +3.999 s: refused
    advance(&issuer, ms(1));
    attempt(4, 5).await; // +4 s: allowed

    assert_eq!(server(&issuer).fetch_count(), 4);
    assert_eq!(stats(&verifier).failures, 4);
    // One success resets the schedule.
    server(&issuer).set_reply(JwksReply::Keys);
    advance(&issuer, ms(8_000));
    verifier.verify(&token).await.expect("recovered");
    server(&issuer).set_reply(JwksReply::Status(500));
    advance(&issuer, COOLDOWN);
    let rogue = issuer.access_token().header("kid", "unknown").sign();
    assert_eq!(
        verifier.verify(&rogue).await.expect_err("down").kind(),
        ErrorKind::UnknownKid
    );
    advance(&issuer, ms(1_000) + COOLDOWN);
    let before = stats(&verifier).fetches;
    let _ = verifier.verify(&rogue).await;
    assert_eq!(
        stats(&verifier).fetches,
        before + 1,
        "after a success the first back-off is 1 s again"
    );
}

#[tokio::test]
async fn a_ten_mib_body_is_a_failed_fetch_that_keeps_the_cached_keys() {
    let issuer = pool().await;
    let verifier = default_verifier(&issuer);
    let token = issuer.access_token().sign();
    verifier.warm_up().await.expect("keys fetched");
    let ten_mib = 10 * 1024 * 1024;
    for (round, reply) in [
        JwksReply::Oversized(ten_mib),
        JwksReply::OversizedNoLength(ten_mib),
    ]
    .into_iter()
    .enumerate()
    {
        server(&issuer).set_reply(reply.clone());
        // Past the cooldown and any back-off from the previous round.
        advance(&issuer, COOLDOWN * 2);
        let rogue = issuer.access_token().header("kid", "not-yet-seen").sign();
        let error = tokio::time::timeout(PAST_FETCH_TIMEOUT, verifier.verify(&rogue))
            .await
            .expect("the body cap ends the fetch")
            .expect_err("oversized set");
        assert_eq!(error.kind(), ErrorKind::UnknownKid, "{reply:?}");
        let stats = stats(&verifier);
        assert_eq!(stats.failures, round as u64 + 1, "{reply:?}");
        assert_eq!(stats.keys, 1, "{reply:?}");
        verifier.verify(&token).await.expect("cached key kept");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_under_concurrent_traffic_across_refreshes_has_zero_failures() {
    const TASKS: usize = 8;
    const MIN_ROUNDS: usize = 200;
    const MAX_ROUNDS: usize = 20_000;
    let issuer = pool().await;
    let config = issuer
        .issuer_builder(AcceptedTokenUse::Any)
        .background_refresh(Duration::from_millis(5))
        .build()
        .expect("valid issuer");
    let verifier = Verifier::builder()
        .issuer(config)
        .shared_clock(issuer.clock())
        .verified_token_cache(16)
        .build()
        .expect("valid verifier");
    verifier.warm_up().await.expect("old key fetched");
    let old_key = issuer.signing_key();
    let new_key = issuer.rotate();
    // Both keys are published now; the verifier has only the old one until a refresh.
    let mut tokens = Vec::new();
    for i in 0..16 {
        let key = if i % 2 == 0 { &old_key } else { &new_key };
        tokens.push(
            issuer
                .access_token()
                .username(format!("user{i}"))
                .signed_by(key)
                .sign(),
        );
    }
    let tokens = Arc::new(tokens);
    advance(&issuer, COOLDOWN);
    let refresh_target = stats(&verifier).fetches + 3;
    let _background = verifier
        .spawn_background_refresh()
        .expect("inside a runtime");
    let failures = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..TASKS)
        .map(|task| {
            let verifier = verifier.clone();
            let tokens = Arc::clone(&tokens);
            let failures = Arc::clone(&failures);
            tokio::spawn(async move {
                let mut round = 0;
                while round < MAX_ROUNDS
                    && (round < MIN_ROUNDS || stats(&verifier).fetches < refresh_target)
                {
                    let token = &tokens[(task + round) % tokens.len()];
                    if verifier.verify(token).await.is_err() {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                    round += 1;
                    if round % 50 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                round
            })
        })
        .collect();
    let mut rounds = 0;
    for handle in handles {
        rounds += handle.await.expect("task");
    }
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "of {rounds} verifications"
    );
    assert!(
        stats(&verifier).fetches >= refresh_target,
        "the traffic ran across several refreshes"
    );
    assert_eq!(stats(&verifier).keys, 2);
}

#[tokio::test]
async fn a_removed_key_verifies_until_the_next_successful_fetch_not_a_failed_one() {
    let issuer = pool().await;
    let verifier = Verifier::builder()
        .issuer(issuer.issuer_config(AcceptedTokenUse::Any))
        .shared_clock(issuer.clock())
        .verified_token_cache(16)
        .build()
        .expect("valid verifier");
    let old_key = issuer.signing_key();
    let old_token = issuer.access_token().sign();
    verifier.verify(&old_token).await.expect("verifies");
    let new_key = issuer.rotate();
    assert!(issuer.remove_key(old_key.kid()));
    let new_token = issuer.access_token().signed_by(&new_key).sign();

    // A refresh that fails keeps the last good set: the removed key still verifies.
    server(&issuer).set_reply(JwksReply::Status(502));
    advance(&issuer, COOLDOWN);
    assert_eq!(
        verifier
            .verify(&new_token)
            .await
            .expect_err("fetch failed")
            .kind(),
        ErrorKind::UnknownKid
    );
    assert_eq!(stats(&verifier).failures, 1);
    verifier
        .verify(&old_token)
        .await
        .expect("removed key kept after a failed fetch");
    let fresh_old = issuer.access_token().signed_by(&old_key).sign();
    verifier
        .verify(&fresh_old)
        .await
        .expect("new tokens of the removed key too, until a successful fetch");

    // The next successful fetch drops it, for cached and uncached tokens alike.
    server(&issuer).set_reply(JwksReply::Keys);
    advance(&issuer, COOLDOWN);
    verifier.verify(&new_token).await.expect("new key fetched");
    for token in [&old_token, &fresh_old] {
        assert_eq!(
            verifier.verify(token).await.expect_err("removed").kind(),
            ErrorKind::UnknownKid
        );
    }
    assert_eq!(stats(&verifier).keys, 1);
}

#[tokio::test]
async fn a_set_with_no_usable_key_is_a_failed_fetch_that_keeps_the_last_good_set() {
    // A current-thread runtime: the fetch task runs on this thread, where events are captured.
    let capture = events::capture();
    let issuer = pool().await;
    let verifier = default_verifier(&issuer);
    let token = issuer.access_token().sign();
    verifier.verify(&token).await.expect("first fetch");
    let mut unfit: serde_json::Value =
        serde_json::from_str(&issuer.jwks_json()).expect("key set JSON");
    for key in unfit["keys"].as_array_mut().expect("keys") {
        key["use"] = "enc".into();
    }
    let unusable = [
        r#"{"keys":[]}"#.to_owned(),
        // every entry unreadable (no kid, not an object, undecodable material) or unfit (EC)
        r#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"},"key",{"kid":"a","kty":"RSA","n":"+/","e":"AQAB"},{"kid":"ec","kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}"#.to_owned(),
        // the real key, marked for encryption only
        unfit.to_string(),
    ];
    for (round, body) in (1_u64..).zip(&unusable) {
        server(&issuer).serve_body(body.clone());
        advance(&issuer, COOLDOWN);
        let error = verifier
            .verify(&with_kid(&token, "rotated"))
            .await
            .expect_err("kid unknown");
        assert_eq!(error.kind(), ErrorKind::UnknownKid, "{body}");
        assert_eq!(stats(&verifier).failures, round, "{body}: a failed fetch");
        assert_eq!(stats(&verifier).keys, 1, "{body}: the last good set stays");
        verifier
            .verify(&token)
            .await
            .expect("the cached key still verifies");
        // Back-off applies: an unknown kid right after the failure fetches nothing.
        let fetches = server(&issuer).fetch_count();
        let backoff_hits = stats(&verifier).backoff_hits;
        let _ = verifier.verify(&with_kid(&token, "again")).await;
        assert_eq!(server(&issuer).fetch_count(), fetches);
        assert_eq!(stats(&verifier).backoff_hits, backoff_hits + 1);
    }
    let warnings: Vec<String> = capture
        .events()
        .into_iter()
        .filter(|line| line.starts_with("WARN "))
        .collect();
    let why: Vec<_> = warnings
        .iter()
        .filter(|line| {
            line.contains("no usable key") && line.contains("keeping the last good key set")
        })
        .collect();
    assert_eq!(why.len(), unusable.len(), "{warnings:#?}");

    // Healed: the next fetch after the back-off replaces the set as usual.
    server(&issuer).serve_keys();
    advance(&issuer, COOLDOWN);
    let _ = verifier.verify(&with_kid(&token, "rotated")).await;
    assert_eq!(stats(&verifier).failures, 3);
    verifier.verify(&token).await.expect("still verifies");
}

#[tokio::test]
async fn a_set_that_drops_some_kids_is_honoured_at_once() {
    // Cognito rotates by publishing a new key beside the old one and later removing the old
    // one; a successful fetch is the pool's word, so a dropped kid stops verifying at once.
    let issuer = pool().await;
    let verifier = default_verifier(&issuer);
    let old_key = issuer.signing_key();
    let old_token = issuer.access_token().sign();
    let new_key = issuer.rotate();
    let new_token = issuer.access_token().signed_by(&new_key).sign();
    verifier.verify(&old_token).await.expect("old key");
    verifier.verify(&new_token).await.expect("both published");
    assert_eq!(stats(&verifier).keys, 2);
    assert!(issuer.remove_key(old_key.kid()));
    advance(&issuer, COOLDOWN);
    let _ = verifier.verify(&with_kid(&new_token, "unknown")).await;
    assert_eq!(
        stats(&verifier).failures,
        0,
        "a set with a usable key is a good fetch"
    );
    assert_eq!(stats(&verifier).keys, 1);
    let error = verifier.verify(&old_token).await.expect_err("dropped kid");
    assert_eq!(error.kind(), ErrorKind::UnknownKid);
    verifier.verify(&new_token).await.expect("kept kid");
}

#[tokio::test]
async fn the_fetch_timeout_bounds_the_whole_fetch_retry_included() {
    /// The first connection's TLS handshake is dropped after this long: a connection error,
    /// which the fetch retries.
    const DROP_AFTER: Duration = Duration::from_millis(400);
    /// The configured total: less than DROP_AFTER plus a fresh timeout for the retry.
    const TIMEOUT: Duration = Duration::from_millis(600);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("address");
    let connections = Arc::new(AtomicU64::new(0));
    let accepted = Arc::clone(&connections);
    // Accepts TCP and never answers: the first connection is dropped mid-handshake, every
    // later one held open in silence.
    let endpoint = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            if accepted.fetch_add(1, Ordering::SeqCst) == 0 {
                let mut hello = [0_u8; 512];
                let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut hello).await;
                tokio::time::sleep(DROP_AFTER).await;
                drop(stream);
            } else {
                held.push(stream);
            }
        }
    });
    let issuer = pool().await;
    let config = issuer
        .issuer_builder(AcceptedTokenUse::Any)
        .jwks_url(format!("https://{addr}/.well-known/jwks.json"))
        .fetch_timeout(TIMEOUT)
        .build()
        .expect("config");
    let verifier = verifier_of(&issuer, config);
    let started = tokio::time::Instant::now();
    let error = verifier
        .verify(&issuer.access_token().sign())
        .await
        .expect_err("no keys");
    let elapsed = started.elapsed();
    assert_eq!(error.kind(), ErrorKind::JwksUnavailable);
    assert_eq!(connections.load(Ordering::SeqCst), 2, "the retry ran");
    assert!(elapsed >= TIMEOUT, "{elapsed:?}");
    assert!(
        elapsed < DROP_AFTER + TIMEOUT - Duration::from_millis(100),
        "the retry got no fresh timeout: {elapsed:?}"
    );
    endpoint.abort();
}
