//! The ingestion loop: poll, decode, apply, dead-letter, store offsets, publish snapshots.
//!
//! Two threads at work: one polls librdkafka and decodes each batch (a third of the work per
//! event, and polling another tenth; neither needs the engine), the other applies the decoded
//! batches in order and does the rest. A rebalance runs inside `poll`, on the polling thread,
//! and waits for the batch being applied (see [`ServiceContext::applying`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use prometheus::Histogram;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use salespulse_engine::{Engine, IngestOutcome, Settings, decode_message};
use salespulse_events::{Event, RejectReason, Rejection, Timestamp};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::checkpoint::{Checkpointer, Start};
use crate::deadletter::DeadLetters;
use crate::errors::Stage;
use crate::pipeline::PipelineConfig;
use crate::properties::creation_error;
use crate::rebalance::{
    AppliedOffsets, Assignment, PartitionPlan, Partitions, PollTags, PolledUnder, ServiceContext,
    deadletter_topic_exists, missing_deadletter_topic,
};
use crate::status::{Readiness, Status};
use crate::throttle::{Repeated, Throttle};

const POLL_TIMEOUT: Duration = Duration::from_millis(100);
/// The most polls in one batch: what is polled without waiting, up to this many messages,
/// before the loop's other work (readiness, publishing, commits, checkpoints, shutdown) gets a
/// look: a few milliseconds of work.
const MAX_BATCH: u32 = 1024;
/// How many decoded batches may wait for the applying thread: enough to keep polling through a
/// slow round (a snapshot, a checkpoint capture) without holding much.
const BATCHES_AHEAD: usize = 2;
/// Snapshots are published at most this often (see [`publish_interval`]).
const MIN_PUBLISH_INTERVAL: Duration = Duration::from_millis(250);
/// How often applied offsets are committed (with the dead letters of the same transaction).
const COMMIT_INTERVAL: Duration = Duration::from_secs(1);
/// After failed commits the interval doubles up to this, so an unreachable broker or a missing
/// dead-letter topic costs the ingestion thread little.
const MAX_COMMIT_BACKOFF: Duration = Duration::from_secs(30);

/// "Now": the wall clock, or a pinned instant (`--as-of`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Clock {
    Wall,
    Pinned(Timestamp),
}

impl Clock {
    pub(crate) fn now(self) -> Timestamp {
        match self {
            Clock::Wall => chrono::Utc::now(),
            Clock::Pinned(at) => at,
        }
    }
}

/// Where the assigned partitions stand: some owned by another member of the group (`unowned`),
/// none assigned, still catching up with the high watermarks seen at assignment, or caught up
/// with all of them.
fn readiness_of(plans: impl IntoIterator<Item = PartitionPlan>, unowned: i64) -> Readiness {
    let mut plans = plans.into_iter().peekable();
    if unowned > 0 {
        Readiness::PartiallyAssigned
    } else if plans.peek().is_none() {
        Readiness::Unassigned
    } else if plans.all(|plan| plan.ready_at <= 0 || plan.applied >= plan.ready_at) {
        Readiness::Ready
    } else {
        Readiness::CatchingUp
    }
}

/// Observes the processing time of each event of the `batches` (received at, events) once:
/// the time since its batch was received. A local histogram adds them up without an atomic
/// operation per event.
fn observe_processing(histogram: &Histogram, batches: impl IntoIterator<Item = (Instant, u32)>) {
    let local = histogram.local();
    for (received, events) in batches {
        let seconds = received.elapsed().as_secs_f64();
        for _ in 0..events {
            local.observe(seconds);
        }
    }
    local.flush();
}

/// What the events applied since the last snapshot were, which sets how soon the next one comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pace {
    /// Applied while caught up: ready, and the last poll did not fill a batch.
    Live,
    /// None applied: only the clock moves the figures.
    Idle,
    /// Applied while catching up (not ready, or full batches waiting).
    CatchingUp,
}

