//! "First" and "latest" by `(occurred_at, event_id)`, the total order of SEMANTICS C9.

use compact_str::CompactString;
use salespulse_events::Timestamp;
use serde::{Deserialize, Serialize};

use crate::state::codec;

/// A value together with the event that set it, ordered by `(at, event_id)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stamped<T> {
    #[serde(with = "codec::timestamp")]
    pub(crate) at: Timestamp,
    /// Kept only to break ties between equal instants (C9), yet held several times by every
    /// lead, deal and customer: inline up to 24 bytes (the simulator's `sim-7-1234567`, most
    /// sequence-style ids), boxed beyond (a UUID).
    pub(crate) event_id: CompactString,
    pub(crate) value: T,
}

impl<T> Stamped<T> {
    pub(crate) fn new(at: Timestamp, event_id: &str, value: T) -> Self {
        Stamped {
            at,
            event_id: CompactString::new(event_id),
            value,
        }
    }

    fn key(&self) -> (Timestamp, &CompactString) {
        (self.at, &self.event_id)
    }

    /// Whether `self` comes first in the `(at, event_id)` order.
    pub(crate) fn is_before<U>(&self, other: &Stamped<U>) -> bool {
        self.key() < other.key()
    }
}

/// The earliest of several instants offered, for a fact whose value is the instant alone: ties
/// cannot change it, so unlike [`Stamped`] it keeps no event id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Earliest {
    #[serde(with = "codec::timestamp")]
    pub(crate) at: Timestamp,
}

impl Earliest {
    pub(crate) fn offer(slot: &mut Option<Earliest>, at: Timestamp) {
        if slot.is_none_or(|kept| at < kept.at) {
            *slot = Some(Earliest { at });
        }
    }
}

/// Keeps the smallest `(at, event_id)` in `slot`; idempotent, so order of offers does not matter.
pub(crate) fn keep_earliest<T>(slot: &mut Option<Stamped<T>>, candidate: Stamped<T>) {
    if slot.as_ref().is_none_or(|kept| candidate.is_before(kept)) {
        *slot = Some(candidate);
    }
}

/// Keeps the largest `(at, event_id)` in `slot`.
pub(crate) fn keep_latest<T>(slot: &mut Option<Stamped<T>>, candidate: Stamped<T>) {
    if slot.as_ref().is_none_or(|kept| kept.is_before(&candidate)) {
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

    #[test]
    fn earliest_keeps_the_smallest_instant() {
        let mut slot = None;
        for second in [9, 4, 7, 4] {
            Earliest::offer(&mut slot, at(second));
        }
        assert_eq!(slot, Some(Earliest { at: at(4) }));
    }

    #[test]
    fn ids_save_as_their_text() {
        for id in ["sim-7-1", "0b7e4a52-3c1f-4d3e-9a55-6f1d2c3b4a59"] {
            let bytes = postcard::to_stdvec(&CompactString::new(id)).expect("serializes");
            assert_eq!(bytes, postcard::to_stdvec(id).expect("serializes"));
            let back: CompactString = postcard::from_bytes(&bytes).expect("deserializes");
            assert_eq!(back.as_str(), id);
        }
    }
}
