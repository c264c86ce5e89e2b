#!/usr/bin/env python3
"""Generates salespulse's Grafana dashboards from code.

    python3 deploy/grafana/generate.py            # (re)writes deploy/grafana/dashboards/*.json
    python3 deploy/grafana/generate.py --check    # exits 1, naming the files that differ
    python3 deploy/grafana/generate.py --out DIR  # writes into DIR instead

The dashboards are built with a small DSL: `target()` is one PromQL query, `timeseries()`, `stat()`,
`gauge()`, `bargauge()`, `table()` and `heatmap()` are panels, `row()` is a titled section whose panels
are laid out left to right on Grafana's 24-column grid, and `dashboard()` numbers the panels and places
the rows one below the other. The output is deterministic (sorted keys, 2-space indent), so the
committed JSON can be compared with the generator's.

Queries follow two rules. Every raw salespulse series is first de-duplicated across replicas with
`max without (instance)` (several identical replicas may be scraped), and team or company ratios and
the last hour's team percentiles come from the recording rules in deploy/prometheus/rules/ (ratios
of summed numerators and denominators, never averages of ratios). Team percentiles over other ranges
and the response-time heatmap read the team histogram `sales_team_lead_response_time_seconds`,
never the per-rep one, so they work with `[export] rep_histograms = false`.
"""

import argparse
import json
import sys
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent / "dashboards"

# The data source of every panel and query: the `datasource` template variable, which defaults to
# the provisioned Prometheus (uid `prometheus`).
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

GRID_WIDTH = 24
PANEL_HEIGHT = 8

# ---------------------------------------------------------------------------------------------
# PromQL helpers
# ---------------------------------------------------------------------------------------------

TEAM = 'team=~"$team"'
REP = 'rep=~"$rep"'
# Each cadence reads its own periods: `window` current/previous selects the calendar period,
# rolling selects the rolling one of the same length.
WEEKLY = ('period=~"week|7d"', 'window="$window"')
MONTHLY = ('period=~"month|30d"', 'window="$window"')
QUARTERLY = ('period=~"quarter|90d"', 'window="$window"')
THIS_WEEK = ('period="week"', 'window="current"')


def selector(metric: str, *matchers: str) -> str:
    """`metric{m1, m2}` (just `metric` without matchers)."""
    return f"{metric}{{{', '.join(matchers)}}}" if matchers else metric


def dedup(expr: str) -> str:
    """One series per identity however many replicas were scraped."""
    return f"max without (instance) ({expr})"


def sum_by(labels: str, expr: str) -> str:
    return f"sum by ({labels}) ({expr})"


def rep_series(metric: str, *matchers: str) -> str:
    """A per-rep series, filtered by the rep and team variables, de-duplicated."""
    return dedup(selector(metric, REP, TEAM, *matchers))


def team_and_company(ratio: str, *matchers: str) -> list[dict]:
    """A team ratio recording rule for the selected teams, and the company's."""
    return [
        target(selector(f"team:{ratio}:sum", TEAM, *matchers), "{{team}}"),
        target(selector(f"company:{ratio}:sum", *matchers), "company"),
    ]


def percentile(quantile: str) -> str:
    """"0.5" -> "p50", "0.99" -> "p99"."""
    return "p" + quantile[2:].ljust(2, "0")


def team_quantiles(*quantiles: str) -> list[dict]:
    """Per-team response-time percentiles of the last hour, from the recording rule."""
    rule = "team_quantile:sales_lead_response_time_seconds:histogram_quantile1h"
    return [target(selector(rule, TEAM, f'quantile="{q}"'), f"{{{{team}}}} {percentile(q)}") for q in quantiles]


def team_quantiles_over(duration: str, *quantiles: str) -> list[dict]:
    """Per-team response-time percentiles of the responses in the last `duration`, from the team
    histogram (exported whatever `[export] rep_histograms` says)."""
    buckets = dedup(f"increase({selector(TEAM_HISTOGRAM_BUCKETS, TEAM)}[{duration}])")
    return [
        target(f"histogram_quantile({q}, {sum_by('team, le', buckets)})", f"{{{{team}}}} {percentile(q)}")
        for q in quantiles
    ]


RESPONSE_GOAL = "max(sales_lead_response_sla_seconds)"
# The response-time histogram summed over each team's reps. Team-level histogram queries use it, not
# the per-rep family, which `[export] rep_histograms = false` removes.
TEAM_HISTOGRAM_BUCKETS = "sales_team_lead_response_time_seconds_bucket"

