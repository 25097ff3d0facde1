//! An API Gateway Lambda authorizer deciding with a cognito-authz policy file.
//!
//! The policy file is `policy.toml` in the function's working directory, or the path in
//! `COGNITO_AUTHZ_POLICY`. Deploy with cargo-lambda:
//!
//! ```text
//! cargo lambda build --release --example lambda_authorizer
//! cargo lambda deploy --binary-name lambda_authorizer --include policy.toml
//! ```
//!
//! and attach the function to the API as a TOKEN, REQUEST (REST) or payload 2.0 (HTTP API)
//! authorizer. Try it locally with `cargo lambda watch --example lambda_authorizer` and
//! `cargo lambda invoke lambda_authorizer --data-file event.json`.

use cognito_authz_core::Authorizer;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let path = std::env::var("COGNITO_AUTHZ_POLICY").unwrap_or_else(|_| "policy.toml".to_owned());
    // A bad policy file stops the function at start-up (an init error), never in a request.
    let authorizer = Authorizer::builder().policy_file(&path).build()?;
    cognito_authz_lambda::run(authorizer).await
}
