//! Semantic validation: turns the loosely typed file into a [`Config`] whose values are all
//! usable, so nothing downstream has to handle a bad time zone or a negative capacity.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::{NaiveDate, TimeDelta, Weekday};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use salespulse_events::{Role, RosterRecord};
use toml::Value;

use salespulse_calendar::Period;
use salespulse_exporter::Selection;

use crate::raw::{
    Integer, RawBusiness, RawCapacity, RawConfig, RawExport, RawKafka, RawRosterEntry, RawState,
};
use crate::{
    BusinessConfig, CapacityConfig, Config, HttpConfig, KafkaConfig, KafkaUse, StateConfig,
};

/// A bad value: the key path and what is wrong with it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    pub key: String,
    pub message: String,
}

type Checked<T> = Result<T, Problem>;

fn problem(key: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        key: key.into(),
        message: message.into(),
    }
}

/// The spellings of `business.workdays`.
pub(crate) const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

/// `rep_id` length bounds, in characters (as for events, EVENTS.md / SEMANTICS C4).
const REP_ID_MAX_CHARS: usize = 128;

/// The largest number of seconds a `TimeDelta` holds.
const MAX_SECONDS: i64 = i64::MAX / 1000;

pub(crate) fn validate(raw: RawConfig) -> Checked<Config> {
    Ok(Config {
        business: business(raw.business)?,
        capacity: capacity(raw.capacity)?,
        roster: roster(raw.roster)?,
        kafka: kafka(raw.kafka)?,
        http: HttpConfig {
            listen: socket_address("http.listen", &raw.http.listen)?,
            web_config_file: Some(raw.http.web_config_file)
                .filter(|path| !path.trim().is_empty())
                .map(PathBuf::from),
        },
        export: export(raw.export)?,
        state: state(raw.state)?,
    })
}

fn business(raw: RawBusiness) -> Checked<BusinessConfig> {
    let timezone = raw.timezone.parse::<Tz>().map_err(|_| {
        problem(
            "business.timezone",
            format!(
                "unknown time zone {:?} (expected an IANA name such as Europe/Berlin)",
                raw.timezone
            ),
        )
    })?;
    let week_start = match raw.week_start.as_str() {
        "monday" => Weekday::Mon,
        "sunday" => Weekday::Sun,
        other => {
            return Err(problem(
                "business.week_start",
                format!("unknown week start {other:?} (expected \"monday\" or \"sunday\")"),
            ));
        }
    };
    let fiscal_year_start_month = u32::try_from(raw.fiscal_year_start_month.0)
        .ok()
        .filter(|month| (1..=12).contains(month))
        .ok_or_else(|| {
            problem(
                "business.fiscal_year_start_month",
                format!(
                    "{} is not a month (expected 1 to 12; 1 = calendar quarters)",
                    raw.fiscal_year_start_month.0
                ),
            )
        })?;
    let reporting_currency = raw.reporting_currency;
    if reporting_currency.trim().is_empty() {
        return Err(problem(
            "business.reporting_currency",
            "empty currency (expected a currency code such as USD)",
        ));
    }
    Ok(BusinessConfig {
        timezone,
        week_start,
        fiscal_year_start_month,
        lead_response_sla: seconds(
            "business.lead_response_sla_seconds",
            raw.lead_response_sla_seconds,
        )?,
        lead_queue_max_age: Some(seconds(
            "business.lead_queue_max_age_seconds",
            raw.lead_queue_max_age_seconds,
        )?)
        .filter(|max_age| !max_age.is_zero()),
        workdays: workdays(&raw.workdays)?,
        holidays: raw
            .holidays
            .iter()
            .enumerate()
            .map(|(i, value)| holiday(&format!("business.holidays[{i}]"), value))
            .collect::<Checked<BTreeSet<_>>>()?,
        reporting_currency,
        max_clock_skew: seconds(
            "business.max_clock_skew_seconds",
            raw.max_clock_skew_seconds,
        )?,
        deal_size_bands: deal_size_bands(&raw.deal_size_bands)?,
    })
}

fn export(raw: RawExport) -> Checked<Selection> {
    let expected = Period::ALL.map(Period::label).join(", ");
    let mut periods = Vec::with_capacity(raw.periods.len());
    for (i, name) in raw.periods.iter().enumerate() {
        let key = format!("export.periods[{i}]");
        let Some(period) = Period::ALL.into_iter().find(|p| p.label() == name) else {
            return Err(problem(
                key,
                format!("unknown period {name:?} (expected one of {expected})"),
            ));
        };
        if periods.contains(&period) {
            return Err(problem(
                key,
                format!("{name:?} is listed twice (each period once)"),
            ));
        }
        periods.push(period);
    }
    Ok(Selection {
        periods,
        rep_histograms: raw.rep_histograms,
    })
}

