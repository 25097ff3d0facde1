//! The JWKS server's switches, observed with a real HTTP client (reqwest, as the core uses).

use std::time::{Duration, Instant};

use cognito_authz_testkit::{
    GARBAGE_BODY, HTML_BODY, JwksReply, JwksServer, SigningKey, jwks_json,
};
use serde_json::Value;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("client")
}

async fn server_with(kids: &[&str]) -> JwksServer {
    JwksServer::start(kids.iter().map(|kid| SigningKey::generate(*kid)))
        .await
        .expect("binds 127.0.0.1")
}

async fn get(url: &str) -> reqwest::Response {
    client().get(url).send().await.expect("response")
}

fn kids(body: &[u8]) -> Vec<String> {
    let document: Value = serde_json::from_slice(body).expect("key set JSON");
    document["keys"]
        .as_array()
        .expect("keys array")
        .iter()
        .map(|key| key["kid"].as_str().expect("kid").to_owned())
        .collect()
}

#[tokio::test]
async fn serves_the_key_set_at_any_path_on_loopback() {
    let server = server_with(&["a", "b"]).await;
    assert!(server.addr().ip().is_loopback());
    for url in [server.url(), format!("{}/anything/else", server.base_url())] {
        let response = get(&url).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.headers()["connection"], "close");
        let body = response.bytes().await.expect("body");
        assert_eq!(body, server.jwks_json().as_bytes());
        assert_eq!(kids(&body), ["a", "b"]);
    }
    assert_eq!(server.fetch_count(), 2);
    assert_eq!(server.requests()[1].path, "/anything/else");
}

#[tokio::test]
async fn status_redirect_garbage_html_and_custom_bodies_are_sent_as_set() {
    let server = server_with(&["a"]).await;

    server.respond_with_status(500);
    let response = get(&server.url()).await;
    assert_eq!(response.status(), 500);

    server.respond_with_status(404);
    assert_eq!(get(&server.url()).await.status(), 404);

    server.redirect_to("http://127.0.0.1:9/elsewhere");
    let response = get(&server.url()).await;
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"],
        "http://127.0.0.1:9/elsewhere"
    );

    server.serve_garbage();
    let response = get(&server.url()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.expect("body"), GARBAGE_BODY);

    server.serve_html();
    let response = get(&server.url()).await;
    assert_eq!(response.headers()["content-type"], "text/html");
    assert_eq!(response.text().await.expect("body"), HTML_BODY);

    server.serve_body(r#"{"keys":"not a list"}"#);
    let response = get(&server.url()).await;
    assert_eq!(
        response.text().await.expect("body"),
        r#"{"keys":"not a list"}"#
    );

    server.set_reply(JwksReply::Custom {
        status: 200,
        headers: vec![("Cache-Control".into(), "max-age=60".into())],
        body: b"{}".to_vec(),
    });
    let response = get(&server.url()).await;
    assert_eq!(response.headers()["cache-control"], "max-age=60");
    assert_eq!(response.bytes().await.expect("body"), "{}".as_bytes());

    server.serve_keys();
    assert_eq!(
        kids(&get(&server.url()).await.bytes().await.expect("body")),
        ["a"]
    );
    assert_eq!(server.fetch_count(), 8);
}

#[tokio::test]
async fn oversized_bodies_have_the_requested_size_with_and_without_length() {
    let server = server_with(&["a"]).await;
    server.serve_oversized(300_000);
    let response = get(&server.url()).await;
    assert_eq!(response.content_length(), Some(300_000));
    let body = response.bytes().await.expect("body");
    assert_eq!(body.len(), 300_000);
    assert_eq!(kids(&body), ["a"], "still the key set, only bigger");

    server.set_reply(JwksReply::OversizedNoLength(300_000));
    let response = get(&server.url()).await;
    assert!(response.headers().get("content-length").is_none());
    assert_eq!(response.bytes().await.expect("body").len(), 300_000);
}

