//! A pure, seeded, realistic generator of salespulse input events (EVENTS.md v1).
//!
//! Reps work in teams: BDRs work leads, AEs work deals, one `other` rep per team (a manager)
//! makes the odd call. Leads arrive per BDR as a Poisson process; the first touch follows after
//! a lognormal delay (median about 3.5 minutes, so the 5-minute SLA is met about 70 % of the
//! time, with a slow tail of hours); an established contact books an appointment now and then;
//! leads become MQLs, some of those SQLs handed to an AE, who opens a deal that is won about a
//! third of the time (a few lost deals are reopened and won later). A won deal brings a
//! customer with monthly recurring revenue (until churn), one-off fees and costs, and every
//! month books sales and marketing expense. Outreach activities (calls, emails, chats, on
//! contacts the rep knows or new ones) make up about two thirds of all events.
//!
//! The generator is pure: no I/O, no wall clock (the caller passes the start instant), and the
//! same configuration always gives the same bytes. Events come out in event-time order, except
//! a `late_share` that comes out up to three hours after its time and a `duplicate_share`
//! delivered a second time (the same bytes) a little later; a `malformed_share` is replaced by
//! a line that must be rejected, flagged [`SimEvent::malformed`] (see [`intended_reason`]).

mod dice;
mod malformed;

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};

use chrono::{DateTime, Datelike, SecondsFormat, TimeDelta, TimeZone, Utc};
use serde_json::{Map, Number, Value};

use crate::dice::Dice;
use crate::malformed::Defect;

/// Topic of `activity` and `appointment_set` (key `rep_id`).
pub const TOPIC_ACTIVITIES: &str = "sales.activities";
/// Topic of `lead_*` (key `lead_id`).
pub const TOPIC_LEADS: &str = "sales.leads";
/// Topic of `deal_*` (key `rep_id`).
pub const TOPIC_DEALS: &str = "sales.deals";
/// Topic of `customer_*`, `revenue` (key `customer_id`) and `expense` (key `segment` or
/// `"company"`).
pub const TOPIC_FINANCE: &str = "sales.finance";
/// Topic of `rep_upserted` (key `rep_id`).
pub const TOPIC_ROSTER: &str = "sales.roster";

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    pub seed: u64,
    /// Event time of the roster and of the first events; nothing is stamped earlier.
    pub start: DateTime<Utc>,
    pub teams: usize,
    pub bdrs_per_team: usize,
    pub aes_per_team: usize,
    /// Lead arrivals per BDR per hour of event time (a Poisson process, around the clock).
    /// Every other volume follows from it, so the total event rate is proportional to it.
    pub leads_per_hour: f64,
    /// Share of events delivered a second time, byte for byte, up to two hours later.
    pub duplicate_share: f64,
    /// Share of events delivered out of order, one minute to three hours after their time.
    pub late_share: f64,
    /// Share of events replaced by a line that must be rejected.
    pub malformed_share: f64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            start: Utc
                .with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
                .single()
                .unwrap_or(DateTime::UNIX_EPOCH),
            teams: 3,
            bdrs_per_team: 3,
            aes_per_team: 2,
            leads_per_hour: 2.0,
            duplicate_share: 0.01,
            late_share: 0.01,
            malformed_share: 0.0,
        }
    }
}

/// One message to deliver: its topic and key (EVENTS.md "Topics and keys") and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimEvent {
    pub topic: &'static str,
    pub key: String,
    /// One JSON object, no trailing newline (or, when `malformed`, whatever the bad line is).
    pub payload: Vec<u8>,
    /// The event's time (for a malformed line: the time of the event it replaced).
    pub occurred_at: DateTime<Utc>,
    /// True when the payload was deliberately made invalid.
    pub malformed: bool,
}

/// The rejection reason a malformed payload was made for (`invalid_json`, `unknown_type`,
/// `bad_timestamp`, `missing_field`, `invalid_field`, `negative_amount`, `foreign_currency`),
/// read from the `_sim_defect` marker it carries; `None` for a valid payload.
pub fn intended_reason(payload: &[u8]) -> Option<&'static str> {
    malformed::intended_reason(payload)
}

// ---------------------------------------------------------------------------------------------
// The model's constants.

const TEAM_NAMES: [&str; 8] = [
    "east", "west", "central", "north", "south", "emea", "apac", "latam",
];
const SEGMENTS: [(&str, f64); 3] = [("smb", 0.6), ("mid-market", 0.28), ("enterprise", 0.12)];
const SOURCES: [(&str, f64); 6] = [
    ("website", 0.3),
    ("ads", 0.25),
    ("webinar", 0.15),
    ("referral", 0.15),
    ("event", 0.05),
    ("outbound", 0.1),
];
const INDUSTRIES: [(&str, f64); 7] = [
    ("software", 0.25),
    ("retail", 0.2),
    ("finance", 0.15),
    ("healthcare", 0.12),
    ("manufacturing", 0.12),
    ("education", 0.08),
    ("logistics", 0.08),
];
const CHANNELS: [(&str, f64); 3] = [("call", 0.5), ("email", 0.35), ("chat", 0.15)];
const CHAT_FIRST: [(&str, f64); 3] = [("call", 0.35), ("email", 0.25), ("chat", 0.4)];
const AE_CHANNELS: [(&str, f64); 3] = [("call", 0.4), ("email", 0.5), ("chat", 0.1)];

