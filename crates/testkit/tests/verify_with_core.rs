//! Tokens minted by the testkit, verified by the core `Verifier` with keys fetched over real
//! HTTP from the testkit's JWKS server on 127.0.0.1: what the testkit mints, serves and switches
//! works against the real verifier. The verification rules themselves, one row per check, are
//! the root's `tests/verify_checks.rs`.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cognito_authz_core::{AcceptedTokenUse, Algorithm, ErrorKind, TokenUse, Verifier};
use cognito_authz_testkit::{
    DEFAULT_START_SECS, DEFAULT_USER_SCOPE, JwksReply, LocalIssuer, ManualClock, SigningKey,
    base64url, sign_raw, sign_segments,
};
use serde_json::{Value, json};

async fn started() -> LocalIssuer {
    LocalIssuer::start()
        .await
        .expect("the local issuer binds 127.0.0.1")
}

fn verifier(issuer: &LocalIssuer, token_use: AcceptedTokenUse) -> Verifier {
    issuer
        .verifier_builder(token_use)
        .build()
        .expect("valid verifier")
}

fn segment(token: &str, index: usize) -> String {
    let part = token.split('.').nth(index).expect("three segments");
    String::from_utf8(URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("UTF-8")
}

fn payload(token: &str) -> Value {
    serde_json::from_str(&segment(token, 1)).expect("JSON payload")
}

/// The member names of a JSON object in document order (serde_json's map may sort them).
fn member_order(json: &str) -> Vec<String> {
    let object: serde_json::Map<String, Value> = serde_json::from_str(json).expect("object");
    let mut names: Vec<(usize, String)> = object
        .keys()
        .map(|name| {
            let quoted = format!("{}:", Value::from(name.as_str()));
            (json.find(&quoted).expect("member present"), name.clone())
        })
        .collect();
    names.sort();
    names.into_iter().map(|(_, name)| name).collect()
}

fn is_uuid(value: &Value) -> bool {
    value.as_str().is_some_and(|text| {
        text.len() == 36
            && text
                .char_indices()
                .all(|(i, c)| matches!(i, 8 | 13 | 18 | 23) == (c == '-'))
    })
}

#[tokio::test]
async fn access_token_verifies_with_keys_fetched_over_http() {
    let issuer = started().await;
    let verifier = verifier(&issuer, AcceptedTokenUse::Access);
    let token = issuer
        .access_token()
        .username("alice")
        .groups(["admin", "readers"])
        .scopes(["api/read", "api/write"])
        .sign();

    let verified = verifier.verify(&token).await.expect("verifies");
    assert_eq!(verified.token_use(), Some(TokenUse::Access));
    assert_eq!(verified.username(), Some("alice"));
    assert_eq!(verified.client_id(), Some("localclient123"));
    assert_eq!(verified.groups(), ["admin", "readers"]);
    assert_eq!(verified.scopes(), ["api/read", "api/write"]);
    assert_eq!(verified.kid(), issuer.signing_key().kid());
    assert_eq!(verified.issuer(), issuer.iss());

    let server = issuer.server().expect("server");
    assert_eq!(server.fetch_count(), 1);
    let requests = server.requests();
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path, "/.well-known/jwks.json");
}

#[tokio::test]
async fn id_token_verifies_and_carries_identity_claims() {
    let issuer = started().await;
    let verifier = verifier(&issuer, AcceptedTokenUse::Id);
    let token = issuer
        .id_token()
        .username("bob")
        .email("bob@corp.example")
        .groups(["staff"])
        .sign();
    let verified = verifier.verify(&token).await.expect("verifies");
    assert_eq!(verified.token_use(), Some(TokenUse::Id));
    assert_eq!(verified.username(), Some("bob"));
    assert_eq!(verified.email(), Some("bob@corp.example"));
    assert_eq!(verified.audiences(), ["localclient123"]);
    assert!(verified.in_group("staff"));
    assert_eq!(verified.claim("email_verified"), Some(json!(true)));
}

#[tokio::test]
async fn machine_token_verifies_with_the_client_as_subject() {
    let issuer = started().await;
    let verifier = verifier(&issuer, AcceptedTokenUse::Access);
    let token = issuer.machine_token().scopes(["orders/read"]).sign();
    let verified = verifier.verify(&token).await.expect("verifies");
    assert_eq!(verified.sub(), Some("localclient123"));
    assert_eq!(verified.client_id(), Some("localclient123"));
    assert_eq!(verified.username(), None);
    assert!(verified.groups().is_empty());
    assert!(verified.has_scope("orders/read"));
}

