//! The salespulse input contract (EVENTS.md v1): event types, decoding and validation.
//!
//! Decoding is strict and total: every input line either becomes a typed [`Event`] or a
//! [`Rejection`] with a stable [`RejectReason`]; nothing panics and nothing is silently dropped.

mod amount;
mod decode;
mod model;
mod reason;
mod timestamp;

pub use amount::parse_amount;
pub use decode::{DEFAULT_MAX_EVENT_BYTES, ValidationRules, check_clock, check_size, decode};
pub use model::{
    Channel, DealAttributes, Event, EventKind, EventType, ExpenseCategory, Outcome, Role,
    RosterRecord, Stage, Timestamp,
};
pub use reason::{IgnoreReason, RejectReason, Rejection};
pub use timestamp::parse_timestamp;