# ---------------------------------------------------------------------------------------------
# Panel DSL
# ---------------------------------------------------------------------------------------------


def target(expr: str, legend: str = "") -> dict:
    """One Prometheus range query; `refId` is assigned by the panel, the panel type may change the
    format or make it instant."""
    return {
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": expr,
        "format": "time_series",
        "instant": False,
        "legendFormat": legend,
        "range": True,
    }


def steps(*pairs: tuple[str, float | None]) -> dict:
    """Absolute threshold steps: (color, from value); the first step starts at None (-inf)."""
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for color, value in pairs]}


NO_THRESHOLDS = steps(("green", None))
REDUCE_LAST = {"calcs": ["lastNotNull"], "fields": "", "values": False}


def panel(
    kind: str,
    title: str,
    targets: list[dict],
    *,
    description: str = "",
    width: int = 8,
    height: int = PANEL_HEIGHT,
    unit: str = "short",
    minimum: float | None = None,
    maximum: float | None = None,
    thresholds: dict = NO_THRESHOLDS,
    color_mode: str = "palette-classic",
    custom: dict | None = None,
    options: dict | None = None,
    transformations: list[dict] | None = None,
) -> dict:
    """A panel of any type; `id` and `gridPos` are assigned by `dashboard()`."""
    defaults = {"color": {"mode": color_mode}, "thresholds": thresholds, "unit": unit}
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    if custom:
        defaults["custom"] = custom
    result = {
        "datasource": DATASOURCE,
        "description": description,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options or {},
        "targets": [dict(t, refId=chr(ord("A") + i)) for i, t in enumerate(targets)],
        "title": title,
        "type": kind,
        # Consumed by dashboard(), which places the panel.
        "_size": (width, height),
    }
    if transformations:
        result["transformations"] = transformations
    return result