fn state(raw: RawState) -> Checked<StateConfig> {
    let url = match raw.url.trim() {
        "" => None,
        url if url.contains("://") => Some(url.to_owned()),
        url => {
            return Err(problem(
                "state.url",
                format!(
                    "{url:?} is not a URL (expected e.g. \"s3://bucket/prefix\"; leave it empty to use state.dir)"
                ),
            ));
        }
    };
    let at_least_one = |key: &str, value: Integer| -> Checked<u64> {
        match u64::try_from(value.0) {
            Ok(count) if count >= 1 => Ok(count),
            _ => Err(problem(
                key,
                format!("{} is not allowed (expected an integer >= 1)", value.0),
            )),
        }
    };
    let interval = at_least_one(
        "state.checkpoint_interval_seconds",
        raw.checkpoint_interval_seconds,
    )?;
    Ok(StateConfig {
        dir: PathBuf::from(raw.dir),
        url,
        checkpoint_interval: seconds(
            "state.checkpoint_interval_seconds",
            Integer(i64::try_from(interval).unwrap_or(i64::MAX)),
        )?,
        checkpoint_every_events: at_least_one(
            "state.checkpoint_every_events",
            raw.checkpoint_every_events,
        )?,
        checkpoints_kept: at_least_one("state.checkpoints_kept", raw.checkpoints_kept)?,
    })
}

fn capacity(raw: RawCapacity) -> Checked<CapacityConfig> {
    Ok(CapacityConfig {
        default_max_daily_leads: non_negative(
            "capacity.default_max_daily_leads",
            raw.default_max_daily_leads,
        )?,
        default_max_daily_deals: non_negative(
            "capacity.default_max_daily_deals",
            raw.default_max_daily_deals,
        )?,
    })
}

fn non_negative(key: &str, value: Integer) -> Checked<u64> {
    u64::try_from(value.0).map_err(|_| {
        problem(
            key,
            format!("{} is negative (expected an integer >= 0)", value.0),
        )
    })
}

fn seconds(key: &str, value: Integer) -> Checked<TimeDelta> {
    if value.0 < 0 {
        return Err(problem(
            key,
            format!(
                "{} is negative (expected a whole number of seconds >= 0)",
                value.0
            ),
        ));
    }
    TimeDelta::try_seconds(value.0).ok_or_else(|| {
        problem(
            key,
            format!(
                "{} is too large (expected at most {MAX_SECONDS} seconds)",
                value.0
            ),
        )
    })
}

fn workdays(names: &[String]) -> Checked<Vec<Weekday>> {
    let expected = DAYS.map(|(name, _)| name).join(", ");
    if names.is_empty() {
        return Err(problem(
            "business.workdays",
            format!("no workdays (expected at least one of {expected})"),
        ));
    }
    let mut days = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let key = format!("business.workdays[{i}]");
        let Some(&(_, day)) = DAYS.iter().find(|(spelling, _)| spelling == name) else {
            return Err(problem(
                key,
                format!("unknown day {name:?} (expected one of {expected})"),
            ));
        };
        if days.contains(&day) {
            return Err(problem(
                key,
                format!("{name:?} is listed twice (each workday once)"),
            ));
        }
        days.push(day);
    }
    Ok(days)
}

fn holiday(key: &str, value: &Value) -> Checked<NaiveDate> {
    let expected = "expected a date YYYY-MM-DD such as \"2026-12-25\"";
    match value {
        Value::String(text) => iso_date(text)
            .ok_or_else(|| problem(key, format!("{text:?} is not a date ({expected})"))),
        Value::Datetime(datetime) => match (datetime.date, datetime.time, datetime.offset) {
            (Some(date), None, None) => NaiveDate::from_ymd_opt(
                i32::from(date.year),
                u32::from(date.month),
                u32::from(date.day),
            )
            .ok_or_else(|| problem(key, format!("{datetime} is not a date ({expected})"))),
            _ => Err(problem(
                key,
                format!("{datetime} is not a date alone ({expected})"),
            )),
        },
        other => Err(problem(
            key,
            format!("found {} ({expected})", article(other.type_str())),
        )),
    }
}

