//! Log lines that stay readable under a flood: at most one per key and period, each saying how
//! many were left out since the last one.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use tracing::{debug, error, info, warn};

/// Decides which occurrences of a repeated event get a log line.
#[derive(Debug)]
pub(crate) struct Throttle<K> {
    period: Duration,
    /// Per key: when its last line was logged, and the occurrences left out since.
    keys: HashMap<K, (Instant, u64)>,
}

impl<K: Eq + Hash> Throttle<K> {
    pub(crate) fn new(period: Duration) -> Throttle<K> {
        Throttle {
            period,
            keys: HashMap::new(),
        }
    }

    /// An occurrence of `key` at `now`: `Some(left_out)` when it is to be logged, with the
    /// number of occurrences of the key that were not logged since its last line; `None` when it
    /// is left out.
    pub(crate) fn admit(&mut self, key: K, now: Instant) -> Option<u64> {
        match self.keys.get_mut(&key) {
            Some((last, left_out)) if now.duration_since(*last) < self.period => {
                *left_out += 1;
                None
            }
            Some((last, left_out)) => {
                *last = now;
                Some(std::mem::take(left_out))
            }
            None => {
                self.keys.insert(key, (now, 0));
                Some(0)
            }
        }
    }
}

/// Errors repeated until something resets them (librdkafka repeats connection errors on every
/// reconnection attempt, alternating between kinds): only the first of each kind is worth a
/// line until things work again.
#[derive(Debug, Default)]
pub(crate) struct Repeated {
    seen: Mutex<HashSet<String>>,
}

impl Repeated {
    /// Whether no error of this kind came since the last reset (and this one is to be logged).
    pub(crate) fn is_new(&self, kind: &str) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        !seen.contains(kind) && seen.insert(kind.to_owned())
    }

    /// Things work again: the next error of any kind is new.
    pub(crate) fn reset(&self) {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// What makes two errors the same for logging: librdkafka's error code, without the broker
/// name and counts its text carries.
pub(crate) fn error_kind(error: &KafkaError) -> String {
    error
        .rdkafka_error_code()
        .map_or_else(|| error.to_string(), |code| format!("{code:?}"))
}

/// librdkafka's own log lines, into `tracing` under the target `librdkafka`. Its `FAIL` lines
/// (a connection failed, once per broker and reconnection attempt) go to DEBUG: the connection
/// state is logged once per change by the service, and the error events carry the same text.
pub(crate) fn librdkafka_log(level: RDKafkaLogLevel, facility: &str, message: &str) {
    let quiet = facility == "FAIL";
    match level {
        _ if quiet => debug!(target: "librdkafka", "{facility}: {message}"),
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => error!(target: "librdkafka", "{facility}: {message}"),
        RDKafkaLogLevel::Warning => warn!(target: "librdkafka", "{facility}: {message}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            info!(target: "librdkafka", "{facility}: {message}");
        }
        RDKafkaLogLevel::Debug => debug!(target: "librdkafka", "{facility}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_key_and_period_with_the_count_left_out() {
        let start = Instant::now();
        let at = |millis: u64| start + Duration::from_millis(millis);
        let mut throttle = Throttle::new(Duration::from_secs(1));
        assert_eq!(throttle.admit("invalid_json", at(0)), Some(0));
        assert_eq!(throttle.admit("invalid_json", at(10)), None);
        assert_eq!(throttle.admit("invalid_json", at(999)), None);
        // Another key has its own period.
        assert_eq!(throttle.admit("too_large", at(500)), Some(0));
        // A second after the last line: logged, with the two left out.
        assert_eq!(throttle.admit("invalid_json", at(1000)), Some(2));
        assert_eq!(throttle.admit("invalid_json", at(1500)), None);
        assert_eq!(throttle.admit("invalid_json", at(5000)), Some(1));
        assert_eq!(throttle.admit("too_large", at(5000)), Some(0));
    }

    #[test]
    fn each_kind_of_error_is_new_once_until_a_reset() {
        let repeated = Repeated::default();
        assert!(repeated.is_new("AllBrokersDown"));
        assert!(!repeated.is_new("AllBrokersDown"));
        assert!(repeated.is_new("BrokerTransportFailure"));
        assert!(
            !repeated.is_new("AllBrokersDown"),
            "alternating kinds are still repeats"
        );
        repeated.reset();
        assert!(repeated.is_new("AllBrokersDown"));
        assert!(repeated.is_new("BrokerTransportFailure"));
    }
}
