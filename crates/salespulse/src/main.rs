//! `salespulse`: live sales performance metrics from a CRM event stream.

mod replay;
mod service;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use salespulse_config::Config;
use salespulse_events::{Timestamp, parse_timestamp};

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
    salespulse_config::load(path.map(PathBuf::as_path), salespulse_config::process_env()).map_err(
        |error| {
            eprintln!("salespulse: configuration error: {error}");
            ExitCode::from(EXIT_CONFIG)
        },
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            config,
            as_of,
            log_format,
        } => {
            let config = match load_config(config.as_ref()) {
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
        Command::CheckConfig { config } => match load_config(config.as_ref()) {
            Ok(config) => {
                print!("{}", config.to_masked_toml());
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
    }
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