/// Strict `YYYY-MM-DD`: chrono's parser also takes unpadded or signed fields, which would let
/// typos through.
fn iso_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shaped {
        return None;
    }
    let field = |range: std::ops::Range<usize>| text.get(range)?.parse::<u32>().ok();
    let year = i32::try_from(field(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, field(5..7)?, field(8..10)?)
}

fn deal_size_bands(values: &[Value]) -> Checked<[Decimal; 2]> {
    let key = "business.deal_size_bands";
    let [small, medium] = values else {
        return Err(problem(
            key,
            format!(
                "{} values given (expected exactly two upper bounds [small, medium], e.g. \
                 [10000, 100000])",
                values.len()
            ),
        ));
    };
    let small = amount(&format!("{key}[0]"), small)?;
    let medium = amount(&format!("{key}[1]"), medium)?;
    if small >= medium {
        return Err(problem(
            key,
            format!(
                "bounds must be strictly ascending, but {small} is not below {medium} \
                 (expected [small, medium], e.g. [10000, 100000])"
            ),
        ));
    }
    Ok([small, medium])
}

/// An exact amount. Integers and decimal strings convert exactly; a float converts through its
/// shortest round-trip text (`12500.5` is 12500.5, not the binary approximation).
fn amount(key: &str, value: &Value) -> Checked<Decimal> {
    let expected = "expected a non-negative number such as 10000 or \"12500.50\"";
    let parsed = match value {
        Value::Integer(integer) => Some(Decimal::from(*integer)),
        Value::Float(float) if float.is_finite() => {
            Decimal::from_str_exact(&float.to_string()).ok()
        }
        Value::String(text) => Decimal::from_str_exact(text)
            .or_else(|_| Decimal::from_scientific(text))
            .ok(),
        Value::Float(_) => None,
        other => {
            return Err(problem(
                key,
                format!("found {} ({expected})", article(other.type_str())),
            ));
        }
    };
    let amount = parsed.ok_or_else(|| {
        let shown = match value {
            Value::String(text) => format!("{text:?}"),
            Value::Float(float) => float.to_string(),
            _ => value.type_str().to_owned(),
        };
        problem(
            key,
            format!("{shown} is not a usable amount ({expected}, at most 28 digits)"),
        )
    })?;
    if amount < Decimal::ZERO {
        return Err(problem(key, format!("{amount} is negative ({expected})")));
    }
    Ok(amount.normalize())
}

fn roster(entries: Vec<RawRosterEntry>) -> Checked<Vec<(String, RosterRecord)>> {
    let mut first_index: BTreeMap<String, usize> = BTreeMap::new();
    let mut roster = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        let key = |field: &str| format!("roster[{i}].{field}");
        let length = entry.rep_id.chars().count();
        if !(1..=REP_ID_MAX_CHARS).contains(&length) {
            return Err(problem(
                key("rep_id"),
                format!("rep_id has {length} characters (expected 1 to {REP_ID_MAX_CHARS})"),
            ));
        }
        if let Some(first) = first_index.get(&entry.rep_id) {
            return Err(problem(
                key("rep_id"),
                format!(
                    "duplicate rep_id {:?}, already used by roster[{first}] (expected each rep \
                     once)",
                    entry.rep_id
                ),
            ));
        }
        first_index.insert(entry.rep_id.clone(), i);
        if entry.team.is_empty() {
            return Err(problem(
                key("team"),
                "empty team (expected a team name such as \"east\")",
            ));
        }
        let role = Role::parse(&entry.role).ok_or_else(|| {
            problem(
                key("role"),
                format!("unknown role {:?} (expected bdr, ae or other)", entry.role),
            )
        })?;
        let max_daily_leads = entry
            .max_daily_leads
            .map(|value| non_negative(&key("max_daily_leads"), value))
            .transpose()?;
        let max_daily_deals = entry
            .max_daily_deals
            .map(|value| non_negative(&key("max_daily_deals"), value))
            .transpose()?;
        let record = RosterRecord {
            team: entry.team,
            role,
            max_daily_leads,
            max_daily_deals,
            active: entry.active,
        };
        roster.push((entry.rep_id, record));
    }
    Ok(roster)
}

