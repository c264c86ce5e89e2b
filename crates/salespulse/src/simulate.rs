//! `salespulse simulate` and the demo's event source: the seeded generator, written to a file
//! or produced to Kafka at the pace of event time.

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use salespulse_kafka::LineProducer;
use salespulse_sim::{SimConfig, SimEvent, Simulator};
use tokio_util::sync::CancellationToken;

/// How much to generate.
#[derive(Debug, Clone, Copy)]
pub enum Amount {
    Events(u64),
    Span(Duration),
}

/// How fast the simulated floor works.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// [`sales_floor`]: realistic volumes per rep.
    Floor,
    /// [`calibrated`] to about this many events per second of event time (a load test).
    Rate(f64),
}

impl Pace {
    /// The simulator configuration, starting at `start`.
    pub fn config(self, seed: u64, start: DateTime<Utc>) -> SimConfig {
        match self {
            Pace::Floor => sales_floor(seed, start),
            Pace::Rate(rate) => calibrated(seed, start, rate),
        }
    }
}

/// A sales floor at human pace: 10 teams of 3 BDRs, 2 AEs and a manager, each BDR receiving
/// 4 leads an hour around the clock (about 100 a day against a `max_daily_leads` of 40 over a
/// working day, so BDR capacity runs at roughly half to full), which keeps a handful of leads
/// waiting per BDR, as on a real floor. About 0.2 events/s (20,000 a day).
pub fn sales_floor(seed: u64, start: DateTime<Utc>) -> SimConfig {
    SimConfig {
        seed,
        start,
        teams: 10,
        leads_per_hour: 4.0,
        ..SimConfig::default()
    }
}

/// The configuration for about `rate` events per second of event time: one team per 5 events/s
/// (3 to 20 teams), then the lead rate scaled from a measured sample (every other event follows
/// from leads or scales with them). Above about 1 event/s per team a rep gets more leads than a
/// person could answer: a load test, not a sales floor.
pub fn calibrated(seed: u64, start: DateTime<Utc>, rate: f64) -> SimConfig {
    let base = SimConfig {
        seed,
        start,
        teams: ((rate / 5.0).round() as usize).clamp(3, 20),
        ..SimConfig::default()
    };
    const SAMPLE: usize = 5_000;
    let span = Simulator::new(base.clone())
        .take(SAMPLE)
        .map(|event| event.occurred_at)
        .max()
        .map_or(1.0, |last| {
            (last - start).num_milliseconds().max(1) as f64 / 1000.0
        });
    let sampled_rate = SAMPLE as f64 / span;
    SimConfig {
        leads_per_hour: base.leads_per_hour * rate / sampled_rate,
        ..base
    }
}

/// The start from which `count` events of `config` end at `now`, and how far to move every event
/// time forward (zero, unless no start ends at `now`). A first pass from `now` gives the span;
/// the stream is not quite invariant under a shift (each month's spend is booked at its first
/// midnight, months differ in length), so the start is refined until the last event is within a
/// second of `now`, or the passes (each generates `count` events) run out. Each pass moves the
/// start by the overshoot; when the last event did not move with the start (it is one of a
/// month's first-midnight bookings), by twice as much as the pass before; and, once a start that
/// ends early and one that ends late are known, never outside them (to their middle instead):
/// the last event never moves earlier when the start moves later.
///
/// It may jump, though: when the start passes the instant where the count takes in other
/// events (copies delivered late, the bookings), the last event can leap from minutes before
/// `now` to minutes after it, and no start ends at `now` (seen at 00:54 on 1 December, at 0.001
/// events/s). Then the latest start known to end early is kept and every event is moved
/// forward by what it misses: less than the leap, so a month's first-midnight booking stays
/// in its month.
fn start_for_count(
    config: &SimConfig,
    now: DateTime<Utc>,
    count: usize,
) -> (DateTime<Utc>, TimeDelta) {
    /// Events generated in all passes together, at most (but at least `MIN_PASSES` passes).
    const EVENT_BUDGET: usize = 20_000_000;
    const MIN_PASSES: usize = 8;
    const MAX_PASSES: usize = 60;
    let passes = (EVENT_BUDGET / count.max(1)).clamp(MIN_PASSES, MAX_PASSES);
    let close_enough = chrono::TimeDelta::seconds(1);
    let overshoot = |start: DateTime<Utc>| last_of(config, start, count) - now;
    // The latest start known to end early (with how early) and the earliest known to end late.
    let mut early: Option<(DateTime<Utc>, TimeDelta)> = None;
    let mut late: Option<DateTime<Utc>> = None;
    let mut start = now;
    let mut previous: Option<chrono::TimeDelta> = None;
    let mut stretch = 1;
    for _ in 0..passes {
        let off = overshoot(start);
        if off.abs() <= close_enough {
            return (start, TimeDelta::zero());
        }
        if off < chrono::TimeDelta::zero() {
            if early.is_none_or(|(known, _)| start > known) {
                early = Some((start, off));
            }
        } else {
            late = Some(late.map_or(start, |late| late.min(start)));
        }
        stretch = match previous {
            Some(before) if (off - before).abs() <= close_enough => stretch * 2,
            _ => 1,
        };
        previous = Some(off);
        start -= off * stretch;
        if let (Some((early, _)), Some(late)) = (early, late)
            && !(early < start && start < late)
        {
            start = early + (late - early) / 2;
        }
    }
    match early {
        // Whole milliseconds, the precision of the event times.
        Some((start, off)) => (start, TimeDelta::milliseconds(-off.num_milliseconds())),
        None => (start, TimeDelta::zero()),
    }
}

