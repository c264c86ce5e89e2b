//! `/metrics`, `/healthz`, `/readyz`, served from whatever publishes snapshots (the Kafka
//! pipeline, the demo): the handlers only read, so a scrape never blocks ingestion.
//!
//! [`serve`] runs them with bounded connections and timeouts, and with the TLS, basic auth and
//! headers of a Prometheus web config file ([`WebConfig`]).

mod auth;
mod server;
mod web_config;

pub use server::{Limits, serve};
pub use web_config::{WebConfig, WebConfigError};

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use prometheus::proto::MetricFamily;
use salespulse_engine::Snapshot;

use crate::{ScrapeCache, Selection};

/// What the endpoints serve.
pub trait Exposed: Send + Sync + 'static {
    /// The latest published snapshot.
    fn snapshot(&self) -> Arc<Snapshot>;
    /// Which series of the snapshot `/metrics` carries (`[export]`).
    fn selection(&self) -> &Selection;
    /// The pipeline's own families, appended to the snapshot's.
    fn service_families(&self) -> Vec<MetricFamily>;
    /// `None` when ready; otherwise why not, for the `/readyz` body.
    fn not_ready(&self) -> Option<String>;
}

const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A source and the exposition of the last snapshot scraped from it.
struct Served {
    source: Arc<dyn Exposed>,
    scrapes: ScrapeCache,
}

/// The routes, over any [`Exposed`] source.
pub fn router(source: Arc<dyn Exposed>) -> Router {
    let served = Arc::new(Served {
        source,
        scrapes: ScrapeCache::default(),
    });
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(served)
}

/// Renders the latest published snapshot, or reuses its text when it was scraped before: no
/// lock on the engine, whatever ingestion is doing. Rendering (and compressing) a large
/// exposition takes milliseconds of CPU, so it runs on the blocking pool rather than on an async
/// worker.
async fn metrics(State(served): State<Arc<Served>>, headers: HeaderMap) -> Response {
    let gzip = accepts_gzip(&headers);
    let rendered = tokio::task::spawn_blocking(move || {
        let source = &served.source;
        served.scrapes.body(
            &source.snapshot(),
            source.selection(),
            &source.service_families(),
            gzip,
        )
    })
    .await;
    let body = match rendered {
        Ok(Ok(body)) => body,
        Ok(Err(error)) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")).into_response();
        }
        Err(error) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")).into_response();
        }
    };
    let mut response = (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(TEXT_FORMAT)),
            (header::VARY, HeaderValue::from_static("accept-encoding")),
        ],
        body,
    )
        .into_response();
    if gzip {
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// Whether the client accepts gzip (`Accept-Encoding`, RFC 9110 §12.5.3): an explicit `gzip`
/// entry decides by its quality; without one, `*` does. Prometheus always sends `gzip`.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut gzip = None;
    let mut any = None;
    for item in headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
    {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let accepted = !parts.any(|param| {
            param
                .trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        if coding.eq_ignore_ascii_case("gzip") {
            gzip = Some(accepted);
        } else if coding == "*" {
            any = Some(accepted);
        }
    }
    gzip.or(any).unwrap_or(false)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(served): State<Arc<Served>>) -> (StatusCode, String) {
    match served.source.not_ready() {
        None => (StatusCode::OK, "ready\n".to_owned()),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(values: &[&str]) -> bool {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                header::ACCEPT_ENCODING,
                HeaderValue::from_str(value).expect("valid header"),
            );
        }
        accepts_gzip(&headers)
    }

    #[test]
    fn gzip_is_negotiated_from_accept_encoding() {
        assert!(accepts(&["gzip"]));
        assert!(accepts(&["deflate, GZIP;q=0.5"]));
        assert!(accepts(&["identity", "gzip"]));
        assert!(accepts(&["*"]));
        assert!(!accepts(&[]));
        assert!(!accepts(&["identity"]));
        assert!(!accepts(&["gzip;q=0"]));
        assert!(!accepts(&["gzip; q=0.0, br"]));
        assert!(!accepts(&["x-gzip-like"]));
        assert!(
            !accepts(&["gzip;q=0, *"]),
            "an explicit refusal beats the wildcard"
        );
        assert!(!accepts(&["*;q=0"]));
    }
}
