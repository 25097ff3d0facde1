//! Attacks on the stage stripping behind lambda_http with `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH`
//! set (each test runs itself again in a child process that has it): lambda_http then leaves
//! the stage out of every API Gateway path it builds, REST and HTTP API alike
//! (`apigw_path_with_stage` returns the path as it came). The README's advice for a REST API
//! is to set the variable and route on the path as it is, so the router here is the app with
//! the layer around it, not nested. Same rule as `lambda_stage_attacks.rs`: a handler ran ⇒
//! the caller satisfies the policy of that handler's route.

mod lambda_attack_common;

use lambda_attack_common::{Caller, Fixture, Kind, assert_attack_holds, event, send};

const IGNORE_STAGE: &str = "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH";

/// Runs `name` again in a child with the variable set; `true` when this is the child.
fn in_child_with_the_variable(name: &str) -> bool {
    cognito_authz_test_support::in_child_with(name, IGNORE_STAGE)
}

/// REST API with the variable, the app routed on the path as it is (the README's advice):
/// lambda_http leaves the stage out and the layer does not strip a REST path then.
#[tokio::test]
async fn rest_api_with_the_variable_and_a_flat_router() {
    if !in_child_with_the_variable("rest_api_with_the_variable_and_a_flat_router") {
        return;
    }
    let fixture = Fixture::new();
    let router = lambda_attack_common::app().layer(fixture.layer.clone());
    for (path, caller, status, route) in [
        ("/admin/x", Caller::Admin, 200, Some("admin")),
        ("/admin/x", Caller::User, 403, None),
        ("/health", Caller::Anonymous, 200, Some("health")),
    ] {
        let authorization = fixture.authorization(caller);
        let outcome = send(
            &router,
            &event(Kind::Rest, "GET", path, authorization.as_deref()),
        )
        .await
        .expect("event");
        assert_eq!(
            (outcome.status, outcome.route.as_deref()),
            (status, route),
            "{outcome:?}"
        );
    }
    assert_attack_holds(&fixture, "flat", &router, &[Kind::Rest]).await;
}

/// An HTTP API on stage `prod` with the variable: `rawPath` carries the stage (API Gateway
/// puts it there on the execute-api domain and, by reports, through custom domains too), the
/// variable changes nothing for it, and the README's advice is to nest the router under
/// `/prod`. (Routed flat instead, a client's `/prod/edit` reaches `/{page}/edit` while the
/// policy decides `/edit`; that needs a `rawPath` without the stage, which AWS is not known
/// to send, so it is not asserted here.)
#[tokio::test]
async fn http_api_with_the_variable_and_a_router_nested_under_the_stage() {
    if !in_child_with_the_variable("http_api_with_the_variable_and_a_router_nested_under_the_stage")
    {
        return;
    }
    let fixture = Fixture::new();
    let router = axum::Router::new()
        .nest("/prod", lambda_attack_common::app())
        .layer(fixture.layer.clone());
    let authorization = fixture.authorization(Caller::User);
    let outcome = send(
        &router,
        &event(Kind::Http, "GET", "/prod/users/7", authorization.as_deref()),
    )
    .await
    .expect("event");
    assert_eq!(
        (outcome.status, outcome.route.as_deref()),
        (200, Some("user")),
        "{outcome:?}"
    );
    assert_attack_holds(&fixture, "nest_http", &router, &[Kind::Http]).await;
}
