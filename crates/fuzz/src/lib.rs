//! The fuzz target of salespulse's input path: bytes go to the engine exactly as the Kafka
//! consumer hands it a message value (`Engine::ingest_at` with the wall clock), and the state is
//! published as the service does (`advance_clock`, `snapshot`, the Prometheus exposition). So
//! decoding, validation, de-duplication, the state updates, the snapshot and the rendering all
//! see hostile input, and none of them may panic (the fuzzer builds with overflow checks and
//! debug assertions, so an arithmetic overflow is a crash too).
//!
//! One input is a sequence of messages separated by `\n`, so the fuzzer explores sequences of
//! events (a lead, then its touch, then a duplicate...), not just one event:
//! - a non-empty message is one Kafka message value; the wall clock then moves on by
//!   [`MESSAGE_GAP`], as between messages of a live topic, so the engine's clock lags behind it
//!   until the next publish (as in the service);
//! - an empty message (a blank line) is a publish: the wall clock moves on by [`PUBLISH_GAP`],
//!   the engine catches up (windows roll over, events that waited for the clock are applied,
//!   old facts are dropped) and its snapshot is rendered as `/metrics` would.
//!
//! A snapshot is taken after the last message; it is rendered only at publishes, because
//! rendering costs far more than ingesting (about 0.2 ms even for an empty state) and would cap
//! the fuzzer's speed. The text seeds end with a newline, so each of them ends with a publish. The
//! same input always does the same thing: the settings and the starting clock are fixed
//! ([`settings`], [`START`]).
//!
//! The corpus is `crates/fuzz/corpus/`: valid events of every type and malformed ones (seeds named
//! `valid-*` must be accepted whole, `invalid-*` must have rejections), and in `regressions/`
//! every input that ever crashed the target. `tests/corpus.rs` replays all of it on every
//! `cargo test`; `crates/fuzz/run.sh` runs AFL++ from it, with the tokens of `events.dict`.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc, Weekday};
use salespulse_calendar::CalendarSettings;
use salespulse_engine::{Engine, IngestOutcome, RosterRecord, Settings};
use salespulse_events::Role;
use salespulse_exporter::{Selection, encode_text};

/// The wall clock at the start of every input: after every event of the seed corpus, so that
/// its valid events are accepted rather than "too far in the future".
pub const START: &str = "2026-12-01T00:00:00Z";

/// How far the wall clock moves after each message.
pub const MESSAGE_GAP: TimeDelta = TimeDelta::seconds(7);

/// How far the wall clock moves at each publish (an empty message).
pub const PUBLISH_GAP: TimeDelta = TimeDelta::hours(6);

/// What one input did, so tests can tell that its messages reached the engine.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: usize,
    /// Publishes asked for by empty messages.
    pub publishes: usize,
}

/// The engine settings of every run: the defaults (USD, five minutes of clock skew) with a
/// calendar that has daylight saving time, Sunday weeks, a fiscal year from February and a
/// holiday, and a roster seeded with one rep, so those paths run too.
pub fn settings() -> Settings {
    Settings {
        calendar: CalendarSettings {
            timezone: chrono_tz::America::New_York,
            week_start: Weekday::Sun,
            fiscal_year_start_month: 2,
            holidays: NaiveDate::from_ymd_opt(2026, 11, 26).into_iter().collect(),
            ..CalendarSettings::default()
        },
        roster: vec![(
            "r-ana".to_owned(),
            RosterRecord {
                team: "east".to_owned(),
                role: Role::Bdr,
                max_daily_leads: Some(45),
                max_daily_deals: None,
                active: true,
            },
        )],
        ..Settings::default()
    }
}

/// Feeds `input` to a fresh engine as described in the crate documentation; a panic anywhere in
/// here is a bug the fuzzer reports.
pub fn run(input: &[u8]) -> Tally {
    let mut now = start();
    let mut engine = Engine::new(settings(), now);
    let selection = Selection::default();
    let mut tally = Tally::default();
    for message in input.split(|&byte| byte == b'\n') {
        if message.is_empty() {
            now += PUBLISH_GAP;
            engine.advance_clock(now);
            encode_text(&engine.snapshot(), &selection, Vec::new());
            tally.publishes += 1;
            continue;
        }
        match engine.ingest_at(message, now) {
            IngestOutcome::Accepted(_) => tally.accepted += 1,
            IngestOutcome::Duplicate => tally.duplicates += 1,
            IngestOutcome::Rejected(_) => tally.rejected += 1,
        }
        now += MESSAGE_GAP;
    }
    engine.snapshot();
    tally
}

/// [`START`] as a timestamp.
pub fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(START)
        .expect("START is an RFC 3339 timestamp")
        .to_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_split_on_newlines_and_blank_lines_publish() {
        let input = b"not json\n\n{\"event_id\":\"e-1\"}\n\n\n[]";
        assert_eq!(
            run(input),
            Tally {
                accepted: 0,
                duplicates: 0,
                rejected: 3,
                publishes: 3,
            }
        );
    }

    #[test]
    fn an_empty_input_is_one_empty_message_and_so_one_publish() {
        assert_eq!(
            run(b""),
            Tally {
                publishes: 1,
                ..Tally::default()
            }
        );
    }

    #[test]
    fn a_repeated_event_is_a_duplicate() {
        let event = br#"{"event_id":"x-1","type":"expense","occurred_at":"2026-11-30T10:00:00Z","amount":5,"category":"sales"}"#;
        let input = [&event[..], b"\n", &event[..]].concat();
        assert_eq!(
            run(&input),
            Tally {
                accepted: 1,
                duplicates: 1,
                ..Tally::default()
            }
        );
    }

    /// 00:10 is past the five minutes of skew at the start (00:00), and within them once a
    /// publish has moved the wall clock six hours on.
    #[test]
    fn a_publish_moves_the_clock_that_judges_future_events() {
        let early = br#"{"event_id":"f-1","type":"expense","occurred_at":"2026-12-01T00:10:00Z","amount":5,"category":"sales"}"#;
        let late = br#"{"event_id":"f-2","type":"expense","occurred_at":"2026-12-01T00:10:00Z","amount":5,"category":"sales"}"#;
        let input = [&early[..], b"\n\n", &late[..]].concat();
        assert_eq!(
            run(&input),
            Tally {
                accepted: 1,
                rejected: 1,
                publishes: 1,
                ..Tally::default()
            }
        );
    }

    #[test]
    fn every_input_starts_at_the_first_of_december_2026() {
        assert_eq!(start().timestamp(), 1_796_083_200);
    }
}
