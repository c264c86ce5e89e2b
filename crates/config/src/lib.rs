//! The salespulse configuration (CONFIG.md): a TOML file, environment overrides, validation.
//!
//! Loading is layered — built-in defaults, then the file, then `SALESPULSE_<SECTION>__<KEY>`
//! variables — and strict: an unknown key or a bad value stops the program before anything
//! starts, with an error naming the key, because a silently ignored typo (a time zone, a roster
//! role) would skew every metric without anyone noticing.
//!
//! [`Config`] holds validated, typed values only, so [`Config::engine_settings`] cannot fail.

mod env;
mod error;
mod output;
mod raw;
mod secrets;
mod validate;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, TimeDelta, Weekday};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use salespulse_calendar::CalendarSettings;
use salespulse_engine::Settings;
use salespulse_events::{DEFAULT_MAX_EVENT_BYTES, RosterRecord, ValidationRules};
use salespulse_exporter::Selection;
use toml::{Table, Value};

pub use error::{ConfigError, Origin};
pub use secrets::{MASK, is_secret_property, mask_secrets};

/// The whole, validated configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    pub business: BusinessConfig,
    pub capacity: CapacityConfig,
    /// The `[[roster]]` seed, `(rep_id, record)` in file order, each rep once; `rep_upserted`
    /// events override it (SEMANTICS C10). A record's maxima stay `None` when the file gives
    /// none, so the engine applies `[capacity]` (and a later `rep_upserted` behaves the same).
    pub roster: Vec<(String, RosterRecord)>,
    pub kafka: KafkaConfig,
    pub http: HttpConfig,
    /// `[export]`: which series `/metrics` carries.
    pub export: Selection,
    pub state: StateConfig,
}

/// `[business]`: the calendar and the business rules.
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessConfig {
    pub timezone: Tz,
    /// Monday or Sunday.
    pub week_start: Weekday,
    /// 1..=12; 1 = calendar quarters.
    pub fiscal_year_start_month: u32,
    /// `lead_response_sla_seconds`.
    pub lead_response_sla: TimeDelta,
    /// `lead_queue_max_age_seconds`; `None` (0 in the file) = no limit.
    pub lead_queue_max_age: Option<TimeDelta>,
    /// In file order, without duplicates, never empty.
    pub workdays: Vec<Weekday>,
    pub holidays: BTreeSet<NaiveDate>,
    pub reporting_currency: String,
    /// `max_clock_skew_seconds`.
    pub max_clock_skew: TimeDelta,
    /// Upper bounds of small and medium, non-negative and strictly ascending.
    pub deal_size_bands: [Decimal; 2],
}

/// The engine's defaults ([`Settings::default`]): each business rule has its default in one place.
impl Default for BusinessConfig {
    fn default() -> Self {
        let Settings {
            calendar,
            validation,
            lead_response_sla,
            lead_queue_max_age,
            deal_size_bands,
            ..
        } = Settings::default();
        BusinessConfig {
            timezone: calendar.timezone,
            week_start: calendar.week_start,
            fiscal_year_start_month: calendar.fiscal_year_start_month,
            lead_response_sla,
            lead_queue_max_age,
            workdays: calendar.workdays.iter(Weekday::Mon).collect(),
            holidays: calendar.holidays,
            reporting_currency: validation.reporting_currency,
            max_clock_skew: validation.max_clock_skew,
            deal_size_bands,
        }
    }
}

/// `[capacity]`: per-rep daily maxima when the roster gives none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapacityConfig {
    pub default_max_daily_leads: u64,
    pub default_max_daily_deals: u64,
}

/// The engine's defaults, like [`BusinessConfig`]'s.
impl Default for CapacityConfig {
    fn default() -> Self {
        let settings = Settings::default();
        CapacityConfig {
            default_max_daily_leads: settings.default_max_daily_leads,
            default_max_daily_deals: settings.default_max_daily_deals,
        }
    }
}

