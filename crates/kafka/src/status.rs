//! What the pipeline tells the outside: the published snapshot, readiness with its reason,
//! and the pipeline's own metric families. Written by the ingestion thread and the consumer's
//! callbacks, read by the HTTP handlers; everything here is cheap to read.

use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use dashmap::DashMap;
use prometheus::core::Collector;
use prometheus::proto::MetricFamily;
use prometheus::{Histogram, HistogramOpts};
use salespulse_engine::Snapshot;
use salespulse_exporter::Family;

use crate::errors::ErrorCounts;
use tokio::sync::watch;

/// Where the pipeline is on its way to serving complete numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Readiness {
    /// No partition assigned yet.
    Unassigned = 0,
    /// Partitions assigned; rebuilding state up to the high watermarks seen at assignment.
    CatchingUp = 1,
    /// Caught up: the exported numbers include everything that was in the topics at start.
    Ready = 2,
    /// Loading the newest checkpoint, before consuming.
    Restoring = 3,
    /// Some partitions of the topics belong to another member of the group.
    PartiallyAssigned = 4,
}

/// The pipeline's status, shared between ingestion and HTTP.
#[derive(Debug)]
pub struct Status {
    pub(crate) snapshot: watch::Sender<Arc<Snapshot>>,
    /// `salespulse_consumer_lag_messages{topic,partition}`: high watermark − committed offset.
    pub(crate) lag: DashMap<(String, i32), i64>,
    readiness: AtomicU8,
    /// `salespulse_event_processing_seconds`: from receipt to visible in the exported state.
    pub(crate) processing: Histogram,
    /// `salespulse_state_history_truncated{topic,partition}` of the assigned partitions.
    pub(crate) history_truncated: DashMap<(String, i32), bool>,
    /// The last successful checkpoint: Unix milliseconds (0: none yet) and duration in
    /// microseconds.
    checkpoint_at_ms: AtomicI64,
    checkpoint_micros: AtomicU64,
    /// `salespulse_partitions_unowned`; -1 until the first assignment.
    unowned: AtomicI64,
    /// `salespulse_kafka_errors_total{stage}`.
    pub(crate) errors: ErrorCounts,
    /// Since when, and why, the consumer has no working connection to the brokers' group
    /// coordinator (`None`: connected).
    disconnected: Mutex<Option<(Instant, String)>>,
    /// Why the dead letters (and the offsets committed with them) cannot be written now.
    deadletter_problem: Mutex<Option<String>>,
}

