//! Errors of the service's Kafka and state work, counted by stage so dashboards and alerts see
//! them (`salespulse_kafka_errors_total{stage}`), beside the log line each one also gets.

use std::sync::atomic::{AtomicU64, Ordering};

/// Where an error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Polling the consumer (broker unreachable, partition errors).
    Consume,
    /// Committing offsets (and, with them, the dead letters).
    Commit,
    /// Writing to the dead-letter topic.
    DeadLetter,
    /// Writing or reading a checkpoint.
    Checkpoint,
}

impl Stage {
    pub(crate) const ALL: [Stage; 4] = [
        Stage::Consume,
        Stage::Commit,
        Stage::DeadLetter,
        Stage::Checkpoint,
    ];

    /// The `stage` label.
    pub(crate) const fn label(self) -> &'static str {
        match self {
            Stage::Consume => "consume",
            Stage::Commit => "commit",
            Stage::DeadLetter => "deadletter",
            Stage::Checkpoint => "checkpoint",
        }
    }
}

/// One counter per stage.
#[derive(Debug, Default)]
pub(crate) struct ErrorCounts([AtomicU64; Stage::ALL.len()]);

impl ErrorCounts {
    pub(crate) fn record(&self, stage: Stage) {
        self.0[stage as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Every stage with its count, 0 included (so `increase()` works from the start).
    pub(crate) fn counts(&self) -> impl Iterator<Item = (Stage, u64)> + '_ {
        Stage::ALL
            .into_iter()
            .map(|stage| (stage, self.0[stage as usize].load(Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stage_counts_its_own_errors() {
        let counts = ErrorCounts::default();
        counts.record(Stage::Commit);
        counts.record(Stage::Commit);
        counts.record(Stage::Checkpoint);
        let seen: Vec<(&str, u64)> = counts
            .counts()
            .map(|(stage, count)| (stage.label(), count))
            .collect();
        assert_eq!(
            seen,
            [
                ("consume", 0),
                ("commit", 2),
                ("deadletter", 0),
                ("checkpoint", 1)
            ]
        );
    }
}
