//! The authorizer's decisions, table-driven, with a fixed clock and a local key set.

use std::time::Duration;

use futures_util::FutureExt as _;
use http::HeaderValue;
use serde_json::json;

use std::path::Path;

use http::{HeaderMap, Method};

use super::*;
use crate::test_tokens::{NOW, POLICY, issuer};
use crate::{ErrorKind, FixedClock, HeaderLookup, IssuerConfig, Policy, PolicyFile};

fn authorizer(options: AuthorizerBuilder) -> Authorizer {
    options
        .jwks_file(issuer().jwks_path())
        .clock(FixedClock(Duration::from_secs(NOW)))
        .policy_text(POLICY, ".")
        .build()
        .unwrap_or_else(|error| panic!("{error}"))
}

/// What a case expects: allowed (with or without a token), or denied with code, status,
/// route, challenge.
#[derive(Debug)]
enum Expect {
    Allow {
        with_token: bool,
    },
    Deny {
        code: &'static str,
        route: Option<&'static str>,
        challenge: Option<&'static str>,
    },
}

fn allow(with_token: bool) -> Expect {
    Expect::Allow { with_token }
}

fn deny(code: &'static str, route: Option<&'static str>, challenge: &'static str) -> Expect {
    Expect::Deny {
        code,
        route,
        challenge: Some(challenge),
    }
}

fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

fn cookie(token: &str) -> (&'static str, String) {
    ("cookie", format!("theme=dark; id_token={token}"))
}

/// Refused as a cross-site request with a cookie token: no challenge.
fn cross_site(route: Option<&'static str>) -> Expect {
    Expect::Deny {
        code: "cross_site_request",
        route,
        challenge: None,
    }
}

/// Runs `f` and returns every event this thread emitted meanwhile.
fn capture_events(f: impl FnOnce()) -> Vec<String> {
    let capture = cognito_authz_test_support::events::capture();
    f();
    capture.events()
}

#[test]
fn denials_are_logged_at_debug_with_code_and_route_but_never_the_token() {
    let authorizer = authorizer(Authorizer::builder());
    let expired = issuer().access_token("", &[], json!({"exp": NOW - 1}));
    let user = issuer().access_token("openid", &[], json!({}));
    let events = capture_events(|| {
        for token in [&expired, &user] {
            let mut headers = HeaderMap::new();
            headers.insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {token}")).expect("value"),
            );
            let decision = authorizer
                .authorize(&Method::GET, "/reports/9", &headers)
                .now_or_never()
                .expect("ready");
            assert!(!decision.is_allowed());
        }
    });
    let denials: Vec<&String> = events
        .iter()
        .filter(|e| e.contains("request denied"))
        .collect();
    assert_eq!(denials.len(), 2, "{events:?}");
    assert!(denials[0].starts_with("DEBUG "), "{}", denials[0]);
    assert!(denials[0].contains("code=\"expired\""), "{}", denials[0]);
    assert!(
        denials[1].contains("code=\"insufficient_scope\""),
        "{}",
        denials[1]
    );
    for event in &events {
        assert!(event.contains("route=\"/reports/{id}\"") || !event.contains("request denied"));
        assert!(
            !event.contains(&expired) && !event.contains(&user),
            "token in {event}"
        );
        assert!(!event.contains("eyJ"), "token content in {event}");
    }
}

#[test]
fn cross_site_refusals_are_logged_at_debug_with_the_route_and_why() {
    let authorizer = authorizer(Authorizer::builder());
    let user = issuer().access_token("openid", &["admin"], json!({}));
    let events = capture_events(|| {
        let mut headers = HeaderMap::new();
        let cookie = HeaderValue::from_str(&format!("id_token={user}")).expect("value");
        headers.insert("cookie", cookie);
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        let decision = authorizer
            .authorize(&Method::POST, "/admin/users", &headers)
            .now_or_never()
            .expect("ready");
        assert_eq!(
            decision.denial().map(Denial::code),
            Some("cross_site_request")
        );
    });
    let denial = events
        .iter()
        .find(|event| event.contains("request denied"))
        .unwrap_or_else(|| panic!("no denial event in {events:?}"));
    assert!(denial.starts_with("DEBUG "), "{denial}");
    assert!(denial.contains("code=\"cross_site_request\""), "{denial}");
    assert!(denial.contains("route=\"/admin/{*rest}\""), "{denial}");
    assert!(denial.contains("method=POST"), "{denial}");
    assert!(denial.contains("Sec-Fetch-Site: cross-site"), "{denial}");
    for event in &events {
        assert!(!event.contains(&user) && !event.contains("eyJ"), "{event}");
    }
}

