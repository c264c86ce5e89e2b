//! Reps: who they are (the roster, SEMANTICS C10/C11) and what they did recently (activity facts).

use salespulse_events::{Channel, Role, Timestamp};
use serde::{Deserialize, Serialize};

use crate::interner::Interner;
use crate::settings::RosterSeed;
use crate::stamped::{Stamped, keep_latest};
use crate::state::codec;

/// A rep's roster record: the whole record is replaced by each newer `rep_upserted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RosterRecord {
    pub(crate) team: Box<str>,
    pub(crate) role: Role,
    pub(crate) max_daily_leads: Option<u64>,
    pub(crate) max_daily_deals: Option<u64>,
    pub(crate) active: bool,
}

impl From<&RosterSeed> for RosterRecord {
    fn from(seed: &RosterSeed) -> Self {
        RosterRecord {
            team: seed.team.as_str().into(),
            role: seed.role,
            max_daily_leads: seed.max_daily_leads,
            max_daily_deals: seed.max_daily_deals,
            active: seed.active,
        }
    }
}

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
    pub(crate) fn seeded(roster: &[RosterSeed]) -> Self {
        let mut reps = Reps::default();
        for seed in roster {
            let rep = reps.intern(&seed.rep_id);
            reps.reps[rep as usize].seed = Some(seed.into());
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