#[test]
fn access_token_is_shaped_like_cognito() {
    let issuer = LocalIssuer::offline();
    let token = issuer
        .access_token()
        .username("alice")
        .groups(["g1"])
        .sign();

    let header = segment(&token, 0);
    assert_eq!(
        header,
        format!(
            r#"{{"kid":{},"alg":"RS256"}}"#,
            json!(issuer.signing_key().kid())
        )
    );

    let json = segment(&token, 1);
    assert_eq!(
        member_order(&json),
        [
            "sub",
            "cognito:groups",
            "iss",
            "version",
            "client_id",
            "origin_jti",
            "event_id",
            "token_use",
            "scope",
            "auth_time",
            "exp",
            "iat",
            "jti",
            "username"
        ]
    );
    let claims = payload(&token);
    let now = DEFAULT_START_SECS;
    assert!(is_uuid(&claims["sub"]));
    assert_eq!(claims["cognito:groups"], json!(["g1"]));
    assert_eq!(
        claims["iss"],
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_LocalTest1"
    );
    assert_eq!(claims["version"], 2);
    assert_eq!(claims["client_id"], "localclient123");
    assert!(is_uuid(&claims["origin_jti"]) && is_uuid(&claims["event_id"]));
    assert!(is_uuid(&claims["jti"]));
    assert_eq!(claims["token_use"], "access");
    assert_eq!(claims["scope"], DEFAULT_USER_SCOPE);
    assert_eq!(claims["auth_time"], now);
    assert_eq!(claims["iat"], now);
    assert_eq!(claims["exp"], now + 3600);
    assert_eq!(claims["username"], "alice");
}

