//! Everything the engine needs to know about the business, already validated.

use chrono::{Datelike, TimeDelta, Weekday};
use rust_decimal::Decimal;
use salespulse_calendar::CalendarSettings;
use salespulse_events::{DEFAULT_MAX_EVENT_BYTES, RosterRecord, ValidationRules};

/// The engine's whole configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub calendar: CalendarSettings,
    pub validation: ValidationRules,
    pub lead_response_sla: TimeDelta,
    /// Leads waiting longer than this leave the live queue (v1.1); `None` = no limit.
    pub lead_queue_max_age: Option<TimeDelta>,
    /// Upper bounds of `small` and `medium`; at or above the second is `large`.
    pub deal_size_bands: [Decimal; 2],
    pub default_max_daily_leads: u64,
    pub default_max_daily_deals: u64,
    /// The configured roster (`[[roster]]`): `(rep_id, record)` in file order, each rep once;
    /// `rep_upserted` events override it (C10).
    pub roster: Vec<(String, RosterRecord)>,
    /// The largest input accepted, in bytes (a Kafka message value, a replay line without its
    /// line end); above it, `too_large` before parsing (EVENTS.md v1.1).
    ///
    /// Not part of [`Settings::fingerprint`]: it guards memory, not business rules. It decides
    /// only whether a message that arrives is parsed, never how an applied event counts, so a
    /// state saved under one limit is exactly right under another; and raising the limit after
    /// `too_large` rejections (then resending them from the dead-letter topic) must not throw the
    /// saved state away for a rebuild that retention may no longer allow.
    pub max_event_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            calendar: CalendarSettings::default(),
            validation: ValidationRules::default(),
            lead_response_sla: TimeDelta::seconds(300),
            lead_queue_max_age: Some(TimeDelta::days(30)),
            deal_size_bands: [Decimal::from(10_000), Decimal::from(100_000)],
            default_max_daily_leads: 40,
            default_max_daily_deals: 5,
            roster: Vec::new(),
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
        }
    }
}

impl Settings {
    /// A stable 64-bit hash (xxh3) of every setting that changes results: the business calendar
    /// (time zone, week start, fiscal year start, workdays, holidays), validation (reporting
    /// currency, clock skew), the response SLA, the queue's max age, the size bands, the default
    /// capacities and the roster seed, in order. The input size limit is left out on purpose
    /// (see [`Settings::max_event_bytes`]).
    ///
    /// Equal settings give equal fingerprints in every run and build (the hash is of a canonical
    /// text written here field by field, not of `Debug` output or memory); settings that differ
    /// in any field give different ones. A saved engine state carries the fingerprint of the
    /// settings it was made with, and restoring it under another fingerprint is refused. Decimal
    /// bands are compared by value (`10000` and `10000.00` are the same setting).
    pub fn fingerprint(&self) -> u64 {
        xxhash_rust::xxh3::xxh3_64(self.canonical_text().as_bytes())
    }

