//! Window bounds and membership as exported (SEMANTICS C7, C8), through the engine.

mod common;

use chrono::Weekday;
use common::*;
use salespulse_calendar::CalendarSettings;
use salespulse_engine::Settings;
use serde_json::json;

fn calendar_settings(calendar: CalendarSettings) -> Settings {
    Settings {
        calendar,
        ..Settings::default()
    }
}

fn call(id: &str, at: &str) -> serde_json::Value {
    json!({"event_id": id, "type": "activity", "occurred_at": at, "rep_id": "A",
           "contact_id": id, "channel": "call", "established": false})
}

#[test]
fn a_week_across_the_end_of_daylight_saving_time() {
    let settings = calendar_settings(CalendarSettings {
        timezone: chrono_tz::America::New_York,
        ..CalendarSettings::default()
    });
    let events = [
        call("e1", "2026-11-01T23:30:00-05:00"), // Sunday night, after fall-back: previous week
        call("e2", "2026-11-02T00:30:00-05:00"), // Monday: current week
        call("e3", "2026-10-26T00:30:00-04:00"), // Monday of the previous week
        call("e4", "2026-10-25T23:30:00-04:00"), // the week before: in neither
    ];
    let snap = snapshot(settings, "2026-11-04T12:00:00-05:00", &events);
    let (week, last_week, month) = (
        window(&snap, WEEK),
        window(&snap, LAST_WEEK),
        window(&snap, MONTH),
    );
    // Mon 2026-11-02 00:00 EST and Mon 2026-10-26 00:00 EDT: 169 hours apart.
    assert_eq!(epoch_seconds(snap.windows[week].start), 1_793_595_600);
    assert_eq!(epoch_seconds(snap.windows[last_week].start), 1_792_987_200);
    assert_eq!(snap.windows[last_week].end, snap.windows[week].start);
    assert_eq!(snap.windows[week].end, ts("2026-11-04T12:00:00-05:00"));
    // November starts at midnight EDT, before the 02:00 fall-back.
    assert_eq!(epoch_seconds(snap.windows[month].start), 1_793_505_600);
    let attempts = |index: usize| snap.rep("A").expect("A").windows[index].contact_attempts[0];
    assert_eq!((attempts(week), attempts(last_week)), (1, 2));
    assert_eq!(attempts(window(&snap, LAST_MONTH)), 2);
}

#[test]
fn a_sunday_start_week() {
    let settings = calendar_settings(CalendarSettings {
        week_start: Weekday::Sun,
        ..CalendarSettings::default()
    });
    let events = [
        call("e1", "2026-11-22T10:00:00Z"),
        call("e2", "2026-11-21T23:59:59Z"),
    ];
    // Saturday 2026-11-28: the week began Sunday 2026-11-22.
    let snap = snapshot(settings, "2026-11-28T12:00:00Z", &events);
    let (week, last_week) = (window(&snap, WEEK), window(&snap, LAST_WEEK));
    assert_eq!(epoch_seconds(snap.windows[week].start), 1_795_305_600);
    assert_eq!(snap.windows[week].business_days, 5);
    let attempts = |index: usize| snap.rep("A").expect("A").windows[index].contact_attempts[0];
    assert_eq!((attempts(week), attempts(last_week)), (1, 1));
}

#[test]
fn fiscal_quarters_starting_in_february() {
    let settings = calendar_settings(CalendarSettings {
        fiscal_year_start_month: 2,
        ..CalendarSettings::default()
    });
    let won = |id: &str, at: &str| {
        json!({"event_id": id, "type": "deal_closed", "occurred_at": at,
        "deal_id": id, "rep_id": "A", "outcome": "won"})
    };
    let events = [
        won("d1", "2026-10-31T23:00:00Z"),
        won("d2", "2026-11-01T00:00:00Z"),
        won("d3", "2026-07-31T23:59:59Z"),
    ];
    // Fiscal quarters begin Feb, May, Aug, Nov: January 2027 is in the quarter of 2026-11-01.
    let snap = snapshot(settings, "2027-01-15T12:00:00Z", &events);
    let (quarter, last_quarter) = (window(&snap, QUARTER), window(&snap, LAST_QUARTER));
    assert_eq!(epoch_seconds(snap.windows[quarter].start), 1_793_491_200);
    assert_eq!(
        epoch_seconds(snap.windows[last_quarter].start),
        1_785_542_400
    );
    let won_in = |index: usize| snap.rep("A").expect("A").windows[index].deals_won;
    assert_eq!((won_in(quarter), won_in(last_quarter)), (1, 1));
}

#[test]
fn rolling_windows_exclude_their_start_and_include_as_of() {
    let events = [
        call("e1", "2026-11-18T12:00:00Z"), // exactly as_of - 7 days: excluded
        call("e2", "2026-11-18T12:00:00.000000001Z"),
        call("e3", "2026-11-25T12:00:00Z"), // exactly as_of: included
    ];
    let snap = snapshot(Settings::default(), "2026-11-25T12:00:00Z", &events);
    let rolling = window(&snap, DAYS_7);
    assert_eq!(
        snap.rep("A").expect("A").windows[rolling].contact_attempts[0],
        2
    );
    // 2026-11-19..25: Thu, Fri, Mon, Tue, Wed.
    assert_eq!(snap.windows[rolling].business_days, 5);
    // 2026-10-27..11-25: 4 + 5 + 5 + 5 + 3 weekdays.
    assert_eq!(snap.windows[window(&snap, DAYS_30)].business_days, 22);
}
