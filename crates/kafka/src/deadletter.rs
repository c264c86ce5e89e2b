//! The dead-letter topic: rejected input, unchanged, with the reason and origin in headers,
//! written in Kafka transactions together with the consumer's offsets.

use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::topic_partition_list::TopicPartitionList;
use salespulse_events::RejectReason;
use tracing::warn;

const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(30);

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

/// One rejected message as it goes to the dead-letter topic.
struct DeadLetter {
    key: Option<Vec<u8>>,
    payload: Option<Vec<u8>>,
    reason: RejectReason,
    topic: String,
    partition: String,
    offset: String,
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
    producer: BaseProducer<DeliveryReports>,
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
    pub(crate) fn new(
        config: &ClientConfig,
        topic: &str,
        transactional_id: &str,
    ) -> anyhow::Result<DeadLetters> {
        let producer = transactional_producer(config, transactional_id)?;
        Ok(DeadLetters {
            config: config.clone(),
            topic: topic.to_owned(),
            transactional_id: transactional_id.to_owned(),
            incarnation: 0,
            producer,
            uncommitted: Vec::new(),
            sent: 0,
            open: false,
            failed: None,
        })
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
        };
        let mut problem = None;
        if self.failed.is_none() && self.sent == self.uncommitted.len() {
            // If this fails, the commit fails too, and the redone transaction sends it.
            match self.begin().and_then(|()| self.send(&letter)) {
                Ok(()) => self.sent += 1,
                Err(error) => {
                    self.failed = Some(failure_of(&error));
                    problem = Some(error);
                }
            }
        }
        self.uncommitted.push(letter);
        problem
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
        match self.try_commit(offsets, group) {
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
            self.send(&self.uncommitted[self.sent])?;
            self.sent += 1;
        }
        if offsets.count() > 0 {
            self.producer
                .send_offsets_to_transaction(offsets, group, TRANSACTION_TIMEOUT)
                .context("adding the consumer offsets to the transaction")?;
        }
        self.producer
            .commit_transaction(TRANSACTION_TIMEOUT)
            .context("committing the dead letters and offsets")?;
        self.open = false;
        let failure = self
            .producer
            .context()
            .failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        match failure {
            Some(error) => anyhow::bail!("a dead letter was not delivered: {error}"),
            None => Ok(()),
        }
    }

    /// After a failed transaction: abort it, or replace the producer when the failure is fatal
    /// to it; then open a new transaction with the same dead letters. An error leaves it to
    /// the next call.
    fn recover(&mut self, failure: Failure) -> anyhow::Result<()> {
        match failure {
            // The transaction goes on: the next commit sends what is not sent yet and commits.
            Failure::Retriable => return Ok(()),
            Failure::Fatal => {
                let id = format!("{}-{}", self.transactional_id, self.incarnation + 1);
                self.producer = transactional_producer(&self.config, &id)?;
                self.incarnation += 1;
            }
            Failure::Abortable if self.open => {
                self.producer
                    .abort_transaction(TRANSACTION_TIMEOUT)
                    .context("aborting the failed dead-letter transaction")?;
            }
            Failure::Abortable => {}
        }
        self.open = false;
        self.sent = 0;
        self.begin()?;
        while self.sent < self.uncommitted.len() {
            self.send(&self.uncommitted[self.sent])?;
            self.sent += 1;
        }
        warn!(
            dead_letters = self.uncommitted.len(),
            "redoing the failed dead-letter transaction"
        );
        Ok(())
    }

    fn begin(&mut self) -> anyhow::Result<()> {
        if !self.open {
            self.producer
                .begin_transaction()
                .context("beginning a dead-letter transaction")?;
            self.open = true;
        }
        Ok(())
    }

    fn send(&self, letter: &DeadLetter) -> anyhow::Result<()> {
        let headers = OwnedHeaders::new()
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
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&self.topic).headers(headers);
        if let Some(payload) = &letter.payload {
            record = record.payload(payload);
        }
        if let Some(key) = &letter.key {
            record = record.key(key);
        }
        self.producer
            .send(record)
            .map_err(|(error, _)| error)
            .with_context(|| format!("dead-lettering {}:{}", letter.topic, letter.offset))?;
        self.producer.poll(Duration::ZERO);
        Ok(())
    }
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
) -> anyhow::Result<BaseProducer<DeliveryReports>> {
    let producer: BaseProducer<DeliveryReports> = config
        .clone()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("transactional.id", transactional_id)
        // A transaction a crashed process left open blocks read_committed readers of the
        // dead-letter topic until the broker aborts it: keep that short.
        .set("transaction.timeout.ms", "10000")
        .create_with_context(DeliveryReports::default())
        .context("creating the dead-letter producer")?;
    producer
        .init_transactions(TRANSACTION_TIMEOUT)
        .with_context(|| {
            format!("initialising the dead-letter transactions ({transactional_id})")
        })?;
    Ok(producer)
}
