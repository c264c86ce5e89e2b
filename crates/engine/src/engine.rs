//! The engine: ingestion (validate, de-duplicate, apply) and the clock.

use salespulse_calendar::{Calendar, WindowSet};
use salespulse_events::{
    Event, EventKind, EventType, IgnoreReason, Rejection, Timestamp, check_clock, check_size,
    decode,
};

use crate::counters::PipelineCounters;
use crate::deals::{Close, Deal};
use crate::dedup::Dedup;
use crate::facts::Facts;
use crate::finance::MoneyFact;
use crate::interner::Interner;
use crate::leads::Lead;
use crate::reps::{ActivityFact, AppointmentFact, Reps};
use crate::settings::Settings;
use crate::snapshot::Snapshot;
use crate::stamped::Stamped;

/// The part of [`Engine::ingest_at`] that needs only the settings: the size limit, then the
/// decoder. A driver may run it on another thread while the engine applies earlier lines.
pub fn decode_message(line: &[u8], settings: &Settings) -> Result<Event, Rejection> {
    check_size(line.len(), settings.max_event_bytes)?;
    decode(line, &settings.validation)
}

/// What became of one input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Accepted and counted (it may wait for the clock if it lies in the tolerated future).
    Accepted(EventType),
    /// Valid, but its `event_id` was already accepted: ignored.
    Duplicate,
    /// Rejected: to be dead-lettered with this reason.
    Rejected(Rejection),
}

/// The aggregation engine. Drive it with [`Engine::ingest`] (or [`Engine::ingest_event`]) and
/// [`Engine::advance_clock`]; read it with [`Engine::snapshot`].
#[derive(Debug)]
pub struct Engine {
    pub(crate) settings: Settings,
    pub(crate) calendar: Calendar,
    pub(crate) windows: WindowSet,
    pub(crate) dedup: Dedup,
    pub(crate) facts: Facts,
    /// Accepted events stamped after the clock (within the allowed skew): they join the state
    /// when the clock reaches them (C6).
    pub(crate) pending: Vec<Event>,
    pub(crate) counters: PipelineCounters,
}

impl Engine {
    /// A fresh engine whose clock ("as of") starts at `now`.
    pub fn new(settings: Settings, now: Timestamp) -> Engine {
        let calendar = Calendar::new(&settings.calendar);
        let windows = calendar.windows(now);
        let facts = Facts {
            reps: Reps::seeded(&settings.roster),
            ..Facts::default()
        };
        Engine {
            settings,
            calendar,
            windows,
            dedup: Dedup::default(),
            facts,
            pending: Vec::new(),
            counters: PipelineCounters::default(),
        }
    }

    /// The engine's "now".
    pub fn as_of(&self) -> Timestamp {
        self.windows.as_of
    }

    /// The settings the engine runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Decodes, validates and applies one input line (C1: validation first, then de-duplication).
    pub fn ingest(&mut self, line: &[u8]) -> IngestOutcome {
        self.ingest_at(line, self.as_of())
    }

    /// Like [`Engine::ingest`], but "too far in the future" (C6) is judged against `now`: the
    /// service's wall clock runs ahead of the engine's clock between two snapshots.
    ///
    /// Input above [`Settings::max_event_bytes`] is rejected as `too_large` here, before any
    /// parsing, so a driver needs no size check of its own.
    pub fn ingest_at(&mut self, line: &[u8], now: Timestamp) -> IngestOutcome {
        let decoded = decode_message(line, &self.settings);
        self.ingest_decoded_at(&decoded, now)
    }

    /// [`Engine::ingest_at`] of what [`decode_message`] made of a line, decoded elsewhere
    /// (another thread) with the same settings.
    ///
    /// Borrowed, like [`Engine::ingest_event`]'s event, so that the caller can free the event on
    /// the thread that decoded it: with mimalloc, freeing on another thread is a slower path,
    /// about a tenth of the engine thread's time in a replay.
    pub fn ingest_decoded_at(
        &mut self,
        decoded: &Result<Event, Rejection>,
        now: Timestamp,
    ) -> IngestOutcome {
        match decoded {
            Ok(event) => self.ingest_event_at(event, now),
            Err(rejection) => self.record_rejection(rejection.clone()),
        }
    }

