//! The dead-letter topic: rejected input, unchanged, with the reason and origin in headers,
//! written in Kafka transactions together with the consumer's offsets. Nothing here ever stops
//! the service: a dead letter that cannot be written now waits in memory and its transaction is
//! redone, and one the broker refuses as too large is written truncated, with a header saying so.

use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Message, OwnedHeaders};
use rdkafka::producer::{
    BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig, ThreadedProducer,
};
use rdkafka::topic_partition_list::TopicPartitionList;
use salespulse_events::RejectReason;
use tracing::warn;

use crate::properties::creation_error;
use crate::throttle::{Repeated, error_kind, librdkafka_log};

const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(30);
/// An abort that takes longer leaves the producer in doubt: a new producer takes over instead
/// of the ingestion thread waiting.
const ABORT_TIMEOUT: Duration = Duration::from_secs(5);
/// What is kept of a dead letter the broker refuses as too large: far below any broker's
/// `message.max.bytes`, enough to see what the message was.
const TRUNCATED_BYTES: usize = 64 * 1024;
/// The producer's own size limit: librdkafka's maximum, so the broker's limit for the
/// dead-letter topic decides (the default 1,000,000 is below the broker's default 1,048,588,
/// so a message the broker accepted on an input topic could not be forwarded).
const PRODUCER_MESSAGE_MAX_BYTES: &str = "1000000000";

/// The failed deliveries of the open transaction, by index in `DeadLetters::uncommitted`
/// (librdkafka reports deliveries through a callback).
#[derive(Default)]
struct DeliveryReports {
    failures: Mutex<Vec<(usize, KafkaError)>>,
    /// Client errors (the broker is away), logged once until a transaction commits.
    errors: Repeated,
}

impl ClientContext for DeliveryReports {
    fn error(&self, error: KafkaError, reason: &str) {
        if self.errors.is_new(&error_kind(&error)) {
            warn!(error = %format!("{error}: {reason}"), "dead-letter producer error");
        }
    }

    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        librdkafka_log(level, facility, message);
    }
}

impl ProducerContext for DeliveryReports {
    type DeliveryOpaque = Box<usize>;

    fn delivery(&self, result: &DeliveryResult<'_>, index: Box<usize>) {
        if let Err((error, _)) = result {
            self.failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((*index, error.clone()));
        }
    }
}

/// One rejected message as it goes to the dead-letter topic.
struct DeadLetter {
    key: Option<Vec<u8>>,
    payload: Option<Vec<u8>>,
    reason: RejectReason,
    topic: String,
    partition: String,
    offset: String,
    /// The payload's length before it was cut to `TRUNCATED_BYTES`, when the broker refused it.
    truncated_from: Option<usize>,
}

impl DeadLetter {
    /// Keeps the first `TRUNCATED_BYTES` of the payload (once).
    fn truncate(&mut self) {
        if let Some(payload) = &mut self.payload
            && self.truncated_from.is_none()
        {
            self.truncated_from = Some(payload.len());
            payload.truncate(TRUNCATED_BYTES);
        }
    }
}

/// Produces rejected messages to the dead-letter topic inside Kafka transactions that also
/// commit the consumer's offsets: a dead letter and the offset past its message become visible
/// together or not at all, so after any crash each rejected message is in the topic once for
/// `read_committed` readers, and an instance never forwards again what a committed offset
/// covers. The dead letters of the open transaction are kept until it commits, so a
/// transaction that fails is redone rather than lost.
pub(crate) struct DeadLetters {
    config: ClientConfig,
    topic: String,
    transactional_id: String,
    /// Producers made so far: each gets its own transactional id.
    incarnation: u32,
    /// Made (and its transactions initialised) when first needed, so a broker that is away at
    /// start delays dead letters instead of stopping the service.
    producer: Option<ThreadedProducer<DeliveryReports>>,
    /// Forwarded since the last commit, and how many of them are sent in the open transaction.
    uncommitted: Vec<DeadLetter>,
    sent: usize,
    /// A transaction is open on the current producer.
    open: bool,
    /// The last transaction failed: the next commit first aborts it (or replaces the producer)
    /// and sends the uncommitted dead letters again.
    failed: Option<Failure>,
}

/// How the last transaction failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// Try the same step again (e.g. a commit that timed out may still complete): aborting
    /// then could commit its dead letters twice.
    Retriable,
    /// The transaction can be aborted and redone on the same producer.
    Abortable,
    /// The producer is unusable (e.g. fenced): a new one takes over.
    Fatal,
}

impl DeadLetters {
    /// `transactional_id` must be unique per process.
    pub(crate) fn new(config: &ClientConfig, topic: &str, transactional_id: &str) -> DeadLetters {
        DeadLetters {
            config: config.clone(),
            topic: topic.to_owned(),
            transactional_id: transactional_id.to_owned(),
            incarnation: 0,
            producer: None,
            uncommitted: Vec::new(),
            sent: 0,
            open: false,
            failed: None,
        }
    }

