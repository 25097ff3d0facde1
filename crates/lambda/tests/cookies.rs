//! Cookie tokens and the cross-site check in the Lambda authorizer: a state-changing request
//! with a cookie token passes only from an allowed page, in the answer to the request itself
//! and in every later request API Gateway answers from its authorizer cache.

use cognito_authz_core::{AcceptedTokenUse, Authorizer, Decision, Policy, TokenSource};
use cognito_authz_lambda::LambdaAuthorizer;
use cognito_authz_testkit::LocalIssuer;
use http::{HeaderMap, HeaderValue, Method};
use serde_json::{Value, json};

mod iam;
mod pool;
use iam::iam_allows;
use pool::{ARN_PREFIX, fixture, issuer, runtime};

const APP: &str = "https://app.example.com";
const EVIL: &str = "https://evil.example";

/// The token in the `id_token` cookie, the app's own origin allowed; `/orders` needs a
/// signed-in caller on every method, `/feedback` is public.
fn cookie_authorizer(issuer: &LocalIssuer) -> Authorizer {
    let verifier = issuer
        .verifier_builder(AcceptedTokenUse::Any)
        .build()
        .expect("verifier");
    Authorizer::builder()
        .verifier(verifier)
        .token_source(
            TokenSource::builder()
                .cookie("id_token")
                .allowed_origins([APP])
                .build()
                .expect("token source"),
        )
        .route("/orders", Policy::authenticated())
        .route("/feedback", Policy::public())
        .build()
        .expect("authorizer")
}

fn arn(method: &str, path: &str) -> String {
    format!("{ARN_PREFIX}{method}{path}")
}

/// A REST `REQUEST` event for `method path` with the token in the `Cookie` header, sent from a
/// page of `origin` (`Sec-Fetch-Site: cross-site` unless the origin is the app's).
fn rest_event(token: &str, method: &str, path: &str, origin: &str) -> Value {
    let mut event = fixture("example-apigw-custom-auth-request-type-request.json");
    event["methodArn"] = json!(arn(method, path));
    event["path"] = json!(path);
    event["httpMethod"] = json!(method);
    event["requestContext"]["httpMethod"] = json!(method);
    let site = if origin == APP {
        "same-origin"
    } else {
        "cross-site"
    };
    for (name, value) in [
        ("Cookie", format!("id_token={token}")),
        ("Origin", origin.to_owned()),
        ("Sec-Fetch-Site", site.to_owned()),
    ] {
        event["headers"][name] = json!(value);
        event["multiValueHeaders"][name] = json!([value]);
    }
    event
}

/// An HTTP API payload 2.0 event for `method /orders` with the token among the cookies.
fn v2_event(token: &str, method: &str, origin: &str) -> Value {
    let mut event = fixture("example-apigw-v2-custom-authorizer-v2-request.json");
    event["rawPath"] = json!("/orders");
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!("/orders");
    event["cookies"] = json!(["theme=dark", format!("id_token={token}")]);
    if let Some(headers) = event["headers"].as_object_mut() {
        headers.remove("authorization");
        headers.remove("cookie");
    }
    let site = if origin == APP {
        "same-origin"
    } else {
        "cross-site"
    };
    event["headers"]["origin"] = json!(origin);
    event["headers"]["sec-fetch-site"] = json!(site);
    event
}

/// With the cache declared off, each request is decided on its own: the app's page may `POST`,
/// another site's `POST` with the same cookie is refused (in-process: 403 `cross_site_request`),
/// and the policy returned for it denies that very request, whatever the route table grants the
/// principal.
#[test]
fn with_the_cache_off_a_cross_site_post_is_denied_by_its_own_policy() {
    let issuer = issuer();
    let runtime = runtime();
    let token = issuer.access_token().sign();
    let authorizer = cookie_authorizer(&issuer);

    let mut headers = HeaderMap::new();
    headers.insert(
        "cookie",
        HeaderValue::from_str(&format!("id_token={token}")).expect("cookie"),
    );
    headers.insert("origin", HeaderValue::from_static(EVIL));
    headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
    let decision = runtime.block_on(authorizer.authorize(&Method::POST, "/orders", &headers));
    let Decision::Deny(denial) = decision else {
        panic!("in-process: a cross-site POST with a cookie token must be refused")
    };
    assert_eq!(
        (denial.code(), denial.status().as_u16()),
        ("cross_site_request", 403)
    );

    let lambda = LambdaAuthorizer::new(authorizer).cache_disabled();
    let post = arn("POST", "/orders");
    let answer = runtime
        .block_on(lambda.handle(rest_event(&token, "POST", "/orders", APP)))
        .expect("a policy for the app's own page");
    assert!(iam_allows(&answer, &post), "{answer:#}");
    let answer = runtime
        .block_on(lambda.handle(rest_event(&token, "POST", "/orders", EVIL)))
        .expect("a Deny policy, not an error");
    assert!(!iam_allows(&answer, &post), "{answer:#}");
    assert_eq!(answer["principalId"], json!(issuer_sub(&answer)));
}

