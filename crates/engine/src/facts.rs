//! The facts the metrics are computed from: reps with their roster and recent activity, the
//! contact table, leads, deals and finance.
//!
//! A structure of its own so that the snapshot depends on what is known, not on the engine that
//! gathers it (the engine adds the clock, de-duplication, the events waiting for the clock and
//! the pipeline counters around it).

use crate::deals::Deal;
use crate::finance::Finance;
use crate::interner::{Interner, Keyed};
use crate::leads::Lead;
use crate::reps::Reps;

/// Everything applied events left behind that a metric reads.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    pub(crate) reps: Reps,
    /// The contacts that rep facts name, by interned id.
    pub(crate) contacts: Interner,
    pub(crate) leads: Keyed<Lead>,
    pub(crate) deals: Keyed<Deal>,
    pub(crate) finance: Finance,
}
