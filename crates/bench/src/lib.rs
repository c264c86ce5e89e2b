//! The tools of the benchmark suite (`bench/run.sh`, figures in BENCHMARKS.md): a consume-only
//! loop on the service's own librdkafka settings, a producer of simulator events to a run's own
//! topics, and what the freshness probe computes from its sends and scrapes.

pub mod kafka;
pub mod metrics;
pub mod stats;
