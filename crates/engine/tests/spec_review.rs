//! Tricky rules of SEMANTICS.md pinned in a review, and the deviations it found (since fixed).

mod common;

use common::*;
use rust_decimal::Decimal;
use salespulse_engine::{Period, RosterRecord, Settings, WindowKind};
use salespulse_events::Role;
use serde_json::json;

const AS_OF: &str = "2026-11-25T12:00:00Z"; // Wednesday; week from Mon 2026-11-23

fn dec(text: &str) -> Decimal {
    text.parse().expect("decimal")
}

fn days_90(snap: &salespulse_engine::Snapshot) -> usize {
    snap.window_index(Period::Days90, WindowKind::Rolling)
        .expect("90d")
}

// ---------------------------------------------------------------------------------------------
// Panics on input
// ---------------------------------------------------------------------------------------------

/// EVENTS.md: bad input never stops the pipeline. Two valid expenses whose sum exceeds
/// rust_decimal's range make `Decimal + Decimal` panic ("Addition overflowed") in the engine.
#[test]
fn huge_expense_amounts_do_not_panic() {
    let big = "50000000000000000000000000000"; // 5e28, a valid Decimal; the sum 1e29 is not
    let events = [
        event(
            "x1",
            "expense",
            "2026-11-24T09:00:00Z",
            json!({"amount": big, "category": "sales"}),
        ),
        event(
            "x2",
            "expense",
            "2026-11-24T10:00:00Z",
            json!({"amount": big, "category": "marketing"}),
        ),
    ];
    let result = std::panic::catch_unwind(|| snapshot(Settings::default(), AS_OF, &events));
    assert!(
        result.is_ok(),
        "two valid expense events panicked the engine"
    );
}

/// Same, through the won-deal amount sum of one rep.
#[test]
fn huge_won_deal_amounts_do_not_panic() {
    let big = "50000000000000000000000000000";
    let events = [
        event(
            "d1",
            "deal_closed",
            "2026-11-24T09:00:00Z",
            json!({"deal_id": "D1", "rep_id": "A", "outcome": "won", "amount": big}),
        ),
        event(
            "d2",
            "deal_closed",
            "2026-11-24T10:00:00Z",
            json!({"deal_id": "D2", "rep_id": "A", "outcome": "won", "amount": big}),
        ),
    ];
    let result = std::panic::catch_unwind(|| snapshot(Settings::default(), AS_OF, &events));
    assert!(
        result.is_ok(),
        "two valid deal_closed events panicked the engine"
    );
}

/// Same, through one customer's lifetime revenue.
#[test]
fn huge_revenue_amounts_do_not_panic() {
    let big = "50000000000000000000000000000";
    let events = [
        event(
            "r1",
            "revenue",
            "2026-11-24T09:00:00Z",
            json!({"customer_id": "cu", "amount": big, "recurring": false}),
        ),
        event(
            "r2",
            "revenue",
            "2026-11-24T10:00:00Z",
            json!({"customer_id": "cu", "amount": big, "recurring": false}),
        ),
    ];
    let result = std::panic::catch_unwind(|| snapshot(Settings::default(), AS_OF, &events));
    assert!(
        result.is_ok(),
        "two valid revenue events panicked the engine"
    );
}

/// Same, with a single large recurring revenue: the magic number's `(RR - RR') x 4` overflows in
/// the snapshot (every scrape would panic).
#[test]
fn one_large_recurring_revenue_does_not_panic_the_magic_number() {
    let events = [
        event(
            "x1",
            "expense",
            "2026-08-01T00:00:00Z",
            json!({"amount": 1, "category": "sales"}),
        ),
        event(
            "r1",
            "revenue",
            "2026-11-24T09:00:00Z",
            json!({"customer_id": "cu", "amount": "30000000000000000000000000000", "recurring": true}),
        ),
    ];
    let result = std::panic::catch_unwind(|| snapshot(Settings::default(), AS_OF, &events));
    assert!(
        result.is_ok(),
        "a valid revenue event panicked the snapshot"
    );
}

