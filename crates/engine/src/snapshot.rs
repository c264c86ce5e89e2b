//! The metrics as of one instant: every window assembled from the kept facts.
//!
//! The definitions of METRICS.md / SEMANTICS.md live here, in one place; the exporter only
//! renders what this computes. It reads the facts, the windows and the settings, never the
//! engine, so the ingestion side can change how it keeps state without touching a definition.

use std::collections::{BTreeMap, BTreeSet};

use ahash::AHashMap;
use rust_decimal::Decimal;
use salespulse_calendar::{Period, WINDOW_COUNT, WindowKind, WindowSet};
use salespulse_events::{Channel, Outcome, Role, Timestamp};

use crate::counters::PipelineCounters;
use crate::facts::Facts;
use crate::money::{add, decimal_to_f64};
use crate::settings::Settings;

/// The rep label of leads nobody is assigned to (C24).
pub const UNASSIGNED_REP: &str = "unassigned";
/// The label value of a missing team or dimension.
pub const UNKNOWN: &str = "unknown";
/// Upper bounds (seconds) of `sales_lead_response_time_seconds`: around the 5-minute SLA and
/// out to a day, so `histogram_quantile` is useful at both ends.
pub const RESPONSE_HISTOGRAM_BUCKETS: [f64; 12] = [
    30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 14400.0, 28800.0, 86400.0,
];
/// The windows of the magic number (C22): its `current` value compares this quarter with the
/// previous one, its `previous` value the previous quarter with the one before.
const QUARTER: usize = WindowSet::position(Period::Quarter, WindowKind::Current);
const PREVIOUS_QUARTER: usize = WindowSet::position(Period::Quarter, WindowKind::Previous);
const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// Which interval one window is.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowInfo {
    pub period: Period,
    pub kind: WindowKind,
    pub start: Timestamp,
    pub end: Timestamp,
    pub business_days: u32,
}

/// Everything exported, as of `as_of`. Vectors indexed by window follow [`Snapshot::windows`].
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub as_of: Timestamp,
    /// The configured response goal (`lead_response_sla_seconds`), exported so alert rules and
    /// dashboards default to it.
    pub lead_response_sla_seconds: f64,
    pub windows: Vec<WindowInfo>,
    /// Every known rep (C11), sorted by id.
    pub reps: Vec<RepSnapshot>,
    /// The queue of leads assigned to nobody; `None` when it is empty (C24).
    pub unassigned_queue: Option<QueueStats>,
    pub dimensions: Vec<DimensionRow>,
    pub teams: Vec<TeamSnapshot>,
    pub company: CompanyStats,
    pub pipeline: PipelineCounters,
}

/// One rep: its windows, live queue and response-time histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct RepSnapshot {
    pub rep: String,
    pub team: String,
    pub windows: Vec<RepWindowStats>,
    pub queue: QueueStats,
    pub responses: HistogramStats,
}

/// A rep's counts in one window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RepWindowStats {
    /// `activity` events, indexed like [`Channel::ALL`].
    pub contact_attempts: [u64; 3],
    pub contacts_established: u64,
    pub appointments_set: u64,
    pub leads_responded: u64,
    pub leads_responded_within_sla: u64,
    /// Nearest-rank 50th, 90th, 99th percentile response times in seconds.
    pub response_percentiles: Option<[f64; 3]>,
    pub response_mean_seconds: Option<f64>,
    pub mqls: u64,
    pub sqls: u64,
    pub deals_won: u64,
    pub deals_lost: u64,
    pub deals_won_amount: Decimal,
}

impl RepWindowStats {
    pub fn appointment_set_ratio(&self) -> Option<f64> {
        ratio(self.appointments_set, self.contacts_established)
    }
    pub fn lead_response_sla_ratio(&self) -> Option<f64> {
        ratio(self.leads_responded_within_sla, self.leads_responded)
    }
    pub fn mql_to_sql_ratio(&self) -> Option<f64> {
        ratio(self.sqls, self.mqls)
    }
    pub fn win_ratio(&self) -> Option<f64> {
        ratio(self.deals_won, self.deals_won + self.deals_lost)
    }
}