fn issuer_sub(answer: &Value) -> String {
    answer["context"]["sub"]
        .as_str()
        .expect("the principal's sub in the context")
        .to_owned()
}

/// With the cache on (the default), API Gateway answers later requests with the same cookie
/// from the cached policy, whatever page sends them: so a cookie token is granted the
/// state-changing methods only where no token is needed, even for a request from the app's
/// own page. Reading methods keep the principal's grants.
#[test]
fn with_the_cache_on_a_cookie_token_gets_state_changing_methods_only_where_no_token_is_needed() {
    let issuer = issuer();
    let runtime = runtime();
    let token = issuer.access_token().sign();
    let lambda = LambdaAuthorizer::new(cookie_authorizer(&issuer));

    for (method, path, origin) in [
        ("POST", "/orders", APP),
        ("POST", "/orders", EVIL),
        ("GET", "/orders", APP),
        ("POST", "/feedback", APP),
    ] {
        let cached = runtime
            .block_on(lambda.handle(rest_event(&token, method, path, origin)))
            .unwrap_or_else(|error| panic!("{method} {path} from {origin}: {error:?}"));
        let says = |method: &str, path: &str| iam_allows(&cached, &arn(method, path));
        let which = format!("the policy returned for {method} {path} from {origin}: {cached:#}");
        for changing in ["POST", "PUT", "PATCH", "DELETE"] {
            assert!(!says(changing, "/orders"), "{changing} /orders, {which}");
            assert!(says(changing, "/feedback"), "{changing} /feedback, {which}");
        }
        for reading in ["GET", "HEAD", "OPTIONS"] {
            assert!(says(reading, "/orders"), "{reading} /orders, {which}");
        }
    }
}

/// HTTP API simple responses answer the request itself: with the cache off, the app's page may
/// `POST` and another site may not; with the cache on, a cookie token's `POST` to a route that
/// needs a token is refused from any page, while its `GET` passes.
#[test]
fn http_api_simple_responses_follow_the_same_rules() {
    let issuer = issuer();
    let runtime = runtime();
    let token = issuer.access_token().sign();
    let answer = |lambda: &LambdaAuthorizer, method: &str, origin: &str| {
        let answer = runtime
            .block_on(lambda.handle(v2_event(&token, method, origin)))
            .expect("an answer");
        answer["isAuthorized"].as_bool().expect("isAuthorized")
    };
    let uncached = LambdaAuthorizer::new(cookie_authorizer(&issuer)).cache_disabled();
    assert!(answer(&uncached, "POST", APP));
    assert!(!answer(&uncached, "POST", EVIL));
    let cached = LambdaAuthorizer::new(cookie_authorizer(&issuer));
    assert!(!answer(&cached, "POST", APP));
    assert!(!answer(&cached, "POST", EVIL));
    assert!(answer(&cached, "GET", EVIL));
}

/// Another site's `POST` to a public route, carrying the cookie: the layer serves it as to a
/// caller without a token. With the cache on, API Gateway reuses the answer for the cookie's
/// later requests from the app's own page, so the answer is the one any page would get: the
/// principal's policy (state-changing methods only where no token is needed), not the
/// anonymous one that would refuse the user's own `GET`s until the TTL ends.
#[test]
fn with_the_cache_on_a_cross_site_post_to_a_public_route_answers_as_from_any_page() {
    let issuer = issuer();
    let runtime = runtime();
    let token = issuer.access_token().sign();
    let lambda = LambdaAuthorizer::new(cookie_authorizer(&issuer));
    let forged = runtime
        .block_on(lambda.handle(rest_event(&token, "POST", "/feedback", EVIL)))
        .expect("a policy");
    let own = runtime
        .block_on(lambda.handle(rest_event(&token, "POST", "/feedback", APP)))
        .expect("a policy");
    assert_eq!(forged["policyDocument"], own["policyDocument"]);
    assert_eq!(forged["principalId"], own["principalId"]);
    let says = |method: &str, path: &str| iam_allows(&forged, &arn(method, path));
    assert!(says("POST", "/feedback"), "{forged:#}");
    assert!(says("GET", "/orders"), "the user's own GETs: {forged:#}");
    assert!(!says("POST", "/orders"), "{forged:#}");
    assert_eq!(forged["principalId"], json!(issuer_sub(&forged)));

    // With the cache off, nothing is reused: the request is answered as the layer answers
    // it, for no principal.
    let uncached = LambdaAuthorizer::new(cookie_authorizer(&issuer)).cache_disabled();
    let answer = runtime
        .block_on(uncached.handle(rest_event(&token, "POST", "/feedback", EVIL)))
        .expect("a policy");
    assert!(iam_allows(&answer, &arn("POST", "/feedback")), "{answer:#}");
    assert_eq!(answer["principalId"], "anonymous");
    assert!(answer["context"].get("sub").is_none(), "{answer:#}");
}
