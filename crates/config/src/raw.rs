//! The file's shape exactly as serde reads it: every section and key has the default of CONFIG.md
//! and an unknown key is an error. The defaults are the typed [`Config`]'s written in file form,
//! so each is defined once (most of them by the engine's `Settings`). Values stay loosely typed
//! here (strings, integers, TOML values) so that [`crate::validate`] can reject bad ones with a
//! message that says what is expected.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::Config;

/// The keys of each section, for environment overrides (which must name an existing key).
/// A test checks that they match the structs below.
pub(crate) const SECTIONS: &[(&str, &[&str])] = &[
    (
        "business",
        &[
            "timezone",
            "week_start",
            "fiscal_year_start_month",
            "lead_response_sla_seconds",
            "lead_queue_max_age_seconds",
            "workdays",
            "holidays",
            "reporting_currency",
            "max_clock_skew_seconds",
            "deal_size_bands",
        ],
    ),
    (
        "capacity",
        &["default_max_daily_leads", "default_max_daily_deals"],
    ),
    (
        "kafka",
        &[
            "brokers",
            "group_id",
            "topics",
            "deadletter_topic",
            "write_deadletters",
            "max_message_bytes",
            "properties",
        ],
    ),
    ("http", &["listen", "web_config_file"]),
    ("export", &["periods", "rep_histograms"]),
    (
        "state",
        &[
            "dir",
            "url",
            "checkpoint_interval_seconds",
            "checkpoint_every_events",
            "checkpoints_kept",
        ],
    ),
];

