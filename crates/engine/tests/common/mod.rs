//! Shared helpers for the engine's scenario tests.
#![allow(dead_code)]

use salespulse_engine::{Engine, IngestOutcome, Period, Settings, Snapshot, WindowKind};
use salespulse_events::{Timestamp, parse_timestamp};
use serde_json::Value;

pub fn ts(text: &str) -> Timestamp {
    parse_timestamp(text).expect("test timestamp")
}

/// Feeds `events` (JSON values, serialised one per line) to a fresh engine at `as_of`.
pub fn run(settings: Settings, as_of: &str, events: &[Value]) -> (Engine, Vec<IngestOutcome>) {
    let mut engine = Engine::new(settings, ts(as_of));
    let outcomes = events
        .iter()
        .map(|event| engine.ingest(event.to_string().as_bytes()))
        .collect();
    (engine, outcomes)
}

/// An event of `kind` with the envelope and `fields` (a JSON object).
pub fn event(id: &str, kind: &str, at: &str, fields: Value) -> Value {
    let mut event = serde_json::json!({"event_id": id, "type": kind, "occurred_at": at});
    if let (Some(event), Some(fields)) = (event.as_object_mut(), fields.as_object()) {
        event.extend(fields.clone());
    }
    event
}

pub fn snapshot(settings: Settings, as_of: &str, events: &[Value]) -> Snapshot {
    run(settings, as_of, events).0.snapshot()
}

pub const WEEK: (Period, WindowKind) = (Period::Week, WindowKind::Current);
pub const LAST_WEEK: (Period, WindowKind) = (Period::Week, WindowKind::Previous);
pub const MONTH: (Period, WindowKind) = (Period::Month, WindowKind::Current);
pub const LAST_MONTH: (Period, WindowKind) = (Period::Month, WindowKind::Previous);
pub const QUARTER: (Period, WindowKind) = (Period::Quarter, WindowKind::Current);
pub const LAST_QUARTER: (Period, WindowKind) = (Period::Quarter, WindowKind::Previous);
pub const DAYS_7: (Period, WindowKind) = (Period::Days7, WindowKind::Rolling);
pub const DAYS_30: (Period, WindowKind) = (Period::Days30, WindowKind::Rolling);

pub fn window(snapshot: &Snapshot, (period, kind): (Period, WindowKind)) -> usize {
    snapshot.window_index(period, kind).expect("window exists")
}

pub fn epoch_seconds(at: Timestamp) -> i64 {
    at.timestamp()
}
