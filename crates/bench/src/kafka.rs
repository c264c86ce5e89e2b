//! The Kafka side of the suite: a run's own topics, simulator events produced to them, and the
//! consume-only loop `run` is compared with.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use salespulse_config::KafkaConfig;
use salespulse_engine::Settings;
use salespulse_kafka::{LineProducer, PipelineConfig};
use salespulse_sim::{SimConfig, SimEvent, Simulator};

/// The suffixes of the five input topics, after the run's prefix (`PREFIX.activities`, ...).
pub const TOPIC_SUFFIXES: [&str; 5] = ["activities", "leads", "deals", "finance", "roster"];

/// The run's topic for a simulator event's topic: `sales.leads` → `PREFIX.leads`.
pub fn bench_topic(prefix: &str, simulator_topic: &str) -> String {
    let suffix = simulator_topic
        .strip_prefix("sales.")
        .unwrap_or(simulator_topic);
    format!("{prefix}.{suffix}")
}

/// The five input topics of a run.
pub fn bench_topics(prefix: &str) -> Vec<String> {
    TOPIC_SUFFIXES
        .iter()
        .map(|suffix| format!("{prefix}.{suffix}"))
        .collect()
}

/// Creates `names` with `partitions` partitions each (replication 1); existing ones are kept.
pub fn create_topics(brokers: &str, names: &[String], partitions: i32) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .context("creating the admin client")?;
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|name| NewTopic::new(name, partitions, TopicReplication::Fixed(1)))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let results = runtime
        .block_on(admin.create_topics(
            &topics,
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        ))
        .with_context(|| format!("creating topics at {brokers}"))?;
    for result in results {
        match result {
            Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => bail!("creating {topic}: {code}"),
        }
    }
    Ok(())
}

/// The consumer settings of `salespulse run` with these brokers and group: the same function
/// builds both, so the comparison is on the same librdkafka settings.
pub fn service_consumer_config(brokers: &str, group_id: &str) -> ClientConfig {
    PipelineConfig {
        kafka: KafkaConfig {
            brokers: brokers.to_owned(),
            group_id: group_id.to_owned(),
            ..KafkaConfig::default()
        },
        as_of: None,
        settings: Settings::default(),
        checkpoints: None,
    }
    .consumer_config()
}

/// Polls per batch, as in the service's loop: then the clock is read.
const POLLS_PER_BATCH: u32 = 1024;

/// What a consume-only run saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consumed {
    pub messages: u64,
    /// From the start (consumer created, group not yet joined) to the first message.
    pub first_message: Duration,
    /// From the start to the last message counted.
    pub last_message: Duration,
}

/// Subscribes to `topics` and polls as the service does (a wait of up to 100 ms, then what is
/// there without waiting), discarding each message, until `target` messages are seen or none
/// came for `idle` after the first one (or within `join` before it).
pub fn consume_only(
    config: &ClientConfig,
    topics: &[String],
    target: u64,
    join: Duration,
    idle: Duration,
) -> anyhow::Result<Consumed> {
    let started = Instant::now();
    let consumer: BaseConsumer = config.create().context("creating the consumer")?;
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&names).context("subscribing")?;
    let mut seen = 0;
    let mut first_message = None;
    let mut last_message = Duration::ZERO;
    let mut last_progress = Instant::now();
    while seen < target {
        let patience = if seen == 0 { join } else { idle };
        if last_progress.elapsed() > patience {
            break;
        }
        let before = seen;
        let mut timeout = Duration::from_millis(100);
        for _ in 0..POLLS_PER_BATCH {
            if seen == target {
                break;
            }
            match consumer.poll(timeout) {
                None => break,
                Some(Ok(_)) => seen += 1,
                Some(Err(error)) => eprintln!("consume-only: {error}"),
            }
            timeout = Duration::ZERO;
        }
        if seen > before {
            last_progress = Instant::now();
            last_message = started.elapsed();
            first_message.get_or_insert(last_message);
        }
    }
    Ok(Consumed {
        messages: seen,
        first_message: first_message.unwrap_or_default(),
        last_message,
    })
}

/// Every event of a simulator: the roster first, then the stream.
pub fn all_events(config: SimConfig) -> impl Iterator<Item = SimEvent> {
    let simulator = Simulator::new(config);
    simulator.roster_events().into_iter().chain(simulator)
}

/// `config` moved so that its first `count` events end at `end` or before (within a day):
/// passes of the generator alone measure where they end.
pub fn ending_at(config: SimConfig, count: usize, end: DateTime<Utc>) -> SimConfig {
    const PASSES: usize = 4;
    let mut config = config;
    for _ in 0..PASSES {
        let last = all_events(config.clone())
            .take(count)
            .map(|event| event.occurred_at)
            .max()
            .unwrap_or(config.start);
        let overshoot = last - end;
        if overshoot <= chrono::TimeDelta::zero() && overshoot > -chrono::TimeDelta::days(1) {
            break;
        }
        config.start -= overshoot + chrono::TimeDelta::seconds(10);
    }
    config
}

/// Produces the first `count` events of `config` to the run's topics, as fast as the broker
/// takes them, or at `per_second` events a second when given; `on_sent` gets each event's
/// number as it is handed to the producer. Returns the events produced.
pub fn produce(
    producer: &LineProducer,
    prefix: &str,
    config: SimConfig,
    count: u64,
    per_second: Option<f64>,
    mut on_sent: impl FnMut(u64),
) -> anyhow::Result<u64> {
    let started = Instant::now();
    let mut sent = 0;
    let mut events = all_events(config).take(usize::try_from(count)?);
    loop {
        let due = per_second.map_or(count, |rate| {
            ((started.elapsed().as_secs_f64() * rate) as u64).min(count)
        });
        if sent >= count {
            break;
        }
        if sent >= due {
            producer.poll();
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        for event in events.by_ref().take(usize::try_from(due - sent)?) {
            producer.send(
                &bench_topic(prefix, event.topic),
                &event.key,
                &event.payload,
            )?;
            on_sent(sent);
            sent += 1;
            if sent.is_multiple_of(1_000) {
                producer.poll();
            }
        }
        if sent < due {
            break;
        }
    }
    producer.flush()?;
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulator_topics_map_to_the_run_prefix() {
        assert_eq!(bench_topic("b1", "sales.leads"), "b1.leads");
        assert_eq!(bench_topic("b1", "other"), "b1.other");
        assert_eq!(
            bench_topics("b1"),
            [
                "b1.activities",
                "b1.leads",
                "b1.deals",
                "b1.finance",
                "b1.roster"
            ]
        );
    }

    #[test]
    fn the_consume_only_loop_has_the_service_consumer_settings() {
        let config = service_consumer_config("127.0.0.1:1", "g");
        assert_eq!(config.get("group.id"), Some("g"));
        assert_eq!(config.get("bootstrap.servers"), Some("127.0.0.1:1"));
        assert_eq!(config.get("fetch.queue.backoff.ms"), Some("10"));
        assert_eq!(config.get("enable.auto.commit"), Some("false"));
        assert_eq!(config.get("auto.offset.reset"), Some("earliest"));
    }
}