/// The time between two snapshots: at least `MIN_PUBLISH_INTERVAL`, and a multiple of what the
/// last one cost. Live events should show soon, and the thread has time to spare: twice the
/// cost, so snapshots take up to a third of it. While idle, ten times, about a tenth. While
/// catching up, thirty times: `/metrics` still moves every few seconds, and a backfill spends
/// about 3 % of its time on snapshots, not 10 % (measured: 15 % of the applying thread with ten
/// times).
fn publish_interval(cost: Duration, pace: Pace) -> Duration {
    let share = match pace {
        Pace::Live => 2,
        Pace::Idle => 10,
        Pace::CatchingUp => 30,
    };
    MIN_PUBLISH_INTERVAL.max(cost * share)
}

/// Polled messages, each with the assignment it was polled under.
type Messages<'c> = Vec<(BorrowedMessage<'c>, PolledUnder)>;

/// A batch of polled messages and its receipt: when its first message came, by the monotonic
/// clock and as "now" for the engine.
struct PolledBatch<'c> {
    messages: Messages<'c>,
    received: Instant,
    now: Timestamp,
}

impl PolledBatch<'_> {
    /// Less than a full batch: the poll found no more waiting.
    fn is_partial(&self) -> bool {
        self.messages.len() < MAX_BATCH as usize
    }
}

/// A polled batch and what each of its messages decoded to, ready to apply.
struct DecodedBatch<'c> {
    batch: PolledBatch<'c>,
    decoded: Vec<Decoded>,
}

/// What the decoding thread made of a message: `None` for a tombstone (a deletion marker on a
/// compacted topic, no payload), else the event or its rejection.
type Decoded = Option<Result<Event, Rejection>>;

/// Decodes a batch's messages into `decoded` (emptied first).
fn decode_batch(batch: &PolledBatch<'_>, settings: &Settings, decoded: &mut Vec<Decoded>) {
    decoded.clear();
    decoded.extend(batch.messages.iter().map(|(message, _)| {
        message
            .payload()
            .map(|payload| decode_message(payload, settings))
    }));
}

/// An applied batch on its way back to the polling thread: its messages and their decoded
/// events.
type Applied<'c> = (Messages<'c>, Vec<Decoded>);

/// The channels between the two threads: decoded batches to apply, and applied batches back, to
/// be released and their vectors reused. The polling thread releases the messages (librdkafka
/// frees a message's buffers and bookkeeping: 6.5 % of the applying thread's time when it did so
/// itself) and frees the events it decoded (mimalloc frees faster on the allocating thread).
struct PollSide<'c> {
    to_apply: SyncSender<DecodedBatch<'c>>,
    applied: Receiver<Applied<'c>>,
}

/// The polling thread: polls batches, decodes them and hands them to the applying thread until
/// `stop` (or until the applying thread is gone). Rebalance callbacks run here, inside `poll`.
fn poll_and_decode<'c>(
    consumer: &'c BaseConsumer<ServiceContext>,
    mut tags: PollTags,
    settings: &Settings,
    clock: Clock,
    stop: &CancellationToken,
    channels: &PollSide<'c>,
) {
    let mut spare = Vec::new();
    let mut spare_decoded = Vec::new();
    while !stop.is_cancelled() {
        for (mut messages, mut decoded) in channels.applied.try_iter() {
            messages.clear();
            decoded.clear();
            spare = messages;
            spare_decoded = decoded;
        }
        let Some(batch) = poll_batch(consumer, &mut tags, clock, &mut spare) else {
            continue;
        };
        let mut decoded = std::mem::take(&mut spare_decoded);
        decode_batch(&batch, settings, &mut decoded);
        if channels
            .to_apply
            .send(DecodedBatch { batch, decoded })
            .is_err()
        {
            return;
        }
    }
}

/// Polls up to `MAX_BATCH` messages into `spare` (or a new vector): the first waits up to
/// `POLL_TIMEOUT`, the others are what is there. Each message is tagged with its partition's
/// assignment, since a rebalance may happen before the message is applied.
fn poll_batch<'c>(
    consumer: &'c BaseConsumer<ServiceContext>,
    tags: &mut PollTags,
    clock: Clock,
    spare: &mut Messages<'c>,
) -> Option<PolledBatch<'c>> {
    let mut batch: Option<PolledBatch<'c>> = None;
    let mut timeout = POLL_TIMEOUT;
    for _ in 0..MAX_BATCH {
        match consumer.poll(timeout) {
            Some(Ok(message)) => {
                let under = tags.polled_under(message.topic(), message.partition());
                batch
                    .get_or_insert_with(|| {
                        let mut messages = std::mem::take(spare);
                        messages.reserve(MAX_BATCH as usize);
                        PolledBatch {
                            messages,
                            received: Instant::now(),
                            now: clock.now(),
                        }
                    })
                    .messages
                    .push((message, under));
            }
            Some(Err(error)) => consumer.context().consumer_error(&error, ""),
            None => break,
        }
        timeout = Duration::ZERO;
    }
    batch
}