const MINUTE: f64 = 60.0;
const HOUR: f64 = 3_600.0;
const DAY: f64 = 86_400.0;
/// No delay the model draws is longer than this (a bound for the lognormal tails).
const MAX_DELAY: f64 = 400.0 * DAY;
/// Contacts a rep remembers for later outreach.
const CONTACT_MEMORY: usize = 300;

/// Response time of a lead: most are answered from a lognormal around `RESPONSE_MEDIAN`, a few
/// wait for a busy or absent rep (`SLOW_RESPONSE_MEDIAN`).
const RESPONSE_MEDIAN: f64 = 190.0;
const RESPONSE_SIGMA: f64 = 0.6;
const SLOW_RESPONSE_SHARE: f64 = 0.07;
const SLOW_RESPONSE_MEDIAN: f64 = 40.0 * MINUTE;

/// Inbound leads closed without a touch (spam, duplicates of open leads, existing customers,
/// students): about one in eight on a working floor, mostly triaged within minutes of arriving
/// (a lognormal tail reaches hours), so the live queue holds only leads that still need an answer.
const UNTOUCHED_DISQUALIFIED_SHARE: f64 = 0.12;
const DISQUALIFY_MEDIAN: f64 = 10.0 * MINUTE;
const DISQUALIFY_REASONS: [(&str, f64); 4] = [
    ("junk", 0.45),
    ("duplicate", 0.3),
    ("existing_customer", 0.15),
    ("converted_elsewhere", 0.1),
];

/// Outreach activities per rep per lead arrival of a BDR (the mix of event types).
const BDR_OUTREACH_PER_LEAD: f64 = 1.1;
const AE_OUTREACH_PER_LEAD: f64 = 1.4;
const OTHER_OUTREACH_PER_LEAD: f64 = 0.3;

fn established_chance(channel: &str) -> f64 {
    match channel {
        "call" => 0.3,
        "email" => 0.22,
        _ => 0.55,
    }
}

/// Median sales cycle and win probability per segment.
fn deal_profile(segment: &str) -> (f64, f64) {
    match segment {
        "enterprise" => (16.0 * DAY, 0.27),
        "mid-market" => (8.0 * DAY, 0.33),
        _ => (4.0 * DAY, 0.38),
    }
}

/// Median deal amount (annual contract value) per segment, in dollars.
fn deal_median(segment: &str) -> f64 {
    match segment {
        "enterprise" => 120_000.0,
        "mid-market" => 30_000.0,
        _ => 8_000.0,
    }
}

/// Marketing spend per lead per segment, in dollars.
fn cost_per_lead(segment: &str) -> f64 {
    match segment {
        "enterprise" => 1_200.0,
        "mid-market" => 500.0,
        _ => 250.0,
    }
}

// ---------------------------------------------------------------------------------------------
// The simulator.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Bdr,
    Ae,
    Other,
}

impl Role {
    const fn as_str(self) -> &'static str {
        match self {
            Role::Bdr => "bdr",
            Role::Ae => "ae",
            Role::Other => "other",
        }
    }
}

#[derive(Debug, Clone)]
struct Rep {
    id: String,
    team: usize,
    role: Role,
    /// Recent contacts, for outreach that is not about a new lead.
    contacts: VecDeque<String>,
}

#[derive(Debug, Clone)]
struct Team {
    bdrs: Vec<usize>,
    aes: Vec<usize>,
}

#[derive(Debug, Clone)]
struct Customer {
    id: String,
    segment: &'static str,
    /// Monthly recurring revenue in cents.
    mrr: i64,
}

/// What happens at an instant: an event to deliver, or a step of the model to run.
#[derive(Debug, Clone)]
enum Item {
    Deliver(SimEvent),
    LeadArrives { bdr: usize },
    Outreach { rep: usize },
    MonthStarts,
    Bill(Customer),
}

