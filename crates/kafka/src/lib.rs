//! The Kafka side of salespulse: consumes the event topics in a consumer group, feeds the same
//! engine `replay` uses, dead-letters rejected input in transactions with the consumed offsets,
//! and checkpoints the engine state with the offsets it covers.
//!
//! Threads: the pipeline owns the engine and the consumer on one thread (no lock around the
//! engine); it publishes an immutable snapshot a few times a second in its [`Status`], which
//! the HTTP side renders, so a scrape never blocks ingestion.

mod checkpoint;
mod consumer;
mod deadletter;
mod errors;
mod mock;
mod pipeline;
mod producer;
mod properties;
mod rebalance;
mod status;
mod throttle;

pub use checkpoint::CheckpointSettings;
pub use mock::MockKafka;
pub use pipeline::{Pipeline, PipelineConfig};
pub use producer::LineProducer;
pub use properties::{PropertyError, check_property};
pub use status::{Readiness, Status};
