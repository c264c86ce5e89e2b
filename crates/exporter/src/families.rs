//! One function per metric family group; names, labels and HELP texts are the public API.

use prometheus::Encoder;
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};
use std::collections::BTreeMap;

use salespulse_engine::{
    HistogramStats, Period, RESPONSE_HISTOGRAM_BUCKETS, RepWindowStats, Snapshot, TeamWindowStats,
    UNASSIGNED_REP, UNKNOWN, WindowInfo, decimal_to_f64,
};
use salespulse_events::{Channel, EventType, IgnoreReason, RejectReason};

use crate::selection::Selection;

/// A metric family under construction.
#[derive(Debug)]
pub struct Family {
    inner: MetricFamily,
}

impl Family {
    pub fn gauge(name: &str, help: &str) -> Family {
        Family::new(name, help, MetricType::GAUGE)
    }

    pub fn counter(name: &str, help: &str) -> Family {
        Family::new(name, help, MetricType::COUNTER)
    }

    pub fn histogram(name: &str, help: &str) -> Family {
        Family::new(name, help, MetricType::HISTOGRAM)
    }

    fn new(name: &str, help: &str, kind: MetricType) -> Family {
        let mut inner = MetricFamily::default();
        inner.set_name(name.to_owned());
        inner.set_help(help.to_owned());
        inner.set_field_type(kind);
        Family { inner }
    }

    /// Adds a sample; `None` (a ratio with a zero denominator, C15) adds nothing.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: impl Into<Option<f64>>) {
        let Some(value) = value.into() else {
            return;
        };
        let mut metric = metric_with_labels(labels);
        if self.inner.get_field_type() == MetricType::COUNTER {
            let mut counter = Counter::default();
            counter.set_value(value);
            metric.set_counter(counter);
        } else {
            let mut gauge = Gauge::default();
            gauge.set_value(value);
            metric.set_gauge(gauge);
        }
        self.inner.mut_metric().push(metric);
    }

    /// Adds a histogram sample from cumulative bucket counts.
    pub fn histogram_sample(
        &mut self,
        labels: &[(&str, &str)],
        bounds: &[f64],
        cumulative_counts: &[u64],
        count: u64,
        sum: f64,
    ) {
        let mut histogram = Histogram::default();
        histogram.set_bucket(
            bounds
                .iter()
                .zip(cumulative_counts)
                .map(|(bound, count)| {
                    let mut bucket = Bucket::default();
                    bucket.set_upper_bound(*bound);
                    bucket.set_cumulative_count(*count);
                    bucket
                })
                .collect(),
        );
        histogram.set_sample_count(count);
        histogram.set_sample_sum(sum);
        let mut metric = metric_with_labels(labels);
        metric.set_histogram(histogram);
        self.inner.mut_metric().push(metric);
    }

    /// The finished family, or `None` when it has no sample (an empty family is not valid text).
    pub fn finish(self) -> Option<MetricFamily> {
        (!self.inner.get_metric().is_empty()).then_some(self.inner)
    }
}

fn metric_with_labels(labels: &[(&str, &str)]) -> Metric {
    Metric::from_label(
        labels
            .iter()
            .map(|(name, value)| {
                let mut pair = LabelPair::default();
                pair.set_name((*name).to_owned());
                pair.set_value((*value).to_owned());
                pair
            })
            .collect(),
    )
}

/// Every family of METRICS.md for `snapshot` that `selection` exports, in a fixed order.
pub fn render(snapshot: &Snapshot, selection: &Selection) -> Vec<MetricFamily> {
    let mut families = Vec::new();
    window_families(snapshot, selection, &mut families);
    rep_families(snapshot, selection, &mut families);
    queue_families(snapshot, selection, &mut families);
    dimension_families(snapshot, selection, &mut families);
    team_families(snapshot, selection, &mut families);
    company_families(snapshot, selection, &mut families);
    pipeline_families(snapshot, &mut families);
    families
}

