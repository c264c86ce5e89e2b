//! Wiring: configuration, the ingestion thread and the HTTP server, and an orderly shutdown.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use rdkafka::ClientConfig;
use salespulse_engine::{Engine, Settings, Snapshot};
use salespulse_events::Timestamp;
use salespulse_exporter::Selection;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::checkpoint::{self, CheckpointSettings, Checkpointer, Start};
use crate::consumer::{Clock, IngestLoop};
use crate::http;
use crate::shared::{Readiness, Shared};

/// Consumer settings the service's correctness depends on; `[kafka.properties]` cannot change them.
const FIXED_CONSUMER_PROPERTIES: &[(&str, &str)] = &[
    ("enable.auto.offset.store", "false"),
    ("enable.auto.commit", "false"),
    ("auto.offset.reset", "earliest"),
    ("enable.partition.eof", "false"),
];

/// Everything `run` needs.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub brokers: String,
    pub group_id: String,
    pub topics: Vec<String>,
    pub deadletter_topic: String,
    /// Whether this instance writes the dead-letter topic (with replicas, one of them does).
    pub write_deadletters: bool,
    /// librdkafka properties passed through (SASL, TLS, tuning).
    pub properties: BTreeMap<String, String>,
    pub listen: SocketAddr,
    /// `--as-of`: pins "now"; otherwise the wall clock.
    pub as_of: Option<Timestamp>,
    pub settings: Settings,
    /// `[export]`: which series `/metrics` carries.
    pub export: Selection,
    /// `[state]`: where checkpoints go and how often; `None` keeps no state (the demo, whose
    /// embedded cluster starts empty every time).
    pub checkpoints: Option<CheckpointSettings>,
}

impl ServiceConfig {
    /// What a checkpoint must have been made under to be restored: the engine settings, the
    /// consumer group and the topics (a state built from other topics is another state).
    pub(crate) fn checkpoint_fingerprint(&self) -> u64 {
        let mut topics = self.topics.clone();
        topics.sort();
        let text = format!(
            "engine={:016x}\ngroup={}\ntopics={}",
            self.settings.fingerprint(),
            self.group_id,
            topics.join(",")
        );
        xxhash_rust::xxh3::xxh3_64(text.as_bytes())
    }

    pub(crate) fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config.set("bootstrap.servers", &self.brokers);
        config
    }

    pub(crate) fn consumer_config(&self) -> ClientConfig {
        let mut config = self.client_config();
        config
            .set("group.id", &self.group_id)
            .set("statistics.interval.ms", "1000");
        for (key, value) in FIXED_CONSUMER_PROPERTIES {
            if self.properties.get(*key).is_some_and(|set| set != value) {
                warn!(
                    property = key,
                    kept = value,
                    "kafka.properties cannot change this consumer property"
                );
            }
            config.set(*key, *value);
        }
        config
    }
}

/// The service: create it, optionally watch its snapshots, then run it.
#[derive(Debug)]
pub struct Service {
    config: ServiceConfig,
    shared: Arc<Shared>,
}

impl Service {
    pub fn new(config: ServiceConfig) -> anyhow::Result<Service> {
        let now = config.as_of.unwrap_or_else(chrono::Utc::now);
        let empty = Engine::new(config.settings.clone(), now).snapshot();
        let shared = Arc::new(Shared::new(empty, config.export.clone())?);
        Ok(Service { config, shared })
    }

    /// Every snapshot the service publishes (the demo prints a summary from them).
    pub fn snapshots(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.shared.snapshot.subscribe()
    }

    /// Runs until `shutdown` is cancelled (or ingestion fails), then stops fetching, commits
    /// what was applied and returns.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Service { config, shared } = self;
        let store = match &config.checkpoints {
            Some(checkpoints) => {
                let store = checkpoints
                    .open()
                    .context("opening the checkpoint store ([state] dir or url)")?;
                info!(store = store.location(), "checkpoints");
                Some((store, checkpoints.clone()))
            }
            None => None,
        };
        let clock = config.as_of.map_or(Clock::Wall, Clock::Pinned);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        info!(address = %listener.local_addr()?, "serving /metrics, /healthz, /readyz");
        let server = axum::serve(listener, http::router(Arc::clone(&shared)))
            .with_graceful_shutdown(shutdown.clone().cancelled_owned());
        let http = tokio::spawn(async move { server.await });

        info!(brokers = %config.brokers, group = %config.group_id, topics = ?config.topics, "consuming");
        let stop = Arc::new(AtomicBool::new(false));
        let stop_on_shutdown = {
            let (stop, shutdown) = (Arc::clone(&stop), shutdown.clone());
            tokio::spawn(async move {
                shutdown.cancelled().await;
                stop.store(true, Ordering::Release);
            })
        };
        let ingest = {
            let stop = Arc::clone(&stop);
            let runtime = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || {
                let fingerprint = config.checkpoint_fingerprint();
                let (start, checkpointer) = match store {
                    Some((store, settings)) => {
                        shared.set_readiness(Readiness::Restoring);
                        let start = checkpoint::restore(
                            &store,
                            &runtime,
                            &config.settings,
                            fingerprint,
                            clock.now(),
                            &shared,
                        );
                        shared.send_snapshot(start.engine.snapshot());
                        shared.set_readiness(Readiness::Unassigned);
                        let checkpointer = Checkpointer::new(
                            store,
                            runtime,
                            &settings,
                            fingerprint,
                            Arc::clone(&shared),
                        );
                        (start, Some(checkpointer))
                    }
                    None => (Start::fresh(&config.settings, clock.now()), None),
                };
                IngestLoop::new(&config, start, checkpointer, clock, shared)?.run(&stop)
            })
        };
        let result = ingest.await.context("the ingestion thread panicked")?;
        if let Err(error) = &result {
            warn!(error = %format!("{error:#}"), "ingestion stopped");
        }
        shutdown.cancel();
        stop_on_shutdown.abort();
        http.await.context("the HTTP server panicked")??;
        info!("stopped");
        result
    }
}