fn kafka(raw: RawKafka) -> Checked<KafkaConfig> {
    if raw.topics.is_empty() {
        return Err(problem(
            "kafka.topics",
            "no topics (expected at least one topic name, e.g. [\"sales.activities\"])",
        ));
    }
    if let Some(i) = raw.topics.iter().position(String::is_empty) {
        return Err(problem(
            format!("kafka.topics[{i}]"),
            "empty topic name (expected a Kafka topic such as \"sales.deals\")",
        ));
    }
    Ok(KafkaConfig {
        brokers: raw.brokers,
        group_id: raw.group_id,
        topics: raw.topics,
        deadletter_topic: raw.deadletter_topic,
        write_deadletters: raw.write_deadletters,
        max_message_bytes: usize::try_from(raw.max_message_bytes.0)
            .ok()
            .filter(|bytes| *bytes >= 1)
            .ok_or_else(|| {
                problem(
                    "kafka.max_message_bytes",
                    format!(
                        "{} is not allowed (expected a number of bytes >= 1, e.g. 1048576)",
                        raw.max_message_bytes.0
                    ),
                )
            })?,
        properties: raw
            .properties
            .into_iter()
            .map(|(name, value)| (name, value.0))
            .collect(),
    })
}

/// What a command that connects to Kafka needs beyond each key's own checks (see
/// [`crate::load_for_kafka`]).
pub(crate) fn kafka_use(
    kafka: &KafkaConfig,
    usage: KafkaUse,
    check_property: &dyn Fn(&str, &str) -> Result<(), String>,
) -> Checked<()> {
    if usage == KafkaUse::Service {
        if kafka
            .brokers
            .split(',')
            .all(|broker| broker.trim().is_empty())
        {
            return Err(problem(
                "kafka.brokers",
                "no broker (expected host:port, comma-separated, e.g. \
                 \"kafka-0:9092,kafka-1:9092\")",
            ));
        }
        if kafka.group_id.trim().is_empty() {
            return Err(problem(
                "kafka.group_id",
                "empty group id (expected a consumer group name such as \"salespulse\")",
            ));
        }
    }
    let topic = &kafka.deadletter_topic;
    if kafka.write_deadletters && topic.trim().is_empty() {
        return Err(problem(
            "kafka.deadletter_topic",
            "empty topic name (expected a Kafka topic such as \"sales.deadletter\", or \
             write_deadletters = false)",
        ));
    }
    let (inputs, whose) = match usage {
        KafkaUse::Service => (kafka.topics.clone(), "kafka.topics"),
        KafkaUse::Demo => (KafkaConfig::default().topics, "the demo's input topics"),
    };
    if inputs.contains(topic) {
        return Err(problem(
            "kafka.deadletter_topic",
            format!(
                "{topic:?} is also an input topic, so rejected messages would be read again \
                 (expected a topic that is not one of {whose}: {})",
                inputs.join(", ")
            ),
        ));
    }
    for (name, value) in &kafka.properties {
        check_property(name, value)
            .map_err(|reason| problem(format!("kafka.properties.{name}"), reason))?;
    }
    Ok(())
}

fn socket_address(key: &str, text: &str) -> Checked<SocketAddr> {
    text.parse::<SocketAddr>().map_err(|_| {
        problem(
            key,
            format!(
                "{text:?} is not a socket address (expected IP:port such as 127.0.0.1:9898 or \
                 [::]:9898)"
            ),
        )
    })
}

/// "an integer", "a string": for messages about a value of the wrong TOML type.
fn article(type_name: &str) -> String {
    match type_name.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {type_name}"),
        _ => format!("a {type_name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_are_strict() {
        assert_eq!(
            iso_date("2026-12-25"),
            NaiveDate::from_ymd_opt(2026, 12, 25)
        );
        for bad in [
            "2026-2-05",
            "2026-02-30",
            "2026-13-01",
            "+2026-12-2",
            "26-12-25",
            "",
        ] {
            assert_eq!(iso_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn amounts_are_exact() {
        let key = "k";
        assert_eq!(
            amount(key, &Value::Float(12500.5)),
            Ok(Decimal::new(125005, 1))
        );
        assert_eq!(amount(key, &Value::Float(0.1)), Ok(Decimal::new(1, 1)));
        assert_eq!(
            amount(key, &Value::String("12500.50".into())),
            Ok(Decimal::new(125005, 1))
        );
        assert_eq!(amount(key, &Value::Float(-0.0)), Ok(Decimal::ZERO));
        assert!(amount(key, &Value::Float(f64::NAN)).is_err());
        assert!(amount(key, &Value::Float(1e300)).is_err());
        assert!(amount(key, &Value::String("12,50".into())).is_err());
        assert!(amount(key, &Value::Integer(-1)).is_err());
        assert!(amount(key, &Value::Boolean(true)).is_err());
    }
}
