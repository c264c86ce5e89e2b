//! `/metrics`, `/healthz`, `/readyz`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::shared::{Readiness, Shared};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(shared)
}

/// Renders the latest published snapshot: no lock on the engine, whatever ingestion is doing.
async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let snapshot = Arc::clone(&shared.snapshot.borrow());
    let body = salespulse_exporter::encode_text(&snapshot, shared.service_families());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(shared): State<Arc<Shared>>) -> (StatusCode, &'static str) {
    match shared.readiness() {
        Readiness::Ready => (StatusCode::OK, "ready\n"),
        Readiness::CatchingUp => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: catching up with the partitions\n",
        ),
        Readiness::Unassigned => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no partition assigned yet\n",
        ),
    }
}