/// Leads waiting for a first touch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueStats {
    pub awaiting: u64,
    /// as_of − creation of the oldest waiting lead, in seconds; `None` when none waits.
    pub oldest_wait_seconds: Option<f64>,
}

/// A cumulative histogram over [`RESPONSE_HISTOGRAM_BUCKETS`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistogramStats {
    pub cumulative_counts: [u64; RESPONSE_HISTOGRAM_BUCKETS.len()],
    pub count: u64,
    /// The sum in integer nanoseconds: exact, so it does not depend on the order of observation.
    pub sum_nanos: i128,
}

impl HistogramStats {
    pub fn sum_seconds(&self) -> f64 {
        seconds(self.sum_nanos)
    }

    /// Adds `other`'s observations (e.g. a team's histogram from its reps').
    pub fn merge(&mut self, other: &HistogramStats) {
        for (count, more) in self
            .cumulative_counts
            .iter_mut()
            .zip(other.cumulative_counts)
        {
            *count += more;
        }
        self.count += other.count;
        self.sum_nanos += other.sum_nanos;
    }
}

/// Won and lost deal counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WinLoss {
    pub won: u64,
    pub lost: u64,
}

impl WinLoss {
    pub fn win_ratio(&self) -> Option<f64> {
        ratio(self.won, self.won + self.lost)
    }
}

/// Win/loss of one dimension value (`industry`, `channel` or `size`) in every window.
#[derive(Debug, Clone, PartialEq)]
pub struct DimensionRow {
    pub dimension: &'static str,
    pub value: String,
    pub windows: Vec<WinLoss>,
}

/// A team's capacity (C20).
#[derive(Debug, Clone, PartialEq)]
pub struct TeamSnapshot {
    pub team: String,
    pub bdr_reps: u64,
    pub ae_reps: u64,
    pub windows: Vec<TeamWindowStats>,
}

/// A team's capacity and its use in one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TeamWindowStats {
    pub bdr_capacity_leads: u64,
    /// MQLs attributed to the team's active BDRs: the utilisation numerator.
    pub bdr_mqls: u64,
    pub ae_capacity_deals: u64,
    /// Deals won by the team's active AEs: the utilisation numerator.
    pub ae_deals_won: u64,
}

impl TeamWindowStats {
    pub fn bdr_utilization_ratio(&self) -> Option<f64> {
        ratio(self.bdr_mqls, self.bdr_capacity_leads)
    }
    pub fn ae_utilization_ratio(&self) -> Option<f64> {
        ratio(self.ae_deals_won, self.ae_capacity_deals)
    }
}

/// Company metrics: per segment (the first is `all`) and the magic number.
#[derive(Debug, Clone, PartialEq)]
pub struct CompanyStats {
    pub segments: Vec<SegmentSnapshot>,
    /// The magic number for the current and the previous quarter window (C22).
    pub magic_number: [Option<f64>; 2],
}

/// One segment (or `all`).
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentSnapshot {
    pub segment: String,
    pub windows: Vec<SegmentWindowStats>,
    /// Lifetime customers of the segment (C23).
    pub customers: u64,
    pub lifetime_revenue: Decimal,
    pub lifetime_customer_cost: Decimal,
    pub lifetime_expense: Decimal,
    pub lifetime_new_customers: u64,
}

impl SegmentSnapshot {
    /// (revenue − cost of the segment's customers) / customers; `None` without customers.
    pub fn ltv(&self) -> Option<f64> {
        if self.customers == 0 {
            return None;
        }
        Some(
            decimal_to_f64(self.lifetime_revenue - self.lifetime_customer_cost)
                / self.customers as f64,
        )
    }

    /// LTV / lifetime CAC; `None` when there is no expense or no new customer.
    pub fn ltv_to_cac_ratio(&self) -> Option<f64> {
        if self.lifetime_expense.is_zero() || self.lifetime_new_customers == 0 {
            return None;
        }
        let cac = decimal_to_f64(self.lifetime_expense) / self.lifetime_new_customers as f64;
        Some(self.ltv()? / cac)
    }
}

/// A segment's spend, new customers and recurring revenue in one window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SegmentWindowStats {
    pub sm_expense: Decimal,
    pub new_customers: u64,
    pub recurring_revenue: Decimal,
}

