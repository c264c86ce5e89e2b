//! Team capacity, company finance, lifetime value and pipeline counters against hand-computed
//! values (SEMANTICS C6, C10, C20-C25).

mod common;

use chrono::{NaiveDate, TimeDelta};
use common::*;
use rust_decimal::Decimal;
use salespulse_calendar::CalendarSettings;
use salespulse_engine::{IngestOutcome, RosterRecord, Settings};
use salespulse_events::{EventType, RejectReason, Role, ValidationRules};
use serde_json::json;

fn seed(
    rep: &str,
    team: &str,
    role: Role,
    max_daily_leads: Option<u64>,
    max_daily_deals: Option<u64>,
    active: bool,
) -> (String, RosterRecord) {
    (
        rep.into(),
        RosterRecord {
            team: team.into(),
            role,
            max_daily_leads,
            max_daily_deals,
            active,
        },
    )
}

#[test]
fn team_capacity_uses_active_reps_of_the_final_roster() {
    let roster = vec![
        seed("A", "east", Role::Bdr, Some(50), None, true),
        seed("B", "east", Role::Bdr, None, None, true), // default 40 leads a day
        seed("C", "east", Role::Ae, None, Some(6), true),
        seed("D", "east", Role::Ae, None, None, false), // inactive: no capacity
        seed("G", "west", Role::Bdr, None, None, true), // moved to "north" by an upsert below
    ];
    let calendar = CalendarSettings {
        holidays: [NaiveDate::from_ymd_opt(2026, 11, 26).expect("date")].into(),
        ..CalendarSettings::default()
    };
    let settings = Settings {
        roster,
        calendar,
        ..Settings::default()
    };
    let mql = |id: &str, rep: &str| {
        json!({"event_id": id, "type": "lead_qualified",
        "occurred_at": "2026-11-24T10:00:00Z", "lead_id": id, "stage": "mql", "rep_id": rep})
    };
    let won = |id: &str, rep: &str| {
        json!({"event_id": id, "type": "deal_closed",
        "occurred_at": "2026-11-24T10:00:00Z", "deal_id": id, "rep_id": rep, "outcome": "won"})
    };
    let events = [
        mql("q1", "A"),
        mql("q2", "A"),
        mql("q3", "F"),
        mql("q4", "G"),
        won("w1", "C"),
        won("w2", "C"),
        won("w3", "C"),
        won("w4", "D"),
        // F joins east as an inactive BDR: its MQL does not count for the team.
        json!({"event_id": "u1", "type": "rep_upserted", "occurred_at": "2026-11-01T00:00:00Z",
               "rep_id": "F", "team": "east", "role": "bdr", "active": false}),
        // The latest upsert replaces the whole record (C10): G ends as an AE in north, default maxima.
        json!({"event_id": "u2", "type": "rep_upserted", "occurred_at": "2026-11-02T00:00:00Z",
               "rep_id": "G", "team": "south", "role": "bdr"}),
        json!({"event_id": "u3", "type": "rep_upserted", "occurred_at": "2026-11-03T00:00:00Z",
               "rep_id": "G", "team": "north", "role": "ae"}),
    ];
    let snap = snapshot(settings, "2026-11-25T12:00:00Z", &events);
    let (week, month) = (window(&snap, WEEK), window(&snap, MONTH));
    // Week of Mon 2026-11-23: 5 workdays minus the Thursday holiday.
    assert_eq!(snap.windows[week].business_days, 4);
    // November 2026: 21 weekdays minus the holiday.
    assert_eq!(snap.windows[month].business_days, 20);
    let east = snap.team("east").expect("east");
    assert_eq!((east.bdr_reps, east.ae_reps), (2, 1));
    assert_eq!(east.windows[week].bdr_capacity_leads, (50 + 40) * 4);
    assert_eq!(east.windows[week].bdr_mqls, 2);
    assert_eq!(
        east.windows[week].bdr_utilization_ratio(),
        Some(2.0 / 360.0)
    );
    assert_eq!(east.windows[week].ae_capacity_deals, 6 * 4);
    assert_eq!(east.windows[week].ae_deals_won, 3);
    assert_eq!(
        east.windows[month].ae_utilization_ratio(),
        Some(3.0 / 120.0)
    );
    // west only had G, who moved: the team is gone. north has G as an AE with 5 deals a day.
    assert!(snap.team("west").is_none());
    assert!(snap.team("south").is_none());
    let north = snap.team("north").expect("north");
    assert_eq!((north.bdr_reps, north.ae_reps), (0, 1));
    assert_eq!(north.windows[week].bdr_utilization_ratio(), None);
    assert_eq!(north.windows[week].ae_capacity_deals, 5 * 4);
    assert_eq!(snap.rep("G").expect("G").team, "north");
    assert_eq!(snap.rep("F").expect("F").team, "east");
}