#[test]
fn authorize_over_any_header_lookup_decides_as_over_a_header_map() {
    /// A header store that is not an `http::HeaderMap` (as actix-web's is not).
    struct Pairs(Vec<(&'static str, String)>);
    impl HeaderLookup for Pairs {
        fn values<'a>(&'a self, name: &http::HeaderName) -> impl Iterator<Item = &'a [u8]> {
            let name = name.as_str();
            self.0
                .iter()
                .filter(move |(candidate, _)| *candidate == name)
                .map(|(_, value)| value.as_bytes())
        }
    }
    let authorizer = authorizer(Authorizer::builder());
    let keys = issuer();
    let user = keys.access_token("openid", &["staff"], json!({}));
    let admin = keys.access_token("openid", &["admin"], json!({}));
    let cases = [
        ("GET", "/admin/users", vec![bearer(&admin)]),
        ("GET", "/admin/users", vec![bearer(&user)]),
        ("GET", "/reports/1", vec![bearer(&user)]),
        ("GET", "/health", vec![bearer(&user)]),
        ("GET", "/me", vec![]),
        ("GET", "/me", vec![bearer(&user), bearer(&user)]),
        ("GET", "/me", vec![("cookie", format!("id_token={user}"))]),
        ("POST", "/me", vec![("cookie", format!("id_token={user}"))]),
        (
            "POST",
            "/me",
            vec![
                ("cookie", format!("id_token={user}")),
                ("sec-fetch-site", "same-origin".to_owned()),
            ],
        ),
        (
            "OPTIONS",
            "/admin/users",
            vec![("access-control-request-method", "GET".to_owned())],
        ),
    ];
    for (method, path, pairs) in cases {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let mut headers = HeaderMap::new();
        for (name, value) in &pairs {
            headers.append(*name, HeaderValue::from_str(value).expect("header value"));
        }
        let expected = authorizer
            .authorize(&method, path, &headers)
            .now_or_never()
            .expect("ready");
        let got = authorizer
            .authorize(&method, path, &Pairs(pairs))
            .now_or_never()
            .expect("ready");
        assert_eq!(
            got.denial().map(Denial::code),
            expected.denial().map(Denial::code),
            "{method} {path}"
        );
        assert_eq!(
            got.token().map(|token| token.sub()),
            expected.token().map(|token| token.sub()),
            "{method} {path}"
        );
    }
}

#[test]
fn authorizers_and_their_futures_cross_threads() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let authorizer = authorizer(Authorizer::builder());
    send_sync(&authorizer);
    let headers = HeaderMap::new();
    let future = authorizer.authorize(&Method::GET, "/", &headers);
    send(&future);
    let decision = future.now_or_never().expect("ready");
    send_sync(&decision);
}