impl Status {
    pub(crate) fn new(initial: Snapshot) -> anyhow::Result<Status> {
        let processing = Histogram::with_opts(
            HistogramOpts::new(
                "salespulse_event_processing_seconds",
                "Seconds from receiving an event to its being visible in the exported state.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        )?;
        Ok(Status {
            snapshot: watch::Sender::new(Arc::new(initial)),
            lag: DashMap::new(),
            readiness: AtomicU8::new(Readiness::Unassigned as u8),
            processing,
            history_truncated: DashMap::new(),
            checkpoint_at_ms: AtomicI64::new(0),
            checkpoint_micros: AtomicU64::new(0),
            unowned: AtomicI64::new(-1),
            errors: ErrorCounts::default(),
            disconnected: Mutex::new(None),
            deadletter_problem: Mutex::new(None),
        })
    }

    pub fn readiness(&self) -> Readiness {
        match self.readiness.load(Ordering::Acquire) {
            4 => Readiness::PartiallyAssigned,
            3 => Readiness::Restoring,
            2 => Readiness::Ready,
            1 => Readiness::CatchingUp,
            _ => Readiness::Unassigned,
        }
    }

    /// The latest published snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot.borrow())
    }

    /// Every snapshot the pipeline publishes (the demo prints a summary from them).
    pub fn snapshots(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.snapshot.subscribe()
    }

    /// Records whether the consumer is connected to the group coordinator: `Some(why)` when
    /// not. Returns true when that changed.
    pub(crate) fn set_disconnected(&self, why: Option<String>) -> bool {
        let mut disconnected = self
            .disconnected
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match (disconnected.as_mut(), why) {
            (None, None) => false,
            (Some(_), None) => {
                *disconnected = None;
                true
            }
            (None, Some(why)) => {
                *disconnected = Some((Instant::now(), why));
                true
            }
            (Some((_, before)), Some(why)) => {
                *before = why;
                false
            }
        }
    }

    pub(crate) fn set_deadletter_problem(&self, problem: Option<String>) {
        *self
            .deadletter_problem
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = problem;
    }

    pub(crate) fn is_disconnected(&self) -> bool {
        self.disconnected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// Why `/readyz` is 503, or `None` when the exported numbers are complete and current.
    pub fn not_ready_reason(&self) -> Option<String> {
        if let Some((since, why)) = self
            .disconnected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            return Some(format!(
                "no connection to the Kafka brokers for {} s ({why}); reconnecting",
                since.elapsed().as_secs()
            ));
        }
        if let Some(problem) = self
            .deadletter_problem
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            return Some(format!(
                "cannot write the dead letters: {problem}; retrying"
            ));
        }
        match self.readiness() {
            Readiness::Ready => None,
            Readiness::CatchingUp => Some("catching up with the partitions".to_owned()),
            Readiness::Unassigned => Some("no partition assigned yet".to_owned()),
            Readiness::Restoring => Some("restoring the state from a checkpoint".to_owned()),
            Readiness::PartiallyAssigned => Some(format!(
                "{} partitions of the topics are assigned to another member of the consumer group; give each replica its own [kafka] group_id",
                self.unowned()
            )),
        }
    }

    /// Publishes a snapshot for `/metrics`.
    pub(crate) fn send_snapshot(&self, snapshot: Snapshot) {
        self.snapshot.send_replace(Arc::new(snapshot));
    }

    pub(crate) fn set_readiness(&self, readiness: Readiness) {
        self.readiness.store(readiness as u8, Ordering::Release);
    }

    /// Partitions of the configured topics this instance does not own (0: all owned).
    pub(crate) fn unowned(&self) -> i64 {
        self.unowned.load(Ordering::Acquire)
    }

    pub(crate) fn set_unowned(&self, unowned: usize) {
        self.unowned.store(
            i64::try_from(unowned).unwrap_or(i64::MAX),
            Ordering::Release,
        );
    }

    /// A checkpoint was written in `seconds`.
    pub(crate) fn record_checkpoint(&self, seconds: f64) {
        self.checkpoint_micros
            .store((seconds * 1e6).max(1.0) as u64, Ordering::Release);
        self.checkpoint_at_ms
            .store(chrono::Utc::now().timestamp_millis(), Ordering::Release);
    }

    /// The state was restored from a checkpoint written at `created_at_ms`: until this process
    /// writes one, that is the last successful checkpoint.
    pub(crate) fn record_restored_checkpoint(&self, created_at_ms: i64) {
        self.checkpoint_at_ms
            .store(created_at_ms, Ordering::Release);
    }