#[test]
fn company_cac_magic_number_and_lifetime_value() {
    let events = [
        // Q2 2026 (the quarter before the previous one)
        event(
            "e1",
            "expense",
            "2026-05-01T00:00:00Z",
            json!({"amount": 1000, "category": "marketing", "segment": "smb"}),
        ),
        event(
            "r1",
            "revenue",
            "2026-05-15T00:00:00Z",
            json!({"customer_id": "cu-1", "amount": 100, "recurring": true, "segment": "smb"}),
        ),
        event(
            "a1",
            "customer_acquired",
            "2026-06-01T00:00:00Z",
            json!({"customer_id": "cu-1", "segment": "smb"}),
        ),
        // Q3 2026 (previous)
        event(
            "e2",
            "expense",
            "2026-08-01T00:00:00Z",
            json!({"amount": "2000", "category": "sales"}),
        ),
        event(
            "e3",
            "expense",
            "2026-08-02T00:00:00Z",
            json!({"amount": 500, "category": "sales", "segment": "smb"}),
        ),
        event(
            "r2",
            "revenue",
            "2026-08-15T00:00:00Z",
            json!({"customer_id": "cu-1", "amount": 300, "recurring": true, "segment": "smb"}),
        ),
        // Q4 2026 (current)
        event(
            "e4",
            "expense",
            "2026-11-02T00:00:00Z",
            json!({"amount": 3000, "category": "marketing", "segment": "enterprise"}),
        ),
        event(
            "r3",
            "revenue",
            "2026-11-10T00:00:00Z",
            json!({"customer_id": "cu-2", "amount": 700, "recurring": true, "segment": "enterprise"}),
        ),
        event(
            "r4",
            "revenue",
            "2026-11-11T00:00:00Z",
            json!({"customer_id": "cu-1", "amount": 50, "recurring": false}),
        ),
        event(
            "a2",
            "customer_acquired",
            "2026-11-03T00:00:00Z",
            json!({"customer_id": "cu-2", "segment": "enterprise"}),
        ),
        event(
            "a3",
            "customer_acquired",
            "2026-11-04T00:00:00Z",
            json!({"customer_id": "cu-3"}),
        ),
        event(
            "a4",
            "customer_acquired",
            "2026-11-05T00:00:00Z",
            json!({"customer_id": "cu-1", "segment": "enterprise"}),
        ), // not new again
        event(
            "c1",
            "customer_cost",
            "2026-11-12T00:00:00Z",
            json!({"customer_id": "cu-1", "amount": 40}),
        ),
        event(
            "c2",
            "customer_cost",
            "2026-11-12T00:00:00Z",
            json!({"customer_id": "cu-4", "amount": 10}),
        ),
    ];
    let snap = snapshot(Settings::default(), "2026-11-25T12:00:00Z", &events);
    let (quarter, last_quarter) = (window(&snap, QUARTER), window(&snap, LAST_QUARTER));
    // (RR(Q4) 700 - RR(Q3) 300) x 4 / SM(Q3) 2500 and (300 - 100) x 4 / SM(Q2) 1000.
    assert_eq!(snap.company.magic_number, [Some(0.64), Some(0.8)]);
    let segments: Vec<&str> = snap
        .company
        .segments
        .iter()
        .map(|s| s.segment.as_str())
        .collect();
    assert_eq!(segments, ["all", "enterprise", "smb"]);

    let all = snap.segment("all").expect("all");
    assert_eq!(all.windows[quarter].sm_expense, Decimal::from(3000));
    assert_eq!(all.windows[quarter].new_customers, 2);
    assert_eq!(all.windows[quarter].cac(), Some(1500.0));
    assert_eq!(all.windows[quarter].recurring_revenue, Decimal::from(700));
    assert_eq!(all.windows[last_quarter].sm_expense, Decimal::from(2500));
    assert_eq!(all.windows[last_quarter].cac(), None);
    let smb = snap.segment("smb").expect("smb");
    assert_eq!(smb.windows[last_quarter].sm_expense, Decimal::from(500));
    assert_eq!(smb.windows[quarter].cac(), None);
    let enterprise = snap.segment("enterprise").expect("enterprise");
    assert_eq!(enterprise.windows[quarter].cac(), Some(3000.0));

    // Lifetime: cu-1 smb (its first segmented acquisition), cu-2 enterprise, cu-3 and cu-4 none.
    assert_eq!(
        (all.customers, smb.customers, enterprise.customers),
        (4, 1, 1)
    );
    // (450 + 700 - 40 - 10) / 4
    assert_eq!(all.ltv(), Some(275.0));
    assert_eq!(smb.ltv(), Some(410.0));
    assert_eq!(enterprise.ltv(), Some(700.0));
    // LTV / (lifetime expense / lifetime new customers): 275 / (6500 / 3), 410 / (1500 / 1), 700 / 3000.
    assert_eq!(all.ltv_to_cac_ratio(), Some(275.0 / (6500.0 / 3.0)));
    assert_eq!(smb.ltv_to_cac_ratio(), Some(410.0 / 1500.0));
    assert_eq!(enterprise.ltv_to_cac_ratio(), Some(700.0 / 3000.0));
}