impl SegmentWindowStats {
    /// Expense per new customer; `None` without new customers (0 without expense).
    pub fn cac(&self) -> Option<f64> {
        (self.new_customers > 0)
            .then(|| decimal_to_f64(self.sm_expense) / self.new_customers as f64)
    }
}

/// `numerator / denominator`, absent (not NaN) when the denominator is 0.
fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

fn windows_of(mask: u16) -> impl Iterator<Item = usize> {
    (0..WINDOW_COUNT).filter(move |window| mask & (1 << window) != 0)
}

fn nanos(delta: chrono::TimeDelta) -> i128 {
    i128::from(delta.num_seconds()) * NANOS_PER_SECOND + i128::from(delta.subsec_nanos())
}

fn seconds(nanos: i128) -> f64 {
    nanos as f64 / NANOS_PER_SECOND as f64
}

/// The size band of a deal amount (C18).
fn size_band(amount: Option<Decimal>, bands: &[Decimal; 2]) -> &'static str {
    match amount {
        None => UNKNOWN,
        Some(amount) if amount < bands[0] => "small",
        Some(amount) if amount < bands[1] => "medium",
        Some(_) => "large",
    }
}

impl Snapshot {
    pub(crate) fn compute(
        facts: &Facts,
        ws: &WindowSet,
        settings: &Settings,
        pipeline: &PipelineCounters,
    ) -> Snapshot {
        let rep_count = facts.reps.len();
        let mut rep_windows = vec![vec![RepWindowStats::default(); WINDOW_COUNT]; rep_count];
        let mut response_times: Vec<Vec<Vec<i128>>> =
            vec![vec![Vec::new(); WINDOW_COUNT]; rep_count];
        let mut histograms = vec![HistogramStats::default(); rep_count];
        let mut queues = vec![QueueStats::default(); rep_count];
        let mut unassigned: Option<QueueStats> = None;

        count_activities(facts, ws, &mut rep_windows);

        let sla = nanos(settings.lead_response_sla);
        for lead in facts.leads.values() {
            // Qualifications count even for leads that were never created (C16).
            for (qualification, is_mql) in [(&lead.first_mql, true), (&lead.first_sql, false)] {
                let Some(qualification) = qualification else {
                    continue;
                };
                let Some(rep) = lead.qualification_rep(qualification) else {
                    continue;
                };
                if let Some(stats) = rep_windows.get_mut(rep as usize) {
                    for window in windows_of(ws.mask(qualification.at)) {
                        if is_mql {
                            stats[window].mqls += 1;
                        } else {
                            stats[window].sqls += 1;
                        }
                    }
                }
            }
            let Some(created) = &lead.created else {
                continue;
            };
            match &lead.first_touch {
                Some(touch) => {
                    let response = nanos(touch.at - created.at).max(0);
                    let rep = touch.value as usize;
                    if let Some(histogram) = histograms.get_mut(rep) {
                        histogram.observe(response);
                    }
                    for window in windows_of(ws.mask(touch.at)) {
                        if let (Some(stats), Some(times)) =
                            (rep_windows.get_mut(rep), response_times.get_mut(rep))
                        {
                            stats[window].leads_responded += 1;
                            if response <= sla {
                                stats[window].leads_responded_within_sla += 1;
                            }
                            times[window].push(response);
                        }
                    }
                }
                None => {
                    let Some(created_at) =
                        lead.waiting_since(ws.as_of, settings.lead_queue_max_age)
                    else {
                        continue;
                    };
                    let wait = seconds(nanos(ws.as_of - created_at));
                    let queue = match lead.owner_at(ws.as_of) {
                        Some(rep) => queues.get_mut(rep as usize),
                        None => Some(unassigned.get_or_insert_with(QueueStats::default)),
                    };
                    if let Some(queue) = queue {
                        queue.awaiting += 1;
                        queue.oldest_wait_seconds = Some(
                            queue
                                .oldest_wait_seconds
                                .map_or(wait, |oldest| oldest.max(wait)),
                        );
                    }
                }
            }
        }
        for (rep_stats, times) in rep_windows.iter_mut().zip(response_times.iter_mut()) {
            for (stats, times) in rep_stats.iter_mut().zip(times.iter_mut()) {
                summarize_responses(stats, times);
            }
        }

        let dimensions = count_deals(facts, ws, settings, &mut rep_windows);
        let windows = window_infos(ws);
        let teams = team_capacity(facts, settings, &windows, &rep_windows);

        let mut reps: Vec<RepSnapshot> = facts
            .reps
            .iter()
            .zip(rep_windows)
            .zip(queues)
            .zip(histograms)
            .map(
                |((((rep, state), windows), queue), responses)| RepSnapshot {
                    rep: facts.reps.name(rep).to_owned(),
                    team: state
                        .roster()
                        .map_or(UNKNOWN, |roster| &roster.team)
                        .to_owned(),
                    windows,
                    queue,
                    responses,
                },
            )
            .collect();
        reps.sort_by(|a, b| a.rep.cmp(&b.rep));

        Snapshot {
            as_of: ws.as_of,
            lead_response_sla_seconds: seconds(sla),
            windows,
            reps,
            unassigned_queue: unassigned,
            dimensions,
            teams,
            company: company_stats(facts, ws),
            pipeline: pipeline.clone(),
        }
    }
}

