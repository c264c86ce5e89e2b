//! `salespulse-bench`: the Kafka tools of `bench/run.sh`. Each subcommand prints one line of
//! `key=value` figures that the script collects.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::bail;
use chrono::{TimeDelta, Utc};
use clap::{Parser, Subcommand};
use salespulse_bench::kafka::{
    bench_topics, consume_only, create_topics, ending_at, produce, service_consumer_config,
};
use salespulse_bench::metrics::{events_counted, scrape};
use salespulse_bench::stats::{percentile, visibility_latencies};
use salespulse_kafka::LineProducer;
use salespulse_sim::SimConfig;

#[derive(Debug, Parser)]
#[command(about = "Kafka tools of the benchmark suite (bench/run.sh)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates PREFIX.{activities,leads,deals,finance,roster} and produces exactly N simulator
    /// events to them (roster first), ending before now.
    Produce {
        #[arg(long)]
        brokers: String,
        #[arg(long)]
        prefix: String,
        #[arg(long)]
        events: u64,
        #[command(flatten)]
        floor: Floor,
    },
    /// Creates the five input topics and PREFIX.deadletter, 3 partitions each.
    CreateTopics {
        #[arg(long)]
        brokers: String,
        #[arg(long)]
        prefix: String,
    },
    /// Consumes and discards with `salespulse run`'s librdkafka settings until N messages.
    ConsumeOnly {
        #[arg(long)]
        brokers: String,
        #[arg(long)]
        prefix: String,
        #[arg(long)]
        group: String,
        #[arg(long)]
        events: u64,
    },
    /// Scrapes `/metrics` every 20 ms until it counts N events; times from this start.
    WaitCounted {
        /// host:port of the service's HTTP listener.
        #[arg(long)]
        http: String,
        #[arg(long)]
        events: u64,
        #[arg(long, default_value_t = 1800)]
        timeout_seconds: u64,
    },
    /// Produces at a steady rate to a running service and measures produce-to-visible latency.
    Freshness {
        #[arg(long)]
        brokers: String,
        #[arg(long)]
        prefix: String,
        #[arg(long)]
        http: String,
        #[arg(long, default_value_t = 20_000.0)]
        rate: f64,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        #[arg(long, default_value_t = 10)]
        poll_ms: u64,
        #[command(flatten)]
        floor: Floor,
    },
    /// The librdkafka version the tools (and the service) are linked with.
    Versions,
}