#[derive(Debug, Clone)]
struct Entry {
    at: DateTime<Utc>,
    seq: u64,
    item: Item,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The generator: an endless iterator of [`SimEvent`]s (take as many as needed, or stop at an
/// event time). The roster comes separately from [`Simulator::roster_events`], to be delivered
/// first.
#[derive(Debug, Clone)]
pub struct Simulator {
    config: SimConfig,
    dice: Dice,
    reps: Vec<Rep>,
    teams: Vec<Team>,
    roster: Vec<SimEvent>,
    queue: BinaryHeap<Reverse<Entry>>,
    /// Tie-break of the queue: equal instants come out in the order they were scheduled.
    seq: u64,
    /// The `<n>` of the next `sim-<seed>-<n>` event id.
    next_event: u64,
    leads: u64,
    contacts: u64,
    deals: u64,
    customers: u64,
    appointments: u64,
    /// Defects drawn for an event that could not carry them (a negative amount for an event
    /// without one, a foreign currency for a type without money), owed to the next event that
    /// can: so the mix of reasons stays even although few events carry money.
    owed: Vec<Defect>,
}

impl Simulator {
    pub fn new(config: SimConfig) -> Simulator {
        let start = millis(config.start);
        let config = SimConfig { start, ..config };
        let mut simulator = Simulator {
            dice: Dice::new(config.seed),
            reps: Vec::new(),
            teams: Vec::new(),
            roster: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            next_event: 0,
            leads: 0,
            contacts: 0,
            deals: 0,
            customers: 0,
            appointments: 0,
            owed: Vec::new(),
            config,
        };
        simulator.hire();
        simulator.schedule_first();
        simulator
    }

    /// One `rep_upserted` per rep (teams in order, BDRs, then AEs, then the `other` rep),
    /// stamped at `start`, to deliver before the iterator's events.
    pub fn roster_events(&self) -> Vec<SimEvent> {
        self.roster.clone()
    }

    /// Builds the teams and the roster events.
    fn hire(&mut self) {
        let config = self.config.clone();
        for team in 0..config.teams {
            let name = TEAM_NAMES
                .get(team)
                .map_or_else(|| format!("team-{}", team + 1), |name| (*name).to_owned());
            let mut members = Team {
                bdrs: Vec::new(),
                aes: Vec::new(),
            };
            let roles = std::iter::repeat_n(Role::Bdr, config.bdrs_per_team)
                .chain(std::iter::repeat_n(Role::Ae, config.aes_per_team))
                .chain(std::iter::once(Role::Other));
            let mut numbers = [0usize; 3];
            for role in roles {
                let number = &mut numbers[role as usize];
                *number += 1;
                let short = match role {
                    Role::Bdr => "bdr",
                    Role::Ae => "ae",
                    Role::Other => "mgr",
                };
                let id = format!("r-{name}-{short}{number}");
                let index = self.reps.len();
                match role {
                    Role::Bdr => members.bdrs.push(index),
                    Role::Ae => members.aes.push(index),
                    Role::Other => {}
                }
                let mut body = Map::new();
                body.insert("rep_id".to_owned(), text(&id));
                body.insert("team".to_owned(), text(&name));
                body.insert("role".to_owned(), text(role.as_str()));
                // Some reps leave their maximum to the configured default.
                if role == Role::Bdr && self.dice.chance(0.8) {
                    let max = self.dice.uniform(30.0, 60.0).round() as u64;
                    body.insert("max_daily_leads".to_owned(), Value::from(max));
                }
                if role == Role::Ae && self.dice.chance(0.8) {
                    let max = self.dice.uniform(3.0, 8.0).round() as u64;
                    body.insert("max_daily_deals".to_owned(), Value::from(max));
                }
                if self.dice.chance(0.3) {
                    body.insert("active".to_owned(), Value::Bool(true));
                }
                let event = self.event(config.start, "rep_upserted", id.clone(), body, false);
                self.roster.push(event);
                self.reps.push(Rep {
                    id,
                    team,
                    role,
                    contacts: VecDeque::new(),
                });
            }
            self.teams.push(members);
        }
    }

    fn schedule_first(&mut self) {
        let start = self.config.start;
        self.schedule(start, Item::MonthStarts);
        for rep in 0..self.reps.len() {
            if self.reps[rep].role == Role::Bdr
                && let Some(gap) = self.gap(self.config.leads_per_hour)
                && let Some(at) = after(start, gap)
            {
                self.schedule(at, Item::LeadArrives { bdr: rep });
            }
            if let Some(gap) = self.gap(self.outreach_rate(rep))
                && let Some(at) = after(start, gap)
            {
                self.schedule(at, Item::Outreach { rep });
            }
        }
    }

    /// Outreach activities per hour of one rep.
    fn outreach_rate(&self, rep: usize) -> f64 {
        let per_lead = match self.reps.get(rep).map(|rep| rep.role) {
            Some(Role::Bdr) => BDR_OUTREACH_PER_LEAD,
            Some(Role::Ae) => AE_OUTREACH_PER_LEAD,
            _ => OTHER_OUTREACH_PER_LEAD,
        };
        per_lead * self.config.leads_per_hour
    }

    /// The seconds to the next arrival of a Poisson process of `per_hour` (none if it is 0).
    fn gap(&mut self, per_hour: f64) -> Option<f64> {
        (per_hour.is_finite() && per_hour > 0.0).then(|| self.dice.exponential(HOUR / per_hour))
    }

    fn schedule(&mut self, at: DateTime<Utc>, item: Item) {
        self.seq += 1;
        self.queue.push(Reverse(Entry {
            at,
            seq: self.seq,
            item,
        }));
    }

    /// Builds one event: envelope, payload (or a malformed line), topic and key.
    fn event(
        &mut self,
        at: DateTime<Utc>,
        kind: &'static str,
        key: String,
        mut body: Map<String, Value>,
        may_malform: bool,
    ) -> SimEvent {
        let at = millis(at);
        let event_id = format!("sim-{}-{}", self.config.seed, self.next_event);
        self.next_event += 1;
        body.insert("event_id".to_owned(), Value::String(event_id));
        body.insert("type".to_owned(), text(kind));
        body.insert(
            "occurred_at".to_owned(),
            text(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        );
        let defect = if may_malform {
            self.defect(kind, &body)
        } else {
            None
        };
        let malformed = defect.is_some();
        let payload = match defect {
            Some(defect) => malformed::malform(&mut self.dice, defect, kind, at, body),
            None => Value::Object(body).to_string().into_bytes(),
        };
        SimEvent {
            topic: topic_of(kind),
            key,
            payload,
            occurred_at: at,
            malformed,
        }
    }

    /// Whether (and how) to damage the event about to be built: an owed defect it can carry,
    /// else, with probability `malformed_share`, one of the seven drawn evenly. A drawn defect
    /// the event cannot carry is owed to a later event (so every draw damages exactly one
    /// event and the share holds); with a share of 1 or more there is no later event to owe it
    /// to, so another defect is drawn.
    fn defect(&mut self, kind: &str, body: &Map<String, Value>) -> Option<Defect> {
        if let Some(index) = self
            .owed
            .iter()
            .position(|defect| malformed::applicable(*defect, kind, body))
        {
            return Some(self.owed.swap_remove(index));
        }
        if !self.dice.chance(self.config.malformed_share) {
            return None;
        }
        let drawn = self.dice.pick(&Defect::ALL).copied()?;
        if malformed::applicable(drawn, kind, body) {
            return Some(drawn);
        }
        if self.config.malformed_share < 1.0 {
            self.owed.push(drawn);
            return None;
        }
        let fitting: Vec<Defect> = Defect::ALL
            .into_iter()
            .filter(|defect| malformed::applicable(*defect, kind, body))
            .collect();
        self.dice.pick(&fitting).copied()
    }

    /// Creates an event at `at` and schedules its delivery: on time, late, and/or twice.
    fn emit(
        &mut self,
        at: DateTime<Utc>,
        kind: &'static str,
        key: String,
        body: Map<String, Value>,
    ) {
        let event = self.event(at, kind, key, body, true);
        let mut deliver_at = event.occurred_at;
        if self.dice.chance(self.config.late_share) {
            let delay = self.dice.uniform(MINUTE, 3.0 * HOUR);
            deliver_at = after(deliver_at, delay).unwrap_or(deliver_at);
        }
        if self.dice.chance(self.config.duplicate_share) {
            let delay = self.dice.exponential(10.0 * MINUTE).clamp(1.0, 2.0 * HOUR);
            let again = after(deliver_at, delay).unwrap_or(deliver_at);
            self.schedule(again, Item::Deliver(event.clone()));
        }
        self.schedule(deliver_at, Item::Deliver(event));
    }

    fn run(&mut self, at: DateTime<Utc>, item: Item) -> Option<SimEvent> {
        match item {
            Item::Deliver(event) => return Some(event),
            Item::LeadArrives { bdr } => {
                if let Some(gap) = self.gap(self.config.leads_per_hour)
                    && let Some(next) = after(at, gap)
                {
                    self.schedule(next, Item::LeadArrives { bdr });
                }
                self.lead(bdr, at);
            }
            Item::Outreach { rep } => {
                if let Some(gap) = self.gap(self.outreach_rate(rep))
                    && let Some(next) = after(at, gap)
                {
                    self.schedule(next, Item::Outreach { rep });
                }
                self.outreach(rep, at);
            }
            Item::MonthStarts => {
                if let Some(next) = next_month(at) {
                    self.schedule(next, Item::MonthStarts);
                }
                self.book_expenses(at);
            }
            Item::Bill(customer) => self.bill(customer, at),
        }
        None
    }

    // -----------------------------------------------------------------------------------------
    // Leads, from creation to a customer.

    /// A new lead for `bdr` at `t0` and everything that will become of it.
    fn lead(&mut self, bdr: usize, t0: DateTime<Utc>) {
        let Some(rep) = self.reps.get(bdr) else {
            return;
        };
        let (bdr_id, team) = (rep.id.clone(), rep.team);
        self.leads += 1;
        let lead_id = format!("L-{}", self.leads);
        let contact = self.new_contact();
        let segment = self.dice.weighted(&SEGMENTS);
        let source = self.dice.weighted(&SOURCES);

        // Created (a few arrive unassigned and are routed a moment later).
        let assigned = !self.dice.chance(0.03);
        let mut body = Map::new();
        body.insert("lead_id".to_owned(), text(&lead_id));
        if assigned {
            body.insert("rep_id".to_owned(), text(&bdr_id));
        }
        if self.dice.chance(0.95) {
            body.insert("source".to_owned(), text(source));
        }
        if self.dice.chance(0.95) {
            body.insert("segment".to_owned(), text(segment));
        }
        self.emit(t0, "lead_created", lead_id.clone(), body);
        let mut earliest = t0;
        if !assigned {
            let Some(routed) = after(t0, self.dice.uniform(30.0, 4.0 * MINUTE)) else {
                return;
            };
            self.emit(
                routed,
                "lead_assigned",
                lead_id.clone(),
                lead_body(&lead_id, &bdr_id),
            );
            earliest = after(routed, 5.0).unwrap_or(routed);
        }

        if self.dice.chance(UNTOUCHED_DISQUALIFIED_SHARE) {
            self.disqualify(&lead_id, &bdr_id, earliest);
            return;
        }

        // First touch and follow-ups, mostly by the lead's BDR, now and then by a teammate.
        let toucher = if self.dice.chance(0.05) {
            let bdrs = self
                .teams
                .get(team)
                .map(|team| team.bdrs.clone())
                .unwrap_or_default();
            self.dice.pick(&bdrs).copied().unwrap_or(bdr)
        } else {
            bdr
        };
        let toucher_id = self.rep_id(toucher);
        let delay = if self.dice.chance(SLOW_RESPONSE_SHARE) {
            self.dice.lognormal(SLOW_RESPONSE_MEDIAN, 1.0)
        } else {
            self.dice.lognormal(RESPONSE_MEDIAN, RESPONSE_SIGMA)
        };
        let Some(first) = after(t0, delay) else {
            return;
        };
        let mut touch_at = first.max(earliest);
        let channels: &[(&str, f64)] = if matches!(source, "website" | "ads") {
            &CHAT_FIRST
        } else {
            &CHANNELS
        };
        let mut established = false;
        for attempt in 0..4 {
            if attempt > 0 {
                let wait = self.dice.exponential(3.0 * HOUR).max(10.0 * MINUTE);
                let Some(next) = after(touch_at, wait) else {
                    return;
                };
                touch_at = next;
            }
            let channel = self.dice.weighted(channels);
            established = self.dice.chance(established_chance(channel));
            let mut body = activity_body(&toucher_id, &contact, channel, established);
            body.insert("lead_id".to_owned(), text(&lead_id));
            self.emit(touch_at, "activity", toucher_id.clone(), body);
            if established || !self.dice.chance(0.7) {
                break;
            }
        }
        self.remember(toucher, &contact);

        // Appointment and marketing qualification.
        let mut appointment = false;
        if established && self.dice.chance(0.4) {
            appointment = true;
            self.appointment(touch_at, &toucher_id, &contact);
        }
        let mql_chance = match (established, appointment) {
            (true, true) => 0.7,
            (true, false) => 0.4,
            (false, _) => 0.06,
        };
        if !self.dice.chance(mql_chance) {
            return;
        }
        let base = if established { touch_at } else { t0 };
        let Some(mql_at) = after(base, self.dice.uniform(20.0 * MINUTE, DAY)) else {
            return;
        };
        let mut body = Map::new();
        body.insert("lead_id".to_owned(), text(&lead_id));
        body.insert("stage".to_owned(), text("mql"));
        if self.dice.chance(0.5) {
            body.insert("rep_id".to_owned(), text(&toucher_id));
        }
        self.emit(mql_at, "lead_qualified", lead_id.clone(), body);

        // Sales qualification: handed to an AE of the team.
        if !self.dice.chance(0.45) {
            return;
        }
        let aes = self
            .teams
            .get(team)
            .map(|team| team.aes.clone())
            .unwrap_or_default();
        let Some(&ae) = self.dice.pick(&aes) else {
            return;
        };
        let ae_id = self.rep_id(ae);
        let Some(handed_at) = after(mql_at, self.dice.uniform(HOUR, 2.0 * DAY)) else {
            return;
        };
        self.emit(
            handed_at,
            "lead_assigned",
            lead_id.clone(),
            lead_body(&lead_id, &ae_id),
        );
        let Some(sql_at) = after(handed_at, self.dice.uniform(5.0 * MINUTE, 2.0 * HOUR)) else {
            return;
        };
        let mut body = Map::new();
        body.insert("lead_id".to_owned(), text(&lead_id));
        body.insert("stage".to_owned(), text("sql"));
        if self.dice.chance(0.75) {
            body.insert("rep_id".to_owned(), text(&ae_id));
        }
        self.emit(sql_at, "lead_qualified", lead_id.clone(), body);
        self.remember(ae, &contact);

        if self.dice.chance(0.8)
            && let Some(opened_at) = after(sql_at, self.dice.uniform(30.0 * MINUTE, 2.0 * DAY))
        {
            self.deal(opened_at, &ae_id, segment, source);
        }
    }

    /// A `lead_disqualified` for a lead nobody touched, a while after `earliest`.
    fn disqualify(&mut self, lead_id: &str, bdr_id: &str, earliest: DateTime<Utc>) {
        let Some(at) = after(earliest, self.dice.lognormal(DISQUALIFY_MEDIAN, 1.0)) else {
            return;
        };
        let mut body = Map::new();
        body.insert("lead_id".to_owned(), text(lead_id));
        body.insert(
            "reason".to_owned(),
            text(self.dice.weighted(&DISQUALIFY_REASONS)),
        );
        if self.dice.chance(0.8) {
            body.insert("rep_id".to_owned(), text(bdr_id));
        }
        self.emit(at, "lead_disqualified", lead_id.to_owned(), body);
    }

    /// An `appointment_set` a few minutes after the established contact at `at` (now and then
    /// rescheduled: a second one later).
    fn appointment(&mut self, at: DateTime<Utc>, rep_id: &str, contact: &str) {
        let Some(mut set_at) = after(at, self.dice.uniform(2.0 * MINUTE, 20.0 * MINUTE)) else {
            return;
        };
        let times = if self.dice.chance(0.06) { 2 } else { 1 };
        for time in 0..times {
            if time > 0 {
                let Some(later) = after(set_at, self.dice.uniform(HOUR, DAY)) else {
                    return;
                };
                set_at = later;
            }
            self.appointments += 1;
            let mut body = Map::new();
            body.insert("rep_id".to_owned(), text(rep_id));
            body.insert("contact_id".to_owned(), text(contact));
            if self.dice.chance(0.95) {
                body.insert(
                    "appointment_id".to_owned(),
                    text(&format!("ap-{}", self.appointments)),
                );
            }
            if self.dice.chance(0.9) {
                let hours = (self.dice.uniform(1.0, 6.0) * 24.0).round();
                if let Some(when) = after(set_at, hours * HOUR) {
                    body.insert("scheduled_for".to_owned(), text(&timestamp(when)));
                }
            }
            self.emit(set_at, "appointment_set", rep_id.to_owned(), body);
        }
    }

    /// A deal opened by `ae_id` at `at`, its close (a few lost ones reopened and won) and, when
    /// won, the customer.
    fn deal(&mut self, at: DateTime<Utc>, ae_id: &str, segment: &'static str, source: &str) {
        self.deals += 1;
        let deal_id = format!("D-{}", self.deals);
        let dollars = self
            .dice
            .lognormal(deal_median(segment), 0.6)
            .clamp(500.0, 5_000_000.0);
        let amount = ((dollars / 100.0).round() as i64).max(5) * 10_000;
        let industry = self.dice.weighted(&INDUSTRIES);
        let channel = match source {
            "outbound" => "outbound",
            "referral" => self.dice.weighted(&[("partner", 0.6), ("inbound", 0.4)]),
            _ => self
                .dice
                .weighted(&[("inbound", 0.8), ("partner", 0.12), ("outbound", 0.08)]),
        };
        let dimensions = [
            ("industry", industry),
            ("channel", channel),
            ("segment", segment),
        ];

        let mut body = Map::new();
        body.insert("deal_id".to_owned(), text(&deal_id));
        body.insert("rep_id".to_owned(), text(ae_id));
        if self.dice.chance(0.92) {
            body.insert("amount".to_owned(), self.money(amount));
        }
        for (name, value) in dimensions {
            if self.dice.chance(0.95) {
                body.insert(name.to_owned(), text(value));
            }
        }
        if self.dice.chance(0.1) {
            body.insert("currency".to_owned(), text("USD"));
        }
        self.emit(at, "deal_opened", ae_id.to_owned(), body);

        let (median_cycle, win_chance) = deal_profile(segment);
        let cycle = self
            .dice
            .lognormal(median_cycle, 0.7)
            .clamp(HOUR, 180.0 * DAY);
        let Some(mut closed_at) = after(at, cycle) else {
            return;
        };
        let mut won = self.dice.chance(win_chance);
        let reopened = !won && self.dice.chance(0.08);
        // Negotiated: the final amount is near the opening one.
        let final_amount =
            ((amount as f64 * self.dice.uniform(0.85, 1.05) / 10_000.0).round() as i64).max(5)
                * 10_000;
        for round in 0..if reopened { 2 } else { 1 } {
            if round > 0 {
                let Some(again) = after(closed_at, self.dice.uniform(3.0 * DAY, 30.0 * DAY)) else {
                    return;
                };
                closed_at = again;
                won = true;
            }
            let mut body = Map::new();
            body.insert("deal_id".to_owned(), text(&deal_id));
            body.insert("rep_id".to_owned(), text(ae_id));
            body.insert("outcome".to_owned(), text(if won { "won" } else { "lost" }));
            if self.dice.chance(if won { 0.7 } else { 0.4 }) {
                let value = if won { final_amount } else { amount };
                body.insert("amount".to_owned(), self.money(value));
            }
            for (name, value) in dimensions {
                if self.dice.chance(0.4) {
                    body.insert(name.to_owned(), text(value));
                }
            }
            self.emit(closed_at, "deal_closed", ae_id.to_owned(), body);
        }
        if won {
            self.customer(closed_at, &deal_id, segment, final_amount);
        }
    }

    /// A customer won at `at` with annual contract value `acv` (cents): acquisition, onboarding
    /// cost, maybe a setup fee, and monthly billing from a few days on.
    fn customer(&mut self, at: DateTime<Utc>, deal_id: &str, segment: &'static str, acv: i64) {
        self.customers += 1;
        let customer_id = format!("cu-{}", self.customers);
        let Some(acquired_at) = after(at, self.dice.uniform(5.0 * MINUTE, 2.0 * HOUR)) else {
            return;
        };
        let mut body = Map::new();
        body.insert("customer_id".to_owned(), text(&customer_id));
        if self.dice.chance(0.9) {
            body.insert("segment".to_owned(), text(segment));
        }
        if self.dice.chance(0.9) {
            body.insert("deal_id".to_owned(), text(deal_id));
        }
        self.emit(acquired_at, "customer_acquired", customer_id.clone(), body);

        if self.dice.chance(0.8)
            && let Some(when) = after(acquired_at, self.dice.uniform(DAY, 10.0 * DAY))
        {
            let cost = share_of(acv, self.dice.uniform(0.04, 0.12));
            self.cost(when, &customer_id, cost);
        }
        if self.dice.chance(0.3)
            && let Some(when) = after(acquired_at, self.dice.uniform(DAY, 7.0 * DAY))
        {
            let fee = share_of(acv, self.dice.uniform(0.05, 0.15));
            self.revenue(when, &customer_id, segment, fee, false);
        }
        if let Some(first_bill) = after(acquired_at, self.dice.uniform(HOUR, 3.0 * DAY)) {
            let customer = Customer {
                id: customer_id,
                segment,
                mrr: share_of(acv, 1.0 / 12.0),
            };
            self.schedule(first_bill, Item::Bill(customer));
        }
    }

    /// A month of a customer: recurring revenue, often a cost to serve it, then the next month
    /// unless it churns (some expand).
    fn bill(&mut self, mut customer: Customer, at: DateTime<Utc>) {
        self.revenue(at, &customer.id, customer.segment, customer.mrr, true);
        if self.dice.chance(0.5) {
            let cost = share_of(customer.mrr, self.dice.uniform(0.05, 0.2));
            self.cost(at, &customer.id, cost);
        }
        if self.dice.chance(0.03) {
            return;
        }
        if self.dice.chance(0.05) {
            customer.mrr = share_of(customer.mrr, 1.2);
        }
        let month = 30.0 * DAY + self.dice.uniform(-12.0 * HOUR, 12.0 * HOUR);
        if let Some(next) = after(at, month) {
            self.schedule(next, Item::Bill(customer));
        }
    }

    fn revenue(
        &mut self,
        at: DateTime<Utc>,
        customer_id: &str,
        segment: &str,
        cents: i64,
        recurring: bool,
    ) {
        let mut body = Map::new();
        body.insert("customer_id".to_owned(), text(customer_id));
        body.insert("amount".to_owned(), self.money(cents));
        body.insert("recurring".to_owned(), Value::Bool(recurring));
        if self.dice.chance(0.85) {
            body.insert("segment".to_owned(), text(segment));
        }
        if self.dice.chance(0.2) {
            body.insert("currency".to_owned(), text("USD"));
        }
        self.emit(at, "revenue", customer_id.to_owned(), body);
    }

    fn cost(&mut self, at: DateTime<Utc>, customer_id: &str, cents: i64) {
        let mut body = Map::new();
        body.insert("customer_id".to_owned(), text(customer_id));
        body.insert("amount".to_owned(), self.money(cents));
        if self.dice.chance(0.2) {
            body.insert("currency".to_owned(), text("USD"));
        }
        self.emit(at, "customer_cost", customer_id.to_owned(), body);
    }

    // -----------------------------------------------------------------------------------------
    // Outreach and expenses.

    /// A call, email or chat by `rep` at `at` to a contact it knows or a new one; BDRs (and
    /// now and then AEs) book an appointment after an established one.
    fn outreach(&mut self, rep: usize, at: DateTime<Utc>) {
        let Some(role) = self.reps.get(rep).map(|rep| rep.role) else {
            return;
        };
        let rep_id = self.rep_id(rep);
        let known = self
            .reps
            .get(rep)
            .map(|rep| rep.contacts.len())
            .unwrap_or_default();
        let contact = if known > 0 && self.dice.chance(0.65) {
            let index = self.dice.index(known);
            self.reps
                .get(rep)
                .and_then(|rep| rep.contacts.get(index).cloned())
                .unwrap_or_else(|| self.new_contact())
        } else {
            let contact = self.new_contact();
            self.remember(rep, &contact);
            contact
        };
        let channels: &[(&str, f64)] = if role == Role::Ae {
            &AE_CHANNELS
        } else {
            &CHANNELS
        };
        let channel = self.dice.weighted(channels);
        let established = self.dice.chance(established_chance(channel));
        let body = activity_body(&rep_id, &contact, channel, established);
        self.emit(at, "activity", rep_id.clone(), body);
        let appointment_chance = match role {
            Role::Bdr => 0.1,
            Role::Ae => 0.06,
            Role::Other => 0.0,
        };
        if established && self.dice.chance(appointment_chance) {
            self.appointment(at, &rep_id, &contact);
        }
    }

    /// The month's sales and marketing spend, booked at `at` (the start, or the first month's
    /// start instant): marketing per segment in proportion to its expected leads, unsegmented
    /// brand marketing, salaries and tools; and, often, one campaign later in the month.
    fn book_expenses(&mut self, at: DateTime<Utc>) {
        let bdrs: usize = self.teams.iter().map(|team| team.bdrs.len()).sum();
        let leads_per_month = bdrs as f64 * self.config.leads_per_hour.max(0.0) * 730.0;
        let mut segmented = 0.0;
        for (segment, weight) in SEGMENTS {
            let dollars =
                leads_per_month * weight * cost_per_lead(segment) * self.dice.uniform(0.85, 1.15);
            segmented += dollars;
            if dollars >= 1.0 {
                self.expense(at, "marketing", Some(segment), dollars);
            }
        }
        let brand = segmented * self.dice.uniform(0.1, 0.2);
        if brand >= 1.0 {
            self.expense(at, "marketing", None, brand);
        }
        let reps = self.reps.len() as f64;
        let salaries = (reps * 9_000.0).max(5_000.0) * self.dice.uniform(0.97, 1.03);
        self.expense(at, "sales", None, salaries);
        if self.dice.chance(0.7) {
            let tools = (reps * 150.0).max(300.0) * self.dice.uniform(0.9, 1.1);
            self.expense(at, "sales", None, tools);
        }
        if self.dice.chance(0.6)
            && let Some(when) = after(at, self.dice.uniform(5.0 * DAY, 25.0 * DAY))
        {
            let segment = self.dice.chance(0.7).then(|| self.dice.weighted(&SEGMENTS));
            let dollars = (segmented * self.dice.uniform(0.03, 0.1)).max(2_000.0);
            self.expense(when, "marketing", segment, dollars);
        }
    }

    fn expense(&mut self, at: DateTime<Utc>, category: &str, segment: Option<&str>, dollars: f64) {
        let mut body = Map::new();
        body.insert(
            "amount".to_owned(),
            self.money((dollars * 100.0).round() as i64),
        );
        body.insert("category".to_owned(), text(category));
        if let Some(segment) = segment {
            body.insert("segment".to_owned(), text(segment));
        }
        if self.dice.chance(0.4) {
            body.insert("currency".to_owned(), text("USD"));
        }
        let key = segment.unwrap_or("company").to_owned();
        self.emit(at, "expense", key, body);
    }

    // -----------------------------------------------------------------------------------------
    // Small helpers.

    fn rep_id(&self, rep: usize) -> String {
        self.reps
            .get(rep)
            .map(|rep| rep.id.clone())
            .unwrap_or_default()
    }

    fn new_contact(&mut self) -> String {
        self.contacts += 1;
        format!("c-{}", self.contacts)
    }

    fn remember(&mut self, rep: usize, contact: &str) {
        if let Some(rep) = self.reps.get_mut(rep) {
            if rep.contacts.len() >= CONTACT_MEMORY {
                rep.contacts.pop_front();
            }
            rep.contacts.push_back(contact.to_owned());
        }
    }

    /// An amount of `cents` (at least one cent) in one of the forms EVENTS.md allows: a decimal
    /// string with two decimals (`"12500.00"`) or a JSON number (`12500`, `1041.67`).
    fn money(&mut self, cents: i64) -> Value {
        let cents = cents.max(1);
        let as_text = || Value::String(format!("{}.{:02}", cents / 100, cents % 100));
        if self.dice.chance(0.5) {
            as_text()
        } else if cents % 100 == 0 {
            Value::from(cents / 100)
        } else {
            Number::from_f64(cents as f64 / 100.0).map_or_else(as_text, Value::Number)
        }
    }
}

impl Iterator for Simulator {
    type Item = SimEvent;

    /// The next delivery. Endless in practice: the model always has a next step scheduled
    /// (`None` only if event time runs past what `DateTime<Utc>` can hold).
    fn next(&mut self) -> Option<SimEvent> {
        while let Some(Reverse(entry)) = self.queue.pop() {
            if let Some(event) = self.run(entry.at, entry.item) {
                return Some(event);
            }
        }
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Free helpers.

/// The topic of each type (EVENTS.md "Topics and keys").
fn topic_of(kind: &str) -> &'static str {
    match kind {
        "activity" | "appointment_set" => TOPIC_ACTIVITIES,
        "lead_created" | "lead_assigned" | "lead_disqualified" | "lead_qualified" => TOPIC_LEADS,
        "deal_opened" | "deal_closed" => TOPIC_DEALS,
        "rep_upserted" => TOPIC_ROSTER,
        _ => TOPIC_FINANCE,
    }
}

fn text(value: &str) -> Value {
    Value::String(value.to_owned())
}

fn lead_body(lead_id: &str, rep_id: &str) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("lead_id".to_owned(), text(lead_id));
    body.insert("rep_id".to_owned(), text(rep_id));
    body
}

fn activity_body(
    rep_id: &str,
    contact: &str,
    channel: &str,
    established: bool,
) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("rep_id".to_owned(), text(rep_id));
    body.insert("contact_id".to_owned(), text(contact));
    body.insert("channel".to_owned(), text(channel));
    body.insert("established".to_owned(), Value::Bool(established));
    body
}

/// `cents × factor`, rounded, at least one cent.
fn share_of(cents: i64, factor: f64) -> i64 {
    ((cents as f64 * factor).round() as i64).max(1)
}

/// `at` plus `seconds` (clamped to `[0, MAX_DELAY]`, to the millisecond); `None` past the end of
/// representable time.
fn after(at: DateTime<Utc>, seconds: f64) -> Option<DateTime<Utc>> {
    let seconds = if seconds.is_finite() {
        seconds.clamp(0.0, MAX_DELAY)
    } else {
        MAX_DELAY
    };
    let delta = TimeDelta::try_milliseconds((seconds * 1_000.0).round() as i64)?;
    at.checked_add_signed(delta)
}

/// `at` cut to the millisecond, the precision of every timestamp written.
fn millis(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

fn timestamp(at: DateTime<Utc>) -> String {
    millis(at).to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Midnight UTC of the first day of the month after `at`'s.
fn next_month(at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let (year, month) = if at.month() == 12 {
        (at.year().checked_add(1)?, 1)
    } else {
        (at.year(), at.month() + 1)
    };
    Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0).single()
}

#[cfg(test)]
mod tests;
