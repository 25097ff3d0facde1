use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::test_tokens::{NOW, TestIssuer, block_on, issuer};
use crate::{Clock, IssuerConfig, Verifier};

/// A clock tests move by hand.
#[derive(Debug, Clone)]
struct TestClock(Arc<AtomicU64>);

impl TestClock {
    fn at(secs: u64) -> Self {
        Self(Arc::new(AtomicU64::new(secs)))
    }

    fn set(&self, secs: u64) {
        self.0.store(secs, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> Duration {
        Duration::from_secs(self.0.load(Ordering::SeqCst))
    }
}

fn store(clock: &TestClock) -> RevocationStore {
    RevocationStore::builder().clock(clock.clone()).memory()
}

fn verifier(clock: &TestClock, store: &RevocationStore, cache: bool) -> Verifier {
    let mut builder = Verifier::builder()
        .issuer(issuer().config())
        .clock(clock.clone())
        .revocation(store.clone());
    if cache {
        builder = builder.verified_token_cache(64);
    }
    builder.build().expect("valid verifier")
}

/// A memory store and a verifier that checks it, both on a clock that stays at `at`.
fn set_up(at: u64, cache: bool) -> (RevocationStore, Verifier) {
    let clock = TestClock::at(at);
    let store = store(&clock);
    let verifier = verifier(&clock, &store, cache);
    (store, verifier)
}

async fn revoke(store: &RevocationStore, revocation: Revocation) {
    store.revoke(revocation).await.expect("revoke");
}

fn access(jti: &str, origin_jti: &str, sub: &str, iat: u64) -> String {
    issuer().access_token(
        "api/read",
        &[],
        json!({"jti": jti, "origin_jti": origin_jti, "sub": sub, "iat": iat}),
    )
}

fn code(result: Result<Arc<VerifiedToken>, Error>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(error) => error.code(),
    }
}

#[test]
fn a_revoked_jti_is_refused_and_other_tokens_pass() {
    let (store, verifier) = set_up(NOW, false);
    let (first, second) = (access("j1", "o1", "s1", NOW), access("j2", "o1", "s1", NOW));
    block_on(async {
        revoke(&store, Revocation::token("j1")).await;
        let error = verifier.verify(&first).await.expect_err("revoked");
        assert_eq!(error.kind(), ErrorKind::RevokedToken);
        assert_eq!(error.status(), 401);
        assert_eq!(code(verifier.verify(&second).await), "ok");
    });
}

#[test]
fn a_revoked_session_refuses_every_token_sharing_its_origin_jti() {
    let (store, verifier) = set_up(NOW, false);
    let id = issuer().id_token(&[], json!({"origin_jti": "o1", "jti": "id-1"}));
    block_on(async {
        revoke(&store, Revocation::session("o1")).await;
        assert_eq!(
            code(verifier.verify(&access("a", "o1", "s1", NOW)).await),
            "revoked_token"
        );
        assert_eq!(code(verifier.verify(&id).await), "revoked_token");
        assert_eq!(
            code(verifier.verify(&access("b", "o2", "s1", NOW)).await),
            "ok"
        );
    });
}

#[test]
fn a_user_cutoff_revokes_tokens_issued_in_or_before_its_second() {
    let (store, verifier) = set_up(NOW + 10, false);
    let cutoff = NOW + 5;
    let iss = TestIssuer::iss();
    block_on(async {
        revoke(&store, Revocation::user(&iss, "s1", cutoff)).await;
        let cases = [
            (access("a", "o1", "s1", cutoff - 1), "revoked_token"),
            // Same second as the sign-out: cannot be told apart from one issued before it.
            (access("b", "o2", "s1", cutoff), "revoked_token"),
            (access("c", "o3", "s1", cutoff + 1), "ok"),
            // Another user of the same pool is untouched.
            (access("d", "o4", "s2", cutoff - 1), "ok"),
            // No iat: nothing proves it was issued after the sign-out.
            (
                issuer().access_token("", &[], json!({"sub": "s1", "iat": null, "jti": "e"})),
                "revoked_token",
            ),
        ];
        for (token, expected) in cases {
            assert_eq!(code(verifier.verify(&token).await), expected);
        }
    });
}

#[test]
fn a_user_signed_out_under_one_issuer_spelling_is_signed_out_under_the_other() {
    let (store, verifier) = set_up(NOW, false);
    let updated = TestIssuer::iss().replace("https://cognito-idp.", "https://issuer-cognito-idp.");
    let token = issuer().access_token("", &[], json!({"iss": updated, "sub": "s1"}));
    block_on(async {
        assert_eq!(code(verifier.verify(&token).await), "ok");
        revoke(&store, Revocation::user(TestIssuer::iss(), "s1", NOW)).await;
        assert_eq!(code(verifier.verify(&token).await), "revoked_token");
    });
}

#[test]
fn a_cache_hit_is_checked_too() {
    let (store, verifier) = set_up(NOW, true);
    let token = access("j1", "o1", "s1", NOW);
    block_on(async {
        assert_eq!(code(verifier.verify(&token).await), "ok");
        assert_eq!(code(verifier.verify(&token).await), "ok");
        let hits = verifier.cached_token_hits();
        assert!(hits >= 1);
        revoke(&store, Revocation::session("o1")).await;
        assert_eq!(code(verifier.verify(&token).await), "revoked_token");
        assert!(verifier.cached_token_hits() > hits, "answered by the cache");
    });
}

#[test]
fn entries_expire_when_no_token_they_match_can_still_be_valid() {
    let clock = TestClock::at(NOW);
    let store = RevocationStore::builder()
        .clock(clock.clone())
        .max_token_lifetime(Duration::from_secs(3600))
        .leeway(Duration::from_secs(60))
        .memory();
    let verifier = verifier(&clock, &store, false);
    let token = access("j1", "o1", "s1", NOW);
    let verified = block_on(verifier.verify(&token)).expect("valid");
    block_on(async {
        revoke(&store, Revocation::this_token(&verified).expect("jti")).await;
        revoke(&store, Revocation::session("o1")).await;
        revoke(&store, Revocation::user(TestIssuer::iss(), "s1", NOW - 100)).await;
    });
    assert_eq!(store.status().entries, 3);
    // The token expires at NOW + 3600: every entry lives until its bound plus the leeway. A
    // session's or user's bound is a lifetime past the second of the revocation or cut-off,
    // plus one second: a token issued within that second (at a fractional iat) expires up to
    // a second later.
    let token_until = NOW + 3600 + 60;
    let session_until = NOW + 3600 + 1 + 60;
    let user_until = NOW - 100 + 3600 + 1 + 60;
    let replica = &store.inner.replica;
    let iss = TestIssuer::iss();
    let user = Key::User {
        issuer: &iss,
        sub: "s1",
    };
    clock.set(user_until - 1);
    assert!(replica.get(user, user_until - 1).is_some());
    assert!(replica.get(user, user_until).is_none());
    clock.set(user_until);
    store.purge_expired();
    assert_eq!(store.status().entries, 2);
    assert!(replica.get(Key::Token("j1"), token_until - 1).is_some());
    assert!(replica.get(Key::Session("o1"), session_until - 1).is_some());
    clock.set(token_until.max(session_until));
    store.purge_expired();
    assert_eq!(store.status().entries, 0);
}

/// Revocations are kept in whole seconds, tokens' times are not: a token issued within the
/// second of a session's revocation or of a sign-out's cut-off can expire up to a second after
/// that second plus the longest lifetime, and stays refused to its very end.
#[test]
fn a_token_issued_within_the_revocations_second_stays_refused_to_its_end() {
    let clock = TestClock::at(NOW);
    let store = RevocationStore::builder()
        .clock(clock.clone())
        .max_token_lifetime(Duration::from_secs(3600))
        .leeway(Duration::from_secs(60))
        .memory();
    let verifier =
        verifier_with_leeway(&clock, &store, Duration::from_secs(60)).expect("valid verifier");
    let within_the_second = |origin_jti: &str, sub: &str| {
        #[allow(clippy::cast_precision_loss)]
        let issued = NOW as f64 + 0.5;
        issuer().access_token(
            "api/read",
            &[],
            json!({"jti": "j", "origin_jti": origin_jti, "sub": sub, "iat": issued,
                   "exp": issued + 3600.0}),
        )
    };
    let session = within_the_second("o-revoked", "s-fine");
    let user = within_the_second("o-fine", "s-signed-out");
    block_on(async {
        revoke(&store, Revocation::session("o-revoked")).await;
        revoke(
            &store,
            Revocation::user(TestIssuer::iss(), "s-signed-out", NOW),
        )
        .await;
    });
    // The last whole second at which both still verify: exp + leeway is NOW + 3660.5.
    clock.set(NOW + 3600 + 60);
    for token in [&session, &user] {
        assert_eq!(code(block_on(verifier.verify(token))), "revoked_token");
    }
    // A second later they have expired, and so have the entries.
    clock.set(NOW + 3600 + 60 + 1);
    for token in [&session, &user] {
        assert_eq!(code(block_on(verifier.verify(token))), "expired");
    }
    store.purge_expired();
    assert_eq!(store.status().entries, 0);
}

#[test]
fn a_later_cutoff_wins_and_an_earlier_one_does_not_shorten_it() {
    let clock = TestClock::at(NOW + 100);
    let store = store(&clock);
    let iss = TestIssuer::iss();
    block_on(async {
        revoke(&store, Revocation::user(&iss, "s1", NOW + 50)).await;
        revoke(&store, Revocation::user(&iss, "s1", NOW + 10)).await;
    });
    let entry = store
        .inner
        .replica
        .get(
            Key::User {
                issuer: &iss,
                sub: "s1",
            },
            NOW + 100,
        )
        .expect("entry");
    assert_eq!(u64::from(entry.cutoff), NOW + 50);
}

#[test]
fn empty_identifiers_and_missing_claims_are_refused() {
    let clock = TestClock::at(NOW);
    let store = store(&clock);
    block_on(async {
        assert_eq!(
            store.revoke(Revocation::token("")).await,
            Err(RevocationError::Empty("jti"))
        );
        assert_eq!(
            store.revoke(Revocation::user("", "s", 1)).await,
            Err(RevocationError::Empty("issuer or sub"))
        );
    });
    let verifier = verifier(&clock, &store, false);
    let token = issuer().id_token(&[], json!({}));
    let verified = block_on(verifier.verify(&token)).expect("valid");
    assert_eq!(
        Revocation::session_of(&verified),
        Err(RevocationError::MissingClaim("origin_jti"))
    );
    assert_eq!(store.status().entries, 0);
}

#[test]
fn a_store_never_connected_to_its_shared_truth_follows_the_stale_rule() {
    let clock = TestClock::at(NOW);
    for (when, expected) in [
        (WhenStale::Refuse, "revocation_unavailable"),
        (WhenStale::Serve, "ok"),
    ] {
        let builder = RevocationStore::builder()
            .clock(clock.clone())
            .when_stale(when);
        // A store whose backend has not synchronised yet: what a Redis store is at start-up.
        let store = RevocationStore::new(builder, Backend::Memory, false);
        let verifier = verifier(&clock, &store, true);
        let token = access("j1", "o1", "s1", NOW);
        assert_eq!(
            code(block_on(verifier.verify(&token))),
            expected,
            "{when:?}"
        );
        store.mark_resynchronised(NOW);
        assert_eq!(code(block_on(verifier.verify(&token))), "ok");
        assert_eq!(store.status().fresh_at, Some(NOW));
        let limit = DEFAULT_STALENESS_LIMIT.as_secs();
        // Still connected, but nothing has proven the replica complete for longer than the
        // limit (a connection gone silent without a reset looks just like this).
        clock.set(NOW + limit);
        assert_eq!(code(block_on(verifier.verify(&token))), "ok");
        clock.set(NOW + limit + 1);
        assert_eq!(
            code(block_on(verifier.verify(&token))),
            expected,
            "{when:?}"
        );
        // A heartbeat sent now came back: proven again.
        store.mark_heard_since(NOW + limit + 1);
        assert_eq!(code(block_on(verifier.verify(&token))), "ok");
        // An older proof arriving late never moves it back.
        store.mark_heard_since(NOW);
        assert_eq!(store.status().fresh_at, Some(NOW + limit + 1));
        // Lost: trusted up to the limit from the last proof, then the configured behaviour.
        store.mark_disconnected();
        assert!(!store.status().connected);
        clock.set(NOW + 2 * limit + 1);
        assert_eq!(code(block_on(verifier.verify(&token))), "ok");
        clock.set(NOW + 2 * limit + 2);
        assert_eq!(
            code(block_on(verifier.verify(&token))),
            expected,
            "{when:?}"
        );
        clock.set(NOW);
    }
}

#[test]
fn a_million_entries_fit_in_64_mib() {
    let clock = TestClock::at(NOW);
    let store = store(&clock);
    let revocations: Vec<_> = (0..1_000_000_u32)
        .map(|i| match i % 3 {
            0 => Revocation::token(format!("{i:08x}-0000-4000-8000-000000000000")),
            1 => Revocation::session(format!("{i:08x}-1111-4000-8000-000000000000")),
            _ => Revocation::user(TestIssuer::iss(), format!("{i:08x}-sub"), NOW),
        })
        .collect();
    block_on(store.revoke_all(revocations)).expect("revoke");
    assert_eq!(store.status().entries, 1_000_000);
    let bytes = store.replica_bytes();
    assert!(bytes <= 64 * 1024 * 1024, "{bytes} bytes");
}

/// One step of the property test.
#[derive(Debug, Clone)]
enum Step {
    RevokeToken(u8),
    RevokeSession(u8),
    SignOut(u8, u8),
    Request(u8),
    Advance(u16),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..6_u8).prop_map(Step::RevokeToken),
        (0..3_u8).prop_map(Step::RevokeSession),
        (0..2_u8, 0..8_u8).prop_map(|(user, at)| Step::SignOut(user, at)),
        (0..6_u8).prop_map(Step::Request),
        (0..4_u8).prop_map(Step::Request),
        (0..600_u16).prop_map(Step::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// For any sequence of revocations and requests, a verifier answering from its
    /// verified-token cache refuses whatever one verifying every token in full refuses.
    #[test]
    fn a_cached_token_is_never_admitted_when_an_uncached_one_is_refused(
        steps in proptest::collection::vec(step(), 1..40)
    ) {
        let clock = TestClock::at(NOW);
        let store = RevocationStore::builder()
            .clock(clock.clone())
            .max_token_lifetime(Duration::from_secs(1200))
            .leeway(Duration::ZERO)
            .memory();
        let cached = verifier(&clock, &store, true);
        let uncached = verifier(&clock, &store, false);
        // Six tokens: three sessions of two users, issued a few seconds apart, living 20 minutes.
        let tokens: Vec<String> = (0..6_u64)
            .map(|i| {
                issuer().access_token("", &[], json!({
                    "jti": format!("j{i}"),
                    "origin_jti": format!("o{}", i % 3),
                    "sub": format!("s{}", i % 2),
                    "iat": NOW + i,
                    "exp": NOW + i + 1200,
                }))
            })
            .collect();
        let mut now = NOW;
        block_on(async {
            for step in steps {
                match step {
                    Step::RevokeToken(i) => store.revoke(Revocation::token(format!("j{i}"))).await.expect("revoke"),
                    Step::RevokeSession(i) => store.revoke(Revocation::session(format!("o{i}"))).await.expect("revoke"),
                    Step::SignOut(user, at) => store
                        .revoke(Revocation::user(TestIssuer::iss(), format!("s{user}"), NOW + u64::from(at)))
                        .await
                        .expect("revoke"),
                    Step::Request(i) => {
                        let token = &tokens[usize::from(i)];
                        let full = code(uncached.verify(token).await);
                        let fast = code(cached.verify(token).await);
                        prop_assert_eq!(fast, full);
                    }
                    Step::Advance(by) => {
                        now += u64::from(by);
                        clock.set(now);
                    }
                }
            }
            Ok(())
        })?;
    }
}

#[test]
fn background_durations_must_be_schedulable() {
    let builder = RevocationStore::builder;
    assert!(builder().validate().is_ok());
    for bad in [Duration::ZERO, Duration::MAX] {
        assert!(
            builder().resync_interval(bad).validate().is_err(),
            "{bad:?}"
        );
        assert!(builder().timeout(bad).validate().is_err(), "{bad:?}");
        assert!(
            builder()
                .staleness_limit(Duration::MAX)
                .heartbeat_interval(bad)
                .validate()
                .is_err(),
            "{bad:?}"
        );
    }
    let year = Duration::from_secs(365 * 86_400);
    assert!(
        builder()
            .staleness_limit(3 * year)
            .resync_interval(year)
            .heartbeat_interval(year)
            .timeout(year)
            .validate()
            .is_ok()
    );
}

/// A healthy replica is proven once per heartbeat interval plus a round trip (at most the
/// timeout): a staleness limit without room for that would refuse requests on a healthy
/// connection, and is refused when the store is built.
#[test]
fn the_staleness_limit_leaves_room_for_a_heartbeat() {
    let builder = || {
        RevocationStore::builder()
            .staleness_limit(Duration::from_secs(10))
            .timeout(Duration::from_secs(2))
    };
    assert!(
        builder()
            .heartbeat_interval(Duration::from_millis(7_999))
            .validate()
            .is_ok()
    );
    assert!(
        builder()
            .heartbeat_interval(Duration::from_secs(8))
            .validate()
            .is_err()
    );
    // The default heartbeat is a quarter of the limit, 100 ms to 15 s.
    assert_eq!(
        builder().heartbeat_or_default(),
        Duration::from_millis(2_500)
    );
    assert_eq!(
        RevocationStore::builder().heartbeat_or_default(),
        Duration::from_secs(15)
    );
    assert_eq!(
        RevocationStore::builder()
            .staleness_limit(Duration::from_secs(3_600))
            .heartbeat_or_default(),
        Duration::from_secs(15)
    );
    assert_eq!(
        RevocationStore::builder()
            .staleness_limit(Duration::ZERO)
            .heartbeat_or_default(),
        Duration::from_millis(100)
    );
    // A limit of zero or one second with the default timeout has no room at all.
    for limit in [0, 1, 2] {
        let error = RevocationStore::builder()
            .staleness_limit(Duration::from_secs(limit))
            .validate()
            .expect_err("no room");
        assert!(error.to_string().contains("heartbeat_interval"), "{error}");
    }
}

/// A verifier whose issuer accepts `leeway` of clock skew, on `clock`, checking `store`.
fn verifier_with_leeway(
    clock: &TestClock,
    store: &RevocationStore,
    leeway: Duration,
) -> Result<Verifier, crate::ConfigError> {
    let config = IssuerConfig::user_pool(crate::test_tokens::POOL_ID)
        .client_ids([crate::test_tokens::CLIENT_ID])
        .token_use(crate::AcceptedTokenUse::Any)
        .jwks_json(issuer().jwks_json())
        .leeway(leeway)
        .build()
        .expect("valid issuer");
    Verifier::builder()
        .issuer(config)
        .clock(clock.clone())
        .revocation(store.clone())
        .build()
}

/// An issuer tolerating 10 minutes of skew (`leeway_secs = 600`) would verify a revoked token
/// for 5 minutes after a store with the default leeway (5 minutes) forgot its entry: such a
/// verifier is refused, and with a store keeping entries 10 minutes past their bound the token
/// stays refused for as long as it verifies.
#[test]
fn a_revoked_token_stays_refused_for_as_long_as_the_verifier_accepts_it() {
    let clock = TestClock::at(NOW);
    let leeway = Duration::from_secs(600);
    let error = verifier_with_leeway(&clock, &store(&clock), leeway)
        .expect_err("refused: the store forgets entries before the verifier stops accepting");
    assert!(error.to_string().contains("leeway"), "{error}");
    let store = RevocationStore::builder()
        .clock(clock.clone())
        .leeway(leeway)
        .memory();
    let verifier = verifier_with_leeway(&clock, &store, leeway).expect("valid verifier");
    // Revoked by jti, for as long as the token lives (`Revocation::this_token`).
    let token = access("j1", "o1", "s1", NOW);
    // A user signed out in the second a day-long token (Cognito's longest) was issued.
    let day_long = issuer().access_token(
        "",
        &[],
        json!({"jti": "j2", "origin_jti": "o2", "sub": "s2", "iat": NOW, "exp": NOW + 86_400}),
    );
    block_on(async {
        let verified = verifier.verify(&token).await.expect("valid");
        revoke(&store, Revocation::this_token(&verified).expect("jti")).await;
        revoke(&store, Revocation::user(TestIssuer::iss(), "s2", NOW)).await;
        // exp + 6 min: the token still verifies (10 min of leeway), so it must stay revoked.
        clock.set(NOW + 3600 + 360);
        assert_eq!(code(verifier.verify(&token).await), "revoked_token");
        clock.set(NOW + 86_400 + 360);
        assert_eq!(code(verifier.verify(&day_long).await), "revoked_token");
    });
}

/// A sign-out is remembered for the longest token life (`max_token_lifetime`, a day by default)
/// after its cut-off: a token living longer (a generic OIDC issuer minting two-day tokens)
/// would be admitted again after that, so it is refused from the start, as one without `iat`
/// is; a token living exactly the longest life is served.
#[test]
fn a_signed_out_users_long_lived_token_stays_refused_until_it_expires() {
    // A generic OIDC issuer minting two-day tokens, with the store's defaults (one day).
    let clock = TestClock::at(NOW);
    let store = store(&clock);
    let iss = "https://idp.example";
    let config = IssuerConfig::oidc(iss)
        .audiences(["api"])
        .jwks_json(issuer().jwks_json())
        .build()
        .expect("valid issuer");
    let verifier = Verifier::builder()
        .issuer(config)
        .clock(clock.clone())
        .revocation(store.clone())
        .build()
        .expect("valid verifier");
    let token = issuer().sign(&json!({
        "iss": iss, "aud": "api", "sub": "s1", "jti": "j1",
        "iat": NOW, "exp": NOW + 2 * 86_400,
    }));
    let day_long = issuer().sign(&json!({
        "iss": iss, "aud": "api", "sub": "s2", "jti": "j2",
        "iat": NOW, "exp": NOW + 86_400,
    }));
    let without_iat = issuer().sign(&json!({
        "iss": iss, "aud": "api", "sub": "s3", "jti": "j3", "exp": NOW + 3600,
    }));
    block_on(async {
        assert_eq!(code(verifier.verify(&day_long).await), "ok");
        assert_eq!(code(verifier.verify(&without_iat).await), "revoked_token");
        assert_eq!(code(verifier.verify(&token).await), "revoked_token");
        revoke(&store, Revocation::user(iss, "s1", NOW)).await;
        assert_eq!(code(verifier.verify(&token).await), "revoked_token");
        // A day and an hour later the token is still valid, and still issued before the sign-out.
        clock.set(NOW + 86_400 + 3600);
        assert_eq!(code(verifier.verify(&token).await), "revoked_token");
    });
}