/// The latest event time among the first `count` events of `config` from `start` (`start` when
/// there are none).
fn last_of(config: &SimConfig, start: DateTime<Utc>, count: usize) -> DateTime<Utc> {
    all_events(Simulator::new(SimConfig {
        start,
        ..config.clone()
    }))
    .take(count)
    .map(|event| event.occurred_at)
    .max()
    .unwrap_or(start)
}

/// `payload` with its `occurred_at` moved by `shift`; unchanged when it has none as the
/// simulator writes it (a malformed line may not).
fn shifted(payload: &[u8], shift: TimeDelta) -> Cow<'_, [u8]> {
    const KEY: &[u8] = b"\"occurred_at\":\"";
    if shift.is_zero() {
        return Cow::Borrowed(payload);
    }
    let Some(from) = payload
        .windows(KEY.len())
        .position(|window| window == KEY)
        .map(|at| at + KEY.len())
    else {
        return Cow::Borrowed(payload);
    };
    let Some(to) = payload[from..]
        .iter()
        .position(|&byte| byte == b'"')
        .map(|length| from + length)
    else {
        return Cow::Borrowed(payload);
    };
    let Some(at) = std::str::from_utf8(&payload[from..to])
        .ok()
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
    else {
        return Cow::Borrowed(payload);
    };
    let moved = (at.with_timezone(&Utc) + shift).to_rfc3339_opts(SecondsFormat::AutoSi, true);
    let mut out = Vec::with_capacity(payload.len() + moved.len());
    out.extend_from_slice(&payload[..from]);
    out.extend_from_slice(moved.as_bytes());
    out.extend_from_slice(&payload[to..]);
    Cow::Owned(out)
}

/// Everything a simulator emits: the roster first, then the stream.
fn all_events(simulator: Simulator) -> impl Iterator<Item = SimEvent> {
    simulator.roster_events().into_iter().chain(simulator)
}

fn within(amount: Amount, emitted: u64) -> bool {
    match amount {
        Amount::Events(count) => emitted < count,
        Amount::Span(_) => true,
    }
}

/// Writes events that end now as JSON lines, as fast as possible: `span` of event time, or
/// exactly `count` events (a first pass measures how much event time they take).
pub fn to_file(path: &Path, pace: Pace, seed: u64, amount: Amount) -> anyhow::Result<u64> {
    let now = Utc::now();
    let config = pace.config(seed, now);
    let (start, shift) = match amount {
        Amount::Span(span) => (now - chrono::TimeDelta::from_std(span)?, TimeDelta::zero()),
        Amount::Events(count) => {
            start_for_count(&config, now, usize::try_from(count).unwrap_or(usize::MAX))
        }
    };
    let simulator = Simulator::new(SimConfig { start, ..config });
    let mut out: Box<dyn Write> = if path.as_os_str() == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )
    };
    let mut out = std::io::BufWriter::new(&mut out);
    let mut emitted = 0;
    for event in all_events(simulator) {
        let past_now = matches!(amount, Amount::Span(_)) && event.occurred_at > now;
        if past_now || !within(amount, emitted) {
            break;
        }
        out.write_all(&shifted(&event.payload, shift))?;
        out.write_all(b"\n")?;
        emitted += 1;
    }
    out.flush()?;
    Ok(emitted)
}

/// Produces the events of `config` to Kafka as their event time comes: from `config.start`
/// (history, as fast as the broker takes it), then live. Stops after `amount` (counted from
/// now) or when `shutdown` is cancelled.
pub fn to_kafka(
    producer: &LineProducer,
    config: SimConfig,
    amount: Option<Amount>,
    shutdown: &CancellationToken,
) -> anyhow::Result<u64> {
    let started = Utc::now();
    let end = amount.map(|amount| match amount {
        Amount::Span(span) => started + chrono::TimeDelta::from_std(span).unwrap_or_default(),
        Amount::Events(_) => DateTime::<Utc>::MAX_UTC,
    });
    let simulator = Simulator::new(config);
    let mut emitted = 0;
    for event in all_events(simulator) {
        if shutdown.is_cancelled()
            || end.is_some_and(|end| event.occurred_at > end)
            || amount.is_some_and(|amount| !within(amount, emitted))
        {
            break;
        }
        while event.occurred_at > Utc::now() {
            if shutdown.is_cancelled() {
                producer.flush()?;
                return Ok(emitted);
            }
            producer.poll();
            std::thread::sleep(Duration::from_millis(20));
        }
        producer.send(event.topic, &event.key, &event.payload)?;
        emitted += 1;
        if emitted.is_multiple_of(1_000) {
            producer.poll();
        }
    }
    producer.flush()?;
    Ok(emitted)
}

