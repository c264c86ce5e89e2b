//! End to end against a real Apache Kafka broker (started by `deploy/local/kafka.sh`, which
//! `deploy/test.sh` runs): the service's `/metrics` must equal `replay` of the same data, the
//! dead-letter topic must hold exactly the malformed messages, and a restart must change nothing.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use salespulse_e2e::{
    free_address, http_get, parse_exposition, repo_root, salespulse_binary, wait_until,
};
use salespulse_sim::{SimConfig, Simulator, intended_reason};

const PARTITIONS: i32 = 3;
const EVENT_TOPICS: [&str; 5] = ["activities", "leads", "deals", "finance", "roster"];

fn brokers() -> String {
    std::env::var("SALESPULSE_TEST_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".to_owned())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Tests share the broker; the one that stops it takes it alone.
static BROKER: RwLock<()> = RwLock::new(());

/// A hold on the shared broker for a scenario's lifetime.
#[allow(dead_code)]
enum BrokerHold {
    Shared(RwLockReadGuard<'static, ()>),
    Exclusive(RwLockWriteGuard<'static, ()>),
}

/// A test's own topics and group, so tests run side by side and re-runs start clean.
struct Scenario {
    name: String,
    dir: PathBuf,
    /// `None` for a copy made inside a test that already holds the broker.
    _broker: Option<BrokerHold>,
    /// The `[state]` section of the service's configuration (default: a directory of its own).
    state: String,
    /// Extra environment of the service (e.g. the S3 endpoint and credentials).
    env: Vec<(String, String)>,
}

impl Scenario {
    fn new(test: &str) -> Scenario {
        let hold = BrokerHold::Shared(BROKER.read().unwrap_or_else(PoisonError::into_inner));
        Scenario::holding(test, hold)
    }

    /// A scenario that has the broker to itself (it may stop and start it).
    fn exclusive(test: &str) -> Scenario {
        let hold = BrokerHold::Exclusive(BROKER.write().unwrap_or_else(PoisonError::into_inner));
        Scenario::holding(test, hold)
    }

    fn holding(test: &str, hold: BrokerHold) -> Scenario {
        let name = format!(
            "e2e-{test}-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_millis()
        );
        let dir = std::env::temp_dir().join(&name);
        std::fs::create_dir_all(&dir).expect("scenario dir");
        // Checkpoints every second, so a run writes several while it consumes.
        let state = format!(
            "dir = \"{}\"\ncheckpoint_interval_seconds = 1",
            dir.join("state").display()
        );
        let scenario = Scenario {
            name,
            dir,
            _broker: Some(hold),
            state,
            env: Vec::new(),
        };
        scenario.create_topics();
        scenario
    }

    /// Another service of this scenario (same topics, directory and environment) with the
    /// `[state]` section `state`; it shares this scenario's hold on the broker.
    fn sibling(&self, state: String) -> Scenario {
        Scenario {
            name: self.name.clone(),
            dir: self.dir.clone(),
            _broker: None,
            state,
            env: self.env.clone(),
        }
    }

    fn topic(&self, suffix: &str) -> String {
        format!("{}.{suffix}", self.name)
    }

    fn deadletter_topic(&self) -> String {
        self.topic("deadletter")
    }

    fn create_topics(&self) {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", brokers())
            .create()
            .expect("admin client");
        let names: Vec<String> = EVENT_TOPICS
            .iter()
            .map(|t| self.topic(t))
            .chain([self.deadletter_topic()])
            .collect();
        let topics: Vec<NewTopic<'_>> = names
            .iter()
            .map(|name| NewTopic::new(name, PARTITIONS, TopicReplication::Fixed(1)))
            .collect();
        let results = runtime()
            .block_on(admin.create_topics(
                &topics,
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
            ))
            .unwrap_or_else(|e| {
                panic!(
                    "is Kafka running at {}? `bash deploy/local/kafka.sh start`: {e}",
                    brokers()
                )
            });
        for result in results {
            result.unwrap_or_else(|(topic, error)| panic!("creating {topic}: {error}"));
        }
    }

    /// The service's configuration: these topics, a fresh group, a free port.
    fn config(&self, listen: &str) -> PathBuf {
        self.config_for(&brokers(), listen)
    }

    fn config_for(&self, brokers: &str, listen: &str) -> PathBuf {
        let topics: Vec<String> = EVENT_TOPICS
            .iter()
            .map(|t| format!("\"{}\"", self.topic(t)))
            .collect();
        let text = format!(
            "[kafka]\nbrokers = \"{brokers}\"\ngroup_id = \"{}\"\ntopics = [{}]\ndeadletter_topic = \"{}\"\n\n[http]\nlisten = \"{listen}\"\n\n[state]\n{}\n",
            self.name,
            topics.join(", "),
            self.deadletter_topic(),
            self.state
        );
        let path = self.dir.join("salespulse.toml");
        std::fs::write(&path, text).expect("write config");
        path
    }
}

/// One produced message and where the broker put it.
#[derive(Debug, Clone)]
struct Produced {
    topic: String,
    key: String,
    payload: Vec<u8>,
    partition: i32,
    offset: i64,
    malformed: bool,
}

/// `count` simulated events (with duplicates, late events and ~1 % malformed lines), in a
/// shuffled order, mapped to the scenario's topics.
fn generate(count: usize, seed: u64) -> Vec<(String, String, Vec<u8>, bool)> {
    let config = SimConfig {
        seed,
        start: "2026-11-01T00:00:00Z".parse().expect("start"),
        leads_per_hour: 40.0,
        malformed_share: 0.01,
        ..SimConfig::default()
    };
    let simulator = Simulator::new(config);
    let mut events: Vec<(String, String, Vec<u8>, bool)> = simulator
        .roster_events()
        .into_iter()
        .chain(simulator.take(count))
        .map(|event| {
            (
                event.topic.to_owned(),
                event.key,
                event.payload,
                event.malformed,
            )
        })
        .collect();
    // A seeded Fisher-Yates shuffle: arrival order must not matter.
    let mut state = seed | 1;
    for index in (1..events.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        events.swap(index, (state % (index as u64 + 1)) as usize);
    }
    events
}

fn produce(scenario: &Scenario, events: &[(String, String, Vec<u8>, bool)]) -> Vec<Produced> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    runtime().block_on(async {
        let mut pending = Vec::new();
        for (topic, key, payload, malformed) in events {
            let suffix = topic.trim_start_matches("sales.");
            let topic = scenario.topic(suffix);
            let delivery = loop {
                match producer.send_result(FutureRecord::to(&topic).key(key).payload(payload)) {
                    Ok(delivery) => break delivery,
                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            };
            pending.push((topic, key.clone(), payload.clone(), *malformed, delivery));
        }
        let mut produced = Vec::new();
        for (topic, key, payload, malformed, delivery) in pending {
            let delivered = delivery.await.expect("delivery").expect("delivered");
            produced.push(Produced {
                topic,
                key,
                payload,
                partition: delivered.partition,
                offset: delivered.offset,
                malformed,
            });
        }
        produced
    })
}

/// `salespulse run` as a child process.
struct RunningService {
    child: Child,
    address: String,
    log: PathBuf,
}

impl RunningService {
    fn start(scenario: &Scenario, as_of: &str, run: usize) -> RunningService {
        let address = free_address();
        let config = scenario.config(&address);
        let log = scenario.dir.join(format!("run-{run}.log"));
        let child = Command::new(salespulse_binary())
            .args(["run", "--as-of", as_of, "--config"])
            .arg(&config)
            .env_clear()
            .env("RUST_LOG", "info")
            .envs(scenario.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start salespulse run");
        RunningService {
            child,
            address,
            log,
        }
    }

    /// Like `start`, in another consumer group (a second, independent instance).
    fn start_in_group(scenario: &Scenario, as_of: &str, run: usize, group: &str) -> RunningService {
        let mut other = scenario.sibling(scenario.state.clone());
        other.env.push((
            "SALESPULSE_KAFKA__GROUP_ID".to_owned(),
            format!("{}-{group}", scenario.name),
        ));
        RunningService::start(&other, as_of, run)
    }

    fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(&self.address, path)
    }

    fn metrics(&self) -> Option<String> {
        self.get("/metrics")
            .and_then(|(status, body)| (status == 200).then_some(body))
    }

    /// Waits until every message is processed and committed: lag 0 on every partition.
    fn wait_caught_up(&self, messages: usize) {
        let mut last = String::new();
        let done = wait_until(Duration::from_secs(180), || {
            let Some(text) = self.metrics() else {
                return false;
            };
            let samples = parse_exposition(&text);
            let sum = |name: &str| -> f64 {
                samples
                    .iter()
                    .filter(|s| s.name == name)
                    .map(|s| s.value)
                    .sum()
            };
            let processed = sum("salespulse_events_total")
                + sum("salespulse_events_rejected_total")
                + sum("salespulse_events_duplicate_total");
            let lags: Vec<f64> = samples
                .iter()
                .filter(|s| s.name == "salespulse_consumer_lag_messages")
                .map(|s| s.value)
                .collect();
            last = format!("processed {processed} of {messages}, lags {lags:?}");
            processed == messages as f64
                && lags.len() == EVENT_TOPICS.len() * PARTITIONS as usize
                && lags.iter().all(|lag| *lag == 0.0)
        });
        assert!(done, "not caught up: {last}\n{}", self.log_text());
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL (`kill -9`): no shutdown, no final commit or checkpoint. Returns the log.
    fn kill(mut self) -> String {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("wait");
        self.log_text()
    }

    /// SIGTERM, then the exit status.
    fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let mut exit = None;
        wait_until(Duration::from_secs(20), || {
            exit = self.child.try_wait().expect("try_wait");
            exit.is_some()
        });
        let exit = exit.unwrap_or_else(|| {
            self.child.kill().ok();
            panic!(
                "did not stop within 20 s after SIGTERM:\n{}",
                self.log_text()
            )
        });
        (exit, self.log_text())
    }
}

impl Drop for RunningService {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.child.kill().ok();
            self.child.wait().ok();
        }
    }
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

/// `salespulse replay` of the produced payloads (in production order) at `as_of`:
/// (exposition, line number → rejection reason).
fn replay(
    scenario: &Scenario,
    produced: &[Produced],
    as_of: &str,
) -> (String, BTreeMap<usize, String>) {
    let file = scenario.dir.join("events.jsonl");
    let mut text = Vec::new();
    for message in produced {
        text.extend_from_slice(&message.payload);
        text.push(b'\n');
    }
    std::fs::write(&file, text).expect("write replay file");
    let output = Command::new(salespulse_binary())
        .args(["replay", "--as-of", as_of, "--events"])
        .arg(&file)
        .env_clear()
        .output()
        .expect("run replay");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let reasons = String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("line ")?;
            let (number, rest) = rest.split_once(": rejected: ")?;
            let reason = rest.split(':').next()?;
            Some((number.parse().ok()?, reason.to_owned()))
        })
        .collect();
    (String::from_utf8(output.stdout).expect("utf-8"), reasons)
}