#[test]
fn id_token_is_shaped_like_cognito() {
    let issuer = LocalIssuer::offline();
    let token = issuer.id_token().groups(["g1"]).sign();
    assert_eq!(
        member_order(&segment(&token, 1)),
        [
            "sub",
            "cognito:groups",
            "email_verified",
            "iss",
            "cognito:username",
            "origin_jti",
            "aud",
            "event_id",
            "token_use",
            "auth_time",
            "exp",
            "iat",
            "jti",
            "email"
        ]
    );
    let claims = payload(&token);
    assert_eq!(claims["aud"], "localclient123");
    assert_eq!(claims["cognito:username"], "test-user");
    assert_eq!(claims["email"], "test-user@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["token_use"], "id");
    assert_eq!(claims["exp"], DEFAULT_START_SECS + 3600);
}

#[test]
fn machine_token_is_shaped_like_cognito() {
    let issuer = LocalIssuer::offline();
    let token = issuer.machine_token().scopes(["a/read", "a/write"]).sign();
    assert_eq!(
        member_order(&segment(&token, 1)),
        [
            "sub",
            "token_use",
            "scope",
            "auth_time",
            "iss",
            "exp",
            "iat",
            "version",
            "jti",
            "client_id"
        ]
    );
    let claims = payload(&token);
    assert_eq!(claims["sub"], "localclient123");
    assert_eq!(claims["scope"], "a/read a/write");
}

#[test]
fn same_user_keeps_the_same_sub_and_ids_are_fresh() {
    let issuer = LocalIssuer::offline();
    let first = payload(&issuer.access_token().username("u").sign());
    let second = payload(&issuer.id_token().username("u").sign());
    let other = payload(&issuer.access_token().username("v").sign());
    assert_eq!(first["sub"], second["sub"]);
    assert_ne!(first["sub"], other["sub"]);
    assert_ne!(first["jti"], second["jti"]);
    assert!(
        first.get("cognito:groups").is_none(),
        "no groups unless set"
    );
}

#[test]
fn edits_override_add_and_remove_members() {
    let issuer = LocalIssuer::offline();
    let token = issuer
        .access_token()
        .issued_at(100)
        .claim("exp", json!("soon"))
        .claim("custom:tenant", "blue")
        .remove_claim("jti")
        .header("typ", "JWT")
        .remove_header("alg")
        .sign();
    let claims = payload(&token);
    assert_eq!(claims["exp"], "soon");
    assert_eq!(claims["iat"], 100);
    assert_eq!(claims["auth_time"], 100);
    assert_eq!(claims["custom:tenant"], "blue");
    assert!(claims.get("jti").is_none());
    assert_eq!(
        segment(&token, 0),
        format!(
            r#"{{"kid":{},"typ":"JWT"}}"#,
            json!(issuer.signing_key().kid())
        )
    );
}

#[tokio::test]
async fn manual_clock_drives_expiry() {
    let clock = ManualClock::at(1_800_000_000);
    let issuer = LocalIssuer::builder()
        .clock(clock.clone())
        .start()
        .await
        .expect("starts");
    let verifier = verifier(&issuer, AcceptedTokenUse::Access);
    let token = issuer.access_token().sign();
    assert_eq!(payload(&token)["exp"], 1_800_003_600);

    clock.advance(Duration::from_secs(3599));
    verifier
        .verify(&token)
        .await
        .expect("valid one second before exp");
    clock.advance(Duration::from_secs(1));
    let error = verifier.verify(&token).await.expect_err("expired at exp");
    assert_eq!(error.kind(), ErrorKind::Expired);
}

#[tokio::test]
async fn raw_signing_reaches_the_structure_checks() {
    let issuer = started().await;
    let verifier = verifier(&issuer, AcceptedTokenUse::Access);
    let key = issuer.signing_key();
    let good = issuer.access_token().payload_json();
    let header = issuer.access_token().header_json();

    let duplicate = good.replacen('{', r#"{"sub":"x","#, 1);
    let error = verifier
        .verify(&sign_raw(&key, &header, &duplicate))
        .await
        .expect_err("duplicate member");
    assert_eq!(error.kind(), ErrorKind::MalformedToken);

    let padded = format!("{}=", base64url(&header));
    let error = verifier
        .verify(&sign_segments(
            &key,
            Algorithm::RS256,
            &padded,
            &base64url(&good),
        ))
        .await
        .expect_err("padding");
    assert_eq!(error.kind(), ErrorKind::MalformedToken);

    verifier
        .verify(&sign_raw(&key, &header, &good))
        .await
        .expect("the same bytes, well-formed, verify");
}

#[tokio::test]
async fn rotated_key_is_fetched_after_the_cooldown_and_removed_key_stops_verifying() {
    let issuer = started().await;
    let server = issuer.server().expect("server");
    let verifier = verifier(&issuer, AcceptedTokenUse::Access);
    let old_token = issuer.access_token().sign();
    verifier.verify(&old_token).await.expect("old key");

    let new_key = issuer.rotate();
    let new_token = issuer.access_token().sign();
    assert_eq!(
        verifier
            .verify(&new_token)
            .await
            .expect_err("cooldown")
            .kind(),
        ErrorKind::UnknownKid
    );
    assert_eq!(server.fetch_count(), 1, "no fetch inside the cooldown");

    issuer
        .manual_clock()
        .expect("manual")
        .advance(Duration::from_secs(31));
    let verified = verifier.verify(&new_token).await.expect("new key fetched");
    assert_eq!(verified.kid(), new_key.kid());
    assert_eq!(server.fetch_count(), 2);
    verifier
        .verify(&old_token)
        .await
        .expect("old key still published");

    let old_kid = old_token_kid(&old_token);
    assert!(issuer.remove_key(&old_kid));
    issuer
        .manual_clock()
        .expect("manual")
        .advance(Duration::from_secs(31));
    // A miss on a third kid triggers the refresh that drops the old key.
    let third = SigningKey::generate("third");
    let _ = verifier
        .verify(&issuer.access_token().signed_by(&third).sign())
        .await;
    assert_eq!(server.fetch_count(), 3);
    assert_eq!(
        verifier
            .verify(&old_token)
            .await
            .expect_err("unpublished")
            .kind(),
        ErrorKind::UnknownKid
    );
}

fn old_token_kid(token: &str) -> String {
    let header: Value = serde_json::from_str(&segment(token, 0)).expect("header");
    header["kid"].as_str().expect("kid").to_owned()
}

#[tokio::test]
async fn updated_issuer_form_verifies() {
    let issuer = started().await;
    let verifier = verifier(&issuer, AcceptedTokenUse::Id);
    let iss = issuer.updated_iss().expect("pool issuer");
    let token = issuer.id_token().iss(iss.as_str()).sign();
    assert_eq!(
        verifier.verify(&token).await.expect("verifies").issuer(),
        iss
    );
}

#[tokio::test]
async fn offline_issuer_verifies_from_inline_keys() {
    let issuer = LocalIssuer::offline();
    assert!(issuer.server().is_none());
    let verifier = verifier(&issuer, AcceptedTokenUse::Any);
    verifier
        .verify(&issuer.id_token().sign())
        .await
        .expect("id token");
    verifier
        .verify(&issuer.access_token().sign())
        .await
        .expect("access token");
}

#[tokio::test]
async fn emulator_style_issuer_uses_its_exact_iss() {
    let issuer = LocalIssuer::builder()
        .cognito_issuer("http://localhost:9229/local_pool")
        .client_id("emulated")
        .start()
        .await
        .expect("starts");
    let verifier = verifier(&issuer, AcceptedTokenUse::Access);
    let verified = verifier
        .verify(&issuer.access_token().sign())
        .await
        .expect("verifies");
    assert_eq!(verified.issuer(), "http://localhost:9229/local_pool");
    assert_eq!(verified.client_id(), Some("emulated"));
}

#[tokio::test]
async fn rs384_keys_verify_when_the_issuer_allows_rs384() {
    let key = SigningKey::generate("rs384").with_algorithm(Algorithm::RS384);
    let issuer = LocalIssuer::builder()
        .signing_key(key)
        .start()
        .await
        .expect("starts");
    let verifier = Verifier::builder()
        .issuer(
            issuer
                .issuer_builder(AcceptedTokenUse::Access)
                .algorithms([Algorithm::RS384])
                .build()
                .expect("config"),
        )
        .shared_clock(issuer.clock())
        .build()
        .expect("verifier");
    let token = issuer.access_token().sign();
    assert!(segment(&token, 0).contains(r#""alg":"RS384""#));
    verifier.verify(&token).await.expect("verifies");
}

#[tokio::test]
async fn failing_server_before_any_fetch_means_keys_unavailable() {
    let issuer = started().await;
    let server = issuer.server().expect("server");
    server.set_reply(JwksReply::Status(500));
    let verifier = verifier(&issuer, AcceptedTokenUse::Access);
    let error = verifier
        .verify(&issuer.access_token().sign())
        .await
        .expect_err("no keys");
    assert_eq!(error.kind(), ErrorKind::JwksUnavailable);
    assert_eq!(error.status(), 503);
    assert_eq!(server.fetch_count(), 1);
}

#[tokio::test]
async fn every_failing_reply_leaves_the_verifier_without_keys() {
    let rows = [
        JwksReply::Status(404),
        JwksReply::Redirect("http://127.0.0.1:9/keys".into()),
        JwksReply::Garbage,
        JwksReply::Html,
        JwksReply::Body(r#"{"keys":{}}"#.into()),
        JwksReply::Oversized(300 * 1024),
        JwksReply::OversizedNoLength(300 * 1024),
        JwksReply::Close,
    ];
    for reply in rows {
        let issuer = started().await;
        let server = issuer.server().expect("server");
        server.set_reply(reply.clone());
        let verifier = verifier(&issuer, AcceptedTokenUse::Access);
        let error = verifier
            .verify(&issuer.access_token().sign())
            .await
            .expect_err("no usable key set");
        assert_eq!(error.kind(), ErrorKind::JwksUnavailable, "{reply:?}");
        assert!(server.fetch_count() >= 1, "{reply:?}");
    }
}

#[tokio::test]
async fn a_delay_past_the_fetch_timeout_fails_the_fetch_and_keys_come_back_after() {
    let issuer = started().await;
    let server = issuer.server().expect("server");
    server.set_delay(Some(Duration::from_secs(600)));
    let verifier = Verifier::builder()
        .issuer(
            issuer
                .issuer_builder(AcceptedTokenUse::Access)
                .fetch_timeout(Duration::from_millis(300))
                .build()
                .expect("config"),
        )
        .shared_clock(issuer.clock())
        .build()
        .expect("verifier");
    let token = issuer.access_token().sign();
    assert_eq!(
        verifier.verify(&token).await.expect_err("timed out").kind(),
        ErrorKind::JwksUnavailable
    );
    server.serve_keys();
    // Past the back-off after the failure (1 s of the verifier's clock by default).
    issuer
        .manual_clock()
        .expect("manual")
        .advance(Duration::from_secs(2));
    verifier.verify(&token).await.expect("keys served again");
}