/// Holds rebalances back while the applying thread works (see [`ServiceContext::applying`]).
fn rebalances_wait(consumer: &BaseConsumer<ServiceContext>) -> MutexGuard<'_, ()> {
    consumer
        .context()
        .applying
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Owns the engine and the consumer; runs on its own thread (and a polling thread it starts)
/// until shutdown.
pub(crate) struct IngestLoop {
    consumer: BaseConsumer<ServiceContext>,
    poll_tags: PollTags,
    state: IngestState,
}

/// Everything but the consumer, so a polled message (which borrows the consumer) can be handled.
struct IngestState {
    engine: Engine,
    checkpointer: Option<Checkpointer>,
    clock: Clock,
    status: Arc<Status>,
    assignment: Assignment,
    /// Records each message's offset, mostly without the assignment's lock.
    applied_offsets: AppliedOffsets,
    /// The batches applied since the last publish: when each was received, and its size.
    receipts: Vec<(Instant, u32)>,
    last_publish: Instant,
    /// What computing the last snapshot took.
    publish_cost: Duration,
    last_commit: Instant,
    /// `COMMIT_INTERVAL`, doubled after each failed commit.
    commit_interval: Duration,
    /// One rejection line per reason a second.
    rejection_log: Throttle<RejectReason>,
    /// The last commit error, to log a repeated one once.
    commit_error: Option<String>,
}

impl IngestLoop {
    pub(crate) fn new(
        config: &PipelineConfig,
        start: Start,
        checkpointer: Option<Checkpointer>,
        clock: Clock,
        status: Arc<Status>,
    ) -> anyhow::Result<IngestLoop> {
        let (topics, deadletter_topic) = (&config.kafka.topics, &config.kafka.deadletter_topic);
        let Start { engine, covered } = start;
        let assignment: Assignment = Arc::new(Mutex::new(Partitions::covering(covered)));
        // Unique per process: a second instance by mistake in the same group must not fence this
        // one off. What a crashed run left open, the broker aborts after the transaction timeout.
        let transactional_id = format!(
            "salespulse-{}-{}-{}",
            config.kafka.group_id,
            std::process::id(),
            chrono::Utc::now().timestamp_millis()
        );
        let context = ServiceContext {
            assignment: Arc::clone(&assignment),
            applying: Mutex::new(()),
            dead_letters: if config.kafka.write_deadletters {
                Some(Mutex::new(DeadLetters::new(
                    &config.client_config(),
                    deadletter_topic,
                    &transactional_id,
                )))
            } else {
                None
            },
            status: Arc::clone(&status),
            topics: topics.clone(),
            group_id: config.kafka.group_id.clone(),
            consumer_errors: Repeated::default(),
            connected_once: AtomicBool::new(false),
            refusal: Mutex::new(None),
            deadletter_topic_missing: AtomicBool::new(false),
        };
        let consumer_config = config.consumer_config();
        let consumer: BaseConsumer<ServiceContext> = consumer_config
            .create_with_context(context)
            .map_err(|error| {
            creation_error("creating the consumer", &consumer_config, &error)
        })?;
        let topic_names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topic_names)
            .context("subscribing to the topics")?;
        // A missing dead-letter topic is said at once; a broker that cannot tell yet is the
        // connection's problem, reported as such.
        if config.kafka.write_deadletters
            && matches!(
                deadletter_topic_exists(&consumer, deadletter_topic),
                Ok(false)
            )
        {
            let text = format!("{:#}", missing_deadletter_topic(deadletter_topic));
            error!(error = %text, "cannot write the dead letters; rejected messages wait in memory until it is fixed");
            consumer
                .context()
                .deadletter_topic_missing
                .store(true, Ordering::Release);
            status.set_deadletter_problem(Some(text));
        }
        let state = IngestState {
            engine,
            checkpointer,
            clock,
            status,
            applied_offsets: AppliedOffsets::new(Arc::clone(&assignment)),
            assignment,
            receipts: Vec::new(),
            last_publish: Instant::now(),
            publish_cost: Duration::ZERO,
            last_commit: Instant::now(),
            commit_interval: COMMIT_INTERVAL,
            rejection_log: Throttle::new(Duration::from_secs(1)),
            commit_error: None,
        };
        let poll_tags = PollTags::new(Arc::clone(&state.assignment));
        Ok(IngestLoop {
            consumer,
            poll_tags,
            state,
        })
    }

    /// Consumes until `shutdown` is cancelled, then commits what was applied and returns.
    ///
    /// A scoped thread polls and decodes (see [`poll_and_decode`]); this one applies. When this
    /// one stops, for shutdown or an error, the polling thread stops too, and the batches it
    /// polled but this one did not apply are read again by the next owner of their partitions.
    pub(crate) fn run(self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let IngestLoop {
            consumer,
            poll_tags,
            state,
        } = self;
        let settings = state.engine.settings().clone();
        let clock = state.clock;
        let stop_polling = shutdown.child_token();
        let (to_apply, decoded) = std::sync::mpsc::sync_channel(BATCHES_AHEAD);
        let (release, applied) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            let (consumer, stop) = (&consumer, &stop_polling);
            let channels = PollSide { to_apply, applied };
            std::thread::Builder::new()
                .name("salespulse-poll".to_owned())
                .spawn_scoped(scope, move || {
                    poll_and_decode(consumer, poll_tags, &settings, clock, stop, &channels);
                })
                .context("starting the polling thread")?;
            let _stop_polling = stop_polling.clone().drop_guard();
            state.apply_until(consumer, (decoded, release), shutdown)
        })
    }
}