#[test]
fn requests_are_decided_per_the_contract() {
    let keys = issuer();
    let user = keys.access_token("openid", &["staff"], json!({}));
    let reader = keys.access_token("openid api/read", &["staff"], json!({}));
    let writer = keys.access_token("api/write", &[], json!({}));
    let admin = keys.access_token("openid", &["admin"], json!({}));
    let id = keys.id_token(&["staff"], json!({}));
    let tenant = keys.access_token("", &[], json!({"custom:tenant": "acme"}));
    let banned = keys.access_token("", &["banned"], json!({"custom:tenant": "acme"}));
    let expired = keys.access_token("", &[], json!({"exp": NOW - 1}));
    let foreign = keys.access_token(
        "",
        &[],
        json!({"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"}),
    );
    let wrong_client = keys.access_token("", &[], json!({"client_id": "someone-else"}));
    let tampered = {
        let mut parts: Vec<String> = user.split('.').map(str::to_owned).collect();
        parts[1] = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            r#"{"iss":"x"}"#,
        );
        let forged = keys.access_token("openid", &["admin"], json!({}));
        let forged_payload = forged.split('.').nth(1).unwrap_or_default().to_owned();
        format!("{}.{}.{}", parts[0], forged_payload, parts[2])
    };
    let invalid = |description: &'static str| -> &'static str {
        match description {
            "malformed token" => {
                r#"Bearer error="invalid_token", error_description="malformed token""#
            }
            "token expired" => r#"Bearer error="invalid_token", error_description="token expired""#,
            "invalid signature" => {
                r#"Bearer error="invalid_token", error_description="invalid signature""#
            }
            "untrusted issuer" => {
                r#"Bearer error="invalid_token", error_description="untrusted issuer""#
            }
            "wrong client" => r#"Bearer error="invalid_token", error_description="wrong client""#,
            _ => "",
        }
    };
    let forbidden = r#"Bearer error="insufficient_scope""#;
    // (method, path, headers, expected)
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, String)>, Expect);
    let cases: Vec<Case<'_>> = vec![
        // public routes: no token, valid, invalid, ambiguous
        ("GET", "/health", vec![], allow(false)),
        ("GET", "/health", vec![bearer(&user)], allow(true)),
        ("GET", "/health", vec![bearer("garbage")], allow(false)),
        ("GET", "/health", vec![bearer(&expired)], allow(false)),
        (
            "GET",
            "/health",
            vec![bearer(&user), bearer(&user)],
            allow(false),
        ),
        ("GET", "/admin/public", vec![], allow(false)),
        // missing vs invalid tokens
        ("GET", "/me", vec![], deny("missing_token", None, "Bearer")),
        ("GET", "/me", vec![bearer(&user)], allow(true)),
        (
            "GET",
            "/me",
            vec![("authorization", user.clone())],
            allow(true),
        ),
        (
            "GET",
            "/me",
            vec![("cookie", format!("id_token={user}"))],
            allow(true),
        ),
        (
            "GET",
            "/me",
            vec![("authorization", "Basic dXNlcjpwdw==".to_owned())],
            deny("missing_token", None, "Bearer"),
        ),
        (
            "GET",
            "/me",
            vec![bearer("garbage")],
            deny("malformed_token", None, invalid("malformed token")),
        ),
        (
            "GET",
            "/me",
            vec![bearer(&expired)],
            deny("expired", None, invalid("token expired")),
        ),
        (
            "GET",
            "/me",
            vec![bearer(&tampered)],
            deny("invalid_signature", None, invalid("invalid signature")),
        ),
        (
            "GET",
            "/me",
            vec![bearer(&foreign)],
            deny("invalid_issuer", None, invalid("untrusted issuer")),
        ),
        (
            "GET",
            "/me",
            vec![bearer(&wrong_client)],
            deny("invalid_client", None, invalid("wrong client")),
        ),
        // ambiguous requests
        (
            "GET",
            "/me",
            vec![bearer(&user), bearer(&user)],
            deny("invalid_request", None, r#"Bearer error="invalid_request""#),
        ),
        (
            "GET",
            "/me",
            vec![bearer(&user), ("cookie", format!("id_token={user}"))],
            deny("invalid_request", None, r#"Bearer error="invalid_request""#),
        ),
        // two headers a proxy joined with a comma (an API Gateway HTTP API), either order
        (
            "GET",
            "/me",
            vec![("authorization", format!("Bearer {user},Bearer {admin}"))],
            deny("invalid_request", None, r#"Bearer error="invalid_request""#),
        ),
        (
            "GET",
            "/me",
            vec![("authorization", format!("Bearer {admin}, Bearer {user}"))],
            deny("invalid_request", None, r#"Bearer error="invalid_request""#),
        ),
        // a comma in a cookie token is only a malformed token
        (
            "GET",
            "/me",
            vec![("cookie", format!("id_token={user},x"))],
            deny("malformed_token", None, invalid("malformed token")),
        ),
        // insufficient_scope vs forbidden
        (
            "GET",
            "/reports/7",
            vec![bearer(&user)],
            deny(
                "insufficient_scope",
                Some("/reports/{id}"),
                r#"Bearer error="insufficient_scope", scope="api/read""#,
            ),
        ),
        ("GET", "/reports/7", vec![bearer(&reader)], allow(true)),
        ("GET", "/reports/7", vec![bearer(&admin)], allow(true)),
        (
            "GET",
            "/reports/7",
            vec![bearer(&id)],
            deny(
                "insufficient_scope",
                Some("/reports/{id}"),
                r#"Bearer error="insufficient_scope", scope="api/read""#,
            ),
        ),
        (
            "GET",
            "/reports/7",
            vec![],
            deny("missing_token", Some("/reports/{id}"), "Bearer"),
        ),
        // method filtering: POST has no /reports route → unmatched (authenticated)
        ("POST", "/reports/7", vec![bearer(&user)], allow(true)),
        (
            "POST",
            "/reports/7",
            vec![],
            deny("missing_token", None, "Bearer"),
        ),
        (
            "GET",
            "/scoped",
            vec![bearer(&writer)],
            deny(
                "insufficient_scope",
                Some("/scoped"),
                r#"Bearer error="insufficient_scope", scope="api/write api/read""#,
            ),
        ),
        (
            "GET",
            "/admin/users",
            vec![bearer(&user)],
            deny("forbidden", Some("/admin/{*rest}"), forbidden),
        ),
        ("GET", "/admin/users", vec![bearer(&admin)], allow(true)),
        (
            "POST",
            "/admin/public",
            vec![],
            deny("missing_token", Some("/admin/{*rest}"), "Bearer"),
        ),
        (
            "POST",
            "/admin/public",
            vec![bearer(&user)],
            deny("forbidden", Some("/admin/{*rest}"), forbidden),
        ),
        (
            "GET",
            "/id-only",
            vec![bearer(&user)],
            deny("forbidden", Some("/id-only"), forbidden),
        ),
        ("GET", "/id-only", vec![bearer(&id)], allow(true)),
        ("GET", "/tenant", vec![bearer(&tenant)], allow(true)),
        (
            "GET",
            "/tenant",
            vec![bearer(&banned)],
            deny("forbidden", Some("/tenant"), forbidden),
        ),
        (
            "GET",
            "/tenant",
            vec![bearer(&user)],
            deny("forbidden", Some("/tenant"), forbidden),
        ),
        // Spellings the router may read differently are guarded by the route of each
        // reading; dot segments are refused outright.
        (
            "GET",
            "/%61dmin/users",
            vec![bearer(&user)],
            deny("forbidden", Some("/admin/{*rest}"), forbidden),
        ),
        (
            "GET",
            "//admin//users/",
            vec![bearer(&user)],
            deny("forbidden", Some("/admin/{*rest}"), forbidden),
        ),
        ("GET", "/%61dmin/users", vec![bearer(&admin)], allow(true)),
        (
            "GET",
            "/health/../admin/users",
            vec![bearer(&admin)],
            deny("invalid_request", None, r#"Bearer error="invalid_request""#),
        ),
        (
            "GET",
            "/health/%2e%2e%2fadmin",
            vec![],
            deny("invalid_request", None, r#"Bearer error="invalid_request""#),
        ),
        // a cookie token on a state-changing request must come from an allowed page,
        // and is refused before it is verified; header tokens are not checked
        ("POST", "/me", vec![cookie(&user)], cross_site(None)),
        (
            "DELETE",
            "/admin/users",
            vec![cookie(&admin), ("sec-fetch-site", "cross-site".to_owned())],
            cross_site(Some("/admin/{*rest}")),
        ),
        (
            "POST",
            "/me",
            vec![cookie(&expired), ("origin", "null".to_owned())],
            cross_site(None),
        ),
        (
            "POST",
            "/me",
            vec![
                cookie("garbage"),
                ("sec-fetch-site", "same-site".to_owned()),
            ],
            cross_site(None),
        ),
        (
            "POST",
            "/me",
            vec![cookie(&user), ("sec-fetch-site", "same-origin".to_owned())],
            allow(true),
        ),
        (
            "POST",
            "/me",
            vec![
                cookie(&expired),
                ("sec-fetch-site", "same-origin".to_owned()),
            ],
            deny("expired", None, invalid("token expired")),
        ),
        (
            "GET",
            "/me",
            vec![cookie(&user), ("sec-fetch-site", "cross-site".to_owned())],
            allow(true),
        ),
        (
            "POST",
            "/me",
            vec![bearer(&user), ("sec-fetch-site", "cross-site".to_owned())],
            allow(true),
        ),
        (
            "POST",
            "/me",
            vec![
                bearer(&user),
                cookie(&user),
                ("sec-fetch-site", "cross-site".to_owned()),
            ],
            deny("invalid_request", None, r#"Bearer error="invalid_request""#),
        ),
        (
            "POST",
            "/me",
            vec![("sec-fetch-site", "cross-site".to_owned())],
            deny("missing_token", None, "Bearer"),
        ),
        // on a public route the request goes through, without the cross-site cookie token
        (
            "POST",
            "/health",
            vec![cookie(&user), ("sec-fetch-site", "cross-site".to_owned())],
            allow(false),
        ),
        (
            "POST",
            "/health",
            vec![cookie(&user), ("sec-fetch-site", "same-origin".to_owned())],
            allow(true),
        ),
        (
            "GET",
            "/health",
            vec![cookie(&user), ("sec-fetch-site", "cross-site".to_owned())],
            allow(true),
        ),
        // A CORS preflight is decided like any request: no token, no handler
        (
            "OPTIONS",
            "/admin/users",
            vec![("access-control-request-method", "DELETE".to_owned())],
            deny("missing_token", Some("/admin/{*rest}"), "Bearer"),
        ),
        (
            "OPTIONS",
            "/admin/users",
            vec![],
            deny("missing_token", Some("/admin/{*rest}"), "Bearer"),
        ),
    ];
    let authorizer = authorizer(Authorizer::builder());
    for (method, path, pairs, expected) in cases {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let mut headers = HeaderMap::new();
        for (name, value) in &pairs {
            headers.append(*name, HeaderValue::from_str(value).expect("header value"));
        }
        let description = format!(
            "{method} {path} {:?}",
            pairs.iter().map(|p| p.0).collect::<Vec<_>>()
        );
        // Static keys: nothing is awaited, so one poll decides.
        let decision = authorizer
            .authorize(&method, path, &headers)
            .now_or_never()
            .expect("decided without waiting");
        match (&decision, &expected) {
            (Decision::Allow { token }, Expect::Allow { with_token }) => {
                assert_eq!(token.is_some(), *with_token, "{description}");
            }
            (
                Decision::Deny(denial),
                Expect::Deny {
                    code,
                    route,
                    challenge,
                },
            ) => {
                assert_eq!(denial.code(), *code, "{description}: {denial}");
                assert_eq!(denial.route(), *route, "{description}");
                let response = denial.response();
                assert_eq!(response.status().as_u16(), denial.status(), "{description}");
                assert_eq!(
                    response
                        .www_authenticate()
                        .map(|v| v.to_str().expect("ascii")),
                    *challenge,
                    "{description}"
                );
                let body = match denial.status().as_u16() {
                    400 => r#"{"message":"Bad Request"}"#,
                    401 => r#"{"message":"Unauthorized"}"#,
                    _ => r#"{"message":"Forbidden"}"#,
                };
                assert_eq!(response.body(), body, "{description}");
                for (_, value) in response.headers() {
                    let text = value.to_str().expect("ascii");
                    assert!(
                        !text.contains(&user) && !text.contains("eyJ"),
                        "{description}"
                    );
                }
                assert!(!denial.reason().contains("eyJ"), "{description}");
            }
            _ => panic!("{description}: expected {expected:?}, got {decision:?}"),
        }
    }
}

#[test]
fn denials_carry_route_policy_and_reason() {
    let authorizer = authorizer(Authorizer::builder().realm("api"));
    let user = issuer().access_token("openid", &["staff"], json!({}));
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {user}")).expect("value"),
    );
    let decision = authorizer
        .authorize(&Method::GET, "/reports/1", &headers)
        .now_or_never()
        .expect("ready");
    let denial = decision.denial().expect("denied");
    assert_eq!(denial.kind(), ErrorKind::InsufficientScope);
    assert_eq!(denial.policy(), "policy:reader");
    assert_eq!(denial.scopes(), ["api/read"]);
    assert_eq!(
        denial.reason(),
        "denied; failed: scope:api/read, group:admin"
    );
    assert_eq!(
        denial.response().www_authenticate().expect("challenge"),
        r#"Bearer realm="api", error="insufficient_scope", scope="api/read""#
    );
    assert_eq!(
        denial.to_string(),
        "insufficient_scope on route /reports/{id} (policy `policy:reader`): denied; failed: scope:api/read, group:admin"
    );

    let missing = authorizer
        .authorize(&Method::GET, "/nowhere", &HeaderMap::new())
        .now_or_never()
        .expect("ready");
    let denial = missing.denial().expect("denied");
    assert_eq!((denial.route(), denial.policy()), (None, "authenticated"));
    assert_eq!(denial.reason(), "no token in the request");
    assert_eq!(
        denial.response().www_authenticate().expect("challenge"),
        r#"Bearer realm="api""#
    );
}

#[test]
fn cached_tokens_are_decided_without_verifying_again() {
    let authorizer = authorizer(Authorizer::builder().verified_token_cache(16));
    let user = issuer().access_token("api/read", &[], json!({}));
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {user}")).expect("value"),
    );
    for _ in 0..3 {
        let decision = authorizer
            .authorize(&Method::GET, "/reports/1", &headers)
            .now_or_never()
            .expect("ready");
        assert!(decision.is_allowed());
        assert_eq!(decision.token().and_then(|t| t.sub()), Some("user-sub-1"));
    }
    assert_eq!(authorizer.verifier().cached_tokens(), 1);
}

#[test]
fn single_policy_authorizers_apply_one_policy_everywhere() {
    let keys = issuer();
    let single = Authorizer::builder()
        .verifier(keys.verifier())
        .unmatched("group:admin".parse().expect("parses"))
        .build()
        .expect("valid");
    let admin = keys.access_token("", &["admin"], json!({}));
    let user = keys.access_token("", &["staff"], json!({}));
    let decide = |authorizer: &Authorizer, token: &str, path: &str| {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).expect("value"),
        );
        authorizer
            .authorize(&Method::DELETE, path, &headers)
            .now_or_never()
            .expect("ready")
    };
    assert!(decide(&single, &admin, "/anything").is_allowed());
    assert_eq!(
        decide(&single, &user, "/x").denial().map(Denial::code),
        Some("forbidden")
    );
    assert!(
        Authorizer::builder()
            .verifier(keys.verifier())
            .unmatched(Policy::named("x"))
            .build()
            .is_err()
    );

    let from_file = authorizer(Authorizer::builder());
    let reader = from_file
        .with_policy(&Policy::named("reader"))
        .expect("named policy resolves");
    let denial = decide(&reader, &user, "/whatever");
    assert_eq!(
        denial.denial().map(Denial::code),
        Some("insufficient_scope")
    );
    assert_eq!(denial.denial().and_then(Denial::route), None);
    assert!(from_file.with_policy(&Policy::named("nope")).is_err());
}

#[test]
fn builder_requires_a_verifier_and_checks_the_realm() {
    assert!(Authorizer::builder().build().is_err());
    assert!(
        Authorizer::builder()
            .verifier(issuer().verifier())
            .realm("bad \"realm\"")
            .build()
            .is_err()
    );
    let built = Authorizer::builder()
        .verifier(issuer().verifier())
        .route_methods([Method::GET], "/x", Policy::public())
        .unmatched(Policy::authenticated())
        .build()
        .expect("valid");
    let mut headers = HeaderMap::new();
    headers.insert(
        "access-control-request-method",
        HeaderValue::from_static("GET"),
    );
    let preflight = built
        .authorize(&Method::OPTIONS, "/y", &headers)
        .now_or_never()
        .expect("ready");
    assert_eq!(preflight.denial().map(Denial::code), Some("missing_token"));
    let unknown_issuer = Authorizer::builder()
        .verifier(issuer().verifier())
        .route("/x", "not issuer:partnr".parse().expect("parses"))
        .build()
        .expect_err("issuer:partnr names no issuer");
    assert!(
        unknown_issuer
            .to_string()
            .contains("issuer:partnr names no configured issuer"),
        "{unknown_issuer}"
    );
}

#[test]
fn file_errors_are_located_and_key_files_checked() {
    let missing = Authorizer::builder().policy_text("[[issuer]]\nuser_pool_id = \"us-east-1_X\"\nany_client = true\ntoken_use = \"id\"\njwks_file = \"does-not-exist.json\"\n", "/nonexistent-folder").build()
    .expect_err("missing key file");
    assert_eq!(
        (
            missing.location().map(crate::Location::file),
            missing.line(),
            missing.column()
        ),
        (Some("<string>"), 5, 13)
    );

    let folder = issuer().jwks_path().parent().expect("folder").to_path_buf();
    std::fs::write(folder.join("not-keys.json"), "[1, 2]").expect("write");
    let bad = Authorizer::builder().policy_text("[[issuer]]\nuser_pool_id = \"us-east-1_X\"\nany_client = true\ntoken_use = \"id\"\njwks_file = \"not-keys.json\"\n", &folder).build()
    .expect_err("not a key set");
    assert_eq!((bad.line(), bad.column()), (5, 13), "{bad}");
    assert!(bad.message().contains("is not a JSON key set"), "{bad}");

    // The override replaces the file's key location (and is what gets checked).
    let overridden = Authorizer::builder().jwks_file(issuer().jwks_path()).policy_text("[[issuer]]\nuser_pool_id = \"us-east-1_X\"\nany_client = true\ntoken_use = \"id\"\njwks_file = \"does-not-exist.json\"\n", "/nonexistent-folder").build();
    assert!(overridden.is_ok(), "{:?}", overridden.err());
}

#[test]
fn replacement_issuers_take_the_place_of_the_files() {
    // The file names a pool and a key file that does not exist; the replacement is used
    // instead, so the key file is never read and the file's pool no longer verifies.
    let text = "[[issuer]]\nname = \"local\"\nuser_pool_id = \"us-east-1_Other1\"\nany_client = true\ntoken_use = \"id\"\njwks_file = \"missing.json\"\n\n[[route]]\npath = \"/who\"\nrequire = \"issuer:local\"\n";
    let replacement = IssuerConfig::user_pool(crate::test_tokens::POOL_ID)
        .name("local")
        .client_ids([crate::test_tokens::CLIENT_ID])
        .token_use(crate::AcceptedTokenUse::Access)
        .jwks_json(issuer().jwks_json())
        .build()
        .expect("issuer");
    let authorizer = Authorizer::builder()
        .issuers([replacement])
        .clock(FixedClock(Duration::from_secs(NOW)))
        .policy_text(text, "/nonexistent-folder")
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    let token = issuer().access_token("openid", &[], json!({}));
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).expect("value"),
    );
    let decision = authorizer
        .authorize(&Method::GET, "/who", &headers)
        .now_or_never()
        .expect("ready");
    assert!(decision.is_allowed(), "{:?}", decision.denial());
    // Without the replacement, the missing key file is reported at load time.
    let missing = Authorizer::builder()
        .policy_text(text, "/nonexistent-folder")
        .build()
        .expect_err("the file's key file is missing");
    assert!(
        missing.message().contains("cannot read jwks_file"),
        "{missing}"
    );
}

