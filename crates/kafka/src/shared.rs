//! What the ingestion thread shares with the HTTP handlers.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};

use dashmap::DashMap;
use prometheus::core::Collector;
use prometheus::proto::MetricFamily;
use prometheus::{Histogram, HistogramOpts};
use salespulse_engine::Snapshot;
use salespulse_exporter::{Family, Selection};

use crate::errors::ErrorCounts;
use tokio::sync::watch;

/// Where the service is on its way to serving complete numbers.
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

/// State shared between ingestion and HTTP. Everything here is cheap to read.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) snapshot: watch::Sender<Arc<Snapshot>>,
    /// `salespulse_consumer_lag_messages{topic,partition}`: high watermark − committed offset.
    pub(crate) lag: DashMap<(String, i32), i64>,
    readiness: AtomicU8,
    /// `salespulse_event_processing_seconds`: from receipt to visible in the exported state.
    pub(crate) processing: Histogram,
    /// `[export]`: which series `/metrics` carries.
    pub(crate) export: Selection,
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
}

impl Shared {
    pub(crate) fn new(initial: Snapshot, export: Selection) -> anyhow::Result<Shared> {
        let processing = Histogram::with_opts(
            HistogramOpts::new(
                "salespulse_event_processing_seconds",
                "Seconds from receiving an event to its being visible in the exported state.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        )?;
        Ok(Shared {
            snapshot: watch::Sender::new(Arc::new(initial)),
            lag: DashMap::new(),
            readiness: AtomicU8::new(Readiness::Unassigned as u8),
            processing,
            export,
            history_truncated: DashMap::new(),
            checkpoint_at_ms: AtomicI64::new(0),
            checkpoint_micros: AtomicU64::new(0),
            unowned: AtomicI64::new(-1),
            errors: ErrorCounts::default(),
        })
    }

    pub(crate) fn readiness(&self) -> Readiness {
        match self.readiness.load(Ordering::Acquire) {
            4 => Readiness::PartiallyAssigned,
            3 => Readiness::Restoring,
            2 => Readiness::Ready,
            1 => Readiness::CatchingUp,
            _ => Readiness::Unassigned,
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

    /// The service's own families, appended to the engine's exposition.
    pub(crate) fn service_families(&self) -> Vec<MetricFamily> {
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
        let mut families: Vec<MetricFamily> = lag.finish().into_iter().collect();
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
