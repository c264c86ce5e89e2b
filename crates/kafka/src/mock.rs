//! librdkafka's embedded mock cluster, for the zero-install `demo` (never for integration tests,
//! which run against a real Apache Kafka).

use anyhow::Context;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

/// A running mock cluster with the given topics; it lives as long as this value.
pub struct MockKafka {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl std::fmt::Debug for MockKafka {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockKafka")
            .field("bootstrap_servers", &self.cluster.bootstrap_servers())
            .finish()
    }
}

impl MockKafka {
    pub fn start(topics: &[String], partitions: i32) -> anyhow::Result<MockKafka> {
        let cluster = MockCluster::new(1).context("starting the embedded mock cluster")?;
        for topic in topics {
            cluster
                .create_topic(topic, partitions, 1)
                .with_context(|| format!("creating {topic} on the mock cluster"))?;
        }
        Ok(MockKafka { cluster })
    }

    pub fn bootstrap_servers(&self) -> String {
        self.cluster.bootstrap_servers()
    }
}