    pub(crate) fn topic(&self) -> &str {
        &self.topic
    }

    /// Dead letters forwarded and not committed yet.
    pub(crate) fn pending(&self) -> usize {
        self.uncommitted.len()
    }

    /// Forwards `message` with `x-reject-reason`, `x-source-topic`, `x-source-partition` and
    /// `x-source-offset`, in the open transaction. Never loses it: when it cannot be sent now
    /// (returns the error), it is kept and sent with the redone transaction at the next commit.
    pub(crate) fn forward(
        &mut self,
        message: &BorrowedMessage<'_>,
        reason: RejectReason,
    ) -> Option<anyhow::Error> {
        let letter = DeadLetter {
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            reason,
            topic: message.topic().to_owned(),
            partition: message.partition().to_string(),
            offset: message.offset().to_string(),
            truncated_from: None,
        };
        self.uncommitted.push(letter);
        if self.failed.is_some() || self.sent + 1 != self.uncommitted.len() {
            return None;
        }
        // If this fails, the commit fails too, and the redone transaction sends it.
        match self.begin().and_then(|()| self.send_next()) {
            Ok(()) => None,
            Err(error) => {
                self.failed = Some(failure_of(&error));
                Some(error)
            }
        }
    }

    /// Commits `offsets` (the next offsets to read) for the consumer group, together with every
    /// dead letter forwarded since the last commit, in one transaction. After a failure (the
    /// broker is away, the producer was fenced), the next call aborts the failed transaction, or
    /// replaces a producer the failure made unusable, and redoes it with the same dead letters:
    /// nothing is lost and nothing is committed twice, however often it fails.
    pub(crate) fn commit(
        &mut self,
        offsets: &TopicPartitionList,
        group: &ConsumerGroupMetadata,
    ) -> anyhow::Result<()> {
        if offsets.count() == 0 && self.uncommitted.is_empty() && self.failed.is_none() {
            return Ok(());
        }
        if let Some(failure) = self.failed {
            if let Err(error) = self.recover(failure) {
                // An abort that fails leaves the producer in doubt: replace it next time.
                self.failed = Some(Failure::Fatal);
                return Err(error);
            }
            self.failed = None;
        }
        let result = self.try_commit(offsets, group);
        self.truncate_refused();
        match result {
            Ok(()) => {
                self.uncommitted.clear();
                self.sent = 0;
                Ok(())
            }
            Err(error) => {
                self.failed = Some(failure_of(&error));
                Err(error)
            }
        }
    }

    fn try_commit(
        &mut self,
        offsets: &TopicPartitionList,
        group: &ConsumerGroupMetadata,
    ) -> anyhow::Result<()> {
        self.begin()?;
        while self.sent < self.uncommitted.len() {
            self.send_next()?;
        }
        let producer = self.producer()?;
        if offsets.count() > 0 {
            producer
                .send_offsets_to_transaction(offsets, group, TRANSACTION_TIMEOUT)
                .context("adding the consumer offsets to the transaction")?;
        }
        producer
            .commit_transaction(TRANSACTION_TIMEOUT)
            .context("committing the dead letters and offsets")?;
        producer.context().errors.reset();
        self.open = false;
        Ok(())
    }