    /// Applies an already decoded event: the clock check, de-duplication, counting, state. The
    /// engine copies what it keeps.
    pub fn ingest_event(&mut self, event: &Event) -> IngestOutcome {
        self.ingest_event_at(event, self.as_of())
    }

    fn ingest_event_at(&mut self, event: &Event, now: Timestamp) -> IngestOutcome {
        let now = now.max(self.as_of());
        if let Err(rejection) = check_clock(event, now, &self.settings.validation) {
            return self.record_rejection(rejection);
        }
        if !self
            .dedup
            .first_sighting(&event.event_id, event.occurred_at, event.is_finance())
        {
            self.counters.duplicates += 1;
            return IngestOutcome::Duplicate;
        }
        let event_type = event.event_type();
        self.counters.record_accepted(event_type, event.occurred_at);
        if event.occurred_at > self.as_of() {
            self.pending.push(event.clone());
        } else {
            if event.occurred_at < self.windows.current_week_start() {
                self.counters.late += 1;
            }
            self.apply(event);
        }
        IngestOutcome::Accepted(event_type)
    }

    /// Counts a line that failed decoding (drivers that decode themselves report it here).
    pub fn record_rejection(&mut self, rejection: Rejection) -> IngestOutcome {
        self.counters.record_rejected(rejection.reason);
        IngestOutcome::Rejected(rejection)
    }

    /// Counts a message with no value (a null payload: the deletion marker of a compacted topic)
    /// in `salespulse_events_ignored_total{reason="tombstone"}`. It is not an event: neither
    /// accepted nor rejected, so it is not dead-lettered (EVENTS.md v1.1). An empty but present
    /// value is not a tombstone; it goes to [`Engine::ingest_at`] (and is `invalid_json`).
    pub fn ignore_tombstone(&mut self) {
        self.counters.record_ignored(IgnoreReason::Tombstone);
    }

    /// Moves the clock forward (never back): windows roll over, pending events whose time has
    /// come are applied, and facts older than every window are dropped.
    pub fn advance_clock(&mut self, now: Timestamp) {
        if now <= self.as_of() {
            return;
        }
        let old_rep_horizon = self.rep_horizon();
        let old_finance_horizon = self.windows.horizon();
        self.windows = self.calendar.windows(now);
        if !self.pending.is_empty() {
            let (due, waiting): (Vec<Event>, Vec<Event>) = std::mem::take(&mut self.pending)
                .into_iter()
                .partition(|event| event.occurred_at <= now);
            self.pending = waiting;
            for event in &due {
                self.apply(event);
            }
        }
        let rep_horizon = self.rep_horizon();
        if self.calendar.local_date(rep_horizon) != self.calendar.local_date(old_rep_horizon) {
            self.facts.reps.forget_before(rep_horizon);
            self.dedup.forget_before(rep_horizon);
            self.forget_unreferenced_contacts();
        }
        let finance_horizon = self.windows.horizon();
        if finance_horizon != old_finance_horizon {
            self.facts.finance.forget_before(finance_horizon);
        }
    }

    /// Rebuilds the contact table from the contacts that kept facts still name, so contacts
    /// seen only in dropped windows do not accumulate in a long-running service.
    fn forget_unreferenced_contacts(&mut self) {
        let mut kept = Interner::default();
        let old = &self.facts.contacts;
        self.facts
            .reps
            .renumber_contacts(|contact| kept.intern(old.name(contact)));
        self.facts.contacts = kept;
    }

    /// The earliest instant a per-rep window can contain.
    fn rep_horizon(&self) -> Timestamp {
        self.windows.windows_horizon()
    }

