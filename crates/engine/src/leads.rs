//! Leads: the response clock (C14), qualification (C16) and the live queue (C24).

use chrono::TimeDelta;
use salespulse_events::{Stage, Timestamp};
use serde::{Deserialize, Serialize};

use crate::stamped::{Earliest, Stamped, keep_earliest};
use crate::state::codec;

/// What is known about one lead. Every field is an earliest/latest fact, so re-applying an event
/// changes nothing and the result does not depend on arrival order.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Lead {
    /// The earliest `lead_created`: it starts the response clock.
    pub(crate) created: Option<Earliest>,
    /// The earliest `activity` carrying this lead, by any rep: the value is the touching rep.
    pub(crate) first_touch: Option<Stamped<u32>>,
    /// Every assignment (`lead_created` with a rep, `lead_assigned`), to resolve the owner at any
    /// instant. Usually one or two entries.
    pub(crate) assignments: Vec<Stamped<u32>>,
    /// The first qualification to each stage; the value is the event's own `rep_id`, if any.
    /// Boxed: most leads never qualify, and an empty slot then takes 8 bytes instead of 48.
    pub(crate) first_mql: Option<Box<Stamped<Option<u32>>>>,
    pub(crate) first_sql: Option<Box<Stamped<Option<u32>>>>,
    /// The earliest `lead_disqualified` (v1.1): from then on the lead is out of the live queue.
    #[serde(with = "codec::option_timestamp")]
    pub(crate) disqualified_at: Option<Timestamp>,
}

impl Lead {
    /// Keeps the creation's instant only: two creations at the same instant start the same
    /// clock, so the event id that would break their tie is not worth its bytes per lead.
    pub(crate) fn offer_created(&mut self, created: Stamped<()>) {
        Earliest::offer(&mut self.created, created.at);
    }

    pub(crate) fn offer_touch(&mut self, touch: Stamped<u32>) {
        keep_earliest(&mut self.first_touch, touch);
    }

    pub(crate) fn offer_disqualification(&mut self, at: Timestamp) {
        self.disqualified_at = Some(self.disqualified_at.map_or(at, |earliest| earliest.min(at)));
    }

    /// Whether the lead waits in the live queue at `as_of` (C24): created, untouched, not
    /// disqualified (all facts are at or before `as_of`), and not older than `max_age` if set.
    /// Returns the creation instant of a waiting lead.
    pub(crate) fn waiting_since(
        &self,
        as_of: Timestamp,
        max_age: Option<TimeDelta>,
    ) -> Option<Timestamp> {
        let created = self.created.as_ref()?.at;
        if self.first_touch.is_some() || self.disqualified_at.is_some() {
            return None;
        }
        match max_age {
            Some(max_age) if as_of - created > max_age => None,
            _ => Some(created),
        }
    }

    pub(crate) fn offer_assignment(&mut self, assignment: Stamped<u32>) {
        if !self.assignments.contains(&assignment) {
            self.assignments.push(assignment);
        }
    }

    pub(crate) fn offer_qualification(
        &mut self,
        stage: Stage,
        qualification: Stamped<Option<u32>>,
    ) {
        let slot = match stage {
            Stage::Mql => &mut self.first_mql,
            Stage::Sql => &mut self.first_sql,
        };
        if slot
            .as_deref()
            .is_none_or(|kept| qualification.is_before(kept))
        {
            *slot = Some(Box::new(qualification));
        }
    }

    /// The rep the lead is assigned to at `at`: the latest assignment at or before it. An
    /// assignment at the very same instant counts as before (C16), whatever the event ids.
    pub(crate) fn owner_at(&self, at: Timestamp) -> Option<u32> {
        self.assignments
            .iter()
            .filter(|assignment| assignment.at <= at)
            .max_by(|a, b| (a.at, &a.event_id).cmp(&(b.at, &b.event_id)))
            .map(|assignment| assignment.value)
    }