/// `[kafka]`: run mode only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    pub brokers: String,
    pub group_id: String,
    /// Never empty.
    pub topics: Vec<String>,
    pub deadletter_topic: String,
    /// Whether this instance writes the dead-letter topic: with several replicas, one does.
    pub write_deadletters: bool,
    /// The largest accepted message (and `replay` line), in bytes; at least 1.
    pub max_message_bytes: usize,
    /// librdkafka properties passed through as is; may hold secrets (see [`is_secret_property`]).
    pub properties: BTreeMap<String, String>,
}

/// The defaults of CONFIG.md; the file layer's defaults are written from these
/// ([`raw::RawConfig`]'s `Default`).
impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "localhost:9092".to_owned(),
            group_id: "salespulse".to_owned(),
            topics: [
                "sales.activities",
                "sales.leads",
                "sales.deals",
                "sales.finance",
                "sales.roster",
            ]
            .map(str::to_owned)
            .to_vec(),
            deadletter_topic: "sales.deadletter".to_owned(),
            write_deadletters: true,
            max_message_bytes: DEFAULT_MAX_EVENT_BYTES,
            properties: BTreeMap::new(),
        }
    }
}

/// `[http]`: where `/metrics`, `/healthz` and `/readyz` are served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    /// TLS and basic auth, in the Prometheus exporter-toolkit web config format; `None` serves
    /// plain HTTP without authentication.
    pub web_config_file: Option<PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 9898)),
            web_config_file: None,
        }
    }
}

/// `[state]`: where checkpoints of the state are kept, and how often they are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateConfig {
    /// The local directory, used unless `url` is set.
    pub dir: PathBuf,
    /// Object storage (`s3://bucket/prefix`, …) instead of `dir`.
    pub url: Option<String>,
    /// A checkpoint at least this often while events arrive.
    pub checkpoint_interval: TimeDelta,
    /// And after this many input messages.
    pub checkpoint_every_events: u64,
    /// How many checkpoints are kept (the newest); at least 1.
    pub checkpoints_kept: u64,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            dir: PathBuf::from("./salespulse-state"),
            url: None,
            checkpoint_interval: TimeDelta::seconds(60),
            checkpoint_every_events: 1_000_000,
            checkpoints_kept: 3,
        }
    }
}

/// Loads the configuration: defaults, then the file at `path` (if any; a path given but missing
/// is an error, since silently running on defaults would hide a deployment mistake), then the
/// `SALESPULSE_<SECTION>__<KEY>` overrides found in `env` (other variables are ignored).
///
/// `env` is a parameter rather than read here so tests stay hermetic; pass [`process_env`].
pub fn load(
    path: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let text = read(path)?;
    load_from(path.zip(text.as_deref()), env)
}

/// How a command uses `[kafka]`, which decides what else must hold before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KafkaUse {
    /// `run`, and `check-config`, which vouches for it: brokers, group and topics as configured.
    Service,
    /// `demo`: its own cluster and group, and the topics of EVENTS.md (the default `topics`);
    /// the dead-letter topic and the properties as configured.
    Demo,
}

/// [`load`], then refuses what could only fail once a command that connects to Kafka has
/// started (CONFIG.md v1.1), with an error naming the key like any bad value: blank `brokers`
/// or `group_id` (for [`KafkaUse::Service`]), a blank dead-letter topic when this instance
/// writes it, a dead-letter topic that is also an input topic (rejected messages would be read
/// again), and a `[kafka.properties]` entry that `check_property(name, value)` refuses with its
/// reason. That last judgement is librdkafka's, which this crate leaves to the Kafka crate.
pub fn load_for_kafka(
    path: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    usage: KafkaUse,
    check_property: impl Fn(&str, &str) -> Result<(), String>,
) -> Result<Config, ConfigError> {
    let text = read(path)?;
    load_checked(path.zip(text.as_deref()), env, |config| {
        validate::kafka_use(&config.kafka, usage, &check_property)
    })
}

/// The file at `path`, if one is given.
fn read(path: Option<&Path>) -> Result<Option<String>, ConfigError> {
    path.map(|path| {
        std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })
    })
    .transpose()
}

