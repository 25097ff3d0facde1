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
    shared::exit_code("actix_quickstart", run().await)
}

async fn run() -> Result<(), shared::BoxError> {
    let (setup, listener) = shared::start("actix-web").await?;
    // `setup` lives until the server stops: its local issuer serves the key set.
    let authorizer = setup.authorizer.clone();
    HttpServer::new(move || shared::actix_app::app(authorizer.clone()))
        .listen(listener)?
        .run()
        .await?;
    Ok(())
}
