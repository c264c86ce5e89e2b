//! The consumer context: partition assignment (rebuild from the earliest offset), revocation
//! (commit what was applied first) and librdkafka statistics (consumer lag).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use tracing::{error, info, warn};

use crate::shared::Shared;

const BROKER_TIMEOUT: Duration = Duration::from_secs(10);

/// What the ingestion loop must know about one assigned partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartitionPlan {
    /// The group's committed offset at assignment: re-read offsets below it are not stored
    /// again, so the committed position never moves backwards while state is rebuilt.
    pub(crate) commit_floor: i64,
    /// The high watermark at assignment: caught up (ready) once applied up to here.
    pub(crate) ready_at: i64,
    /// The next offset to apply, as far as the ingestion loop got since assignment.
    pub(crate) applied: i64,
}

/// The assigned partitions by topic, so that the per-message lookup borrows the topic name
/// instead of allocating a key.
#[derive(Debug, Default)]
pub(crate) struct Partitions(HashMap<String, HashMap<i32, PartitionPlan>>);

impl Partitions {
    pub(crate) fn get_mut(&mut self, topic: &str, partition: i32) -> Option<&mut PartitionPlan> {
        self.0.get_mut(topic)?.get_mut(&partition)
    }

    fn contains(&self, topic: &str, partition: i32) -> bool {
        self.0
            .get(topic)
            .is_some_and(|partitions| partitions.contains_key(&partition))
    }

    fn insert(&mut self, topic: String, partition: i32, plan: PartitionPlan) {
        self.0.entry(topic).or_default().insert(partition, plan);
    }

    fn remove(&mut self, topic: &str, partition: i32) {
        if let Some(partitions) = self.0.get_mut(topic) {
            partitions.remove(&partition);
        }
    }

    pub(crate) fn plans(&self) -> impl Iterator<Item = &PartitionPlan> {
        self.0.values().flat_map(HashMap::values)
    }
}

/// The current assignment, written by the rebalance callback, read by the ingestion loop (the
/// callback runs inside `poll` on the ingestion thread, so the lock is never contended).
pub(crate) type Assignment = Arc<Mutex<Partitions>>;

/// librdkafka callbacks of the service's consumer.
pub(crate) struct ServiceContext {
    pub(crate) assignment: Assignment,
    pub(crate) shared: Arc<Shared>,
}

impl ClientContext for ServiceContext {
    fn stats(&self, statistics: Statistics) {
        let assignment = self
            .assignment
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (topic_name, topic) in &statistics.topics {
            for (partition, stats) in &topic.partitions {
                if !assignment.contains(topic_name, *partition) || stats.hi_offset < 0 {
                    continue;
                }
                let committed = if stats.committed_offset >= 0 {
                    stats.committed_offset
                } else {
                    stats.lo_offset.max(0)
                };
                self.shared.lag.insert(
                    (topic_name.clone(), *partition),
                    (stats.hi_offset - committed).max(0),
                );
            }
        }
    }
}

impl ConsumerContext for ServiceContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        partitions: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.plan(consumer, partitions);
                if cooperative {
                    consumer.incremental_assign(partitions)
                } else {
                    consumer.assign(partitions)
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                // Everything polled so far is applied and its offset stored: commit it before the
                // partitions go, so the next owner starts where this one stopped.
                match consumer.commit_consumer_state(CommitMode::Sync) {
                    // Nothing stored since the last automatic commit.
                    Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
                    Err(error) => warn!(%error, "commit before revocation failed"),
                }
                self.forget(partitions);
                if cooperative {
                    consumer.incremental_unassign(partitions)
                } else {
                    consumer.unassign()
                }
            }
            other => {
                error!(error = ?other, "rebalance failed");
                consumer.unassign()
            }
        };
        if let Err(error) = result {
            error!(%error, "applying the rebalance failed");
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        if let Err(error) = result {
            warn!(%error, partitions = offsets.count(), "offset commit failed");
        }
    }
}

impl ServiceContext {
    /// Records the committed offset and high watermark of each new partition, then points it at
    /// the earliest retained offset: until durable state lands, state is rebuilt from there.
    fn plan(&self, consumer: &BaseConsumer<Self>, partitions: &mut TopicPartitionList) {
        let committed = consumer
            .committed_offsets(partitions.clone(), BROKER_TIMEOUT)
            .unwrap_or_else(|error| {
                warn!(%error, "could not read committed offsets; treating them as none");
                TopicPartitionList::new()
            });
        let mut assignment = self
            .assignment
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for element in partitions.elements() {
            let (topic, partition) = (element.topic().to_owned(), element.partition());
            let commit_floor = committed
                .find_partition(&topic, partition)
                .and_then(|found| match found.offset() {
                    Offset::Offset(offset) => Some(offset),
                    _ => None,
                })
                .unwrap_or(0);
            let ready_at = consumer
                .fetch_watermarks(&topic, partition, BROKER_TIMEOUT)
                .map(|(_, high)| high)
                .unwrap_or_else(|error| {
                    warn!(%error, %topic, partition, "could not read the high watermark");
                    0
                });
            info!(%topic, partition, commit_floor, ready_at, "partition assigned; rebuilding from the earliest offset");
            assignment.insert(
                topic,
                partition,
                PartitionPlan {
                    commit_floor,
                    ready_at,
                    applied: 0,
                },
            );
        }
        if let Err(error) = partitions.set_all_offsets(Offset::Beginning) {
            error!(%error, "could not rewind the assigned partitions");
        }
    }

    fn forget(&self, partitions: &TopicPartitionList) {
        let mut assignment = self
            .assignment
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for element in partitions.elements() {
            let (topic, partition) = (element.topic(), element.partition());
            info!(%topic, partition, "partition revoked");
            assignment.remove(topic, partition);
            self.shared.lag.remove(&(topic.to_owned(), partition));
        }
    }
}
