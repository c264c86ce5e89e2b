//! End to end against a real Apache Kafka broker (started by `deploy/local/kafka.sh`, which
//! `deploy/test.sh` runs): the service's `/metrics` must equal `replay` of the same data, the
//! dead-letter topic must hold exactly the malformed messages, and a restart must change nothing.

mod kafka_common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use kafka_common::{
    AS_OF, DeadLetter, EVENT_TOPICS, Listener, PARTITIONS, Produced, Record, RunningService,
    Scenario, assert_dead_lettered_once, assert_same_counters, assert_same_sales_series,
    dead_letters, produce, replay, runtime, sales_lines, simulated,
};
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use salespulse_e2e::{
    free_address, http_get, parse_exposition, repo_root, salespulse_binary, wait_until,
};
use salespulse_sim::intended_reason;

/// The roster and `count` simulated events (with duplicates, late events and ~1 % malformed
/// lines), in a shuffled order.
fn generate(count: usize, seed: u64) -> Vec<Record> {
    let mut records = simulated(count, seed);
    // A seeded Fisher-Yates shuffle: arrival order must not matter.
    let mut state = seed | 1;
    for index in (1..records.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        records.swap(index, (state % (index as u64 + 1)) as usize);
    }
    records
}

/// GET with `Accept-Encoding: gzip`: the `Content-Encoding` response header and the raw body.
fn get_gzip(address: &str, path: &str) -> (Option<String>, Vec<u8>) {
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {address}\r\nAccept-Encoding: gzip\r\n\r\n"
    )
    .expect("request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("response");
    let split = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let encoding = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-encoding")
            .then(|| value.trim().to_owned())
    });
    (encoding, response[split + 4..].to_vec())
}

#[test]
fn service_equals_replay_and_dead_letters_exactly_the_malformed_messages() {
    let scenario = Scenario::new("equal");
    let produced = produce(&scenario, &generate(20_000, 7));
    let malformed: Vec<&Produced> = produced.iter().filter(|m| m.malformed).collect();
    assert!(
        malformed.len() >= 100,
        "about 1 % malformed: {}",
        malformed.len()
    );

    let service = RunningService::start(&scenario, AS_OF, 1);
    service.wait_caught_up(produced.len());
    let metrics = service.metrics().expect("scrape");
    let (replayed, reasons) = replay(&scenario, &produced, AS_OF);
    assert_same_sales_series(&metrics, &replayed);
    // A scraper that asks for gzip (Prometheus always does) gets the same exposition compressed.
    let (encoding, compressed) = get_gzip(&service.address, "/metrics");
    assert_eq!(encoding.as_deref(), Some("gzip"));
    let mut decompressed = String::new();
    flate2::read::GzDecoder::new(compressed.as_slice())
        .read_to_string(&mut decompressed)
        .expect("a valid gzip body");
    assert_same_sales_series(&decompressed, &replayed);
    assert!(
        compressed.len() * 5 < decompressed.len(),
        "gzip: {} of {} bytes",
        compressed.len(),
        decompressed.len()
    );

    // Exactly the malformed messages, unchanged, with their origin and the same reason replay gives.
    let letters = dead_letters(&scenario, malformed.len());
    assert_eq!(letters.len(), malformed.len());
    // Each dead letter points at its origin; that origin must be a malformed message, each once.
    let by_origin: BTreeMap<(String, String, String), (usize, &Produced)> = produced
        .iter()
        .enumerate()
        .map(|(index, m)| (m.origin(), (index + 1, m)))
        .collect();
    let mut origins = std::collections::BTreeSet::new();
    for letter in &letters {
        let origin_key = letter.origin();
        let (line, origin) = by_origin
            .get(&origin_key)
            .unwrap_or_else(|| panic!("dead letter from nowhere: {:?}", letter.headers));
        assert!(
            origin.malformed,
            "a valid message was dead-lettered: {}",
            String::from_utf8_lossy(&letter.payload)
        );
        assert_eq!(letter.payload, origin.payload, "unchanged payload");
        assert_eq!(letter.key, origin.key, "the original key");
        // The reason the simulator broke the line for, and the one replay reports for it.
        let reason = letter.headers.get("x-reject-reason").map(String::as_str);
        assert_eq!(reason, intended_reason(&origin.payload), "line {line}");
        assert_eq!(reason, reasons.get(line).map(String::as_str), "line {line}");
        assert!(origins.insert(origin_key), "dead-lettered twice");
    }
    assert_eq!(origins.len(), malformed.len());
    let (status, log) = service.terminate();
    assert!(status.success(), "exit {status}:\n{log}");
}

