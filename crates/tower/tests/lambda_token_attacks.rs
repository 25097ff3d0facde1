//! Two tokens in one API Gateway event, after lambda_http's conversion. API Gateway hands a
//! repeated header to a REST API in `multiValueHeaders` (every value) and `headers` (the last),
//! and to an HTTP API (payload 2.0) joined with commas in `headers`. The layer's rule for two
//! tokens is `invalid_request` (400, README: "two tokens, two `authorization` entries").

mod lambda_attack_common;

use lambda_attack_common::{Caller, Fixture, Kind, event};
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// The status, the route that ran, and how many `authorization` values lambda_http left.
async fn send(fixture: &Fixture, json: &str) -> (u16, Option<String>, usize) {
    let request = lambda_http::request::from_str(json).expect("event");
    let values = request.headers().get_all("authorization").iter().count();
    let router = axum::Router::new()
        .nest("/prod", lambda_attack_common::app())
        .layer(fixture.layer.clone());
    let response = router.oneshot(request).await.expect("infallible");
    let route = response
        .headers()
        .get("x-route")
        .map(|value| value.to_str().expect("ascii").to_owned());
    (response.status().as_u16(), route, values)
}

/// An HTTP API joins a repeated `Authorization` header with a comma: `Bearer <user>,Bearer
/// <admin>` reaches the layer as one value. Read as one token it would be `malformed_token`
/// (401, `error="invalid_token"`: "your token is bad, get another"); it is two headers, so
/// `invalid_request` (400: "you sent two"). No JWT holds a comma, so a comma in the value can
/// only be a joined list.
#[tokio::test]
async fn two_tokens_joined_by_an_http_api_are_an_invalid_request() {
    let fixture = Fixture::new();
    let user = fixture.authorization(Caller::User).expect("user");
    let admin = fixture.authorization(Caller::Admin).expect("admin");
    for joined in [format!("{user},{admin}"), format!("{admin}, {user}")] {
        let mut http: Value =
            serde_json::from_str(&event(Kind::Http, "GET", "/prod/admin/x", None)).expect("json");
        http["headers"]["authorization"] = json!(joined);
        let (status, route, values) = send(&fixture, &http.to_string()).await;
        assert_eq!(values, 1);
        assert_eq!(route, None, "a handler ran");
        assert_eq!(status, 400, "{joined:.20}…: two tokens");
    }
}

/// A REST event with `multiValueHeaders.Authorization = [user, admin]` and `headers.Authorization
/// = admin` (the last, as API Gateway writes it): lambda_http lets `headers` replace the
/// multi-value entry, so the layer sees one token, the last, and never the pair. Nothing the
/// layer can see; the caller holds both tokens anyway. Recorded so a change shows.
#[tokio::test]
async fn two_tokens_in_a_rest_event_reach_the_layer_as_the_last_one() {
    let fixture = Fixture::new();
    let user = fixture.authorization(Caller::User).expect("user");
    let admin = fixture.authorization(Caller::Admin).expect("admin");
    let mut rest: Value =
        serde_json::from_str(&event(Kind::Rest, "GET", "/admin/x", Some(&admin))).expect("json");
    rest["multiValueHeaders"]["Authorization"] = json!([user, admin]);
    assert_eq!(
        send(&fixture, &rest.to_string()).await,
        (200, Some("admin".into()), 1)
    );
    let mut rest: Value =
        serde_json::from_str(&event(Kind::Rest, "GET", "/admin/x", Some(&user))).expect("json");
    rest["multiValueHeaders"]["Authorization"] = json!([admin, user]);
    assert_eq!(send(&fixture, &rest.to_string()).await, (403, None, 1));
}

