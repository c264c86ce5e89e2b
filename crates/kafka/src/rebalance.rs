//! The consumer context: partition assignment (continue where the state's offsets stop, or
//! rebuild from the earliest offset), revocation (commit what was applied first) and
//! librdkafka statistics (consumer lag).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use tracing::{error, info, warn};

use salespulse_state::Offsets;

use crate::deadletter::DeadLetters;
use crate::errors::Stage;
use crate::status::Status;
use crate::throttle::{Repeated, error_kind, librdkafka_log};

const BROKER_TIMEOUT: Duration = Duration::from_secs(10);
/// Longer than the dead-letter producer's transaction timeout (see `committed_offsets`).
const COMMITTED_TIMEOUT: Duration = Duration::from_secs(20);

/// What the ingestion loop must know about one assigned partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartitionPlan {
    /// The group's committed offset at assignment: re-read offsets below it are not stored
    /// again, so the committed position never moves backwards while state is rebuilt.
    pub(crate) commit_floor: i64,
    /// The high watermark at assignment: caught up (ready) once applied up to here.
    pub(crate) ready_at: i64,
    /// The next offset to apply, as far as the ingestion loop got since assignment.
    pub(crate) applied: i64,
    /// The group's committed offset: `commit_floor`, then what each transaction committed.
    pub(crate) committed: i64,
}

/// How far the ingestion loop got in one assignment of a partition. The applying thread writes
/// it for every message without the assignment's lock (see [`AppliedOffsets`]); commits,
/// revocations and readiness read it under the lock. `Relaxed` suffices: the rebalance
/// callback (on the polling thread) reads and retires it only while holding
/// [`ServiceContext::applying`], which the applying thread holds while it applies, so the
/// mutex orders them; the statistics callback may read a slightly old offset for the lag.
#[derive(Debug)]
pub(crate) struct Progress {
    /// The next offset to apply.
    applied: AtomicI64,
    /// Cleared when the partition's plan goes (revoked, or replaced by a new assignment): a
    /// message polled under it is not applied any more.
    current: AtomicBool,
    /// The group's committed offset at assignment (see [`PartitionPlan::commit_floor`]).
    commit_floor: i64,
}

impl Progress {
    fn starting_at(applied: i64, commit_floor: i64) -> Progress {
        Progress {
            applied: AtomicI64::new(applied),
            current: AtomicBool::new(true),
            commit_floor,
        }
    }

    fn applied(&self) -> i64 {
        self.applied.load(Ordering::Relaxed)
    }

    fn set_applied(&self, next: i64) {
        self.applied.store(next, Ordering::Relaxed);
    }

    fn is_current(&self) -> bool {
        self.current.load(Ordering::Relaxed)
    }

    fn retire(&self) {
        self.current.store(false, Ordering::Relaxed);
    }
}

/// An assigned partition: its plan, with the applied offset kept where the loop writes it.
#[derive(Debug)]
struct Assigned {
    ready_at: i64,
    committed: i64,
    progress: Arc<Progress>,
}

impl Assigned {
    fn plan(&self) -> PartitionPlan {
        PartitionPlan {
            commit_floor: self.progress.commit_floor,
            ready_at: self.ready_at,
            applied: self.progress.applied(),
            committed: self.committed,
        }
    }
}

/// The assigned partitions by topic (so that a lookup borrows the topic name instead of
/// allocating a key), and the offsets the engine state covers, of every partition it has
/// seen, assigned or not: what a checkpoint records and where a re-assigned partition
/// continues.
#[derive(Debug, Default)]
pub(crate) struct Partitions {
    assigned: HashMap<String, HashMap<i32, Assigned>>,
    /// The covered offsets of the partitions not assigned now; an assigned partition's is its
    /// applied offset, folded in here when it is revoked.
    unassigned: Offsets,
    /// Set when partitions were revoked since the last checkpoint.
    pub(crate) revoked: bool,
}

impl Partitions {
    /// Starts from the offsets a restored checkpoint covers.
    pub(crate) fn covering(covered: Offsets) -> Partitions {
        Partitions {
            unassigned: covered,
            ..Partitions::default()
        }
    }

    fn assigned(&self, topic: &str, partition: i32) -> Option<&Assigned> {
        self.assigned.get(topic)?.get(&partition)
    }

    /// Records that the message before `next` of a partition is applied; returns the partition's
    /// plan, if it is assigned.
    pub(crate) fn applied(
        &mut self,
        topic: &str,
        partition: i32,
        next: i64,
    ) -> Option<PartitionPlan> {
        if let Some(assigned) = self.assigned(topic, partition) {
            assigned.progress.set_applied(next);
            return Some(assigned.plan());
        }
        match self.unassigned.get_mut(topic) {
            Some(partitions) => {
                partitions.insert(partition, next);
            }
            None => {
                self.unassigned
                    .entry(topic.to_owned())
                    .or_default()
                    .insert(partition, next);
            }
        }
        None
    }

    /// The offsets the engine state covers.
    pub(crate) fn covered(&self) -> Offsets {
        let mut covered = self.unassigned.clone();
        for (topic, partitions) in &self.assigned {
            let offsets = covered.entry(topic.clone()).or_default();
            for (partition, assigned) in partitions {
                offsets.insert(*partition, assigned.progress.applied());
            }
        }
        covered
    }