/// The exposition in the Prometheus text format 0.0.4, with `extra` families appended (the
/// service adds its consumer metrics).
pub fn encode_text(snapshot: &Snapshot, selection: &Selection, extra: Vec<MetricFamily>) -> String {
    let mut families = render(snapshot, selection);
    families.extend(extra);
    let mut buffer = Vec::new();
    // Encoding only fails on an empty family, which `Family::finish` never yields.
    match prometheus::TextEncoder::new().encode(&families, &mut buffer) {
        Ok(()) => String::from_utf8_lossy(&buffer).into_owned(),
        Err(error) => format!("# salespulse: encoding failed: {error}\n"),
    }
}

fn push(families: &mut Vec<MetricFamily>, family: Family) {
    families.extend(family.finish());
}

fn seconds_since_epoch(at: salespulse_events::Timestamp) -> f64 {
    at.timestamp() as f64 + f64::from(at.timestamp_subsec_nanos()) / 1e9
}

/// The windows `selection` exports, each with the value kept for it (vectors of a snapshot are
/// indexed like `snapshot.windows`).
fn selected_windows<'a, T>(
    snapshot: &'a Snapshot,
    selection: &'a Selection,
    values: &'a [T],
) -> impl Iterator<Item = (&'a WindowInfo, &'a T)> {
    snapshot
        .windows
        .iter()
        .zip(values)
        .filter(|(window, _)| selection.exports(window.period))
}

fn window_labels(window: &WindowInfo) -> [(&'static str, &'static str); 2] {
    [
        ("period", window.period.label()),
        ("window", window.kind.label()),
    ]
}

fn window_families(snapshot: &Snapshot, selection: &Selection, families: &mut Vec<MetricFamily>) {
    let mut start = Family::gauge(
        "sales_window_start_timestamp_seconds",
        "Start of the window's interval (Unix seconds); excluded for rolling windows.",
    );
    let mut end = Family::gauge(
        "sales_window_end_timestamp_seconds",
        "End of the window's interval (Unix seconds): as-of for current and rolling windows, the current period's start for previous ones.",
    );
    let mut days = Family::gauge(
        "sales_workdays",
        "Workdays of the whole period minus holidays (rolling: the N local dates ending today).",
    );
    for (window, _) in selected_windows(snapshot, selection, &snapshot.windows) {
        let labels = window_labels(window);
        start.sample(&labels, seconds_since_epoch(window.start));
        end.sample(&labels, seconds_since_epoch(window.end));
        days.sample(&labels, f64::from(window.business_days));
    }
    push(families, start);
    push(families, end);
    push(families, days);
}

type RepValue = fn(&RepWindowStats) -> Option<f64>;

fn count(value: u64) -> Option<f64> {
    Some(value as f64)
}

/// Per-rep windowed families that are one value per (rep, window).
const REP_FAMILIES: &[(&str, &str, RepValue)] = &[
    (
        "sales_contacts_established",
        "Distinct contacts with an established activity by the rep in the window.",
        |s| count(s.contacts_established),
    ),
    (
        "sales_appointments_set",
        "Distinct contacts established in the window that also have an appointment set by the same rep in the window.",
        |s| count(s.appointments_set),
    ),
    (
        "sales_appointment_set_ratio",
        "sales_appointments_set / sales_contacts_established.",
        RepWindowStats::appointment_set_ratio,
    ),
    (
        "sales_leads_responded",
        "Leads whose first touch, by this rep, is in the window.",
        |s| count(s.leads_responded),
    ),
    (
        "sales_leads_responded_within_sla",
        "Responded leads whose response time is within the SLA.",
        |s| count(s.leads_responded_within_sla),
    ),
    (
        "sales_lead_response_sla_ratio",
        "sales_leads_responded_within_sla / sales_leads_responded.",
        RepWindowStats::lead_response_sla_ratio,
    ),
    (
        "sales_lead_response_mean_seconds",
        "Mean lead response time of the window's responses.",
        |s| s.response_mean_seconds,
    ),
    (
        "sales_mqls",
        "Leads that reached mql in the window, by the attributed rep.",
        |s| count(s.mqls),
    ),
    (
        "sales_sqls",
        "Leads that reached sql in the window, by the attributed rep.",
        |s| count(s.sqls),
    ),
    (
        "sales_mql_to_sql_ratio",
        "sales_sqls / sales_mqls.",
        RepWindowStats::mql_to_sql_ratio,
    ),
    (
        "sales_deals_won",
        "Deals whose counting (latest) close is a win in the window.",
        |s| count(s.deals_won),
    ),
    (
        "sales_deals_lost",
        "Deals whose counting (latest) close is a loss in the window.",
        |s| count(s.deals_lost),
    ),
    (
        "sales_deals_won_amount",
        "Sum of the amounts of the won deals, in the reporting currency.",
        |s| Some(decimal_to_f64(s.deals_won_amount)),
    ),
    (
        "sales_win_ratio",
        "sales_deals_won / (sales_deals_won + sales_deals_lost).",
        RepWindowStats::win_ratio,
    ),
];

