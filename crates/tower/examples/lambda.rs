//! A Lambda function behind API Gateway, an ALB or a function URL, protected by a policy file.
//!
//! ```sh
//! COGNITO_AUTHZ_POLICY=policy.toml cargo lambda watch -p cognito-authz-tower --example lambda --features lambda-http
//! cargo lambda invoke --data-file event.json
//! ```
//!
//! The handler answers with the route it ran and who called: its small router dispatches on the
//! same path the policy is matched on ([`lambda_policy_path`]: the path without the API Gateway
//! stage), so the policy guards exactly the route that runs.

use std::sync::Arc;

use cognito_authz_tower::{Authorizer, AuthzLayer, VerifiedToken, lambda_policy_path};
use lambda_http::{Body, Error, Request, Response, service_fn, tower::ServiceBuilder};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let policy = std::env::var("COGNITO_AUTHZ_POLICY")
        .map_err(|_| "set COGNITO_AUTHZ_POLICY to the policy file")?;
    // A bad policy fails here, at start-up, never in a request.
    let layer = AuthzLayer::new(Authorizer::builder().policy_file(policy).build()?);
    lambda_http::run(
        ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(handler)),
    )
    .await
}

async fn handler(request: Request) -> Result<Response<Body>, Error> {
    let path = lambda_policy_path(&request);
    let route = if path == "/health" {
        "/health"
    } else if path.starts_with("/admin/") && path.len() > "/admin/".len() {
        "/admin/{*rest}"
    } else {
        "fallback"
    };
    let user = request
        .extensions()
        .get::<Arc<VerifiedToken>>()
        .and_then(|token| token.username())
        .unwrap_or("anonymous");
    let body = Body::from(format!("route {route} for {user}"));
    // The path lambda_http built (stage included or not), to see what the layer stripped.
    Ok(Response::builder()
        .header("x-request-path", request.uri().path())
        .body(body)?)
}
