//! Duplicate detection by `event_id` (EVENTS.md "Duplicates do not count", SEMANTICS C1).

use ahash::AHashMap;
use hashbrown::HashTable;
use salespulse_events::Timestamp;
use xxhash_rust::xxh3::xxh3_128;

/// The ids of accepted events, as 128-bit hashes (16 bytes each instead of the id's length; a
/// collision is as likely as two random 128-bit values being equal).
///
/// Finance events are remembered forever because they feed lifetime sums. Other events are
/// forgotten once they are older than every exported window: every state they touched beyond the
/// windows keeps "earliest"/"latest" facts, which a re-delivered copy cannot change.
///
/// With millions of ids this is one of the largest parts of the state, so an id takes 24 bytes:
/// its hash as two `u64` (not a `u128`, whose 16-byte alignment would pad the entry to 32) and the
/// instant it may be forgotten after as nanoseconds since the epoch, which is exact for every
/// instant from 1677 to 2262. The rare id of an event outside those years keeps its instant as it
/// is, in a map of its own, so forgetting stays exact for every instant.
#[derive(Debug, Default)]
pub(crate) struct Dedup {
    /// Ids by the low half of their hash (already uniformly mixed, so it is the table's hash).
    seen: HashTable<Seen>,
    /// Ids whose instant has no nanosecond count in an `i64`.
    far: AHashMap<u128, Expiry>,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    low: u64,
    high: u64,
    /// Nanoseconds since the epoch of the instant after which the id may be forgotten, or
    /// [`NEVER`].
    expiry: i64,
}

/// The expiry of finance ids; an event at that very nanosecond goes to [`Dedup::far`].
const NEVER: i64 = i64::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    Never,
    OlderThanWindows(Timestamp),
}

impl Seen {
    fn new(hash: u128, expiry: i64) -> Seen {
        Seen {
            low: hash as u64,
            high: (hash >> 64) as u64,
            expiry,
        }
    }

    fn hash(&self) -> u128 {
        u128::from(self.high) << 64 | u128::from(self.low)
    }
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
        self.insert(xxh3_128(event_id.as_bytes()), expiry)
    }

    /// Adds `hash`; false if it was already there.
    fn insert(&mut self, hash: u128, expiry: Expiry) -> bool {
        let seen = Seen::new(hash, 0);
        let same = |kept: &Seen| kept.low == seen.low && kept.high == seen.high;
        if self.seen.find(seen.low, same).is_some() || self.far.contains_key(&hash) {
            return false;
        }
        let nanos = match expiry {
            Expiry::Never => Some(NEVER),
            Expiry::OlderThanWindows(at) => at.timestamp_nanos_opt().filter(|&n| n != NEVER),
        };
        match nanos {
            Some(nanos) => {
                self.seen
                    .insert_unique(seen.low, Seen::new(hash, nanos), |kept| kept.low);
            }
            None => {
                self.far.insert(hash, expiry);
            }
        }
        true
    }

    /// Forgets non-finance ids that occurred before `horizon`.
    pub(crate) fn forget_before(&mut self, horizon: Timestamp) {
        // A horizon beyond the nanosecond range is before or after every instant in it.
        let horizon_nanos =
            horizon
                .timestamp_nanos_opt()
                .unwrap_or(if horizon < Timestamp::UNIX_EPOCH {
                    i64::MIN
                } else {
                    NEVER
                });
        self.seen
            .retain(|seen| seen.expiry == NEVER || seen.expiry >= horizon_nanos);
        self.far.retain(|_, expiry| match expiry {
            Expiry::Never => true,
            Expiry::OlderThanWindows(at) => *at >= horizon,
        });
    }

    pub(crate) fn len(&self) -> usize {
        self.seen.len() + self.far.len()
    }

    /// Every remembered id hash with the instant after which it may be forgotten (`None`: never),
    /// sorted by hash so that equal sets save to equal bytes.
    pub(crate) fn entries(&self) -> Vec<(u128, Option<Timestamp>)> {
        let mut entries: Vec<(u128, Option<Timestamp>)> = self
            .seen
            .iter()
            .map(|seen| {
                let expiry =
                    (seen.expiry != NEVER).then(|| Timestamp::from_timestamp_nanos(seen.expiry));
                (seen.hash(), expiry)
            })
            .chain(self.far.iter().map(|(&hash, expiry)| {
                let expiry = match expiry {
                    Expiry::Never => None,
                    Expiry::OlderThanWindows(at) => Some(*at),
                };
                (hash, expiry)
            }))
            .collect();
        entries.sort_unstable_by_key(|&(hash, _)| hash);
        entries
    }

    /// Rebuilds the set from [`Dedup::entries`]; `None` if a hash repeats.
    pub(crate) fn from_entries(
        entries: impl ExactSizeIterator<Item = (u128, Option<Timestamp>)>,
    ) -> Option<Dedup> {
        let mut dedup = Dedup {
            seen: HashTable::with_capacity(entries.len()),
            far: AHashMap::new(),
        };
        for (hash, expiry) in entries {
            let expiry = expiry.map_or(Expiry::Never, Expiry::OlderThanWindows);
            if !dedup.insert(hash, expiry) {
                return None;
            }
        }
        Some(dedup)
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

    #[test]
    fn instants_beyond_the_nanosecond_range_are_forgotten_exactly() {
        let instant = |text: &str| salespulse_events::parse_timestamp(text).expect("valid");
        let ancient = instant("1200-03-01T00:00:00.5Z");
        let distant = instant("2500-01-01T00:00:00Z");
        let edge = Timestamp::from_timestamp_nanos(i64::MAX);
        let recent = instant("2026-11-01T00:00:00Z");
        let mut dedup = Dedup::default();
        for (id, at) in [("a", ancient), ("d", distant), ("e", edge), ("r", recent)] {
            assert!(dedup.first_sighting(id, at, false));
        }
        assert!(dedup.first_sighting("f", ancient, true));
        assert_eq!((dedup.seen.len(), dedup.far.len()), (2, 3));
        assert!(
            !dedup.first_sighting("a", recent, false),
            "found in the far map"
        );

        // Half a second after the ancient one: only it goes.
        dedup.forget_before(instant("1200-03-01T00:00:01Z"));
        assert_eq!(dedup.len(), 4);
        assert!(!dedup.first_sighting("e", recent, false));
        // Past the edge of the range: everything but the finance id and the distant one goes.
        dedup.forget_before(instant("2300-01-01T00:00:00Z"));
        let kept: Vec<Option<Timestamp>> = dedup.entries().into_iter().map(|(_, at)| at).collect();
        assert_eq!(kept.len(), 2);
        assert!(kept.contains(&None) && kept.contains(&Some(distant)));
        let rebuilt = Dedup::from_entries(dedup.entries().into_iter()).expect("distinct");
        assert_eq!(rebuilt.entries(), dedup.entries());
        assert!(Dedup::from_entries([(7, None), (7, Some(recent))].into_iter()).is_none());
    }
}
