//! The pipeline: restore the state, consume until cancelled, checkpoint at the end.

use std::sync::Arc;

use anyhow::Context;
use rdkafka::ClientConfig;
use salespulse_config::KafkaConfig;
use salespulse_engine::{Engine, Settings};
use salespulse_events::Timestamp;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::checkpoint::{self, CheckpointSettings, Checkpointer, Start};
use crate::consumer::{Clock, IngestLoop};
use crate::status::{Readiness, Status};

/// Consumer settings the service's correctness depends on; `[kafka.properties]` cannot change them.
const FIXED_CONSUMER_PROPERTIES: &[(&str, &str)] = &[
    ("enable.auto.offset.store", "false"),
    ("enable.auto.commit", "false"),
    ("auto.offset.reset", "earliest"),
    ("enable.partition.eof", "false"),
];

/// Everything the pipeline needs.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// `[kafka]`: brokers, group, topics, dead letters, librdkafka properties.
    pub kafka: KafkaConfig,
    /// `--as-of`: pins "now"; otherwise the wall clock.
    pub as_of: Option<Timestamp>,
    pub settings: Settings,
    /// `[state]`: where checkpoints go and how often; `None` keeps no state (the demo, whose
    /// embedded cluster starts empty every time).
    pub checkpoints: Option<CheckpointSettings>,
}

impl PipelineConfig {
    /// What a checkpoint must have been made under to be restored: the engine settings, the
    /// consumer group and the topics (a state built from other topics is another state).
    pub(crate) fn checkpoint_fingerprint(&self) -> u64 {
        let mut topics = self.kafka.topics.clone();
        topics.sort();
        let text = format!(
            "engine={:016x}\ngroup={}\ntopics={}",
            self.settings.fingerprint(),
            self.kafka.group_id,
            topics.join(",")
        );
        xxhash_rust::xxh3::xxh3_64(text.as_bytes())
    }

    pub(crate) fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (key, value) in &self.kafka.properties {
            config.set(key, value);
        }
        config.set("bootstrap.servers", &self.kafka.brokers);
        config
    }

    pub(crate) fn consumer_config(&self) -> ClientConfig {
        let mut config = self.client_config();
        config
            .set("group.id", &self.kafka.group_id)
            .set("statistics.interval.ms", "1000");
        for (key, value) in FIXED_CONSUMER_PROPERTIES {
            if self
                .kafka
                .properties
                .get(*key)
                .is_some_and(|set| set != value)
            {
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

/// The Kafka pipeline: create it, hand its [`Status`] to the HTTP side, then run it on a
/// thread of its own.
#[derive(Debug)]
pub struct Pipeline {
    config: PipelineConfig,
    status: Arc<Status>,
}

impl Pipeline {
    pub fn new(config: PipelineConfig) -> anyhow::Result<Pipeline> {
        let now = config.as_of.unwrap_or_else(chrono::Utc::now);
        let empty = Engine::new(config.settings.clone(), now).snapshot();
        let status = Arc::new(Status::new(empty)?);
        Ok(Pipeline { config, status })
    }

    /// What `/metrics` and `/readyz` serve.
    pub fn status(&self) -> Arc<Status> {
        Arc::clone(&self.status)
    }

    /// Restores the newest valid checkpoint, then consumes until `shutdown` is cancelled (or
    /// ingestion fails), commits what was applied, takes a last checkpoint and returns.
    /// Blocking: it owns the engine and the consumer on the calling thread; `runtime` runs the
    /// checkpoint store's I/O.
    pub fn run(self, shutdown: &CancellationToken, runtime: Handle) -> anyhow::Result<()> {
        let Pipeline { config, status } = self;
        let clock = config.as_of.map_or(Clock::Wall, Clock::Pinned);
        let (start, checkpointer) = match &config.checkpoints {
            Some(settings) => {
                let store = settings
                    .open()
                    .context("opening the checkpoint store ([state] dir or url)")?;
                info!(store = store.location(), "checkpoints");
                status.set_readiness(Readiness::Restoring);
                let start = checkpoint::restore(
                    &store,
                    &runtime,
                    &config.settings,
                    config.checkpoint_fingerprint(),
                    clock.now(),
                    &status,
                );
                status.send_snapshot(start.engine.snapshot());
                status.set_readiness(Readiness::Unassigned);
                let checkpointer = Checkpointer::new(
                    store,
                    runtime,
                    settings,
                    config.checkpoint_fingerprint(),
                    Arc::clone(&status),
                );
                (start, Some(checkpointer))
            }
            None => (Start::fresh(&config.settings, clock.now()), None),
        };
        info!(brokers = %config.kafka.brokers, group = %config.kafka.group_id, topics = ?config.kafka.topics, "consuming");
        IngestLoop::new(&config, start, checkpointer, clock, status)?.run(shutdown)
    }
}
