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

/// Consumer settings chosen by measurement, which `[kafka.properties]` may override.
/// librdkafka stops fetching for `fetch.queue.backoff.ms` (its default: 1 s) whenever the
/// consumer queue holds `queued.min.messages` (100,000, counted over all partitions together).
/// While catching up, `run` drains that in well under a second and then waits out the rest:
/// with the default, a consume-only loop on the local broker read 0.24 million messages/s and
/// `run` waited for messages a third of the time; with 10 ms, 1 million/s and no waiting.
const DEFAULT_CONSUMER_PROPERTIES: &[(&str, &str)] = &[("fetch.queue.backoff.ms", "10")];

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

    /// The consumer's librdkafka settings; public so the consume-only benchmark
    /// (`crates/bench`) reads with exactly the service's settings.
    pub fn consumer_config(&self) -> ClientConfig {
        let mut config = self.client_config();
        config
            .set("group.id", &self.kafka.group_id)
            .set("statistics.interval.ms", "1000");
        for (key, value) in DEFAULT_CONSUMER_PROPERTIES {
            if !self.kafka.properties.contains_key(*key) {
                config.set(*key, *value);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline_config(properties: &[(&str, &str)]) -> PipelineConfig {
        PipelineConfig {
            kafka: KafkaConfig {
                properties: properties
                    .iter()
                    .map(|&(key, value)| (key.to_owned(), value.to_owned()))
                    .collect(),
                ..KafkaConfig::default()
            },
            as_of: None,
            settings: Settings::default(),
            checkpoints: None,
        }
    }

    #[test]
    fn the_consumer_gets_the_tuned_fetch_backoff_unless_the_properties_set_one() {
        let config = pipeline_config(&[("client.id", "sp-1")]).consumer_config();
        assert_eq!(config.get("fetch.queue.backoff.ms"), Some("10"));
        assert_eq!(config.get("client.id"), Some("sp-1"));

        let config = pipeline_config(&[("fetch.queue.backoff.ms", "250")]).consumer_config();
        assert_eq!(config.get("fetch.queue.backoff.ms"), Some("250"));
    }

    #[test]
    fn the_dead_letter_producer_gets_no_consumer_default() {
        let config = pipeline_config(&[]).client_config();
        assert_eq!(config.get("fetch.queue.backoff.ms"), None);
    }

    #[test]
    fn the_fixed_consumer_properties_win_over_the_properties() {
        let config = pipeline_config(&[
            ("enable.auto.commit", "true"),
            ("auto.offset.reset", "latest"),
        ])
        .consumer_config();
        assert_eq!(config.get("enable.auto.commit"), Some("false"));
        assert_eq!(config.get("auto.offset.reset"), Some("earliest"));
        assert_eq!(config.get("enable.auto.offset.store"), Some("false"));
        assert_eq!(config.get("enable.partition.eof"), Some("false"));
    }
}
