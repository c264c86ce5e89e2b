//! Per-rep metrics against hand-computed values (SEMANTICS C12-C17).

mod common;

use common::*;
use rust_decimal::Decimal;
use salespulse_engine::Settings;
use salespulse_events::EventType;
use serde_json::json;

fn activity(
    id: &str,
    at: &str,
    rep: &str,
    contact: &str,
    channel: &str,
    established: bool,
) -> serde_json::Value {
    json!({"event_id": id, "type": "activity", "occurred_at": at, "rep_id": rep,
           "contact_id": contact, "channel": channel, "established": established})
}

fn appointment(id: &str, at: &str, rep: &str, contact: &str) -> serde_json::Value {
    json!({"event_id": id, "type": "appointment_set", "occurred_at": at, "rep_id": rep, "contact_id": contact})
}

#[test]
fn contacts_and_appointments_are_distinct_per_rep_and_window() {
    // as_of Wednesday 2026-11-25 12:00 UTC; the week started Monday 2026-11-23.
    let events = [
        activity("a1", "2026-11-23T09:00:00Z", "A", "c1", "call", true),
        activity("a2", "2026-11-24T09:00:00Z", "A", "c1", "email", true),
        activity("a3", "2026-11-24T10:00:00Z", "A", "c2", "call", false),
        activity("a4", "2026-11-24T11:00:00Z", "A", "c3", "chat", true),
        // The appointment may come before the established activity inside the window.
        appointment("p1", "2026-11-23T08:00:00Z", "A", "c1"),
        // Set by another rep: counts for neither.
        appointment("p2", "2026-11-24T12:00:00Z", "B", "c3"),
        // Never established.
        appointment("p3", "2026-11-24T13:00:00Z", "A", "c4"),
        // Rescheduled: still one appointment.
        appointment("p4", "2026-11-25T09:00:00Z", "A", "c1"),
        // Established last week, appointment this week: together only in the month.
        activity("a5", "2026-11-18T09:00:00Z", "A", "c5", "call", true),
        appointment("p5", "2026-11-24T09:00:00Z", "A", "c5"),
    ];
    let snap = snapshot(Settings::default(), "2026-11-25T12:00:00Z", &events);
    let a = snap.rep("A").expect("rep A");
    let week = &a.windows[window(&snap, WEEK)];
    assert_eq!(week.contact_attempts, [2, 1, 1]);
    assert_eq!(week.contacts_established, 2);
    assert_eq!(week.appointments_set, 1);
    assert_eq!(week.appointment_set_ratio(), Some(0.5));

    let last_week = &a.windows[window(&snap, LAST_WEEK)];
    assert_eq!(last_week.contact_attempts, [1, 0, 0]);
    assert_eq!(last_week.contacts_established, 1);
    assert_eq!(last_week.appointments_set, 0);
    assert_eq!(last_week.appointment_set_ratio(), Some(0.0));

    let month = &a.windows[window(&snap, MONTH)];
    assert_eq!(month.contact_attempts, [3, 1, 1]);
    assert_eq!(month.contacts_established, 3);
    assert_eq!(month.appointments_set, 2);

    // (2026-11-18T12:00Z, as_of]: a5 at 09:00 on the 18th is outside.
    let rolling = &a.windows[window(&snap, DAYS_7)];
    assert_eq!(rolling.contacts_established, 2);
    assert_eq!(rolling.appointments_set, 1);

    let b = snap
        .rep("B")
        .expect("rep B is known through its appointment");
    assert_eq!(b.windows[window(&snap, WEEK)].contacts_established, 0);
    assert_eq!(b.windows[window(&snap, WEEK)].appointment_set_ratio(), None);
    assert_eq!(b.team, "unknown");
}

fn lead_created(id: &str, at: &str, lead: &str, rep: Option<&str>) -> serde_json::Value {
    let mut event =
        json!({"event_id": id, "type": "lead_created", "occurred_at": at, "lead_id": lead});
    if let Some(rep) = rep {
        event["rep_id"] = json!(rep);
    }
    event
}

fn touch(id: &str, at: &str, rep: &str, lead: &str) -> serde_json::Value {
    let mut event = activity(id, at, rep, &format!("contact-{lead}"), "call", false);
    event["lead_id"] = json!(lead);
    event
}

fn disqualified(id: &str, at: &str, lead: &str, rep: Option<&str>) -> serde_json::Value {
    let mut event = json!({"event_id": id, "type": "lead_disqualified", "occurred_at": at,
                           "lead_id": lead, "reason": "junk"});
    if let Some(rep) = rep {
        event["rep_id"] = json!(rep);
    }
    event
}

