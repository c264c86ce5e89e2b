//! The dead-letter topic: rejected input, unchanged, with the reason and origin in headers.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::message::{BorrowedMessage, Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use salespulse_events::RejectReason;

const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// Remembers the last failed delivery (librdkafka reports deliveries through a callback).
#[derive(Default)]
struct DeliveryReports {
    failure: Mutex<Option<String>>,
}

impl ClientContext for DeliveryReports {}

impl ProducerContext for DeliveryReports {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, _)) = result {
            let mut failure = self
                .failure
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *failure = Some(error.to_string());
        }
    }
}

/// Produces rejected messages to the dead-letter topic and waits for their delivery, so an
/// offset is only stored for a bad message once the message is safe elsewhere.
pub(crate) struct DeadLetters {
    producer: BaseProducer<DeliveryReports>,
    topic: String,
}

impl DeadLetters {
    pub(crate) fn new(config: &ClientConfig, topic: &str) -> anyhow::Result<DeadLetters> {
        let producer = config
            .clone()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "0")
            .create_with_context(DeliveryReports::default())
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
        self.wait_for_delivery()
            .with_context(|| format!("delivering to the dead-letter topic {}", self.topic))
    }

    /// Serves delivery reports until nothing is in flight. (`flush` would do, but it sleeps in
    /// steps of 100 ms, which made every rejected message cost a tenth of a second.)
    fn wait_for_delivery(&self) -> anyhow::Result<()> {
        let started = Instant::now();
        while self.producer.in_flight_count() > 0 {
            anyhow::ensure!(
                started.elapsed() < DELIVERY_TIMEOUT,
                "no delivery within {DELIVERY_TIMEOUT:?}"
            );
            self.producer.poll(Duration::from_millis(1));
        }
        let failure = self
            .producer
            .context()
            .failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        match failure {
            Some(error) => anyhow::bail!("delivery failed: {error}"),
            None => Ok(()),
        }
    }
}
