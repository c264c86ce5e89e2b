use salespulse_calendar::Period;
use salespulse_events::Role;

use super::*;

const FILE: &str = "salespulse.toml";

/// The full example of CONFIG.md, verbatim (plus a `[kafka.properties]` table).
const EXAMPLE: &str = r#"
[business]
timezone = "UTC"                  # IANA name; calendar windows start at local midnight
week_start = "monday"             # or "sunday"
fiscal_year_start_month = 1       # 1 = calendar quarters; 2 = quarters start Feb/May/Aug/Nov, ...
lead_response_sla_seconds = 300
lead_queue_max_age_seconds = 2592000  # v1.1: leads waiting longer leave the live queue (30 days); 0 = no limit
workdays = ["mon", "tue", "wed", "thu", "fri"]
holidays = ["2026-12-25"]         # local dates excluded from business days
reporting_currency = "USD"
max_clock_skew_seconds = 300      # events further in the future than this are rejected
deal_size_bands = [10000, 100000] # upper bounds of small, medium; above = large

[capacity]
default_max_daily_leads = 40      # per BDR, when the roster gives none
default_max_daily_deals = 5       # per AE

[[roster]]                        # optional seed; rep_upserted events override it
rep_id = "r-001"
team = "east"
role = "bdr"                      # bdr | ae | other
max_daily_leads = 50

[kafka]                           # run mode only
brokers = "localhost:9092"
group_id = "salespulse"
topics = ["sales.activities", "sales.leads", "sales.deals", "sales.finance", "sales.roster"]
deadletter_topic = "sales.deadletter"
# [kafka.properties] passes any librdkafka property through (security.protocol, sasl.*, ssl.*)

[http]
listen = "127.0.0.1:9898"         # /metrics, /healthz, /readyz

[export]                          # v1.1: what /metrics carries (see METRICS.md)
periods = ["week", "month", "quarter", "7d", "30d", "90d"]
rep_histograms = true             # the per-rep sales_lead_response_time_seconds histogram

[state]
dir = "./salespulse-state"        # embedded default; see the state issue for the Kafka-backed store
"#;

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    load_from(Some((Path::new(FILE), text)), no_env())
}

fn parse_ok(text: &str) -> Config {
    parse(text).unwrap_or_else(|error| panic!("{text:?} should load: {error}"))
}

