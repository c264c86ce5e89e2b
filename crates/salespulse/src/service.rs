//! `salespulse run`: the Kafka service, with logging and signal handling.

use salespulse_config::{Config, is_secret_property};
use salespulse_events::Timestamp;
use salespulse_kafka::{CheckpointSettings, Service, ServiceConfig};
use tokio_util::sync::CancellationToken;
use tracing::info;

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

/// The service settings from the configuration file.
pub fn service_config(config: &Config, as_of: Option<Timestamp>) -> ServiceConfig {
    ServiceConfig {
        brokers: config.kafka.brokers.clone(),
        group_id: config.kafka.group_id.clone(),
        topics: config.kafka.topics.clone(),
        deadletter_topic: config.kafka.deadletter_topic.clone(),
        write_deadletters: config.kafka.write_deadletters,
        properties: config.kafka.properties.clone(),
        listen: config.http.listen,
        as_of,
        settings: config.engine_settings(),
        export: config.export.clone(),
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

/// Logs the pass-through properties with secrets masked.
pub fn log_properties(config: &ServiceConfig) {
    for (key, value) in &config.properties {
        let shown = if is_secret_property(key) {
            "****"
        } else {
            value.as_str()
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

/// Runs the service until a signal arrives.
pub fn run(config: ServiceConfig) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        log_properties(&config);
        let shutdown = shutdown_on_signal();
        Service::new(config)?.run(shutdown).await
    })
}