#[test]
fn a_restart_halfway_gives_the_same_result() {
    restart_halfway_is_exact(&Scenario::new("restart"), 11);
}

/// The same with the checkpoints on object storage: a real S3-compatible server (moto, started
/// by deploy/local/s3.sh, which deploy/test.sh runs).
#[test]
fn checkpoints_on_object_storage_restore_exactly() {
    let mut scenario = Scenario::new("s3");
    use_object_storage(&mut scenario);
    restart_halfway_is_exact(&scenario, 13);
}

/// Points the scenario's checkpoints at the local S3-compatible server (moto, started by
/// deploy/local/s3.sh, which deploy/test.sh runs), under a prefix of its own.
fn use_object_storage(scenario: &mut Scenario) {
    let endpoint = std::env::var("SALESPULSE_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
        panic!("SALESPULSE_TEST_S3_ENDPOINT is not set: `bash deploy/local/s3.sh start` prints it")
    });
    let bucket = "salespulse-e2e";
    create_bucket(&endpoint, bucket);
    scenario.state = format!(
        "url = \"s3://{bucket}/{}\"\ncheckpoint_interval_seconds = 1",
        scenario.name
    );
    scenario.env.extend(
        [
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "salespulse-test"),
            ("AWS_SECRET_ACCESS_KEY", "salespulse-test"),
            ("AWS_REGION", "us-east-1"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
}

/// Half the data, SIGTERM (which writes a checkpoint), the other half, a restart that continues
/// from the checkpoint: every series and counter equals `replay` of all of it, and every
/// malformed message is dead-lettered once.
fn restart_halfway_is_exact(scenario: &Scenario, seed: u64) {
    let events = generate(12_000, seed);
    let (first, second) = events.split_at(events.len() / 2);
    let mut produced = produce(scenario, first);
    let service = RunningService::start(scenario, AS_OF, 1);
    service.wait_caught_up(produced.len());
    let (status, log) = service.terminate();
    assert!(status.success(), "exit {status}:\n{log}");
    assert!(log.contains("committed the applied offsets"), "{log}");
    assert!(log.contains("checkpoint written"), "{log}");

    produced.extend(produce(scenario, second));
    let service = RunningService::start(scenario, AS_OF, 2);
    service.wait_caught_up(produced.len());
    let (replayed, _) = replay(scenario, &produced, AS_OF);
    let metrics = service.metrics().expect("scrape");
    assert_same_sales_series(&metrics, &replayed);
    // The counters came back with the checkpoint and count the first half once.
    assert_same_counters(&metrics, &replayed);
    for family in [
        "salespulse_checkpoint_last_success_timestamp_seconds",
        "salespulse_checkpoint_duration_seconds",
        "salespulse_state_history_truncated",
    ] {
        assert!(
            metrics.contains(&format!("\n# TYPE {family} gauge\n")),
            "{family}"
        );
    }
    let (status, log) = service.terminate();
    assert!(status.success(), "exit {status}:\n{log}");
    // It continued where the checkpoint stopped instead of re-reading the first half.
    assert!(
        log.contains("restored the state from a checkpoint"),
        "{log}"
    );
    assert!(
        !log.contains("rebuilding from the earliest offset"),
        "{log}"
    );
    assert_dead_lettered_once(scenario, &produced);
}

/// A corrupt checkpoint is passed over (rebuild, same result); after the topics' early records
/// are deleted (retention), the checkpoint restores what they held; without a checkpoint, the
/// lost history is reported.
#[test]
fn corrupt_checkpoints_and_lost_history() {
    let scenario = Scenario::new("retention");
    let events = generate(12_000, 17);
    let thirds: Vec<&[_]> = events.chunks(events.len() / 3 + 1).collect();
    let mut produced = produce(&scenario, thirds[0]);
    let service = RunningService::start(&scenario, AS_OF, 1);
    service.wait_caught_up(produced.len());
    let (status, log) = service.terminate();
    assert!(status.success(), "exit {status}:\n{log}");

    // Cut the newest checkpoint in half and flip a byte in each older one: each must be passed
    // over with its reason, and the state rebuilt from the earliest offsets.
    let checkpoints = checkpoint_files(&scenario);
    assert!(
        (1..=3).contains(&checkpoints.len()),
        "kept at most 3: {checkpoints:?}"
    );
    for (index, path) in checkpoints.iter().enumerate() {
        let mut bytes = std::fs::read(path).expect("checkpoint");
        if index + 1 == checkpoints.len() {
            bytes.truncate(bytes.len() / 2);
        } else {
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x40;
        }
        std::fs::write(path, &bytes).expect("corrupt");
    }
    produced.extend(produce(&scenario, thirds[1]));
    let service = RunningService::start(&scenario, AS_OF, 2);
    service.wait_caught_up(produced.len());
    let (replayed, _) = replay(&scenario, &produced, AS_OF);
    let metrics = service.metrics().expect("scrape");
    assert_same_sales_series(&metrics, &replayed);
    assert_same_counters(&metrics, &replayed);
    let (status, log) = service.terminate();
    assert!(status.success(), "exit {status}:\n{log}");
    assert!(log.contains("checkpoint not used"), "{log}");
    assert!(log.contains("truncated"), "{log}");
    if checkpoints.len() > 1 {
        assert!(log.contains("checksum"), "{log}");
    }
    assert!(log.contains("rebuilding from the earliest offset"), "{log}");

    // Retention deletes everything produced so far; the checkpoint holds it.
    delete_all_records(&scenario);
    produced.extend(produce(&scenario, thirds[2]));
    let service = RunningService::start(&scenario, AS_OF, 3);
    service.wait_caught_up(produced.len());
    let (replayed, _) = replay(&scenario, &produced, AS_OF);
    let metrics = service.metrics().expect("scrape");
    assert_same_sales_series(&metrics, &replayed);
    assert_same_counters(&metrics, &replayed);
    let truncated = truncation_flags(&metrics);
    assert_eq!(truncated.len(), EVENT_TOPICS.len() * PARTITIONS as usize);
    assert!(truncated.iter().all(|flag| *flag == 0.0), "{truncated:?}");
    let (status, log) = service.terminate();
    assert!(status.success(), "exit {status}:\n{log}");
    assert!(!log.contains("history lost to retention"), "{log}");
    assert_dead_lettered_once(&scenario, &produced);

    // Without a checkpoint, the same topics are missing their early records: said, not hidden.
    let fresh = scenario.sibling(format!(
        "dir = \"{}\"",
        scenario.dir.join("fresh-state").display()
    ));
    let service = RunningService::start_in_group(&fresh, AS_OF, 4, "fresh");
    // Every partition is assigned and judged (a flag may be 0: a partition that had no records
    // before the deletion lost nothing).
    let flagged = wait_until(Duration::from_secs(60), || {
        service.metrics().is_some_and(|text| {
            let flags = truncation_flags(&text);
            flags.len() == EVENT_TOPICS.len() * PARTITIONS as usize && flags.contains(&1.0)
        })
    });
    let metrics = service.metrics().expect("scrape");
    let (status, log) = service.terminate();
    assert!(flagged, "no truncated partition reported:\n{metrics}");
    assert!(status.success(), "exit {status}:\n{log}");
    assert!(log.contains("history lost to retention"), "{log}");
    // Every partition that had records before the deletion is flagged.
    let had_records: std::collections::BTreeSet<(String, i32)> = produced
        [..produced.len() - thirds[2].len()]
        .iter()
        .map(|m| (m.topic.clone(), m.partition))
        .collect();
    let flagged: std::collections::BTreeSet<(String, i32)> = parse_exposition(&metrics)
        .into_iter()
        .filter(|s| s.name == "salespulse_state_history_truncated" && s.value == 1.0)
        .map(|s| {
            (
                s.labels["topic"].clone(),
                s.labels["partition"].parse().expect("partition"),
            )
        })
        .collect();
    assert_eq!(flagged, had_records);
}

/// The same scenario (topics, group) with a state directory of its own, for a second instance.
fn second_instance(scenario: &Scenario) -> Scenario {
    scenario.sibling(format!(
        "dir = \"{}\"",
        scenario.dir.join("state-2").display()
    ))
}

/// `salespulse_partitions_unowned` of a running service.
fn unowned(service: &RunningService) -> Option<f64> {
    let text = service.metrics()?;
    parse_exposition(&text)
        .into_iter()
        .find(|s| s.name == "salespulse_partitions_unowned")
        .map(|s| s.value)
}

/// A second instance in the same consumer group by mistake: the group splits the partitions,
/// so neither has the whole result, and both say so (not ready, the metric, an ERROR).
#[test]
fn two_instances_in_one_group_both_report_the_partial_assignment() {
    let scenario = Scenario::new("samegroup");
    produce(&scenario, &generate(2_000, 19));
    let first = RunningService::start(&scenario, AS_OF, 1);
    // The second listens on another port and keeps its own checkpoints.
    assert!(wait_until(Duration::from_secs(30), || first
        .get("/healthz")
        .is_some()));
    let other = second_instance(&scenario);
    let second = RunningService::start(&other, AS_OF, 2);
    let total = EVENT_TOPICS.len() as f64 * f64::from(PARTITIONS);
    let split = wait_until(Duration::from_secs(90), || {
        match (unowned(&first), unowned(&second)) {
            // Each owns some, and together they own each partition once.
            (Some(a), Some(b)) => a > 0.0 && b > 0.0 && (total - a) + (total - b) == total,
            _ => false,
        }
    });
    let readyz = [first.get("/readyz"), second.get("/readyz")];
    let (status_1, log_1) = first.terminate();
    let (status_2, log_2) = second.terminate();
    assert!(split, "no split reported:\n{log_1}\n{log_2}");
    for response in readyz {
        let (status, body) = response.expect("readyz answers");
        assert_eq!(status, 503, "{body}");
        assert!(
            body.contains("assigned to another member of the consumer group"),
            "{body}"
        );
    }
    for (status, log) in [(status_1, log_1), (status_2, log_2)] {
        assert!(status.success(), "exit {status}:\n{log}");
        assert!(
            log.contains("give each one its own [kafka] group_id"),
            "{log}"
        );
    }
}

/// Partitions taken away mid-stream and given back: a second instance joins the group while
/// events arrive (the group splits the partitions), more arrive, the second leaves and the first
/// gets every partition back, continuing where its own state stops. Its result equals `replay`
/// of everything, and each malformed message is dead-lettered once between the two instances.
/// (Whether a revocation finds a decoded batch in flight is up to timing; the rule for those
/// messages is unit-tested in `rebalance.rs`.)
#[test]
fn partitions_revoked_and_given_back_mid_stream_count_each_event_once() {
    let scenario = Scenario::new("giveback");
    let events = generate(60_000, 29);
    let (first_part, rest) = events.split_at(events.len() / 6);
    let (second_part, third_part) = rest.split_at(rest.len() / 2);
    let mut produced = produce(&scenario, first_part);
    let first = RunningService::start(&scenario, AS_OF, 1);
    assert!(wait_until(Duration::from_secs(30), || first
        .get("/healthz")
        .is_some()));
    let other = second_instance(&scenario);
    // Produced while the second joins, so that the first is busy when its partitions go.
    let (second, second_produced) = std::thread::scope(|scope| {
        let producing = scope.spawn(|| produce(&scenario, second_part));
        let second = RunningService::start(&other, AS_OF, 2);
        (second, producing.join().expect("the producing thread"))
    });
    produced.extend(second_produced);
    let split = wait_until(Duration::from_secs(90), || {
        unowned(&first).is_some_and(|n| n > 0.0) && unowned(&second).is_some_and(|n| n > 0.0)
    });
    assert!(split, "no split:\n{}\n{}", first.output(), second.output());
    // The second leaves while the first is busy with these.
    produced.extend(produce(&scenario, third_part));
    let (status, log) = second.terminate();
    assert!(status.success(), "exit {status}:\n{log}");

    first.wait_caught_up(produced.len());
    let metrics = first.metrics().expect("scrape");
    let (replayed, _) = replay(&scenario, &produced, AS_OF);
    assert_same_sales_series(&metrics, &replayed);
    assert_same_counters(&metrics, &replayed);
    let (status, log) = first.terminate();
    assert!(status.success(), "exit {status}:\n{log}");
    assert_dead_lettered_once(&scenario, &produced);
}

/// High availability the Prometheus way: two replicas, each with its own group and state,
/// each computing the whole result; one writes the dead letters. Killing one (`kill -9`) leaves
/// the other's output as it was; restarted, it restores its checkpoint and converges.
#[test]
fn two_replicas_each_compute_everything_and_survive_a_kill() {
    let scenario = Scenario::new("replicas");
    let mut replica = scenario.sibling(format!(
        "dir = \"{}\"\ncheckpoint_interval_seconds = 1",
        scenario.dir.join("state-b").display()
    ));
    replica.env.extend([
        (
            "SALESPULSE_KAFKA__GROUP_ID".to_owned(),
            format!("{}-b", scenario.name),
        ),
        (
            "SALESPULSE_KAFKA__WRITE_DEADLETTERS".to_owned(),
            "false".to_owned(),
        ),
        // The killed member leaves the group when its session times out: keep it short.
        (
            "SALESPULSE_KAFKA__PROPERTIES__SESSION_TIMEOUT_MS".to_owned(),
            "6000".to_owned(),
        ),
    ]);
    let events = generate(12_000, 23);
    let (first, second) = events.split_at(events.len() / 2);
    let mut produced = produce(&scenario, first);
    let a = RunningService::start(&scenario, AS_OF, 1);
    assert!(wait_until(Duration::from_secs(30), || a
        .get("/healthz")
        .is_some()));
    let b = RunningService::start(&replica, AS_OF, 2);
    a.wait_caught_up(produced.len());
    b.wait_caught_up(produced.len());
    let (replayed, _) = replay(&scenario, &produced, AS_OF);
    for service in [&a, &b] {
        let metrics = service.metrics().expect("scrape");
        assert_same_sales_series(&metrics, &replayed);
        assert_same_counters(&metrics, &replayed);
    }
    // Let B write a checkpoint of the first half, then kill it without a chance to clean up.
    std::thread::sleep(Duration::from_millis(1_500));
    let b_log = b.kill();

    produced.extend(produce(&scenario, second));
    a.wait_caught_up(produced.len());
    let (replayed, _) = replay(&scenario, &produced, AS_OF);
    let a_metrics = a.metrics().expect("scrape");
    assert_same_sales_series(&a_metrics, &replayed);
    assert_same_counters(&a_metrics, &replayed);

    let b = RunningService::start(&replica, AS_OF, 3);
    b.wait_caught_up(produced.len());
    let b_metrics = b.metrics().expect("scrape");
    assert_same_sales_series(&b_metrics, &replayed);
    assert_same_counters(&b_metrics, &replayed);
    assert_eq!(sales_lines(&a_metrics), sales_lines(&b_metrics));
    let (status, log) = b.terminate();
    assert!(status.success(), "exit {status}:\n{log}");
    assert!(
        log.contains("restored the state from a checkpoint"),
        "{b_log}\n{log}"
    );
    let (status, log) = a.terminate();
    assert!(status.success(), "exit {status}:\n{log}");
    // Only A wrote dead letters: each malformed message once.
    assert_dead_lettered_once(&scenario, &produced);
}

/// `kill -9` at three points while the service works through a backlog with 1 % malformed
/// messages, restarting each time: the final exposition and counters equal `replay`, and each
/// malformed message is in the dead-letter topic once (read_committed), whatever was in flight.
#[test]
fn kill_9_at_three_points_loses_and_doubles_nothing() {
    kill_9_at_three_points(Scenario::new("kill9"));
}

/// The same with the checkpoints on object storage (moto).
#[test]
fn kill_9_with_checkpoints_on_object_storage() {
    let mut scenario = Scenario::new("kill9s3");
    use_object_storage(&mut scenario);
    kill_9_at_three_points(scenario);
}

fn kill_9_at_three_points(mut scenario: Scenario) {
    // A killed member leaves the group when its session times out: keep it short.
    scenario.env.push((
        "SALESPULSE_KAFKA__PROPERTIES__SESSION_TIMEOUT_MS".to_owned(),
        "6000".to_owned(),
    ));
    let produced = produce(&scenario, &generate(30_000, 29));
    let total = produced.len() as f64;
    // Points spread over the backlog, varied per run (the process id) but reproducible from it.
    let seed = u64::from(std::process::id());
    let points: Vec<f64> = (0..3)
        .map(|i| {
            let jitter = ((seed >> (8 * i)) % 100) as f64 / 1000.0;
            (0.2 + 0.25 * f64::from(i) + jitter) * total
        })
        .collect();
    let processed = |service: &RunningService| -> f64 {
        service.metrics().map_or(0.0, |text| {
            parse_exposition(&text)
                .into_iter()
                .filter(|s| {
                    s.name == "salespulse_events_total"
                        || s.name == "salespulse_events_rejected_total"
                        || s.name == "salespulse_events_duplicate_total"
                })
                .map(|s| s.value)
                .sum()
        })
    };
    let mut logs = String::new();
    for (run, point) in points.iter().enumerate() {
        let service = RunningService::start(&scenario, AS_OF, run + 1);
        let reached = wait_until(Duration::from_secs(120), || processed(&service) >= *point);
        logs.push_str(&service.kill());
        assert!(reached, "run {} never reached {point}:\n{logs}", run + 1);
    }
    let service = RunningService::start(&scenario, AS_OF, 4);
    service.wait_caught_up(produced.len());
    let (replayed, _) = replay(&scenario, &produced, AS_OF);
    let metrics = service.metrics().expect("scrape");
    assert_same_sales_series(&metrics, &replayed);
    assert_same_counters(&metrics, &replayed);
    let (status, log) = service.terminate();
    assert!(status.success(), "exit {status}:\n{log}");
    assert_dead_lettered_once(&scenario, &produced);
}

/// The broker is away when the service starts, for longer than any client timeout (30 s), and
/// later stops for 20 s mid-stream; it comes back with its data each time: the service waits,
/// alive and not ready, reconnects, and nothing is lost or counted twice; the outage costs a few
/// log lines, not one per reconnection attempt.
#[test]
fn broker_outages_at_start_and_mid_stream_lose_and_double_nothing() {
    let scenario = Scenario::exclusive("outage");
    let kafka = |action: &str| {
        let output = Command::new("bash")
            .arg(repo_root().join("deploy/local/kafka.sh"))
            .arg(action)
            .output()
            .expect("run kafka.sh");
        assert!(
            output.status.success(),
            "kafka.sh {action} (the broker must be the one deploy/local/kafka.sh runs): {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let events = generate(12_000, 31);
    let (first, second) = events.split_at(events.len() / 2);
    let mut produced = produce(&scenario, first);
    kafka("stop");
    let service = RunningService::start(&scenario, AS_OF, 1);
    std::thread::sleep(Duration::from_secs(35));
    let alive_at_start = service.get("/healthz");
    let ready_at_start = service.get("/readyz");
    kafka("start");
    assert_eq!(alive_at_start.map(|(status, _)| status), Some(200));
    let (status, body) = ready_at_start.expect("readyz answers while the broker is away");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("no connection to the Kafka brokers"),
        "{body}"
    );
    service.wait_caught_up(produced.len());

    assert_eq!(service.get("/readyz").map(|(status, _)| status), Some(200));
    kafka("stop");
    std::thread::sleep(Duration::from_secs(20));
    let alive = service.get("/healthz");
    let ready_during_outage = service.get("/readyz");
    kafka("start");
    assert_eq!(
        alive.map(|(status, _)| status),
        Some(200),
        "alive during the outage"
    );
    let (status, body) = ready_during_outage.expect("readyz answers during the outage");
    assert_eq!(status, 503, "not ready during the outage: {body}");
    assert!(
        body.contains("no connection to the Kafka brokers"),
        "the reason: {body}"
    );

    produced.extend(produce(&scenario, second));
    service.wait_caught_up(produced.len());
    assert!(
        wait_until(Duration::from_secs(60), || service
            .get("/readyz")
            .is_some_and(|(status, _)| status == 200)),
        "ready again after the outage"
    );
    let (replayed, _) = replay(&scenario, &produced, AS_OF);
    let metrics = service.metrics().expect("scrape");
    assert_same_sales_series(&metrics, &replayed);
    assert_same_counters(&metrics, &replayed);
    let (status, log) = service.terminate();
    assert!(status.success(), "exit {status}:\n{log}");
    // The logs say what happened, once per change, and the error counter counted it.
    let log = without_colours(&log);
    assert!(log.contains("consumer error"), "{log}");
    assert_eq!(
        log.matches("lost the connection to the Kafka brokers")
            .count(),
        1,
        "{log}"
    );
    assert!(log.contains("connected to the Kafka brokers"), "{log}");
    let outage: Vec<&str> = log
        .lines()
        .skip_while(|line| !line.contains("lost the connection to the Kafka brokers"))
        .take_while(|line| {
            !line.contains("INFO salespulse_kafka::rebalance: connected to the Kafka brokers")
        })
        .filter(|line| line.contains(" WARN ") || line.contains(" ERROR "))
        .collect();
    assert!(
        outage.len() <= 20,
        "{} warnings and errors during a 20 s outage:\n{}",
        outage.len(),
        outage.join("\n")
    );
    let consume_errors = parse_exposition(&metrics)
        .into_iter()
        .find(|s| s.name == "salespulse_kafka_errors_total" && s.labels["stage"] == "consume")
        .map(|s| s.value);
    assert!(
        consume_errors.is_some_and(|count| count > 0.0),
        "{consume_errors:?}"
    );
    assert_dead_lettered_once(&scenario, &produced);
}

/// The dead-letter topic does not exist: the service says so on `/readyz` and in the log, keeps
/// running and keeps the dead letters; once the topic is created they are written, exactly once.
#[test]
fn a_missing_deadletter_topic_is_reported_and_its_dead_letters_wait() {
    let scenario = Scenario::with_deadletter_topic("nodlq", None);
    let produced = produce(&scenario, &generate(6_000, 41));
    let service = RunningService::start(&scenario, AS_OF, 1);
    let missing = format!(
        "the dead-letter topic {} does not exist",
        scenario.deadletter_topic()
    );
    let mut last = None;
    let reported = wait_until(Duration::from_secs(60), || {
        last = service.get("/readyz");
        last.as_ref()
            .is_some_and(|(status, body)| *status == 503 && body.contains(&missing))
    });
    assert!(reported, "readyz: {last:?}\n{}", service.output());
    assert_eq!(service.get("/healthz").map(|(status, _)| status), Some(200));
    let ready = |text: &str| {
        parse_exposition(text)
            .into_iter()
            .find(|s| s.name == "salespulse_ready")
            .map(|s| s.value)
    };
    assert_eq!(ready(&service.metrics().expect("scrape")), Some(0.0));

    scenario.create_topics(&[scenario.deadletter_topic()], &[]);
    service.wait_caught_up(produced.len());
    assert!(
        wait_until(Duration::from_secs(60), || service
            .get("/readyz")
            .is_some_and(|(status, _)| status == 200)),
        "ready once the topic exists"
    );
    let metrics = service.metrics().expect("scrape");
    assert_eq!(ready(&metrics), Some(1.0));
    let (replayed, _) = replay(&scenario, &produced, AS_OF);
    assert_same_sales_series(&metrics, &replayed);
    assert_same_counters(&metrics, &replayed);
    let (status, log) = service.terminate();
    assert!(status.success(), "exit {status}:\n{log}");
    assert!(log.contains(&missing), "{log}");
    assert_dead_lettered_once(&scenario, &produced);
}

/// Messages the broker accepted on an input topic are forwarded whole when the dead-letter
/// topic takes them (the producer's own limit must not be lower than the broker's), and
/// truncated, with `x-truncated-from`, when it does not; the service never stops on them.
/// Tombstones are counted as ignored, not dead-lettered.
#[test]
fn large_rejected_messages_are_dead_lettered_whole_or_truncated_and_tombstones_ignored() {
    const WHOLE: usize = 500_000;
    // Just under the broker's default max.message.bytes (1,048,588) with the record's overhead.
    const LARGE: usize = 1_040_167;
    let scenario =
        Scenario::with_deadletter_topic("large", Some(&[("max.message.bytes", "600000")]));
    let producer: BaseProducer = scenario
        .listener
        .client()
        .set("message.max.bytes", "2000000")
        .create()
        .expect("producer");
    let topic = scenario.topic("leads");
    let payloads = [vec![b'{'; WHOLE], vec![b'['; LARGE]];
    for payload in &payloads {
        producer
            .send(BaseRecord::to(&topic).key("large").payload(payload))
            .map_err(|(error, _)| error)
            .expect("produce");
    }
    // Deletion markers of the compacted roster topic: not events, never dead-lettered.
    let roster = scenario.topic("roster");
    for rep in ["rep-1", "rep-2"] {
        producer
            .send(BaseRecord::<str, [u8]>::to(&roster).key(rep))
            .map_err(|(error, _)| error)
            .expect("produce a tombstone");
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
    let service = RunningService::start(&scenario, AS_OF, 1);
    service.wait_caught_up(payloads.len());
    let ignored: Vec<(String, f64)> = parse_exposition(&service.metrics().expect("scrape"))
        .into_iter()
        .filter(|s| s.name == "salespulse_events_ignored_total")
        .map(|s| (s.labels["reason"].clone(), s.value))
        .collect();
    assert_eq!(ignored, [("tombstone".to_owned(), 2.0)]);

    let letters = dead_letters(&scenario, payloads.len());
    assert_eq!(letters.len(), 2, "one dead letter each");
    let mut by_size: Vec<&DeadLetter> = letters.iter().collect();
    by_size.sort_by_key(|letter| letter.payload.len());
    let (truncated, truncated_headers) = (&by_size[0].payload, &by_size[0].headers);
    let (whole, whole_headers) = (&by_size[1].payload, &by_size[1].headers);
    assert_eq!(whole, &payloads[0], "fits the dead-letter topic: unchanged");
    assert_eq!(whole_headers.get("x-truncated-from"), None);
    assert_eq!(truncated.len(), 65_536);
    assert_eq!(truncated.as_slice(), &payloads[1][..65_536]);
    assert_eq!(
        truncated_headers
            .get("x-truncated-from")
            .map(String::as_str),
        Some("1040167")
    );
    for headers in [whole_headers, truncated_headers] {
        assert_eq!(
            headers.get("x-reject-reason").map(String::as_str),
            Some("invalid_json")
        );
    }
    let (status, log) = service.terminate();
    assert!(status.success(), "exit {status}:\n{log}");
    assert!(log.contains("writing it truncated"), "{log}");
}

/// A flood of rejected messages: each is counted and dead-lettered, but the log gets at most a
/// line per reason a second (it had one per message).
#[test]
fn a_flood_of_rejections_logs_a_line_per_reason_a_second() {
    const FLOOD: usize = 3_000;
    let scenario = Scenario::new("flood");
    let malformed: Vec<Record> = (0..FLOOD)
        .map(|index| Record {
            topic: "sales.leads".to_owned(),
            key: format!("key-{}", index % 7),
            payload: format!("not json {index}").into_bytes(),
            malformed: true,
        })
        .collect();
    let produced = produce(&scenario, &malformed);
    let service = RunningService::start(&scenario, AS_OF, 1);
    service.wait_caught_up(FLOOD);
    let rejected: f64 = parse_exposition(&service.metrics().expect("scrape"))
        .into_iter()
        .filter(|s| {
            s.name == "salespulse_events_rejected_total" && s.labels["reason"] == "invalid_json"
        })
        .map(|s| s.value)
        .sum();
    assert_eq!(rejected, FLOOD as f64);
    let (status, log) = service.terminate();
    assert!(status.success(), "exit {status}:\n{log}");
    let lines = log
        .matches("rejected; forwarding to the dead-letter topic")
        .count();
    // At most one a second; ingesting 3,000 messages takes seconds, not minutes.
    assert!((1..=60).contains(&lines), "{lines} rejection lines");
    assert_eq!(dead_letters(&scenario, FLOOD).len(), produced.len());
}

/// `text` without the ANSI colour codes of the text log format.
fn without_colours(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for code in chars.by_ref() {
                if code == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// The checkpoint files of the scenario's state directory, oldest first.
fn checkpoint_files(scenario: &Scenario) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenario.dir.join("state"))
        .expect("state dir")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "spck"))
        .collect();
    files.sort();
    files
}

/// `salespulse_state_history_truncated` values of an exposition.
fn truncation_flags(exposition: &str) -> Vec<f64> {
    parse_exposition(exposition)
        .into_iter()
        .filter(|s| s.name == "salespulse_state_history_truncated")
        .map(|s| s.value)
        .collect()
}

/// Deletes every record of the scenario's event topics, as retention would.
fn delete_all_records(scenario: &Scenario) {
    let admin: AdminClient<DefaultClientContext> =
        scenario.listener.client().create().expect("admin client");
    let mut partitions = TopicPartitionList::new();
    for topic in EVENT_TOPICS {
        for partition in 0..PARTITIONS {
            partitions
                .add_partition_offset(&scenario.topic(topic), partition, Offset::End)
                .expect("partition");
        }
    }
    let result = runtime()
        .block_on(admin.delete_records(
            &partitions,
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        ))
        .expect("delete records");
    for element in result.elements() {
        assert!(element.error().is_ok(), "{element:?}");
    }
}

/// Creates a bucket on the S3-compatible server (a plain `PUT /bucket`).
fn create_bucket(endpoint: &str, bucket: &str) {
    let address = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(address).expect("S3 server");
    write!(
        stream,
        "PUT /{bucket} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

#[test]
fn not_ready_before_assignment_and_metrics_answer_during_heavy_ingestion() {
    // No broker at all: alive, not ready.
    let dir = std::env::temp_dir().join(format!("e2e-nowhere-{}", std::process::id()));
    let nowhere = Scenario {
        listener: Listener::Plaintext("127.0.0.1:1".to_owned()),
        name: format!("e2e-nowhere-{}", std::process::id()),
        state: format!("dir = \"{}\"", dir.join("state").display()),
        dir,
        _broker: None,
        env: Vec::new(),
        log_format: "text",
    };
    std::fs::create_dir_all(&nowhere.dir).expect("dir");
    let address = free_address();
    let mut child = Command::new(salespulse_binary())
        .args(["run", "--config"])
        .arg(nowhere.config(&address))
        .env_clear()
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    assert!(wait_until(Duration::from_secs(30), || http_get(
        &address, "/healthz"
    )
    .is_some_and(|(s, _)| s == 200)));
    let (status, body) = http_get(&address, "/readyz").expect("readyz answers");
    assert_eq!(
        (status, body.trim()),
        (503, "not ready: no partition assigned yet")
    );
    child.kill().ok();
    child.wait().ok();

    // A large backlog: every scrape answers while the service catches up, and it gets ready.
    let scenario = Scenario::new("heavy");
    let produced = produce(&scenario, &generate(150_000, 3));
    let service = RunningService::start(&scenario, AS_OF, 1);
    let (mut scrapes_while_catching_up, mut ready) = (0, false);
    wait_until(Duration::from_secs(300), || {
        let metrics = service.metrics();
        let readyz = service.get("/readyz");
        if let (Some(text), Some((503, _))) = (&metrics, &readyz) {
            assert!(text.contains("salespulse_build_info"));
            scrapes_while_catching_up += 1;
        }
        ready = readyz.is_some_and(|(status, _)| status == 200);
        ready
    });
    assert!(ready, "never ready:\n{}", service.output());
    assert!(
        scrapes_while_catching_up > 0,
        "no scrape happened during ingestion"
    );
    service.wait_caught_up(produced.len());
    let (status, log) = service.terminate();
    assert!(status.success(), "exit {status}:\n{log}");
}