impl HistogramStats {
    fn observe(&mut self, response_nanos: i128) {
        let response = seconds(response_nanos);
        for (bound, count) in RESPONSE_HISTOGRAM_BUCKETS
            .iter()
            .zip(self.cumulative_counts.iter_mut())
        {
            if response <= *bound {
                *count += 1;
            }
        }
        self.count += 1;
        self.sum_nanos += response_nanos;
    }
}

fn window_infos(ws: &WindowSet) -> Vec<WindowInfo> {
    ws.windows
        .iter()
        .map(|window| WindowInfo {
            period: window.period,
            kind: window.kind,
            start: window.start,
            end: window.end,
            business_days: window.business_days,
        })
        .collect()
}

/// Attempts, distinct established contacts and appointments (C12, C13) per rep and window.
fn count_activities(facts: &Facts, ws: &WindowSet, rep_windows: &mut [Vec<RepWindowStats>]) {
    // Per contact: the windows with an established activity, the windows with an appointment.
    let mut contact_windows: AHashMap<u32, (u16, u16)> = AHashMap::new();
    for ((_, rep), stats) in facts.reps.iter().zip(rep_windows.iter_mut()) {
        contact_windows.clear();
        for activity in &rep.activities {
            let mask = ws.mask(activity.at);
            if mask == 0 {
                continue;
            }
            let channel = Channel::ALL
                .iter()
                .position(|channel| *channel == activity.channel)
                .unwrap_or(0);
            for window in windows_of(mask) {
                stats[window].contact_attempts[channel] += 1;
            }
            if activity.established {
                contact_windows.entry(activity.contact).or_default().0 |= mask;
            }
        }
        for appointment in &rep.appointments {
            let mask = ws.mask(appointment.at);
            if let Some(entry) = contact_windows.get_mut(&appointment.contact) {
                entry.1 |= mask;
            }
        }
        for (established, appointed) in contact_windows.values() {
            for window in windows_of(*established) {
                stats[window].contacts_established += 1;
            }
            for window in windows_of(established & appointed) {
                stats[window].appointments_set += 1;
            }
        }
    }
}

/// Percentiles (nearest rank, C15), mean and nothing else from a window's response times.
fn summarize_responses(stats: &mut RepWindowStats, times: &mut [i128]) {
    if times.is_empty() {
        return;
    }
    times.sort_unstable();
    let n = times.len();
    let rank = |percent: usize| times[(percent * n).div_ceil(100).max(1) - 1];
    stats.response_percentiles = Some([seconds(rank(50)), seconds(rank(90)), seconds(rank(99))]);
    let total: i128 = times.iter().sum();
    stats.response_mean_seconds = Some(seconds(total) / n as f64);
}

