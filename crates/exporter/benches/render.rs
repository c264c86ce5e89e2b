//! `/metrics` for a large sales floor: 2,000 simulated reps, with every period and with the
//! lightest `[export]` choice. `text`: rendering alone; `scrape_new_snapshot`: a gzip scrape as
//! Prometheus makes it when a newer snapshot was published since its last scrape (render and
//! compress); `scrape_cached`: a gzip scrape of a snapshot scraped before.
//! Run with `cargo bench -p salespulse-exporter --bench render`.

use std::hint::black_box;
use std::sync::Arc;

use chrono::TimeDelta;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prometheus::proto::MetricFamily;
use salespulse_engine::{Engine, Period, Settings, Snapshot};
use salespulse_exporter::{Family, ScrapeCache, Selection, write_snapshot};
use salespulse_sim::{SimConfig, Simulator};

/// 200 teams of 5 BDRs, 4 AEs and a manager: 2,000 reps.
const TEAMS: usize = 200;
/// Event time simulated: long enough for the previous quarter to have data.
const DAYS: i64 = 200;

fn snapshot() -> Snapshot {
    let config = SimConfig {
        seed: 7,
        teams: TEAMS,
        bdrs_per_team: 5,
        aes_per_team: 4,
        leads_per_hour: 0.01,
        ..SimConfig::default()
    };
    let as_of = config.start + TimeDelta::days(DAYS);
    let simulator = Simulator::new(config);
    let mut engine = Engine::new(Settings::default(), as_of);
    for event in simulator.roster_events() {
        engine.ingest(&event.payload);
    }
    for event in simulator.take_while(|event| event.occurred_at < as_of) {
        engine.ingest(&event.payload);
    }
    engine.snapshot()
}

fn lightest() -> Selection {
    Selection {
        periods: vec![Period::Month],
        rep_histograms: false,
    }
}

/// What the Kafka service appends to each scrape, about: a lag gauge for 12 partitions.
fn service_families() -> Vec<MetricFamily> {
    let mut lag = Family::gauge("salespulse_consumer_lag_messages", "Lag.");
    for partition in 0..12 {
        lag.sample(
            &[
                ("topic", "crm.activities"),
                ("partition", &partition.to_string()),
            ],
            f64::from(partition * 7),
        );
    }
    lag.finish().into_iter().collect()
}

fn render(c: &mut Criterion) {
    let snapshot = Arc::new(snapshot());
    // The same numbers in another allocation: to the cache, a newer snapshot.
    let next = Arc::new((*snapshot).clone());
    let extra = service_families();
    let mut group = c.benchmark_group("exposition");
    for (name, selection) in [
        ("all_periods", Selection::default()),
        ("month_only", lightest()),
    ] {
        let scrape = |cache: &ScrapeCache, snapshot: &Arc<Snapshot>, gzip| {
            cache
                .body(black_box(snapshot), &selection, &extra, gzip)
                .expect("in memory")
        };
        let cache = ScrapeCache::default();
        println!(
            "{name}: {} reps, {} bytes, {} gzipped",
            snapshot.reps.len(),
            scrape(&cache, &snapshot, false).len(),
            scrape(&cache, &snapshot, true).len()
        );
        let mut text = String::new();
        write_snapshot(&snapshot, &selection, &mut text);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(format!("text/{name}"), |b| {
            b.iter(|| {
                text.clear();
                write_snapshot(black_box(&snapshot), &selection, &mut text);
            })
        });
        let mut scrapes = [&snapshot, &next].into_iter().cycle();
        group.bench_function(format!("scrape_new_snapshot/{name}"), |b| {
            b.iter(|| scrape(&cache, scrapes.next().unwrap_or(&snapshot), true))
        });
        scrape(&cache, &snapshot, true);
        group.bench_function(format!("scrape_cached/{name}"), |b| {
            b.iter(|| scrape(&cache, &snapshot, true))
        });
    }
    group.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
