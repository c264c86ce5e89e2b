//! Producing JSON lines to the event topics (`simulate --brokers`, `demo`).

use std::time::Duration;

use anyhow::Context;

use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use crate::properties::creation_error;

/// A producer of keyed payloads that waits out a full local queue instead of failing.
pub struct LineProducer {
    producer: BaseProducer,
}

impl std::fmt::Debug for LineProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineProducer").finish_non_exhaustive()
    }
}

impl LineProducer {
    /// A producer for `brokers` with extra librdkafka `properties` (SASL, TLS, ...).
    pub fn new<'a>(
        brokers: &str,
        properties: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> anyhow::Result<LineProducer> {
        let mut config = ClientConfig::new();
        for (key, value) in properties {
            config.set(key, value);
        }
        config
            .set("bootstrap.servers", brokers)
            .set("enable.idempotence", "true")
            .set("linger.ms", "5");
        let producer = config
            .create()
            .map_err(|error| creation_error("creating the producer", &config, &error))?;
        Ok(LineProducer { producer })
    }

    /// Queues one message, serving delivery reports while the local queue is full.
    pub fn send(&self, topic: &str, key: &str, payload: &[u8]) -> anyhow::Result<()> {
        loop {
            match self
                .producer
                .send(BaseRecord::to(topic).key(key).payload(payload))
            {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    self.producer.poll(Duration::from_millis(10));
                }
                Err((error, _)) => {
                    return Err(error).with_context(|| format!("producing to {topic}"));
                }
            }
        }
    }

    /// Serves delivery reports without blocking.
    pub fn poll(&self) {
        self.producer.poll(Duration::ZERO);
    }

    /// Waits until everything queued is delivered.
    pub fn flush(&self) -> anyhow::Result<()> {
        self.producer
            .flush(Duration::from_secs(60))
            .context("flushing the producer")
    }
}
