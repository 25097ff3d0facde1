//! The quickstart on actix-web: the same app, routes and policy file (`examples/policy.toml`)
//! as the axum `quickstart.rs`.
//!
//! ```text
//! cargo run --example actix_quickstart
//! ```
//!
//! Without AWS settings it starts a local Cognito-shaped issuer on 127.0.0.1 (keys served
//! over HTTP, tokens on the system clock) in place of the file's pool, and prints `curl`
//! lines with freshly minted tokens for an admin, a plain user and a machine client, each with
//! the status it gets. With `COGNITO_USER_POOL_ID` and `COGNITO_CLIENT_ID` set (and
//! optionally `COGNITO_TOKEN_USE` = `access`, `id` or `any`), the same routes are protected
//! by that real pool. `PORT` picks the port (default 3000; an ephemeral one if taken).

mod shared;

use actix_web::HttpServer;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    // A failed start-up is reported as a sentence, not as `main`'s `Debug` of the error.
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("actix_quickstart: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), shared::BoxError> {
    let setup = shared::setup_from_env().await?;
    let listener = shared::bind(shared::port_from_env()?)?;
    let base_url = shared::base_url(listener.local_addr()?);
    let checks = setup
        .local
        .as_ref()
        .map(|issuer| shared::checks(&shared::mint_tokens(issuer)))
        .unwrap_or_default();
    println!(
        "{}",
        shared::banner("actix-web", &base_url, &setup, &checks)
    );
    // `setup` lives until the server stops: its local issuer serves the key set.
    let authorizer = setup.authorizer.clone();
    HttpServer::new(move || shared::actix_app::app(authorizer.clone()))
        .listen(listener)?
        .run()
        .await?;
    Ok(())
}
