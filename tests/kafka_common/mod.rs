//! The Kafka side of the end-to-end tests, shared by `kafka_e2e.rs` (the PLAINTEXT listener) and
//! `kafka_security.rs` (the `SASL_SSL` listener): a test's own topics and group on a listener,
//! simulated data produced to them, `salespulse run` as a child process, `replay` of the same
//! data to compare it with, and the dead-letter topic read back.

// Each test binary includes this module and uses a part of it; the rest would be reported as
// dead code in that binary.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use salespulse_e2e::{free_address, http_get, parse_exposition, salespulse_binary, wait_until};
use salespulse_sim::{SimConfig, Simulator};

pub const PARTITIONS: i32 = 3;
pub const EVENT_TOPICS: [&str; 5] = ["activities", "leads", "deals", "finance", "roster"];
/// "Now" for the service and `replay`, so both compute the same windows.
pub const AS_OF: &str = "2026-11-25T12:00:00Z";

/// How the tests' clients and the service reach the broker.
#[derive(Debug, Clone)]
pub enum Listener {
    /// PLAINTEXT at these bootstrap servers.
    Plaintext(String),
    /// `SASL_SSL`: TLS verified against a CA (host name included), SCRAM-SHA-512.
    SaslSsl(SaslLogin),
}

/// A `SASL_SSL` listener and the SCRAM user the tests authenticate as.
#[derive(Debug, Clone)]
pub struct SaslLogin {
    pub bootstrap: String,
    /// The PEM certificate of the CA that signed the broker's certificate.
    pub ca: PathBuf,
    pub user: String,
    pub password: String,
}

impl Listener {
    /// The PLAINTEXT listener of `SALESPULSE_TEST_BROKERS`, by default the one that
    /// `deploy/local/kafka.sh` starts.
    pub fn plaintext_from_env() -> Listener {
        Listener::Plaintext(
            std::env::var("SALESPULSE_TEST_BROKERS")
                .unwrap_or_else(|_| "127.0.0.1:19092".to_owned()),
        )
    }

    pub fn bootstrap(&self) -> &str {
        match self {
            Listener::Plaintext(bootstrap) => bootstrap,
            Listener::SaslSsl(login) => &login.bootstrap,
        }
    }

    /// A client (admin, producer or consumer) of the listener.
    pub fn client(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", self.bootstrap());
        if let Listener::SaslSsl(login) = self {
            config
                .set("security.protocol", "SASL_SSL")
                .set("sasl.mechanism", "SCRAM-SHA-512")
                .set("sasl.username", &login.user)
                .set("sasl.password", &login.password)
                .set("ssl.ca.location", login.ca.display().to_string());
        }
        config
    }

