//! The effective configuration as TOML (`salespulse check-config`), with secrets masked.

use std::collections::BTreeMap;

use chrono::Weekday;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use toml::Value;

use crate::Config;
use crate::raw::{
    Integer, PropertyValue, RawBusiness, RawCapacity, RawConfig, RawExport, RawHttp, RawKafka,
    RawRosterEntry, RawState,
};
use crate::secrets::{MASK, is_secret_property};
use crate::validate::DAYS;

impl Config {
    /// The effective configuration as TOML that `load` accepts back, with every secret
    /// [`kafka.properties`](crate::KafkaConfig::properties) value replaced by [`MASK`].
    pub fn to_masked_toml(&self) -> String {
        match toml::to_string(&to_raw(self, true)) {
            Ok(text) => format!(
                "# effective configuration; secret values are shown as \"{MASK}\"\n\n{text}"
            ),
            Err(error) => format!("# cannot render the configuration: {error}\n"),
        }
    }
}

/// The file form of a configuration; `mask` hides secret property values.
pub(crate) fn to_raw(config: &Config, mask: bool) -> RawConfig {
    let business = &config.business;
    RawConfig {
        business: RawBusiness {
            timezone: business.timezone.name().to_owned(),
            week_start: long_day_name(business.week_start).to_owned(),
            fiscal_year_start_month: Integer(i64::from(business.fiscal_year_start_month)),
            lead_response_sla_seconds: Integer(business.lead_response_sla.num_seconds()),
            lead_queue_max_age_seconds: Integer(
                business
                    .lead_queue_max_age
                    .map_or(0, |max_age| max_age.num_seconds()),
            ),
            workdays: business
                .workdays
                .iter()
                .map(|day| short_day_name(*day).to_owned())
                .collect(),
            holidays: business
                .holidays
                .iter()
                .map(|date| Value::String(date.format("%Y-%m-%d").to_string()))
                .collect(),
            reporting_currency: business.reporting_currency.clone(),
            max_clock_skew_seconds: Integer(business.max_clock_skew.num_seconds()),
            deal_size_bands: business
                .deal_size_bands
                .iter()
                .map(|amount| decimal_value(*amount))
                .collect(),
        },
        capacity: RawCapacity {
            default_max_daily_leads: saturating(config.capacity.default_max_daily_leads),
            default_max_daily_deals: saturating(config.capacity.default_max_daily_deals),
        },
        roster: config
            .roster
            .iter()
            .map(|(rep_id, record)| RawRosterEntry {
                rep_id: rep_id.clone(),
                team: record.team.clone(),
                role: record.role.as_str().to_owned(),
                max_daily_leads: record.max_daily_leads.map(saturating),
                max_daily_deals: record.max_daily_deals.map(saturating),
                active: record.active,
            })
            .collect(),
        kafka: RawKafka {
            brokers: config.kafka.brokers.clone(),
            group_id: config.kafka.group_id.clone(),
            topics: config.kafka.topics.clone(),
            deadletter_topic: config.kafka.deadletter_topic.clone(),
            write_deadletters: config.kafka.write_deadletters,
            max_message_bytes: Integer(
                i64::try_from(config.kafka.max_message_bytes).unwrap_or(i64::MAX),
            ),
            properties: config
                .kafka
                .properties
                .iter()
                .map(|(name, value)| {
                    let shown = if mask && is_secret_property(name) {
                        MASK.to_owned()
                    } else {
                        value.clone()
                    };
                    (name.clone(), PropertyValue(shown))
                })
                .collect::<BTreeMap<_, _>>(),
        },
        http: RawHttp {
            listen: config.http.listen.to_string(),
            web_config_file: config
                .http
                .web_config_file
                .as_ref()
                .map(|path| path.to_string_lossy().into_owned())
                .unwrap_or_default(),
        },
        export: RawExport {
            periods: config
                .export
                .periods
                .iter()
                .map(|period| period.label().to_owned())
                .collect(),
            rep_histograms: config.export.rep_histograms,
        },
        state: RawState {
            dir: config.state.dir.to_string_lossy().into_owned(),
            url: config.state.url.clone().unwrap_or_default(),
            checkpoint_interval_seconds: Integer(config.state.checkpoint_interval.num_seconds()),
            checkpoint_every_events: saturating(config.state.checkpoint_every_events),
            checkpoints_kept: saturating(config.state.checkpoints_kept),
        },
    }
}

fn short_day_name(day: Weekday) -> &'static str {
    DAYS.iter()
        .find(|(_, d)| *d == day)
        .map_or("mon", |(name, _)| *name)
}

fn long_day_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

/// TOML has no u64; values beyond i64 cannot come from a file anyway.
fn saturating(value: u64) -> Integer {
    Integer(i64::try_from(value).unwrap_or(i64::MAX))
}

/// An amount as the most natural TOML that reads back exactly: an integer, else a float whose
/// text is the same number, else a decimal string.
fn decimal_value(amount: Decimal) -> Value {
    let integer = amount.fract().is_zero().then(|| amount.to_i64()).flatten();
    if let Some(integer) = integer {
        return Value::Integer(integer);
    }
    match amount.to_f64() {
        Some(float) if Decimal::from_str_exact(&float.to_string()).ok() == Some(amount) => {
            Value::Float(float)
        }
        _ => Value::String(amount.normalize().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_render_exactly() {
        assert_eq!(decimal_value(Decimal::from(10_000)), Value::Integer(10_000));
        assert_eq!(
            decimal_value(Decimal::new(125005, 1)),
            Value::Float(12500.5)
        );
        let precise = Decimal::new(1_234_567_890_123_456_789, 2);
        assert_eq!(
            decimal_value(precise),
            Value::String("12345678901234567.89".to_owned())
        );
    }
}
