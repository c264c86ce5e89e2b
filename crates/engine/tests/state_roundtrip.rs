//! Saved state is exact (issue 6): an engine saved at any point, restored and fed the rest of its
//! input is indistinguishable from one that was never interrupted: the same snapshot and the same
//! state bytes, counters and de-duplication included. Damaged bytes are refused, never a panic.

mod common;

use chrono::{NaiveDate, TimeDelta, Weekday};
use common::ts;
use proptest::prelude::*;
use salespulse_calendar::CalendarSettings;
use salespulse_engine::{Engine, IngestOutcome, RosterRecord, STATE_FORMAT_VERSION, Settings};
use salespulse_events::{EventType, RejectReason, Role, Timestamp};
use serde_json::{Value, json};
use xxhash_rust::xxh3::xxh3_64;

/// One step of a driver: a line read while the wall clock says `now`, or the clock moving on.
#[derive(Debug, Clone)]
enum Op {
    Ingest { line: String, now: Timestamp },
    Advance(Timestamp),
}

fn apply(engine: &mut Engine, op: &Op) -> Option<IngestOutcome> {
    match op {
        Op::Ingest { line, now } => Some(engine.ingest_at(line.as_bytes(), *now)),
        Op::Advance(now) => {
            engine.advance_clock(*now);
            None
        }
    }
}

fn run_through(settings: &Settings, start: Timestamp, ops: &[Op]) -> Engine {
    let mut engine = Engine::new(settings.clone(), start);
    for op in ops {
        apply(&mut engine, op);
    }
    engine
}

/// Runs `ops`, saving and restoring (through bytes) before each index in `splits`.
fn run_interrupted(settings: &Settings, start: Timestamp, ops: &[Op], splits: &[usize]) -> Engine {
    let mut engine = Engine::new(settings.clone(), start);
    for (index, op) in ops.iter().enumerate() {
        if splits.contains(&index) {
            engine = save_and_restore(settings, &engine);
        }
        apply(&mut engine, op);
    }
    if splits.contains(&ops.len()) {
        engine = save_and_restore(settings, &engine);
    }
    engine
}

fn save_and_restore(settings: &Settings, engine: &Engine) -> Engine {
    let bytes = engine.save_state();
    let restored = Engine::restore_state(settings.clone(), &bytes).expect("a saved state restores");
    assert_eq!(restored.as_of(), engine.as_of());
    assert_eq!(restored.state_sizes(), engine.state_sizes());
    assert_eq!(restored.snapshot(), engine.snapshot());
    assert_eq!(
        restored.save_state(),
        bytes,
        "re-saving gives the same bytes"
    );
    restored
}

// ---- A realistic, deterministic script ------------------------------------------------------

/// A small deterministic generator (no randomness crate needed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }

    fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
        options[self.next(options.len() as u64) as usize]
    }
}

const SCRIPT_START: &str = "2026-09-20T08:00:00Z";

