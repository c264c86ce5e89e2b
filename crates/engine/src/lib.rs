//! The salespulse aggregation engine: pure, deterministic, exact.
//!
//! It takes input lines (or decoded events) and a clock, keeps keyed state per rep, lead, deal and
//! customer, and answers "what are the metrics as of the clock" with a [`Snapshot`]. It never reads
//! the wall clock and does no I/O, so `replay`, the Kafka service and the tests all agree.
//!
//! State is stored as compact facts (when, who, which contact) rather than pre-aggregated windows:
//! every window is assembled at snapshot time from the facts that fall in it, which is what makes
//! the result independent of arrival order and exact at any clock value.
//!
//! The whole state can be saved as bytes and restored exactly ([`Engine::save_state`],
//! [`Engine::restore_state`]) for checkpoints; [`Settings::fingerprint`] tells whether a saved
//! state was made under settings that give the same results.

mod counters;
mod deals;
mod dedup;
mod engine;
mod facts;
mod finance;
mod interner;
mod leads;
mod money;
mod reps;
mod settings;
mod snapshot;
mod stamped;
mod state;

pub use counters::PipelineCounters;
pub use engine::{Engine, IngestOutcome, StateSizes, decode_message};
pub use money::decimal_to_f64;
pub use salespulse_calendar::{Period, WindowKind};
pub use salespulse_events::RosterRecord;
pub use settings::Settings;
pub use snapshot::{
    CompanyStats, DimensionRow, HistogramStats, QueueStats, RESPONSE_HISTOGRAM_BUCKETS,
    RepSnapshot, RepWindowStats, SegmentSnapshot, Snapshot, TeamSnapshot, TeamWindowStats,
    UNASSIGNED_REP, UNKNOWN, WindowInfo,
};
pub use state::{STATE_FORMAT_VERSION, StateError};