fn rep_families(snapshot: &Snapshot, selection: &Selection, families: &mut Vec<MetricFamily>) {
    let mut attempts = Family::gauge(
        "sales_contact_attempts",
        "Activities (calls, emails, chats) by the rep in the window.",
    );
    for rep in &snapshot.reps {
        for (window, stats) in selected_windows(snapshot, selection, &rep.windows) {
            let [period, kind] = window_labels(window);
            for (channel, attempts_count) in Channel::ALL.iter().zip(stats.contact_attempts) {
                attempts.sample(
                    &[
                        ("rep", &rep.rep),
                        ("team", &rep.team),
                        ("channel", channel.as_str()),
                        period,
                        kind,
                    ],
                    attempts_count as f64,
                );
            }
        }
    }
    push(families, attempts);
    for (name, help, value) in REP_FAMILIES {
        let mut family = Family::gauge(name, help);
        for rep in &snapshot.reps {
            for (window, stats) in selected_windows(snapshot, selection, &rep.windows) {
                let [period, kind] = window_labels(window);
                family.sample(
                    &[("rep", &rep.rep), ("team", &rep.team), period, kind],
                    value(stats),
                );
            }
        }
        push(families, family);
        if *name == "sales_lead_response_sla_ratio" {
            push(families, percentile_family(snapshot, selection));
        }
    }
}

fn percentile_family(snapshot: &Snapshot, selection: &Selection) -> Family {
    let mut family = Family::gauge(
        "sales_lead_response_seconds",
        "Nearest-rank percentile of the window's lead response times (label percentile: 50, 90, 99).",
    );
    for rep in &snapshot.reps {
        for (window, stats) in selected_windows(snapshot, selection, &rep.windows) {
            let Some(percentiles) = stats.response_percentiles else {
                continue;
            };
            let [period, kind] = window_labels(window);
            for (percentile, value) in ["50", "90", "99"].into_iter().zip(percentiles) {
                family.sample(
                    &[
                        ("rep", &rep.rep),
                        ("team", &rep.team),
                        ("percentile", percentile),
                        period,
                        kind,
                    ],
                    value,
                );
            }
        }
    }
    family
}

fn queue_families(snapshot: &Snapshot, selection: &Selection, families: &mut Vec<MetricFamily>) {
    let mut awaiting = Family::gauge(
        "sales_leads_awaiting_response",
        "Leads assigned to the rep, created and not yet touched.",
    );
    let mut oldest = Family::gauge(
        "sales_lead_oldest_awaiting_response_seconds",
        "Seconds the rep's oldest untouched lead has been waiting.",
    );
    for rep in &snapshot.reps {
        let labels = [("rep", rep.rep.as_str()), ("team", rep.team.as_str())];
        awaiting.sample(&labels, rep.queue.awaiting as f64);
        oldest.sample(&labels, rep.queue.oldest_wait_seconds);
    }
    if let Some(queue) = &snapshot.unassigned_queue {
        let labels = [("rep", UNASSIGNED_REP), ("team", UNKNOWN)];
        awaiting.sample(&labels, queue.awaiting as f64);
        oldest.sample(&labels, queue.oldest_wait_seconds);
    }
    let mut goal = Family::gauge(
        "sales_lead_response_sla_seconds",
        "The configured lead response goal (lead_response_sla_seconds).",
    );
    goal.sample(&[], snapshot.lead_response_sla_seconds);
    push(families, awaiting);
    push(families, oldest);
    push(families, goal);
    if selection.rep_histograms {
        push(families, rep_response_histogram(snapshot));
    }
    push(families, team_response_histogram(snapshot));
}

