//! Decoding edge cases of SEMANTICS.md C4 found in review.

use salespulse_events::{Event, EventKind, RejectReason, RosterRecord, ValidationRules, decode};

fn decoded(line: &str) -> Result<Event, RejectReason> {
    decode(line.as_bytes(), &ValidationRules::default()).map_err(|r| r.reason)
}

/// C4: `max_daily_*` are non-negative integers. JSON `-0` is the integer 0 (the contract itself
/// notes for amounts that `-0` is not negative).
#[test]
fn c4_max_daily_minus_zero_is_the_integer_zero() {
    let line = r#"{"event_id":"e","type":"rep_upserted","occurred_at":"2026-11-23T09:00:00Z",
                   "rep_id":"r","team":"t","role":"bdr","max_daily_leads":-0}"#;
    match decoded(line) {
        Ok(Event {
            kind:
                EventKind::RepUpserted {
                    record:
                        RosterRecord {
                            max_daily_leads, ..
                        },
                    ..
                },
            ..
        }) => {
            assert_eq!(max_daily_leads, Some(0));
        }
        other => panic!("expected an accepted rep_upserted with max_daily_leads 0, got {other:?}"),
    }
}