/// C24 v1.1: a disqualification (even one stamped before the creation) or an age above
/// `lead_queue_max_age_seconds` takes a lead out of the queue; response metrics are unchanged.
#[test]
fn disqualified_and_too_old_leads_leave_the_queue() {
    let events = [
        lead_created("l1", "2026-11-25T11:00:00Z", "L1", Some("A")), // waits 3,600 s
        lead_created("l2", "2026-11-25T10:00:00Z", "L2", Some("A")),
        disqualified("d2", "2026-11-25T10:30:00Z", "L2", Some("A")),
        lead_created("l3", "2026-11-25T09:00:00Z", "L3", Some("A")),
        disqualified("d3", "2026-11-25T08:00:00Z", "L3", None), // before its creation
        lead_created("l4", "2026-11-25T08:00:00Z", "L4", Some("A")), // waits 14,400 s
        disqualified("d4", "2026-11-25T12:04:00Z", "L4", None), // after as-of: not yet
        lead_created("l5", "2026-10-26T12:00:00Z", "L5", Some("A")), // exactly 30 days: stays
        lead_created("l6", "2026-10-26T11:59:59Z", "L6", Some("A")), // 30 days + 1 s: out
        lead_created("l7", "2026-11-25T09:00:00Z", "L7", Some("A")),
        touch("t7", "2026-11-25T09:30:00Z", "A", "L7"), // answered in 1,800 s
        disqualified("d7", "2026-11-25T10:00:00Z", "L7", Some("A")),
        lead_created("l8", "2026-11-25T09:00:00Z", "L8", Some("A")),
        disqualified("d8", "2026-11-25T09:10:00Z", "L8", Some("Z")), // Z: known from this alone
        touch("t8", "2026-11-25T09:20:00Z", "A", "L8"),              // still answered, in 1,200 s
    ];
    let as_of = "2026-11-25T12:00:00Z";
    let snap = snapshot(Settings::default(), as_of, &events);
    let a = snap.rep("A").expect("rep A");
    assert_eq!(a.queue.awaiting, 3, "L1, L4, L5");
    assert_eq!(a.queue.oldest_wait_seconds, Some(2_592_000.0));
    let week = &a.windows[window(&snap, WEEK)];
    assert_eq!(week.leads_responded, 2);
    assert_eq!(week.response_mean_seconds, Some(1_500.0));
    assert_eq!(a.responses.count, 2);
    let z = snap
        .rep("Z")
        .expect("rep Z is known from its disqualification");
    assert_eq!(z.queue.awaiting, 0);
    // d2, d3, d4 (accepted, waiting for the clock), d7, d8.
    let index = EventType::ALL
        .iter()
        .position(|t| *t == EventType::LeadDisqualified)
        .expect("a known type");
    assert_eq!(snap.pipeline.accepted[index], 5);

    let no_limit = Settings {
        lead_queue_max_age: None,
        ..Settings::default()
    };
    let snap = snapshot(no_limit, as_of, &events);
    let a = snap.rep("A").expect("rep A");
    assert_eq!(a.queue.awaiting, 4, "L1, L4, L5, L6");
    assert_eq!(a.queue.oldest_wait_seconds, Some(2_592_001.0));
}