    /// The text [`Settings::fingerprint`] hashes: one `name=value` line per setting. Strings are
    /// length-prefixed, so no two different settings write the same text.
    pub(crate) fn canonical_text(&self) -> String {
        use std::fmt::Write as _;

        // Destructured without `..`: a new setting does not compile until it is written here.
        let Settings {
            calendar,
            validation,
            lead_response_sla,
            lead_queue_max_age,
            deal_size_bands,
            default_max_daily_leads,
            default_max_daily_deals,
            roster,
            // A limit on input size, not a rule of the results: see its doc comment.
            max_event_bytes: _,
        } = self;
        let CalendarSettings {
            timezone,
            week_start,
            fiscal_year_start_month,
            workdays,
            holidays,
        } = calendar;
        let ValidationRules {
            reporting_currency,
            max_clock_skew,
        } = validation;

        let mut text = String::from("salespulse settings v1\n");
        let mut line = |name: &str, value: std::fmt::Arguments<'_>| {
            // Writing to a String cannot fail.
            let _ = writeln!(text, "{name}={value}");
        };
        line(
            "calendar.timezone",
            format_args!("{}", text_field(timezone.name())),
        );
        line(
            "calendar.week_start",
            format_args!("{}", weekday(*week_start)),
        );
        line(
            "calendar.fiscal_year_start_month",
            format_args!("{fiscal_year_start_month}"),
        );
        let workdays: Vec<&str> = WEEK
            .iter()
            .filter(|day| workdays.contains(**day))
            .map(|day| weekday(*day))
            .collect();
        line("calendar.workdays", format_args!("{}", workdays.join(",")));
        let holidays: Vec<String> = holidays
            .iter()
            .map(|date| format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day()))
            .collect();
        line("calendar.holidays", format_args!("{}", holidays.join(",")));
        line(
            "validation.reporting_currency",
            format_args!("{}", text_field(reporting_currency)),
        );
        line(
            "validation.max_clock_skew",
            format_args!("{}", duration(*max_clock_skew)),
        );
        line(
            "lead_response_sla",
            format_args!("{}", duration(*lead_response_sla)),
        );
        line(
            "lead_queue_max_age",
            format_args!(
                "{}",
                lead_queue_max_age.map_or_else(|| "none".to_owned(), duration)
            ),
        );
        line(
            "deal_size_bands",
            format_args!(
                "{},{}",
                deal_size_bands[0].normalize(),
                deal_size_bands[1].normalize()
            ),
        );
        line(
            "default_max_daily_leads",
            format_args!("{default_max_daily_leads}"),
        );
        line(
            "default_max_daily_deals",
            format_args!("{default_max_daily_deals}"),
        );
        line("roster", format_args!("{}", roster.len()));
        for (rep_id, record) in roster {
            let RosterRecord {
                team,
                role,
                max_daily_leads,
                max_daily_deals,
                active,
            } = record;
            line(
                "roster.seed",
                format_args!(
                    "{} {} {} {} {} {}",
                    text_field(rep_id),
                    text_field(team),
                    role.as_str(),
                    optional(*max_daily_leads),
                    optional(*max_daily_deals),
                    active
                ),
            );
        }
        text
    }
}

