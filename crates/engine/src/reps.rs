//! Reps: who they are (the roster, SEMANTICS C10/C11) and what they did recently (activity facts).

pub(crate) use salespulse_events::RosterRecord;
use salespulse_events::{Channel, Timestamp};
use serde::{Deserialize, Serialize};

use crate::interner::Interner;
use crate::stamped::{Stamped, keep_latest};
use crate::state::codec;

/// One `activity`, reduced to what windowed metrics need.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct ActivityFact {
    #[serde(with = "codec::timestamp")]
    pub(crate) at: Timestamp,
    pub(crate) contact: u32,
    pub(crate) channel: Channel,
    pub(crate) established: bool,
}

/// One `appointment_set`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct AppointmentFact {
    #[serde(with = "codec::timestamp")]
    pub(crate) at: Timestamp,
    pub(crate) contact: u32,
}

/// Everything kept per rep.
#[derive(Debug, Default)]
pub(crate) struct Rep {
    pub(crate) seed: Option<RosterRecord>,
    pub(crate) latest_upsert: Option<Stamped<RosterRecord>>,
    pub(crate) activities: Vec<ActivityFact>,
    pub(crate) appointments: Vec<AppointmentFact>,
}

impl Rep {
    /// The final roster record (C10): the latest upsert, else the configuration seed.
    pub(crate) fn roster(&self) -> Option<&RosterRecord> {
        self.latest_upsert
            .as_ref()
            .map(|upsert| &upsert.value)
            .or(self.seed.as_ref())
    }
}

/// All known reps, indexed by an interned id.
#[derive(Debug, Default)]
pub(crate) struct Reps {
    names: Interner,
    reps: Vec<Rep>,
}

impl Reps {
    pub(crate) fn seeded(roster: &[(String, RosterRecord)]) -> Self {
        let mut reps = Reps::default();
        for (rep_id, record) in roster {
            let rep = reps.intern(rep_id);
            reps.reps[rep as usize].seed = Some(record.clone());
        }
        reps
    }

    /// Makes `rep_id` a known rep and returns its index.
    pub(crate) fn intern(&mut self, rep_id: &str) -> u32 {
        let rep = self.names.intern(rep_id);
        if rep as usize >= self.reps.len() {
            self.reps.resize_with(rep as usize + 1, Rep::default);
        }
        rep
    }

    pub(crate) fn get_mut(&mut self, rep: u32) -> Option<&mut Rep> {
        self.reps.get_mut(rep as usize)
    }

    pub(crate) fn offer_upsert(&mut self, rep: u32, upsert: Stamped<RosterRecord>) {
        if let Some(state) = self.get_mut(rep) {
            keep_latest(&mut state.latest_upsert, upsert);
        }
    }

    pub(crate) fn name(&self, rep: u32) -> &str {
        self.names.name(rep)
    }

    pub(crate) fn len(&self) -> usize {
        self.reps.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &Rep)> {
        (0u32..).zip(self.reps.iter())
    }

    /// Drops activity facts older than `horizon` (they are in no exported window any more).
    pub(crate) fn forget_before(&mut self, horizon: Timestamp) {
        for rep in &mut self.reps {
            rep.activities.retain(|fact| fact.at >= horizon);
            rep.appointments.retain(|fact| fact.at >= horizon);
        }
    }

    /// Renumbers the contacts of every kept fact (after old facts are dropped, so the contact
    /// table can shrink to the contacts still referenced).
    pub(crate) fn renumber_contacts(&mut self, mut renumber: impl FnMut(u32) -> u32) {
        for rep in &mut self.reps {
            for fact in &mut rep.activities {
                fact.contact = renumber(fact.contact);
            }
            for fact in &mut rep.appointments {
                fact.contact = renumber(fact.contact);
            }
        }
    }

    /// Facts kept, for memory accounting.
    pub(crate) fn fact_count(&self) -> usize {
        self.reps
            .iter()
            .map(|rep| rep.activities.len() + rep.appointments.len())
            .sum()
    }
}