    /// The rep a qualification counts for (C16): its own `rep_id`, else the owner at that instant.
    pub(crate) fn qualification_rep(&self, qualification: &Stamped<Option<u32>>) -> Option<u32> {
        qualification
            .value
            .or_else(|| self.owner_at(qualification.at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn at(hour: u32) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 23, hour, 0, 0)
            .single()
            .expect("valid test instant")
    }

    #[test]
    fn owner_is_the_latest_assignment_at_or_before_the_instant() {
        let mut lead = Lead::default();
        lead.offer_assignment(Stamped::new(at(9), "b", 1));
        lead.offer_assignment(Stamped::new(at(12), "a", 2));
        lead.offer_assignment(Stamped::new(at(12), "a", 2));
        assert_eq!(lead.assignments.len(), 2);
        assert_eq!(lead.owner_at(at(8)), None);
        assert_eq!(lead.owner_at(at(11)), Some(1));
        // Same instant as the reassignment: the reassignment counts as before.
        assert_eq!(lead.owner_at(at(12)), Some(2));
    }

    #[test]
    fn waiting_ends_with_a_touch_a_disqualification_or_the_max_age() {
        let max_age = Some(TimeDelta::hours(2));
        let mut lead = Lead::default();
        assert_eq!(lead.waiting_since(at(12), max_age), None, "never created");
        lead.offer_created(Stamped::new(at(10), "c", ()));
        assert_eq!(lead.waiting_since(at(11), max_age), Some(at(10)));
        // Exactly the max age still waits; one second more does not.
        assert_eq!(lead.waiting_since(at(12), max_age), Some(at(10)));
        let later = at(12) + TimeDelta::seconds(1);
        assert_eq!(lead.waiting_since(later, max_age), None);
        assert_eq!(lead.waiting_since(later, None), Some(at(10)));

        let mut disqualified = Lead::default();
        disqualified.offer_created(Stamped::new(at(10), "c", ()));
        disqualified.offer_disqualification(at(11));
        disqualified.offer_disqualification(at(9));
        assert_eq!(disqualified.disqualified_at, Some(at(9)));
        assert_eq!(disqualified.waiting_since(at(11), None), None);

        let mut touched = Lead::default();
        touched.offer_created(Stamped::new(at(10), "c", ()));
        touched.offer_touch(Stamped::new(at(8), "t", 3));
        assert_eq!(touched.waiting_since(at(11), None), None);
    }

    #[test]
    fn creation_keeps_the_earliest_instant_and_qualifications_the_earliest_stamp() {
        let mut lead = Lead::default();
        lead.offer_created(Stamped::new(at(10), "b", ()));
        lead.offer_created(Stamped::new(at(9), "z", ()));
        lead.offer_created(Stamped::new(at(9), "a", ()));
        assert_eq!(lead.created.map(|created| created.at), Some(at(9)));
        assert!(lead.first_mql.is_none() && lead.first_sql.is_none());
        lead.offer_qualification(Stage::Mql, Stamped::new(at(11), "q2", Some(4)));
        lead.offer_qualification(Stage::Mql, Stamped::new(at(11), "q1", Some(5)));
        lead.offer_qualification(Stage::Mql, Stamped::new(at(12), "q0", Some(6)));
        assert_eq!(lead.first_mql.as_ref().map(|mql| mql.value), Some(Some(5)));
        assert!(lead.first_sql.is_none());
    }

    #[test]
    fn qualification_prefers_its_own_rep() {
        let mut lead = Lead::default();
        lead.offer_assignment(Stamped::new(at(9), "a", 1));
        assert_eq!(
            lead.qualification_rep(&Stamped::new(at(10), "q", Some(7))),
            Some(7)
        );
        assert_eq!(
            lead.qualification_rep(&Stamped::new(at(10), "q", None)),
            Some(1)
        );
        assert_eq!(
            lead.qualification_rep(&Stamped::new(at(8), "q", None)),
            None
        );
    }
}
