//! The quickstart app with its numbers in Prometheus text on a second, internal port.
//!
//! ```text
//! cargo run --example metrics_prometheus --features metrics
//! ```
//!
//! The app (port `PORT`, default 3000) is the quickstart's: `examples/policy.toml` with a
//! local issuer, or a real pool from `COGNITO_USER_POOL_ID` and `COGNITO_CLIENT_ID`. Its
//! decisions, verified-token cache, key fetches and reloads are counted through the `metrics`
//! facade, and `http://127.0.0.1:METRICS_PORT/metrics` (default 9000) renders them for
//! Prometheus. Send the printed `curl` lines, then `curl http://127.0.0.1:9000/metrics`.

mod shared;

#[path = "shared/prometheus.rs"]
mod prometheus;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    shared::exit_code("metrics_prometheus", run().await)
}

async fn run() -> Result<(), shared::BoxError> {
    // The recorder comes first: the authorizer registers its counters on first use.
    let handle = prometheus::install()?;
    let (setup, listener) = shared::start("axum").await?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let metrics_port = match std::env::var("METRICS_PORT") {
        Ok(port) => port
            .parse()
            .map_err(|_| format!("METRICS_PORT {port:?} is not a port number"))?,
        Err(_) => 9000,
    };
    let metrics_listener = tokio::net::TcpListener::from_std(shared::bind(metrics_port)?)?;
    let metrics_url = shared::base_url(metrics_listener.local_addr()?);
    println!("Prometheus text: curl {metrics_url}/metrics");
    let metrics =
        tokio::spawn(
            async move { axum::serve(metrics_listener, prometheus::router(handle)).await },
        );
    // `setup` lives until the server stops: its local issuer serves the key set.
    axum::serve(listener, shared::axum_app::router(setup.authorizer.clone())).await?;
    metrics.abort();
    Ok(())
}
