//! Cognito's revocation semantics on moto's tokens, enforced by two instances sharing a real
//! Redis: two sign-ins of one user are two sessions (each with its own `origin_jti`, kept by a
//! refresh); revoking one session leaves the other working; after `AdminUserGlobalSignOut` every
//! earlier token is refused and a fresh sign-in works.
//!
//! moto has no `RevokeToken`, and no verifier hears of a sign-out by itself: the application
//! records both in the store, as a real application does beside its call to Cognito.

use cognito_authz::dangerous::decode_unverified;
use cognito_authz::revocation::{Revocation, RevocationStore};
use cognito_authz::{Clock, SystemClock};

use super::*;
use crate::revocation::{RedisServer, until};

/// Tokens of one sign-in, refresh token included.
struct Session {
    id: String,
    access: String,
    refresh: String,
}

impl MotoCognito {
    async fn sign_in(&self) -> Session {
        let answer = self.user_password_answer().await;
        Session {
            id: text(&answer, "/AuthenticationResult/IdToken"),
            access: text(&answer, "/AuthenticationResult/AccessToken"),
            refresh: text(&answer, "/AuthenticationResult/RefreshToken"),
        }
    }

    async fn refresh(&self, refresh_token: &str) -> Tokens {
        let parameters = json!({ "REFRESH_TOKEN": refresh_token });
        let answer = self
            .initiate_auth(false, "REFRESH_TOKEN_AUTH", parameters)
            .await;
        Tokens::from_answer(&answer)
    }

    /// One instance of the application: a verifier with a verified-token cache and a store
    /// following `redis`.
    fn instance(&self, redis: &RedisServer) -> (Verifier, RevocationStore) {
        let store = RevocationStore::builder()
            .redis(&redis.url())
            .expect("revocation store");
        let issuer = IssuerConfig::user_pool(self.pool_id.as_str())
            .client_ids([self.client_id.as_str()])
            .token_use(AcceptedTokenUse::Any)
            .jwks_url(format!(
                "{}/{}/.well-known/jwks.json",
                self.server.base_url(),
                self.pool_id
            ))
            .build()
            .expect("issuer");
        let verifier = Verifier::builder()
            .issuer(issuer)
            .verified_token_cache(64)
            .revocation(store.clone())
            .build()
            .expect("verifier");
        (verifier, store)
    }
}

async fn answer(verifier: &Verifier, token: &str) -> &'static str {
    match verifier.verify(token).await {
        Ok(_) => "ok",
        Err(error) => error.code(),
    }
}

fn issued_at(token: &str) -> u64 {
    let (_, payload) = decode_unverified(token).expect("a JWT");
    payload["iat"].as_u64().expect("integer iat")
}

#[tokio::test]
async fn moto_sessions_are_revoked_one_at_a_time_and_all_by_a_global_sign_out() {
    let moto = MotoCognito::start().await;
    let redis = RedisServer::start().await;
    let (one, one_store) = moto.instance(&redis);
    let (two, two_store) = moto.instance(&redis);
    until(&one_store, "one connected", |s| s.connected).await;
    until(&two_store, "two connected", |s| s.connected).await;

    let laptop = moto.sign_in().await;
    let phone = moto.sign_in().await;
    let refreshed = moto.refresh(&laptop.refresh).await;
    let laptop_tokens = [&laptop.id, &laptop.access, &refreshed.id, &refreshed.access];
    let phone_tokens = [&phone.id, &phone.access];
    for token in laptop_tokens.iter().chain(&phone_tokens) {
        assert_eq!(answer(&two, token).await, "ok");
        assert_eq!(answer(&two, token).await, "ok", "cached");
    }
    let laptop_session = one.verify(&laptop.access).await.expect("valid");
    let phone_session = one.verify(&phone.access).await.expect("valid");
    assert_ne!(laptop_session.origin_jti(), phone_session.origin_jti());
    let refreshed_session = one.verify(&refreshed.access).await.expect("valid");
    assert_eq!(refreshed_session.origin_jti(), laptop_session.origin_jti());

    // "Sign out of this device" on instance one: what the app records beside RevokeToken.
    let applied = two_store.status().applied;
    one_store
        .revoke(Revocation::session_of(&laptop_session).expect("origin_jti"))
        .await
        .expect("revoke");
    until(&two_store, "the session revocation reached two", |s| {
        s.applied > applied
    })
    .await;
    for token in laptop_tokens {
        assert_eq!(answer(&two, token).await, "revoked_token");
        assert_eq!(answer(&one, token).await, "revoked_token");
    }
    for token in phone_tokens {
        assert_eq!(
            answer(&two, token).await,
            "ok",
            "the other session still works"
        );
    }

    // An administrator signs the user out everywhere; the admin tool records the cut-off.
    moto.api
        .call(
            "AdminUserGlobalSignOut",
            &json!({ "UserPoolId": moto.pool_id, "Username": USERNAME }),
        )
        .await;
    let cutoff = SystemClock.now().as_secs();
    let applied = two_store.status().applied;
    one_store
        .revoke(Revocation::user(
            moto.issuer(),
            moto.user_sub.as_str(),
            cutoff,
        ))
        .await
        .expect("revoke");
    until(&two_store, "the sign-out reached two", |s| {
        s.applied > applied
    })
    .await;
    for token in laptop_tokens.iter().chain(&phone_tokens) {
        assert_eq!(answer(&two, token).await, "revoked_token");
    }

    // A fresh sign-in works once it is issued after the sign-out's second; one issued within
    // that second is refused (it cannot be told apart from one issued just before).
    let mut attempts = 0;
    loop {
        attempts += 1;
        assert!(
            attempts <= 1000,
            "no sign-in in a later second after 1000 attempts"
        );
        let fresh = moto.sign_in().await;
        if issued_at(&fresh.access) <= cutoff {
            assert_eq!(answer(&two, &fresh.access).await, "revoked_token");
            continue;
        }
        assert_eq!(answer(&two, &fresh.access).await, "ok");
        assert_eq!(answer(&two, &fresh.id).await, "ok");
        assert_eq!(answer(&one, &fresh.access).await, "ok");
        break;
    }
}
