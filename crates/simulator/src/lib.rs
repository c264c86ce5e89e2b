//! A seeded, realistic generator of salespulse input events (EVENTS.md v1).
//!
//! Reps work in teams (BDRs qualify leads, AEs close deals). Leads arrive per BDR as a Poisson
//! process; the first touch follows after a lognormal delay (median ~3.5 minutes, long tail), some
//! contacts book appointments, some leads become MQLs and SQLs, SQLs become deals that are won or
//! lost (a few are reopened), won deals become customers with monthly recurring revenue, and every
//! month books S&M expense. A small share of events arrives late or twice, and optionally a share
//! is replaced by malformed input. The generator is pure: the same configuration gives the same
//! bytes, and it never reads the wall clock.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use chrono::{DateTime, Datelike, TimeDelta, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp, LogNormal};
use serde_json::{Value, json};

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    pub seed: u64,
    /// Event time of the first event.
    pub start: DateTime<Utc>,
    pub teams: usize,
    pub bdrs_per_team: usize,
    pub aes_per_team: usize,
    /// Lead arrivals per BDR per hour of event time.
    pub leads_per_hour: f64,
    /// Share of events delivered a second time, byte for byte.
    pub duplicate_share: f64,
    /// Share of events delivered up to three hours after their time.
    pub late_share: f64,
    /// Share of events replaced by input that must be rejected.
    pub malformed_share: f64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            start: DateTime::UNIX_EPOCH,
            teams: 3,
            bdrs_per_team: 3,
            aes_per_team: 2,
            leads_per_hour: 6.0,
            duplicate_share: 0.01,
            late_share: 0.01,
            malformed_share: 0.0,
        }
    }
}

/// One message to deliver: where it goes, its key (EVENTS.md "Topics and keys") and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimEvent {
    pub topic: &'static str,
    pub key: String,
    pub payload: Vec<u8>,
    pub occurred_at: DateTime<Utc>,
    /// True when the payload was deliberately made invalid.
    pub malformed: bool,
}

const TEAM_NAMES: [&str; 6] = ["east", "west", "north", "south", "central", "emea"];
const SEGMENTS: [&str; 2] = ["smb", "enterprise"];
const INDUSTRIES: [&str; 5] = ["retail", "medical", "software", "finance", "manufacturing"];
const DEAL_CHANNELS: [&str; 3] = ["inbound", "outbound", "partner"];
const SOURCES: [&str; 4] = ["webinar", "ads", "referral", "website"];
const ACTIVITY_CHANNELS: [&str; 3] = ["call", "email", "chat"];
const AMOUNTS: [i64; 6] = [2_500, 6_000, 12_500, 38_000, 75_000, 150_000];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Bdr,
    Ae,
}

#[derive(Debug, Clone)]
struct Rep {
    id: String,
    team: usize,
    role: Role,
}

/// Something that happens at an instant of event time.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    /// The next lead for this BDR arrives (and the one after it is scheduled).
    NextLead(usize),
    /// The next outbound activity of this rep.
    NextActivity(usize),
    /// Month start: expenses, recurring revenue and costs.
    Month,
    /// Deliver this event.
    Deliver(Box<SimEvent>),
}

/// A heap entry ordered by (when, sequence number), so equal instants keep insertion order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Scheduled {
    at: DateTime<Utc>,
    sequence: u64,
    action: Action,
}

impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.sequence).cmp(&(other.at, other.sequence))
    }
}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A customer paying every month.
#[derive(Debug, Clone)]
struct Customer {
    id: String,
    segment: &'static str,
    monthly: i64,
}

/// The generator: an endless iterator of events in delivery order.
#[derive(Debug)]
pub struct Simulator {
    config: SimConfig,
    rng: StdRng,
    reps: Vec<Rep>,
    queue: BinaryHeap<Reverse<Scheduled>>,
    sequence: u64,
    next_id: u64,
    leads: u64,
    contacts: u64,
    deals: u64,
    customers: Vec<Customer>,
    response_delay: LogNormal<f64>,
}