fn sales_lines(exposition: &str) -> Vec<&str> {
    exposition
        .lines()
        .filter(|line| line.starts_with("sales_"))
        .collect()
}

/// The pipeline's counters (`salespulse_events_*`): each input message counted once.
fn assert_same_counters(service: &str, replayed: &str) {
    let counters = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|line| line.starts_with("salespulse_events_"))
            .map(str::to_owned)
            .collect()
    };
    let (service, replayed) = (counters(service), counters(replayed));
    assert!(replayed.len() >= 20, "{replayed:?}");
    assert_eq!(service, replayed);
}

fn assert_same_sales_series(service: &str, replayed: &str) {
    let (service, replayed) = (sales_lines(service), sales_lines(replayed));
    assert!(
        replayed.len() > 1000,
        "a rich exposition: {} sales_ lines",
        replayed.len()
    );
    let first_difference = service.iter().zip(&replayed).find(|(a, b)| a != b);
    assert_eq!(
        service.len(),
        replayed.len(),
        "first difference: {first_difference:?}"
    );
    assert_eq!(first_difference, None);
}

/// Reads the whole dead-letter topic: (key, payload, headers) per message.
fn dead_letters(
    scenario: &Scenario,
    expected: usize,
) -> Vec<(String, Vec<u8>, BTreeMap<String, String>)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", format!("{}-dlq-reader", scenario.name))
        .set("enable.auto.commit", "false")
        .create()
        .expect("dead-letter reader");
    let mut partitions = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        partitions
            .add_partition_offset(&scenario.deadletter_topic(), partition, Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&partitions).expect("assign");
    let mut messages = Vec::new();
    // Read until the expected number arrived, then a little longer to catch any extra message.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut quiet_until = None;
    while std::time::Instant::now() < deadline
        && quiet_until.is_none_or(|until| std::time::Instant::now() < until)
    {
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            let message = message.expect("dead-letter message");
            let headers = message
                .headers()
                .map(|headers| {
                    headers
                        .iter()
                        .map(|h| {
                            (
                                h.key.to_owned(),
                                String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let key = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
            messages.push((key, message.payload().unwrap_or_default().to_vec(), headers));
        }
        if messages.len() >= expected && quiet_until.is_none() {
            quiet_until = Some(std::time::Instant::now() + Duration::from_secs(2));
        }
    }
    messages
}

const AS_OF: &str = "2026-11-25T12:00:00Z";

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
        .map(|(index, m)| {
            (
                (
                    m.topic.clone(),
                    m.partition.to_string(),
                    m.offset.to_string(),
                ),
                (index + 1, m),
            )
        })
        .collect();
    let mut origins = std::collections::BTreeSet::new();
    for (key, payload, headers) in &letters {
        let header = |name: &str| headers.get(name).cloned().unwrap_or_default();
        let origin_key = (
            header("x-source-topic"),
            header("x-source-partition"),
            header("x-source-offset"),
        );
        let (line, origin) = by_origin
            .get(&origin_key)
            .unwrap_or_else(|| panic!("dead letter from nowhere: {headers:?}"));
        assert!(
            origin.malformed,
            "a valid message was dead-lettered: {}",
            String::from_utf8_lossy(payload)
        );
        assert_eq!(payload, &origin.payload, "unchanged payload");
        assert_eq!(key, &origin.key, "the original key");
        // The reason the simulator broke the line for, and the one replay reports for it.
        let reason = headers.get("x-reject-reason").map(String::as_str);
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
        [..produced.len() - produce_count(thirds[2])]
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
    let other = scenario.sibling(format!(
        "dir = \"{}\"",
        scenario.dir.join("state-2").display()
    ));
    let second = RunningService::start(&other, AS_OF, 2);
    let total = EVENT_TOPICS.len() as f64 * f64::from(PARTITIONS);
    let unowned = |service: &RunningService| -> Option<f64> {
        let text = service.metrics()?;
        parse_exposition(&text)
            .into_iter()
            .find(|s| s.name == "salespulse_partitions_unowned")
            .map(|s| s.value)
    };
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

/// The broker stops for 20 s mid-stream and comes back with its data: the service reconnects,
/// and nothing is lost or counted twice.
#[test]
fn a_broker_outage_mid_stream_loses_and_doubles_nothing() {
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
    let service = RunningService::start(&scenario, AS_OF, 1);
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
    assert!(log.contains("consumer error"), "{log}");
    assert_eq!(
        log.matches("lost the connection to the Kafka brokers")
            .count(),
        1,
        "{log}"
    );
    assert!(log.contains("connected to the Kafka brokers"), "{log}");
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

fn produce_count(events: &[(String, String, Vec<u8>, bool)]) -> usize {
    events.len()
}

/// Every malformed message is in the dead-letter topic exactly once.
fn assert_dead_lettered_once(scenario: &Scenario, produced: &[Produced]) {
    let malformed = produced.iter().filter(|m| m.malformed).count();
    assert!(malformed >= 30, "about 1 % malformed: {malformed}");
    let letters = dead_letters(scenario, malformed);
    let origins: std::collections::BTreeSet<(String, String, String)> = letters
        .iter()
        .map(|(_, _, headers)| {
            let header = |name: &str| headers.get(name).cloned().unwrap_or_default();
            (
                header("x-source-topic"),
                header("x-source-partition"),
                header("x-source-offset"),
            )
        })
        .collect();
    assert_eq!(letters.len(), malformed, "each malformed message once");
    assert_eq!(origins.len(), malformed);
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
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .expect("admin client");
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
        name: format!("e2e-nowhere-{}", std::process::id()),
        state: format!("dir = \"{}\"", dir.join("state").display()),
        dir,
        _broker: None,
        env: Vec::new(),
    };
    std::fs::create_dir_all(&nowhere.dir).expect("dir");
    let address = free_address();
    let mut child = Command::new(salespulse_binary())
        .args(["run", "--config"])
        .arg(nowhere.config_for("127.0.0.1:1", &address))
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
    assert!(ready, "never ready:\n{}", service.log_text());
    assert!(
        scrapes_while_catching_up > 0,
        "no scrape happened during ingestion"
    );
    service.wait_caught_up(produced.len());
    let (status, log) = service.terminate();
    assert!(status.success(), "exit {status}:\n{log}");
}
