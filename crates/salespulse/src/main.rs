//! `salespulse`: live sales performance metrics from a CRM event stream.

mod demo;
mod replay;
mod service;
mod simulate;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use salespulse_config::{Config, KafkaUse};
use salespulse_events::{Timestamp, parse_timestamp};

/// mimalloc instead of glibc's malloc: `replay` decodes on one thread and frees on another, where
/// glibc's arenas made malloc and free a quarter of the profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "salespulse",
    version,
    about = "Live sales performance metrics from a CRM event stream."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The service: consumes the topics, keeps the state, serves /metrics, /healthz, /readyz.
    Run {
        /// The configuration file (TOML); every key has a default.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Pins "now" (backfill checks, tests); default: the wall clock.
        #[arg(long, value_name = "T", value_parser = parse_as_of)]
        as_of: Option<Timestamp>,
        /// Log line format on stderr.
        #[arg(long, value_enum, default_value = "text")]
        log_format: service::LogFormat,
    },
    /// Runs the aggregation over a JSON-lines file and prints the /metrics exposition.
    Replay {
        /// The events, one JSON object per line; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        events: PathBuf,
        /// The configuration file (TOML); every key has a default.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// "Now" for the windows, RFC 3339 (default: the latest occurred_at of a valid line).
        #[arg(long, value_name = "T", value_parser = parse_as_of)]
        as_of: Option<Timestamp>,
    },
    /// The service on an embedded Kafka (librdkafka's mock cluster) fed by the simulator.
    Demo {
        /// The configuration file (TOML); every key has a default.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Simulated events per second, as a load test (reps then get more leads than a person
        /// could answer). Default: a realistic sales floor of 10 teams (4 leads per BDR an hour),
        /// after a week of history.
        #[arg(long)]
        rate: Option<f64>,
        /// Seed of the simulator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Realistic synthetic events, to Kafka (paced in real time) or to a JSON-lines file.
    Simulate {
        /// Produce to these Kafka brokers (the topics of EVENTS.md).
        #[arg(
            long,
            value_name = "B",
            conflicts_with = "out",
            required_unless_present = "out"
        )]
        brokers: Option<String>,
        /// Write JSON lines to this file (`-` = stdout), ending now.
        #[arg(long, value_name = "F")]
        out: Option<PathBuf>,
        /// Events per second of event time, as a load test (reps then get more leads than a
        /// person could answer). Default: a realistic sales floor of 10 teams (4 leads per BDR an
        /// hour, about 0.2 events/s).
        #[arg(long)]
        rate: Option<f64>,
        /// To Kafka: first produce this much history (as fast as the broker takes it), then
        /// go on live, e.g. `7d`.
        #[arg(long, value_name = "D", requires = "brokers", value_parser = humantime::parse_duration)]
        history: Option<std::time::Duration>,
        /// How much event time to generate, e.g. `90s`, `15m`, `2h`.
        #[arg(long, value_name = "D", conflicts_with = "events", value_parser = humantime::parse_duration)]
        duration: Option<std::time::Duration>,
        /// How many events to generate (default for a file: 10000; for Kafka: until Ctrl-C).
        #[arg(long, value_name = "N")]
        events: Option<u64>,
        /// Seed: the same seed gives the same events.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The configuration file, for `[kafka.properties]` (SASL, TLS).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Validates the configuration and prints the effective values (secrets masked).
    CheckConfig {
        /// The configuration file (TOML); every key has a default.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

fn parse_as_of(text: &str) -> Result<Timestamp, String> {
    parse_timestamp(text).ok_or_else(|| {
        format!("`{text}` is not an RFC 3339 timestamp with an offset, e.g. 2026-11-27T17:00:00Z")
    })
}

/// Exit codes of CONFIG.md: 0 success, 2 usage or configuration error, 1 runtime failure.
const EXIT_CONFIG: u8 = 2;
const EXIT_RUNTIME: u8 = 1;

fn load_config(path: Option<&PathBuf>) -> Result<Config, ExitCode> {
    salespulse_config::load(path.map(PathBuf::as_path), salespulse_config::process_env())
        .map_err(config_error)
}

/// [`load_config`] for a command that connects to Kafka and serves HTTP: what could only fail
/// once it runs (a blank group, a dead-letter topic that is an input topic, a property
/// librdkafka refuses, a web configuration file that cannot be used) is a configuration error
/// too, reported before anything starts.
fn load_kafka_config(path: Option<&PathBuf>, usage: KafkaUse) -> Result<Config, ExitCode> {
    let config = salespulse_config::load_for_kafka(
        path.map(PathBuf::as_path),
        salespulse_config::process_env(),
        usage,
        |name, value| salespulse_kafka::check_property(name, value).map_err(|error| error.reason),
    )
    .map_err(config_error)?;
    if let Some(web_config) = &config.http.web_config_file
        && let Err(error) = salespulse_exporter::http::WebConfig::load(web_config)
    {
        eprintln!("salespulse: configuration error: http.web_config_file: {error}");
        return Err(ExitCode::from(EXIT_CONFIG));
    }
    Ok(config)
}

fn config_error(error: salespulse_config::ConfigError) -> ExitCode {
    eprintln!("salespulse: configuration error: {error}");
    ExitCode::from(EXIT_CONFIG)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            config,
            as_of,
            log_format,
        } => {
            let config = match load_kafka_config(config.as_ref(), KafkaUse::Service) {
                Ok(config) => config,
                Err(code) => return code,
            };
            service::init_logging(log_format);
            report(service::run(service::service_config(&config, as_of)))
        }
        Command::Replay {
            events,
            config,
            as_of,
        } => {
            let config = match load_config(config.as_ref()) {
                Ok(config) => config,
                Err(code) => return code,
            };
            let result = replay::run(&events, &config, as_of)
                .with_context(|| format!("replay of {}", events.display()));
            report(result)
        }
        Command::Demo { config, rate, seed } => {
            let config = match load_kafka_config(config.as_ref(), KafkaUse::Demo) {
                Ok(config) => config,
                Err(code) => return code,
            };
            if rate.is_some_and(|rate| rate <= 0.0) {
                eprintln!("salespulse: --rate must be positive");
                return ExitCode::from(2);
            }
            service::init_logging(service::LogFormat::Text);
            report(demo::run(&config, rate, seed))
        }
        Command::Simulate {
            brokers,
            out,
            rate,
            history,
            duration,
            events,
            seed,
            config,
        } => {
            let config = match load_config(config.as_ref()) {
                Ok(config) => config,
                Err(code) => return code,
            };
            let amount = duration
                .map(simulate::Amount::Span)
                .or(events.map(simulate::Amount::Events));
            let pace = match rate {
                Some(rate) if rate > 0.0 => simulate::Pace::Rate(rate),
                Some(_) => {
                    eprintln!("salespulse: --rate must be positive");
                    return ExitCode::from(2);
                }
                None => simulate::Pace::Floor,
            };
            let history = history.unwrap_or_default();
            report(run_simulate(
                &config, brokers, out, pace, history, amount, seed,
            ))
        }
        Command::CheckConfig { config } => {
            match load_kafka_config(config.as_ref(), KafkaUse::Service) {
                Ok(config) => {
                    print!("{}", config.to_masked_toml());
                    ExitCode::SUCCESS
                }
                Err(code) => code,
            }
        }
    }
}