impl Simulator {
    pub fn new(config: SimConfig) -> Simulator {
        let mut reps = Vec::new();
        for team in 0..config.teams.max(1) {
            let name = TEAM_NAMES[team % TEAM_NAMES.len()];
            for n in 1..=config.bdrs_per_team {
                reps.push(Rep {
                    id: format!("r-{name}-bdr{n}"),
                    team,
                    role: Role::Bdr,
                });
            }
            for n in 1..=config.aes_per_team {
                reps.push(Rep {
                    id: format!("r-{name}-ae{n}"),
                    team,
                    role: Role::Ae,
                });
            }
        }
        // Median e^5.35 ≈ 210 s: most leads within the 5-minute SLA, a long tail beyond it.
        let response_delay = LogNormal::new(5.35, 0.9).expect("finite lognormal parameters");
        let mut simulator = Simulator {
            rng: StdRng::seed_from_u64(config.seed),
            reps,
            queue: BinaryHeap::new(),
            sequence: 0,
            next_id: 0,
            leads: 0,
            contacts: 0,
            deals: 0,
            customers: Vec::new(),
            response_delay,
            config,
        };
        let start = simulator.config.start;
        for rep in 0..simulator.reps.len() {
            let first_lead = simulator.after(start, simulator.lead_rate(rep));
            if simulator.reps[rep].role == Role::Bdr {
                simulator.schedule(first_lead, Action::NextLead(rep));
            }
            let first_activity = simulator.after(start, simulator.activity_rate(rep));
            simulator.schedule(first_activity, Action::NextActivity(rep));
        }
        simulator.schedule(start, Action::Month);
        simulator
    }

    /// The roster: one `rep_upserted` per rep, a day before the start.
    pub fn roster_events(&self) -> Vec<SimEvent> {
        let at = self.config.start - TimeDelta::days(1);
        self.reps
            .iter()
            .map(|rep| {
                let mut body = json!({
                    "event_id": format!("sim-{}-roster-{}", self.config.seed, rep.id),
                    "type": "rep_upserted",
                    "occurred_at": timestamp(at),
                    "rep_id": rep.id,
                    "team": TEAM_NAMES[rep.team % TEAM_NAMES.len()],
                    "role": if rep.role == Role::Bdr { "bdr" } else { "ae" },
                });
                match rep.role {
                    Role::Bdr => body["max_daily_leads"] = json!(40),
                    Role::Ae => body["max_daily_deals"] = json!(5),
                }
                SimEvent {
                    topic: "sales.roster",
                    key: rep.id.clone(),
                    payload: body.to_string().into_bytes(),
                    occurred_at: at,
                    malformed: false,
                }
            })
            .collect()
    }

    fn lead_rate(&self, _rep: usize) -> f64 {
        self.config.leads_per_hour / 3600.0
    }

    /// Outbound activities per second: enough that activities are about two thirds of all events.
    fn activity_rate(&self, rep: usize) -> f64 {
        let per_lead = match self.reps[rep].role {
            Role::Bdr => 3.0,
            Role::Ae => 2.5,
        };
        self.config.leads_per_hour * per_lead / 3600.0
    }

    /// An exponential waiting time after `at` for a Poisson process of `rate` per second.
    fn after(&mut self, at: DateTime<Utc>, rate: f64) -> DateTime<Utc> {
        let wait = Exp::new(rate.max(1e-9)).map_or(3600.0, |exp| exp.sample(&mut self.rng));
        at + seconds(wait)
    }

    fn schedule(&mut self, at: DateTime<Utc>, action: Action) {
        self.sequence += 1;
        self.queue.push(Reverse(Scheduled {
            at,
            sequence: self.sequence,
            action,
        }));
    }

    /// Schedules the delivery of an event (late, duplicated or malformed by the configured shares).
    fn emit(&mut self, topic: &'static str, key: &str, at: DateTime<Utc>, mut body: Value) {
        self.next_id += 1;
        body["event_id"] = json!(format!("sim-{}-{}", self.config.seed, self.next_id));
        body["occurred_at"] = json!(timestamp(at));
        let malformed = self
            .rng
            .random_bool(self.config.malformed_share.clamp(0.0, 1.0));
        let payload = if malformed {
            self.malform(body)
        } else {
            body.to_string().into_bytes()
        };
        let event = SimEvent {
            topic,
            key: key.to_owned(),
            payload,
            occurred_at: at,
            malformed,
        };
        let deliver_at = if self.rng.random_bool(self.config.late_share.clamp(0.0, 1.0)) {
            at + seconds(self.rng.random_range(600.0..10_800.0))
        } else {
            at
        };
        if self
            .rng
            .random_bool(self.config.duplicate_share.clamp(0.0, 1.0))
        {
            let again = deliver_at + seconds(self.rng.random_range(1.0..600.0));
            self.schedule(again, Action::Deliver(Box::new(event.clone())));
        }
        self.schedule(deliver_at, Action::Deliver(Box::new(event)));
    }