// ---------------------------------------------------------------------------------------------
// Tricky rules
// ---------------------------------------------------------------------------------------------

fn seed(
    rep: &str,
    team: &str,
    role: Role,
    leads: Option<u64>,
    deals: Option<u64>,
    active: bool,
) -> (String, RosterRecord) {
    (
        rep.into(),
        RosterRecord {
            team: team.into(),
            role,
            max_daily_leads: leads,
            max_daily_deals: deals,
            active,
        },
    )
}

/// C6: an accepted event in (as_of, as_of + skew] is in no state: not the roster (team label),
/// not the queue, not lifetime, not the exported segments, not the known reps.
#[test]
fn c6_tolerated_future_events_touch_no_state() {
    let settings = Settings {
        roster: vec![seed("A", "east", Role::Bdr, None, None, true)],
        ..Settings::default()
    };
    let soon = "2026-11-25T12:04:00Z";
    let events = [
        event(
            "u1",
            "rep_upserted",
            soon,
            json!({"rep_id": "A", "team": "west", "role": "bdr"}),
        ),
        event(
            "l1",
            "lead_created",
            soon,
            json!({"lead_id": "L1", "rep_id": "A"}),
        ),
        event("l2", "lead_created", soon, json!({"lead_id": "L2"})),
        event(
            "a1",
            "customer_acquired",
            soon,
            json!({"customer_id": "cu", "segment": "smb"}),
        ),
        event(
            "x1",
            "expense",
            soon,
            json!({"amount": 5, "category": "sales", "segment": "ent"}),
        ),
        event(
            "q1",
            "lead_qualified",
            soon,
            json!({"lead_id": "L9", "stage": "mql", "rep_id": "B"}),
        ),
    ];
    let snap = snapshot(settings, AS_OF, &events);
    assert_eq!(snap.pipeline.accepted.iter().sum::<u64>(), 6);
    let a = snap.rep("A").expect("A");
    assert_eq!(a.team, "east");
    assert_eq!(a.queue.awaiting, 0);
    assert!(snap.unassigned_queue.is_none());
    assert!(snap.rep("B").is_none());
    let segments: Vec<&str> = snap
        .company
        .segments
        .iter()
        .map(|s| s.segment.as_str())
        .collect();
    assert_eq!(segments, ["all"]);
    assert_eq!(snap.segment("all").expect("all").customers, 0);
    assert!(snap.team("west").is_none());
}

/// C16 + C26: attribution uses the owner at the qualification's instant; a later rep-less
/// lead_created does not un-assign; an assignment after the qualification does not count.
#[test]
fn c16_attribution_uses_owner_at_qualification_instant() {
    let events = [
        event(
            "c0",
            "lead_created",
            "2026-11-23T08:00:00Z",
            json!({"lead_id": "L1"}),
        ),
        event(
            "q0",
            "lead_qualified",
            "2026-11-23T09:00:00Z",
            json!({"lead_id": "L1", "stage": "mql"}),
        ),
        event(
            "as",
            "lead_assigned",
            "2026-11-23T10:00:00Z",
            json!({"lead_id": "L1", "rep_id": "A"}),
        ),
        event(
            "c1",
            "lead_created",
            "2026-11-23T11:00:00Z",
            json!({"lead_id": "L1"}),
        ),
        event(
            "q1",
            "lead_qualified",
            "2026-11-23T12:00:00Z",
            json!({"lead_id": "L1", "stage": "sql"}),
        ),
        // L2: assignment at the same instant with a larger event id still counts as before.
        event(
            "zz",
            "lead_assigned",
            "2026-11-24T10:00:00Z",
            json!({"lead_id": "L2", "rep_id": "B"}),
        ),
        event(
            "aa",
            "lead_qualified",
            "2026-11-24T10:00:00Z",
            json!({"lead_id": "L2", "stage": "mql"}),
        ),
    ];
    let snap = snapshot(Settings::default(), AS_OF, &events);
    let week = window(&snap, WEEK);
    let a = &snap.rep("A").expect("A").windows[week];
    // The MQL at 09:00 had no owner (the assignment came at 10:00): counted for nobody.
    assert_eq!((a.mqls, a.sqls), (0, 1));
    assert_eq!(a.mql_to_sql_ratio(), None);
    let b = &snap.rep("B").expect("B").windows[week];
    assert_eq!(b.mqls, 1);
    // L1 was never touched: it waits in A's queue, not in the unassigned one. L2 was never
    // created, so it waits nowhere.
    assert_eq!(snap.rep("A").expect("A").queue.awaiting, 1);
    assert_eq!(snap.rep("B").expect("B").queue.awaiting, 0);
    assert!(snap.unassigned_queue.is_none());
}