/// About 900 steps over four months (across two quarter ends, so facts, ids and contacts are
/// forgotten along the way): every event type including `lead_disqualified`, re-delivered
/// duplicates, events a few minutes ahead of the clock (pending), events months old (late, some
/// beyond every window), events too far ahead (rejected), malformed lines, and clock advances.
fn script(seed: u64) -> Vec<Op> {
    let mut rng = Lcg(seed);
    let mut now = ts(SCRIPT_START);
    let mut ops = Vec::new();
    let mut sent: Vec<String> = Vec::new();
    let reps = ["r-ana", "r-ben", "r-cy", "r-dee", "r-eve"];
    for index in 0..800 {
        now += TimeDelta::seconds(rng.next(4 * 3600) as i64)
            + TimeDelta::milliseconds(rng.next(1000) as i64);
        let rep = rng.pick(&reps);
        let lead = format!("L{}", rng.next(120));
        let deal = format!("D{}", rng.next(40));
        let customer = format!("cu{}", rng.next(15));
        let contact = format!("c{}", rng.next(200));
        let segment = rng.pick(&["smb", "ent", "mid", ""]);
        let amount = rng.pick(&[
            "0.1", "0.2", "12.50", "9999.99", "10000", "150000", "0", "1e3",
        ]);
        let mut event = match rng.next(24) {
            0..=8 => {
                let mut event = json!({"type": "activity", "rep_id": rep, "contact_id": contact,
                    "channel": rng.pick(&["call", "email", "chat"]), "established": rng.next(2) == 0});
                if rng.next(3) == 0 {
                    event["lead_id"] = json!(lead);
                }
                event
            }
            9 => json!({"type": "appointment_set", "rep_id": rep, "contact_id": contact}),
            10 | 11 => {
                let mut event = json!({"type": "lead_created", "lead_id": lead});
                if rng.next(3) > 0 {
                    event["rep_id"] = json!(rep);
                }
                event
            }
            12 => json!({"type": "lead_assigned", "lead_id": lead, "rep_id": rep}),
            13 => {
                let mut event = json!({"type": "lead_disqualified", "lead_id": lead});
                if rng.next(2) == 0 {
                    event["rep_id"] = json!(rep);
                }
                event
            }
            14 => {
                let mut event = json!({"type": "lead_qualified", "lead_id": lead,
                    "stage": rng.pick(&["mql", "sql"])});
                if rng.next(2) == 0 {
                    event["rep_id"] = json!(rep);
                }
                event
            }
            15 => json!({"type": "deal_opened", "deal_id": deal, "rep_id": rep, "amount": amount,
                "industry": rng.pick(&["retail", "medical", ""]), "channel": rng.pick(&["inbound", "outbound"])}),
            16 => {
                let mut event = json!({"type": "deal_closed", "deal_id": deal, "rep_id": rep,
                    "outcome": rng.pick(&["won", "lost"])});
                if rng.next(2) == 0 {
                    event["amount"] = json!(amount);
                }
                event
            }
            17 => json!({"type": "customer_acquired", "customer_id": customer, "segment": segment}),
            18 => json!({"type": "expense", "amount": amount,
                "category": rng.pick(&["sales", "marketing"]), "segment": segment}),
            19 => json!({"type": "revenue", "customer_id": customer, "amount": amount,
                "recurring": rng.next(3) > 0, "segment": segment}),
            20 => json!({"type": "customer_cost", "customer_id": customer, "amount": amount}),
            21 => json!({"type": "rep_upserted", "rep_id": rep,
                "team": rng.pick(&["east", "west"]), "role": rng.pick(&["bdr", "ae", "other"]),
                "max_daily_leads": rng.next(50), "active": rng.next(5) > 0}),
            22 => json!({"type": "meeting"}), // unknown type
            _ => json!({"type": "expense", "amount": "-5", "category": "sales"}), // negative
        };
        // When: mostly the last few hours; sometimes ahead (pending, or too far: rejected),
        // sometimes weeks or months back (late, or older than every window).
        let at = match rng.next(20) {
            0 | 1 => now + TimeDelta::seconds(1 + rng.next(240) as i64),
            2 => now + TimeDelta::seconds(400 + rng.next(3600) as i64),
            3 => now - TimeDelta::days(8 + rng.next(30) as i64),
            4 => now - TimeDelta::days(100 + rng.next(200) as i64),
            _ => now - TimeDelta::seconds(rng.next(6 * 3600) as i64),
        };
        event["event_id"] = json!(format!("e{index}"));
        event["occurred_at"] = json!(at.to_rfc3339());
        let line = event.to_string();
        sent.push(line.clone());
        ops.push(Op::Ingest { line, now });
        // Re-deliveries of earlier lines, and a malformed line now and then.
        if rng.next(10) == 0 {
            let again = sent[rng.next(sent.len() as u64) as usize].clone();
            ops.push(Op::Ingest { line: again, now });
        }
        if rng.next(40) == 0 {
            ops.push(Op::Ingest {
                line: "{not json".to_owned(),
                now,
            });
        }
        // The service advances the clock every second; here every few lines.
        if rng.next(4) == 0 {
            ops.push(Op::Advance(now));
        }
    }
    ops.push(Op::Advance(now + TimeDelta::minutes(10)));
    ops
}

