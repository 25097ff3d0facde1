//! Key fetching under hostile or extreme conditions, beyond tests/jwks_*.rs: fetch settings at
//! `Duration::MAX` answer like any other setting (never a panic inside `verify`), an ALB key
//! fetch abandoned by its only waiter still ends on its own and is never joined stale, and a
//! user's sign-out covers every region of a replicated pool.

use std::time::Duration;

use cognito_authz::revocation::{Revocation, RevocationStore};
use cognito_authz::{AcceptedTokenUse, ErrorKind, IssuerConfig, Verifier};
use cognito_authz_test_support::jwks::verifier_of;
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
    let verifier = verifier_of(&issuer, config);
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
    let verifier = verifier_of(&issuer, config);
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
    let verifier = verifier_of(&issuer, config);
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

// --- the ALB key fetch when its only waiter goes away ----------------------------------------

/// An ALB key fetch runs as its own task: when the only request waiting for it is cancelled
/// (its client hung up), the fetch still ends within its timeout and clears its entry, so the
/// next request for the kid starts a fresh fetch instead of joining a stranded one (which would
/// answer a valid token 503 `jwks_unavailable` while the endpoint answers at once).
#[cfg(feature = "alb")]
#[tokio::test]
async fn an_alb_key_fetch_abandoned_by_its_only_waiter_is_never_joined_stale() {
    use std::net::Ipv4Addr;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_lc_rs::encoding::AsDer as _;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    use cognito_authz::{AlbConfig, AlbVerifier};
    use serde_json::json;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    const ARN: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188";
    const KID: &str = "0f4a8c2e-7d1b-4e3a-9b6c-5d2e1f0a9b8c";
    const CLIENT: &str = "1example23456789";
    const ISS: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example1";
    const FETCH_TIMEOUT: Duration = Duration::from_millis(200);

    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).expect("key");
    let der = key.public_key().as_der().expect("der");
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        STANDARD.encode(der.as_ref())
    );

    // The key endpoint: the first connection is held (a slow moment of the endpoint) until the
    // client closes it, every later one is answered at once.
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let base = format!("http://{}/", listener.local_addr().expect("addr"));
    let connections = Arc::new(AtomicUsize::new(0));
    let first_arrived = Arc::new(tokio::sync::Notify::new());
    let first_closed = Arc::new(tokio::sync::Notify::new());
    let server = {
        let connections = Arc::clone(&connections);
        let first_arrived = Arc::clone(&first_arrived);
        let first_closed = Arc::clone(&first_closed);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buffer = vec![0_u8; 4096];
                let _ = socket.read(&mut buffer).await;
                if connections.fetch_add(1, Ordering::SeqCst) == 0 {
                    first_arrived.notify_one();
                    let first_closed = Arc::clone(&first_closed);
                    tokio::spawn(async move {
                        // Never answered: read until the client gives up on it.
                        while socket.read(&mut buffer).await.is_ok_and(|read| read > 0) {}
                        first_closed.notify_one();
                    });
                    continue;
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{pem}",
                    pem.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            }
        })
    };

    let config = AlbConfig::builder()
        .load_balancer_arn(ARN)
        .client_ids([CLIENT])
        .issuer(ISS)
        .key_url_base(base)
        .timeout(FETCH_TIMEOUT)
        .build()
        .expect("ALB config");
    let verifier = AlbVerifier::new(config).expect("ALB verifier");
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 3600;
    let header = json!({"typ": "JWT", "kid": KID, "alg": "ES256", "iss": ISS, "client": CLIENT, "signer": ARN, "exp": exp});
    let claims = json!({"sub": "u-1", "iss": ISS, "exp": exp});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE.encode(header.to_string()),
        URL_SAFE.encode(claims.to_string())
    );
    let signature = key.sign(&rng, signing_input.as_bytes()).expect("sign");
    let token = format!("{signing_input}.{}", URL_SAFE.encode(signature.as_ref()));

    // A request starts the key fetch, then its client hangs up: its future is dropped.
    {
        let abandoned = verifier.verify(&token);
        tokio::pin!(abandoned);
        tokio::select! {
            answer = &mut abandoned => panic!("the held endpoint cannot have answered: {answer:?}"),
            () = first_arrived.notified() => {}
        }
    }
    assert_eq!(verifier.fetch_count(), 1);
    // The abandoned fetch gives up on the held connection at its timeout, on its own (a guard,
    // not a wait: a fetch nobody drives would never close it).
    tokio::time::timeout(Duration::from_secs(10), first_closed.notified())
        .await
        .expect("the abandoned fetch ends at its timeout although nobody waits for it");

    // The endpoint answers at once now: the next request for the kid must get the key.
    let answer = verifier.verify(&token).await;
    let fetches = verifier.fetch_count();
    server.abort();
    assert!(
        answer.is_ok(),
        "a valid ALB token refused ({:?}) after {fetches} fetch(es): the request joined the \
         fetch its hung-up predecessor left behind",
        answer.map(|_| ()).map_err(|error| error.kind())
    );
    assert_eq!(fetches, 2, "one fresh fetch");
}

// --- revocation across the regions of a replicated pool --------------------------------------

/// A user pool is one namespace of users for sign-outs: recorded with the primary region's
/// issuer (as `Revocation::user_of` on a primary-region token and `cognito-authz revoke --user`
/// write it), a sign-out also refuses the same `sub`'s earlier tokens issued in a replica
/// region, whose `iss` names that region.
#[tokio::test]
async fn a_user_sign_out_covers_the_replica_regions_of_the_pool() {
    let issuer = LocalIssuer::offline();
    let clock = issuer.manual_clock().expect("manual clock").clone();
    let store = RevocationStore::builder().clock(clock.clone()).memory();
    let config = IssuerConfig::user_pool(issuer.pool_id())
        .replica_regions(["eu-west-1"])
        .client_ids([issuer.client_id()])
        .token_use(AcceptedTokenUse::Any)
        .jwks_json(issuer.jwks_json())
        .build()
        .expect("config");
    let verifier = Verifier::builder()
        .issuer(config)
        .shared_clock(issuer.clock())
        .revocation(store.clone())
        .build()
        .expect("verifier");
    let now = clock.now_secs();
    let primary = issuer
        .access_token()
        .subject("user-1")
        .issued_at(now - 10)
        .sign();
    let replica_iss = format!(
        "https://cognito-idp.eu-west-1.amazonaws.com/{}",
        issuer.pool_id()
    );
    let replica = issuer
        .access_token()
        .subject("user-1")
        .iss(replica_iss.clone())
        .issued_at(now - 10)
        .sign();
    let other_user = issuer
        .access_token()
        .subject("user-2")
        .iss(replica_iss)
        .issued_at(now - 10)
        .sign();
    let signed_out = verifier.verify(&primary).await.expect("verifies");
    verifier.verify(&replica).await.expect("verifies");

    store
        .revoke(Revocation::user_of(&signed_out, now).expect("sub"))
        .await
        .expect("recorded");
    let error = verifier
        .verify(&primary)
        .await
        .expect_err("signed out in the primary region");
    assert_eq!(error.kind(), ErrorKind::RevokedToken);
    let answer = verifier.verify(&replica).await;
    assert_eq!(
        answer
            .as_ref()
            .map(|_| ())
            .map_err(cognito_authz::Error::kind),
        Err(ErrorKind::RevokedToken),
        "the same user's token from the pool's replica region is admitted after a global sign-out"
    );
    verifier
        .verify(&other_user)
        .await
        .expect("another user of the pool is not signed out");
}