/// C14 + C9: the earliest lead_created starts the clock whatever the input order; the first touch
/// at a tied instant is the one with the smaller event id.
#[test]
fn c14_earliest_creation_and_tied_first_touch() {
    let touch = |id: &str, rep: &str, at: &str| {
        event(
            id,
            "activity",
            at,
            json!({"rep_id": rep, "contact_id": "c", "channel": "email", "established": false, "lead_id": "L1"}),
        )
    };
    let events = [
        event(
            "c2",
            "lead_created",
            "2026-11-24T09:00:00Z",
            json!({"lead_id": "L1", "rep_id": "A"}),
        ),
        touch("t-b", "A", "2026-11-24T09:10:00Z"),
        touch("t-a", "B", "2026-11-24T09:10:00Z"),
        event(
            "c1",
            "lead_created",
            "2026-11-24T08:00:00Z",
            json!({"lead_id": "L1", "rep_id": "A"}),
        ),
    ];
    let snap = snapshot(Settings::default(), AS_OF, &events);
    let week = window(&snap, WEEK);
    let a = &snap.rep("A").expect("A").windows[week];
    let b = &snap.rep("B").expect("B").windows[week];
    assert_eq!(a.leads_responded, 0);
    assert_eq!(b.leads_responded, 1);
    assert_eq!(b.leads_responded_within_sla, 0);
    assert_eq!(b.response_mean_seconds, Some(4200.0));
    assert_eq!(b.response_percentiles, Some([4200.0, 4200.0, 4200.0]));
}

/// C14/C24: a first touch older than every window still answers the lead (not awaiting), counts in
/// the histogram, and in no window.
#[test]
fn c24_old_first_touch_still_answers_the_lead() {
    let events = [
        event(
            "c1",
            "lead_created",
            "2025-01-01T00:00:00Z",
            json!({"lead_id": "L1", "rep_id": "A"}),
        ),
        event(
            "t1",
            "activity",
            "2025-01-01T00:01:00Z",
            json!({"rep_id": "A", "contact_id": "c", "channel": "call", "established": false, "lead_id": "L1"}),
        ),
    ];
    let snap = snapshot(Settings::default(), AS_OF, &events);
    let a = snap.rep("A").expect("A");
    assert_eq!(a.queue.awaiting, 0);
    assert_eq!(a.responses.count, 1);
    assert_eq!(a.responses.sum_seconds(), 60.0);
    assert!(
        a.windows
            .iter()
            .all(|w| w.leads_responded == 0 && w.response_mean_seconds.is_none())
    );
}