/// The `SALESPULSE_*` variables of this process. Unlike `std::env::vars`, it does not panic on a
/// variable that is not Unicode: such a value is converted lossily and then fails validation
/// (or reaches librdkafka) visibly instead of being dropped.
pub fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(name, value)| {
            let name = name.to_string_lossy().into_owned();
            name.starts_with(env::PREFIX)
                .then(|| (name, value.to_string_lossy().into_owned()))
        })
        .collect()
}

/// [`load`] on text already read: `file` is the path (for messages) and its contents.
fn load_from(
    file: Option<(&Path, &str)>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    load_checked(file, env, |_| Ok(()))
}

/// [`load_from`], then `check` on the valid configuration. Every message is masked with the
/// secret values of the file and the environment, since serde's and librdkafka's quote the
/// values they refuse.
fn load_checked(
    file: Option<(&Path, &str)>,
    env: impl IntoIterator<Item = (String, String)>,
    check: impl FnOnce(&Config) -> Result<(), validate::Problem>,
) -> Result<Config, ConfigError> {
    let mut table = match file {
        Some((path, text)) => parse_file(path, text)?,
        None => Table::new(),
    };
    let env_origins = env::apply(&mut table, env)?;
    let origin_of = |key: &str| {
        env_origins
            .iter()
            .filter(|(set, _)| {
                key.strip_prefix(set.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
            })
            .max_by_key(|(set, _)| set.len())
            .map(|(_, var)| Origin::Env(var.clone()))
            .or_else(|| file.map(|(path, _)| Origin::File(path.to_owned())))
    };
    let secrets = secrets::secret_values(&table);
    let invalid = |key: String, message: &str| ConfigError::Invalid {
        origin: origin_of(&key),
        message: secrets::mask_values(message, secrets.iter().map(String::as_str)),
        key,
    };
    let raw: raw::RawConfig =
        serde_path_to_error::deserialize(Value::Table(table)).map_err(|error| {
            invalid(
                error.path().to_string(),
                &toml_terms(error.inner().message()),
            )
        })?;
    let config = validate::validate(raw)
        .and_then(|config| check(&config).map(|()| config))
        .map_err(|problem| invalid(problem.key, &problem.message))?;
    Ok(config)
}

/// Serde's messages speak of fields and sequences; the file has keys and arrays.
fn toml_terms(message: &str) -> String {
    message
        .replace('\n', "; ")
        .replace("unknown field", "unknown key")
        .replace("missing field", "missing key")
        .replace("a sequence", "an array")
}

/// Parses the file; a syntax error reports line and column but no source excerpt (the line
/// might be a password).
fn parse_file(path: &Path, text: &str) -> Result<Table, ConfigError> {
    toml::from_str::<Table>(text).map_err(|error| {
        let line_column = error
            .span()
            .and_then(|span| text.get(..span.start))
            .map(|before| {
                let line = before.matches('\n').count() + 1;
                let column = before
                    .rsplit('\n')
                    .next()
                    .map_or(0, |last| last.chars().count())
                    + 1;
                (line, column)
            });
        ConfigError::Syntax {
            path: path.to_owned(),
            line_column,
            message: error.message().trim().replace('\n', "; "),
        }
    })
}

impl Config {
    /// The engine's view of the configuration.
    pub fn engine_settings(&self) -> Settings {
        let business = &self.business;
        Settings {
            calendar: CalendarSettings {
                timezone: business.timezone,
                week_start: business.week_start,
                fiscal_year_start_month: business.fiscal_year_start_month,
                workdays: business.workdays.iter().copied().collect(),
                holidays: business.holidays.iter().copied().collect(),
            },
            validation: ValidationRules {
                reporting_currency: business.reporting_currency.clone(),
                max_clock_skew: business.max_clock_skew,
            },
            lead_response_sla: business.lead_response_sla,
            lead_queue_max_age: business.lead_queue_max_age,
            deal_size_bands: business.deal_size_bands,
            default_max_daily_leads: self.capacity.default_max_daily_leads,
            default_max_daily_deals: self.capacity.default_max_daily_deals,
            roster: self.roster.clone(),
            max_event_bytes: self.kafka.max_message_bytes,
        }
    }
}

#[cfg(test)]
mod tests;
