//! Property: any permutation of an event list, with exact duplicates injected anywhere, gives a
//! byte-identical exposition (EVENTS.md "Order does not matter", "Duplicates do not count").

use proptest::prelude::*;
use salespulse_engine::{Engine, Settings};
use salespulse_events::parse_timestamp;
use serde_json::{Value, json};

const AS_OF: &str = "2026-11-25T12:00:00Z";

/// An instant: half the time one of a few boundary instants (as_of, the skew limit, period
/// starts, the rolling start), so that ties (C9) and edges are common; otherwise any quarter hour
/// (plus some milliseconds) between early June 2026 and a little past as_of.
fn instant() -> impl Strategy<Value = String> {
    const EDGES: &[&str] = &[
        "2026-11-25T12:00:00Z",
        "2026-11-25T12:05:00Z",
        "2026-11-23T00:00:00Z",
        "2026-11-18T12:00:00Z",
        "2026-11-01T00:00:00Z",
        "2026-10-01T00:00:00Z",
        "2026-11-24T09:00:00Z",
        "2026-07-01T00:00:00Z",
    ];
    // Milliseconds make durations inexact in binary floating point, so a float sum whose
    // result depends on the order of its terms would show.
    let anywhere = (0i64..=175 * 24 * 4 + 1, 0i64..1000).prop_map(|(quarter_hours, millis)| {
        let start = parse_timestamp("2026-06-03T00:00:00Z").expect("start");
        let at = start
            + chrono::TimeDelta::minutes(15 * quarter_hours - 4)
            + chrono::TimeDelta::milliseconds(millis);
        at.to_rfc3339()
    });
    prop_oneof![pick(EDGES).prop_map(str::to_owned), anywhere]
}

fn pick(options: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    proptest::sample::select(options)
}

const REPS: &[&str] = &["r-a", "r-b", "r-c"];
const CONTACTS: &[&str] = &["c1", "c2", "c3", "c4"];
const LEADS: &[&str] = &["L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8"];
const DEALS: &[&str] = &["D1", "D2", "D3"];
const CUSTOMERS: &[&str] = &["cu1", "cu2", "cu3"];
const SEGMENTS: &[&str] = &["smb", "ent", ""];
const AMOUNTS: &[&str] = &["0.1", "0.2", "9999.99", "10000", "150000", "0"];

/// One event of any of the twelve types (the id is set later), or a line that is rejected.
fn event_body() -> impl Strategy<Value = Value> {
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
        1 => (pick(LEADS), proptest::option::of(pick(REPS))).prop_map(|(lead, rep)| {
            let mut event = json!({"type": "lead_created", "lead_id": lead});
            if let Some(rep) = rep { event["rep_id"] = json!(rep); }
            event
        }),
        1 => (pick(LEADS), pick(REPS)).prop_map(|(lead, rep)|
            json!({"type": "lead_assigned", "lead_id": lead, "rep_id": rep})),
        1 => (pick(LEADS), pick(&["mql", "sql"]), proptest::option::of(pick(REPS))).prop_map(|(lead, stage, rep)| {
            let mut event = json!({"type": "lead_qualified", "lead_id": lead, "stage": stage});
            if let Some(rep) = rep { event["rep_id"] = json!(rep); }
            event
        }),
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

/// A list of input lines with unique ids (a few seconds beyond the skew are rejected too).
fn event_lines() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec((event_body(), instant()), 1..60).prop_map(|events| {
        events
            .into_iter()
            .enumerate()
            .map(|(index, (mut event, at))| {
                event["event_id"] = json!(format!("e{index}"));
                event["occurred_at"] = json!(at);
                event.to_string()
            })
            .collect()
    })
}

fn exposition(lines: &[String]) -> String {
    let as_of = parse_timestamp(AS_OF).expect("as_of");
    let mut engine = Engine::new(Settings::default(), as_of);
    for line in lines {
        engine.ingest(line.as_bytes());
    }
    salespulse_exporter::encode_text(&engine.snapshot(), &Default::default(), Vec::new())
}

/// The `sales_*` lines only: the business metrics, without the pipeline's own counters.
fn sales_lines(exposition: &str) -> Vec<&str> {
    exposition
        .lines()
        .filter(|line| line.starts_with("sales_") || line.contains(" sales_"))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn permutations_with_duplicates_give_identical_output(
        (lines, with_duplicates, shuffled) in event_lines().prop_flat_map(|lines| {
            let copies = proptest::collection::vec(any::<proptest::sample::Index>(), 0..10);
            (Just(lines), copies).prop_flat_map(|(lines, picks)| {
                let mut with_duplicates = lines.clone();
                with_duplicates.extend(picks.iter().map(|pick| pick.get(&lines).clone()));
                (Just(lines), Just(with_duplicates.clone()), Just(with_duplicates).prop_shuffle())
            })
        })
    ) {
        let in_order = exposition(&with_duplicates);
        prop_assert_eq!(&in_order, &exposition(&shuffled));
        // The injected copies change no business metric, only the pipeline counters.
        let without_duplicates = exposition(&lines);
        prop_assert_eq!(sales_lines(&in_order), sales_lines(&without_duplicates));
    }
}