impl IngestState {
    /// Applies the decoded `batches` until `shutdown` is cancelled or the polling thread is
    /// gone, hands their messages back to `release`, and publishes, commits and checkpoints
    /// along the way; then commits what was applied and takes a last checkpoint.
    fn apply_until<'c>(
        mut self,
        consumer: &BaseConsumer<ServiceContext>,
        (batches, release): (Receiver<DecodedBatch<'c>>, Sender<Applied<'c>>),
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        self.publish();
        while !shutdown.is_cancelled() {
            let next = match batches.recv_timeout(POLL_TIMEOUT) {
                Ok(batch) => Some(batch),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let pace = {
                // Rebalances wait for this block, not for the snapshot after it (the engine
                // alone).
                let _rebalances_wait = rebalances_wait(consumer);
                let last_poll_partial = next.as_ref().is_none_or(|next| next.batch.is_partial());
                if let Some(DecodedBatch { batch, decoded }) = next {
                    let messages = self.apply_batch(consumer, batch, &decoded);
                    // Without a polling thread (it stopped), they are released here.
                    let _ = release.send((messages, decoded));
                }
                self.update_readiness();
                if self.last_commit.elapsed() >= self.commit_interval {
                    self.commit_or_retry_later(consumer);
                }
                self.checkpoint_if_due(consumer);
                // Ready (applied up to the high watermarks seen at assignment) and the last
                // poll found less than a full batch: a partial batch alone also happens while
                // catching up.
                if self.receipts.is_empty() {
                    Pace::Idle
                } else if last_poll_partial && self.status.readiness() == Readiness::Ready {
                    Pace::Live
                } else {
                    Pace::CatchingUp
                }
            };
            if self.last_publish.elapsed() >= publish_interval(self.publish_cost, pace) {
                self.publish();
            }
        }
        let _rebalances_wait = rebalances_wait(consumer);
        self.publish();
        self.commit_and_checkpoint(consumer)?;
        info!("committed the applied offsets");
        Ok(())
    }