#[cfg(test)]
mod tests {
    use salespulse_engine::{Engine, Settings};

    use super::*;

    #[test]
    fn a_shift_moves_occurred_at_alone_in_the_simulator_s_format() {
        let line = br#"{"event_id":"e","occurred_at":"2026-11-30T23:59:59.500Z","type":"x"}"#;
        assert_eq!(
            shifted(line, TimeDelta::milliseconds(1_250)).as_ref(),
            br#"{"event_id":"e","occurred_at":"2026-12-01T00:00:00.750Z","type":"x"}"#
        );
        // A whole second is written without a fraction, as the simulator writes it.
        assert_eq!(
            shifted(line, TimeDelta::milliseconds(500)).as_ref(),
            br#"{"event_id":"e","occurred_at":"2026-12-01T00:00:00Z","type":"x"}"#
        );
        assert_eq!(shifted(line, TimeDelta::zero()).as_ref(), line);
        let malformed = br#"{"event_id":"e","occurred_at":"yesterday"}"#;
        assert_eq!(
            shifted(malformed, TimeDelta::seconds(5)).as_ref(),
            malformed
        );
        assert_eq!(
            shifted(b"not json", TimeDelta::seconds(5)).as_ref(),
            b"not json"
        );
    }

    #[test]
    fn events_end_now_even_where_no_start_ends_there() {
        // At 0.001 events/s, 2,000 events: ending at 00:56:37 on 1 December, starts just
        // before one instant end 18 minutes early and starts after it 26 minutes late.
        let now: DateTime<Utc> = "2026-12-01T00:56:37Z".parse().expect("now");
        let config = Pace::Rate(0.001).config(1, now);
        let (start, shift) = start_for_count(&config, now, 2_000);
        assert!(shift > TimeDelta::minutes(10), "{shift}");
        let last = last_of(&config, start, 2_000) + shift;
        assert!((last - now).abs() <= TimeDelta::seconds(1), "{last}");
        // Forward (a month's first-midnight booking stays in its month), and by less than
        // the leap.
        assert!(shift < TimeDelta::minutes(26), "{shift}");

        // Where a start ends at `now`, nothing moves.
        let now: DateTime<Utc> = "2026-11-18T15:30:00Z".parse().expect("now");
        let config = Pace::Rate(20.0).config(1, now);
        let (start, shift) = start_for_count(&config, now, 2_000);
        assert_eq!(shift, TimeDelta::zero());
        assert!((last_of(&config, start, 2_000) + shift - now).abs() <= TimeDelta::seconds(1));
    }

    /// Little's law: 30 BDRs × 4 leads/h = 1 lead every 30 s; a lead leaves the queue at its
    /// first touch (93 %: lognormal, median 190 s, σ 0.6, mean 227 s; 7 %: median 40 min, σ 1,
    /// mean 3,957 s; mean 488 s) or, for the 12 % disqualified untouched, after a lognormal of
    /// median 10 min, σ 1 (mean 989 s): mean stay 0.88 × 488 + 0.12 × 989 ≈ 548 s, so about
    /// 548 / 30 ≈ 18 leads wait at any time, well under one per BDR.
    #[test]
    fn the_sales_floor_keeps_a_handful_of_leads_waiting() {
        let start: DateTime<Utc> = "2026-11-02T00:00:00Z".parse().expect("start");
        let end = start + chrono::TimeDelta::days(4);
        let mut engine = Engine::new(Settings::default(), start);
        let mut next_sample = start + chrono::TimeDelta::days(1);
        let mut queue_sizes = Vec::new();
        for event in all_events(Simulator::new(sales_floor(7, start))) {
            if event.occurred_at > end {
                break;
            }
            while event.occurred_at >= next_sample {
                engine.advance_clock(next_sample);
                let snapshot = engine.snapshot();
                let waiting: u64 = snapshot
                    .reps
                    .iter()
                    .map(|rep| rep.queue.awaiting)
                    .sum::<u64>()
                    + snapshot.unassigned_queue.map_or(0, |queue| queue.awaiting);
                queue_sizes.push(waiting as f64);
                next_sample += chrono::TimeDelta::minutes(30);
            }
            engine.advance_clock(event.occurred_at);
            engine.ingest(&event.payload);
        }
        assert!(queue_sizes.len() >= 140, "{} samples", queue_sizes.len());
        let mean = queue_sizes.iter().sum::<f64>() / queue_sizes.len() as f64;
        assert!((12.0..=25.0).contains(&mean), "mean queue {mean}");
        let most = queue_sizes.iter().copied().fold(0.0, f64::max);
        assert!(most <= 60.0, "at most two per BDR: {most}");
    }
}