#[test]
fn lead_response_times_sla_percentiles_and_queue() {
    let events = [
        lead_created("l1", "2026-11-24T09:00:00Z", "L1", Some("A")),
        touch("t1", "2026-11-24T09:05:00Z", "A", "L1"), // 300 s: within the SLA
        lead_created("l2", "2026-11-24T10:00:00Z", "L2", Some("A")),
        touch("t2", "2026-11-24T10:05:00.5Z", "A", "L2"), // 300.5 s: not within
        touch("t3", "2026-11-24T08:00:00Z", "A", "L3"),   // touched before it was created: 0 s
        lead_created("l3", "2026-11-24T08:10:00Z", "L3", Some("A")),
        lead_created("l4", "2026-11-24T11:00:00Z", "L4", Some("A")),
        touch("t4a", "2026-11-24T11:02:00Z", "A", "L4"),
        touch("t4b", "2026-11-24T11:01:00Z", "B", "L4"), // the first touch, by B: 60 s for B
        touch("t5", "2026-11-24T12:00:00Z", "A", "L5"),  // no lead_created: no clock
        lead_created("l6", "2026-11-25T11:00:00Z", "L6", Some("A")), // waiting 3600 s
        lead_created("l7", "2026-11-25T10:00:00Z", "L7", None), // unassigned, waiting 7200 s
        lead_created("l8", "2026-11-20T10:00:00Z", "L8", Some("B")),
        json!({"event_id": "l8a", "type": "lead_assigned", "occurred_at": "2026-11-21T10:00:00Z", "lead_id": "L8", "rep_id": "A"}),
        // A later lead_created without rep does not un-assign (C26), nor restart the clock.
        lead_created("l8b", "2026-11-22T10:00:00Z", "L8", None),
    ];
    let snap = snapshot(Settings::default(), "2026-11-25T12:00:00Z", &events);
    let a = snap.rep("A").expect("rep A");
    let week = &a.windows[window(&snap, WEEK)];
    assert_eq!(week.leads_responded, 3);
    assert_eq!(week.leads_responded_within_sla, 2);
    assert_eq!(week.lead_response_sla_ratio(), Some(2.0 / 3.0));
    // Sorted [0, 300, 300.5]: ranks ceil(1.5)=2, ceil(2.7)=3, ceil(2.97)=3.
    assert_eq!(week.response_percentiles, Some([300.0, 300.5, 300.5]));
    assert_eq!(week.response_mean_seconds, Some(600.5 / 3.0));
    assert_eq!(a.queue.awaiting, 2);
    // L8 was created 5 days 2 hours before as_of.
    assert_eq!(a.queue.oldest_wait_seconds, Some(439_200.0));
    assert_eq!(a.responses.count, 3);
    assert_eq!(a.responses.sum_seconds(), 600.5);
    // Buckets 30, 60, 120, 180, 300, 600, ...: 0 s and 300 s are <= 300, 300.5 s is not.
    assert_eq!(a.responses.cumulative_counts[..6], [1, 1, 1, 1, 2, 3]);

    let b = snap.rep("B").expect("rep B");
    let b_week = &b.windows[window(&snap, WEEK)];
    assert_eq!(b_week.leads_responded, 1);
    assert_eq!(b_week.response_percentiles, Some([60.0, 60.0, 60.0]));
    assert_eq!(b.queue.awaiting, 0);
    assert_eq!(b.queue.oldest_wait_seconds, None);

    let unassigned = snap.unassigned_queue.as_ref().expect("one unassigned lead");
    assert_eq!(unassigned.awaiting, 1);
    assert_eq!(unassigned.oldest_wait_seconds, Some(7200.0));
    // Previous week: nothing responded, so no percentiles at all (absent, not NaN).
    assert_eq!(
        a.windows[window(&snap, LAST_WEEK)].response_percentiles,
        None
    );
    assert_eq!(
        a.windows[window(&snap, LAST_WEEK)].lead_response_sla_ratio(),
        None
    );
}

fn qualified(id: &str, at: &str, lead: &str, stage: &str, rep: Option<&str>) -> serde_json::Value {
    let mut event = json!({"event_id": id, "type": "lead_qualified", "occurred_at": at, "lead_id": lead, "stage": stage});
    if let Some(rep) = rep {
        event["rep_id"] = json!(rep);
    }
    event
}

#[test]
fn mql_and_sql_attribution() {
    let events = [
        lead_created("m1c", "2026-11-24T09:00:00Z", "M1", Some("A")),
        json!({"event_id": "m1a", "type": "lead_assigned", "occurred_at": "2026-11-24T10:00:00Z", "lead_id": "M1", "rep_id": "B"}),
        // Same instant as the reassignment: the reassignment counts as before (C16).
        qualified("m1q", "2026-11-24T10:00:00Z", "M1", "mql", None),
        qualified("m1s", "2026-11-24T11:00:00Z", "M1", "sql", Some("C")),
        qualified("m1r", "2026-11-24T12:00:00Z", "M1", "mql", Some("A")), // a repeat: ignored
        qualified("m2q", "2026-11-24T09:00:00Z", "M2", "mql", Some("A")), // never created: counts
        qualified("m3s", "2026-11-24T09:30:00Z", "M3", "sql", Some("A")), // SQL without MQL
        qualified("m4q", "2026-11-24T09:00:00Z", "M4", "mql", None),      // nobody to attribute to
        lead_created("m5c", "2026-11-24T08:00:00Z", "M5", Some("E")),
        // Two MQLs at the same instant: the smaller event id is the first (C9).
        qualified("q-b", "2026-11-24T13:00:00Z", "M5", "mql", Some("D")),
        qualified("q-a", "2026-11-24T13:00:00Z", "M5", "mql", None),
    ];
    let snap = snapshot(Settings::default(), "2026-11-25T12:00:00Z", &events);
    let week = window(&snap, WEEK);
    let counts = |rep: &str| {
        let stats = &snap.rep(rep).expect("known rep").windows[week];
        (stats.mqls, stats.sqls)
    };
    assert_eq!(counts("A"), (1, 1));
    assert_eq!(counts("B"), (1, 0));
    assert_eq!(counts("C"), (0, 1));
    assert_eq!(counts("D"), (0, 0));
    assert_eq!(counts("E"), (1, 0));
    assert_eq!(
        snap.rep("A").expect("A").windows[week].mql_to_sql_ratio(),
        Some(1.0)
    );
    assert_eq!(
        snap.rep("C").expect("C").windows[week].mql_to_sql_ratio(),
        None
    );
}