    fn covered_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        match self.assigned(topic, partition) {
            Some(assigned) => Some(assigned.progress.applied()),
            None => self.unassigned.get(topic)?.get(&partition).copied(),
        }
    }

    fn get(&self, topic: &str, partition: i32) -> Option<PartitionPlan> {
        self.assigned(topic, partition).map(Assigned::plan)
    }

    /// Assigns a partition; from then on the state covers it up to `plan.applied`.
    fn insert(&mut self, topic: String, partition: i32, plan: PartitionPlan) {
        if let Some(partitions) = self.unassigned.get_mut(&topic) {
            partitions.remove(&partition);
        }
        let assigned = Assigned {
            ready_at: plan.ready_at,
            committed: plan.committed,
            progress: Arc::new(Progress::starting_at(plan.applied, plan.commit_floor)),
        };
        if let Some(replaced) = self
            .assigned
            .entry(topic)
            .or_default()
            .insert(partition, assigned)
        {
            replaced.progress.retire();
        }
    }

    fn remove(&mut self, topic: &str, partition: i32) {
        let Some(removed) = self
            .assigned
            .get_mut(topic)
            .and_then(|partitions| partitions.remove(&partition))
        else {
            return;
        };
        removed.progress.retire();
        self.unassigned
            .entry(topic.to_owned())
            .or_default()
            .insert(partition, removed.progress.applied());
    }

    pub(crate) fn plans(&self) -> impl Iterator<Item = PartitionPlan> {
        self.assigned
            .values()
            .flat_map(HashMap::values)
            .map(Assigned::plan)
    }

    /// The applied offsets not committed yet: never below the committed offset, so the group's
    /// position does not move back while state is rebuilt.
    fn uncommitted(&self) -> TopicPartitionList {
        let mut offsets = TopicPartitionList::new();
        for (topic, partitions) in &self.assigned {
            for (partition, assigned) in partitions {
                let applied = assigned.progress.applied();
                if applied > assigned.committed
                    && let Err(error) =
                        offsets.add_partition_offset(topic, *partition, Offset::Offset(applied))
                {
                    warn!(%error, %topic, partition, "cannot list an offset to commit");
                }
            }
        }
        offsets
    }

    fn mark_committed(&mut self, offsets: &TopicPartitionList) {
        for element in offsets.elements() {
            if let (Offset::Offset(offset), Some(assigned)) = (
                element.offset(),
                self.assigned
                    .get_mut(element.topic())
                    .and_then(|partitions| partitions.get_mut(&element.partition())),
            ) {
                assigned.committed = assigned.committed.max(offset);
            }
        }
    }
}

/// The current assignment, written by the rebalance callback (inside `poll`, on the polling
/// thread), read by the applying thread.
pub(crate) type Assignment = Arc<Mutex<Partitions>>;

/// The partition of the last polled message and its assignment then.
#[derive(Debug)]
struct LastPartition {
    topic: String,
    partition: i32,
    progress: Arc<Progress>,
}

/// The assignment a message's partition had when the message was polled: `None` when it had
/// none. A message is applied some polls later (one thread polls and decodes while another
/// applies), and a rebalance in between decides whether it still may.
#[derive(Debug, Clone)]
pub(crate) struct PolledUnder(Option<Arc<Progress>>);

/// Tags each polled message with its partition's assignment, on the polling thread. Messages
/// come in runs of one partition (librdkafka hands over each fetched batch whole), so most find
/// their partition in `last` and need neither the assignment's lock nor a lookup by topic name.
#[derive(Debug)]
pub(crate) struct PollTags {
    assignment: Assignment,
    last: Option<LastPartition>,
}

impl PollTags {
    pub(crate) fn new(assignment: Assignment) -> PollTags {
        PollTags {
            assignment,
            last: None,
        }
    }

    /// At poll time: the assignment of a message's partition.
    pub(crate) fn polled_under(&mut self, topic: &str, partition: i32) -> PolledUnder {
        match &self.last {
            Some(last)
                if last.partition == partition
                    && last.progress.is_current()
                    && last.topic == topic =>
            {
                PolledUnder(Some(Arc::clone(&last.progress)))
            }
            _ => self.polled_under_looking_up(topic, partition),
        }
    }

    #[cold]
    fn polled_under_looking_up(&mut self, topic: &str, partition: i32) -> PolledUnder {
        let partitions = self
            .assignment
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.last = partitions
            .assigned(topic, partition)
            .map(|assigned| LastPartition {
                topic: topic.to_owned(),
                partition,
                progress: Arc::clone(&assigned.progress),
            });
        PolledUnder(self.last.as_ref().map(|last| Arc::clone(&last.progress)))
    }
}

/// Where the applying thread records the applied offsets.
#[derive(Debug)]
pub(crate) struct AppliedOffsets {
    assignment: Assignment,
}

impl AppliedOffsets {
    pub(crate) fn new(assignment: Assignment) -> AppliedOffsets {
        AppliedOffsets { assignment }
    }

    /// At apply time: records that the message before `next` of a partition is applied, and
    /// returns whether it lies below the commit floor of its assignment, i.e. was applied and,
    /// if rejected, dead-lettered before. `None` when that assignment was revoked or replaced
    /// since the poll: the message must not be applied, for the revocation committed (and
    /// covered) the partition only up to what was applied then, and whoever owns it now reads
    /// the message again from there.
    ///
    /// `topic` gives the topic's name, asked for only in the rare case it is needed: librdkafka
    /// hands it over as a C string, which costs a length and a UTF-8 check per message (4 % of
    /// the applying thread when asked for every message).
    pub(crate) fn record<'t>(
        &self,
        under: &PolledUnder,
        topic: impl FnOnce() -> &'t str,
        partition: i32,
        next: i64,
    ) -> Option<bool> {
        match &under.0 {
            Some(progress) if progress.is_current() => {
                progress.set_applied(next);
                Some(next <= progress.commit_floor)
            }
            Some(_) => None,
            None => Some(self.record_unassigned(topic(), partition, next)),
        }
    }

    /// A message of a partition that had no assignment when polled: its offset is recorded
    /// wherever the partition is now, as covered if still unassigned.
    #[cold]
    fn record_unassigned(&self, topic: &str, partition: i32, next: i64) -> bool {
        let mut partitions = self
            .assignment
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        partitions
            .applied(topic, partition, next)
            .is_some_and(|plan| next <= plan.commit_floor)
    }
}

/// librdkafka callbacks of the service's consumer.
pub(crate) struct ServiceContext {
    pub(crate) assignment: Assignment,
    /// Held by the applying thread while it applies a batch, commits or checkpoints, and by the
    /// rebalance callback: a rebalance waits for the batch in progress, so it commits (and a
    /// revocation covers) each partition exactly up to what was applied and dead-lettered.
    pub(crate) applying: Mutex<()>,
    /// The transactional producer that commits offsets together with the dead letters; `None`
    /// when another replica writes them (offsets are then committed by the consumer).
    pub(crate) dead_letters: Option<Mutex<DeadLetters>>,
    pub(crate) status: Arc<Status>,
    /// The configured topics, to count their partitions.
    pub(crate) topics: Vec<String>,
    pub(crate) group_id: String,
    /// The last consumer error, to log a repeated one once.
    pub(crate) consumer_errors: Repeated,
    /// Whether the group was ever up: a disconnection before that is a slow start, not a loss.
    pub(crate) connected_once: AtomicBool,
    /// The brokers' last refusal of this client (a failed login), until it connects.
    pub(crate) refusal: Mutex<Option<String>>,
    /// The dead-letter topic was missing at the last look: look again at each commit.
    pub(crate) deadletter_topic_missing: AtomicBool,
}