    /// Folds one accepted, non-duplicate event with `occurred_at <= as_of` into the state.
    fn apply(&mut self, event: &Event) {
        let at = event.occurred_at;
        let id = event.event_id.as_str();
        let in_rep_windows = at >= self.rep_horizon();
        let in_finance_windows = at >= self.windows.horizon();
        match &event.kind {
            EventKind::Activity {
                rep_id,
                contact_id,
                channel,
                established,
                lead_id,
            } => {
                let rep = self.facts.reps.intern(rep_id);
                if in_rep_windows {
                    let contact = self.facts.contacts.intern(contact_id);
                    if let Some(state) = self.facts.reps.get_mut(rep) {
                        state.activities.push(ActivityFact {
                            at,
                            contact,
                            channel: *channel,
                            established: *established,
                        });
                    }
                }
                if let Some(lead_id) = lead_id {
                    self.lead(lead_id).offer_touch(Stamped::new(at, id, rep));
                }
            }
            EventKind::AppointmentSet { rep_id, contact_id } => {
                let rep = self.facts.reps.intern(rep_id);
                if in_rep_windows {
                    let contact = self.facts.contacts.intern(contact_id);
                    if let Some(state) = self.facts.reps.get_mut(rep) {
                        state.appointments.push(AppointmentFact { at, contact });
                    }
                }
            }
            EventKind::LeadCreated { lead_id, rep_id } => {
                let rep = rep_id
                    .as_deref()
                    .map(|rep_id| self.facts.reps.intern(rep_id));
                let lead = self.lead(lead_id);
                lead.offer_created(Stamped::new(at, id, ()));
                if let Some(rep) = rep {
                    lead.offer_assignment(Stamped::new(at, id, rep));
                }
            }
            EventKind::LeadAssigned { lead_id, rep_id } => {
                let rep = self.facts.reps.intern(rep_id);
                self.lead(lead_id)
                    .offer_assignment(Stamped::new(at, id, rep));
            }
            EventKind::LeadDisqualified { lead_id, rep_id } => {
                if let Some(rep_id) = rep_id {
                    self.facts.reps.intern(rep_id);
                }
                self.lead(lead_id).offer_disqualification(at);
            }
            EventKind::LeadQualified {
                lead_id,
                stage,
                rep_id,
            } => {
                let rep = rep_id
                    .as_deref()
                    .map(|rep_id| self.facts.reps.intern(rep_id));
                self.lead(lead_id)
                    .offer_qualification(*stage, Stamped::new(at, id, rep));
            }
            EventKind::DealOpened {
                deal_id,
                rep_id,
                attributes,
            } => {
                self.facts.reps.intern(rep_id);
                self.deal(deal_id)
                    .offer_open(Stamped::new(at, id, attributes.clone()));
            }
            EventKind::DealClosed {
                deal_id,
                rep_id,
                outcome,
                attributes,
            } => {
                let rep = self.facts.reps.intern(rep_id);
                let close = Close {
                    rep,
                    outcome: *outcome,
                    attributes: attributes.clone(),
                };
                self.deal(deal_id).offer_close(Stamped::new(at, id, close));
            }
            EventKind::CustomerAcquired {
                customer_id,
                segment,
            } => {
                let segment = self.facts.finance.segment(segment.as_deref());
                self.facts
                    .finance
                    .acquired(customer_id, Stamped::new(at, id, segment));
            }
            EventKind::Expense {
                amount, segment, ..
            } => {
                let segment = self.facts.finance.segment(segment.as_deref());
                let fact = MoneyFact {
                    at,
                    segment,
                    amount: *amount,
                };
                self.facts.finance.expense(fact, in_finance_windows);
            }
            EventKind::Revenue {
                customer_id,
                amount,
                recurring,
                segment,
            } => {
                let segment = self.facts.finance.segment(segment.as_deref());
                let fact = MoneyFact {
                    at,
                    segment,
                    amount: *amount,
                };
                self.facts.finance.revenue(
                    customer_id,
                    Stamped::new(at, id, fact),
                    *recurring,
                    in_finance_windows,
                );
            }
            EventKind::CustomerCost {
                customer_id,
                amount,
            } => self.facts.finance.cost(customer_id, *amount),
            EventKind::RepUpserted { rep_id, record } => {
                let rep = self.facts.reps.intern(rep_id);
                self.facts
                    .reps
                    .offer_upsert(rep, Stamped::new(at, id, record.clone()));
            }
        }
    }

    fn lead(&mut self, lead_id: &str) -> &mut Lead {
        self.facts.leads.entry_or_default(lead_id)
    }

    fn deal(&mut self, deal_id: &str) -> &mut Deal {
        self.facts.deals.entry_or_default(deal_id)
    }

    /// The metrics as of the clock.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::compute(&self.facts, &self.windows, &self.settings, &self.counters)
    }

    /// Sizes of the kept state, for benchmarks and capacity planning.
    pub fn state_sizes(&self) -> StateSizes {
        StateSizes {
            reps: self.facts.reps.len(),
            contacts: self.facts.contacts.len(),
            activity_facts: self.facts.reps.fact_count(),
            leads: self.facts.leads.len(),
            deals: self.facts.deals.len(),
            customers: self.facts.finance.customers.len(),
            event_ids: self.dedup.len(),
            pending: self.pending.len(),
        }
    }
}