fn sample_histogram(family: &mut Family, labels: &[(&str, &str)], stats: &HistogramStats) {
    family.histogram_sample(
        labels,
        &RESPONSE_HISTOGRAM_BUCKETS,
        &stats.cumulative_counts,
        stats.count,
        stats.sum_seconds(),
    );
}

/// `sales_lead_response_time_seconds`: per touching rep (`[export] rep_histograms`).
fn rep_response_histogram(snapshot: &Snapshot) -> Family {
    let mut family = Family::histogram(
        "sales_lead_response_time_seconds",
        "Every lead response time of the touching rep, for histogram_quantile over any range.",
    );
    for rep in &snapshot.reps {
        sample_histogram(
            &mut family,
            &[("rep", &rep.rep), ("team", &rep.team)],
            &rep.responses,
        );
    }
    family
}

/// `sales_team_lead_response_time_seconds`: the same observations summed per team, always
/// exported, so team percentiles and heatmaps cost 15 series per team and keep working when the
/// per-rep histogram is turned off.
fn team_response_histogram(snapshot: &Snapshot) -> Family {
    let mut teams: BTreeMap<&str, HistogramStats> = BTreeMap::new();
    for rep in &snapshot.reps {
        teams
            .entry(rep.team.as_str())
            .or_default()
            .merge(&rep.responses);
    }
    let mut family = Family::histogram(
        "sales_team_lead_response_time_seconds",
        "Every lead response time of the team's reps (the sum of their sales_lead_response_time_seconds).",
    );
    for (team, stats) in &teams {
        sample_histogram(&mut family, &[("team", team)], stats);
    }
    family
}

fn dimension_families(
    snapshot: &Snapshot,
    selection: &Selection,
    families: &mut Vec<MetricFamily>,
) {
    let mut won = Family::gauge(
        "sales_dimension_deals_won",
        "Won deals in the window by dimension (industry, channel, size) and value.",
    );
    let mut lost = Family::gauge(
        "sales_dimension_deals_lost",
        "Lost deals in the window by dimension (industry, channel, size) and value.",
    );
    let mut ratio = Family::gauge(
        "sales_dimension_win_ratio",
        "sales_dimension_deals_won / (won + lost).",
    );
    for row in &snapshot.dimensions {
        for (window, counts) in selected_windows(snapshot, selection, &row.windows) {
            let [period, kind] = window_labels(window);
            let labels = [
                ("dimension", row.dimension),
                ("value", row.value.as_str()),
                period,
                kind,
            ];
            won.sample(&labels, counts.won as f64);
            lost.sample(&labels, counts.lost as f64);
            ratio.sample(&labels, counts.win_ratio());
        }
    }
    push(families, won);
    push(families, lost);
    push(families, ratio);
}

type TeamValue = fn(&TeamWindowStats) -> Option<f64>;