    /// Input that must be rejected, one of six kinds of mistakes.
    fn malform(&mut self, mut body: Value) -> Vec<u8> {
        match self.rng.random_range(0..6) {
            0 => return b"{\"event_id\": \"broken".to_vec(),
            1 => body["type"] = json!("meeting"),
            2 => {
                body["type"] = json!("expense");
                body["amount"] = json!(-5);
                body["category"] = json!("sales");
            }
            3 => {
                if let Some(object) = body.as_object_mut() {
                    object.remove("occurred_at");
                }
            }
            4 => body["occurred_at"] = json!("2026-11-23 09:00:00"),
            _ => {
                body["type"] = json!("revenue");
                body["customer_id"] = json!("cu-foreign");
                body["amount"] = json!("10.00");
                body["recurring"] = json!(true);
                body["currency"] = json!("EUR");
            }
        }
        body.to_string().into_bytes()
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        *items.choose(&mut self.rng).unwrap_or(&items[0])
    }

    fn new_lead(&mut self, bdr: usize, at: DateTime<Utc>) {
        self.leads += 1;
        self.contacts += 1;
        let lead = format!("L-{}-{}", self.config.seed, self.leads);
        let contact = format!("c-{}-{}", self.config.seed, self.contacts);
        let rep = self.reps[bdr].clone();
        let segment = self.pick(&SEGMENTS);
        let source = self.pick(&SOURCES);
        self.emit(
            "sales.leads",
            &lead,
            at,
            json!({"type": "lead_created", "lead_id": lead,
            "rep_id": rep.id, "source": source, "segment": segment}),
        );

        let touched = at + seconds(self.response_delay.sample(&mut self.rng));
        let established = self.rng.random_bool(0.6);
        let channel = self.pick(&ACTIVITY_CHANNELS);
        self.emit("sales.activities", &rep.id, touched, json!({"type": "activity", "rep_id": rep.id,
            "contact_id": contact, "channel": channel, "established": established, "lead_id": lead}));
        if established && self.rng.random_bool(0.35) {
            let booked = touched + seconds(self.rng.random_range(60.0..1_200.0));
            self.emit(
                "sales.activities",
                &rep.id,
                booked,
                json!({"type": "appointment_set",
                "rep_id": rep.id, "contact_id": contact, "appointment_id": format!("ap-{lead}")}),
            );
        }
        if !self.rng.random_bool(0.4) {
            return;
        }
        let qualified = touched + seconds(self.rng.random_range(3_600.0..14_400.0));
        self.emit(
            "sales.leads",
            &lead,
            qualified,
            json!({"type": "lead_qualified", "lead_id": lead, "stage": "mql"}),
        );
        if self.rng.random_bool(0.5) {
            self.hand_over(&lead, rep.team, qualified, segment);
        }
    }

    /// An SQL handed to an AE of the team, and the deal that follows.
    fn hand_over(&mut self, lead: &str, team: usize, qualified: DateTime<Utc>, segment: &str) {
        let aes: Vec<String> = self
            .reps
            .iter()
            .filter(|rep| rep.team == team && rep.role == Role::Ae)
            .map(|rep| rep.id.clone())
            .collect();
        let Some(ae) = aes.choose(&mut self.rng).cloned() else {
            return;
        };
        let assigned = qualified + TimeDelta::hours(20);
        self.emit(
            "sales.leads",
            lead,
            assigned,
            json!({"type": "lead_assigned", "lead_id": lead, "rep_id": ae}),
        );
        self.emit(
            "sales.leads",
            lead,
            assigned + TimeDelta::hours(1),
            json!({"type": "lead_qualified", "lead_id": lead, "stage": "sql", "rep_id": ae}),
        );

        self.deals += 1;
        let deal = format!("D-{}-{}", self.config.seed, self.deals);
        let amount = self.pick(&AMOUNTS);
        // Amounts arrive as decimal strings or numbers, as CRMs send them.
        let amount_value = if self.deals.is_multiple_of(2) {
            json!(format!("{amount}.00"))
        } else {
            json!(amount)
        };
        let industry = self.pick(&INDUSTRIES);
        let channel = self.pick(&DEAL_CHANNELS);
        let opened = assigned + TimeDelta::hours(2);
        self.emit(
            "sales.deals",
            &ae,
            opened,
            json!({"type": "deal_opened", "deal_id": deal, "rep_id": ae,
            "amount": amount_value, "industry": industry, "channel": channel, "segment": segment}),
        );
        let closed = opened + TimeDelta::days(self.rng.random_range(3..30));
        let won = self.rng.random_bool(0.35);
        if self.rng.random_bool(0.05) {
            // Reopened: lost first, won a week later; only the latest close counts.
            self.emit(
                "sales.deals",
                &ae,
                closed,
                json!({"type": "deal_closed", "deal_id": deal, "rep_id": ae, "outcome": "lost"}),
            );
            self.close_won(&deal, &ae, closed + TimeDelta::days(7), segment, amount);
        } else if won {
            self.close_won(&deal, &ae, closed, segment, amount);
        } else {
            self.emit(
                "sales.deals",
                &ae,
                closed,
                json!({"type": "deal_closed", "deal_id": deal, "rep_id": ae, "outcome": "lost"}),
            );
        }
    }

