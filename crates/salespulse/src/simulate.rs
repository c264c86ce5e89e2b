//! `salespulse simulate` and the demo's event source: the seeded generator, written to a file
//! or produced to Kafka at the pace of event time.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use salespulse_kafka::LineProducer;
use salespulse_sim::{SimConfig, SimEvent, Simulator};

/// How much to generate.
#[derive(Debug, Clone, Copy)]
pub enum Amount {
    Events(u64),
    Span(Duration),
}

/// A generator tuned so that it emits about `rate` events per second of event time: one team
/// per 5 events/s (3 to 20 teams), then the lead rate scaled from a measured sample (every other
/// event follows from leads or scales with them).
pub fn simulator(seed: u64, start: DateTime<Utc>, rate: f64) -> Simulator {
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
    Simulator::new(SimConfig {
        leads_per_hour: base.leads_per_hour * rate / sampled_rate,
        ..base
    })
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
pub fn to_file(path: &Path, seed: u64, rate: f64, amount: Amount) -> anyhow::Result<u64> {
    let now = Utc::now();
    let start = match amount {
        Amount::Span(span) => now - chrono::TimeDelta::from_std(span)?,
        Amount::Events(count) => {
            let count = usize::try_from(count).unwrap_or(usize::MAX);
            let last = all_events(simulator(seed, now, rate))
                .take(count)
                .map(|event| event.occurred_at)
                .max()
                .unwrap_or(now);
            now - (last - now)
        }
    };
    let simulator = simulator(seed, start, rate);
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
        out.write_all(&event.payload)?;
        out.write_all(b"\n")?;
        emitted += 1;
    }
    out.flush()?;
    Ok(emitted)
}

/// Produces events to Kafka as their event time comes: `backfill` of history first (as fast
/// as the broker takes it), then live. Stops after `amount` or when `stop` is set.
pub fn to_kafka(
    producer: &LineProducer,
    seed: u64,
    rate: f64,
    backfill: Duration,
    amount: Option<Amount>,
    stop: &AtomicBool,
) -> anyhow::Result<u64> {
    let started = Utc::now();
    let start = started - chrono::TimeDelta::from_std(backfill)?;
    let end = amount.map(|amount| match amount {
        Amount::Span(span) => started + chrono::TimeDelta::from_std(span).unwrap_or_default(),
        Amount::Events(_) => DateTime::<Utc>::MAX_UTC,
    });
    let simulator = simulator(seed, start, rate);
    let mut emitted = 0;
    for event in all_events(simulator) {
        if stop.load(Ordering::Acquire)
            || end.is_some_and(|end| event.occurred_at > end)
            || amount.is_some_and(|amount| !within(amount, emitted))
        {
            break;
        }
        while event.occurred_at > Utc::now() {
            if stop.load(Ordering::Acquire) {
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