/// Keys whose value is text: an environment override of these is taken verbatim (so
/// `SALESPULSE_KAFKA__GROUP_ID=123` is the group "123", not a type error).
pub(crate) const STRING_KEYS: &[&str] = &[
    "business.timezone",
    "business.week_start",
    "business.reporting_currency",
    "kafka.brokers",
    "kafka.group_id",
    "kafka.deadletter_topic",
    "http.listen",
    "http.web_config_file",
    "state.dir",
    "state.url",
];

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawConfig {
    pub business: RawBusiness,
    pub capacity: RawCapacity,
    /// Omitted from output when empty: `roster = []` would print above every section.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roster: Vec<RawRosterEntry>,
    pub kafka: RawKafka,
    pub http: RawHttp,
    pub export: RawExport,
    pub state: RawState,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawBusiness {
    pub timezone: String,
    pub week_start: String,
    pub fiscal_year_start_month: Integer,
    pub lead_response_sla_seconds: Integer,
    pub lead_queue_max_age_seconds: Integer,
    pub workdays: Vec<String>,
    /// TOML values, not strings: an unquoted TOML date (`2026-12-25`) is a natural way to write one.
    pub holidays: Vec<toml::Value>,
    pub reporting_currency: String,
    pub max_clock_skew_seconds: Integer,
    /// TOML values: integers, floats or decimal strings, converted exactly to `Decimal` later.
    pub deal_size_bands: Vec<toml::Value>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawCapacity {
    pub default_max_daily_leads: Integer,
    pub default_max_daily_deals: Integer,
}

impl Default for RawConfig {
    fn default() -> Self {
        crate::output::to_raw(&Config::default(), false)
    }
}

/// The sections' defaults, for keys a file leaves out.
macro_rules! default_from_config {
    ($($section:ident: $raw:ty),+ $(,)?) => {
        $(impl Default for $raw {
            fn default() -> Self {
                RawConfig::default().$section
            }
        })+
    };
}

default_from_config!(
    business: RawBusiness,
    capacity: RawCapacity,
    kafka: RawKafka,
    http: RawHttp,
    export: RawExport,
    state: RawState,
);

/// A `[[roster]]` entry: identity fields are required, the rest optional.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRosterEntry {
    pub rep_id: String,
    pub team: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_daily_leads: Option<Integer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_daily_deals: Option<Integer>,
    #[serde(default = "active_by_default")]
    pub active: bool,
}

fn active_by_default() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawKafka {
    pub brokers: String,
    pub group_id: String,
    pub topics: Vec<String>,
    pub deadletter_topic: String,
    pub write_deadletters: bool,
    pub max_message_bytes: Integer,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, PropertyValue>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawHttp {
    pub listen: String,
    /// TLS and basic auth when not empty (the Prometheus exporter-toolkit web config file).
    pub web_config_file: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawExport {
    pub periods: Vec<String>,
    pub rep_histograms: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawState {
    pub dir: String,
    /// Object storage instead of `dir` when not empty (`s3://bucket/prefix`).
    pub url: String,
    pub checkpoint_interval_seconds: Integer,
    pub checkpoint_every_events: Integer,
    pub checkpoints_kept: Integer,
}

/// Any TOML integer, signed: range checks happen in validation, where the message can say
/// "must be >= 0" instead of serde's "expected u64".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub(crate) struct Integer(pub i64);

impl<'de> Deserialize<'de> for Integer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IntegerVisitor;

        impl Visitor<'_> for IntegerVisitor {
            type Value = Integer;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Integer, E> {
                Ok(Integer(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Integer, E> {
                i64::try_from(v)
                    .map(Integer)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
        }

        deserializer.deserialize_i64(IntegerVisitor)
    }
}

/// A librdkafka property value. librdkafka takes text, but `enable.auto.commit = false` or
/// `session.timeout.ms = 6000` are natural TOML, so scalars are accepted and kept as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub(crate) struct PropertyValue(pub String);

impl<'de> Deserialize<'de> for PropertyValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PropertyVisitor;

        impl Visitor<'_> for PropertyVisitor {
            type Value = PropertyValue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean (librdkafka property values are text)")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<PropertyValue, E> {
                Ok(PropertyValue(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<PropertyValue, E> {
                Ok(PropertyValue(v))
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<PropertyValue, E> {
                Ok(PropertyValue(v.to_string()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PropertyValue, E> {
                Ok(PropertyValue(v.to_string()))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PropertyValue, E> {
                Ok(PropertyValue(v.to_string()))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<PropertyValue, E> {
                Ok(PropertyValue(v.to_string()))
            }
        }

        deserializer.deserialize_any(PropertyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file form of the defaults (written from the typed defaults, most of them the engine's)
    /// is CONFIG.md's.
    #[test]
    fn file_defaults_are_those_of_config_md() {
        let raw = RawConfig::default();
        let business = &raw.business;
        assert_eq!(business.timezone, "UTC");
        assert_eq!(business.week_start, "monday");
        assert_eq!(business.fiscal_year_start_month, Integer(1));
        assert_eq!(business.lead_response_sla_seconds, Integer(300));
        assert_eq!(business.lead_queue_max_age_seconds, Integer(2_592_000));
        assert_eq!(business.workdays, ["mon", "tue", "wed", "thu", "fri"]);
        assert!(business.holidays.is_empty());
        assert_eq!(business.reporting_currency, "USD");
        assert_eq!(business.max_clock_skew_seconds, Integer(300));
        assert_eq!(
            business.deal_size_bands,
            [toml::Value::Integer(10_000), toml::Value::Integer(100_000)]
        );
        assert_eq!(raw.capacity.default_max_daily_leads, Integer(40));
        assert_eq!(raw.capacity.default_max_daily_deals, Integer(5));
        assert!(raw.roster.is_empty());
        assert_eq!(raw.kafka.brokers, "localhost:9092");
        assert_eq!(raw.kafka.group_id, "salespulse");
        assert_eq!(raw.kafka.topics.len(), 5);
        assert_eq!(raw.kafka.deadletter_topic, "sales.deadletter");
        assert!(raw.kafka.write_deadletters);
        assert_eq!(raw.kafka.max_message_bytes, Integer(1_048_576));
        assert_eq!(raw.http.listen, "127.0.0.1:9898");
        assert_eq!(raw.http.web_config_file, "");
        assert_eq!(
            raw.export.periods,
            ["week", "month", "quarter", "7d", "30d", "90d"]
        );
        assert!(raw.export.rep_histograms);
        assert_eq!(raw.state.dir, "./salespulse-state");
        assert_eq!(raw.state.url, "");
        assert_eq!(raw.state.checkpoint_interval_seconds, Integer(60));
        assert_eq!(raw.state.checkpoint_every_events, Integer(1_000_000));
        assert_eq!(raw.state.checkpoints_kept, Integer(3));
        // A section's own default is the same as the whole file's.
        assert_eq!(RawState::default(), raw.state);
        assert_eq!(RawBusiness::default(), raw.business);
    }

    /// The key lists used for environment overrides must be exactly the struct fields.
    #[test]
    fn section_key_lists_match_the_structs() {
        // A roster entry and a property, since empty ones are not serialized.
        let mut config = RawConfig::default();
        config.roster.push(RawRosterEntry {
            rep_id: "r".to_owned(),
            team: "t".to_owned(),
            role: "bdr".to_owned(),
            max_daily_leads: None,
            max_daily_deals: None,
            active: true,
        });
        config
            .kafka
            .properties
            .insert("a".to_owned(), PropertyValue("b".to_owned()));
        let table = toml::Table::try_from(config).expect("defaults serialize");
        for (section, keys) in SECTIONS {
            let Some(toml::Value::Table(fields)) = table.get(*section) else {
                panic!("section {section} missing from the serialized defaults");
            };
            let mut actual: Vec<&str> = fields.keys().map(String::as_str).collect();
            let mut expected = keys.to_vec();
            actual.sort_unstable();
            expected.sort_unstable();
            assert_eq!(actual, expected, "keys of [{section}]");
        }
        let mut sections: Vec<&str> = table.keys().map(String::as_str).collect();
        sections.sort_unstable();
        assert_eq!(
            sections,
            [
                "business", "capacity", "export", "http", "kafka", "roster", "state"
            ]
        );
        for key in STRING_KEYS {
            let (section, field) = key.split_once('.').expect("section.key");
            let value = table
                .get(section)
                .and_then(|s| s.get(field))
                .expect("string key exists");
            assert!(value.is_str(), "{key} is a string key");
        }
    }
}