impl ClientContext for ServiceContext {
    fn error(&self, error: KafkaError, reason: &str) {
        self.consumer_error(&error, reason);
    }

    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        librdkafka_log(level, facility, message);
    }

    fn stats(&self, statistics: Statistics) {
        // A refusal (a failed login) says more than "no broker is up": it stays the reason
        // until the connection works.
        let disconnection = disconnection(&statistics).map(|why| {
            self.refusal
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
                .unwrap_or(why)
        });
        self.report_connection(disconnection);
        let assignment = self
            .assignment
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (topic_name, topic) in &statistics.topics {
            for (partition, stats) in &topic.partitions {
                let Some(plan) = assignment.get(topic_name, *partition) else {
                    continue;
                };
                if stats.hi_offset < 0 {
                    continue;
                }
                // Offsets are committed by the dead-letter transactions, which librdkafka's
                // consumer statistics do not see: the plan knows what was committed.
                let committed = plan.committed.max(stats.lo_offset.max(0));
                self.status.lag.insert(
                    (topic_name.clone(), *partition),
                    (stats.hi_offset - committed).max(0),
                );
            }
        }
    }
}

impl ConsumerContext for ServiceContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        partitions: &mut TopicPartitionList,
    ) {
        let _applier_paused = self.applying.lock().unwrap_or_else(PoisonError::into_inner);
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.plan(consumer, partitions);
                self.count_unowned(consumer);
                if cooperative {
                    consumer.incremental_assign(partitions)
                } else {
                    consumer.assign(partitions)
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                // Commit what is applied (with its dead letters) before the partitions go, so
                // the next owner starts where this one stopped. What the loop polled of them and
                // has not applied yet, it drops (see `AppliedOffsets::record`).
                if let Err(error) = self.commit_applied(consumer) {
                    self.status.errors.record(Stage::Commit);
                    // The group may already have moved on (another member joined): keep the
                    // dead letters at least; the next owner re-reads from the committed offsets.
                    error!(error = %format!("{error:#}"), "commit before revocation failed; committing the dead letters alone");
                    if let Err(error) =
                        self.commit_dead_letters(consumer, &TopicPartitionList::new())
                    {
                        // They stay pending and go with the next commit.
                        error!(error = %format!("{error:#}"), "committing the dead letters failed too; the next commit retries");
                    }
                }
                self.forget(partitions);
                if cooperative {
                    consumer.incremental_unassign(partitions)
                } else {
                    consumer.unassign()
                }
            }
            other => {
                error!(error = ?other, "rebalance failed");
                consumer.unassign()
            }
        };
        if let Err(error) = result {
            error!(%error, "applying the rebalance failed");
        }
    }
}

/// Whether the brokers refused the client: a failed SASL login or TLS handshake.
fn is_refusal(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::Authentication
                | RDKafkaErrorCode::SaslAuthenticationFailed
                | RDKafkaErrorCode::SSL
        )
    )
}

/// Whether the dead-letter topic exists (the consumer never creates topics by asking); an
/// error when the brokers cannot tell.
pub(crate) fn deadletter_topic_exists<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
) -> anyhow::Result<bool> {
    let metadata = consumer
        .fetch_metadata(Some(topic), BROKER_TIMEOUT)
        .with_context(|| format!("looking up the dead-letter topic {topic}"))?;
    Ok(metadata.topics().iter().any(|found| {
        found.name() == topic && found.error().is_none() && !found.partitions().is_empty()
    }))
}

/// The error of a missing dead-letter topic.
pub(crate) fn missing_deadletter_topic(topic: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "the dead-letter topic {topic} does not exist: create it, or change [kafka] deadletter_topic"
    )
}

/// Why the consumer has no working connection to its group, from librdkafka's statistics:
/// no broker is up, or the group handler is not `up` (looking for its coordinator, waiting
/// for a broker). `None`: connected.
fn disconnection(statistics: &Statistics) -> Option<String> {
    let up = statistics
        .brokers
        .values()
        .any(|broker| broker.nodeid >= 0 && broker.state == "UP");
    if !up {
        return Some("no broker is up".to_owned());
    }
    match &statistics.cgrp {
        // `term`: the consumer is leaving its group at shutdown, which is no lost connection.
        Some(group) if group.state != "up" && group.state != "term" => {
            Some(format!("consumer group state {}", group.state))
        }
        _ => None,
    }
}

/// The group's committed offsets. They decide which re-read messages were dead-lettered
/// already, so they are worth waiting for: while a transaction of a crashed process still
/// holds offsets of the group, the broker answers only once it is aborted (after the producer's
/// `transaction.timeout.ms`, 10 s), so each try waits longer than that, and a few are made.
/// Only if all fail is the group taken to have committed nothing, with an ERROR, since
/// messages re-read then may be dead-lettered a second time.
fn committed_offsets(
    consumer: &BaseConsumer<ServiceContext>,
    partitions: &TopicPartitionList,
) -> TopicPartitionList {
    const TRIES: u32 = 3;
    for attempt in 1..=TRIES {
        match consumer.committed_offsets(partitions.clone(), COMMITTED_TIMEOUT) {
            Ok(committed) => return committed,
            Err(error) if attempt < TRIES => {
                warn!(%error, attempt, "could not read the committed offsets yet; trying again");
            }
            Err(error) => {
                error!(%error, "could not read the committed offsets; treating them as none, so a re-read rejected message may be dead-lettered twice");
            }
        }
    }
    TopicPartitionList::new()
}

