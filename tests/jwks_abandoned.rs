//! A key fetch whose only waiter goes away (the client hung up mid-request) is finished in the
//! background, and a later request is never handed an answer older than the refresh cooldown:
//! tested through real axum and actix-web servers on 127.0.0.1, with raw sockets for the client
//! that hangs up and the testkit JWKS server holding its replies (counted, not slept on).
//!
//! axum (hyper) drops a request's future when its client hangs up, which is what used to strand
//! a shared fetch; actix-web, in these runs, kept driving the request after the hang-up. Both
//! must end the same way: the later request gets a fresh fetch and the new key.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::{App, web};
use axum::Router;
use axum::routing::get;
use cognito_authz::{AcceptedTokenUse, Authorizer};
use cognito_authz_actix::CognitoAuth;
use cognito_authz_axum::AuthzLayer;
use cognito_authz_testkit::{LocalIssuer, SigningKey};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Longer than the default refresh cooldown (30 s of the issuer's manual clock).
const PAST_COOLDOWN: Duration = Duration::from_secs(31);

fn authorizer(issuer: &LocalIssuer) -> Authorizer {
    let verifier = issuer
        .verifier_builder(AcceptedTokenUse::Access)
        .build()
        .expect("verifier");
    Authorizer::builder()
        .verifier(verifier)
        .unmatched("authenticated".parse().expect("policy"))
        .build()
        .expect("authorizer")
}

fn loopback_listener() -> TcpListener {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1");
    listener.set_nonblocking(true).expect("non-blocking");
    listener
}

fn request(token: &str) -> String {
    format!(
        "GET /me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
}

/// Sends `GET /me` with this token on a fresh connection; the status of the answer.
async fn status(addr: SocketAddr, token: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(request(token).as_bytes())
        .await
        .expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let answer = String::from_utf8_lossy(&answer);
    answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
}

/// The scenario, against an app serving `GET /me` (authenticated) at `addr`.
async fn a_hung_up_fetch_is_never_served_stale(issuer: &LocalIssuer, addr: SocketAddr) {
    let server = issuer.server().expect("served keys");
    let clock = issuer.manual_clock().expect("manual clock");
    let known = issuer.access_token().sign();
    assert_eq!(status(addr, &known).await, 200);
    assert_eq!(server.fetch_count(), 1);

    // An unknown kid starts fetch 2, which the JWKS server holds; its only waiter hangs up.
    clock.advance(PAST_COOLDOWN);
    server.hold_replies();
    let unknown = issuer.access_token().header("kid", "not-published").sign();
    let mut hung_up = TcpStream::connect(addr).await.expect("connect");
    hung_up
        .write_all(request(&unknown).as_bytes())
        .await
        .expect("send");
    server.wait_for_fetches(2).await;
    drop(hung_up);
    // A whole request on another connection: the server has run its connections since the
    // hang-up (so a framework that cancels on hang-up has done so), and cached kids never wait
    // on a fetch.
    assert_eq!(status(addr, &known).await, 200);

    // Fetch 2 is answered with the keys of that moment; a key is published only afterwards.
    server.release_replies();
    server.wait_for_replies(2).await;
    let published_later = SigningKey::generate("published-later");
    issuer.add_key(published_later.clone());
    clock.advance(PAST_COOLDOWN);

    // Fetch 2's answer is older than the cooldown now: whether it has landed in the background
    // or is still in flight, this request gets a fresh fetch, not fetch 2's stale answer.
    let token = issuer.access_token().signed_by(&published_later).sign();
    assert_eq!(
        status(addr, &token).await,
        200,
        "a key published after the abandoned fetch verifies once the cooldown has passed"
    );
    assert_eq!(server.fetch_count(), 3, "one fresh fetch");
}

#[actix_web::test]
async fn axum_a_fetch_abandoned_by_a_hung_up_client_is_never_served_stale() {
    let issuer = LocalIssuer::start().await.expect("local issuer");
    let listener = tokio::net::TcpListener::from_std(loopback_listener()).expect("listener");
    let addr = listener.local_addr().expect("address");
    let router = Router::new()
        .route("/me", get(|| async { "me" }))
        .layer(AuthzLayer::new(authorizer(&issuer)));
    let app = tokio::spawn(async move {
        axum::serve(listener, router).await.expect("axum serves");
    });
    a_hung_up_fetch_is_never_served_stale(&issuer, addr).await;
    app.abort();
}

#[actix_web::test]
async fn actix_a_fetch_abandoned_by_a_hung_up_client_is_never_served_stale() {
    let issuer = LocalIssuer::start().await.expect("local issuer");
    let listener = loopback_listener();
    let addr = listener.local_addr().expect("address");
    let authorizer = authorizer(&issuer);
    let handle = crate::serve::spawn_actix!(listener, move || {
        App::new()
            .wrap(CognitoAuth::new(authorizer.clone()))
            .route("/me", web::get().to(|| async { "me" }))
    });
    a_hung_up_fetch_is_never_served_stale(&issuer, addr).await;
    handle.stop(false).await;
}

#[tokio::test]
async fn a_fetch_still_in_flight_past_the_cooldown_is_not_joined() {
    let issuer = LocalIssuer::start().await.expect("local issuer");
    let server = issuer.server().expect("served keys");
    let clock = issuer.manual_clock().expect("manual clock");
    let verifier = issuer
        .verifier_builder(AcceptedTokenUse::Access)
        .build()
        .expect("verifier");
    let known = issuer.access_token().sign();
    verifier.verify(&known).await.expect("fetch 1");

    // Fetch 2 starts for an unknown kid and is held; the request waiting for it is cancelled.
    clock.advance(PAST_COOLDOWN);
    server.hold_replies();
    let unknown = issuer.access_token().header("kid", "not-published").sign();
    let abandoned = tokio::spawn({
        let verifier = verifier.clone();
        async move { verifier.verify(&unknown).await.map(|_| ()) }
    });
    server.wait_for_fetches(2).await;
    abandoned.abort();

    // A key is published, and the cooldown passes with fetch 2 still unanswered.
    let published_later = SigningKey::generate("published-later");
    issuer.add_key(published_later.clone());
    clock.advance(PAST_COOLDOWN);
    let token = issuer.access_token().signed_by(&published_later).sign();
    let fresh = tokio::spawn({
        let verifier = verifier.clone();
        async move { verifier.verify(&token).await.map(|_| ()) }
    });
    // The request starts fetch 3 rather than joining fetch 2 (a guard, not a wait: the fetch
    // count is awaited).
    tokio::time::timeout(Duration::from_secs(10), server.wait_for_fetches(3))
        .await
        .expect("a fresh fetch, not the one older than the cooldown");
    server.release_replies();
    fresh
        .await
        .expect("the request ran")
        .expect("the fresh fetch brings the key published after fetch 2 began");
    assert_eq!(server.fetch_count(), 3);
}