    /// Applies a decoded batch in order, but not the messages whose partition was revoked or
    /// re-assigned since they were polled (see [`AppliedOffsets::record`]); returns the
    /// messages, to be released on the polling thread.
    fn apply_batch<'c>(
        &mut self,
        consumer: &BaseConsumer<ServiceContext>,
        batch: PolledBatch<'c>,
        decoded: &[Decoded],
    ) -> Messages<'c> {
        let mut applied = 0;
        for ((message, under), decoded) in batch.messages.iter().zip(decoded) {
            if self.apply(consumer, message, under, decoded, batch.now) {
                applied += 1;
            }
        }
        self.receipts.push((batch.received, applied));
        batch.messages
    }

    /// Applies one message; false when it must not be (its partition's assignment is gone).
    fn apply(
        &mut self,
        consumer: &BaseConsumer<ServiceContext>,
        message: &BorrowedMessage<'_>,
        under: &PolledUnder,
        decoded: &Decoded,
        now: Timestamp,
    ) -> bool {
        // Below the group's committed offset at assignment, this message was applied and, if
        // rejected, dead-lettered before (an offset is committed only after its dead letter is
        // delivered): the state is being rebuilt, the dead letter must not be sent twice.
        let Some(already_forwarded) = self.applied_offsets.record(
            under,
            || message.topic(),
            message.partition(),
            message.offset() + 1,
        ) else {
            return false;
        };
        if let Some(checkpointer) = &mut self.checkpointer {
            checkpointer.count_message();
        }
        let Some(decoded) = decoded else {
            self.engine.ignore_tombstone();
            return true;
        };
        if let IngestOutcome::Rejected(rejection) = self.engine.ingest_decoded_at(decoded, now)
            && !already_forwarded
            && let Some(dead_letters) = &consumer.context().dead_letters
        {
            if let Some(left_out) = self.rejection_log.admit(rejection.reason, Instant::now()) {
                warn!(
                    topic = message.topic(),
                    partition = message.partition(),
                    offset = message.offset(),
                    reason = rejection.reason.as_str(),
                    detail = %rejection.detail,
                    left_out,
                    "rejected; forwarding to the dead-letter topic (at most one line per reason a second)"
                );
            }
            if let Some(error) = dead_letters
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .forward(message, rejection.reason)
            {
                self.status.errors.record(Stage::DeadLetter);
                warn!(error = %format!("{error:#}"), "dead-lettering failed; kept for the next commit");
            }
        }
        true
    }

    /// Ready once every assigned partition is applied up to its high watermark at assignment
    /// and a snapshot including all of it is published: a scrape after `/readyz` says 200
    /// sees every event that was in the topics at start.
    fn update_readiness(&mut self) {
        let readiness = {
            let assignment = self
                .assignment
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            readiness_of(assignment.plans(), self.status.unowned())
        };
        let before = self.status.readiness();
        if readiness == before {
            return;
        }
        if readiness == Readiness::Ready {
            self.publish();
            info!("caught up: ready");
        } else if before == Readiness::Ready {
            warn!(now = ?readiness, "no longer ready");
        }
        self.status.set_readiness(readiness);
    }

    /// Takes a checkpoint when one is due, or when partitions were revoked since the last one
    /// (so the state they contributed is saved with the offsets it covers).
    /// Commits the applied offsets with the dead letters forwarded since the last commit.
    fn commit(&mut self, consumer: &BaseConsumer<ServiceContext>) -> anyhow::Result<()> {
        self.last_commit = Instant::now();
        consumer.context().commit_applied(consumer)
    }

    /// Commits; a failure (the broker is away, the dead-letter topic is missing) is logged once
    /// per new error and the commit is redone after a backoff: nothing is lost meanwhile, the
    /// dead letters wait. While the dead letters cannot be written, `/readyz` says so.
    fn commit_or_retry_later(&mut self, consumer: &BaseConsumer<ServiceContext>) -> bool {
        let writes_dead_letters = consumer.context().dead_letters.is_some();
        match self.commit(consumer) {
            Ok(()) => {
                if self.commit_error.take().is_some() {
                    info!("committing again");
                }
                self.commit_interval = COMMIT_INTERVAL;
                self.status.set_deadletter_problem(None);
                true
            }
            Err(error) => {
                self.status.errors.record(Stage::Commit);
                self.commit_interval = (self.commit_interval * 2).min(MAX_COMMIT_BACKOFF);
                let text = format!("{error:#}");
                if writes_dead_letters {
                    self.status.set_deadletter_problem(Some(text.clone()));
                }
                if self.commit_error.as_deref() != Some(text.as_str()) {
                    warn!(error = %text, retry_in = ?self.commit_interval, "commit failed; retrying with backoff");
                    self.commit_error = Some(text);
                }
                false
            }
        }
    }

    fn checkpoint_if_due(&mut self, consumer: &BaseConsumer<ServiceContext>) {
        let revoked = std::mem::take(
            &mut self
                .assignment
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .revoked,
        );
        let due = self
            .checkpointer
            .as_mut()
            .is_some_and(|checkpointer| revoked || checkpointer.due());
        if due && self.commit_or_retry_later(consumer) {
            self.take_checkpoint(false);
        }
    }

    /// Commits, then captures the state with the offsets it covers and waits for it to be
    /// stored (shutdown).
    fn commit_and_checkpoint(
        &mut self,
        consumer: &BaseConsumer<ServiceContext>,
    ) -> anyhow::Result<()> {
        self.commit(consumer)?;
        self.take_checkpoint(true);
        Ok(())
    }

    /// Captures the state with the offsets it covers; `wait` for it to be stored. Only right
    /// after a successful commit: a checkpoint must not cover an offset whose dead letter is not
    /// committed, so that after a crash the restored state and the dead letters agree.
    fn take_checkpoint(&mut self, wait: bool) {
        let Some(checkpointer) = &mut self.checkpointer else {
            return;
        };
        let covered = self
            .assignment
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .covered();
        checkpointer.take(&self.engine, &covered, wait);
    }

    /// Moves the clock, snapshots the engine and hands the snapshot to the HTTP side.
    fn publish(&mut self) {
        let started = Instant::now();
        self.engine.advance_clock(self.clock.now());
        let snapshot = self.engine.snapshot();
        self.status.send_snapshot(snapshot);
        observe_processing(&self.status.processing, self.receipts.drain(..));
        self.publish_cost = started.elapsed();
        self.last_publish = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(ready_at: i64, applied: i64) -> PartitionPlan {
        PartitionPlan {
            commit_floor: 0,
            ready_at,
            applied,
            committed: 0,
        }
    }

    #[test]
    fn ready_only_when_every_partition_reached_its_watermark() {
        assert_eq!(readiness_of([], -1), Readiness::Unassigned);
        assert_eq!(readiness_of([plan(10, 10)], 0), Readiness::Ready);
        assert_eq!(readiness_of([plan(10, 11)], 0), Readiness::Ready);
        assert_eq!(
            readiness_of([plan(10, 10), plan(5, 4)], 0),
            Readiness::CatchingUp
        );
        // An empty partition (high watermark 0) is caught up from the start.
        assert_eq!(readiness_of([plan(0, 0), plan(3, 3)], 0), Readiness::Ready);
    }

    #[test]
    fn each_event_of_each_batch_is_observed_once() {
        let histogram =
            Histogram::with_opts(prometheus::HistogramOpts::new("h", "h")).expect("valid options");
        let received = Instant::now();

        observe_processing(&histogram, [(received, 3), (received, 1024), (received, 0)]);
        assert_eq!(histogram.get_sample_count(), 1027);

        observe_processing(&histogram, []);
        assert_eq!(histogram.get_sample_count(), 1027);
    }

    #[test]
    fn snapshots_wait_twice_their_cost_for_live_events_ten_times_idle_thirty_catching_up() {
        let ms = Duration::from_millis;
        assert_eq!(publish_interval(ms(10), Pace::Idle), ms(250));
        assert_eq!(publish_interval(ms(40), Pace::Idle), ms(400));
        assert_eq!(publish_interval(ms(40), Pace::Live), ms(250));
        assert_eq!(publish_interval(ms(300), Pace::Live), ms(600));
        assert_eq!(publish_interval(ms(300), Pace::Idle), ms(3000));
        assert_eq!(publish_interval(ms(5), Pace::CatchingUp), ms(250));
        assert_eq!(publish_interval(ms(300), Pace::CatchingUp), ms(9000));
    }

    #[test]
    fn never_ready_while_another_member_owns_partitions() {
        assert_eq!(
            readiness_of([plan(10, 10)], 2),
            Readiness::PartiallyAssigned
        );
        assert_eq!(readiness_of([], 15), Readiness::PartiallyAssigned);
    }
}
