//! The pipeline's own counters (C25): what came in and what became of it.
//!
//! Kept apart from the metrics: ingestion updates them on every line, before and whatever the
//! state does with the event, and the snapshot only copies them out.

use salespulse_events::{EventType, IgnoreReason, RejectReason, Timestamp};

/// The pipeline's own counters (C25).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipelineCounters {
    /// Accepted, non-duplicate events, indexed like [`EventType::ALL`].
    pub accepted: [u64; EventType::ALL.len()],
    /// Rejected lines, indexed like [`RejectReason::ALL`].
    pub rejected: [u64; RejectReason::ALL.len()],
    /// Messages that are not events (tombstones), indexed like [`IgnoreReason::ALL`].
    pub ignored: [u64; IgnoreReason::ALL.len()],
    pub duplicates: u64,
    pub late: u64,
    pub last_event: Option<Timestamp>,
}

impl PipelineCounters {
    pub(crate) fn record_accepted(&mut self, event_type: EventType, at: Timestamp) {
        if let Some(index) = EventType::ALL.iter().position(|t| *t == event_type) {
            self.accepted[index] += 1;
        }
        self.last_event = self.last_event.max(Some(at));
    }

    pub(crate) fn record_rejected(&mut self, reason: RejectReason) {
        if let Some(index) = RejectReason::ALL.iter().position(|r| *r == reason) {
            self.rejected[index] += 1;
        }
    }

    pub(crate) fn record_ignored(&mut self, reason: IgnoreReason) {
        if let Some(index) = IgnoreReason::ALL.iter().position(|r| *r == reason) {
            self.ignored[index] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn each_record_counts_in_its_own_slot() {
        let at = |hour| {
            Utc.with_ymd_and_hms(2026, 11, 25, hour, 0, 0)
                .single()
                .expect("valid instant")
        };
        let mut counters = PipelineCounters::default();
        counters.record_accepted(EventType::Expense, at(10));
        counters.record_accepted(EventType::Expense, at(9));
        counters.record_accepted(EventType::Activity, at(8));
        counters.record_rejected(RejectReason::TooLarge);
        counters.record_ignored(IgnoreReason::Tombstone);
        counters.record_ignored(IgnoreReason::Tombstone);

        // `expense` is the tenth event type, `activity` the first.
        let mut accepted = [0; 13];
        accepted[9] = 2;
        accepted[0] = 1;
        assert_eq!(counters.accepted, accepted);
        let too_large = RejectReason::ALL
            .iter()
            .position(|reason| *reason == RejectReason::TooLarge)
            .expect("a reason");
        assert_eq!(counters.rejected.iter().sum::<u64>(), 1);
        assert_eq!(counters.rejected[too_large], 1);
        assert_eq!(counters.ignored, [2]);
        // The latest event time, not the last one recorded.
        assert_eq!(counters.last_event, Some(at(10)));
        assert_eq!((counters.duplicates, counters.late), (0, 0));
    }
}