fn deal(
    id: &str,
    kind: &str,
    at: &str,
    deal: &str,
    rep: &str,
    extra: serde_json::Value,
) -> serde_json::Value {
    let mut event =
        json!({"event_id": id, "type": kind, "occurred_at": at, "deal_id": deal, "rep_id": rep});
    if let (Some(event), Some(extra)) = (event.as_object_mut(), extra.as_object()) {
        event.extend(extra.clone());
    }
    event
}

#[test]
fn deals_count_once_at_their_latest_close_with_dimensions() {
    let events = [
        deal(
            "d1o",
            "deal_opened",
            "2026-11-02T09:00:00Z",
            "D1",
            "X",
            json!({"amount": "12500.00", "industry": "retail", "channel": "inbound"}),
        ),
        deal(
            "d1l",
            "deal_closed",
            "2026-11-10T09:00:00Z",
            "D1",
            "X",
            json!({"outcome": "lost"}),
        ),
        deal(
            "d1w",
            "deal_closed",
            "2026-11-24T09:00:00Z",
            "D1",
            "Y",
            json!({"outcome": "won"}),
        ),
        deal(
            "d2w",
            "deal_closed",
            "2026-11-24T10:00:00Z",
            "D2",
            "Y",
            json!({"outcome": "won", "amount": 150000, "industry": ""}),
        ),
        deal(
            "d3l",
            "deal_closed",
            "2026-10-15T10:00:00Z",
            "D3",
            "Y",
            json!({"outcome": "lost"}),
        ),
    ];
    let snap = snapshot(Settings::default(), "2026-11-25T12:00:00Z", &events);
    let (week, last_month, month) = (
        window(&snap, WEEK),
        window(&snap, LAST_MONTH),
        window(&snap, MONTH),
    );
    let y = snap.rep("Y").expect("Y");
    assert_eq!(
        (y.windows[week].deals_won, y.windows[week].deals_lost),
        (2, 0)
    );
    assert_eq!(y.windows[week].deals_won_amount, Decimal::from(162_500));
    assert_eq!(y.windows[week].win_ratio(), Some(1.0));
    assert_eq!(
        (
            y.windows[last_month].deals_won,
            y.windows[last_month].deals_lost
        ),
        (0, 1)
    );
    assert_eq!(y.windows[last_month].win_ratio(), Some(0.0));
    // X's loss was superseded by the later win: X has nothing anywhere.
    let x = snap.rep("X").expect("X");
    assert_eq!(
        (x.windows[month].deals_won, x.windows[month].deals_lost),
        (0, 0)
    );
    assert_eq!(x.windows[month].win_ratio(), None);

    let row =
        |dimension: &str, value: &str| snap.dimension(dimension, value).expect("dimension value");
    assert_eq!(row("industry", "retail").windows[week].won, 1);
    assert_eq!(row("industry", "unknown").windows[week].won, 1);
    assert_eq!(row("industry", "unknown").windows[last_month].lost, 1);
    assert_eq!(row("channel", "inbound").windows[week].won, 1);
    assert_eq!(row("size", "medium").windows[week].won, 1);
    assert_eq!(row("size", "large").windows[week].won, 1);
    assert_eq!(row("size", "unknown").windows[week].win_ratio(), None);
    assert_eq!(row("size", "unknown").windows[last_month].lost, 1);
    assert!(snap.dimension("size", "small").is_none());
    assert_eq!(snap.dimensions.len(), 7);
}

#[test]
fn money_is_summed_exactly() {
    // 0.1 + 0.2 in f64 is 0.30000000000000004.
    let events = [
        deal(
            "w1",
            "deal_closed",
            "2026-11-24T09:00:00Z",
            "D1",
            "Y",
            json!({"outcome": "won", "amount": 0.1}),
        ),
        deal(
            "w2",
            "deal_closed",
            "2026-11-24T09:00:00Z",
            "D2",
            "Y",
            json!({"outcome": "won", "amount": "0.2"}),
        ),
    ];
    let snap = snapshot(Settings::default(), "2026-11-25T12:00:00Z", &events);
    let amount = snap.rep("Y").expect("Y").windows[window(&snap, WEEK)].deals_won_amount;
    assert_eq!(amount, Decimal::new(3, 1));
}