impl ServiceContext {
    /// A consumer or client error (a broker unreachable, all brokers down): counted, and logged
    /// once until another error comes; while the brokers are unreachable only the loss of the
    /// connection is logged, since librdkafka repeats its errors on every reconnection attempt.
    /// A refused login or TLS handshake is the reason the connection cannot come back, so it
    /// is always logged (at ERROR) and becomes the reason `/readyz` gives.
    pub(crate) fn consumer_error(&self, error: &KafkaError, reason: &str) {
        self.status.errors.record(Stage::Consume);
        let text = if reason.is_empty() {
            error.to_string()
        } else {
            format!("{error}: {reason}")
        };
        if is_refusal(error) {
            // The same refusal comes from polling (a code only) and from the client's error
            // callback (with the broker's words): keep the one with words.
            let detailed = !reason.is_empty();
            let why = {
                let mut refusal = self.refusal.lock().unwrap_or_else(PoisonError::into_inner);
                if detailed || refusal.is_none() {
                    *refusal = Some(text.clone());
                }
                refusal.clone().unwrap_or_default()
            };
            self.report_connection(Some(why));
            let kind = format!("{} detailed={detailed}", error_kind(error));
            if self.consumer_errors.is_new(&kind) {
                error!(error = %text, "the brokers refuse this client: check [kafka.properties] (security.protocol, sasl.*, ssl.*)");
            }
            return;
        }
        if self.status.is_disconnected() {
            return;
        }
        if matches!(
            error.rdkafka_error_code(),
            Some(RDKafkaErrorCode::AllBrokersDown)
        ) {
            self.report_connection(Some("all brokers are down".to_owned()));
        }
        if self.consumer_errors.is_new(&error_kind(error)) {
            warn!(error = %text, "consumer error");
        }
    }

    /// Records a connection change in the status, with a log line on each change.
    fn report_connection(&self, disconnection: Option<String>) {
        let lost = disconnection.clone();
        let was_connected = self.connected_once.load(Ordering::Acquire);
        if lost.is_none() {
            self.connected_once.store(true, Ordering::Release);
        }
        if self.status.set_disconnected(disconnection) {
            match lost {
                Some(why) if was_connected => {
                    warn!(%why, "lost the connection to the Kafka brokers; not ready until it is back")
                }
                Some(why) => info!(%why, "not connected to the Kafka brokers yet"),
                None => {
                    info!("connected to the Kafka brokers");
                    self.consumer_errors.reset();
                    self.refusal
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .take();
                }
            }
        }
    }

    /// Commits the applied offsets together with the dead letters forwarded since the last
    /// commit, in one transaction.
    pub(crate) fn commit_applied(&self, consumer: &BaseConsumer<Self>) -> anyhow::Result<()> {
        let offsets = self
            .assignment
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .uncommitted();
        if self.dead_letters.is_some() {
            self.commit_dead_letters(consumer, &offsets)?;
        } else if offsets.count() > 0 {
            consumer
                .commit(&offsets, CommitMode::Sync)
                .context("committing the applied offsets")?;
        }
        self.assignment
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .mark_committed(&offsets);
        Ok(())
    }

    /// Commits the dead letters forwarded since the last commit, with `offsets`, in one
    /// transaction (nothing to do when another replica writes the dead letters).
    fn commit_dead_letters(
        &self,
        consumer: &BaseConsumer<Self>,
        offsets: &TopicPartitionList,
    ) -> anyhow::Result<()> {
        let Some(dead_letters) = &self.dead_letters else {
            return Ok(());
        };
        let mut dead_letters = dead_letters.lock().unwrap_or_else(PoisonError::into_inner);
        if dead_letters.pending() > 0 || self.deadletter_topic_missing.load(Ordering::Acquire) {
            // Producing to a missing topic would block each commit until librdkafka gives up
            // on the topic's metadata: ask first, and until it exists, keep saying so.
            let topic = dead_letters.topic();
            let exists = deadletter_topic_exists(consumer, topic).and_then(|exists| {
                self.deadletter_topic_missing
                    .store(!exists, Ordering::Release);
                if exists {
                    Ok(())
                } else {
                    Err(missing_deadletter_topic(topic))
                }
            });
            exists.map_err(|error| {
                error.context(format!(
                    "{} dead letters wait in memory, and the offsets after them are not committed",
                    dead_letters.pending()
                ))
            })?;
        }
        let group = consumer
            .group_metadata()
            .context("the consumer has no group metadata")?;
        dead_letters.commit(offsets, &group)
    }

    /// Records the committed offset and high watermark of each new partition, then points it
    /// where the engine state stops: the offset it covers (restored from a checkpoint, or
    /// reached earlier in this process), else the earliest retained offset, to rebuild. When
    /// the earliest retained offset is above that, history was lost to retention: an ERROR and
    /// `salespulse_state_history_truncated` say so.
    fn plan(&self, consumer: &BaseConsumer<Self>, partitions: &mut TopicPartitionList) {
        let committed = committed_offsets(consumer, partitions);
        let mut assignment = self
            .assignment
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let assigned: Vec<(String, i32)> = partitions
            .elements()
            .iter()
            .map(|element| (element.topic().to_owned(), element.partition()))
            .collect();
        for (topic, partition) in assigned {
            let commit_floor = committed
                .find_partition(&topic, partition)
                .and_then(|found| match found.offset() {
                    Offset::Offset(offset) => Some(offset),
                    _ => None,
                })
                .unwrap_or(0);
            let (earliest, ready_at) = consumer
                .fetch_watermarks(&topic, partition, BROKER_TIMEOUT)
                .unwrap_or_else(|error| {
                    warn!(%error, %topic, partition, "could not read the watermarks");
                    (0, 0)
                });
            let covered = assignment.covered_offset(&topic, partition);
            let start = covered.unwrap_or(0);
            let truncated = earliest > start;
            if truncated {
                error!(
                    %topic,
                    partition,
                    covered = start,
                    earliest_retained = earliest,
                    "history lost to retention: offsets {start} to {} are gone, so lifetime and long-window numbers miss their events",
                    earliest - 1
                );
            }
            self.status
                .history_truncated
                .insert((topic.clone(), partition), truncated);
            let offset = match covered {
                Some(offset) => {
                    info!(%topic, partition, offset, commit_floor, ready_at, "partition assigned; continuing where the state stops");
                    Offset::Offset(offset)
                }
                None => {
                    info!(%topic, partition, commit_floor, ready_at, "partition assigned; rebuilding from the earliest offset");
                    Offset::Beginning
                }
            };
            if let Err(error) = partitions.set_partition_offset(&topic, partition, offset) {
                error!(%error, %topic, partition, "could not position the partition");
            }
            // From now on the state covers this partition up to `start` (nothing, when it
            // rebuilds), so a checkpoint records every assigned partition.
            assignment.insert(
                topic,
                partition,
                PartitionPlan {
                    commit_floor,
                    ready_at,
                    applied: start,
                    committed: commit_floor,
                },
            );
        }
    }