fn custom_settings() -> Settings {
    let seed = |rep_id: &str, team: &str, role: Role| {
        (
            rep_id.to_owned(),
            RosterRecord {
                team: team.to_owned(),
                role,
                max_daily_leads: Some(25),
                max_daily_deals: Some(3),
                active: true,
            },
        )
    };
    Settings {
        calendar: CalendarSettings {
            timezone: chrono_tz::Tz::America__New_York,
            week_start: Weekday::Sun,
            fiscal_year_start_month: 2,
            holidays: [NaiveDate::from_ymd_opt(2026, 11, 26).expect("date")].into(),
            ..CalendarSettings::default()
        },
        lead_response_sla: TimeDelta::seconds(120),
        lead_queue_max_age: Some(TimeDelta::days(3)),
        roster: vec![
            seed("r-cy", "west", Role::Ae),
            seed("r-zed", "north", Role::Bdr),
            seed("r-ana", "east", Role::Bdr),
        ],
        ..Settings::default()
    }
}

/// The script covers what it claims to.
#[test]
fn the_script_covers_every_case() {
    let settings = Settings::default();
    let ops = script(7);
    let start = ts(SCRIPT_START);
    let mut engine = Engine::new(settings, start);
    let mut most_pending = 0;
    for op in &ops {
        apply(&mut engine, op);
        most_pending = most_pending.max(engine.state_sizes().pending);
    }
    let counters = engine.snapshot().pipeline;
    for (event_type, count) in EventType::ALL.iter().zip(counters.accepted) {
        assert!(count > 0, "no {event_type} accepted");
    }
    let rejected = |reason: RejectReason| {
        let index = RejectReason::ALL
            .iter()
            .position(|r| *r == reason)
            .expect("a reason");
        counters.rejected[index]
    };
    for reason in [
        RejectReason::FutureTimestamp,
        RejectReason::UnknownType,
        RejectReason::NegativeAmount,
        RejectReason::InvalidJson,
    ] {
        assert!(rejected(reason) > 0, "no {reason} rejection");
    }
    assert!(counters.duplicates > 10, "{counters:?}");
    assert!(counters.late > 10, "{counters:?}");
    assert!(most_pending >= 2, "pending events: at most {most_pending}");
    assert!(ops.len() > 900, "{} steps", ops.len());
}

/// (a) Saving after the first k steps and restoring changes nothing, for k from 0 to all.
#[test]
fn restoring_at_any_point_gives_the_uninterrupted_result() {
    for settings in [Settings::default(), custom_settings()] {
        for seed in [7, 8] {
            let ops = script(seed);
            let start = ts(SCRIPT_START);
            let uninterrupted = run_through(&settings, start, &ops);
            let expected_snapshot = uninterrupted.snapshot();
            let expected_bytes = uninterrupted.save_state();
            let n = ops.len();
            let mut checked_pending = false;
            for k in [
                0,
                1,
                2,
                n / 7,
                n / 4,
                n / 3,
                n / 2,
                2 * n / 3,
                n - 2,
                n - 1,
                n,
            ] {
                let interrupted = run_interrupted(&settings, start, &ops, &[k]);
                assert_eq!(
                    interrupted.snapshot(),
                    expected_snapshot,
                    "seed {seed}, k = {k}"
                );
                assert_eq!(
                    interrupted.save_state(),
                    expected_bytes,
                    "seed {seed}, k = {k}"
                );
                checked_pending |= run_through(&settings, start, &ops[..k])
                    .state_sizes()
                    .pending
                    > 0;
            }
            // Every step a restore, and a split where events were pending.
            let every = run_interrupted(
                &settings,
                start,
                &ops,
                &(0..=n).step_by(37).collect::<Vec<_>>(),
            );
            assert_eq!(every.snapshot(), expected_snapshot);
            assert_eq!(every.save_state(), expected_bytes);
            let pending_split = (0..n)
                .find(|&k| {
                    k > n / 2
                        && run_through(&settings, start, &ops[..k])
                            .state_sizes()
                            .pending
                            > 0
                })
                .expect("some step leaves events pending");
            let interrupted = run_interrupted(&settings, start, &ops, &[pending_split]);
            assert_eq!(interrupted.snapshot(), expected_snapshot);
            assert!(checked_pending || pending_split > 0);
        }
    }
}

