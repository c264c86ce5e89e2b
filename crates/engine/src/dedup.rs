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

    /// Every remembered id hash with the instant after which it may be forgotten (`None`: never),
    /// sorted by hash so that equal sets save to equal bytes.
    pub(crate) fn entries(&self) -> Vec<(u128, Option<Timestamp>)> {
        let mut entries: Vec<(u128, Option<Timestamp>)> = self
            .seen
            .iter()
            .map(|(&hash, expiry)| {
                let expiry = match expiry {
                    Expiry::Never => None,
                    Expiry::OlderThanWindows(at) => Some(*at),
                };
                (hash, expiry)
            })
            .collect();
        entries.sort_unstable_by_key(|&(hash, _)| hash);
        entries
    }

    /// Rebuilds the set from [`Dedup::entries`]; `None` if a hash repeats.
    pub(crate) fn from_entries(
        entries: impl ExactSizeIterator<Item = (u128, Option<Timestamp>)>,
    ) -> Option<Dedup> {
        let mut seen = AHashMap::with_capacity(entries.len());
        for (hash, expiry) in entries {
            let expiry = expiry.map_or(Expiry::Never, Expiry::OlderThanWindows);
            if seen.insert(hash, expiry).is_some() {
                return None;
            }
        }
        Some(Dedup { seen })
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