    /// Counts the partitions of the configured topics that this instance does not own. Each
    /// replica must own them all (its state is the whole result); some unowned means another
    /// member joined the same group: said in an ERROR, the metric and `/readyz`.
    fn count_unowned(&self, consumer: &BaseConsumer<Self>) {
        let mut total = 0;
        for topic in &self.topics {
            match consumer.fetch_metadata(Some(topic), BROKER_TIMEOUT) {
                Ok(metadata) => {
                    total += metadata
                        .topics()
                        .iter()
                        .map(|topic| topic.partitions().len())
                        .sum::<usize>();
                }
                Err(error) => {
                    warn!(%error, %topic, "could not count the topic's partitions");
                    return;
                }
            }
        }
        let owned = self
            .assignment
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .plans()
            .count();
        let unowned = total.saturating_sub(owned);
        if unowned > 0 {
            error!(
                unowned,
                total,
                group = %self.group_id,
                "{unowned} of the {total} partitions of the topics are assigned to another member of consumer group {}: each replica must consume every partition, so give each one its own [kafka] group_id",
                self.group_id
            );
        }
        self.status.set_unowned(unowned);
    }

    fn forget(&self, partitions: &TopicPartitionList) {
        let mut assignment = self
            .assignment
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for element in partitions.elements() {
            let (topic, partition) = (element.topic(), element.partition());
            info!(%topic, partition, "partition revoked");
            assignment.remove(topic, partition);
            assignment.revoked = true;
            self.status.lag.remove(&(topic.to_owned(), partition));
            self.status
                .history_truncated
                .remove(&(topic.to_owned(), partition));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn plan(applied: i64, committed: i64) -> PartitionPlan {
        PartitionPlan {
            commit_floor: committed,
            ready_at: 100,
            applied,
            committed,
        }
    }

    fn offsets(entries: &[(&str, i32, i64)]) -> Offsets {
        let mut offsets = Offsets::new();
        for &(topic, partition, offset) in entries {
            offsets
                .entry(topic.to_owned())
                .or_default()
                .insert(partition, offset);
        }
        offsets
    }

    fn list(entries: &[(&str, i32, Offset)]) -> TopicPartitionList {
        let mut list = TopicPartitionList::new();
        for &(topic, partition, offset) in entries {
            list.add_partition_offset(topic, partition, offset)
                .expect("a valid offset");
        }
        list
    }

    fn listed(list: &TopicPartitionList) -> Vec<(String, i32, Offset)> {
        let mut listed: Vec<_> = list
            .elements()
            .iter()
            .map(|element| {
                (
                    element.topic().to_owned(),
                    element.partition(),
                    element.offset(),
                )
            })
            .collect();
        listed.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        listed
    }

    #[test]
    fn covering_starts_from_the_checkpoint_offsets_with_nothing_assigned() {
        let partitions = Partitions::covering(offsets(&[("t", 0, 5), ("t", 1, 9), ("u", 0, 2)]));

        assert_eq!(
            partitions.covered(),
            Offsets::from([
                ("t".to_owned(), BTreeMap::from([(0, 5), (1, 9)])),
                ("u".to_owned(), BTreeMap::from([(0, 2)])),
            ])
        );
        assert_eq!(partitions.covered_offset("t", 0), Some(5));
        assert_eq!(partitions.covered_offset("t", 1), Some(9));
        assert_eq!(partitions.covered_offset("u", 0), Some(2));
        assert_eq!(partitions.covered_offset("t", 2), None);
        assert_eq!(partitions.covered_offset("v", 0), None);
        assert_eq!(partitions.plans().count(), 0);
        assert_eq!(partitions.get("t", 0), None);
        assert!(!partitions.revoked);
    }

    #[test]
    fn applied_to_an_unassigned_partition_records_the_covered_offset_and_returns_none() {
        let mut partitions = Partitions::default();

        assert_eq!(partitions.applied("t", 0, 5), None);
        assert_eq!(partitions.applied("t", 0, 7), None);
        assert_eq!(partitions.covered(), offsets(&[("t", 0, 7)]));

        // A new partition of a known topic, and a new topic.
        assert_eq!(partitions.applied("t", 3, 1), None);
        assert_eq!(partitions.applied("u", 2, 4), None);
        assert_eq!(
            partitions.covered(),
            offsets(&[("t", 0, 7), ("t", 3, 1), ("u", 2, 4)])
        );
        assert_eq!(partitions.covered_offset("t", 0), Some(7));
        assert_eq!(partitions.covered_offset("u", 2), Some(4));
        assert_eq!(partitions.plans().count(), 0);
    }

    #[test]
    fn applied_to_an_assigned_partition_updates_and_returns_its_plan() {
        let mut partitions = Partitions::covering(offsets(&[("t", 0, 3)]));
        partitions.insert(
            "t".to_owned(),
            0,
            PartitionPlan {
                commit_floor: 2,
                ready_at: 10,
                applied: 3,
                committed: 2,
            },
        );

        let expected = PartitionPlan {
            commit_floor: 2,
            ready_at: 10,
            applied: 4,
            committed: 2,
        };
        assert_eq!(partitions.applied("t", 0, 4), Some(expected));
        assert_eq!(partitions.get("t", 0), Some(expected));
        assert_eq!(partitions.covered(), offsets(&[("t", 0, 4)]));

        // Another partition of the same topic is not assigned.
        assert_eq!(partitions.applied("t", 1, 6), None);
        assert_eq!(partitions.get("t", 1), None);
        assert_eq!(partitions.covered(), offsets(&[("t", 0, 4), ("t", 1, 6)]));
    }

    #[test]
    fn insert_replaces_and_remove_forgets_the_plan_but_keeps_the_covered_offset() {
        let mut partitions = Partitions::default();
        partitions.insert("t".to_owned(), 0, plan(1, 0));
        partitions.insert("t".to_owned(), 1, plan(2, 0));
        partitions.insert("u".to_owned(), 0, plan(3, 0));
        partitions.applied("t", 0, 5);

        assert_eq!(partitions.get("t", 0), Some(plan(5, 0)));
        assert_eq!(partitions.get("t", 1), Some(plan(2, 0)));
        assert_eq!(partitions.get("u", 0), Some(plan(3, 0)));
        assert_eq!(partitions.get("t", 2), None);
        assert_eq!(partitions.get("v", 0), None);

        partitions.insert("t".to_owned(), 1, plan(8, 6));
        assert_eq!(partitions.get("t", 1), Some(plan(8, 6)));
        assert_eq!(partitions.plans().count(), 3);

        partitions.remove("t", 0);
        // Neither assigned: nothing to remove, and no panic.
        partitions.remove("t", 7);
        partitions.remove("v", 0);

        assert_eq!(partitions.get("t", 0), None);
        assert_eq!(partitions.get("t", 1), Some(plan(8, 6)));
        assert_eq!(partitions.get("u", 0), Some(plan(3, 0)));
        assert_eq!(partitions.plans().count(), 2);
        // A re-assigned partition continues where the state stops.
        assert_eq!(partitions.covered_offset("t", 0), Some(5));
        assert_eq!(partitions.applied("t", 0, 6), None);
        assert_eq!(partitions.covered_offset("t", 0), Some(6));
    }

    #[test]
    fn plans_yields_every_assigned_partition_of_every_topic() {
        let mut partitions = Partitions::covering(offsets(&[("w", 0, 50)]));
        partitions.insert("t".to_owned(), 0, plan(10, 0));
        partitions.insert("t".to_owned(), 1, plan(11, 0));
        partitions.insert("u".to_owned(), 4, plan(12, 0));

        let mut applied: Vec<i64> = partitions.plans().map(|plan| plan.applied).collect();
        applied.sort_unstable();
        // The covered-only partition w/0 is not a plan.
        assert_eq!(applied, [10, 11, 12]);
    }

    #[test]
    fn uncommitted_lists_only_partitions_applied_beyond_their_committed_offset() {
        let mut partitions = Partitions::covering(offsets(&[("v", 0, 30)]));
        // Applied beyond committed: listed, at the applied offset.
        partitions.insert("t".to_owned(), 0, plan(8, 5));
        partitions.insert("u".to_owned(), 0, plan(4, 0));
        // Applied up to committed: nothing to commit.
        partitions.insert("t".to_owned(), 1, plan(5, 5));
        // Rebuilding below the commit floor: listing it would move the group's position back.
        partitions.insert("u".to_owned(), 2, plan(2, 6));

        assert_eq!(
            listed(&partitions.uncommitted()),
            [
                ("t".to_owned(), 0, Offset::Offset(8)),
                ("u".to_owned(), 0, Offset::Offset(4)),
            ]
        );

        // Once the rebuild passes the commit floor, the partition is listed.
        partitions.applied("u", 2, 7);
        assert_eq!(
            listed(&partitions.uncommitted()),
            [
                ("t".to_owned(), 0, Offset::Offset(8)),
                ("u".to_owned(), 0, Offset::Offset(4)),
                ("u".to_owned(), 2, Offset::Offset(7)),
            ]
        );
    }

    #[test]
    fn uncommitted_is_empty_without_assigned_partitions() {
        let mut partitions = Partitions::covering(offsets(&[("t", 0, 30)]));
        partitions.applied("t", 0, 40);
        partitions.applied("t", 1, 10);

        assert_eq!(partitions.uncommitted().count(), 0);
    }

    #[test]
    fn mark_committed_keeps_the_highest_committed_offset() {
        let mut partitions = Partitions::default();
        partitions.insert("t".to_owned(), 0, plan(9, 5));
        partitions.insert("t".to_owned(), 1, plan(3, 3));

        partitions.mark_committed(&list(&[("t", 0, Offset::Offset(9))]));
        assert_eq!(
            partitions.get("t", 0),
            Some(PartitionPlan {
                committed: 9,
                ..plan(9, 5)
            })
        );

        // An older commit does not move it back.
        partitions.mark_committed(&list(&[("t", 0, Offset::Offset(7))]));
        assert_eq!(partitions.get("t", 0).map(|plan| plan.committed), Some(9));
        // `applied` and `commit_floor` are left as they were.
        assert_eq!(partitions.get("t", 0).map(|plan| plan.applied), Some(9));
        assert_eq!(
            partitions.get("t", 0).map(|plan| plan.commit_floor),
            Some(5)
        );
        assert_eq!(partitions.get("t", 1), Some(plan(3, 3)));
    }

    #[test]
    fn marking_what_uncommitted_listed_leaves_nothing_uncommitted() {
        let mut partitions = Partitions::default();
        partitions.insert("t".to_owned(), 0, plan(9, 5));
        partitions.insert("u".to_owned(), 1, plan(4, 0));

        let offsets = partitions.uncommitted();
        partitions.mark_committed(&offsets);

        assert_eq!(partitions.get("t", 0).map(|plan| plan.committed), Some(9));
        assert_eq!(partitions.get("u", 1).map(|plan| plan.committed), Some(4));
        assert_eq!(partitions.uncommitted().count(), 0);

        partitions.applied("t", 0, 12);
        assert_eq!(
            listed(&partitions.uncommitted()),
            [("t".to_owned(), 0, Offset::Offset(12))]
        );
    }

    #[test]
    fn mark_committed_ignores_unassigned_partitions_and_non_numeric_offsets() {
        let mut partitions = Partitions::covering(offsets(&[("v", 0, 3)]));
        partitions.insert("t".to_owned(), 0, plan(9, 5));
        partitions.insert("t".to_owned(), 1, plan(9, 5));
        partitions.insert("t".to_owned(), 2, plan(9, 5));

        partitions.mark_committed(&list(&[
            ("t", 0, Offset::End),
            ("t", 1, Offset::Beginning),
            ("t", 2, Offset::Invalid),
            ("t", 3, Offset::Offset(10)),
            ("v", 0, Offset::Offset(10)),
        ]));

        assert_eq!(partitions.get("t", 0), Some(plan(9, 5)));
        assert_eq!(partitions.get("t", 1), Some(plan(9, 5)));
        assert_eq!(partitions.get("t", 2), Some(plan(9, 5)));
        // Unassigned partitions get no plan, and their covered offsets stay.
        assert_eq!(partitions.get("t", 3), None);
        assert_eq!(partitions.get("v", 0), None);
        assert_eq!(partitions.plans().count(), 3);
        assert_eq!(
            partitions.covered(),
            offsets(&[("t", 0, 9), ("t", 1, 9), ("t", 2, 9), ("v", 0, 3)])
        );
    }

    #[test]
    fn bookkeeping_leaves_the_revoked_flag_alone() {
        fn exercise(partitions: &mut Partitions) {
            partitions.insert("t".to_owned(), 0, plan(1, 0));
            partitions.applied("t", 0, 4);
            partitions.applied("u", 0, 2);
            let offsets = partitions.uncommitted();
            partitions.mark_committed(&offsets);
            partitions.remove("t", 0);
        }

        let mut partitions = Partitions::default();
        exercise(&mut partitions);
        assert!(!partitions.revoked);

        let mut partitions = Partitions::covering(Offsets::new());
        partitions.revoked = true;
        exercise(&mut partitions);
        assert!(partitions.revoked);
    }

    fn assignment_of(plans: &[(&str, i32, PartitionPlan)]) -> Assignment {
        let mut partitions = Partitions::default();
        for &(topic, partition, plan) in plans {
            partitions.insert(topic.to_owned(), partition, plan);
        }
        Arc::new(Mutex::new(partitions))
    }

    fn plan_of(assignment: &Assignment, topic: &str, partition: i32) -> Option<PartitionPlan> {
        assignment
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(topic, partition)
    }

    /// Tags for the polling thread and the recorder of the applying thread, of one assignment.
    fn tags_and_applied(assignment: &Assignment) -> (PollTags, AppliedOffsets) {
        (
            PollTags::new(Arc::clone(assignment)),
            AppliedOffsets::new(Arc::clone(assignment)),
        )
    }

    /// A message polled and applied with no rebalance in between.
    fn poll_and_record(
        (tags, applied): &mut (PollTags, AppliedOffsets),
        topic: &str,
        partition: i32,
        next: i64,
    ) -> Option<bool> {
        let under = tags.polled_under(topic, partition);
        applied.record(&under, || topic, partition, next)
    }

    /// A context of no broker (creating the consumer does not connect) over `assignment`.
    fn unconnected_consumer(assignment: &Assignment) -> BaseConsumer<ServiceContext> {
        let now = chrono::Utc::now();
        let empty = salespulse_engine::Engine::new(salespulse_engine::Settings::default(), now);
        let context = ServiceContext {
            assignment: Arc::clone(assignment),
            applying: Mutex::new(()),
            dead_letters: None,
            status: Arc::new(Status::new(empty.snapshot()).expect("status")),
            topics: vec!["t".to_owned()],
            group_id: "g".to_owned(),
            consumer_errors: Repeated::default(),
            connected_once: AtomicBool::new(false),
            refusal: Mutex::new(None),
            deadletter_topic_missing: AtomicBool::new(false),
        };
        rdkafka::ClientConfig::new()
            .set("bootstrap.servers", "127.0.0.1:1")
            .set("group.id", "g")
            .create_with_context(context)
            .expect("consumer")
    }

    #[test]
    fn a_revocation_waits_for_the_batch_being_applied() {
        // Committed up to 5 before: nothing to commit (there is no broker), still re-applied.
        let assignment = assignment_of(&[("t", 0, plan(0, 5))]);
        let consumer = unconnected_consumer(&assignment);
        let (mut tags, applied) = tags_and_applied(&assignment);
        let polled = tags.polled_under("t", 0);

        let applying = consumer
            .context()
            .applying
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        std::thread::scope(|scope| {
            let revocation = scope.spawn(|| {
                let mut revoked = TopicPartitionList::new();
                revoked.add_partition("t", 0);
                consumer.context().rebalance(
                    &consumer,
                    RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS,
                    &mut revoked,
                );
            });
            // Time for a revocation that did not wait to go first: this test cannot fail on
            // a correct version, only miss a broken one.
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(applied.record(&polled, || "t", 0, 1), Some(true));
            drop(applying);
            revocation.join().expect("the revocation ran");
        });

        // Revoked after the batch: it covers the applied message, and one polled before it
        // but applied after is not applied.
        assert_eq!(plan_of(&assignment, "t", 0), None);
        assert_eq!(applied.record(&polled, || "t", 0, 2), None);
        let partitions = assignment.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(partitions.covered(), offsets(&[("t", 0, 1)]));
    }

    #[test]
    fn a_message_polled_before_its_partition_was_revoked_is_not_applied() {
        let assignment = assignment_of(&[("t", 0, plan(3, 10))]);
        let mut applied = tags_and_applied(&assignment);
        assert_eq!(poll_and_record(&mut applied, "t", 0, 4), Some(true));
        let polled_before = applied.0.polled_under("t", 0);

        assignment
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove("t", 0);

        assert_eq!(applied.1.record(&polled_before, || "t", 0, 5), None);
        // The state covers the partition up to what was applied before the revocation.
        let partitions = assignment.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(partitions.covered(), offsets(&[("t", 0, 4)]));
    }

    #[test]
    fn a_message_polled_under_a_replaced_assignment_is_not_applied() {
        let assignment = assignment_of(&[("t", 0, plan(0, 10))]);
        let mut applied = tags_and_applied(&assignment);
        assert_eq!(poll_and_record(&mut applied, "t", 0, 1), Some(true));
        let polled_before = applied.0.polled_under("t", 0);

        // Assigned again (eager rebalancing): positioned at 1, where the state stops.
        assignment
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert("t".to_owned(), 0, plan(1, 0));

        assert_eq!(applied.1.record(&polled_before, || "t", 0, 2), None);
        assert_eq!(plan_of(&assignment, "t", 0), Some(plan(1, 0)));
        // Read again under the new assignment, it is applied.
        assert_eq!(poll_and_record(&mut applied, "t", 0, 2), Some(false));
        assert_eq!(plan_of(&assignment, "t", 0), Some(plan(2, 0)));
    }

    #[test]
    fn recorded_offsets_move_the_plan_and_say_whether_below_the_commit_floor() {
        // Committed up to 5 at assignment: offsets 2, 3 and 4 (next 3, 4, 5) were forwarded.
        let assignment = assignment_of(&[("t", 0, plan(2, 5))]);
        let mut applied = tags_and_applied(&assignment);

        assert_eq!(poll_and_record(&mut applied, "t", 0, 3), Some(true));
        assert_eq!(poll_and_record(&mut applied, "t", 0, 4), Some(true));
        assert_eq!(poll_and_record(&mut applied, "t", 0, 5), Some(true));
        assert_eq!(poll_and_record(&mut applied, "t", 0, 6), Some(false));
        assert_eq!(poll_and_record(&mut applied, "t", 0, 7), Some(false));

        assert_eq!(
            plan_of(&assignment, "t", 0),
            Some(PartitionPlan {
                applied: 7,
                ..plan(2, 5)
            })
        );
        let partitions = assignment.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(
            listed(&partitions.uncommitted()),
            [("t".to_owned(), 0, Offset::Offset(7))]
        );
        assert_eq!(partitions.covered(), offsets(&[("t", 0, 7)]));
    }

    #[test]
    fn interleaved_partitions_each_move_their_own_plan() {
        let assignment = assignment_of(&[
            ("t", 0, plan(0, 0)),
            ("t", 1, plan(10, 0)),
            ("u", 0, plan(20, 25)),
        ]);
        let mut applied = tags_and_applied(&assignment);

        assert_eq!(poll_and_record(&mut applied, "t", 0, 1), Some(false));
        assert_eq!(poll_and_record(&mut applied, "t", 1, 11), Some(false));
        // Same partition number, another topic.
        assert_eq!(poll_and_record(&mut applied, "u", 0, 21), Some(true));
        assert_eq!(poll_and_record(&mut applied, "t", 0, 2), Some(false));
        assert_eq!(poll_and_record(&mut applied, "u", 0, 22), Some(true));

        assert_eq!(
            plan_of(&assignment, "t", 0).map(|plan| plan.applied),
            Some(2)
        );
        assert_eq!(
            plan_of(&assignment, "t", 1).map(|plan| plan.applied),
            Some(11)
        );
        assert_eq!(
            plan_of(&assignment, "u", 0).map(|plan| plan.applied),
            Some(22)
        );
    }

    #[test]
    fn after_a_revocation_the_partition_is_recorded_as_covered_only() {
        let assignment = assignment_of(&[("t", 0, plan(3, 10))]);
        let mut applied = tags_and_applied(&assignment);
        assert_eq!(poll_and_record(&mut applied, "t", 0, 4), Some(true));

        assignment
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove("t", 0);

        // No plan any more, so no commit floor: not forwarded before.
        assert_eq!(poll_and_record(&mut applied, "t", 0, 5), Some(false));
        let partitions = assignment.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(partitions.get("t", 0), None);
        assert_eq!(partitions.covered(), offsets(&[("t", 0, 5)]));
        assert_eq!(partitions.uncommitted().count(), 0);
    }

    #[test]
    fn a_reassigned_partition_is_recorded_in_its_new_plan() {
        let assignment = assignment_of(&[("t", 0, plan(0, 10))]);
        let mut applied = tags_and_applied(&assignment);
        assert_eq!(poll_and_record(&mut applied, "t", 0, 1), Some(true));

        // Assigned again, now with nothing committed.
        assignment
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert("t".to_owned(), 0, plan(1, 0));

        assert_eq!(poll_and_record(&mut applied, "t", 0, 2), Some(false));
        assert_eq!(plan_of(&assignment, "t", 0), Some(plan(2, 0)));
    }

    #[test]
    fn an_unassigned_partition_is_recorded_as_covered_and_never_forwarded_before() {
        let assignment = assignment_of(&[("t", 0, plan(0, 0))]);
        let mut applied = tags_and_applied(&assignment);

        assert_eq!(poll_and_record(&mut applied, "t", 9, 3), Some(false));
        assert_eq!(poll_and_record(&mut applied, "t", 9, 4), Some(false));
        assert_eq!(poll_and_record(&mut applied, "t", 0, 1), Some(false));

        let partitions = assignment.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(partitions.get("t", 9), None);
        assert_eq!(partitions.covered(), offsets(&[("t", 0, 1), ("t", 9, 4)]));
    }

    fn statistics(brokers: &[(i32, &str)], group_state: Option<&str>) -> Statistics {
        let mut statistics = Statistics::default();
        for &(nodeid, state) in brokers {
            let broker = rdkafka::statistics::Broker {
                nodeid,
                state: state.to_owned(),
                ..Default::default()
            };
            statistics.brokers.insert(format!("b{nodeid}"), broker);
        }
        statistics.cgrp = group_state.map(|state| rdkafka::statistics::ConsumerGroup {
            state: state.to_owned(),
            ..Default::default()
        });
        statistics
    }

    #[test]
    fn connected_when_a_broker_is_up_and_the_group_handler_is_up() {
        assert_eq!(
            disconnection(&statistics(&[(-1, "INIT"), (1, "UP")], Some("up"))),
            None
        );
        // A producer's statistics have no group: a broker up is enough.
        assert_eq!(disconnection(&statistics(&[(2, "UP")], None)), None);
    }

    #[test]
    fn disconnected_without_a_learned_broker_up_or_with_the_group_handler_away() {
        // The bootstrap entry (node id -1) being up is not a connection to the cluster.
        assert_eq!(
            disconnection(&statistics(&[(-1, "UP"), (1, "DOWN")], Some("up"))).as_deref(),
            Some("no broker is up")
        );
        assert_eq!(
            disconnection(&statistics(&[], Some("init"))).as_deref(),
            Some("no broker is up")
        );
        assert_eq!(
            disconnection(&statistics(&[(1, "UP")], Some("wait-coord"))).as_deref(),
            Some("consumer group state wait-coord")
        );
        assert_eq!(
            disconnection(&statistics(&[(1, "UP")], Some("term"))),
            None,
            "leaving the group at shutdown"
        );
    }
}