/// (c) The pipeline's counters are part of the state.
#[test]
fn counters_survive_a_restore() {
    let settings = Settings::default();
    let ops = script(9);
    let engine = run_through(&settings, ts(SCRIPT_START), &ops);
    let before = engine.snapshot().pipeline;
    assert!(before.accepted.iter().all(|count| *count > 0));
    assert!(before.rejected.iter().filter(|count| **count > 0).count() >= 4);
    assert!(before.duplicates > 0 && before.late > 0 && before.last_event.is_some());
    let mut restored = Engine::restore_state(settings, &engine.save_state()).expect("restores");
    assert_eq!(restored.snapshot().pipeline, before);
    // They go on from where they were.
    restored.ingest(b"{not json");
    let after = restored.snapshot().pipeline;
    let invalid_json = RejectReason::ALL
        .iter()
        .position(|r| *r == RejectReason::InvalidJson)
        .expect("a reason");
    assert_eq!(
        after.rejected[invalid_json],
        before.rejected[invalid_json] + 1
    );
    assert_eq!(after.accepted, before.accepted);
}

/// (d) An event applied before the save is a duplicate after the restore: windowed, finance
/// (remembered forever) and pending ones alike.
#[test]
fn deduplication_survives_a_restore() {
    let settings = Settings::default();
    let as_of = ts("2026-11-25T12:00:00Z");
    let lines = [
        r#"{"event_id":"w1","type":"activity","occurred_at":"2026-11-24T09:00:00Z","rep_id":"r-a","contact_id":"c1","channel":"call","established":true}"#,
        r#"{"event_id":"f1","type":"revenue","occurred_at":"2025-01-03T10:00:00Z","customer_id":"cu1","amount":"7.5","recurring":true}"#,
        r#"{"event_id":"p1","type":"lead_created","occurred_at":"2026-11-25T12:04:00Z","lead_id":"L1"}"#,
    ];
    let mut engine = Engine::new(settings.clone(), as_of);
    for line in lines {
        assert!(matches!(
            engine.ingest(line.as_bytes()),
            IngestOutcome::Accepted(_)
        ));
    }
    let before = engine.snapshot();
    let mut restored = Engine::restore_state(settings, &engine.save_state()).expect("restores");
    for line in lines {
        assert_eq!(
            restored.ingest(line.as_bytes()),
            IngestOutcome::Duplicate,
            "{line}"
        );
    }
    let after = restored.snapshot();
    assert_eq!(after.pipeline.duplicates, before.pipeline.duplicates + 3);
    assert_eq!(after.company, before.company, "the revenue counts once");
    // A new id is still new.
    let fresh = lines[0].replace("w1", "w2");
    assert_eq!(
        restored.ingest(fresh.as_bytes()),
        IngestOutcome::Accepted(EventType::Activity)
    );
    // The pending event joins when the clock reaches it, once.
    restored.advance_clock(ts("2026-11-25T12:05:00Z"));
    assert_eq!(restored.snapshot().reps.len(), 1);
    assert_eq!(
        restored.snapshot().unassigned_queue.map(|q| q.awaiting),
        Some(1)
    );
}

/// (e) Every truncation and every flipped byte of a small state is an error, never a panic.
#[test]
fn damaged_states_are_refused() {
    let settings = Settings::default();
    let ops = script(11);
    let engine = run_through(&settings, ts(SCRIPT_START), &ops[..60]);
    let bytes = engine.save_state();
    assert!(bytes.len() > 500, "{} bytes", bytes.len());
    for len in 0..bytes.len() {
        assert!(
            Engine::restore_state(settings.clone(), &bytes[..len]).is_err(),
            "a state truncated to {len} bytes"
        );
    }
    for index in 0..bytes.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut damaged = bytes.clone();
            damaged[index] ^= flip;
            assert!(
                Engine::restore_state(settings.clone(), &damaged).is_err(),
                "byte {index} ^ {flip:#x}"
            );
        }
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Engine::restore_state(settings.clone(), &longer).is_err());
    assert!(Engine::restore_state(settings, &bytes).is_ok());
}

