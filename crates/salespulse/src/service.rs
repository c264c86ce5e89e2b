//! `salespulse run`: wires the Kafka pipeline to the HTTP endpoints, with logging, signal
//! handling and an orderly shutdown on one cancellation token.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use prometheus::proto::MetricFamily;
use salespulse_config::{Config, MASK, is_secret_property, mask_secrets};
use salespulse_engine::Snapshot;
use salespulse_events::Timestamp;
use salespulse_exporter::Selection;
use salespulse_exporter::http::{self, Exposed, Limits, WebConfig};
use salespulse_kafka::{CheckpointSettings, Pipeline, PipelineConfig, Status};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How log lines are written.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Structured logs on stderr; `RUST_LOG` filters (default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Everything `run` needs: the pipeline's settings and what the HTTP side serves.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub pipeline: PipelineConfig,
    pub listen: SocketAddr,
    /// `[http] web_config_file`: TLS, basic auth and headers; `None` serves plain HTTP.
    pub web_config_file: Option<PathBuf>,
    /// `[export]`: which series `/metrics` carries.
    pub export: Selection,
}

/// The service settings from the configuration file.
pub fn service_config(config: &Config, as_of: Option<Timestamp>) -> ServiceConfig {
    ServiceConfig {
        pipeline: pipeline_config(config, as_of),
        listen: config.http.listen,
        web_config_file: config.http.web_config_file.clone(),
        export: config.export.clone(),
    }
}

fn pipeline_config(config: &Config, as_of: Option<Timestamp>) -> PipelineConfig {
    PipelineConfig {
        kafka: config.kafka.clone(),
        as_of,
        settings: config.engine_settings(),
        checkpoints: Some(CheckpointSettings {
            dir: config.state.dir.clone(),
            url: config.state.url.clone(),
            interval: config
                .state
                .checkpoint_interval
                .to_std()
                .unwrap_or(std::time::Duration::from_secs(60)),
            every_messages: config.state.checkpoint_every_events,
            keep: usize::try_from(config.state.checkpoints_kept).unwrap_or(usize::MAX),
        }),
    }
}

/// Logs the pass-through properties with secrets masked: a secret's own value, and any secret
/// repeated in another value (a password pasted into an OAuth extension, say).
pub fn log_properties(config: &PipelineConfig) {
    let properties = &config.kafka.properties;
    for (key, value) in properties {
        let shown = if is_secret_property(key) {
            MASK.to_owned()
        } else {
            mask_secrets(value, properties)
        };
        info!(property = %key, value = %shown, "kafka property");
    }
}

/// A token cancelled by the first SIGINT or SIGTERM.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        info!("signal received: stopping");
        cancel.cancel();
    });
    token
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

/// What the HTTP endpoints serve: the pipeline's status, through the `[export]` selection.
struct Served {
    status: Arc<Status>,
    export: Selection,
}

impl Exposed for Served {
    fn snapshot(&self) -> Arc<Snapshot> {
        self.status.snapshot()
    }

    fn selection(&self) -> &Selection {
        &self.export
    }

    fn service_families(&self) -> Vec<MetricFamily> {
        self.status.service_families()
    }

    fn not_ready(&self) -> Option<String> {
        self.status.not_ready_reason()
    }
}

/// Serves the pipeline's status over HTTP and runs the pipeline on a blocking thread until
/// `shutdown` is cancelled (or the pipeline fails, which cancels it for the HTTP server).
pub async fn serve(
    pipeline: Pipeline,
    config: &ServiceConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let web = match &config.web_config_file {
        Some(path) => WebConfig::load(path)?,
        None => WebConfig::default(),
    };
    let limits = http_limits()?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    info!(
        address = %listener.local_addr()?,
        tls = web.tls(),
        basic_auth = web.basic_auth(),
        max_connections = limits.max_connections,
        "serving /metrics, /healthz, /readyz"
    );
    let served = Arc::new(Served {
        status: pipeline.status(),
        export: config.export.clone(),
    });
    let server = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            http::serve(listener, http::router(served), &web, limits, shutdown).await;
        })
    };

    let ingest = {
        let (shutdown, runtime) = (shutdown.clone(), tokio::runtime::Handle::current());
        tokio::task::spawn_blocking(move || pipeline.run(&shutdown, runtime))
    };
    let result = ingest.await.context("the ingestion thread panicked")?;
    if let Err(error) = &result {
        warn!(error = %format!("{error:#}"), "ingestion stopped");
    }
    shutdown.cancel();
    server.await.context("the HTTP server panicked")?;
    info!("stopped");
    result
}

/// Overrides the header read timeout (milliseconds), so tests need not wait the default 10 s
/// for the server to drop a client that stalls; not a setting for production.
const HEADER_TIMEOUT_VARIABLE: &str = "SALESPULSE_HTTP_HEADER_TIMEOUT_MS";

/// The HTTP server's fixed limits, with the timeout of [`HEADER_TIMEOUT_VARIABLE`] if set.
fn http_limits() -> anyhow::Result<Limits> {
    let mut limits = Limits::default();
    if let Ok(millis) = std::env::var(HEADER_TIMEOUT_VARIABLE) {
        let millis: u64 = millis
            .parse()
            .ok()
            .filter(|&millis| millis > 0)
            .with_context(|| {
                format!(
                    "{HEADER_TIMEOUT_VARIABLE}: `{millis}` is not a positive number of milliseconds"
                )
            })?;
        limits.header_read_timeout = Duration::from_millis(millis);
    }
    Ok(limits)
}

/// Runs the service until a signal arrives.
pub fn run(config: ServiceConfig) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        log_properties(&config.pipeline);
        let shutdown = shutdown_on_signal();
        let pipeline = Pipeline::new(config.pipeline.clone())?;
        serve(pipeline, &config, shutdown).await
    })
}