    /// Cuts the dead letters the broker refused as too large, so the redone transaction can
    /// write them; other delivery failures are redone as they are.
    fn truncate_refused(&mut self) {
        let Some(producer) = &self.producer else {
            return;
        };
        let failures = std::mem::take(
            &mut *producer
                .context()
                .failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for (index, error) in failures {
            if is_too_large(&error)
                && let Some(letter) = self.uncommitted.get_mut(index)
            {
                warn!(
                    topic = %letter.topic,
                    partition = %letter.partition,
                    offset = %letter.offset,
                    bytes = letter.payload.as_ref().map_or(0, Vec::len),
                    kept = TRUNCATED_BYTES,
                    "the broker refused a dead letter as too large; writing it truncated"
                );
                letter.truncate();
            }
        }
    }

    /// The producer, made and initialised if it is not yet.
    fn producer(&mut self) -> anyhow::Result<&ThreadedProducer<DeliveryReports>> {
        if self.producer.is_none() {
            let id = format!("{}-{}", self.transactional_id, self.incarnation);
            self.producer = Some(transactional_producer(&self.config, &id)?);
        }
        Ok(self.producer.as_ref().expect("made above"))
    }

    /// After a failed transaction: abort it, or replace the producer when the failure is fatal
    /// to it; then open a new transaction with the same dead letters. An error leaves it to
    /// the next call.
    fn recover(&mut self, failure: Failure) -> anyhow::Result<()> {
        match failure {
            // The transaction goes on: the next commit sends what is not sent yet and commits.
            Failure::Retriable => return Ok(()),
            Failure::Fatal => {
                self.producer = None;
                self.incarnation += 1;
            }
            Failure::Abortable if self.open => {
                let producer = self.producer()?;
                // Messages of the failed transaction still queued or in flight would hold the
                // abort until its timeout: drop them (they are redone).
                producer.purge(PurgeConfig::default().queue().inflight());
                producer
                    .abort_transaction(ABORT_TIMEOUT)
                    .context("aborting the failed dead-letter transaction")?;
            }
            Failure::Abortable => {}
        }
        self.open = false;
        self.sent = 0;
        self.begin()?;
        while self.sent < self.uncommitted.len() {
            self.send_next()?;
        }
        warn!(
            dead_letters = self.uncommitted.len(),
            "redoing the failed dead-letter transaction"
        );
        Ok(())
    }

    fn begin(&mut self) -> anyhow::Result<()> {
        if !self.open {
            self.producer()?
                .begin_transaction()
                .context("beginning a dead-letter transaction")?;
            self.open = true;
        }
        Ok(())
    }

    /// Sends the first dead letter not sent in the open transaction. One larger than the
    /// producer may send is truncated and sent at once.
    fn send_next(&mut self) -> anyhow::Result<()> {
        let index = self.sent;
        let sent = match self.send_at(index) {
            Err(error) if is_too_large(&error) => {
                self.uncommitted[index].truncate();
                self.send_at(index)
            }
            other => other,
        };
        let letter = &self.uncommitted[index];
        sent.with_context(|| format!("dead-lettering {}:{}", letter.topic, letter.offset))?;
        self.sent += 1;
        Ok(())
    }

    fn send_at(&mut self, index: usize) -> Result<(), KafkaError> {
        let topic = self.topic.clone();
        let letter = &self.uncommitted[index];
        let truncated_from = letter.truncated_from.map(|bytes| bytes.to_string());
        let mut headers = OwnedHeaders::new()
            .insert(Header {
                key: "x-reject-reason",
                value: Some(letter.reason.as_str()),
            })
            .insert(Header {
                key: "x-source-topic",
                value: Some(letter.topic.as_str()),
            })
            .insert(Header {
                key: "x-source-partition",
                value: Some(letter.partition.as_str()),
            })
            .insert(Header {
                key: "x-source-offset",
                value: Some(letter.offset.as_str()),
            });
        if let Some(bytes) = &truncated_from {
            headers = headers.insert(Header {
                key: "x-truncated-from",
                value: Some(bytes.as_str()),
            });
        }
        let mut record: BaseRecord<'_, [u8], [u8], Box<usize>> =
            BaseRecord::with_opaque_to(&topic, Box::new(index)).headers(headers);
        if let Some(payload) = &letter.payload {
            record = record.payload(payload);
        }
        if let Some(key) = &letter.key {
            record = record.key(key);
        }
        let producer = self
            .producer
            .as_ref()
            .expect("a transaction is open, so the producer exists");
        producer.send(record).map_err(|(error, _)| error)?;
        Ok(())
    }
}

/// Whether the producer or the broker refused a message as too large.
fn is_too_large(error: &KafkaError) -> bool {
    error.rdkafka_error_code() == Some(RDKafkaErrorCode::MessageSizeTooLarge)
}

/// What an error leaves to do: retry the same step, abort and redo, or replace the producer.
fn failure_of(error: &anyhow::Error) -> Failure {
    let transaction_error = error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<KafkaError>())
        .find_map(|error| match error {
            KafkaError::Transaction(error) => Some(error),
            _ => None,
        });
    match transaction_error {
        Some(error) if error.is_fatal() => Failure::Fatal,
        Some(error) if error.txn_requires_abort() => Failure::Abortable,
        Some(error) if error.is_retriable() => Failure::Retriable,
        _ => Failure::Abortable,
    }
}

fn transactional_producer(
    config: &ClientConfig,
    transactional_id: &str,
) -> anyhow::Result<ThreadedProducer<DeliveryReports>> {
    let mut config = config.clone();
    config
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.max.bytes", PRODUCER_MESSAGE_MAX_BYTES)
        .set("transactional.id", transactional_id)
        // A transaction a crashed process left open blocks read_committed readers of the
        // dead-letter topic until the broker aborts it: keep that short.
        .set("transaction.timeout.ms", "10000");
    let producer: ThreadedProducer<DeliveryReports> = config
        .create_with_context(DeliveryReports::default())
        .map_err(|error| creation_error("creating the dead-letter producer", &config, &error))?;
    producer
        .init_transactions(TRANSACTION_TIMEOUT)
        .with_context(|| {
            format!("initialising the dead-letter transactions ({transactional_id})")
        })?;
    Ok(producer)
}