#[test]
fn the_example_policy_file_loads_and_decides() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policy.toml");
    // As shipped (its own static key file) it loads:
    let shipped = Authorizer::builder()
        .policy_file(&path)
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(shipped.routes().routes().len(), 4);
    // With the test key in place of examples/jwks.json, decisions follow the routes:
    let authorizer = Authorizer::builder()
        .jwks_file(issuer().jwks_path())
        .clock(FixedClock(Duration::from_secs(NOW)))
        .policy_file(&path)
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    let keys = issuer();
    let user = keys.access_token("openid", &[], json!({}));
    let admin = keys.access_token("openid", &["admin"], json!({}));
    let reader = keys.access_token("reports/read", &[], json!({}));
    // (method, path, token, expected code or "allow")
    let cases = [
        ("GET", "/health", None, "allow"),
        ("GET", "/me", None, "missing_token"),
        ("GET", "/me", Some(&user), "allow"),
        ("GET", "/admin/users", Some(&user), "forbidden"),
        ("GET", "/admin/users", Some(&admin), "allow"),
        ("GET", "/admin", Some(&admin), "allow"),
        ("GET", "/reports/1", Some(&user), "insufficient_scope"),
        ("GET", "/reports/1", Some(&reader), "allow"),
        // No DELETE route: the default denies.
        ("DELETE", "/reports/1", Some(&reader), "forbidden"),
    ];
    for (method, path, token, expected) in cases {
        let mut headers = HeaderMap::new();
        if let Some(token) = token {
            headers.insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {token}")).expect("value"),
            );
        }
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let decision = authorizer
            .authorize(&method, path, &headers)
            .now_or_never()
            .expect("ready");
        let got = decision.denial().map_or("allow", Denial::code);
        assert_eq!(got, expected, "{method} {path}");
    }
}