/// The bytes of a fixed state are pinned: if this fails, the layout changed, so bump
/// `STATE_FORMAT_VERSION` (old checkpoints must be refused, not misread) and update the hash.
#[test]
fn state_format_is_pinned() {
    let engine = run_through(&custom_settings(), ts(SCRIPT_START), &script(5)[..300]);
    let bytes = engine.save_state();
    assert_eq!(STATE_FORMAT_VERSION, 3);
    assert_eq!(
        (bytes.len(), xxh3_64(&bytes)),
        // Version 2 less the creations' event ids and the deals' segments.
        (9295, 0xe295_2afb_de54_0a7c),
        "the engine state format changed: bump STATE_FORMAT_VERSION"
    );
}

// ---- (b) The same as a property over generated inputs ----------------------------------------

const AS_OF: &str = "2026-11-25T12:00:00Z";

/// Half the time a boundary instant (ties and edges), else any quarter hour with milliseconds
/// between June 2026 and a little past as_of, or a few days later (after clock advances).
fn instant() -> impl Strategy<Value = String> {
    const EDGES: &[&str] = &[
        "2026-11-25T12:00:00Z",
        "2026-11-25T12:05:00Z",
        "2026-11-25T12:04:59Z",
        "2026-11-23T00:00:00Z",
        "2026-11-18T12:00:00Z",
        "2026-11-01T00:00:00Z",
        "2026-10-01T00:00:00Z",
        "2026-12-01T00:00:00Z",
        "2027-01-01T00:00:00Z",
        "2026-07-01T00:00:00Z",
    ];
    let anywhere = (0i64..=215 * 24 * 4, 0i64..1000).prop_map(|(quarter_hours, millis)| {
        let start = ts("2026-06-03T00:00:00Z");
        (start + TimeDelta::minutes(15 * quarter_hours - 4) + TimeDelta::milliseconds(millis))
            .to_rfc3339()
    });
    prop_oneof![
        proptest::sample::select(EDGES).prop_map(str::to_owned),
        anywhere
    ]
}

fn pick(options: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    proptest::sample::select(options)
}

const REPS: &[&str] = &["r-a", "r-b", "r-c"];
const CONTACTS: &[&str] = &["c1", "c2", "c3", "c4"];
const LEADS: &[&str] = &["L1", "L2", "L3", "L4", "L5", "L6"];
const DEALS: &[&str] = &["D1", "D2", "D3"];
const CUSTOMERS: &[&str] = &["cu1", "cu2", "cu3"];
const SEGMENTS: &[&str] = &["smb", "ent", ""];
const AMOUNTS: &[&str] = &["0.1", "0.2", "9999.99", "10000", "150000", "0", "12.50"];

fn with_rep(mut event: Value, rep: Option<&str>) -> Value {
    if let Some(rep) = rep {
        event["rep_id"] = json!(rep);
    }
    event
}

