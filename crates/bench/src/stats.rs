//! Percentiles and the freshness latencies, computed from raw observations.

use std::time::Duration;

/// The nearest-rank percentile `p` (0 < p ≤ 100) of ascending `sorted`: the smallest value
/// with at least p % of the values at or below it. `None` when empty.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
}

/// When each event became visible, as an upper bound: events are numbered in the order they
/// were sent (`sent[i]` is when event i was sent, from a common origin); a scrape at time `t`
/// counting `c` events shows that events `0..c` are visible at `t` at the latest. Each event's
/// latency is the first such `t` minus its send time; events never counted get none. Assumes
/// the service counts events in about the order they were sent (it reads several partitions,
/// so an event may overtake another by a little).
pub fn visibility_latencies(sent: &[Duration], scrapes: &[(Duration, u64)]) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(sent.len());
    for &(at, counted) in scrapes {
        let visible = usize::try_from(counted)
            .unwrap_or(usize::MAX)
            .min(sent.len());
        for sent_at in sent.iter().take(visible).skip(latencies.len()) {
            latencies.push(at.saturating_sub(*sent_at));
        }
    }
    latencies
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn nearest_rank_percentiles_of_ten_values() {
        let values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        // p50: rank ceil(5.0) = 5 → 5; p99: rank ceil(9.9) = 10 → 10; p10: rank 1 → 1;
        // p11: rank ceil(1.1) = 2 → 2.
        assert_eq!(percentile(&values, 50.0), Some(5));
        assert_eq!(percentile(&values, 99.0), Some(10));
        assert_eq!(percentile(&values, 10.0), Some(1));
        assert_eq!(percentile(&values, 11.0), Some(2));
        assert_eq!(percentile(&values, 100.0), Some(10));
    }

    #[test]
    fn the_median_of_an_odd_count_is_the_middle_value() {
        assert_eq!(percentile(&[3.5, 7.0, 20.0], 50.0), Some(7.0));
        assert_eq!(percentile(&[42], 99.0), Some(42));
    }

    #[test]
    fn no_percentile_of_nothing() {
        assert_eq!(percentile::<u32>(&[], 50.0), None);
    }

    #[test]
    fn each_event_takes_the_first_scrape_that_counts_it() {
        // Sent at 0, 5, 10 and 30 ms; scrapes at 12 ms (2 counted), 25 ms (2), 40 ms (4).
        let sent = [ms(0), ms(5), ms(10), ms(30)];
        let scrapes = [(ms(12), 2), (ms(25), 2), (ms(40), 4)];
        assert_eq!(
            visibility_latencies(&sent, &scrapes),
            vec![ms(12), ms(7), ms(30), ms(10)]
        );
    }

    #[test]
    fn counts_beyond_the_events_sent_and_events_never_counted() {
        // A count above what was sent (events from elsewhere) caps at the events sent; an
        // event not yet counted at the last scrape has no latency.
        let sent = [ms(1), ms(2), ms(3)];
        assert_eq!(
            visibility_latencies(&sent, &[(ms(10), 2)]),
            vec![ms(9), ms(8)]
        );
        assert_eq!(
            visibility_latencies(&sent, &[(ms(4), 0), (ms(10), 9)]),
            vec![ms(9), ms(8), ms(7)]
        );
    }
}