    /// The service's `[kafka.properties]` section for the listener, empty for PLAINTEXT. It holds
    /// everything but the password, which a test gives through the environment so that it is in
    /// no file.
    fn service_properties(&self) -> String {
        match self {
            Listener::Plaintext(_) => String::new(),
            Listener::SaslSsl(login) => format!(
                "\n[kafka.properties]\n\"security.protocol\" = \"SASL_SSL\"\n\
                 \"sasl.mechanism\" = \"SCRAM-SHA-512\"\n\"sasl.username\" = \"{}\"\n\
                 \"ssl.ca.location\" = \"{}\"\n",
                login.user,
                login.ca.display()
            ),
        }
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Tests share the broker; the one that stops it takes it alone.
static BROKER: RwLock<()> = RwLock::new(());

/// A hold on the shared broker for a scenario's lifetime.
pub enum BrokerHold {
    Shared(RwLockReadGuard<'static, ()>),
    Exclusive(RwLockWriteGuard<'static, ()>),
}

impl BrokerHold {
    fn shared() -> BrokerHold {
        BrokerHold::Shared(BROKER.read().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A test's own topics and group, so tests run side by side and re-runs start clean.
pub struct Scenario {
    pub listener: Listener,
    pub name: String,
    pub dir: PathBuf,
    /// `None` for a copy made inside a test that already holds the broker.
    pub _broker: Option<BrokerHold>,
    /// The `[state]` section of the service's configuration (default: a directory of its own).
    pub state: String,
    /// Extra environment of the service (e.g. the S3 endpoint and credentials, a password).
    pub env: Vec<(String, String)>,
    /// The service's `--log-format`: `text` (its default) or `json`.
    pub log_format: &'static str,
}

impl Scenario {
    /// On the PLAINTEXT listener, sharing the broker with the other tests.
    pub fn new(test: &str) -> Scenario {
        Scenario::on(Listener::plaintext_from_env(), test)
    }

    /// On `listener`, sharing the broker with the other tests.
    pub fn on(listener: Listener, test: &str) -> Scenario {
        Scenario::create(listener, test, BrokerHold::shared(), Some(&[]))
    }

    /// A scenario that has the broker to itself (it may stop and start it).
    pub fn exclusive(test: &str) -> Scenario {
        let hold = BrokerHold::Exclusive(BROKER.write().unwrap_or_else(PoisonError::into_inner));
        Scenario::create(Listener::plaintext_from_env(), test, hold, Some(&[]))
    }

    /// A scenario whose dead-letter topic is created with the topic configuration `deadletter`,
    /// or not at all (`None`).
    pub fn with_deadletter_topic(test: &str, deadletter: Option<&[(&str, &str)]>) -> Scenario {
        let listener = Listener::plaintext_from_env();
        Scenario::create(listener, test, BrokerHold::shared(), deadletter)
    }

    fn create(
        listener: Listener,
        test: &str,
        hold: BrokerHold,
        deadletter: Option<&[(&str, &str)]>,
    ) -> Scenario {
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
            listener,
            name,
            dir,
            _broker: Some(hold),
            state,
            env: Vec::new(),
            log_format: "text",
        };
        let event_topics: Vec<String> = EVENT_TOPICS.iter().map(|t| scenario.topic(t)).collect();
        scenario.create_topics(&event_topics, &[]);
        if let Some(config) = deadletter {
            scenario.create_topics(&[scenario.deadletter_topic()], config);
        }
        scenario
    }

    /// Another service of this scenario (same listener, topics, directory, environment and log
    /// format) with the `[state]` section `state`; it shares this scenario's hold on the broker.
    pub fn sibling(&self, state: String) -> Scenario {
        Scenario {
            listener: self.listener.clone(),
            name: self.name.clone(),
            dir: self.dir.clone(),
            _broker: None,
            state,
            env: self.env.clone(),
            log_format: self.log_format,
        }
    }

    pub fn topic(&self, suffix: &str) -> String {
        format!("{}.{suffix}", self.name)
    }

    pub fn deadletter_topic(&self) -> String {
        self.topic("deadletter")
    }

    /// Creates the topics `names`, each with the topic configuration `config`.
    pub fn create_topics(&self, names: &[String], config: &[(&str, &str)]) {
        let admin: AdminClient<DefaultClientContext> =
            self.listener.client().create().expect("admin client");
        let topics: Vec<NewTopic<'_>> = names
            .iter()
            .map(|name| {
                config.iter().fold(
                    NewTopic::new(name, PARTITIONS, TopicReplication::Fixed(1)),
                    |topic, (key, value)| topic.set(key, value),
                )
            })
            .collect();
        let results = runtime()
            .block_on(admin.create_topics(
                &topics,
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
            ))
            .unwrap_or_else(|e| {
                panic!(
                    "is Kafka running at {}? `bash deploy/local/kafka.sh start`: {e}",
                    self.listener.bootstrap()
                )
            });
        for result in results {
            result.unwrap_or_else(|(topic, error)| panic!("creating {topic}: {error}"));
        }
    }

    /// The service's configuration: these topics through this listener, a fresh group, a free
    /// port.
    pub fn config(&self, listen: &str) -> PathBuf {
        let topics: Vec<String> = EVENT_TOPICS
            .iter()
            .map(|t| format!("\"{}\"", self.topic(t)))
            .collect();
        let text = format!(
            "[kafka]\nbrokers = \"{}\"\ngroup_id = \"{}\"\ntopics = [{}]\ndeadletter_topic = \"{}\"\n{}\n\
             [http]\nlisten = \"{listen}\"\n\n[state]\n{}\n",
            self.listener.bootstrap(),
            self.name,
            topics.join(", "),
            self.deadletter_topic(),
            self.listener.service_properties(),
            self.state
        );
        let path = self.dir.join("salespulse.toml");
        std::fs::write(&path, text).expect("write config");
        path
    }
}

/// A message to produce: the simulator's topic (`sales.<suffix>`, mapped to the scenario's),
/// key and payload, and whether the simulator made it malformed.
#[derive(Debug, Clone)]
pub struct Record {
    pub topic: String,
    pub key: String,
    pub payload: Vec<u8>,
    pub malformed: bool,
}

/// One produced message and where the broker put it.
#[derive(Debug, Clone)]
pub struct Produced {
    pub topic: String,
    pub key: String,
    pub payload: Vec<u8>,
    pub partition: i32,
    pub offset: i64,
    pub malformed: bool,
}

impl Produced {
    /// Where the message is, as the dead-letter headers write it: topic, partition, offset.
    pub fn origin(&self) -> (String, String, String) {
        (
            self.topic.clone(),
            self.partition.to_string(),
            self.offset.to_string(),
        )
    }
}

/// The roster and `count` simulated events (with duplicates, late events and about 1 %
/// malformed lines), in the simulator's order.
pub fn simulated(count: usize, seed: u64) -> Vec<Record> {
    let simulator = Simulator::new(SimConfig {
        seed,
        start: "2026-11-01T00:00:00Z".parse().expect("start"),
        leads_per_hour: 40.0,
        malformed_share: 0.01,
        ..SimConfig::default()
    });
    simulator
        .roster_events()
        .into_iter()
        .chain(simulator.take(count))
        .map(|event| Record {
            topic: event.topic.to_owned(),
            key: event.key,
            payload: event.payload,
            malformed: event.malformed,
        })
        .collect()
}

/// Produces `records`, in order, to the scenario's topics through its listener.
pub fn produce(scenario: &Scenario, records: &[Record]) -> Vec<Produced> {
    let producer: FutureProducer = scenario
        .listener
        .client()
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    runtime().block_on(async {
        let mut pending = Vec::new();
        for record in records {
            let topic = scenario.topic(record.topic.trim_start_matches("sales."));
            let delivery = loop {
                let message = FutureRecord::to(&topic)
                    .key(&record.key)
                    .payload(&record.payload);
                match producer.send_result(message) {
                    Ok(delivery) => break delivery,
                    // The local queue is full: let deliveries drain it.
                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            };
            pending.push((topic, record, delivery));
        }
        let mut produced = Vec::new();
        for (topic, record, delivery) in pending {
            let delivered = delivery
                .await
                .expect("delivery")
                .unwrap_or_else(|(error, _)| panic!("producing to {topic}: {error}"));
            produced.push(Produced {
                topic,
                key: record.key.clone(),
                payload: record.payload.clone(),
                partition: delivered.partition,
                offset: delivered.offset,
                malformed: record.malformed,
            });
        }
        produced
    })
}

/// `salespulse run` as a child process.
pub struct RunningService {
    child: Child,
    pub address: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl RunningService {
    /// Starts the scenario's service; `run` numbers its output files in the scenario directory.
    pub fn start(scenario: &Scenario, as_of: &str, run: usize) -> RunningService {
        let address = free_address();
        let config = scenario.config(&address);
        let file = |stream: &str| scenario.dir.join(format!("run-{run}.{stream}"));
        let (stdout, stderr) = (file("stdout"), file("stderr"));
        let child = Command::new(salespulse_binary())
            .args(["run", "--as-of", as_of, "--log-format", scenario.log_format])
            .arg("--config")
            .arg(&config)
            .env_clear()
            .env("RUST_LOG", "info")
            .envs(scenario.env.iter().map(|(k, v)| (k, v)))
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start salespulse run");
        RunningService {
            child,
            address,
            stdout,
            stderr,
        }
    }

    /// Like `start`, in another consumer group (a second, independent instance).
    pub fn start_in_group(
        scenario: &Scenario,
        as_of: &str,
        run: usize,
        group: &str,
    ) -> RunningService {
        let mut other = scenario.sibling(scenario.state.clone());
        other.env.push((
            "SALESPULSE_KAFKA__GROUP_ID".to_owned(),
            format!("{}-{group}", scenario.name),
        ));
        RunningService::start(&other, as_of, run)
    }

    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(&self.address, path)
    }

    pub fn metrics(&self) -> Option<String> {
        self.get("/metrics")
            .and_then(|(status, body)| (status == 200).then_some(body))
    }

    /// Everything the process wrote: stdout, then stderr (the log).
    pub fn output(&self) -> String {
        let read = |path: &PathBuf| std::fs::read_to_string(path).unwrap_or_default();
        format!("{}{}", read(&self.stdout), read(&self.stderr))
    }

    /// Waits until every message is processed and committed: lag 0 on every partition.
    pub fn wait_caught_up(&self, messages: usize) {
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
        assert!(done, "not caught up: {last}\n{}", self.output());
    }

    /// SIGKILL (`kill -9`): no shutdown, no final commit or checkpoint. Returns the output.
    pub fn kill(mut self) -> String {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("wait");
        self.output()
    }

    /// SIGTERM, then the exit status and everything the process wrote.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
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
            panic!("did not stop within 20 s after SIGTERM:\n{}", self.output())
        });
        (exit, self.output())
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

/// `salespulse replay` of the produced payloads (in production order) at `as_of`:
/// (exposition, line number → rejection reason).
pub fn replay(
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

pub fn sales_lines(exposition: &str) -> Vec<&str> {
    exposition
        .lines()
        .filter(|line| line.starts_with("sales_"))
        .collect()
}

/// The pipeline's counters (`salespulse_events_*`): each input message counted once.
pub fn assert_same_counters(service: &str, replayed: &str) {
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

/// The service's `sales_` series are those of `replay`, line for line, and there are many.
pub fn assert_same_sales_series(service: &str, replayed: &str) {
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

/// One message of the dead-letter topic.
#[derive(Debug)]
pub struct DeadLetter {
    pub key: String,
    pub payload: Vec<u8>,
    pub headers: BTreeMap<String, String>,
}

impl DeadLetter {
    /// Where the rejected message was: its `x-source-topic`, `-partition` and `-offset` headers
    /// (empty where one is missing).
    pub fn origin(&self) -> (String, String, String) {
        let header = |name: &str| self.headers.get(name).cloned().unwrap_or_default();
        (
            header("x-source-topic"),
            header("x-source-partition"),
            header("x-source-offset"),
        )
    }
}

/// Reads the whole dead-letter topic through the scenario's listener: until `expected` messages
/// arrived, then 2 s more to catch any extra one. `read_committed` (librdkafka's default, said
/// here because it matters): dead letters of aborted transactions must not count.
pub fn dead_letters(scenario: &Scenario, expected: usize) -> Vec<DeadLetter> {
    let consumer: BaseConsumer = scenario
        .listener
        .client()
        .set("group.id", format!("{}-dlq-reader", scenario.name))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .expect("dead-letter reader");
    let mut partitions = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        partitions
            .add_partition_offset(&scenario.deadletter_topic(), partition, Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&partitions).expect("assign");
    let mut letters = Vec::new();
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
            letters.push(DeadLetter {
                key: String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned(),
                payload: message.payload().unwrap_or_default().to_vec(),
                headers,
            });
        }
        if letters.len() >= expected && quiet_until.is_none() {
            quiet_until = Some(std::time::Instant::now() + Duration::from_secs(2));
        }
    }
    letters
}

/// The dead-letter topic holds each malformed message of `produced` exactly once and nothing
/// else; the data must hold at least 30 (about 1 %) for that to mean something.
pub fn assert_dead_lettered_once(scenario: &Scenario, produced: &[Produced]) {
    let malformed: BTreeSet<(String, String, String)> = produced
        .iter()
        .filter(|m| m.malformed)
        .map(Produced::origin)
        .collect();
    assert!(
        malformed.len() >= 30,
        "about 1 % malformed: {}",
        malformed.len()
    );
    let letters = dead_letters(scenario, malformed.len());
    let origins: BTreeSet<(String, String, String)> =
        letters.iter().map(DeadLetter::origin).collect();
    assert_eq!(
        letters.len(),
        malformed.len(),
        "each malformed message once"
    );
    assert_eq!(origins, malformed);
}