#[test]
fn pipeline_counters_duplicates_late_and_future_events() {
    let activity = |id: &str, at: &str, rep: &str| {
        json!({"event_id": id, "type": "activity",
        "occurred_at": at, "rep_id": rep, "contact_id": "c1", "channel": "call", "established": true})
    };
    let settings = Settings {
        validation: ValidationRules {
            max_clock_skew: TimeDelta::seconds(300),
            ..ValidationRules::default()
        },
        ..Settings::default()
    };
    let (engine, outcomes) = run(
        settings,
        "2026-11-25T12:00:00Z",
        &[
            activity("e1", "2026-11-24T09:00:00Z", "A"),
            activity("e1", "2026-11-24T10:00:00Z", "Z"), // same id, other content: a duplicate (C1)
            json!("not an object"),
            activity("e2", "2026-11-25T12:05:00Z", "FUTURE"), // exactly at the skew: accepted, no state
            activity("e3", "2026-11-25T12:05:00.000000001Z", "A"), // 1 ns beyond: rejected
            activity("e4", "2026-11-10T09:00:00Z", "A"),      // before this week: late
            activity("e3", "2026-11-24T11:00:00Z", "A"),      // a rejected id is no duplicate
        ],
    );
    assert_eq!(outcomes[1], IngestOutcome::Duplicate);
    assert!(
        matches!(&outcomes[4], IngestOutcome::Rejected(r) if r.reason == RejectReason::FutureTimestamp)
    );
    assert_eq!(outcomes[6], IngestOutcome::Accepted(EventType::Activity));
    let snap = engine.snapshot();
    let accepted: u64 = snap.pipeline.accepted.iter().sum();
    assert_eq!(accepted, 4);
    assert_eq!(snap.pipeline.duplicates, 1);
    assert_eq!(snap.pipeline.late, 1);
    assert_eq!(snap.pipeline.last_event, Some(ts("2026-11-25T12:05:00Z")));
    let rejected = |reason: RejectReason| {
        snap.pipeline.rejected[RejectReason::ALL
            .iter()
            .position(|r| *r == reason)
            .expect("reason")]
    };
    assert_eq!(rejected(RejectReason::InvalidJson), 1);
    assert_eq!(rejected(RejectReason::FutureTimestamp), 1);
    // Z appears only in a duplicate and FUTURE only after as_of: neither is a known rep (C11).
    assert_eq!(snap.rep_ids().into_iter().collect::<Vec<_>>(), ["A"]);
    assert_eq!(
        snap.rep("A").expect("A").windows[window(&snap, WEEK)].contact_attempts,
        [2, 0, 0]
    );
}

