//! "First" and "latest" by `(occurred_at, event_id)`, the total order of SEMANTICS C9.

use salespulse_events::Timestamp;
use serde::{Deserialize, Serialize};

use crate::state::codec;

/// A value together with the event that set it, ordered by `(at, event_id)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stamped<T> {
    #[serde(with = "codec::timestamp")]
    pub(crate) at: Timestamp,
    pub(crate) event_id: Box<str>,
    pub(crate) value: T,
}

impl<T> Stamped<T> {
    pub(crate) fn new(at: Timestamp, event_id: &str, value: T) -> Self {
        Stamped {
            at,
            event_id: event_id.into(),
            value,
        }
    }

    fn key(&self) -> (Timestamp, &str) {
        (self.at, &self.event_id)
    }
}

/// Keeps the smallest `(at, event_id)` in `slot`; idempotent, so order of offers does not matter.
pub(crate) fn keep_earliest<T>(slot: &mut Option<Stamped<T>>, candidate: Stamped<T>) {
    if slot
        .as_ref()
        .is_none_or(|kept| candidate.key() < kept.key())
    {
        *slot = Some(candidate);
    }
}

/// Keeps the largest `(at, event_id)` in `slot`.
pub(crate) fn keep_latest<T>(slot: &mut Option<Stamped<T>>, candidate: Stamped<T>) {
    if slot
        .as_ref()
        .is_none_or(|kept| candidate.key() > kept.key())
    {
        *slot = Some(candidate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn at(second: u32) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, second)
            .single()
            .expect("valid test instant")
    }

    #[test]
    fn earliest_and_latest_break_ties_by_event_id() {
        let mut first = None;
        let mut last = None;
        for (second, id) in [(5, "b"), (5, "a"), (7, "z"), (3, "y"), (7, "c")] {
            keep_earliest(&mut first, Stamped::new(at(second), id, id));
            keep_latest(&mut last, Stamped::new(at(second), id, id));
        }
        assert_eq!(first.map(|s| s.value), Some("y"));
        assert_eq!(last.map(|s| s.value), Some("z"));
    }
}
