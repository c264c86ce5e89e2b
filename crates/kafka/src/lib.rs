//! The salespulse service: consumes the event topics in a consumer group, feeds the same engine
//! `replay` uses, dead-letters rejected input, and serves `/metrics`, `/healthz` and `/readyz`.
//!
//! Threads: one ingestion thread owns the engine and the consumer (no lock around the engine);
//! it publishes an immutable snapshot a few times a second, which the HTTP handlers render, so a
//! scrape never blocks ingestion.

mod checkpoint;
mod consumer;
mod deadletter;
mod errors;
mod http;
mod mock;
mod producer;
mod rebalance;
mod service;
mod shared;

pub use checkpoint::CheckpointSettings;
pub use mock::MockKafka;
pub use producer::LineProducer;
pub use service::{Service, ServiceConfig};
pub use shared::Readiness;
