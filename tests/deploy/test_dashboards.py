"""The Grafana dashboards: generated from deploy/grafana/generate.py, loadable by Grafana 10/11, and
holding the panels and variables issue 9 asks for. Grafana itself is not available here; the checks
below are the ones Grafana's loader and layout rely on.
"""

import itertools
import json
import re
import subprocess
import sys

import pytest
import yaml

from conftest import REPO

GRAFANA = REPO / "deploy" / "grafana"
GENERATOR = GRAFANA / "generate.py"
DASHBOARDS = GRAFANA / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

# file -> (uid, the template variables it must have, the panels it must have by title)
EXPECTED = {
    "sales-performance.json": (
        "salespulse-sales",
        {"datasource", "team", "rep", "window"},
        {
            "Contact attempts by channel",
            "Contacts established by rep",
            "Appointment-set rate",
            "Lead response time p50 / p90 by team",
            "Lead response time p50 / p90 by rep",
            "Leads answered within the goal",
            "MQLs",
            "MQL → SQL rate",
            "BDR capacity vs MQLs",
            "AE capacity vs deals won",
            "Win rate by rep",
            "Win rate by team",
            "Win rate by industry",
            "Win rate by channel",
            "Win rate by deal size",
            "Customer acquisition cost (CAC)",
            "Lifetime value (LTV)",
            "LTV:CAC",
            "Magic number",
        },
    ),
    "lead-queue.json": (
        "salespulse-lead-queue",
        {"datasource", "team", "rep"},
        {
            "Leads waiting per rep",
            "Oldest wait per rep vs goal",
            "Response time heatmap",
            "SLA breaches: alerts firing",
            "Responded after the goal this week",
            "Team response time p50 / p90 / p99",
        },
    ),
    "pipeline-health.json": (
        "salespulse-pipeline",
        {"datasource"},
        {
            "Events per second by type",
            "Rejections by reason",
            "Duplicate events",
            "Late events",
            "Consumer lag by topic/partition",
            "Processing latency",
            "Build info",
            "Last event age",
            "Up",
        },
    ),
}


def load(name: str) -> dict:
    return json.loads((DASHBOARDS / name).read_text(encoding="utf-8"))


def generate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(GENERATOR), *args], capture_output=True, text=True, timeout=60
    )


def content_panels(dashboard: dict) -> list[dict]:
    return [p for p in dashboard["panels"] if p["type"] not in ("row", "text")]


def panels_by_row(dashboard: dict) -> dict[str, list[dict]]:
    """Row title -> the panels below it (the panels of an expanded row follow it at top level)."""
    rows, current = {}, None
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            current = rows.setdefault(panel["title"], [])
        else:
            current.append(panel)
    return rows


def variables(dashboard: dict) -> dict[str, dict]:
    return {v["name"]: v for v in dashboard["templating"]["list"]}


# --- generated == committed -------------------------------------------------------------------


def test_committed_dashboards_are_the_generators_output():
    result = generate("--check")
    assert result.returncode == 0, result.stderr


