//! The engine alone on a realistic mix (70 % activities): ingestion throughput, snapshot time,
//! and memory per distinct (rep, contact, window) kept. Run with `cargo bench -p salespulse-engine`;
//! figures go to BENCHMARKS.md.

use std::alloc::System;
use std::collections::HashSet;
use std::hint::black_box;

use chrono::TimeDelta;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rust_decimal::Decimal;
use salespulse_calendar::{Calendar, WINDOW_COUNT};
use salespulse_engine::{Engine, Settings};
use salespulse_events::{
    Channel, DealAttributes, Event, EventKind, ExpenseCategory, Outcome, Stage, Timestamp,
    parse_timestamp,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const EVENTS: usize = 200_000;
const REPS: u64 = 50;
const CONTACTS: u64 = 20_000;
const AS_OF: &str = "2026-11-25T12:00:00Z";

/// A small deterministic generator (no randomness crate needed for a fixed workload).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

/// 70 % activities (a third with a lead), 5 % appointments, 12 % lead events, 8 % deal events,
/// 5 % finance, spread over the 120 days before as_of.
fn workload(as_of: Timestamp) -> Vec<Event> {
    let mut rng = Lcg(42);
    (0..EVENTS)
        .map(|index| {
            let at = as_of - TimeDelta::seconds(rng.next(120 * 86_400) as i64);
            let rep = format!("rep-{:03}", rng.next(REPS));
            let lead = format!("L-{}", rng.next(EVENTS as u64 / 8));
            let deal = format!("D-{}", rng.next(EVENTS as u64 / 25));
            let customer = format!("cu-{}", rng.next(2_000));
            let roll = rng.next(100);
            let kind = match roll {
                0..70 => EventKind::Activity {
                    rep_id: rep,
                    contact_id: format!("c-{}", rng.next(CONTACTS)),
                    channel: Channel::ALL[rng.next(3) as usize],
                    established: rng.next(2) == 0,
                    lead_id: (rng.next(3) == 0).then_some(lead),
                },
                70..75 => EventKind::AppointmentSet {
                    rep_id: rep,
                    contact_id: format!("c-{}", rng.next(CONTACTS)),
                },
                75..83 => EventKind::LeadCreated {
                    lead_id: lead,
                    rep_id: Some(rep),
                },
                83..85 => EventKind::LeadAssigned {
                    lead_id: lead,
                    rep_id: rep,
                },
                85..87 => EventKind::LeadQualified {
                    lead_id: lead,
                    stage: if rng.next(2) == 0 {
                        Stage::Mql
                    } else {
                        Stage::Sql
                    },
                    rep_id: None,
                },
                87..91 => EventKind::DealOpened {
                    deal_id: deal,
                    rep_id: rep,
                    attributes: DealAttributes {
                        amount: Some(Decimal::new(rng.next(20_000_000) as i64, 2)),
                        industry: Some(
                            ["retail", "medical", "software"][rng.next(3) as usize].into(),
                        ),
                        channel: Some("inbound".into()),
                        segment: None,
                    },
                },
                91..95 => EventKind::DealClosed {
                    deal_id: deal,
                    rep_id: rep,
                    outcome: if rng.next(2) == 0 {
                        Outcome::Won
                    } else {
                        Outcome::Lost
                    },
                    attributes: DealAttributes::default(),
                },
                95..97 => EventKind::Revenue {
                    customer_id: customer,
                    amount: Decimal::new(rng.next(1_000_000) as i64, 2),
                    recurring: true,
                    segment: Some("smb".into()),
                },
                97..98 => EventKind::Expense {
                    amount: Decimal::new(rng.next(10_000_000) as i64, 2),
                    category: ExpenseCategory::Marketing,
                    segment: None,
                },
                98..99 => EventKind::CustomerAcquired {
                    customer_id: customer,
                    segment: Some("smb".into()),
                },
                _ => EventKind::CustomerCost {
                    customer_id: customer,
                    amount: Decimal::new(1_250, 2),
                },
            };
            Event {
                event_id: format!("evt-{index:08}"),
                occurred_at: at,
                kind,
            }
        })
        .collect()
}

fn ingest_all(as_of: Timestamp, events: Vec<Event>) -> Engine {
    let mut engine = Engine::new(Settings::default(), as_of);
    for event in &events {
        engine.ingest_event(event);
    }
    engine
}

/// Distinct (rep, contact, window) triples among the activities and appointments, counted here
/// from the workload itself, independently of the engine.
fn distinct_rep_contact_windows(as_of: Timestamp, events: &[Event]) -> usize {
    let windows = Calendar::new(&Settings::default().calendar).windows(as_of);
    let mut triples = HashSet::new();
    for event in events {
        let (EventKind::Activity {
            rep_id, contact_id, ..
        }
        | EventKind::AppointmentSet { rep_id, contact_id }) = &event.kind
        else {
            continue;
        };
        let mask = windows.mask(event.occurred_at);
        for window in (0..WINDOW_COUNT).filter(|window| mask & (1 << window) != 0) {
            triples.insert((rep_id.clone(), contact_id.clone(), window));
        }
    }
    triples.len()
}

/// Prints the memory figures once (criterion has no place for them).
fn report_memory(as_of: Timestamp) {
    let events = workload(as_of);
    let triples = distinct_rep_contact_windows(as_of, &events);
    let engine = ingest_all(as_of, events);
    let sizes = engine.state_sizes();
    // Everything the engine holds is freed when it is dropped: that is its heap footprint.
    let region = Region::new(GLOBAL);
    drop(engine);
    let live = region.change().bytes_deallocated;
    println!(
        "memory: {EVENTS} events, {triples} distinct (rep, contact, window) kept, engine state {live} bytes \
         = {:.1} bytes per triple; {:?}",
        live as f64 / triples as f64,
        sizes
    );
}

fn benches(c: &mut Criterion) {
    let as_of = parse_timestamp(AS_OF).expect("as_of");
    report_memory(as_of);
    let events = workload(as_of);
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("ingest_200k_events", |b| {
        b.iter_batched(
            || events.clone(),
            |events| black_box(ingest_all(as_of, events)),
            BatchSize::LargeInput,
        )
    });
    let engine = ingest_all(as_of, events.clone());
    group.throughput(Throughput::Elements(1));
    group.bench_function("snapshot_after_200k_events", |b| {
        b.iter(|| black_box(engine.snapshot()))
    });
    // Checkpoints (issue 6): the whole state to bytes and back.
    let state = engine.save_state();
    println!(
        "state: {EVENTS} events, saved state {} bytes = {:.1} bytes per event; {:?}",
        state.len(),
        state.len() as f64 / EVENTS as f64,
        engine.state_sizes()
    );
    group.throughput(Throughput::Bytes(state.len() as u64));
    group.bench_function("save_state_200k_events", |b| {
        b.iter(|| black_box(engine.save_state()))
    });
    group.bench_function("restore_state_200k_events", |b| {
        b.iter(|| black_box(Engine::restore_state(Settings::default(), &state).expect("restores")))
    });
    group.finish();
}

criterion_group!(engine_benches, benches);
criterion_main!(engine_benches);