/// Won/lost per rep and per dimension value from every deal's counting close (C17, C19).
fn count_deals(
    facts: &Facts,
    ws: &WindowSet,
    settings: &Settings,
    rep_windows: &mut [Vec<RepWindowStats>],
) -> Vec<DimensionRow> {
    let mut dimensions: BTreeMap<(usize, String), Vec<WinLoss>> = BTreeMap::new();
    for deal in facts.deals.values() {
        let Some(close) = &deal.latest_close else {
            continue;
        };
        let resolved = deal.resolve(&close.value);
        let won = close.value.outcome == Outcome::Won;
        let mask = ws.mask(close.at);
        let values = [
            resolved.industry.unwrap_or(UNKNOWN),
            resolved.channel.unwrap_or(UNKNOWN),
            size_band(resolved.amount, &settings.deal_size_bands),
        ];
        for (dimension, value) in values.into_iter().enumerate() {
            let row = dimensions
                .entry((dimension, value.to_owned()))
                .or_insert_with(|| vec![WinLoss::default(); WINDOW_COUNT]);
            for window in windows_of(mask) {
                if won {
                    row[window].won += 1;
                } else {
                    row[window].lost += 1;
                }
            }
        }
        if let Some(stats) = rep_windows.get_mut(close.value.rep as usize) {
            for window in windows_of(mask) {
                if won {
                    stats[window].deals_won += 1;
                    add(
                        &mut stats[window].deals_won_amount,
                        resolved.amount.unwrap_or(Decimal::ZERO),
                    );
                } else {
                    stats[window].deals_lost += 1;
                }
            }
        }
    }
    const DIMENSIONS: [&str; 3] = ["industry", "channel", "size"];
    dimensions
        .into_iter()
        .map(|((dimension, value), windows)| DimensionRow {
            dimension: DIMENSIONS[dimension],
            value,
            windows,
        })
        .collect()
}

/// BDR and AE capacity per team of the final roster (C20).
fn team_capacity(
    facts: &Facts,
    settings: &Settings,
    windows: &[WindowInfo],
    rep_windows: &[Vec<RepWindowStats>],
) -> Vec<TeamSnapshot> {
    let mut teams: BTreeMap<&str, TeamSnapshot> = BTreeMap::new();
    for ((_, rep), stats) in facts.reps.iter().zip(rep_windows) {
        let Some(roster) = rep.roster() else {
            continue;
        };
        if &*roster.team == UNKNOWN {
            continue;
        }
        let team = teams.entry(&roster.team).or_insert_with(|| TeamSnapshot {
            team: roster.team.to_string(),
            bdr_reps: 0,
            ae_reps: 0,
            windows: vec![TeamWindowStats::default(); WINDOW_COUNT],
        });
        if !roster.active {
            continue;
        }
        match roster.role {
            Role::Bdr => {
                team.bdr_reps += 1;
                let max = roster
                    .max_daily_leads
                    .unwrap_or(settings.default_max_daily_leads);
                for ((team_window, info), rep_window) in
                    team.windows.iter_mut().zip(windows).zip(stats)
                {
                    team_window.bdr_capacity_leads = team_window
                        .bdr_capacity_leads
                        .saturating_add(max.saturating_mul(u64::from(info.business_days)));
                    team_window.bdr_mqls += rep_window.mqls;
                }
            }
            Role::Ae => {
                team.ae_reps += 1;
                let max = roster
                    .max_daily_deals
                    .unwrap_or(settings.default_max_daily_deals);
                for ((team_window, info), rep_window) in
                    team.windows.iter_mut().zip(windows).zip(stats)
                {
                    team_window.ae_capacity_deals = team_window
                        .ae_capacity_deals
                        .saturating_add(max.saturating_mul(u64::from(info.business_days)));
                    team_window.ae_deals_won += rep_window.deals_won;
                }
            }
            Role::Other => {}
        }
    }
    teams.into_values().collect()
}