/// C19: a dimension value seen only on a counting close older than every window is exported with 0.
#[test]
fn c19_old_dimension_values_are_exported_with_zeros() {
    let events = [event(
        "d1",
        "deal_closed",
        "2025-03-01T00:00:00Z",
        json!({"deal_id": "D1", "rep_id": "A", "outcome": "won", "industry": "mining", "amount": 0}),
    )];
    let snap = snapshot(Settings::default(), AS_OF, &events);
    let row = snap.dimension("industry", "mining").expect("mining row");
    assert_eq!(row.windows.len(), 9);
    assert!(
        row.windows
            .iter()
            .all(|w| w.won == 0 && w.lost == 0 && w.win_ratio().is_none())
    );
    assert!(
        snap.dimension("size", "small").is_some(),
        "0 is small (C18)"
    );
    assert!(snap.dimension("channel", "unknown").is_some());
}

/// C18: band edges.
#[test]
fn c18_size_band_edges() {
    let close = |id: &str, amount: &str| {
        event(
            id,
            "deal_closed",
            "2026-11-24T09:00:00Z",
            json!({"deal_id": id, "rep_id": "A", "outcome": "won", "amount": amount}),
        )
    };
    let events = [
        close("d1", "9999.99"),
        close("d2", "10000"),
        close("d3", "99999.999"),
        close("d4", "100000.00"),
    ];
    let snap = snapshot(Settings::default(), AS_OF, &events);
    let week = window(&snap, WEEK);
    let won = |v: &str| snap.dimension("size", v).map(|r| r.windows[week].won);
    assert_eq!(
        (won("small"), won("medium"), won("large")),
        (Some(1), Some(2), Some(1))
    );
}

/// C17: dimensions come from the deal's *latest* deal_opened only (not merged over opens); an empty
/// string on the close is missing.
#[test]
fn c17_dimensions_come_from_the_latest_open_only() {
    let events = [
        event(
            "o1",
            "deal_opened",
            "2026-11-02T09:00:00Z",
            json!({"deal_id": "D1", "rep_id": "A", "industry": "retail", "channel": "inbound", "amount": 500}),
        ),
        event(
            "o2",
            "deal_opened",
            "2026-11-03T09:00:00Z",
            json!({"deal_id": "D1", "rep_id": "A", "channel": "outbound"}),
        ),
        event(
            "c1",
            "deal_closed",
            "2026-11-24T09:00:00Z",
            json!({"deal_id": "D1", "rep_id": "A", "outcome": "won", "channel": "", "industry": ""}),
        ),
    ];
    let snap = snapshot(Settings::default(), AS_OF, &events);
    let week = window(&snap, WEEK);
    assert_eq!(
        snap.dimension("industry", "unknown")
            .expect("unknown")
            .windows[week]
            .won,
        1
    );
    assert_eq!(
        snap.dimension("channel", "outbound")
            .expect("outbound")
            .windows[week]
            .won,
        1
    );
    assert_eq!(
        snap.dimension("size", "unknown")
            .expect("size unknown")
            .windows[week]
            .won,
        1
    );
    assert!(snap.dimension("industry", "retail").is_none());
    assert_eq!(
        snap.rep("A").expect("A").windows[week].deals_won_amount,
        Decimal::ZERO
    );
}