/// How much state the engine holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateSizes {
    pub reps: usize,
    pub contacts: usize,
    pub activity_facts: usize,
    pub leads: usize,
    pub deals: usize,
    pub customers: usize,
    pub event_ids: usize,
    pub pending: usize,
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use salespulse_events::RejectReason;

    use super::*;

    /// A valid activity, 143 bytes long.
    const ACTIVITY: &str = r#"{"event_id":"e-1","type":"activity","occurred_at":"2026-11-23T09:00:00Z","rep_id":"r-1","contact_id":"c-1","channel":"call","established":true}"#;

    fn engine(max_event_bytes: usize) -> Engine {
        let settings = Settings {
            max_event_bytes,
            ..Settings::default()
        };
        let now = Utc
            .with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
            .single()
            .expect("valid instant");
        Engine::new(settings, now)
    }

    /// `ACTIVITY` followed by spaces (JSON whitespace) up to `len` bytes.
    fn padded(len: usize) -> Vec<u8> {
        let mut line = ACTIVITY.as_bytes().to_vec();
        line.resize(len, b' ');
        line
    }

    fn rejected(engine: &Engine, reason: RejectReason) -> u64 {
        let index = RejectReason::ALL
            .iter()
            .position(|r| *r == reason)
            .expect("a reason");
        engine.snapshot().pipeline.rejected[index]
    }

    #[test]
    fn the_size_limit_is_checked_before_parsing_and_is_inclusive() {
        assert_eq!(ACTIVITY.len(), 143);
        let mut engine = engine(Settings::default().max_event_bytes);
        assert_eq!(
            engine.ingest(&padded(1_048_576)),
            IngestOutcome::Accepted(EventType::Activity)
        );
        let IngestOutcome::Rejected(rejection) = engine.ingest(&padded(1_048_577)) else {
            panic!("one byte over the limit is rejected");
        };
        assert_eq!(rejection.reason, RejectReason::TooLarge);
        assert_eq!(
            rejection.detail,
            "1048577 bytes is more than the maximum of 1048576 bytes"
        );
        // Not parsed: an oversized line of garbage is too large, not invalid JSON.
        assert!(matches!(
            engine.ingest(&[b'x'; 1_048_577]),
            IngestOutcome::Rejected(Rejection {
                reason: RejectReason::TooLarge,
                ..
            })
        ));
        assert_eq!(rejected(&engine, RejectReason::TooLarge), 2);
        assert_eq!(rejected(&engine, RejectReason::InvalidJson), 0);
        assert_eq!(engine.snapshot().pipeline.accepted.iter().sum::<u64>(), 1);
    }

    #[test]
    fn a_configured_limit_applies() {
        let mut engine = engine(143);
        assert_eq!(
            engine.ingest(ACTIVITY.as_bytes()),
            IngestOutcome::Accepted(EventType::Activity)
        );
        assert!(matches!(
            engine.ingest(&padded(144)),
            IngestOutcome::Rejected(Rejection {
                reason: RejectReason::TooLarge,
                ..
            })
        ));
        // A too-large copy of an accepted event is rejected, not a duplicate.
        assert_eq!(engine.snapshot().pipeline.duplicates, 0);
    }

    #[test]
    fn a_tombstone_is_counted_as_ignored_and_nothing_else() {
        let mut engine = engine(Settings::default().max_event_bytes);
        let before = engine.snapshot();
        engine.ignore_tombstone();
        engine.ignore_tombstone();
        let after = engine.snapshot();
        assert_eq!(after.pipeline.ignored, [2]);
        assert_eq!(after.pipeline.rejected, before.pipeline.rejected);
        assert_eq!(after.pipeline.accepted, before.pipeline.accepted);
        assert_eq!(after.pipeline.duplicates, 0);
        assert_eq!(after.pipeline.last_event, None);
        // An empty value is not a tombstone: it is input, and not JSON.
        assert!(matches!(
            engine.ingest(b""),
            IngestOutcome::Rejected(Rejection {
                reason: RejectReason::InvalidJson,
                ..
            })
        ));
        assert_eq!(engine.snapshot().pipeline.ignored, [2]);
    }
}