/// A cookie token through lambda_http: an HTTP API puts cookies in the event's `cookies`
/// array, which lambda_http joins into one `Cookie` header; a REST API's repeated `Cookie`
/// header is collapsed to the last by lambda_http (as `Authorization` above). The cross-site
/// check must judge what reaches the layer: a cross-site `POST` with the cookie is refused
/// (403 `cross_site_request`), a same-origin one passes, two different token cookies are 400,
/// a cookie and a header together are 400.
#[tokio::test]
async fn cookie_tokens_in_api_gateway_events_are_checked_like_any_other() {
    let fixture = Fixture::new();
    let text = format!(
        "{}\n[token]\ncookie = \"__Host-id_token\"\nallowed_origins = [\"https://app.example.com\"]\n",
        lambda_attack_common::policy_text()
    );
    let layer = cognito_authz_tower::AuthzLayer::new(
        fixture
            .issuer
            .authorizer(&text)
            .unwrap_or_else(|error| panic!("{error}")),
    );
    let raw = |caller| {
        fixture
            .authorization(caller)
            .expect("token")
            .trim_start_matches("Bearer ")
            .to_owned()
    };
    let (user, admin) = (raw(Caller::User), raw(Caller::Admin));
    let http = |method: &str, cookies: Vec<String>, headers: &[(&str, &str)]| {
        let mut event: Value =
            serde_json::from_str(&event(Kind::Http, method, "/prod/admin/x", None)).expect("json");
        event["cookies"] = json!(cookies);
        for (name, value) in headers {
            event["headers"][*name] = json!(value);
        }
        event.to_string()
    };
    let router = axum::Router::new()
        .nest("/prod", lambda_attack_common::app())
        .layer(layer);
    let cases = [
        (
            "cross-site POST",
            http(
                "POST",
                vec![format!("__Host-id_token={admin}")],
                &[
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "https://evil.example"),
                ],
            ),
            403,
        ),
        (
            "Origin: null POST, no fetch metadata",
            http(
                "POST",
                vec![format!("__Host-id_token={admin}")],
                &[("origin", "null")],
            ),
            403,
        ),
        (
            "Referer from a lookalike host",
            http(
                "POST",
                vec![format!("__Host-id_token={admin}")],
                &[("referer", "https://app.example.com.evil.example/x")],
            ),
            403,
        ),
        (
            "Referer with the allowed origin as userinfo",
            http(
                "POST",
                vec![format!("__Host-id_token={admin}")],
                &[("referer", "https://app.example.com@evil.example/x")],
            ),
            403,
        ),
        (
            "same-origin POST",
            http(
                "POST",
                vec![format!("__Host-id_token={admin}")],
                &[("sec-fetch-site", "same-origin")],
            ),
            200,
        ),
        (
            "allowed Origin, no fetch metadata",
            http(
                "POST",
                vec![format!("__Host-id_token={admin}")],
                &[("origin", "https://APP.example.com:443")],
            ),
            200,
        ),
        (
            "two token cookies",
            http(
                "GET",
                vec![
                    format!("__Host-id_token={user}"),
                    format!("__Host-id_token={admin}"),
                ],
                &[],
            ),
            400,
        ),
        (
            "the same token cookie twice",
            http(
                "GET",
                vec![
                    format!("__Host-id_token={admin}"),
                    format!("__Host-id_token={admin}"),
                ],
                &[],
            ),
            200,
        ),
        (
            "cookie and header",
            http(
                "GET",
                vec![format!("__Host-id_token={admin}")],
                &[("authorization", &format!("Bearer {admin}"))],
            ),
            400,
        ),
        (
            "a lookalike cookie name only",
            http(
                "GET",
                vec![
                    format!("__host-id_token={admin}"),
                    format!("id_token={admin}"),
                ],
                &[],
            ),
            401,
        ),
        (
            "user cookie, admin route",
            http("GET", vec![format!("__Host-id_token={user}")], &[]),
            403,
        ),
    ];
    for (what, json, status) in cases {
        let request = lambda_http::request::from_str(&json).expect("event");
        let response = tower::ServiceExt::oneshot(router.clone(), request)
            .await
            .expect("infallible");
        let ran = response.headers().contains_key("x-route");
        assert_eq!(response.status().as_u16(), status, "{what}");
        assert_eq!(
            ran,
            status == 200,
            "{what}: a handler ran on a refusal, or none on a 200"
        );
    }
}