/// One event of any of the thirteen types, or a line that is rejected.
fn event_body() -> impl Strategy<Value = Value> {
    let rep = || proptest::option::of(pick(REPS));
    prop_oneof![
        4 => (pick(REPS), pick(CONTACTS), pick(&["call", "email", "chat"]), any::<bool>(), proptest::option::of(pick(LEADS)))
            .prop_map(|(rep, contact, channel, established, lead)| {
                let mut event = json!({"type": "activity", "rep_id": rep, "contact_id": contact,
                                       "channel": channel, "established": established});
                if let Some(lead) = lead { event["lead_id"] = json!(lead); }
                event
            }),
        1 => (pick(REPS), pick(CONTACTS)).prop_map(|(rep, contact)|
            json!({"type": "appointment_set", "rep_id": rep, "contact_id": contact})),
        2 => (pick(LEADS), rep()).prop_map(|(lead, rep)|
            with_rep(json!({"type": "lead_created", "lead_id": lead}), rep)),
        1 => (pick(LEADS), pick(REPS)).prop_map(|(lead, rep)|
            json!({"type": "lead_assigned", "lead_id": lead, "rep_id": rep})),
        1 => (pick(LEADS), rep()).prop_map(|(lead, rep)|
            with_rep(json!({"type": "lead_disqualified", "lead_id": lead}), rep)),
        1 => (pick(LEADS), pick(&["mql", "sql"]), rep()).prop_map(|(lead, stage, rep)|
            with_rep(json!({"type": "lead_qualified", "lead_id": lead, "stage": stage}), rep)),
        1 => (pick(DEALS), pick(REPS), pick(AMOUNTS), pick(&["retail", "medical", ""])).prop_map(|(deal, rep, amount, industry)|
            json!({"type": "deal_opened", "deal_id": deal, "rep_id": rep, "amount": amount, "industry": industry})),
        2 => (pick(DEALS), pick(REPS), pick(&["won", "lost"]), proptest::option::of(pick(AMOUNTS))).prop_map(|(deal, rep, outcome, amount)| {
            let mut event = json!({"type": "deal_closed", "deal_id": deal, "rep_id": rep, "outcome": outcome});
            if let Some(amount) = amount { event["amount"] = json!(amount); }
            event
        }),
        1 => (pick(CUSTOMERS), pick(SEGMENTS)).prop_map(|(customer, segment)|
            json!({"type": "customer_acquired", "customer_id": customer, "segment": segment})),
        1 => (pick(AMOUNTS), pick(&["sales", "marketing"]), pick(SEGMENTS)).prop_map(|(amount, category, segment)|
            json!({"type": "expense", "amount": amount, "category": category, "segment": segment})),
        1 => (pick(CUSTOMERS), pick(AMOUNTS), any::<bool>(), pick(SEGMENTS)).prop_map(|(customer, amount, recurring, segment)|
            json!({"type": "revenue", "customer_id": customer, "amount": amount, "recurring": recurring, "segment": segment})),
        1 => (pick(CUSTOMERS), pick(AMOUNTS)).prop_map(|(customer, amount)|
            json!({"type": "customer_cost", "customer_id": customer, "amount": amount})),
        1 => (pick(REPS), pick(&["east", "west"]), pick(&["bdr", "ae", "other"]), any::<bool>()).prop_map(|(rep, team, role, active)|
            json!({"type": "rep_upserted", "rep_id": rep, "team": team, "role": role, "active": active})),
        1 => pick(&["meeting", "activity"]).prop_map(|kind| json!({"type": kind})), // rejected
    ]
}

/// Steps: lines (ids from a small pool, so some are duplicates) and clock advances by up to
/// about 40 days.
fn ops() -> impl Strategy<Value = Vec<Op>> {
    let step = prop_oneof![
        6 => (event_body(), instant(), 0u32..80).prop_map(|(mut event, at, id)| {
            event["event_id"] = json!(format!("e{id}"));
            event["occurred_at"] = json!(at);
            (Some(event.to_string()), 0)
        }),
        1 => (0i64..40 * 24 * 60).prop_map(|minutes| (None, minutes)),
    ];
    proptest::collection::vec(step, 1..80).prop_map(|steps| {
        let mut now = ts(AS_OF);
        steps
            .into_iter()
            .map(|step| match step {
                (Some(line), _) => Op::Ingest { line, now },
                (None, minutes) => {
                    // Small steps more often: within the skew, then days.
                    now += TimeDelta::minutes(if minutes % 3 == 0 {
                        minutes % 7
                    } else {
                        minutes
                    });
                    Op::Advance(now)
                }
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn restoring_anywhere_changes_nothing(
        (ops, splits) in ops().prop_flat_map(|ops| {
            let n = ops.len();
            (Just(ops), proptest::collection::vec(0..=n, 1..4))
        }),
        custom in any::<bool>(),
    ) {
        let settings = if custom { custom_settings() } else { Settings::default() };
        let start = ts(AS_OF);
        let uninterrupted = run_through(&settings, start, &ops);
        let interrupted = run_interrupted(&settings, start, &ops, &splits);
        prop_assert_eq!(interrupted.snapshot(), uninterrupted.snapshot());
        prop_assert_eq!(interrupted.save_state(), uninterrupted.save_state());
        prop_assert_eq!(interrupted.state_sizes(), uninterrupted.state_sizes());
    }
}