    fn close_won(&mut self, deal: &str, ae: &str, at: DateTime<Utc>, segment: &str, amount: i64) {
        self.emit(
            "sales.deals",
            ae,
            at,
            json!({"type": "deal_closed", "deal_id": deal, "rep_id": ae, "outcome": "won"}),
        );
        let customer = format!("cu-{deal}");
        self.emit("sales.finance", &customer, at + TimeDelta::minutes(5),
            json!({"type": "customer_acquired", "customer_id": customer, "segment": segment, "deal_id": deal}));
        let segment = if segment == SEGMENTS[0] {
            SEGMENTS[0]
        } else {
            SEGMENTS[1]
        };
        self.customers.push(Customer {
            id: customer,
            segment,
            monthly: (amount / 12).max(1),
        });
    }

    fn outbound_activity(&mut self, rep: usize, at: DateTime<Utc>) {
        let rep = self.reps[rep].id.clone();
        let contact = format!(
            "c-{}-{}",
            self.config.seed,
            self.rng.random_range(1..=self.contacts.max(1))
        );
        let channel = self.pick(&ACTIVITY_CHANNELS);
        let established = self.rng.random_bool(0.3);
        self.emit(
            "sales.activities",
            &rep,
            at,
            json!({"type": "activity", "rep_id": rep,
            "contact_id": contact, "channel": channel, "established": established}),
        );
    }

    /// S&M spend for the month (per segment for marketing, company-wide for sales), then each
    /// customer's recurring revenue and cost.
    fn month(&mut self, at: DateTime<Utc>) {
        for segment in SEGMENTS {
            let amount = self.rng.random_range(20_000..40_000);
            self.emit(
                "sales.finance",
                segment,
                at,
                json!({"type": "expense", "amount": amount,
                "category": "marketing", "segment": segment, "currency": "USD"}),
            );
        }
        let sales = self.rng.random_range(10_000..30_000);
        self.emit(
            "sales.finance",
            "company",
            at,
            json!({"type": "expense", "amount": format!("{sales}.50"), "category": "sales"}),
        );
        for customer in self.customers.clone() {
            self.emit("sales.finance", &customer.id, at + TimeDelta::hours(1), json!({"type": "revenue",
                "customer_id": customer.id, "amount": format!("{}.00", customer.monthly), "recurring": true, "segment": customer.segment}));
            self.emit(
                "sales.finance",
                &customer.id,
                at + TimeDelta::hours(2),
                json!({"type": "customer_cost",
                "customer_id": customer.id, "amount": customer.monthly / 7}),
            );
        }
    }
}

impl Iterator for Simulator {
    type Item = SimEvent;

    fn next(&mut self) -> Option<SimEvent> {
        loop {
            let Reverse(Scheduled { at, action, .. }) = self.queue.pop()?;
            match action {
                Action::Deliver(event) => return Some(*event),
                Action::NextLead(bdr) => {
                    self.new_lead(bdr, at);
                    let next = self.after(at, self.lead_rate(bdr));
                    self.schedule(next, Action::NextLead(bdr));
                }
                Action::NextActivity(rep) => {
                    self.outbound_activity(rep, at);
                    let next = self.after(at, self.activity_rate(rep));
                    self.schedule(next, Action::NextActivity(rep));
                }
                Action::Month => {
                    self.month(at);
                    self.schedule(next_month(at), Action::Month);
                }
            }
        }
    }
}