def timeseries(title: str, targets: list[dict], *, stack: bool = False, **kw) -> dict:
    custom = {
        "drawStyle": "line",
        "fillOpacity": 25 if stack else 10,
        "lineWidth": 1,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"group": "A", "mode": "normal" if stack else "none"},
        "thresholdsStyle": {"mode": "off"},
    }
    options = {
        "legend": {"calcs": ["lastNotNull"], "displayMode": "table", "placement": "right", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return panel("timeseries", title, targets, custom=custom, options=options, **kw)


def instant(targets: list[dict]) -> list[dict]:
    """The targets evaluated at the end of the time range only (panels showing one value)."""
    return [dict(t, instant=True, range=False) for t in targets]


def stat(title: str, targets: list[dict], **kw) -> dict:
    options = {
        "colorMode": "value",
        "graphMode": "none",
        "justifyMode": "auto",
        "orientation": "auto",
        "reduceOptions": REDUCE_LAST,
        "textMode": "auto",
    }
    kw.setdefault("color_mode", "thresholds")
    return panel("stat", title, instant(targets), options=options, **kw)


def gauge(title: str, targets: list[dict], **kw) -> dict:
    options = {
        "orientation": "auto",
        "reduceOptions": REDUCE_LAST,
        "showThresholdLabels": True,
        "showThresholdMarkers": True,
    }
    kw.setdefault("color_mode", "thresholds")
    return panel("gauge", title, instant(targets), options=options, **kw)


def bargauge(title: str, targets: list[dict], **kw) -> dict:
    options = {
        "displayMode": "gradient",
        "orientation": "horizontal",
        "reduceOptions": REDUCE_LAST,
        "showUnfilled": True,
        "valueMode": "color",
    }
    kw.setdefault("color_mode", "thresholds")
    return panel("bargauge", title, instant(targets), options=options, **kw)


def table(title: str, targets: list[dict], hidden_columns: tuple[str, ...] = ("Time", "Value"), **kw) -> dict:
    """Instant queries shown as a table of their labels."""
    organize = {"id": "organize", "options": {"excludeByName": {name: True for name in hidden_columns}}}
    return panel(
        "table",
        title,
        [dict(t, format="table") for t in instant(targets)],
        options={"cellHeight": "sm", "showHeader": True},
        transformations=[organize],
        **kw,
    )


def heatmap(title: str, targets: list[dict], *, unit: str = "s", **kw) -> dict:
    """Buckets of a Prometheus histogram, one row per `le`."""
    options = {
        "calculate": False,
        "cellGap": 1,
        "color": {
            "exponent": 0.5,
            "fill": "dark-orange",
            "mode": "scheme",
            "scale": "exponential",
            "scheme": "Oranges",
            "steps": 64,
        },
        "legend": {"show": True},
        "rowsFrame": {"layout": "auto"},
        "tooltip": {"show": True, "yHistogram": False},
        "yAxis": {"axisPlacement": "left", "unit": unit},
    }
    heat_targets = [dict(t, format="heatmap", legendFormat="{{le}}") for t in targets]
    return panel("heatmap", title, heat_targets, options=options, unit=unit, **kw)


def row(title: str, *panels: dict) -> tuple[str, tuple[dict, ...]]:
    """A titled section; its panels fill lines of 24 columns in order."""
    return title, panels


# ---------------------------------------------------------------------------------------------
# Template variables
# ---------------------------------------------------------------------------------------------


def datasource_variable() -> dict:
    return {
        "current": {"selected": False, "text": "Prometheus", "value": "prometheus"},
        "hide": 0,
        "includeAll": False,
        "label": "Data source",
        "multi": False,
        "name": "datasource",
        "options": [],
        "query": "prometheus",
        "refresh": 1,
        "regex": "",
        "type": "datasource",
    }


def query_variable(name: str, label: str, query: str) -> dict:
    """A multi-value Prometheus variable with "All" (matching any value, for `=~`)."""
    return {
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "datasource": DATASOURCE,
        "definition": query,
        "hide": 0,
        "includeAll": True,
        "label": label,
        "multi": True,
        "name": name,
        "options": [],
        "query": query,
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "type": "query",
    }


def custom_variable(name: str, label: str, values: list[str], default: str) -> dict:
    return {
        "current": {"selected": True, "text": default, "value": default},
        "hide": 0,
        "includeAll": False,
        "label": label,
        "multi": False,
        "name": name,
        "options": [{"selected": v == default, "text": v, "value": v} for v in values],
        "query": ",".join(values),
        "type": "custom",
    }


def team_and_rep_variables(metric: str) -> list[dict]:
    """team, and rep restricted to the selected teams."""
    return [
        query_variable("team", "Team", f"label_values({metric}, team)"),
        query_variable("rep", "Rep", f'label_values({metric}{{{TEAM}}}, rep)'),
    ]


# ---------------------------------------------------------------------------------------------
# Dashboard assembly
# ---------------------------------------------------------------------------------------------


def dashboard(
    uid: str,
    title: str,
    description: str,
    variables: list[dict],
    rows: list,
    *,
    refresh: str = "",
    time_from: str = "now-7d",
) -> dict:
    """Numbers the panels from 1 and places them: each row is a "row" panel, then its panels."""
    panels = []
    y = 0

    def place(item: dict, x: int, y: int, width: int, height: int) -> None:
        item["id"] = len(panels) + 1
        item["gridPos"] = {"h": height, "w": width, "x": x, "y": y}
        panels.append(item)

    for row_title, row_panels in rows:
        place({"collapsed": False, "panels": [], "title": row_title, "type": "row"}, 0, y, GRID_WIDTH, 1)
        y += 1
        x, line_height = 0, 0
        for item in row_panels:
            width, height = item.pop("_size")
            if x + width > GRID_WIDTH:
                x, y, line_height = 0, y + line_height, 0
            place(item, x, y, width, height)
            x += width
            line_height = max(line_height, height)
        y += line_height

    return {
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [
            {
                "asDropdown": False,
                "includeVars": False,
                "keepTime": True,
                "tags": ["salespulse"],
                "title": "salespulse",
                "type": "dashboards",
            }
        ],
        "liveNow": False,
        "panels": panels,
        "refresh": refresh,
        "schemaVersion": 39,
        "tags": ["salespulse"],
        "templating": {"list": variables},
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "timezone": "",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }


# ---------------------------------------------------------------------------------------------
# The dashboards
# ---------------------------------------------------------------------------------------------

RATIO = {"unit": "percentunit", "minimum": 0, "maximum": 1}


def sales_performance() -> dict:
    weekly = row(
        "Weekly: contact volume, appointments, lead response",
        timeseries(
            "Contact attempts by channel",
            [target(sum_by("channel", rep_series("sales_contact_attempts", *WEEKLY)), "{{channel}}")],
            description="Activities logged in the week (or the last 7 days), by channel.",
            stack=True,
            width=12,
        ),
        bargauge(
            "Contacts established by rep",
            [target(f"sort_desc({rep_series('sales_contacts_established', *WEEKLY)})", "{{rep}}")],
            description="Distinct contacts with an established activity in the week.",
            width=12,
        ),
        timeseries(
            "Appointment-set rate",
            team_and_company("sales_appointment_set_ratio", *WEEKLY),
            description="Appointments set / contacts established, per team and for the company.",
            width=12,
            **RATIO,
        ),
        bargauge(
            "Appointment-set rate by rep",
            [target(f"sort_desc({rep_series('sales_appointment_set_ratio', *WEEKLY)})", "{{rep}}")],
            width=12,
            **RATIO,
        ),
        timeseries(
            "Lead response time p50 / p90 by team",
            [*team_quantiles_over("7d", "0.5", "0.9"), target(RESPONSE_GOAL, "response goal")],
            description=(
                "Percentiles of the team's first responses in the rolling last 7 days, from the team "
                "response-time histogram, whatever the Window variable says. The exact per-rep "
                "percentiles next to it follow the Window variable ($window)."
            ),
            unit="s",
        ),
        bargauge(
            "Lead response time p50 / p90 by rep",
            [target(rep_series("sales_lead_response_seconds", 'percentile=~"50|90"', *WEEKLY), "{{rep}} p{{percentile}}")],
            description="Exact percentiles of the rep's first responses in the week selected by $window.",
            unit="s",
        ),
        timeseries(
            "Leads answered within the goal",
            [
                *team_and_company("sales_lead_response_sla_ratio", *WEEKLY),
                target("threshold:lead_response_sla_ratio_min", "alert threshold"),
            ],
            description="Share of first responses within the configured response goal.",
            **RATIO,
        ),
    )
    monthly = row(
        "Monthly: MQLs, capacity, win rate",
        timeseries(
            "MQLs",
            [target(sum_by("team", rep_series("sales_mqls", *MONTHLY)), "{{team}}")],
            description="Leads that became marketing-qualified in the month, by team (selected reps).",
            stack=True,
            width=12,
        ),
        timeseries("MQL → SQL rate", team_and_company("sales_mql_to_sql_ratio", *MONTHLY), width=12, **RATIO),
        timeseries(
            "BDR capacity vs MQLs",
            [
                target(dedup(selector("sales_bdr_capacity_leads", TEAM, *MONTHLY)), "{{team}} capacity"),
                target(dedup(selector("sales_bdr_mqls", TEAM, *MONTHLY)), "{{team}} MQLs"),
            ],
            description="Leads the team's BDRs can handle in the whole period, and the MQLs they produced so far.",
            width=16,
        ),
        bargauge(
            "BDR capacity utilisation",
            [
                target(dedup(selector("sales_bdr_capacity_utilization_ratio", TEAM, *MONTHLY)), "{{team}}"),
                target(selector("company:sales_bdr_capacity_utilization_ratio:sum", *MONTHLY), "company"),
            ],
            description="Above 1: the team is overloaded.",
            thresholds=steps(("green", None), ("red", 1)),
            unit="percentunit",
            minimum=0,
            width=8,
        ),
        timeseries(
            "AE capacity vs deals won",
            [
                target(dedup(selector("sales_ae_capacity_deals", TEAM, *MONTHLY)), "{{team}} capacity"),
                target(dedup(selector("sales_ae_deals_won", TEAM, *MONTHLY)), "{{team}} deals won"),
            ],
            description="Deals the team's AEs can close in the whole period, and the deals they won so far.",
            width=16,
        ),
        bargauge(
            "AE capacity utilisation",
            [
                target(dedup(selector("sales_ae_capacity_utilization_ratio", TEAM, *MONTHLY)), "{{team}}"),
                target(selector("company:sales_ae_capacity_utilization_ratio:sum", *MONTHLY), "company"),
            ],
            unit="percentunit",
            minimum=0,
            width=8,
        ),
        bargauge(
            "Win rate by rep",
            [target(f"sort_desc({rep_series('sales_win_ratio', *MONTHLY)})", "{{rep}}")],
            width=12,
            **RATIO,
        ),
        timeseries("Win rate by team", team_and_company("sales_win_ratio", *MONTHLY), width=12, **RATIO),
        *(
            bargauge(
                f"Win rate by {label}",
                [target(dedup(selector("sales_dimension_win_ratio", f'dimension="{dimension}"', *MONTHLY)), "{{value}}")],
                **RATIO,
            )
            for dimension, label in (("industry", "industry"), ("channel", "channel"), ("size", "deal size"))
        ),
    )
    quarterly = row(
        "Quarterly: acquisition cost, lifetime value, magic number",
        stat(
            "Customer acquisition cost (CAC)",
            [target(dedup(selector("sales_cac", *QUARTERLY)), "{{segment}}")],
            description="Sales and marketing expense / new customers in the quarter, in the reporting currency.",
            width=6,
        ),
        stat(
            "Lifetime value (LTV)",
            [target(dedup("sales_ltv"), "{{segment}}")],
            description="Revenue minus cost per customer, over all time, in the reporting currency.",
            width=6,
        ),
        stat(
            "LTV:CAC",
            [target(dedup("sales_ltv_to_cac_ratio"), "{{segment}}")],
            thresholds=steps(("red", None), ("yellow", 1), ("green", 3)),
            unit="none",
            width=6,
        ),
        gauge(
            "Magic number",
            [
                target(
                    dedup(selector("sales_magic_number", 'segment="all"', 'period="quarter"', 'window="$window"')),
                    "{{window}} quarter",
                )
            ],
            description=(
                "New annualised recurring revenue per unit of last quarter's S&M expense. Below 0.75: "
                "spend is not paying back; above 1: invest more. Calendar quarters only (nothing with window=rolling)."
            ),
            thresholds=steps(("red", None), ("yellow", 0.75), ("green", 1.0)),
            unit="none",
            minimum=0,
            maximum=2,
            width=6,
        ),
    )
    return dashboard(
        "salespulse-sales",
        "Salespulse · Sales performance",
        "Sales metrics by cadence: weekly activity and lead response, monthly funnel, capacity and win "
        "rate, quarterly unit economics.",
        [
            datasource_variable(),
            *team_and_rep_variables("sales_contacts_established"),
            custom_variable("window", "Window", ["current", "previous", "rolling"], "current"),
        ],
        [weekly, monthly, quarterly],
    )


def lead_queue() -> dict:
    oldest = rep_series("sales_lead_oldest_awaiting_response_seconds")
    queue = row(
        "Queue now",
        bargauge(
            "Leads waiting per rep",
            [target(f"topk(20, {rep_series('sales_leads_awaiting_response')})", "{{rep}} ({{team}})")],
            description="Leads assigned and not yet answered; the 20 longest queues.",
            width=8,
        ),
        timeseries(
            "Leads waiting by team",
            [target(selector("team:sales_leads_awaiting_response:sum", TEAM), "{{team}}")],
            stack=True,
            width=8,
        ),
        stat(
            "Reps with a lead past the goal",
            [target(f"count({oldest} > on () group_left () threshold:lead_wait_seconds) or vector(0)", "reps")],
            thresholds=steps(("green", None), ("red", 1)),
            width=8,
        ),
        timeseries(
            "Oldest wait per rep vs goal",
            [
                target(f"topk(20, {oldest})", "{{rep}} ({{team}})"),
                target("threshold:lead_wait_seconds", "alert threshold"),
                target(RESPONSE_GOAL, "response goal"),
            ],
            description="How long the oldest unanswered lead of each rep has waited (the 20 longest).",
            unit="s",
            width=24,
        ),
    )
    breaches = row(
        "SLA breaches",
        table(
            "SLA breaches: alerts firing",
            [target('ALERTS{alertname="SalesLeadWaitingTooLong", alertstate="firing"}')],
            description="Current SalesLeadWaitingTooLong alerts, one per rep with a lead waiting past the goal.",
            width=12,
        ),
        bargauge(
            "Responded after the goal this week",
            [
                target(
                    f"{sum_by('team', selector('team:sales_leads_responded:sum', TEAM, *THIS_WEEK))}"
                    f" - {sum_by('team', selector('team:sales_leads_responded_within_sla:sum', TEAM, *THIS_WEEK))}",
                    "{{team}}",
                )
            ],
            description="Leads first answered in the current week, but later than the response goal.",
            width=12,
        ),
    )
    times = row(
        "Response times",
        heatmap(
            "Response time heatmap",
            [target(sum_by("le", dedup(f"increase({selector(TEAM_HISTOGRAM_BUCKETS, TEAM)}[$__rate_interval])")))],
            description="First responses of the selected teams per response-time bucket, from the team histogram.",
            width=12,
        ),
        timeseries(
            "Team response time p50 / p90 / p99",
            [*team_quantiles("0.5", "0.9", "0.99"), target(RESPONSE_GOAL, "response goal")],
            unit="s",
            width=12,
        ),
    )
    return dashboard(
        "salespulse-lead-queue",
        "Salespulse · Lead queue",
        "Live: leads waiting for a first response, how long, and the breaches of the response goal.",
        [datasource_variable(), *team_and_rep_variables("sales_leads_awaiting_response")],
        [queue, breaches, times],
        refresh="30s",
        time_from="now-6h",
    )


def counter_rate(metric: str) -> str:
    """Events per second of a pipeline counter, replicas de-duplicated."""
    return f"sum({dedup(f'rate({metric}[$__rate_interval])')})"


def pipeline_health() -> dict:
    throughput = row(
        "Throughput",
        timeseries(
            "Events per second by type",
            [target(sum_by("type", "job:salespulse_events:rate5m"), "{{type}}")],
            stack=True,
            unit="ops",
            width=12,
        ),
        timeseries(
            "Rejections by reason",
            [target(sum_by("reason", "job:salespulse_events_rejected:rate5m"), "{{reason}}")],
            description="Events rejected and sent to the dead-letter topic.",
            unit="ops",
            width=12,
        ),
        timeseries(
            "Duplicate events",
            [target(counter_rate("salespulse_events_duplicate_total"), "duplicates")],
            unit="ops",
            width=12,
        ),
        timeseries(
            "Late events",
            [target(counter_rate("salespulse_events_late_total"), "late")],
            description="Events accepted into an already-closed window.",
            unit="ops",
            width=12,
        ),
    )
    consumer = row(
        "Consumer",
        timeseries(
            "Consumer lag by topic/partition",
            [
                target(
                    'max by (topic, partition) (salespulse_consumer_lag_messages{job="salespulse"})',
                    "{{topic}}/{{partition}}",
                ),
                target("threshold:consumer_lag_messages_max", "alert threshold"),
            ],
            description="High watermark minus committed position (the worst replica).",
            width=8,
        ),
        timeseries(
            "Processing latency",
            [
                target(
                    f"histogram_quantile({q}, sum by (instance, le) "
                    f'(rate(salespulse_event_processing_seconds_bucket{{job="salespulse"}}[$__rate_interval])))',
                    f"{{{{instance}}}} {percentile(q)}",
                )
                for q in ("0.5", "0.99")
            ],
            description="From receipt to visible in the exported state, per replica.",
            unit="s",
            width=8,
        ),
        timeseries(
            "Last event age",
            [target('time() - salespulse_last_event_timestamp_seconds{job="salespulse"}', "{{instance}}")],
            description="Now minus the newest occurred_at processed, per replica.",
            unit="s",
            width=8,
        ),
    )
    process = row(
        "Process",
        stat(
            "Up",
            [target('up{job="salespulse"}', "{{instance}}")],
            thresholds=steps(("red", None), ("green", 1)),
            width=8,
        ),
        table(
            "Build info",
            [target('salespulse_build_info{job="salespulse"}')],
            hidden_columns=("Time", "Value", "__name__"),
            width=16,
        ),
    )
    return dashboard(
        "salespulse-pipeline",
        "Salespulse · Pipeline health",
        "The event pipeline itself: throughput, rejections, consumer lag, processing latency, liveness.",
        [datasource_variable()],
        [throughput, consumer, process],
        refresh="30s",
        time_from="now-3h",
    )


DASHBOARDS = {
    "sales-performance.json": sales_performance,
    "lead-queue.json": lead_queue,
    "pipeline-health.json": pipeline_health,
}


def render(build) -> str:
    return json.dumps(build(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed JSON differs from the generator's")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="directory of the dashboards (default: %(default)s)")
    args = parser.parse_args()

    stale = []
    for name, build in DASHBOARDS.items():
        path = args.out / name
        text = render(build)
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{path} differs from the generator's output: run python3 deploy/grafana/generate.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