#[test]
fn a_future_event_joins_the_state_when_the_clock_reaches_it() {
    let (mut engine, _) = run(
        Settings::default(),
        "2026-11-25T12:00:00Z",
        &[
            json!({"event_id": "e1", "type": "activity", "occurred_at": "2026-11-25T12:04:00Z",
               "rep_id": "A", "contact_id": "c1", "channel": "chat", "established": true}),
        ],
    );
    assert!(engine.snapshot().rep("A").is_none());
    engine.advance_clock(ts("2026-11-25T12:04:00Z"));
    let snap = engine.snapshot();
    let stats = &snap.rep("A").expect("A is known now").windows[window(&snap, WEEK)];
    assert_eq!(
        (stats.contact_attempts, stats.contacts_established),
        ([0, 0, 1], 1)
    );
}

#[test]
fn windows_roll_over_and_old_facts_are_dropped() {
    let (mut engine, _) = run(
        Settings::default(),
        "2026-11-25T12:00:00Z",
        &[
            // Dropped once the clock is in 2027 (older than every window then), when the
            // contacts still kept are renumbered: c2 and c3 must stay two distinct contacts.
            json!({"event_id": "e0", "type": "activity", "occurred_at": "2026-08-10T09:00:00Z",
               "rep_id": "A", "contact_id": "c1", "channel": "call", "established": true}),
            json!({"event_id": "e1", "type": "activity", "occurred_at": "2026-11-24T09:00:00Z",
               "rep_id": "A", "contact_id": "c2", "channel": "call", "established": true}),
            json!({"event_id": "e2", "type": "activity", "occurred_at": "2026-11-24T10:00:00Z",
               "rep_id": "A", "contact_id": "c3", "channel": "call", "established": true}),
            json!({"event_id": "e3", "type": "appointment_set", "occurred_at": "2026-11-25T10:00:00Z",
               "rep_id": "A", "contact_id": "c3"}),
        ],
    );
    engine.advance_clock(ts("2026-12-01T09:00:00Z"));
    let snap = engine.snapshot();
    let a = snap.rep("A").expect("A");
    assert_eq!(a.windows[window(&snap, WEEK)].contacts_established, 0);
    assert_eq!(a.windows[window(&snap, LAST_WEEK)].contacts_established, 2);
    assert_eq!(a.windows[window(&snap, LAST_WEEK)].appointments_set, 1);
    assert_eq!(a.windows[window(&snap, LAST_MONTH)].contacts_established, 2);
    assert_eq!(engine.state_sizes().contacts, 3);
    engine.advance_clock(ts("2027-01-05T09:00:00Z"));
    assert_eq!(engine.state_sizes().contacts, 2);
    let snap = engine.snapshot();
    let last_quarter = &snap.rep("A").expect("A").windows[window(&snap, LAST_QUARTER)];
    assert_eq!(
        (
            last_quarter.contacts_established,
            last_quarter.appointments_set
        ),
        (2, 1)
    );
    // Nine months later nothing of it is kept, but the rep stays known.
    engine.advance_clock(ts("2027-09-01T09:00:00Z"));
    assert_eq!(engine.state_sizes().activity_facts, 0);
    assert_eq!(engine.state_sizes().contacts, 0);
    assert_eq!(engine.state_sizes().event_ids, 0);
    assert!(engine.snapshot().rep("A").is_some());
}

#[test]
fn the_future_is_judged_against_the_callers_clock() {
    let line = json!({"event_id": "e1", "type": "activity", "occurred_at": "2026-11-25T12:06:40Z",
        "rep_id": "A", "contact_id": "c1", "channel": "call", "established": true})
    .to_string();
    // 400 s after the engine's clock: beyond the 300 s skew.
    let (mut engine, _) = run(Settings::default(), "2026-11-25T12:00:00Z", &[]);
    assert!(
        matches!(engine.ingest(line.as_bytes()), IngestOutcome::Rejected(r) if r.reason == RejectReason::FutureTimestamp)
    );
    // The wall clock is 200 s further on: within the skew, accepted, and applied when the
    // engine's clock gets there.
    let (mut engine, _) = run(Settings::default(), "2026-11-25T12:00:00Z", &[]);
    let outcome = engine.ingest_at(line.as_bytes(), ts("2026-11-25T12:03:20Z"));
    assert_eq!(outcome, IngestOutcome::Accepted(EventType::Activity));
    engine.advance_clock(ts("2026-11-25T12:06:40Z"));
    let snap = engine.snapshot();
    assert_eq!(
        snap.rep("A").expect("A").windows[window(&snap, WEEK)].contacts_established,
        1
    );
}