/// C21/C23: an empty segment counts in `all` only and is no segment; a customer's first acquisition
/// decides where it is new, its first *segmented* acquisition its lifetime segment.
#[test]
fn c21_c23_segments_of_new_and_lifetime_customers() {
    let events = [
        event(
            "x1",
            "expense",
            "2026-11-24T09:00:00Z",
            json!({"amount": 100, "category": "sales", "segment": ""}),
        ),
        event(
            "a1",
            "customer_acquired",
            "2026-11-24T09:00:00Z",
            json!({"customer_id": "cu", "segment": null}),
        ),
        event(
            "a2",
            "customer_acquired",
            "2026-11-24T10:00:00Z",
            json!({"customer_id": "cu", "segment": "ent"}),
        ),
        event(
            "k1",
            "customer_cost",
            "2026-11-24T10:00:00Z",
            json!({"customer_id": "cu-x", "amount": 30}),
        ),
        // A segment seen only on an expense older than every window is still exported.
        event(
            "x0",
            "expense",
            "2024-01-01T00:00:00Z",
            json!({"amount": 7, "category": "sales", "segment": "old"}),
        ),
    ];
    let snap = snapshot(Settings::default(), AS_OF, &events);
    let week = window(&snap, WEEK);
    let names: Vec<&str> = snap
        .company
        .segments
        .iter()
        .map(|s| s.segment.as_str())
        .collect();
    assert_eq!(names, ["all", "ent", "old"]);
    let all = snap.segment("all").expect("all");
    let ent = snap.segment("ent").expect("ent");
    let old = snap.segment("old").expect("old");
    assert_eq!(all.windows[week].sm_expense, dec("100"));
    assert_eq!(all.windows[week].new_customers, 1);
    assert_eq!(all.windows[week].cac(), Some(100.0));
    assert_eq!(ent.windows[week].new_customers, 0);
    assert_eq!(ent.windows[week].cac(), None);
    assert_eq!(ent.windows[week].sm_expense, Decimal::ZERO);
    assert_eq!((all.customers, ent.customers, old.customers), (2, 1, 0));
    assert_eq!(all.ltv(), Some(-15.0));
    assert_eq!(ent.ltv(), Some(0.0));
    assert_eq!(old.ltv(), None);
    // all: ltv -15 / (107 / 1); ent: no lifetime expense and no new customer of its own -> absent.
    assert_eq!(all.ltv_to_cac_ratio(), Some(-15.0 / 107.0));
    assert_eq!(ent.ltv_to_cac_ratio(), None);
    assert_eq!(old.lifetime_expense, dec("7"));
}

/// C22: the magic number is absent when the S&M of the quarter before is 0; other expense in the
/// current quarter does not help.
#[test]
fn c22_magic_number_absent_without_previous_quarter_spend() {
    let events = [
        event(
            "x1",
            "expense",
            "2026-11-02T00:00:00Z",
            json!({"amount": 100, "category": "sales"}),
        ),
        event(
            "r1",
            "revenue",
            "2026-08-02T00:00:00Z",
            json!({"customer_id": "cu", "amount": 10, "recurring": true}),
        ),
        event(
            "x2",
            "expense",
            "2026-06-30T23:59:59Z",
            json!({"amount": 40, "category": "marketing", "segment": "smb"}),
        ),
        event(
            "r0",
            "revenue",
            "2026-04-01T00:00:00Z",
            json!({"customer_id": "cu", "amount": 2, "recurring": true}),
        ),
    ];
    let snap = snapshot(Settings::default(), AS_OF, &events);
    // current: SM(Q3) = 0 -> absent. previous: (10 - 2) x 4 / 40 (segmented S&M counts too).
    assert_eq!(snap.company.magic_number, [None, Some(0.8)]);
}

/// C10/C20: an upsert replaces the whole seed record (missing max -> the [capacity] default, not
/// the seed's value); a team whose only rep is inactive or `other` is still a team, with ratios absent.
#[test]
fn c10_c20_upsert_replaces_seed_and_teams_without_capacity() {
    let settings = Settings {
        roster: vec![
            seed("A", "east", Role::Bdr, Some(50), None, true),
            seed("O", "ops", Role::Other, None, None, true),
            seed("I", "idle", Role::Ae, None, Some(9), false),
        ],
        ..Settings::default()
    };
    let events = [event(
        "u1",
        "rep_upserted",
        "2026-01-01T00:00:00Z",
        json!({"rep_id": "A", "team": "east", "role": "bdr"}),
    )];
    let snap = snapshot(settings, AS_OF, &events);
    let week = window(&snap, WEEK); // 5 business days
    let east = snap.team("east").expect("east");
    assert_eq!(east.windows[week].bdr_capacity_leads, 40 * 5);
    for team in ["ops", "idle"] {
        let t = snap.team(team).expect("team of an inactive or other rep");
        assert_eq!((t.bdr_reps, t.ae_reps), (0, 0));
        assert_eq!(t.windows[week].bdr_utilization_ratio(), None);
        assert_eq!(t.windows[week].ae_utilization_ratio(), None);
    }
    assert_eq!(snap.teams.len(), 3);
}