#[tokio::test]
async fn closing_without_a_response_is_an_error_and_still_counted() {
    let server = server_with(&["a"]).await;
    server.close_connections();
    let error = client()
        .get(server.url())
        .send()
        .await
        .expect_err("no response");
    assert!(!error.is_timeout());
    assert!(server.fetch_count() >= 1);
}

#[tokio::test]
async fn reply_once_is_used_for_one_request_then_the_standing_reply() {
    let server = server_with(&["a"]).await;
    server.reply_once(JwksReply::Status(503));
    server.reply_once(JwksReply::Status(429));
    assert_eq!(get(&server.url()).await.status(), 503);
    assert_eq!(get(&server.url()).await.status(), 429);
    assert_eq!(get(&server.url()).await.status(), 200);
}

#[tokio::test]
async fn key_management_changes_what_is_served() {
    let server = server_with(&["a"]).await;
    server.add_key(SigningKey::generate("b"));
    let rotated = server.rotate();
    let body = get(&server.url()).await.bytes().await.expect("body");
    assert_eq!(kids(&body), ["a", "b", rotated.kid()]);

    assert!(server.remove_key("a"));
    assert!(!server.remove_key("a"));
    let body = get(&server.url()).await.bytes().await.expect("body");
    assert_eq!(kids(&body), ["b", rotated.kid()]);

    let only = SigningKey::generate("only");
    server.set_keys([only.clone()]);
    let body = get(&server.url()).await.bytes().await.expect("body");
    assert_eq!(body, jwks_json([&only]).as_bytes());
}

/// A request with the client timeout `timeout`, made once the server holds replies for ten
/// minutes; returned once the server has it.
async fn held_request(
    server: &JwksServer,
    timeout: Duration,
) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
    server.set_delay(Some(Duration::from_secs(600)));
    let url = server.url();
    let request = tokio::spawn(async move { client().get(url).timeout(timeout).send().await });
    server.wait_for_fetches(1).await;
    request
}

#[tokio::test]
async fn delay_holds_the_response_and_a_client_timeout_cuts_it_short() {
    let server = server_with(&["a"]).await;
    let request = held_request(&server, Duration::from_secs(2)).await;
    let error = request
        .await
        .expect("task")
        .expect_err("held past the client's timeout");
    assert!(error.is_timeout());
    assert_eq!(server.fetch_count(), 1);

    server.set_delay(Some(Duration::from_millis(100)));
    let started = Instant::now();
    assert_eq!(get(&server.url()).await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(100));

    server.set_delay(None);
    assert_eq!(get(&server.url()).await.status(), 200);
}

#[tokio::test]
async fn dropping_the_server_ends_delayed_connections() {
    let server = server_with(&["a"]).await;
    let request = held_request(&server, Duration::from_secs(60)).await;
    drop(server);
    let error = request
        .await
        .expect("task")
        .expect_err("connection closed by the stopped server");
    assert!(
        !error.is_timeout(),
        "closed at once, not timed out: {error}"
    );
}

#[tokio::test]
async fn wait_for_fetches_returns_after_n_requests() {
    let server = server_with(&["a"]).await;
    server.wait_for_fetches(0).await;
    let url = server.url();
    let requests: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { client().get(url).send().await })
        })
        .collect();
    server.wait_for_fetches(3).await;
    assert!(server.fetch_count() >= 3);
    for request in requests {
        assert_eq!(
            request.await.expect("task").expect("response").status(),
            200
        );
    }
    assert_eq!(server.fetch_count(), 3);
}

#[tokio::test]
async fn requests_record_method_path_and_headers() {
    let server = server_with(&["a"]).await;
    client()
        .get(format!("{}/keys?x=1", server.base_url()))
        .header("x-probe", "yes")
        .send()
        .await
        .expect("response");
    let request = &server.requests()[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, "/keys?x=1");
    assert_eq!(request.header("X-Probe"), Some("yes"));
}