/// The simulated sales floor.
#[derive(Debug, clap::Args)]
struct Floor {
    #[arg(long, default_value_t = 20)]
    teams: usize,
    #[arg(long, default_value_t = 4.0)]
    leads_per_hour: f64,
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

impl Floor {
    /// A floor whose first `count` events end before now (a minute of margin for the clock
    /// check of the service).
    fn config(&self, count: u64) -> anyhow::Result<SimConfig> {
        let end = Utc::now() - TimeDelta::minutes(1);
        let config = SimConfig {
            seed: self.seed,
            start: end,
            teams: self.teams,
            leads_per_hour: self.leads_per_hour,
            ..SimConfig::default()
        };
        Ok(ending_at(config, usize::try_from(count)?, end))
    }
}

/// Partitions per topic: what the local broker gives a topic by default.
const PARTITIONS: i32 = 3;

/// The five input topics and the dead-letter topic of a run.
fn create_run_topics(brokers: &str, prefix: &str) -> anyhow::Result<()> {
    let mut topics = bench_topics(prefix);
    topics.push(format!("{prefix}.deadletter"));
    create_topics(brokers, &topics, PARTITIONS)
}

fn producer(brokers: &str, prefix: &str) -> anyhow::Result<LineProducer> {
    create_run_topics(brokers, prefix)?;
    LineProducer::new(brokers, std::iter::empty())
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Produce {
            brokers,
            prefix,
            events,
            floor,
        } => {
            let config = floor.config(events)?;
            let producer = producer(&brokers, &prefix)?;
            let started = Instant::now();
            let produced = produce(&producer, &prefix, config, events, None, |_| {})?;
            println!(
                "produced={produced} seconds={:.3}",
                started.elapsed().as_secs_f64()
            );
        }
        Command::CreateTopics { brokers, prefix } => create_run_topics(&brokers, &prefix)?,
        Command::ConsumeOnly {
            brokers,
            prefix,
            group,
            events,
        } => {
            let config = service_consumer_config(&brokers, &group);
            let consumed = consume_only(
                &config,
                &bench_topics(&prefix),
                events,
                Duration::from_secs(60),
                Duration::from_secs(30),
            )?;
            println!(
                "messages={} first_seconds={:.3} all_seconds={:.3}",
                consumed.messages,
                consumed.first_message.as_secs_f64(),
                consumed.last_message.as_secs_f64()
            );
            if consumed.messages != events {
                bail!("saw {} of {events} messages", consumed.messages);
            }
        }
        Command::WaitCounted {
            http,
            events,
            timeout_seconds,
        } => {
            let started = Instant::now();
            let mut first = None;
            loop {
                let counted = scrape(&http).map_or(0, |body| events_counted(&body));
                let at = started.elapsed();
                if counted > 0 {
                    first.get_or_insert((at, counted));
                }
                if counted >= events {
                    let (first_at, first_count) = first.unwrap_or((at, counted));
                    println!(
                        "counted={counted} first_seconds={:.3} first_count={first_count} all_seconds={:.3}",
                        first_at.as_secs_f64(),
                        at.as_secs_f64()
                    );
                    break;
                }
                if at > Duration::from_secs(timeout_seconds) {
                    bail!("counted {counted} of {events} events after {timeout_seconds} s");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Command::Freshness {
            brokers,
            prefix,
            http,
            rate,
            seconds,
            poll_ms,
            floor,
        } => freshness(&brokers, &prefix, &http, rate, seconds, poll_ms, &floor)?,
        Command::Versions => {
            let (_, version) = rdkafka::util::get_rdkafka_version();
            println!("librdkafka={version}");
        }
    }
    Ok(())
}

/// Produces `rate × seconds` events at `rate` a second on a thread of its own while this one
/// scrapes `/metrics` every `poll_ms`, then prints the p50, p99 and max latency.
fn freshness(
    brokers: &str,
    prefix: &str,
    http: &str,
    rate: f64,
    seconds: u64,
    poll_ms: u64,
    floor: &Floor,
) -> anyhow::Result<()> {
    let count = (rate * seconds as f64) as u64;
    let config = floor.config(count)?;
    let producer = producer(brokers, prefix)?;
    let baseline = events_counted(&scrape(http)?);
    let origin = Instant::now();
    let (done_sender, done) = mpsc::channel();
    let prefix = prefix.to_owned();
    let sending = std::thread::spawn(move || -> anyhow::Result<Vec<Duration>> {
        let mut sent = Vec::with_capacity(usize::try_from(count)?);
        let result = produce(&producer, &prefix, config, count, Some(rate), |_| {
            sent.push(origin.elapsed());
        });
        done_sender.send(()).ok();
        result.map(|_| sent)
    });
    let mut scrapes = Vec::new();
    let mut producer_done = false;
    let mut last_progress = Instant::now();
    loop {
        let counted = events_counted(&scrape(http)?).saturating_sub(baseline);
        let at = origin.elapsed();
        if scrapes.last().is_none_or(|&(_, last)| counted > last) {
            last_progress = Instant::now();
        }
        scrapes.push((at, counted));
        producer_done |= done.try_recv().is_ok();
        if producer_done && counted >= count {
            break;
        }
        if last_progress.elapsed() > Duration::from_secs(60) {
            bail!("the count stopped at {counted} of {count}");
        }
        std::thread::sleep(Duration::from_millis(poll_ms));
    }
    let sent = sending
        .join()
        .map_err(|_| anyhow::anyhow!("the producer thread panicked"))??;
    let produce_seconds = sent.last().map_or(0.0, Duration::as_secs_f64);
    let mut latencies = visibility_latencies(&sent, &scrapes);
    latencies.sort_unstable();
    let ms = |p: f64| percentile(&latencies, p).map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
    println!(
        "events={count} visible={} produce_seconds={produce_seconds:.3} achieved_rate={:.0} scrapes={} p50_ms={:.1} p99_ms={:.1} max_ms={:.1}",
        latencies.len(),
        count as f64 / produce_seconds.max(f64::MIN_POSITIVE),
        scrapes.len(),
        ms(50.0),
        ms(99.0),
        ms(100.0)
    );
    Ok(())
}