fn team_families(snapshot: &Snapshot, selection: &Selection, families: &mut Vec<MetricFamily>) {
    let mut bdr_reps = Family::gauge("sales_bdr_reps", "Active reps with role bdr in the team.");
    let mut ae_reps = Family::gauge("sales_ae_reps", "Active reps with role ae in the team.");
    for team in &snapshot.teams {
        for (window, _) in selected_windows(snapshot, selection, &snapshot.windows) {
            let [period, kind] = window_labels(window);
            let labels = [("team", team.team.as_str()), period, kind];
            bdr_reps.sample(&labels, team.bdr_reps as f64);
            ae_reps.sample(&labels, team.ae_reps as f64);
        }
    }
    let windowed: [(&str, &str, TeamValue); 6] = [
        (
            "sales_bdr_capacity_leads",
            "Sum over the team's active BDRs of max daily leads x business days.",
            |s| count(s.bdr_capacity_leads),
        ),
        (
            "sales_bdr_mqls",
            "MQLs attributed to the team's active BDRs in the window (utilisation numerator).",
            |s| count(s.bdr_mqls),
        ),
        (
            "sales_bdr_capacity_utilization_ratio",
            "sales_bdr_mqls / sales_bdr_capacity_leads (> 1 = overloaded).",
            TeamWindowStats::bdr_utilization_ratio,
        ),
        (
            "sales_ae_capacity_deals",
            "Sum over the team's active AEs of max daily deals x business days.",
            |s| count(s.ae_capacity_deals),
        ),
        (
            "sales_ae_deals_won",
            "Deals won by the team's active AEs in the window (utilisation numerator).",
            |s| count(s.ae_deals_won),
        ),
        (
            "sales_ae_capacity_utilization_ratio",
            "sales_ae_deals_won / sales_ae_capacity_deals.",
            TeamWindowStats::ae_utilization_ratio,
        ),
    ];
    let windowed_family = |(name, help, value): (&str, &str, TeamValue)| {
        let mut family = Family::gauge(name, help);
        for team in &snapshot.teams {
            for (window, stats) in selected_windows(snapshot, selection, &team.windows) {
                let [period, kind] = window_labels(window);
                family.sample(&[("team", team.team.as_str()), period, kind], value(stats));
            }
        }
        family
    };
    let [
        bdr_capacity,
        bdr_mqls,
        bdr_ratio,
        ae_capacity,
        ae_won,
        ae_ratio,
    ] = windowed.map(windowed_family);
    for family in [
        bdr_reps,
        bdr_capacity,
        bdr_mqls,
        bdr_ratio,
        ae_reps,
        ae_capacity,
        ae_won,
        ae_ratio,
    ] {
        push(families, family);
    }
}

fn company_families(snapshot: &Snapshot, selection: &Selection, families: &mut Vec<MetricFamily>) {
    let mut expense = Family::gauge(
        "sales_sm_expense",
        "Sales and marketing expense booked in the window, in the reporting currency.",
    );
    let mut new_customers = Family::gauge(
        "sales_new_customers",
        "Customers whose first customer_acquired is in the window.",
    );
    let mut cac = Family::gauge("sales_cac", "sales_sm_expense / sales_new_customers.");
    let mut recurring = Family::gauge(
        "sales_recurring_revenue",
        "Recurring revenue recognised in the window, in the reporting currency.",
    );
    for segment in &snapshot.company.segments {
        for (window, stats) in selected_windows(snapshot, selection, &segment.windows) {
            let [period, kind] = window_labels(window);
            let labels = [("segment", segment.segment.as_str()), period, kind];
            expense.sample(&labels, decimal_to_f64(stats.sm_expense));
            new_customers.sample(&labels, stats.new_customers as f64);
            cac.sample(&labels, stats.cac());
            recurring.sample(&labels, decimal_to_f64(stats.recurring_revenue));
        }
    }
    let mut magic = Family::gauge(
        "sales_magic_number",
        "(recurring revenue of the quarter - of the quarter before) x 4 / S&M expense of the quarter before.",
    );
    let quarters = if selection.exports(Period::Quarter) {
        snapshot.company.magic_number
    } else {
        [None, None]
    };
    for (kind, value) in ["current", "previous"].into_iter().zip(quarters) {
        magic.sample(
            &[("segment", "all"), ("period", "quarter"), ("window", kind)],
            value,
        );
    }
    let mut customers = Family::gauge(
        "sales_customers",
        "Customers ever seen (acquired, or with revenue or cost), by lifetime segment.",
    );
    let mut ltv = Family::gauge(
        "sales_ltv",
        "(Lifetime revenue - lifetime customer cost of the segment's customers) / customers.",
    );
    let mut ltv_to_cac = Family::gauge(
        "sales_ltv_to_cac_ratio",
        "sales_ltv / (lifetime S&M expense / lifetime new customers).",
    );
    for segment in &snapshot.company.segments {
        let labels = [("segment", segment.segment.as_str())];
        customers.sample(&labels, segment.customers as f64);
        ltv.sample(&labels, segment.ltv());
        ltv_to_cac.sample(&labels, segment.ltv_to_cac_ratio());
    }
    for family in [
        expense,
        new_customers,
        cac,
        recurring,
        magic,
        customers,
        ltv,
        ltv_to_cac,
    ] {
        push(families, family);
    }
}