fn run_simulate(
    config: &Config,
    brokers: Option<String>,
    out: Option<PathBuf>,
    pace: simulate::Pace,
    history: std::time::Duration,
    amount: Option<simulate::Amount>,
    seed: u64,
) -> anyhow::Result<()> {
    match (brokers, out) {
        (_, Some(path)) => {
            let amount = amount.unwrap_or(simulate::Amount::Events(10_000));
            let written = simulate::to_file(&path, pace, seed, amount)?;
            eprintln!(
                "salespulse simulate: wrote {written} events to {}",
                path.display()
            );
        }
        (Some(brokers), None) => {
            service::init_logging(service::LogFormat::Text);
            let history = chrono::TimeDelta::from_std(history).context("--history is too long")?;
            let simulation = pace.config(seed, chrono::Utc::now() - history);
            let producer = salespulse_kafka::LineProducer::new(&brokers, &config.kafka.properties)?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let produced = runtime.block_on(async move {
                let shutdown = service::shutdown_on_signal();
                tokio::task::spawn_blocking(move || {
                    simulate::to_kafka(&producer, simulation, amount, &shutdown)
                })
                .await
            })??;
            eprintln!("salespulse simulate: produced {produced} events to {brokers}");
        }
        (None, None) => anyhow::bail!("give --brokers or --out"),
    }
    Ok(())
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("salespulse: {error:#}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}
