//! `salespulse demo`: the embedded mock cluster, the simulator and the service in one process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use salespulse_config::Config;
use salespulse_engine::Snapshot;
use salespulse_kafka::{LineProducer, MockKafka, Pipeline};
use tracing::{error, info};

use crate::service::{serve, service_config, shutdown_on_signal};
use crate::simulate;

/// The topics of EVENTS.md, which the simulator produces to.
const DEMO_TOPICS: [&str; 5] = [
    "sales.activities",
    "sales.leads",
    "sales.deals",
    "sales.finance",
    "sales.roster",
];
/// History produced before going live: a week, so the week window, qualified leads, deals
/// (which close days after they open) and customers have data from the first scrape. Not
/// more: librdkafka's mock cluster keeps only the last 5 MB of each partition and the service
/// rebuilds from the earliest retained offset, so history must fit in `DEMO_PARTITIONS` × 5 MB
/// per topic (a week of activities is about 16 MB, unevenly keyed by rep).
const FLOOR_BACKFILL: Duration = Duration::from_secs(7 * 86_400);
const DEMO_PARTITIONS: i32 = 12;
/// History for `--rate`: that mode is a load test, so keep the backfill short.
const RATE_BACKFILL: Duration = Duration::from_secs(15 * 60);
const SUMMARY_EVERY: Duration = Duration::from_secs(5);

/// Runs the demo: a realistic sales floor, or with `rate` a load of about that many events/s.
pub fn run(config: &Config, rate: Option<f64>, seed: u64) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let simulation = match rate {
        Some(rate) => simulate::Pace::Rate(rate).config(seed, now - RATE_BACKFILL),
        None => simulate::Pace::Floor.config(seed, now - FLOOR_BACKFILL),
    };
    let pace = match rate {
        Some(rate) => format!("~{rate} events/s"),
        None => "a sales floor of 10 teams, after a week of history".to_owned(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut service_config = service_config(config, None);
        let pipeline_config = &mut service_config.pipeline;
        pipeline_config.kafka.topics = DEMO_TOPICS.map(String::from).to_vec();
        pipeline_config.kafka.group_id = "salespulse-demo".to_owned();
        // The embedded cluster starts empty every time: there is no state to keep.
        pipeline_config.checkpoints = None;
        let mut topics = pipeline_config.kafka.topics.clone();
        topics.push(pipeline_config.kafka.deadletter_topic.clone());
        let kafka = MockKafka::start(&topics, DEMO_PARTITIONS)?;
        pipeline_config.kafka.brokers = kafka.bootstrap_servers();
        info!(brokers = %pipeline_config.kafka.brokers, "embedded mock Kafka cluster started");

        let shutdown = shutdown_on_signal();
        let producer = LineProducer::new(&pipeline_config.kafka.brokers, &pipeline_config.kafka.properties)?;
        let simulator = {
            let shutdown = shutdown.clone();
            std::thread::spawn(move || {
                if let Err(error) = simulate::to_kafka(&producer, simulation, None, &shutdown) {
                    error!(error = %format!("{error:#}"), "the simulator stopped");
                }
            })
        };

        let pipeline = Pipeline::new(pipeline_config.clone())?;
        let snapshots = pipeline.status().snapshots();
        println!(
            "salespulse demo: live metrics at http://{}/metrics  (simulating {pace}; Ctrl-C to stop)",
            service_config.listen
        );
        let summary = tokio::spawn(print_summaries(snapshots));
        let result = serve(pipeline, &service_config, shutdown.clone()).await;
        shutdown.cancel();
        summary.abort();
        simulator.join().ok();
        drop(kafka);
        result
    })
}

/// One line every few seconds: throughput, reps, leads waiting.
async fn print_summaries(mut snapshots: tokio::sync::watch::Receiver<Arc<Snapshot>>) {
    let mut previous: Option<(Instant, u64)> = None;
    let mut ticker = tokio::time::interval(SUMMARY_EVERY);
    loop {
        ticker.tick().await;
        let snapshot = Arc::clone(&snapshots.borrow_and_update());
        let processed = processed(&snapshot);
        let now = Instant::now();
        let per_second = previous.map_or(0.0, |(at, count)| {
            (processed - count) as f64 / now.duration_since(at).as_secs_f64()
        });
        previous = Some((now, processed));
        let waiting: u64 = snapshot
            .reps
            .iter()
            .map(|rep| rep.queue.awaiting)
            .sum::<u64>()
            + snapshot
                .unassigned_queue
                .as_ref()
                .map_or(0, |queue| queue.awaiting);
        let oldest = snapshot
            .reps
            .iter()
            .filter_map(|rep| rep.queue.oldest_wait_seconds)
            .fold(0.0_f64, f64::max);
        println!(
            "{:>8.1} events/s | {processed} events | {} reps | {waiting} leads waiting (oldest {oldest:.0} s) | {} rejected",
            per_second,
            snapshot.reps.len(),
            snapshot.pipeline.rejected.iter().sum::<u64>(),
        );
    }
}

fn processed(snapshot: &Snapshot) -> u64 {
    let pipeline = &snapshot.pipeline;
    pipeline.accepted.iter().sum::<u64>()
        + pipeline.rejected.iter().sum::<u64>()
        + pipeline.duplicates
}
