//! The ingestion loop: poll, apply, dead-letter, store offsets, publish snapshots.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use prometheus::Histogram;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use salespulse_engine::{Engine, IngestOutcome};
use salespulse_events::{RejectReason, Timestamp};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::checkpoint::{Checkpointer, Start};
use crate::deadletter::DeadLetters;
use crate::errors::Stage;
use crate::pipeline::PipelineConfig;
use crate::properties::creation_error;
use crate::rebalance::{
    AppliedOffsets, Assignment, PartitionPlan, Partitions, ServiceContext, deadletter_topic_exists,
    missing_deadletter_topic,
};
use crate::status::{Readiness, Status};
use crate::throttle::{Repeated, Throttle};

const POLL_TIMEOUT: Duration = Duration::from_millis(100);
/// The most polls in one batch: what is polled without waiting, up to this many messages,
/// before the loop's other work (readiness, publishing, commits, checkpoints, shutdown) gets a
/// look: a few milliseconds of work.
const MAX_BATCH: u32 = 1024;
/// Snapshots are published at least this often while anything changes, and at most so often
/// that computing them takes a tenth of the ingestion thread's time.
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

/// Owns the engine and the consumer; runs on its own thread until shutdown.
pub(crate) struct IngestLoop {
    consumer: BaseConsumer<ServiceContext>,
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
    publish_interval: Duration,
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
            publish_interval: MIN_PUBLISH_INTERVAL,
            last_commit: Instant::now(),
            commit_interval: COMMIT_INTERVAL,
            rejection_log: Throttle::new(Duration::from_secs(1)),
            commit_error: None,
        };
        Ok(IngestLoop { consumer, state })
    }

    /// Consumes until `shutdown` is cancelled, then commits what was applied and returns.
    pub(crate) fn run(self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let IngestLoop {
            consumer,
            mut state,
        } = self;
        state.publish();
        while !shutdown.is_cancelled() {
            state.consume_batch(&consumer)?;
            state.update_readiness();
            if state.last_publish.elapsed() >= state.publish_interval {
                state.publish();
            }
            if state.last_commit.elapsed() >= state.commit_interval {
                state.commit_or_retry_later(&consumer);
            }
            state.checkpoint_if_due(&consumer);
        }
        state.publish();
        state.commit_and_checkpoint(&consumer)?;
        info!("committed the applied offsets");
        Ok(())
    }
}

impl IngestState {
    /// Waits up to `POLL_TIMEOUT` for a message, then handles it and whatever else is polled
    /// without waiting, up to `MAX_BATCH` polls. Each message is handled before the next poll,
    /// since a poll may run the rebalance callback, which commits everything polled so far as
    /// applied. The batch shares one receipt time and one "now": when its first message came.
    fn consume_batch(&mut self, consumer: &BaseConsumer<ServiceContext>) -> anyhow::Result<()> {
        let mut received: Option<(Instant, Timestamp)> = None;
        let mut handled = 0;
        let mut timeout = POLL_TIMEOUT;
        for _ in 0..MAX_BATCH {
            match consumer.poll(timeout) {
                Some(Ok(message)) => {
                    let (_, now) =
                        *received.get_or_insert_with(|| (Instant::now(), self.clock.now()));
                    self.handle(consumer, &message, now)?;
                    handled += 1;
                }
                Some(Err(error)) => consumer.context().consumer_error(&error, ""),
                None => break,
            }
            timeout = Duration::ZERO;
        }
        if let Some((at, _)) = received {
            self.receipts.push((at, handled));
        }
        Ok(())
    }

    fn handle(
        &mut self,
        consumer: &BaseConsumer<ServiceContext>,
        message: &BorrowedMessage<'_>,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        // Below the group's committed offset at assignment, this message was applied and, if
        // rejected, dead-lettered before (an offset is committed only after its dead letter is
        // delivered): the state is being rebuilt, the dead letter must not be sent twice.
        let already_forwarded =
            self.applied_offsets
                .record(message.topic(), message.partition(), message.offset() + 1);
        if let Some(checkpointer) = &mut self.checkpointer {
            checkpointer.count_message();
        }
        let Some(payload) = message.payload() else {
            // A tombstone (a deletion marker on a compacted topic) is not an event.
            self.engine.ignore_tombstone();
            return Ok(());
        };
        if let IngestOutcome::Rejected(rejection) = self.engine.ingest_at(payload, now)
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
        Ok(())
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
        let cost = started.elapsed();
        self.publish_interval = MIN_PUBLISH_INTERVAL.max(cost * 10);
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
    fn never_ready_while_another_member_owns_partitions() {
        assert_eq!(
            readiness_of([plan(10, 10)], 2),
            Readiness::PartiallyAssigned
        );
        assert_eq!(readiness_of([], 15), Readiness::PartiallyAssigned);
    }
}
