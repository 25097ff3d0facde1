//! Prometheus text for the metrics example and its test: the recorder, installed once per
//! process, and a router answering `GET /metrics`.
//!
//! Included with `#[path]` by `examples/metrics_prometheus.rs` and `tests/metrics.rs` only (the
//! other includers of `shared` do not enable the `metrics` feature).

#![allow(dead_code, unreachable_pub)]

use axum::Router;
use axum::http::header;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Installs the Prometheus recorder for the whole process; call it before building the
/// authorizer's first decision.
///
/// # Errors
/// A recorder is already installed.
pub fn install() -> Result<PrometheusHandle, Box<dyn std::error::Error + Send + Sync>> {
    Ok(PrometheusBuilder::new().install_recorder()?)
}

/// `GET /metrics` in the Prometheus text format. Serve it on its own (internal) port: the
/// policy file's routes guard the application, not the operators' endpoint.
pub fn router(handle: PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    handle.render(),
                )
            }
        }),
    )
}