def test_generating_into_a_directory_reproduces_the_committed_json(tmp_path):
    result = generate("--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(EXPECTED)
    for name in EXPECTED:
        generated = (tmp_path / name).read_text(encoding="utf-8")
        assert json.loads(generated) == load(name)
        # Byte for byte too: sorted keys, 2-space indent, trailing newline.
        assert generated == (DASHBOARDS / name).read_text(encoding="utf-8")
        assert generated.endswith("}\n") and '\n  "panels": [' in generated


def test_check_fails_and_names_a_stale_file(tmp_path):
    assert generate("--out", str(tmp_path)).returncode == 0
    stale = tmp_path / "lead-queue.json"
    stale.write_text(stale.read_text(encoding="utf-8").replace('"30s"', '"1m"'), encoding="utf-8")
    result = generate("--check", "--out", str(tmp_path))
    assert result.returncode == 1
    assert str(stale) in result.stderr
    assert "sales-performance.json" not in result.stderr


# --- what Grafana 10/11 needs to load them ----------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dashboard_header(name):
    dashboard = load(name)
    assert dashboard["schemaVersion"] == 39
    assert dashboard["uid"] == EXPECTED[name][0]
    assert dashboard["id"] is None
    assert dashboard["title"].startswith("Salespulse · ")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_query_uses_the_datasource_variable(name):
    dashboard = load(name)
    datasource = variables(dashboard)["datasource"]
    assert (datasource["type"], datasource["query"]) == ("datasource", "prometheus")
    assert datasource["current"]["value"] == "prometheus"
    for panel in content_panels(dashboard):
        assert panel["datasource"] == DATASOURCE, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE, variable["name"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_panel_ids_are_unique(name):
    ids = [panel["id"] for panel in load(name)["panels"]]
    assert len(ids) == len(set(ids))
    assert all(isinstance(i, int) and i > 0 for i in ids)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_panels_fit_24_columns_and_do_not_overlap(name):
    panels = load(name)["panels"]
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["y"] >= 0 and pos["w"] >= 1 and pos["h"] >= 1, panel["title"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
    for a, b in itertools.combinations(panels, 2):
        pa, pb = a["gridPos"], b["gridPos"]
        apart = (
            pa["x"] + pa["w"] <= pb["x"]
            or pb["x"] + pb["w"] <= pa["x"]
            or pa["y"] + pa["h"] <= pb["y"]
            or pb["y"] + pb["h"] <= pa["y"]
        )
        assert apart, f"{a['title']!r} overlaps {b['title']!r}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_rows_are_full_width_row_panels(name):
    dashboard = load(name)
    rows = [p for p in dashboard["panels"] if p["type"] == "row"]
    assert rows and dashboard["panels"][0]["type"] == "row"
    for row in rows:
        assert row["gridPos"]["w"] == 24 and row["gridPos"]["h"] == 1 and row["gridPos"]["x"] == 0
        assert row["collapsed"] is False and row["panels"] == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_panel_has_a_query(name):
    for panel in content_panels(load(name)):
        targets = panel["targets"]
        assert targets, panel["title"]
        assert all(t["expr"].strip() for t in targets), panel["title"]
        ref_ids = [t["refId"] for t in targets]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_required_panels_and_variables(name):
    dashboard = load(name)
    _, expected_variables, expected_titles = EXPECTED[name]
    assert set(variables(dashboard)) == expected_variables
    titles = [panel["title"] for panel in content_panels(dashboard)]
    assert len(titles) == len(set(titles))
    assert expected_titles <= set(titles), expected_titles - set(titles)


# --- what the dashboards show -----------------------------------------------------------------


@pytest.mark.parametrize("name,metric", [("sales-performance.json", "sales_contacts_established"), ("lead-queue.json", "sales_leads_awaiting_response")])
def test_team_and_rep_variables(name, metric):
    found = variables(load(name))
    team, rep = found["team"], found["rep"]
    assert team["query"] == f"label_values({metric}, team)"
    # rep lists only the reps of the selected teams.
    assert rep["query"] == f'label_values({metric}{{team=~"$team"}}, rep)'
    for variable in (team, rep):
        assert variable["multi"] is True and variable["includeAll"] is True
        # "All" must be a regex that matches every value, as the queries use `=~`.
        assert variable["allValue"] == ".*"


def test_window_variable_offers_the_three_windows():
    window = variables(load("sales-performance.json"))["window"]
    assert window["type"] == "custom"
    assert [o["value"] for o in window["options"]] == ["current", "previous", "rolling"]
    assert window["current"]["value"] == "current"


def test_sales_rows_by_cadence_query_their_own_periods():
    rows = panels_by_row(load("sales-performance.json"))
    allowed = {
        "Weekly": {'period=~"week|7d"'},
        "Monthly": {'period=~"month|30d"'},
        # The magic number exists for calendar quarters only.
        "Quarterly": {'period=~"quarter|90d"', 'period="quarter"'},
    }
    assert [title.split(":")[0] for title in rows] == list(allowed)
    for title, panels in rows.items():
        periods_used = set()
        for panel in panels:
            for target in panel["targets"]:
                periods = set(re.findall(r'period=~?"[^"]*"', target["expr"]))
                windows = set(re.findall(r'window=~?"[^"]*"', target["expr"]))
                assert periods <= allowed[title.split(":")[0]], (panel["title"], periods)
                # A query with a period follows the window variable.
                if periods:
                    assert windows == {'window="$window"'}, panel["title"]
                periods_used |= periods
        assert periods_used, title


def test_team_ratios_come_from_the_recording_rules():
    dashboard = load("sales-performance.json")
    exprs = {p["title"]: [t["expr"] for t in p["targets"]] for p in content_panels(dashboard)}
    assert exprs["Win rate by team"] == [
        'team:sales_win_ratio:sum{team=~"$team", period=~"month|30d", window="$window"}',
        'company:sales_win_ratio:sum{period=~"month|30d", window="$window"}',
    ]
    queue = {p["title"]: [t["expr"] for t in p["targets"]] for p in content_panels(load("lead-queue.json"))}
    assert queue["Team response time p50 / p90 / p99"][:3] == [
        f'team_quantile:sales_lead_response_time_seconds:histogram_quantile1h{{team=~"$team", quantile="{q}"}}'
        for q in ("0.5", "0.9", "0.99")
    ]
    assert exprs["Win rate by rep"] == [
        'sort_desc(max without (instance) (sales_win_ratio{rep=~"$rep", team=~"$team", period=~"month|30d", window="$window"}))'
    ]


def test_weekly_team_percentiles_come_from_the_team_histogram_over_7_days():
    # The weekly cadence, not the recording rule's last hour; the team histogram, which
    # `[export] rep_histograms = false` keeps, not the per-rep one.
    panel = next(
        p for p in content_panels(load("sales-performance.json")) if p["title"] == "Lead response time p50 / p90 by team"
    )
    assert [t["expr"] for t in panel["targets"]] == [
        "histogram_quantile(0.5, sum by (team, le) (max without (instance) "
        '(increase(sales_team_lead_response_time_seconds_bucket{team=~"$team"}[7d]))))',
        "histogram_quantile(0.9, sum by (team, le) (max without (instance) "
        '(increase(sales_team_lead_response_time_seconds_bucket{team=~"$team"}[7d]))))',
        "max(sales_lead_response_sla_seconds)",
    ]
    assert "rolling last 7 days" in panel["description"]


def test_no_panel_reads_the_per_rep_histogram():
    # Every histogram panel is a team-level one: it must keep working with rep_histograms = false.
    for name in EXPECTED:
        for panel in content_panels(load(name)):
            for target in panel["targets"]:
                assert not re.search(r"(?<![\w:])sales_lead_response_time_seconds_", target["expr"]), panel["title"]


@pytest.mark.parametrize("name", ["sales-performance.json", "lead-queue.json"])
def test_raw_sales_series_are_deduplicated_across_replicas(name):
    for panel in content_panels(load(name)):
        for target in panel["targets"]:
            raw = re.findall(r"(?<![\w:])sales_\w+", target["expr"])
            if raw:
                assert re.search(r"\bmax\b", target["expr"]), (panel["title"], target["expr"])


def test_magic_number_thresholds():
    panel = next(p for p in content_panels(load("sales-performance.json")) if p["title"] == "Magic number")
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, 0.75, 1.0]
    assert [t["expr"] for t in panel["targets"]] == [
        'max without (instance) (sales_magic_number{segment="all", period="quarter", window="$window"})'
    ]


def test_lead_queue_is_live_with_a_histogram_heatmap():
    dashboard = load("lead-queue.json")
    assert dashboard["refresh"] == "30s"
    panels = {p["title"]: p for p in content_panels(dashboard)}
    heat = panels["Response time heatmap"]
    assert heat["type"] == "heatmap" and heat["options"]["calculate"] is False
    [target] = heat["targets"]
    assert target["format"] == "heatmap" and target["legendFormat"] == "{{le}}"
    assert target["expr"] == (
        "sum by (le) (max without (instance) "
        '(increase(sales_team_lead_response_time_seconds_bucket{team=~"$team"}[$__rate_interval])))'
    )
    oldest = [t["expr"] for t in panels["Oldest wait per rep vs goal"]["targets"]]
    assert "threshold:lead_wait_seconds" in oldest
    alerts = panels["SLA breaches: alerts firing"]["targets"][0]["expr"]
    assert alerts == 'ALERTS{alertname="SalesLeadWaitingTooLong", alertstate="firing"}'


# --- provisioning -------------------------------------------------------------------------------


def test_provisioned_datasource_is_the_default_prometheus():
    config = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    [source] = config["datasources"]
    assert config["apiVersion"] == 1
    assert (source["type"], source["uid"], source["url"]) == ("prometheus", "prometheus", "http://prometheus:9090")
    assert source["isDefault"] is True


def test_dashboard_provider_reads_the_mounted_directory():
    config = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "salespulse.yml").read_text())
    [provider] = config["providers"]
    assert config["apiVersion"] == 1
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