/// C11: reps named only by lead_created / lead_assigned / lead_qualified / deal_opened are known.
#[test]
fn c11_reps_from_lead_and_deal_events_are_known() {
    let events = [
        event(
            "c1",
            "lead_created",
            "2026-01-01T00:00:00Z",
            json!({"lead_id": "L1", "rep_id": "P"}),
        ),
        event(
            "a1",
            "lead_assigned",
            "2026-01-01T00:00:00Z",
            json!({"lead_id": "L2", "rep_id": "Q"}),
        ),
        event(
            "q1",
            "lead_qualified",
            "2020-01-01T00:00:00Z",
            json!({"lead_id": "L3", "stage": "sql", "rep_id": "R"}),
        ),
        event(
            "o1",
            "deal_opened",
            "2020-01-01T00:00:00Z",
            json!({"deal_id": "D1", "rep_id": "S"}),
        ),
    ];
    let snap = snapshot(Settings::default(), AS_OF, &events);
    assert_eq!(
        snap.rep_ids().into_iter().collect::<Vec<_>>(),
        ["P", "Q", "R", "S"]
    );
    assert!(
        snap.reps
            .iter()
            .all(|r| r.team == "unknown" && r.windows.len() == 9)
    );
}

/// C7: an event at exactly the start of the current period is in `current`, not `previous`;
/// the last nanosecond before it is in `previous`.
#[test]
fn c7_period_start_belongs_to_current() {
    let call = |id: &str, at: &str| {
        event(
            id,
            "activity",
            at,
            json!({"rep_id": "A", "contact_id": id, "channel": "call", "established": true}),
        )
    };
    let events = [
        call("e1", "2026-11-23T00:00:00Z"),
        call("e2", "2026-11-22T23:59:59.999999999Z"),
    ];
    let snap = snapshot(Settings::default(), AS_OF, &events);
    let a = snap.rep("A").expect("A");
    assert_eq!(a.windows[window(&snap, WEEK)].contacts_established, 1);
    assert_eq!(a.windows[window(&snap, LAST_WEEK)].contacts_established, 1);
    assert_eq!(a.windows[days_90(&snap)].contacts_established, 2);
}

/// C12: an appointment counts for the rep who both established and set it, per window, even when
/// another rep also established the same contact.
#[test]
fn c12_c13_shared_contact_between_reps() {
    let act = |id: &str, rep: &str, at: &str, est: bool| {
        event(
            id,
            "activity",
            at,
            json!({"rep_id": rep, "contact_id": "c1", "channel": "chat", "established": est}),
        )
    };
    let appt = |id: &str, rep: &str, at: &str| {
        event(
            id,
            "appointment_set",
            at,
            json!({"rep_id": rep, "contact_id": "c1"}),
        )
    };
    let events = [
        act("e1", "A", "2026-11-24T09:00:00Z", true),
        act("e2", "B", "2026-11-24T10:00:00Z", true),
        act("e3", "C", "2026-11-24T10:00:00Z", false),
        appt("p1", "B", "2026-11-24T11:00:00Z"),
        appt("p2", "C", "2026-11-24T11:00:00Z"),
    ];
    let snap = snapshot(Settings::default(), AS_OF, &events);
    let week = window(&snap, WEEK);
    let stats = |r: &str| {
        let s = &snap.rep(r).expect("rep").windows[week];
        (
            s.contacts_established,
            s.appointments_set,
            s.appointment_set_ratio(),
        )
    };
    assert_eq!(stats("A"), (1, 0, Some(0.0)));
    assert_eq!(stats("B"), (1, 1, Some(1.0)));
    assert_eq!(stats("C"), (0, 0, None));
}
