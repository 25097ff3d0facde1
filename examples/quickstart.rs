//! The quickstart: an axum app whose routes are protected by `examples/policy.toml`.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! Without AWS settings it starts a local Cognito-shaped issuer on 127.0.0.1 (keys served
//! over HTTP, tokens on the system clock) in place of the file's pool, and prints `curl`
//! lines with freshly minted tokens for an admin, a plain user and a machine client, each with
//! the status it gets. With `COGNITO_USER_POOL_ID` and `COGNITO_CLIENT_ID` set (and
//! optionally `COGNITO_TOKEN_USE` = `access`, `id` or `any`), the same routes are protected
//! by that real pool. `PORT` picks the port (default 3000; an ephemeral one if taken).

mod shared;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    shared::exit_code("quickstart", run().await)
}

async fn run() -> Result<(), shared::BoxError> {
    let (setup, listener) = shared::start("axum").await?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    // `setup` lives until the server stops: its local issuer serves the key set.
    axum::serve(listener, shared::axum_app::router(setup.authorizer.clone())).await?;
    Ok(())
}
