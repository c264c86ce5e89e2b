//! Decode + validate alone, one core: lines per second for the simulator mix, for each event
//! type within it, and for the mix with 5 % of its lines made to be rejected. Run with
//! `cargo bench -p salespulse-events --bench decode`; figures go to BENCHMARKS.md.

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use salespulse_events::{
    DEFAULT_MAX_EVENT_BYTES, EventType, Timestamp, ValidationRules, check_clock, check_size, decode,
};
use salespulse_sim::{SimConfig, Simulator};

/// Lines of the mix, after the roster.
const LINES: usize = 100_000;

/// The `salespulse simulate` sales floor (10 teams, 4 leads per BDR an hour), seed 7: the roster
/// first, then the stream, duplicates and late deliveries included; `malformed_share` of the
/// lines made to be rejected, for every reason.
fn simulator_mix(malformed_share: f64) -> Vec<Vec<u8>> {
    let config = SimConfig {
        seed: 7,
        start: Utc
            .with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
            .single()
            .expect("valid start"),
        teams: 10,
        leads_per_hour: 4.0,
        malformed_share,
        ..SimConfig::default()
    };
    let simulator = Simulator::new(config);
    let roster = simulator.roster_events();
    roster
        .into_iter()
        .chain(simulator.take(LINES))
        .map(|event| event.payload)
        .collect()
}

/// What a driver does per line: the size limit, decoding with validation, the clock check.
fn decode_all(lines: &[Vec<u8>], now: Timestamp, rules: &ValidationRules) -> usize {
    let mut accepted = 0;
    for line in lines {
        let outcome = check_size(line.len(), DEFAULT_MAX_EVENT_BYTES)
            .and_then(|()| decode(line, rules))
            .and_then(|event| check_clock(&event, now, rules).map(|()| event));
        if black_box(outcome).is_ok() {
            accepted += 1;
        }
    }
    accepted
}

fn benches(c: &mut Criterion) {
    let rules = ValidationRules::default();
    let mix = simulator_mix(0.0);
    let decoded: Vec<_> = mix.iter().map(|line| decode(line, &rules)).collect();
    let now = decoded
        .iter()
        .filter_map(|result| result.as_ref().ok())
        .map(|event| event.occurred_at)
        .max()
        .expect("the mix has events");
    let bytes: usize = mix.iter().map(Vec::len).sum();
    println!(
        "mix: {} lines, {bytes} bytes ({:.0} bytes per line), {} accepted",
        mix.len(),
        bytes as f64 / mix.len() as f64,
        decode_all(&mix, now, &rules)
    );

    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(mix.len() as u64));
    group.bench_function("simulator_mix", |b| {
        b.iter(|| decode_all(&mix, now, &rules))
    });
    for event_type in EventType::ALL {
        let lines: Vec<Vec<u8>> = mix
            .iter()
            .zip(&decoded)
            .filter(|(_, result)| {
                result
                    .as_ref()
                    .is_ok_and(|event| event.event_type() == *event_type)
            })
            .map(|(line, _)| line.clone())
            .collect();
        if lines.is_empty() {
            continue;
        }
        group.throughput(Throughput::Elements(lines.len() as u64));
        group.bench_function(event_type.as_str(), |b| {
            b.iter(|| decode_all(&lines, now, &rules))
        });
    }
    let malformed = simulator_mix(0.05);
    group.throughput(Throughput::Elements(malformed.len() as u64));
    group.bench_function("simulator_mix_5pct_malformed", |b| {
        b.iter(|| decode_all(&malformed, now, &rules))
    });
    group.finish();
}

criterion_group!(decode_benches, benches);
criterion_main!(decode_benches);
