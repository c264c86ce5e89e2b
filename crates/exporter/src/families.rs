//! One function per metric family group; names, labels and HELP texts are the public API.
//!
//! Each family is written straight from the snapshot into the exposition text ([`writer`]), one
//! family after the other, in a fixed order.

use std::collections::BTreeMap;

use prometheus::proto::MetricFamily;
use salespulse_engine::{
    HistogramStats, Period, RESPONSE_HISTOGRAM_BUCKETS, RepWindowStats, SegmentSnapshot, Snapshot,
    TeamSnapshot, TeamWindowStats, UNASSIGNED_REP, UNKNOWN, WindowInfo, decimal_to_f64,
};
use salespulse_events::{Channel, EventType, IgnoreReason, RejectReason};

use crate::extra::encode_families;
use crate::selection::Selection;
use crate::writer::{self, Buckets, Family, Kind, LabelSet};

/// Every family of METRICS.md for `snapshot` that `selection` exports, in a fixed order,
/// appended to `out` in the Prometheus text format 0.0.4.
pub fn write_snapshot(snapshot: &Snapshot, selection: &Selection, out: &mut String) {
    let render = Render::new(snapshot, selection);
    window_families(&render, out);
    rep_families(&render, out);
    queue_families(&render, out);
    dimension_families(&render, out);
    team_families(&render, out);
    company_families(&render, out);
    pipeline_families(snapshot, out);
}

/// The exposition in the Prometheus text format 0.0.4, with `extra` families appended (the
/// service adds its consumer metrics).
pub fn encode_text(snapshot: &Snapshot, selection: &Selection, extra: Vec<MetricFamily>) -> String {
    match encode_families(&extra) {
        Ok(extra) => {
            let mut text = String::new();
            write_snapshot(snapshot, selection, &mut text);
            text.push_str(&extra);
            text
        }
        Err(error) => format!("# salespulse: encoding failed: {error}\n"),
    }
}

/// What the families of one render share: the snapshot, and the label sets that recur on many
/// lines, rendered once.
struct Render<'s> {
    snapshot: &'s Snapshot,
    selection: &'s Selection,
    /// `period` and `window` of each window `selection` exports, with its index in
    /// `snapshot.windows` (the index of its value in every per-window vector of the snapshot).
    windows: Vec<(usize, LabelSet)>,
    /// `rep` and `team` of each rep, like `snapshot.reps`.
    reps: Vec<LabelSet>,
}

impl<'s> Render<'s> {
    fn new(snapshot: &'s Snapshot, selection: &'s Selection) -> Render<'s> {
        let windows = snapshot
            .windows
            .iter()
            .enumerate()
            .filter(|(_, window)| selection.exports(window.period))
            .map(|(index, window)| {
                let labels = [
                    ("period", window.period.label()),
                    ("window", window.kind.label()),
                ];
                (index, LabelSet::new(&labels))
            })
            .collect();
        let reps = snapshot
            .reps
            .iter()
            .map(|rep| LabelSet::new(&[("rep", &rep.rep), ("team", &rep.team)]))
            .collect();
        Render {
            snapshot,
            selection,
            windows,
            reps,
        }
    }

    /// The exported windows' labels, each with its value in `values` (a vector indexed like
    /// `snapshot.windows`).
    fn windows<'a, T>(&'a self, values: &'a [T]) -> impl Iterator<Item = (&'a LabelSet, &'a T)> {
        self.windows
            .iter()
            .filter_map(|(index, labels)| Some((labels, values.get(*index)?)))
    }
}

fn gauge(out: &mut String, name: &'static str, help: &str, samples: impl FnOnce(&mut Family<'_>)) {
    writer::family(out, name, help, Kind::Gauge, samples);
}

fn seconds_since_epoch(at: salespulse_events::Timestamp) -> f64 {
    at.timestamp() as f64 + f64::from(at.timestamp_subsec_nanos()) / 1e9
}

type WindowValue = fn(&WindowInfo) -> f64;

