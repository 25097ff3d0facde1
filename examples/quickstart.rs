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
    // A failed start-up is reported as a sentence, not as `main`'s `Debug` of the error.
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("quickstart: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), shared::BoxError> {
    let setup = shared::setup_from_env().await?;
    let listener = tokio::net::TcpListener::from_std(shared::bind(shared::port_from_env()?)?)?;
    let base_url = shared::base_url(listener.local_addr()?);
    let checks = setup
        .local
        .as_ref()
        .map(|issuer| shared::checks(&shared::mint_tokens(issuer)))
        .unwrap_or_default();
    println!("{}", shared::banner("axum", &base_url, &setup, &checks));
    // `setup` lives until the server stops: its local issuer serves the key set.
    axum::serve(listener, shared::axum_app::router(setup.authorizer.clone())).await?;
    Ok(())
}