/// Spend, new customers, recurring revenue, lifetime value and the magic number (C21-C23).
fn company_stats(facts: &Facts, ws: &WindowSet) -> CompanyStats {
    let finance = &facts.finance;
    let segment_count = finance.segments.len();
    // Index 0 is `all`; segment s is at s + 1.
    let mut segments: Vec<SegmentSnapshot> = std::iter::once("all")
        .chain((0..segment_count).map(|s| finance.segments.name(s as u32)))
        .map(|name| SegmentSnapshot {
            segment: name.to_owned(),
            windows: vec![SegmentWindowStats::default(); WINDOW_COUNT],
            customers: 0,
            lifetime_revenue: Decimal::ZERO,
            lifetime_customer_cost: Decimal::ZERO,
            lifetime_expense: Decimal::ZERO,
            lifetime_new_customers: 0,
        })
        .collect();
    let slots = |segment: Option<u32>| std::iter::once(0).chain(segment.map(|s| s as usize + 1));

    let (mut rr_before_previous, mut sm_before_previous) = (Decimal::ZERO, Decimal::ZERO);
    for expense in &finance.expenses {
        if ws.quarter_before_previous.contains(expense.at) {
            add(&mut sm_before_previous, expense.amount);
        }
        let mask = ws.mask(expense.at);
        for slot in slots(expense.segment) {
            for window in windows_of(mask) {
                add(
                    &mut segments[slot].windows[window].sm_expense,
                    expense.amount,
                );
            }
        }
    }
    for revenue in &finance.recurring_revenue {
        if ws.quarter_before_previous.contains(revenue.at) {
            add(&mut rr_before_previous, revenue.amount);
        }
        let mask = ws.mask(revenue.at);
        for slot in slots(revenue.segment) {
            for window in windows_of(mask) {
                add(
                    &mut segments[slot].windows[window].recurring_revenue,
                    revenue.amount,
                );
            }
        }
    }
    segments[0].lifetime_expense = finance.lifetime_expense_all;
    for (segment, total) in finance.lifetime_expense.iter().enumerate() {
        if let Some(snapshot) = segments.get_mut(segment + 1) {
            snapshot.lifetime_expense = *total;
        }
    }
    for customer in finance.customers.values() {
        for slot in slots(customer.segment()) {
            let snapshot = &mut segments[slot];
            snapshot.customers += 1;
            add(&mut snapshot.lifetime_revenue, customer.revenue);
            add(&mut snapshot.lifetime_customer_cost, customer.cost);
        }
        if let Some(acquired) = &customer.first_acquired {
            let mask = ws.mask(acquired.at);
            for slot in slots(acquired.value) {
                segments[slot].lifetime_new_customers += 1;
                for window in windows_of(mask) {
                    segments[slot].windows[window].new_customers += 1;
                }
            }
        }
    }

    let all = &segments[0].windows;
    let magic = |rr: Decimal, rr_before: Decimal, sm_before: Decimal| {
        (!sm_before.is_zero())
            .then(|| decimal_to_f64(rr - rr_before) * 4.0 / decimal_to_f64(sm_before))
    };
    let magic_number = [
        magic(
            all[QUARTER].recurring_revenue,
            all[PREVIOUS_QUARTER].recurring_revenue,
            all[PREVIOUS_QUARTER].sm_expense,
        ),
        magic(
            all[PREVIOUS_QUARTER].recurring_revenue,
            rr_before_previous,
            sm_before_previous,
        ),
    ];

    // `all` first, then the segments by name, so the output order never depends on arrival.
    let mut named = segments.split_off(1);
    named.sort_by(|a, b| a.segment.cmp(&b.segment));
    segments.extend(named);
    CompanyStats {
        segments,
        magic_number,
    }
}

/// Known rep ids in the snapshot, for tests.
impl Snapshot {
    pub fn rep(&self, rep: &str) -> Option<&RepSnapshot> {
        self.reps.iter().find(|snapshot| snapshot.rep == rep)
    }

    pub fn segment(&self, segment: &str) -> Option<&SegmentSnapshot> {
        self.company
            .segments
            .iter()
            .find(|snapshot| snapshot.segment == segment)
    }

    pub fn team(&self, team: &str) -> Option<&TeamSnapshot> {
        self.teams.iter().find(|snapshot| snapshot.team == team)
    }

    /// The index of a window in every per-window vector.
    pub fn window_index(&self, period: Period, kind: WindowKind) -> Option<usize> {
        self.windows
            .iter()
            .position(|window| window.period == period && window.kind == kind)
    }

    pub fn dimension(&self, dimension: &str, value: &str) -> Option<&DimensionRow> {
        self.dimensions
            .iter()
            .find(|row| row.dimension == dimension && row.value == value)
    }

    /// Reps as a set, for tests.
    pub fn rep_ids(&self) -> BTreeSet<&str> {
        self.reps.iter().map(|rep| rep.rep.as_str()).collect()
    }
}