fn seconds(value: f64) -> TimeDelta {
    TimeDelta::milliseconds((value * 1000.0) as i64)
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Midnight UTC of the first day of the next month.
fn next_month(at: DateTime<Utc>) -> DateTime<Utc> {
    let (year, month) = if at.month() == 12 {
        (at.year() + 1, 1)
    } else {
        (at.year(), at.month() + 1)
    };
    Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .unwrap_or(at + TimeDelta::days(31))
}

#[cfg(test)]
mod tests {
    use super::*;
    use salespulse_events::{EventKind, ValidationRules, decode};

    fn config(seed: u64, malformed_share: f64) -> SimConfig {
        SimConfig {
            seed,
            start: Utc
                .with_ymd_and_hms(2026, 10, 15, 0, 0, 0)
                .single()
                .expect("start"),
            malformed_share,
            ..SimConfig::default()
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes() {
        let a: Vec<SimEvent> = Simulator::new(config(7, 0.01)).take(3_000).collect();
        let b: Vec<SimEvent> = Simulator::new(config(7, 0.01)).take(3_000).collect();
        let c: Vec<SimEvent> = Simulator::new(config(8, 0.01)).take(3_000).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn valid_events_decode_and_malformed_ones_are_rejected() {
        let rules = ValidationRules::default();
        let simulator = Simulator::new(config(3, 0.01));
        let roster = simulator.roster_events();
        assert_eq!(roster.len(), 15);
        let events: Vec<SimEvent> = roster.into_iter().chain(simulator.take(20_000)).collect();
        let mut activities = 0;
        let mut malformed = 0;
        let mut created = std::collections::HashMap::new();
        let mut touches = Vec::new();
        for event in &events {
            let decoded = decode(&event.payload, &rules);
            assert_eq!(
                decoded.is_err(),
                event.malformed,
                "{}",
                String::from_utf8_lossy(&event.payload)
            );
            let Ok(decoded) = decoded else {
                malformed += 1;
                continue;
            };
            match &decoded.kind {
                EventKind::Activity {
                    lead_id, rep_id, ..
                } => {
                    activities += 1;
                    assert_eq!((event.topic, &event.key), ("sales.activities", rep_id));
                    if let Some(lead) = lead_id {
                        touches.push((lead.clone(), decoded.occurred_at));
                    }
                }
                EventKind::LeadCreated { lead_id, .. } => {
                    assert_eq!((event.topic, &event.key), ("sales.leads", lead_id));
                    created.insert(lead_id.clone(), decoded.occurred_at);
                }
                EventKind::DealClosed { rep_id, .. } => {
                    assert_eq!((event.topic, &event.key), ("sales.deals", rep_id))
                }
                EventKind::Revenue { customer_id, .. } => {
                    assert_eq!((event.topic, &event.key), ("sales.finance", customer_id))
                }
                _ => {}
            }
        }
        // Late delivery or a malformed creation can hide a lead's creation: those are skipped.
        let mut response_times: Vec<i64> = touches
            .iter()
            .filter_map(|(lead, touched)| Some((*touched - *created.get(lead)?).num_milliseconds()))
            .collect();
        let share = activities as f64 / events.len() as f64;
        assert!(
            (0.55..0.8).contains(&share),
            "activities are {share:.2} of all events"
        );
        assert!(
            (120..=280).contains(&malformed),
            "{malformed} malformed of 20k"
        );
        response_times.sort_unstable();
        assert!(response_times.iter().all(|ms| *ms > 0));
        let median = response_times[response_times.len() / 2] as f64 / 1000.0;
        assert!(
            (150.0..300.0).contains(&median),
            "median response {median} s"
        );
    }

    #[test]
    fn duplicates_are_byte_identical_and_about_one_percent() {
        let events: Vec<SimEvent> = Simulator::new(config(5, 0.0)).take(20_000).collect();
        let mut seen = std::collections::HashSet::new();
        let duplicates = events
            .iter()
            .filter(|event| !seen.insert(event.payload.clone()))
            .count();
        assert!(
            (100..=300).contains(&duplicates),
            "{duplicates} duplicates in 20k"
        );
    }
}