fn pipeline_families(snapshot: &Snapshot, families: &mut Vec<MetricFamily>) {
    let counters = &snapshot.pipeline;
    let mut accepted = Family::counter(
        "salespulse_events_total",
        "Events accepted (duplicates excluded), by type.",
    );
    for (event_type, value) in EventType::ALL.iter().zip(counters.accepted) {
        accepted.sample(&[("type", event_type.as_str())], value as f64);
    }
    let mut rejected = Family::counter(
        "salespulse_events_rejected_total",
        "Input lines rejected and dead-lettered, by reason.",
    );
    for (reason, value) in RejectReason::ALL.iter().zip(counters.rejected) {
        rejected.sample(&[("reason", reason.as_str())], value as f64);
    }
    let mut ignored = Family::counter(
        "salespulse_events_ignored_total",
        "Messages that are not events (tombstone: a null value), neither accepted nor rejected, by reason.",
    );
    for (reason, value) in IgnoreReason::ALL.iter().zip(counters.ignored) {
        ignored.sample(&[("reason", reason.as_str())], value as f64);
    }
    let mut duplicates = Family::counter(
        "salespulse_events_duplicate_total",
        "Valid events ignored because their event_id was already accepted.",
    );
    duplicates.sample(&[], counters.duplicates as f64);
    let mut late = Family::counter(
        "salespulse_events_late_total",
        "Events accepted although older than the start of the current week (a closed window).",
    );
    late.sample(&[], counters.late as f64);
    let mut last = Family::gauge(
        "salespulse_last_event_timestamp_seconds",
        "The newest occurred_at of an accepted event (Unix seconds).",
    );
    last.sample(&[], counters.last_event.map(seconds_since_epoch));
    let mut build = Family::gauge("salespulse_build_info", "Build information; always 1.");
    build.sample(&[("version", env!("CARGO_PKG_VERSION"))], 1.0);
    for family in [accepted, rejected, ignored, duplicates, late, last, build] {
        push(families, family);
    }
}

#[cfg(test)]
mod tests {
    use salespulse_engine::{Engine, Settings};
    use salespulse_events::parse_timestamp;

    use super::*;

    fn exposition(engine: &Engine) -> String {
        encode_text(&engine.snapshot(), &Selection::default(), Vec::new())
    }

    fn engine() -> Engine {
        let settings = Settings {
            max_event_bytes: 8,
            ..Settings::default()
        };
        Engine::new(
            settings,
            parse_timestamp("2026-11-25T12:00:00Z").expect("as of"),
        )
    }

    #[test]
    fn ignored_messages_are_exported_by_reason_from_zero() {
        let text = exposition(&engine());
        assert!(
            text.contains(
                "# HELP salespulse_events_ignored_total Messages that are not events \
                 (tombstone: a null value), neither accepted nor rejected, by reason.\n\
                 # TYPE salespulse_events_ignored_total counter\n\
                 salespulse_events_ignored_total{reason=\"tombstone\"} 0\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("salespulse_events_rejected_total{reason=\"too_large\"} 0\n"),
            "{text}"
        );
    }

    #[test]
    fn tombstones_and_oversized_input_are_counted_apart() {
        let mut engine = engine();
        engine.ignore_tombstone();
        engine.ignore_tombstone();
        engine.ingest(b"{\"a\":\"bc\"}");
        let text = exposition(&engine);
        assert!(
            text.contains("salespulse_events_ignored_total{reason=\"tombstone\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("salespulse_events_rejected_total{reason=\"too_large\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("salespulse_events_rejected_total{reason=\"invalid_json\"} 0\n"),
            "{text}"
        );
    }
}
