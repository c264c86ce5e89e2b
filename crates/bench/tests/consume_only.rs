//! The consume-only loop against the real broker (`SALESPULSE_TEST_BROKERS`, e.g. from
//! `bash deploy/local/kafka.sh start`): it counts exactly the messages produced.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use salespulse_bench::kafka::{
    bench_topics, consume_only, create_topics, produce, service_consumer_config,
};
use salespulse_kafka::LineProducer;
use salespulse_sim::SimConfig;

#[test]
fn consume_only_counts_exactly_the_messages_produced() {
    let Ok(brokers) = std::env::var("SALESPULSE_TEST_BROKERS") else {
        eprintln!("skipped: SALESPULSE_TEST_BROKERS is not set (bash deploy/local/kafka.sh start)");
        return;
    };
    let prefix = format!(
        "bench-test-{}-{}",
        std::process::id(),
        Utc::now().timestamp_millis()
    );
    let topics = bench_topics(&prefix);
    create_topics(&brokers, &topics, 3).expect("topics created");
    let producer = LineProducer::new(&brokers, std::iter::empty()).expect("producer");
    let config = SimConfig {
        seed: 3,
        start: Utc
            .with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
            .single()
            .expect("valid start"),
        ..SimConfig::default()
    };
    let mut numbers = Vec::new();
    let produced = produce(&producer, &prefix, config, 1_234, None, |number| {
        numbers.push(number)
    })
    .expect("produced");
    assert_eq!(produced, 1_234);
    assert_eq!(numbers.len(), 1_234);
    assert_eq!((numbers[0], numbers[1_233]), (0, 1_233));

    let join = Duration::from_secs(60);
    let idle = Duration::from_secs(5);
    let config = service_consumer_config(&brokers, &format!("{prefix}-exact"));
    let exact = consume_only(&config, &topics, 1_234, join, idle).expect("consumed");
    assert_eq!(exact.messages, 1_234);
    assert!(exact.first_message <= exact.last_message);

    // Asked for more than there is, a fresh group sees all 1,234 and stops when none come.
    let config = service_consumer_config(&brokers, &format!("{prefix}-more"));
    let more = consume_only(&config, &topics, 5_000, join, idle).expect("consumed");
    assert_eq!(more.messages, 1_234);
}
