//! Duplicate detection by `event_id` (EVENTS.md "Duplicates do not count", SEMANTICS C1).

use ahash::AHashMap;
use salespulse_events::Timestamp;
use xxhash_rust::xxh3::xxh3_128;

/// The ids of accepted events, as 128-bit hashes (16 bytes each instead of the id's length; a
/// collision is as likely as two random 128-bit values being equal).
///
/// Finance events are remembered forever because they feed lifetime sums. Other events are
/// forgotten once they are older than every exported window: every state they touched beyond the
/// windows keeps "earliest"/"latest" facts, which a re-delivered copy cannot change.
#[derive(Debug, Default)]
pub(crate) struct Dedup {
    seen: AHashMap<u128, Expiry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    Never,
    OlderThanWindows(Timestamp),
}

impl Dedup {
    /// Records the id; returns false when it was already seen.
    pub(crate) fn first_sighting(
        &mut self,
        event_id: &str,
        at: Timestamp,
        is_finance: bool,
    ) -> bool {
        let expiry = if is_finance {
            Expiry::Never
        } else {
            Expiry::OlderThanWindows(at)
        };
        match self.seen.entry(xxh3_128(event_id.as_bytes())) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(expiry);
                true
            }
        }
    }

    /// Forgets non-finance ids that occurred before `horizon`.
    pub(crate) fn forget_before(&mut self, horizon: Timestamp) {
        self.seen.retain(|_, expiry| match expiry {
            Expiry::Never => true,
            Expiry::OlderThanWindows(at) => *at >= horizon,
        });
    }

    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn second_sighting_is_a_duplicate_until_forgotten() {
        let old = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("valid");
        let new = Utc
            .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
            .single()
            .expect("valid");
        let mut dedup = Dedup::default();
        assert!(dedup.first_sighting("a", old, false));
        assert!(dedup.first_sighting("f", old, true));
        assert!(dedup.first_sighting("b", new, false));
        assert!(!dedup.first_sighting("a", new, false));
        dedup.forget_before(
            Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0)
                .single()
                .expect("valid"),
        );
        assert_eq!(dedup.len(), 2);
        assert!(dedup.first_sighting("a", old, false));
        assert!(!dedup.first_sighting("f", old, true));
        assert!(!dedup.first_sighting("b", new, false));
    }
}