    /// The pipeline's own families, appended to the engine's exposition.
    pub fn service_families(&self) -> Vec<MetricFamily> {
        let lag = partition_family(
            "salespulse_consumer_lag_messages",
            "High watermark minus committed offset, per assigned partition.",
            &self.lag,
            |lag| *lag as f64,
        );
        let truncated = partition_family(
            "salespulse_state_history_truncated",
            "1 when the earliest retained offset of an assigned partition is above what the state covers (history lost to retention).",
            &self.history_truncated,
            |truncated| f64::from(u8::from(*truncated)),
        );
        let mut last_checkpoint = Family::gauge(
            "salespulse_checkpoint_last_success_timestamp_seconds",
            "When the last checkpoint was written (Unix seconds).",
        );
        let mut checkpoint_duration = Family::gauge(
            "salespulse_checkpoint_duration_seconds",
            "How long the last checkpoint took, from capturing the state to its being stored.",
        );
        let at_ms = self.checkpoint_at_ms.load(Ordering::Acquire);
        if at_ms > 0 {
            last_checkpoint.sample(&[], at_ms as f64 / 1e3);
        }
        let micros = self.checkpoint_micros.load(Ordering::Acquire);
        if micros > 0 {
            checkpoint_duration.sample(&[], micros as f64 / 1e6);
        }
        let mut unowned = Family::gauge(
            "salespulse_partitions_unowned",
            "Partitions of the configured topics not assigned to this instance (should be 0: one instance per consumer group).",
        );
        let count = self.unowned();
        if count >= 0 {
            unowned.sample(&[], count as f64);
        }
        let mut errors = Family::counter(
            "salespulse_kafka_errors_total",
            "Errors of the service by stage: consume, commit, deadletter, checkpoint.",
        );
        for (stage, count) in self.errors.counts() {
            errors.sample(&[("stage", stage.label())], count as f64);
        }
        let mut ready = Family::gauge(
            "salespulse_ready",
            "1 when /readyz answers 200 (the exported numbers are complete and current), else 0.",
        );
        ready.sample(&[], f64::from(u8::from(self.not_ready_reason().is_none())));
        let mut families: Vec<MetricFamily> = lag.finish().into_iter().collect();
        families.extend(ready.finish());
        families.extend(unowned.finish());
        families.extend(errors.finish());
        families.extend(self.processing.collect());
        families.extend(truncated.finish());
        families.extend(last_checkpoint.finish());
        families.extend(checkpoint_duration.finish());
        families
    }
}

/// A gauge with one sample per `(topic, partition)` of `values`, in a fixed order.
fn partition_family<V>(
    name: &str,
    help: &str,
    values: &DashMap<(String, i32), V>,
    value: impl Fn(&V) -> f64,
) -> Family {
    let mut family = Family::gauge(name, help);
    let mut partitions: Vec<((String, i32), f64)> = values
        .iter()
        .map(|entry| (entry.key().clone(), value(entry.value())))
        .collect();
    partitions.sort_by(|a, b| a.0.cmp(&b.0));
    for ((topic, partition), sample) in partitions {
        family.sample(
            &[
                ("topic", topic.as_str()),
                ("partition", &partition.to_string()),
            ],
            sample,
        );
    }
    family
}

#[cfg(test)]
mod tests {
    use salespulse_engine::{Engine, Settings};

    use super::*;

    fn status() -> Status {
        let now = chrono::Utc::now();
        Status::new(Engine::new(Settings::default(), now).snapshot()).expect("status")
    }

    #[test]
    fn each_phase_but_ready_names_its_reason() {
        let status = status();
        let reason = |readiness| {
            status.set_readiness(readiness);
            status.not_ready_reason()
        };
        assert_eq!(reason(Readiness::Ready), None);
        assert_eq!(
            reason(Readiness::Unassigned).as_deref(),
            Some("no partition assigned yet")
        );
        assert_eq!(
            reason(Readiness::CatchingUp).as_deref(),
            Some("catching up with the partitions")
        );
        assert_eq!(
            reason(Readiness::Restoring).as_deref(),
            Some("restoring the state from a checkpoint")
        );
        status.set_unowned(3);
        assert_eq!(
            reason(Readiness::PartiallyAssigned).as_deref(),
            Some(
                "3 partitions of the topics are assigned to another member of the consumer group; give each replica its own [kafka] group_id"
            )
        );
    }

    #[test]
    fn a_lost_connection_overrides_ready_until_it_is_back() {
        let status = status();
        status.set_readiness(Readiness::Ready);
        assert!(!status.set_disconnected(None), "connected already");
        assert!(status.set_disconnected(Some("no broker is up".to_owned())));
        assert!(
            !status.set_disconnected(Some("consumer group state wait-coord".to_owned())),
            "a new reason is not a new loss"
        );
        assert_eq!(
            status.not_ready_reason().as_deref(),
            Some(
                "no connection to the Kafka brokers for 0 s (consumer group state wait-coord); reconnecting"
            )
        );
        assert!(status.set_disconnected(None), "back");
        assert_eq!(status.not_ready_reason(), None);
    }
}
