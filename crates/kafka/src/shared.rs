//! What the ingestion thread shares with the HTTP handlers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use dashmap::DashMap;
use prometheus::core::Collector;
use prometheus::proto::MetricFamily;
use prometheus::{Histogram, HistogramOpts};
use salespulse_engine::Snapshot;
use salespulse_exporter::{Family, Selection};
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
        })
    }

    pub(crate) fn readiness(&self) -> Readiness {
        match self.readiness.load(Ordering::Acquire) {
            2 => Readiness::Ready,
            1 => Readiness::CatchingUp,
            _ => Readiness::Unassigned,
        }
    }

    pub(crate) fn set_readiness(&self, readiness: Readiness) {
        self.readiness.store(readiness as u8, Ordering::Release);
    }

    /// The service's own families, appended to the engine's exposition.
    pub(crate) fn service_families(&self) -> Vec<MetricFamily> {
        let mut lag = Family::gauge(
            "salespulse_consumer_lag_messages",
            "High watermark minus committed offset, per assigned partition.",
        );
        let mut partitions: Vec<((String, i32), i64)> = self
            .lag
            .iter()
            .map(|entry| (entry.key().clone(), *entry.value()))
            .collect();
        partitions.sort();
        for ((topic, partition), value) in partitions {
            lag.sample(
                &[
                    ("topic", topic.as_str()),
                    ("partition", &partition.to_string()),
                ],
                value as f64,
            );
        }
        let mut families: Vec<MetricFamily> = lag.finish().into_iter().collect();
        families.extend(self.processing.collect());
        families
    }
}