const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// Our own spelling (chrono's `Display`/`Debug` are not promised to stay the same).
fn weekday(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

/// `len:text`, unambiguous whatever the text holds.
fn text_field(text: &str) -> String {
    format!("{}:{text}", text.len())
}

/// Seconds and nanoseconds, exactly.
fn duration(delta: TimeDelta) -> String {
    format!("{}s{}ns", delta.num_seconds(), delta.subsec_nanos())
}

fn optional(value: Option<u64>) -> String {
    value.map_or_else(|| "none".to_owned(), |value| value.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::{NaiveDate, WeekdaySet};
    use salespulse_events::Role;

    use super::*;

    fn seed(rep_id: &str) -> (String, RosterRecord) {
        let record = RosterRecord {
            team: "east".to_owned(),
            role: Role::Bdr,
            max_daily_leads: Some(30),
            max_daily_deals: None,
            active: true,
        };
        (rep_id.to_owned(), record)
    }

    fn base() -> Settings {
        Settings {
            roster: vec![seed("r-ana"), seed("r-ben")],
            ..Settings::default()
        }
    }

    #[test]
    fn equal_settings_have_equal_fingerprints() {
        assert_eq!(base().fingerprint(), base().fingerprint());
        assert_eq!(
            Settings::default().fingerprint(),
            Settings::default().clone().fingerprint()
        );
        // Bands equal by value are the same setting.
        let mut scaled = base();
        scaled.deal_size_bands = [Decimal::new(1_000_000, 2), Decimal::new(10_000_000, 2)];
        assert_eq!(scaled, base());
        assert_eq!(scaled.fingerprint(), base().fingerprint());
    }

    #[test]
    fn the_fingerprint_is_stable_across_runs_and_builds() {
        // The canonical text of the defaults, and its hash: if this changes, every saved state
        // is refused on the next start (a rebuild), so change it only on purpose.
        assert_eq!(
            Settings::default().canonical_text(),
            "salespulse settings v1\n\
             calendar.timezone=3:UTC\n\
             calendar.week_start=mon\n\
             calendar.fiscal_year_start_month=1\n\
             calendar.workdays=mon,tue,wed,thu,fri\n\
             calendar.holidays=\n\
             validation.reporting_currency=3:USD\n\
             validation.max_clock_skew=300s0ns\n\
             lead_response_sla=300s0ns\n\
             lead_queue_max_age=2592000s0ns\n\
             deal_size_bands=10000,100000\n\
             default_max_daily_leads=40\n\
             default_max_daily_deals=5\n\
             roster=0\n"
        );
        assert_eq!(Settings::default().fingerprint(), 0xca11_13e7_9594_88a4);
    }

    #[test]
    fn the_input_size_limit_leaves_the_fingerprint_alone() {
        assert_eq!(Settings::default().max_event_bytes, 1_048_576);
        let raised = Settings {
            max_event_bytes: 4 * 1_048_576,
            ..base()
        };
        assert_ne!(raised, base());
        assert_eq!(raised.fingerprint(), base().fingerprint());
        assert_eq!(raised.canonical_text(), base().canonical_text());
    }

    #[test]
    fn every_setting_changes_the_fingerprint() {
        type Change = fn(&mut Settings);
        let changes: &[(&str, Change)] = &[
            ("timezone", |s| {
                s.calendar.timezone = chrono_tz::Tz::Europe__Berlin
            }),
            ("week start", |s| s.calendar.week_start = Weekday::Sun),
            ("fiscal month", |s| s.calendar.fiscal_year_start_month = 2),
            ("workdays", |s| {
                s.calendar.workdays = WeekdaySet::from_array([Weekday::Mon, Weekday::Tue]);
            }),
            ("holidays", |s| {
                s.calendar.holidays =
                    BTreeSet::from([NaiveDate::from_ymd_opt(2026, 12, 25).unwrap_or_default()]);
            }),
            ("currency", |s| {
                s.validation.reporting_currency = "EUR".to_owned()
            }),
            ("clock skew", |s| {
                s.validation.max_clock_skew = TimeDelta::seconds(301)
            }),
            ("clock skew nanos", |s| {
                s.validation.max_clock_skew = TimeDelta::nanoseconds(300_000_000_001);
            }),
            ("sla", |s| s.lead_response_sla = TimeDelta::seconds(600)),
            ("queue max age", |s| {
                s.lead_queue_max_age = Some(TimeDelta::days(7))
            }),
            ("no queue max age", |s| s.lead_queue_max_age = None),
            ("small band", |s| {
                s.deal_size_bands[0] = Decimal::new(99_995, 1)
            }),
            ("medium band", |s| {
                s.deal_size_bands[1] = Decimal::from(100_001)
            }),
            ("default leads", |s| s.default_max_daily_leads = 41),
            ("default deals", |s| s.default_max_daily_deals = 6),
            ("roster added", |s| s.roster.push(seed("r-cy"))),
            ("roster removed", |s| {
                s.roster.pop();
            }),
            ("roster order", |s| s.roster.reverse()),
            ("seed rep", |s| s.roster[0].0 = "r-anna".to_owned()),
            ("seed team", |s| s.roster[0].1.team = "west".to_owned()),
            ("seed role", |s| s.roster[0].1.role = Role::Ae),
            ("seed leads", |s| s.roster[0].1.max_daily_leads = None),
            ("seed deals", |s| s.roster[0].1.max_daily_deals = Some(0)),
            ("seed active", |s| s.roster[0].1.active = false),
            ("field boundary", |s| {
                // Moving text from one string field to the next must not write the same text.
                s.roster[0].0 = "r-ana 4:east".to_owned();
                s.roster[0].1.team = String::new();
            }),
        ];
        let base = base().fingerprint();
        let mut seen = BTreeSet::from([base]);
        for (name, change) in changes {
            let mut settings = self::base();
            change(&mut settings);
            let fingerprint = settings.fingerprint();
            assert_ne!(fingerprint, base, "{name} must change the fingerprint");
            assert!(
                seen.insert(fingerprint),
                "{name} collides with another change"
            );
        }
    }
}