/// Loads `text` expecting an error at `key`; returns the message for further checks.
fn error_at(text: &str, key: &str) -> String {
    let error = match parse(text) {
        Ok(config) => panic!("{text:?} should fail at {key}, loaded {config:?}"),
        Err(error) => error,
    };
    let message = error.to_string();
    assert_eq!(error.key(), Some(key), "{text:?}: {message}");
    assert!(message.starts_with(&format!("{key}: ")), "{message}");
    assert!(message.ends_with(&format!("[in {FILE}]")), "{message}");
    message
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

#[test]
fn empty_file_and_no_file_give_the_defaults_of_config_md() {
    let from_empty = parse_ok("");
    let from_none = load(None, no_env()).expect("no file is valid");
    assert_eq!(from_empty, from_none);
    assert_eq!(from_empty, Config::default());

    let business = &from_empty.business;
    assert_eq!(business.timezone, Tz::UTC);
    assert_eq!(business.week_start, Weekday::Mon);
    assert_eq!(business.fiscal_year_start_month, 1);
    assert_eq!(business.lead_response_sla, TimeDelta::seconds(300));
    assert_eq!(
        business.lead_queue_max_age,
        Some(TimeDelta::seconds(2_592_000))
    );
    assert_eq!(
        business.workdays,
        [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri
        ]
    );
    assert!(business.holidays.is_empty());
    assert_eq!(business.reporting_currency, "USD");
    assert_eq!(business.max_clock_skew, TimeDelta::seconds(300));
    assert_eq!(
        business.deal_size_bands,
        [Decimal::from(10_000), Decimal::from(100_000)]
    );
    assert_eq!(from_empty.capacity.default_max_daily_leads, 40);
    assert_eq!(from_empty.capacity.default_max_daily_deals, 5);
    assert!(from_empty.roster.is_empty());
    let kafka = &from_empty.kafka;
    assert_eq!(kafka.brokers, "localhost:9092");
    assert_eq!(kafka.group_id, "salespulse");
    assert_eq!(
        kafka.topics,
        [
            "sales.activities",
            "sales.leads",
            "sales.deals",
            "sales.finance",
            "sales.roster"
        ]
    );
    assert_eq!(kafka.deadletter_topic, "sales.deadletter");
    assert!(kafka.write_deadletters);
    assert_eq!(kafka.max_message_bytes, 1_048_576);
    assert!(kafka.properties.is_empty());
    assert_eq!(
        from_empty.http.listen,
        "127.0.0.1:9898".parse::<SocketAddr>().expect("address")
    );
    assert_eq!(from_empty.http.web_config_file, None);
    assert_eq!(from_empty.state.dir, PathBuf::from("./salespulse-state"));
    assert_eq!(from_empty.export.periods, Period::ALL);
    assert!(from_empty.export.rep_histograms);

    // Empty sections are as good as absent ones.
    assert_eq!(
        parse_ok("[business]\n[capacity]\n[kafka]\n[http]\n[state]\n"),
        Config::default()
    );
}

#[test]
fn lead_queue_max_age_and_export_parse_and_name_the_key_when_bad() {
    let config = parse_ok(
        "[business]\nlead_queue_max_age_seconds = 0\n\
         [export]\nperiods = [\"90d\", \"week\"]\nrep_histograms = false\n",
    );
    assert_eq!(config.business.lead_queue_max_age, None, "0 = no limit");
    assert_eq!(config.export.periods, [Period::Days90, Period::Week]);
    assert!(!config.export.rep_histograms);
    assert_eq!(
        config.engine_settings().lead_queue_max_age,
        None,
        "reaches the engine"
    );
    let config = parse_ok("[business]\nlead_queue_max_age_seconds = 86400\n[export]\nperiods = []");
    assert_eq!(config.business.lead_queue_max_age, Some(TimeDelta::days(1)));
    assert!(config.export.periods.is_empty(), "only unwindowed series");

    let message = error_at(
        "[business]\nlead_queue_max_age_seconds = -1",
        "business.lead_queue_max_age_seconds",
    );
    assert!(message.contains("-1 is negative"), "{message}");
    let message = error_at(
        "[export]\nperiods = [\"week\", \"weekly\"]",
        "export.periods[1]",
    );
    assert!(
        message.contains(
            "unknown period \"weekly\" (expected one of week, month, quarter, 7d, 30d, 90d)"
        ),
        "{message}"
    );
    let message = error_at("[export]\nperiods = [\"7d\", \"7d\"]", "export.periods[1]");
    assert!(message.contains("twice"), "{message}");
    error_at("[export]\nrep_histograms = \"no\"", "export.rep_histograms");
    error_at("[export]\nhistograms = false", "export.histograms");
    // Environment overrides reach both new sections.
    let config = load_from(
        None,
        env(&[
            ("SALESPULSE_EXPORT__PERIODS", "[\"month\"]"),
            ("SALESPULSE_EXPORT__REP_HISTOGRAMS", "false"),
            ("SALESPULSE_BUSINESS__LEAD_QUEUE_MAX_AGE_SECONDS", "3600"),
        ]),
    )
    .expect("overrides load");
    assert_eq!(config.export.periods, [Period::Month]);
    assert!(!config.export.rep_histograms);
    assert_eq!(
        config.business.lead_queue_max_age,
        Some(TimeDelta::hours(1))
    );
}

#[test]
fn max_message_bytes_and_web_config_file_parse_and_name_the_key_when_bad() {
    let config = parse_ok(
        "[kafka]\nmax_message_bytes = 4096\n[http]\nweb_config_file = \"/etc/salespulse/web.yml\"",
    );
    assert_eq!(config.kafka.max_message_bytes, 4096);
    assert_eq!(
        config.http.web_config_file,
        Some(PathBuf::from("/etc/salespulse/web.yml"))
    );
    assert_eq!(
        config.engine_settings().max_event_bytes,
        4096,
        "reaches the engine"
    );
    assert_eq!(
        parse_ok("[http]\nweb_config_file = \" \"")
            .http
            .web_config_file,
        None,
        "blank = plain HTTP"
    );
    for bad in ["0", "-1", "1.5", "\"1MiB\""] {
        error_at(
            &format!("[kafka]\nmax_message_bytes = {bad}"),
            "kafka.max_message_bytes",
        );
    }
    let message = error_at("[kafka]\nmax_message_bytes = 0", "kafka.max_message_bytes");
    assert!(message.contains("0 is not allowed"), "{message}");
    error_at("[http]\nweb_config_file = 1", "http.web_config_file");

    let config = load_from(
        None,
        env(&[
            ("SALESPULSE_KAFKA__MAX_MESSAGE_BYTES", "2048"),
            ("SALESPULSE_HTTP__WEB_CONFIG_FILE", "web.yml"),
        ]),
    )
    .expect("overrides load");
    assert_eq!(config.kafka.max_message_bytes, 2048);
    assert_eq!(config.http.web_config_file, Some(PathBuf::from("web.yml")));
    // A path that reads as TOML stays the path as written.
    let config = load_from(None, env(&[("SALESPULSE_HTTP__WEB_CONFIG_FILE", "2026")]))
        .expect("override loads");
    assert_eq!(config.http.web_config_file, Some(PathBuf::from("2026")));
    let error =
        load(None, env(&[("SALESPULSE_KAFKA__MAX_MESSAGE_BYTES", "0")])).expect_err("zero bytes");
    assert_eq!(error.key(), Some("kafka.max_message_bytes"));
    assert!(
        error
            .to_string()
            .ends_with("[set by SALESPULSE_KAFKA__MAX_MESSAGE_BYTES]"),
        "{error}"
    );
}

#[test]
fn a_replica_may_leave_the_dead_letters_to_another() {
    assert!(
        !parse_ok("[kafka]\nwrite_deadletters = false")
            .kafka
            .write_deadletters
    );
    error_at(
        "[kafka]\nwrite_deadletters = \"no\"",
        "kafka.write_deadletters",
    );
}

#[test]
fn state_keys_parse_and_name_the_key_when_bad() {
    let defaults = Config::default().state;
    assert_eq!(defaults.url, None);
    assert_eq!(defaults.checkpoint_interval, TimeDelta::seconds(60));
    assert_eq!(defaults.checkpoint_every_events, 1_000_000);
    assert_eq!(defaults.checkpoints_kept, 3);
    let config = parse_ok(
        "[state]\nurl = \"s3://bucket/salespulse\"\ncheckpoint_interval_seconds = 5\n\
         checkpoint_every_events = 1000\ncheckpoints_kept = 1\n",
    );
    assert_eq!(config.state.url.as_deref(), Some("s3://bucket/salespulse"));
    assert_eq!(config.state.checkpoint_interval, TimeDelta::seconds(5));
    assert_eq!(config.state.checkpoint_every_events, 1000);
    assert_eq!(config.state.checkpoints_kept, 1);
    assert_eq!(
        parse_ok("[state]\nurl = \"  \"").state.url,
        None,
        "blank = the directory"
    );
    let message = error_at("[state]\nurl = \"bucket/prefix\"", "state.url");
    assert!(message.contains("is not a URL"), "{message}");
    for key in [
        "checkpoint_interval_seconds",
        "checkpoint_every_events",
        "checkpoints_kept",
    ] {
        for bad in ["0", "-3", "\"60\""] {
            error_at(&format!("[state]\n{key} = {bad}"), &format!("state.{key}"));
        }
    }
}

#[test]
fn defaults_agree_with_the_engine_defaults() {
    assert_eq!(Config::default().engine_settings(), Settings::default());
}

#[test]
fn the_example_of_config_md_parses() {
    let config = parse_ok(EXAMPLE);
    let mut expected = Config::default();
    expected.business.holidays.insert(date(2026, 12, 25));
    expected.roster.push((
        "r-001".to_owned(),
        RosterRecord {
            team: "east".to_owned(),
            role: Role::Bdr,
            max_daily_leads: Some(50),
            max_daily_deals: None,
            active: true,
        },
    ));
    assert_eq!(config, expected);
}

#[test]
fn non_default_values_parse() {
    let config = parse_ok(
        r#"
        [business]
        timezone = "Europe/Berlin"
        week_start = "sunday"
        fiscal_year_start_month = 2
        lead_response_sla_seconds = 0
        workdays = ["sun", "mon"]
        holidays = ["2026-12-25", 2026-12-26, "2026-12-25"]
        reporting_currency = "EUR"
        max_clock_skew_seconds = 0
        deal_size_bands = [0, "12500.50"]

        [kafka]
        topics = ["t"]
        [kafka.properties]
        "security.protocol" = "SASL_SSL"
        "enable.auto.commit" = false
        "session.timeout.ms" = 6000

        [http]
        listen = "[::]:9000"
        "#,
    );
    let business = &config.business;
    assert_eq!(business.timezone, Tz::Europe__Berlin);
    assert_eq!(business.week_start, Weekday::Sun);
    assert_eq!(business.fiscal_year_start_month, 2);
    assert_eq!(business.lead_response_sla, TimeDelta::zero());
    assert_eq!(business.workdays, [Weekday::Sun, Weekday::Mon]);
    assert_eq!(
        business.holidays,
        [date(2026, 12, 25), date(2026, 12, 26)].into()
    );
    assert_eq!(business.reporting_currency, "EUR");
    assert_eq!(
        business.deal_size_bands,
        [Decimal::ZERO, Decimal::new(125005, 1)]
    );
    assert_eq!(config.kafka.topics, ["t"]);
    assert_eq!(
        config.kafka.properties,
        BTreeMap::from(
            [
                ("security.protocol", "SASL_SSL"),
                ("enable.auto.commit", "false"),
                ("session.timeout.ms", "6000"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        )
    );
    assert_eq!(config.http.listen.port(), 9000);
}

#[test]
fn float_bands_convert_exactly() {
    let config = parse_ok("[business]\ndeal_size_bands = [999.99, 1e5]");
    assert_eq!(
        config.business.deal_size_bands,
        [Decimal::new(99999, 2), Decimal::from(100_000)]
    );
}

#[test]
fn invalid_business_values_name_the_key() {
    let message = error_at("[business]\ntimezone = \"Mars/Base\"", "business.timezone");
    assert_eq!(
        message,
        "business.timezone: unknown time zone \"Mars/Base\" (expected an IANA name such as \
         Europe/Berlin) [in salespulse.toml]"
    );
    error_at("[business]\ntimezone = 5", "business.timezone");
    error_at(
        "[business]\nweek_start = \"tuesday\"",
        "business.week_start",
    );
    error_at("[business]\nweek_start = \"Monday\"", "business.week_start");
    for month in ["0", "13", "-1", "1.5", "\"1\""] {
        error_at(
            &format!("[business]\nfiscal_year_start_month = {month}"),
            "business.fiscal_year_start_month",
        );
    }
    for bad in ["-1", "1.5", "\"300\"", "true"] {
        error_at(
            &format!("[business]\nlead_response_sla_seconds = {bad}"),
            "business.lead_response_sla_seconds",
        );
        error_at(
            &format!("[business]\nmax_clock_skew_seconds = {bad}"),
            "business.max_clock_skew_seconds",
        );
    }
    let message = error_at(
        "[business]\nlead_response_sla_seconds = -5",
        "business.lead_response_sla_seconds",
    );
    assert!(message.contains("-5 is negative"), "{message}");
    error_at(
        "[business]\nmax_clock_skew_seconds = 9223372036854775807",
        "business.max_clock_skew_seconds",
    );
    error_at("[business]\nworkdays = []", "business.workdays");
    error_at(
        "[business]\nworkdays = [\"mon\", \"monday\"]",
        "business.workdays[1]",
    );
    let message = error_at(
        "[business]\nworkdays = [\"mon\", \"tue\", \"mon\"]",
        "business.workdays[2]",
    );
    assert!(message.contains("twice"), "{message}");
    error_at(
        "[business]\nworkdays = [\"mon\", 2]",
        "business.workdays[1]",
    );
    error_at("[business]\nworkdays = \"mon\"", "business.workdays");
    for bad in [
        "\"2026-02-30\"",
        "\"2026-12-25T00:00:00Z\"",
        "\"25.12.2026\"",
        "2026-12-25T10:00:00",
        "20261225",
    ] {
        error_at(
            &format!("[business]\nholidays = [\"2026-01-01\", {bad}]"),
            "business.holidays[1]",
        );
    }
    error_at(
        "[business]\nreporting_currency = \"\"",
        "business.reporting_currency",
    );
    for bad in ["[1]", "[1, 2, 3]", "[]", "[100, 100]", "[100, 10]"] {
        error_at(
            &format!("[business]\ndeal_size_bands = {bad}"),
            "business.deal_size_bands",
        );
    }
    for (bad, key) in [
        ("[-1, 10]", "business.deal_size_bands[0]"),
        ("[1, \"abc\"]", "business.deal_size_bands[1]"),
        ("[1, \"12,50\"]", "business.deal_size_bands[1]"),
        ("[1, nan]", "business.deal_size_bands[1]"),
        ("[1, inf]", "business.deal_size_bands[1]"),
        ("[true, 10]", "business.deal_size_bands[0]"),
    ] {
        error_at(&format!("[business]\ndeal_size_bands = {bad}"), key);
    }
}

#[test]
fn invalid_capacity_roster_kafka_http_values_name_the_key() {
    error_at(
        "[capacity]\ndefault_max_daily_leads = -1",
        "capacity.default_max_daily_leads",
    );
    error_at(
        "[capacity]\ndefault_max_daily_deals = 2.5",
        "capacity.default_max_daily_deals",
    );

    let entry = |rep: &str, extra: &str| {
        format!("[[roster]]\nrep_id = {rep:?}\nteam = \"east\"\nrole = \"ae\"\n{extra}\n")
    };
    let two = |extra: &str| format!("{}{}", entry("r-1", ""), entry("r-2", extra));
    let message = error_at(
        &format!(
            "{}[[roster]]\nrep_id = \"r-2\"\nteam = \"east\"\nrole = \"manager\"",
            entry("r-1", "")
        ),
        "roster[1].role",
    );
    assert!(message.contains("expected bdr, ae or other"), "{message}");
    error_at(&entry("", ""), "roster[0].rep_id");
    error_at(&entry(&"x".repeat(129), ""), "roster[0].rep_id");
    parse_ok(&entry(&"é".repeat(128), ""));
    error_at(
        "[[roster]]\nrep_id = \"r\"\nteam = \"\"\nrole = \"bdr\"",
        "roster[0].team",
    );
    error_at(&two("max_daily_leads = -3"), "roster[1].max_daily_leads");
    error_at(&two("max_daily_deals = \"5\""), "roster[1].max_daily_deals");
    error_at(&two("active = \"yes\""), "roster[1].active");
    let message = error_at(
        &format!("{}{}", entry("r-1", ""), entry("r-1", "")),
        "roster[1].rep_id",
    );
    assert!(message.contains("duplicate rep_id \"r-1\""), "{message}");
    let message = error_at("[[roster]]\nrep_id = \"r\"\nrole = \"bdr\"", "roster[0]");
    assert!(message.contains("missing key `team`"), "{message}");

    error_at("[kafka]\ntopics = []", "kafka.topics");
    error_at("[kafka]\ntopics = [\"a\", \"\"]", "kafka.topics[1]");
    error_at(
        "[kafka.properties]\n\"sasl.password\" = [1]",
        "kafka.properties.sasl.password",
    );
    for bad in ["\"localhost:9898\"", "\"9898\"", "\"1.2.3.4\"", "9898"] {
        error_at(&format!("[http]\nlisten = {bad}"), "http.listen");
    }
}

#[test]
fn unknown_keys_and_sections_are_errors_naming_them() {
    let message = error_at("[business]\ntimezon = \"UTC\"", "business.timezon");
    assert!(message.contains("unknown key `timezon`"), "{message}");
    assert!(
        message.contains("`timezone`"),
        "the expected keys are listed: {message}"
    );
    error_at("[busines]\ntimezone = \"UTC\"", "busines");
    error_at("verbose = true", "verbose");
    error_at(
        "[[roster]]\nrep_id = \"r\"\nteam = \"t\"\nrole = \"bdr\"\nmanager = \"x\"",
        "roster[0].manager",
    );
    error_at("[kafka.nope]\nx = 1", "kafka.nope");
    error_at("business = 1", "business");
    error_at("roster = 1", "roster");
}

#[test]
fn a_missing_file_is_an_error_naming_the_path() {
    let path = Path::new("/nonexistent/salespulse-config-test.toml");
    let error = load(Some(path), no_env()).expect_err("missing file");
    assert!(matches!(error, ConfigError::Read { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("/nonexistent/salespulse-config-test.toml"),
        "{error}"
    );
}

#[test]
fn a_real_file_loads() {
    let dir = std::env::temp_dir().join(format!("salespulse-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("salespulse.toml");
    std::fs::write(&path, EXAMPLE).expect("write");
    let loaded = load(Some(&path), no_env());
    std::fs::remove_dir_all(&dir).expect("clean up");
    assert_eq!(loaded.expect("loads").roster.len(), 1);
}

#[test]
fn syntax_errors_give_a_position_but_no_excerpt() {
    let text = "[kafka.properties]\n\"sasl.password\" = \"hunter2\n";
    let error = parse(text).expect_err("unterminated string");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("{FILE}:2:")),
        "position: {message}"
    );
    assert!(!message.contains("hunter2"), "secret echoed: {message}");
}

#[test]
fn environment_overrides_win_over_the_file() {
    let file = "[business]\ntimezone = \"UTC\"\nholidays = [\"2026-01-01\"]\n\
                lead_response_sla_seconds = 60\n[kafka]\nbrokers = \"file:9092\"\n";
    let config = load_from(
        Some((Path::new(FILE), file)),
        env(&[
            ("SALESPULSE_BUSINESS__TIMEZONE", "Europe/Berlin"),
            (
                "SALESPULSE_BUSINESS__HOLIDAYS",
                r#"["2026-12-25", "2026-12-26"]"#,
            ),
            ("SALESPULSE_BUSINESS__LEAD_RESPONSE_SLA_SECONDS", "900"),
            ("SALESPULSE_BUSINESS__DEAL_SIZE_BANDS", "[5000.5, 50000]"),
            ("SALESPULSE_KAFKA__BROKERS", "a:9092,b:9092"),
            ("SALESPULSE_KAFKA__GROUP_ID", "123"),
            ("SALESPULSE_CAPACITY__DEFAULT_MAX_DAILY_DEALS", "7"),
            ("SALESPULSE_HTTP__LISTEN", "0.0.0.0:9100"),
            ("SALESPULSE_STATE__DIR", "/var/lib/salespulse"),
            // Not overrides: no `__`, or another prefix.
            ("SALESPULSE_CONFIG", "/etc/salespulse.toml"),
            ("PATH", "/usr/bin"),
        ]),
    )
    .expect("overrides apply");
    let business = &config.business;
    assert_eq!(business.timezone, Tz::Europe__Berlin);
    assert_eq!(
        business.holidays,
        [date(2026, 12, 25), date(2026, 12, 26)].into()
    );
    assert_eq!(business.lead_response_sla, TimeDelta::seconds(900));
    assert_eq!(
        business.deal_size_bands,
        [Decimal::new(50005, 1), Decimal::from(50_000)]
    );
    assert_eq!(config.kafka.brokers, "a:9092,b:9092");
    assert_eq!(config.kafka.group_id, "123");
    assert_eq!(config.capacity.default_max_daily_deals, 7);
    assert_eq!(config.http.listen.port(), 9100);
    assert_eq!(config.state.dir, PathBuf::from("/var/lib/salespulse"));
    // Untouched keys keep the file's or the default value.
    assert_eq!(config.capacity.default_max_daily_leads, 40);
}

#[test]
fn environment_sets_kafka_properties() {
    let file =
        "[kafka.properties]\n\"security.protocol\" = \"PLAINTEXT\"\n\"sasl.mechanism\" = \"PLAIN\"";
    let config = load_from(
        Some((Path::new(FILE), file)),
        env(&[
            ("SALESPULSE_KAFKA__PROPERTIES__SASL_PASSWORD", "hunter2"),
            (
                "SALESPULSE_KAFKA__PROPERTIES__SECURITY_PROTOCOL",
                "SASL_SSL",
            ),
        ]),
    )
    .expect("properties apply");
    let property = |name: &str| config.kafka.properties.get(name).map(String::as_str);
    assert_eq!(property("sasl.password"), Some("hunter2"));
    assert_eq!(property("security.protocol"), Some("SASL_SSL"));
    assert_eq!(property("sasl.mechanism"), Some("PLAIN"));

    // A whole table replaces the file's, and single properties still apply on top of it.
    let config = load_from(
        Some((Path::new(FILE), file)),
        env(&[
            ("SALESPULSE_KAFKA__PROPERTIES__SASL_USERNAME", "me"),
            ("SALESPULSE_KAFKA__PROPERTIES", r#"{ "client.id" = "x" }"#),
        ]),
    )
    .expect("properties apply");
    assert_eq!(
        config.kafka.properties.keys().collect::<Vec<_>>(),
        ["client.id", "sasl.username"]
    );
}

#[test]
fn unknown_environment_keys_are_errors() {
    for (var, names) in [
        ("SALESPULSE_BUSINESS__TIMEZON", "business.timezon"),
        ("SALESPULSE_BUSINES__TIMEZONE", "[busines]"),
        ("SALESPULSE_ROSTER__REP_ID", "roster"),
    ] {
        let error = load(None, env(&[(var, "secret-value")])).expect_err(var);
        let message = error.to_string();
        assert!(
            matches!(error, ConfigError::Environment { .. }),
            "{error:?}"
        );
        assert!(message.contains(var), "{message}");
        assert!(message.contains(names), "{message}");
        assert!(!message.contains("secret-value"), "value echoed: {message}");
    }
}

#[test]
fn bad_environment_values_name_the_key_and_the_variable() {
    let error =
        load(None, env(&[("SALESPULSE_BUSINESS__TIMEZONE", "Mars/Base")])).expect_err("bad zone");
    assert_eq!(error.key(), Some("business.timezone"));
    assert!(
        error
            .to_string()
            .ends_with("[set by SALESPULSE_BUSINESS__TIMEZONE]"),
        "{error}"
    );
    let error = load_from(
        Some((Path::new(FILE), "[business]\nworkdays = [\"mon\"]")),
        env(&[("SALESPULSE_BUSINESS__WORKDAYS", r#"["mon", "xyz"]"#)]),
    )
    .expect_err("bad day");
    assert_eq!(error.key(), Some("business.workdays[1]"));
    assert!(
        error
            .to_string()
            .ends_with("[set by SALESPULSE_BUSINESS__WORKDAYS]"),
        "{error}"
    );
    let error = load(None, env(&[("SALESPULSE_KAFKA__TOPICS", "a,b")])).expect_err("not array");
    assert_eq!(error.key(), Some("kafka.topics"));
    assert!(error.to_string().contains("expected an array"), "{error}");
    // A bad value from the file still points at the file when other keys come from the env.
    let error = load_from(
        Some((Path::new(FILE), "[business]\nweek_start = \"friday\"")),
        env(&[("SALESPULSE_BUSINESS__TIMEZONE", "UTC")]),
    )
    .expect_err("bad week start");
    assert!(
        error.to_string().ends_with(&format!("[in {FILE}]")),
        "{error}"
    );
}

#[test]
fn masked_toml_hides_secrets_and_reads_back() {
    let file = r#"
        [business]
        timezone = "America/New_York"
        week_start = "sunday"
        workdays = ["sun", "mon", "tue"]
        holidays = ["2026-12-25"]
        deal_size_bands = [999.99, "12345678901234567.89"]

        [[roster]]
        rep_id = "r-001"
        team = "east"
        role = "bdr"
        max_daily_leads = 50

        [[roster]]
        rep_id = "r-002"
        team = "west"
        role = "ae"
        active = false

        [kafka]
        max_message_bytes = 2048

        [http]
        web_config_file = "web.yml"

        [kafka.properties]
        "security.protocol" = "SASL_SSL"
        "sasl.password" = "hunter2"
        "ssl.key.pem" = "-----BEGIN PRIVATE KEY-----"
        "sasl.jaas.config" = "org.apache.kafka... password=\"p\""
    "#;
    let config = parse_ok(file);
    let text = config.to_masked_toml();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    assert!(!text.contains("password=\\\"p"), "{text}");
    assert!(
        text.contains(r#""security.protocol" = "SASL_SSL""#),
        "{text}"
    );
    assert!(text.contains(r#""sasl.password" = "****""#), "{text}");
    assert!(text.contains("max_message_bytes = 2048\n"), "{text}");
    assert!(text.contains("web_config_file = \"web.yml\"\n"), "{text}");

    // The output is a valid configuration equal to the input, secrets aside.
    let reread = parse_ok(&text);
    let mut expected = config.clone();
    for name in ["sasl.password", "ssl.key.pem", "sasl.jaas.config"] {
        expected
            .kafka
            .properties
            .insert(name.to_owned(), MASK.to_owned());
    }
    assert_eq!(reread, expected);

    // And the unmasked defaults print every section.
    let defaults = Config::default().to_masked_toml();
    for section in ["[business]", "[capacity]", "[kafka]", "[http]", "[state]"] {
        assert!(defaults.contains(section), "{defaults}");
    }
    assert_eq!(parse_ok(&defaults), Config::default());
}

#[test]
fn engine_settings_convert_the_roster_and_the_business_rules() {
    let config = parse_ok(
        r#"
        [business]
        timezone = "Europe/Berlin"
        week_start = "sunday"
        fiscal_year_start_month = 4
        lead_response_sla_seconds = 120
        workdays = ["mon", "wed"]
        holidays = ["2026-12-25"]
        reporting_currency = "EUR"
        max_clock_skew_seconds = 60
        deal_size_bands = [500, 5000]

        [capacity]
        default_max_daily_leads = 30
        default_max_daily_deals = 3

        [[roster]]
        rep_id = "r-001"
        team = "east"
        role = "bdr"
        max_daily_leads = 50

        [[roster]]
        rep_id = "r-002"
        team = "west"
        role = "ae"
        max_daily_deals = 4
        active = false
        "#,
    );
    let settings = config.engine_settings();
    assert_eq!(
        settings.roster,
        [
            (
                "r-001".to_owned(),
                RosterRecord {
                    team: "east".to_owned(),
                    role: Role::Bdr,
                    max_daily_leads: Some(50),
                    max_daily_deals: None,
                    active: true,
                },
            ),
            (
                "r-002".to_owned(),
                RosterRecord {
                    team: "west".to_owned(),
                    role: Role::Ae,
                    max_daily_leads: None,
                    max_daily_deals: Some(4),
                    active: false,
                },
            ),
        ]
    );
    assert_eq!(settings.default_max_daily_leads, 30);
    assert_eq!(settings.default_max_daily_deals, 3);
    assert_eq!(settings.lead_response_sla, TimeDelta::seconds(120));
    assert_eq!(
        settings.deal_size_bands,
        [Decimal::from(500), Decimal::from(5000)]
    );
    assert_eq!(settings.validation.reporting_currency, "EUR");
    assert_eq!(settings.validation.max_clock_skew, TimeDelta::seconds(60));
    let calendar = &settings.calendar;
    assert_eq!(calendar.timezone, Tz::Europe__Berlin);
    assert_eq!(calendar.week_start, Weekday::Sun);
    assert_eq!(calendar.fiscal_year_start_month, 4);
    assert_eq!(
        calendar.workdays,
        [Weekday::Mon, Weekday::Wed].into_iter().collect()
    );
    assert_eq!(calendar.holidays, [date(2026, 12, 25)].into());
}

/// A stand-in for librdkafka's check: `security.protocol` takes four values, and the message
/// quotes the refused value as librdkafka's does.
fn protocol_check(name: &str, value: &str) -> Result<(), String> {
    match (name, value) {
        ("security.protocol", "PLAINTEXT" | "SSL" | "SASL_PLAINTEXT" | "SASL_SSL") => Ok(()),
        ("security.protocol", _) => Err(format!(
            "Invalid value \"{value}\" for configuration property \"{name}\""
        )),
        _ => Ok(()),
    }
}

fn for_kafka(usage: KafkaUse, text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    load_checked(Some((Path::new(FILE), text)), env(vars), |config| {
        validate::kafka_use(&config.kafka, usage, &protocol_check)
    })
}

/// Expects `text` (with `vars`) to be refused for `usage` at `key`; returns the message.
fn refused_for(usage: KafkaUse, text: &str, vars: &[(&str, &str)], key: &str) -> String {
    let error = match for_kafka(usage, text, vars) {
        Ok(config) => panic!("{text:?} should fail at {key}, loaded {config:?}"),
        Err(error) => error,
    };
    assert_eq!(error.key(), Some(key), "{error}");
    error.to_string()
}

#[test]
fn the_service_refuses_kafka_settings_that_can_only_fail() {
    let service = KafkaUse::Service;
    for brokers in ["", " ", " , "] {
        let message = refused_for(
            service,
            &format!("[kafka]\nbrokers = {brokers:?}"),
            &[],
            "kafka.brokers",
        );
        assert!(message.starts_with("kafka.brokers: no broker"), "{message}");
    }
    let message = refused_for(
        service,
        "",
        &[("SALESPULSE_KAFKA__GROUP_ID", " ")],
        "kafka.group_id",
    );
    assert_eq!(
        message,
        "kafka.group_id: empty group id (expected a consumer group name such as \"salespulse\") \
         [set by SALESPULSE_KAFKA__GROUP_ID]"
    );
    let message = refused_for(
        service,
        "[kafka]\ntopics = [\"a\", \"b\"]\ndeadletter_topic = \"b\"",
        &[],
        "kafka.deadletter_topic",
    );
    assert_eq!(
        message,
        "kafka.deadletter_topic: \"b\" is also an input topic, so rejected messages would be \
         read again (expected a topic that is not one of kafka.topics: a, b) [in salespulse.toml]"
    );
    refused_for(
        service,
        "[kafka]\ndeadletter_topic = \"\"",
        &[],
        "kafka.deadletter_topic",
    );
    // Not written by this replica: no dead-letter topic is needed.
    let config = for_kafka(
        service,
        "[kafka]\ndeadletter_topic = \"\"\nwrite_deadletters = false",
        &[],
    )
    .expect("a replica that writes no dead letters");
    assert_eq!(config.kafka.deadletter_topic, "");

    let config = for_kafka(
        service,
        "[kafka]\nbrokers = \"a:9092\"\n[kafka.properties]\n\"security.protocol\" = \"SSL\"",
        &[],
    )
    .expect("valid for the service");
    assert_eq!(config.kafka.brokers, "a:9092");
    // The checks of single keys still come first.
    refused_for(
        service,
        "[kafka]\nbrokers = \"\"\ntopics = []",
        &[],
        "kafka.topics",
    );
    // Commands that do not connect to Kafka (replay) are not held to them.
    assert_eq!(
        parse_ok("[kafka]\ngroup_id = \"\"\ndeadletter_topic = \"sales.leads\"")
            .kafka
            .group_id,
        ""
    );
}

#[test]
fn the_demo_checks_only_what_it_takes_from_the_configuration() {
    let demo = KafkaUse::Demo;
    let config = for_kafka(
        demo,
        "[kafka]\nbrokers = \"\"\ngroup_id = \"\"\ntopics = [\"x\"]\ndeadletter_topic = \"x\"",
        &[],
    )
    .expect("the demo brings its own brokers, group and topics");
    assert_eq!(config.kafka.deadletter_topic, "x");
    let message = refused_for(
        demo,
        "[kafka]\ntopics = [\"x\"]\ndeadletter_topic = \"sales.roster\"",
        &[],
        "kafka.deadletter_topic",
    );
    assert!(
        message.contains(
            "not one of the demo's input topics: sales.activities, sales.leads, sales.deals, \
             sales.finance, sales.roster"
        ),
        "{message}"
    );
    let message = refused_for(
        demo,
        "",
        &[("SALESPULSE_KAFKA__PROPERTIES__SECURITY_PROTOCOL", "TLS")],
        "kafka.properties.security.protocol",
    );
    assert_eq!(
        message,
        "kafka.properties.security.protocol: Invalid value \"TLS\" for configuration property \
         \"security.protocol\" [set by SALESPULSE_KAFKA__PROPERTIES__SECURITY_PROTOCOL]"
    );
}

#[test]
fn refused_properties_are_named_and_never_show_a_secret() {
    // The password pasted into the wrong property: librdkafka quotes it back.
    let file = "[kafka.properties]\n\"sasl.password\" = \"hunter2-pw\"\n\
                \"security.protocol\" = \"hunter2-pw\"";
    let message = refused_for(
        KafkaUse::Service,
        file,
        &[],
        "kafka.properties.security.protocol",
    );
    assert_eq!(
        message,
        "kafka.properties.security.protocol: Invalid value \"****\" for configuration property \
         \"security.protocol\" [in salespulse.toml]"
    );
    // The same with the secret from the environment.
    let message = refused_for(
        KafkaUse::Service,
        "",
        &[
            (
                "SALESPULSE_KAFKA__PROPERTIES__SASL_OAUTHBEARER_CLIENT_SECRET",
                "s3cr3t-value",
            ),
            (
                "SALESPULSE_KAFKA__PROPERTIES__SECURITY_PROTOCOL",
                "s3cr3t-value",
            ),
        ],
        "kafka.properties.security.protocol",
    );
    assert!(!message.contains("s3cr3t"), "{message}");
    assert!(message.contains("\"****\""), "{message}");
}

#[test]
fn a_malformed_properties_override_is_refused_without_its_secrets() {
    let malformed = r#"{ "sasl.password" = "hunter2", "sasl.username" = "me""#;
    let error = load(None, env(&[("SALESPULSE_KAFKA__PROPERTIES", malformed)]))
        .expect_err("not a TOML table");
    assert_eq!(error.key(), Some("kafka.properties"));
    assert_eq!(
        error.to_string(),
        "kafka.properties: invalid type: string \"****\", expected a map \
         [set by SALESPULSE_KAFKA__PROPERTIES]"
    );
}