fn window_families(render: &Render<'_>, out: &mut String) {
    let families: [(&'static str, &str, WindowValue); 3] = [
        (
            "sales_window_start_timestamp_seconds",
            "Start of the window's interval (Unix seconds); excluded for rolling windows.",
            |window| seconds_since_epoch(window.start),
        ),
        (
            "sales_window_end_timestamp_seconds",
            "End of the window's interval (Unix seconds): as-of for current and rolling windows, the current period's start for previous ones.",
            |window| seconds_since_epoch(window.end),
        ),
        (
            "sales_workdays",
            "Workdays of the whole period minus holidays (rolling: the N local dates ending today).",
            |window| f64::from(window.business_days),
        ),
    ];
    for (name, help, value) in families {
        gauge(out, name, help, |family| {
            for (labels, window) in render.windows(&render.snapshot.windows) {
                family.sample(&[labels], value(window));
            }
        });
    }
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

fn rep_families(render: &Render<'_>, out: &mut String) {
    let reps = || render.snapshot.reps.iter().zip(&render.reps);
    let channels: Vec<_> = Channel::ALL
        .iter()
        .map(|channel| LabelSet::new(&[("channel", channel.as_str())]))
        .collect();
    gauge(
        out,
        "sales_contact_attempts",
        "Activities (calls, emails, chats) by the rep in the window.",
        |family| {
            for (rep, rep_labels) in reps() {
                for (window, stats) in render.windows(&rep.windows) {
                    for (channel, attempts) in channels.iter().zip(stats.contact_attempts) {
                        family.count(&[rep_labels, channel, window], attempts);
                    }
                }
            }
        },
    );
    for (name, help, value) in REP_FAMILIES {
        gauge(out, name, help, |family| {
            for (rep, rep_labels) in reps() {
                for (window, stats) in render.windows(&rep.windows) {
                    family.sample(&[rep_labels, window], value(stats));
                }
            }
        });
        if *name == "sales_lead_response_sla_ratio" {
            percentile_family(render, out);
        }
    }
}

fn percentile_family(render: &Render<'_>, out: &mut String) {
    let percentiles =
        ["50", "90", "99"].map(|percentile| LabelSet::new(&[("percentile", percentile)]));
    gauge(
        out,
        "sales_lead_response_seconds",
        "Nearest-rank percentile of the window's lead response times (label percentile: 50, 90, 99).",
        |family| {
            for (rep, rep_labels) in render.snapshot.reps.iter().zip(&render.reps) {
                for (window, stats) in render.windows(&rep.windows) {
                    let Some(values) = stats.response_percentiles else {
                        continue;
                    };
                    for (percentile, value) in percentiles.iter().zip(values) {
                        family.sample(&[rep_labels, percentile, window], value);
                    }
                }
            }
        },
    );
}

fn queue_families(render: &Render<'_>, out: &mut String) {
    let snapshot = render.snapshot;
    let unassigned = snapshot.unassigned_queue.as_ref().map(|queue| {
        let labels = LabelSet::new(&[("rep", UNASSIGNED_REP), ("team", UNKNOWN)]);
        (labels, queue)
    });
    let queues = || {
        render
            .reps
            .iter()
            .zip(&snapshot.reps)
            .map(|(labels, rep)| (labels, &rep.queue))
            .chain(unassigned.iter().map(|(labels, queue)| (labels, *queue)))
    };
    gauge(
        out,
        "sales_leads_awaiting_response",
        "Leads assigned to the rep, created and not yet touched.",
        |family| {
            for (labels, queue) in queues() {
                family.count(&[labels], queue.awaiting);
            }
        },
    );
    gauge(
        out,
        "sales_lead_oldest_awaiting_response_seconds",
        "Seconds the rep's oldest untouched lead has been waiting.",
        |family| {
            for (labels, queue) in queues() {
                family.sample(&[labels], queue.oldest_wait_seconds);
            }
        },
    );
    gauge(
        out,
        "sales_lead_response_sla_seconds",
        "The configured lead response goal (lead_response_sla_seconds).",
        |family| family.sample(&[], snapshot.lead_response_sla_seconds),
    );
    let buckets = Buckets::new(&RESPONSE_HISTOGRAM_BUCKETS);
    if render.selection.rep_histograms {
        rep_response_histogram(render, &buckets, out);
    }
    team_response_histogram(snapshot, &buckets, out);
}

fn histogram(
    out: &mut String,
    name: &'static str,
    help: &str,
    samples: impl FnOnce(&mut Family<'_>),
) {
    writer::family(out, name, help, Kind::Histogram, samples);
}

fn sample_histogram(
    family: &mut Family<'_>,
    labels: &LabelSet,
    buckets: &Buckets,
    stats: &HistogramStats,
) {
    family.histogram(
        &[labels],
        buckets,
        &stats.cumulative_counts,
        stats.count,
        stats.sum_seconds(),
    );
}

/// `sales_lead_response_time_seconds`: per touching rep (`[export] rep_histograms`).
fn rep_response_histogram(render: &Render<'_>, buckets: &Buckets, out: &mut String) {
    histogram(
        out,
        "sales_lead_response_time_seconds",
        "Every lead response time of the touching rep, for histogram_quantile over any range.",
        |family| {
            for (rep, labels) in render.snapshot.reps.iter().zip(&render.reps) {
                sample_histogram(family, labels, buckets, &rep.responses);
            }
        },
    );
}

/// `sales_team_lead_response_time_seconds`: the same observations summed per team, always
/// exported, so team percentiles and heatmaps cost 15 series per team and keep working when the
/// per-rep histogram is turned off.
fn team_response_histogram(snapshot: &Snapshot, buckets: &Buckets, out: &mut String) {
    let mut teams: BTreeMap<&str, HistogramStats> = BTreeMap::new();
    for rep in &snapshot.reps {
        teams
            .entry(rep.team.as_str())
            .or_default()
            .merge(&rep.responses);
    }
    histogram(
        out,
        "sales_team_lead_response_time_seconds",
        "Every lead response time of the team's reps (the sum of their sales_lead_response_time_seconds).",
        |family| {
            for (team, stats) in &teams {
                sample_histogram(family, &LabelSet::new(&[("team", team)]), buckets, stats);
            }
        },
    );
}

fn dimension_families(render: &Render<'_>, out: &mut String) {
    let rows: Vec<_> = render
        .snapshot
        .dimensions
        .iter()
        .map(|row| {
            let labels = [("dimension", row.dimension), ("value", row.value.as_str())];
            (LabelSet::new(&labels), row)
        })
        .collect();
    let families = [
        (
            "sales_dimension_deals_won",
            "Won deals in the window by dimension (industry, channel, size) and value.",
        ),
        (
            "sales_dimension_deals_lost",
            "Lost deals in the window by dimension (industry, channel, size) and value.",
        ),
        (
            "sales_dimension_win_ratio",
            "sales_dimension_deals_won / (won + lost).",
        ),
    ];
    for (index, (name, help)) in families.into_iter().enumerate() {
        gauge(out, name, help, |family| {
            for (labels, row) in &rows {
                for (window, counts) in render.windows(&row.windows) {
                    let values = [count(counts.won), count(counts.lost), counts.win_ratio()];
                    family.sample(&[labels, window], values[index]);
                }
            }
        });
    }
}

type TeamValue = fn(&TeamWindowStats) -> Option<f64>;

/// Team families over the team's windows, in export order after the head counts.
const BDR_FAMILIES: [(&str, &str, TeamValue); 3] = [
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
];
const AE_FAMILIES: [(&str, &str, TeamValue); 3] = [
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

type HeadCount = fn(&TeamSnapshot) -> u64;

fn team_families(render: &Render<'_>, out: &mut String) {
    let snapshot = render.snapshot;
    let teams: Vec<_> = snapshot
        .teams
        .iter()
        .map(|team| (LabelSet::new(&[("team", team.team.as_str())]), team))
        .collect();
    let head_counts: [(&'static str, &str, HeadCount, _); 2] = [
        (
            "sales_bdr_reps",
            "Active reps with role bdr in the team.",
            |team| team.bdr_reps,
            &BDR_FAMILIES,
        ),
        (
            "sales_ae_reps",
            "Active reps with role ae in the team.",
            |team| team.ae_reps,
            &AE_FAMILIES,
        ),
    ];
    for (name, help, head_count, windowed) in head_counts {
        gauge(out, name, help, |family| {
            for (labels, team) in &teams {
                for (window, _) in render.windows(&snapshot.windows) {
                    family.count(&[labels, window], head_count(team));
                }
            }
        });
        for (name, help, value) in windowed {
            gauge(out, name, help, |family| {
                for (labels, team) in &teams {
                    for (window, stats) in render.windows(&team.windows) {
                        family.sample(&[labels, window], value(stats));
                    }
                }
            });
        }
    }
}

type SegmentValue = fn(&SegmentSnapshot) -> Option<f64>;

fn company_families(render: &Render<'_>, out: &mut String) {
    let company = &render.snapshot.company;
    let segments: Vec<_> = company
        .segments
        .iter()
        .map(|segment| {
            (
                LabelSet::new(&[("segment", segment.segment.as_str())]),
                segment,
            )
        })
        .collect();
    let windowed = [
        (
            "sales_sm_expense",
            "Sales and marketing expense booked in the window, in the reporting currency.",
        ),
        (
            "sales_new_customers",
            "Customers whose first customer_acquired is in the window.",
        ),
        ("sales_cac", "sales_sm_expense / sales_new_customers."),
        (
            "sales_recurring_revenue",
            "Recurring revenue recognised in the window, in the reporting currency.",
        ),
    ];
    for (index, (name, help)) in windowed.into_iter().enumerate() {
        gauge(out, name, help, |family| {
            for (labels, segment) in &segments {
                for (window, stats) in render.windows(&segment.windows) {
                    let values = [
                        Some(decimal_to_f64(stats.sm_expense)),
                        count(stats.new_customers),
                        stats.cac(),
                        Some(decimal_to_f64(stats.recurring_revenue)),
                    ];
                    family.sample(&[labels, window], values[index]);
                }
            }
        });
    }
    let quarters = if render.selection.exports(Period::Quarter) {
        company.magic_number
    } else {
        [None, None]
    };
    gauge(
        out,
        "sales_magic_number",
        "(recurring revenue of the quarter - of the quarter before) x 4 / S&M expense of the quarter before.",
        |family| {
            for (kind, value) in ["current", "previous"].into_iter().zip(quarters) {
                let labels = [("segment", "all"), ("period", "quarter"), ("window", kind)];
                family.sample(&[&LabelSet::new(&labels)], value);
            }
        },
    );
    let lifetime: [(&'static str, &str, SegmentValue); 3] = [
        (
            "sales_customers",
            "Customers ever seen (acquired, or with revenue or cost), by lifetime segment.",
            |segment| count(segment.customers),
        ),
        (
            "sales_ltv",
            "(Lifetime revenue - lifetime customer cost of the segment's customers) / customers.",
            SegmentSnapshot::ltv,
        ),
        (
            "sales_ltv_to_cac_ratio",
            "sales_ltv / (lifetime S&M expense / lifetime new customers).",
            SegmentSnapshot::ltv_to_cac_ratio,
        ),
    ];
    for (name, help, value) in lifetime {
        gauge(out, name, help, |family| {
            for (labels, segment) in &segments {
                family.sample(&[labels], value(segment));
            }
        });
    }
}

/// A counter with one sample per `(label value, count)`.
fn labelled_counter<'a>(
    out: &mut String,
    (name, help): (&'static str, &str),
    label: &str,
    samples: impl IntoIterator<Item = (&'a str, &'a u64)>,
) {
    writer::family(out, name, help, Kind::Counter, |family| {
        for (value, count) in samples {
            family.count(&[&LabelSet::new(&[(label, value)])], *count);
        }
    });
}

fn pipeline_families(snapshot: &Snapshot, out: &mut String) {
    let counters = &snapshot.pipeline;
    labelled_counter(
        out,
        (
            "salespulse_events_total",
            "Events accepted (duplicates excluded), by type.",
        ),
        "type",
        EventType::ALL
            .iter()
            .map(|event_type| event_type.as_str())
            .zip(&counters.accepted),
    );
    labelled_counter(
        out,
        (
            "salespulse_events_rejected_total",
            "Input lines rejected and dead-lettered, by reason.",
        ),
        "reason",
        RejectReason::ALL
            .iter()
            .map(|reason| reason.as_str())
            .zip(&counters.rejected),
    );
    labelled_counter(
        out,
        (
            "salespulse_events_ignored_total",
            "Messages that are not events (tombstone: a null value), neither accepted nor rejected, by reason.",
        ),
        "reason",
        IgnoreReason::ALL
            .iter()
            .map(|reason| reason.as_str())
            .zip(&counters.ignored),
    );
    let unlabelled = [
        (
            "salespulse_events_duplicate_total",
            "Valid events ignored because their event_id was already accepted.",
            counters.duplicates,
        ),
        (
            "salespulse_events_late_total",
            "Events accepted although older than the start of the current week (a closed window).",
            counters.late,
        ),
    ];
    for (name, help, value) in unlabelled {
        writer::family(out, name, help, Kind::Counter, |family| {
            family.count(&[], value);
        });
    }
    gauge(
        out,
        "salespulse_last_event_timestamp_seconds",
        "The newest occurred_at of an accepted event (Unix seconds).",
        |family| family.sample(&[], counters.last_event.map(seconds_since_epoch)),
    );
    gauge(
        out,
        "salespulse_build_info",
        "Build information; always 1.",
        |family| {
            let version = LabelSet::new(&[("version", env!("CARGO_PKG_VERSION"))]);
            family.sample(&[&version], 1.0);
        },
    );
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