#[test]
fn key_files_are_read_once_per_build_and_per_reload() {
    let reads = || crate::jwks::FILE_READS.with(std::cell::Cell::get);
    let folder = std::env::temp_dir().join(format!(
        "cognito-authz-core-read-once-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&folder).expect("folder");
    let keys = folder.join("keys.json");
    std::fs::write(&keys, issuer().jwks_json()).expect("write keys");
    let own = folder.join("own.toml");
    std::fs::write(&own, format!("[[issuer]]\nuser_pool_id = \"{}\"\nclient_ids = [\"{}\"]\ntoken_use = \"any\"\njwks_file = \"keys.json\"\n\n[[route]]\npath = \"/who\"\nrequire = \"authenticated\"\n", crate::test_tokens::POOL_ID, crate::test_tokens::CLIENT_ID)).expect("write policy");
    let two = folder.join("two.toml");
    std::fs::write(&two, format!("[[issuer]]\nuser_pool_id = \"{}\"\nclient_ids = [\"{}\"]\ntoken_use = \"any\"\njwks_file = \"missing.json\"\n\n[[issuer]]\nuser_pool_id = \"us-east-1_Other1\"\nany_client = true\ntoken_use = \"id\"\n\n[[route]]\npath = \"/who\"\nrequire = \"authenticated\"\n", crate::test_tokens::POOL_ID, crate::test_tokens::CLIENT_ID)).expect("write policy");
    let token = issuer().access_token("openid", &[], json!({}));
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).expect("value"),
    );
    let allowed = |authorizer: &Authorizer| {
        authorizer
            .authorize(&Method::GET, "/who", &headers)
            .now_or_never()
            .expect("ready")
            .is_allowed()
    };

    // The issuer's own key file: read once to build, once per reload.
    let before = reads();
    let authorizer = Authorizer::builder()
        .clock(FixedClock(Duration::from_secs(NOW)))
        .policy_file(&own)
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(reads() - before, 1);
    assert!(allowed(&authorizer));
    authorizer.reload_from_file(&own).expect("reloads");
    assert_eq!(reads() - before, 2);
    assert!(allowed(&authorizer));

    // An override file for two issuers: read once in all, not once per issuer nor again
    // for the verifier.
    let before = reads();
    let authorizer = Authorizer::builder()
        .jwks_file(&keys)
        .clock(FixedClock(Duration::from_secs(NOW)))
        .policy_file(&two)
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(reads() - before, 1);
    assert!(allowed(&authorizer));
    authorizer.reload_from_file(&two).expect("reloads");
    assert_eq!(reads() - before, 2);

    // The verifier serves the set that was read, even if the file changes afterwards.
    let file = PolicyFile::load(&own).expect("loads");
    let before = reads();
    let issuers = file.load_key_files(None).expect("key files read");
    std::fs::write(&keys, r#"{"keys": []}"#).expect("replace keys");
    let verifier = Verifier::builder()
        .issuers(issuers)
        .clock(FixedClock(Duration::from_secs(NOW)))
        .build()
        .expect("verifier");
    assert_eq!(reads() - before, 1);
    assert!(
        verifier
            .verify(&token)
            .now_or_never()
            .expect("ready")
            .is_ok(),
        "the set read before the file was replaced"
    );
    // A second verifier from the same configurations reads the file afresh.
    let again = Verifier::builder()
        .issuers(file.load_key_files(None).expect("key files read"))
        .clock(FixedClock(Duration::from_secs(NOW)))
        .build()
        .expect("verifier");
    assert_eq!(
        again
            .verify(&token)
            .now_or_never()
            .expect("ready")
            .map(|_| ())
            .map_err(|error| error.code()),
        Err("unknown_kid")
    );
    let _ = std::fs::remove_dir_all(&folder);
}

/// A denial keeps its parts in one box, yet reads in logs and test output as the flat record
/// it is, and a `Decision` stays two words.
#[test]
fn a_denial_reads_as_its_parts_and_a_decision_is_two_words() {
    let denial = Denial::new(ErrorKind::Forbidden, "the route denies every request")
        .on_route(Some(Arc::from("/admin/{*rest}")));
    assert_eq!(
        format!("{denial:?}"),
        r#"Denial { kind: Forbidden, route: Some("/admin/{*rest}"), policy: "", reason: "the route denies every request", scopes: [], realm: None }"#
    );
    assert_eq!(
        std::mem::size_of::<Decision>(),
        2 * std::mem::size_of::<usize>()
    );
}
