//! The dead-letter topic: rejected input, unchanged, with the reason and origin in headers.

use std::time::Duration;

use anyhow::Context;
use rdkafka::ClientConfig;
use rdkafka::message::{BorrowedMessage, Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use salespulse_events::RejectReason;

const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// Produces rejected messages to the dead-letter topic and waits for their delivery, so an
/// offset is only stored for a bad message once the message is safe elsewhere.
pub(crate) struct DeadLetters {
    producer: BaseProducer,
    topic: String,
}

impl DeadLetters {
    pub(crate) fn new(config: &ClientConfig, topic: &str) -> anyhow::Result<DeadLetters> {
        let producer: BaseProducer = config
            .clone()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .create()
            .context("creating the dead-letter producer")?;
        Ok(DeadLetters {
            producer,
            topic: topic.to_owned(),
        })
    }

    /// Forwards `message` with `x-reject-reason`, `x-source-topic`, `x-source-partition` and
    /// `x-source-offset`, and returns once the broker has it.
    pub(crate) fn forward(
        &self,
        message: &BorrowedMessage<'_>,
        reason: RejectReason,
    ) -> anyhow::Result<()> {
        let partition = message.partition().to_string();
        let offset = message.offset().to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "x-reject-reason",
                value: Some(reason.as_str()),
            })
            .insert(Header {
                key: "x-source-topic",
                value: Some(message.topic()),
            })
            .insert(Header {
                key: "x-source-partition",
                value: Some(partition.as_str()),
            })
            .insert(Header {
                key: "x-source-offset",
                value: Some(offset.as_str()),
            });
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&self.topic).headers(headers);
        if let Some(payload) = message.payload() {
            record = record.payload(payload);
        }
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        self.producer
            .send(record)
            .map_err(|(error, _)| error)
            .with_context(|| format!("dead-lettering {}:{}", message.topic(), offset))?;
        self.producer
            .flush(DELIVERY_TIMEOUT)
            .with_context(|| format!("delivering to the dead-letter topic {}", self.topic))
    }
}
