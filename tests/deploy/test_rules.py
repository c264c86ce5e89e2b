"""The Prometheus rules (deploy/prometheus/rules), their promtool unit tests and the runbooks.

promtool checks the rule files and runs the unit tests in deploy/prometheus/tests, which hold the
rules to values worked out by hand. This file checks what promtool does not: that every alert is
complete, linked to its runbook section, tested both firing and silent, and that the thresholds are
defined once and documented with the values they are set to.
"""

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO, tool

RULES_DIR = REPO / "deploy" / "prometheus" / "rules"
UNIT_TESTS_DIR = REPO / "deploy" / "prometheus" / "tests"
RUNBOOKS = REPO / "docs" / "runbooks.md"
RULE_FILES = sorted(RULES_DIR.glob("*.yml"))
UNIT_TEST_FILES = sorted(UNIT_TESTS_DIR.glob("*.yml"))
THRESHOLDS_FILE = RULES_DIR / "thresholds.yml"
RUNBOOK_BASE = "https://github.com/salespulse/salespulse/blob/main/docs/runbooks.md#"

ALERTS = {
    "SalesLeadWaitingTooLong",
    "SalesLeadResponseSLALow",
    "SalesBDRCapacityExceeded",
    "SalesAECapacityUnderused",
    "SalesMagicNumberLow",
    "SalesWinRateDropped",
    "SalespulseNoEvents",
    "SalespulseConsumerLagHigh",
    "SalespulseDeadLettersHigh",
    "SalespulseDown",
}
PAGING_ALERTS = {"SalesLeadWaitingTooLong", "SalespulseDown"}
# The recording rules the dashboards are built on (issue 9's brief): renaming one blanks panels.
RECORDING_RULES = {
    "team:sales_win_ratio:sum",
    "team:sales_appointment_set_ratio:sum",
    "team:sales_lead_response_sla_ratio:sum",
    "team:sales_mql_to_sql_ratio:sum",
    "team:sales_contacts_established:sum",
    "team:sales_appointments_set:sum",
    "team:sales_leads_responded:sum",
    "team:sales_leads_responded_within_sla:sum",
    "team:sales_mqls:sum",
    "team:sales_sqls:sum",
    "team:sales_deals_won:sum",
    "team:sales_deals_lost:sum",
    "team:sales_deals_won_amount:sum",
    "team_channel:sales_contact_attempts:sum",
    "company:sales_win_ratio:sum",
    "company:sales_appointment_set_ratio:sum",
    "company:sales_lead_response_sla_ratio:sum",
    "company:sales_mql_to_sql_ratio:sum",
    "company:sales_bdr_capacity_utilization_ratio:sum",
    "company:sales_ae_capacity_utilization_ratio:sum",
    "team_quantile:sales_lead_response_time_seconds:histogram_quantile1h",
    "team:sales_leads_awaiting_response:sum",
    "team:sales_lead_oldest_awaiting_response_seconds:max",
    "job:salespulse_events:rate5m",
    "job:salespulse_events_rejected:rate5m",
}
DEDUPLICATE = "max without (instance) ("
# A metric of the exposition (not a recording rule: those contain a colon before the name).
RAW_METRIC = re.compile(r"(?<![\w:])(?:sales|salespulse)_\w+")
THRESHOLD = re.compile(r"threshold:\w+")
DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rules_of(path: Path) -> list[dict]:
    return [rule for group in load(path)["groups"] for rule in group["rules"]]


def alert_rules() -> list[dict]:
    return [rule for path in RULE_FILES for rule in rules_of(path) if "alert" in rule]


def seconds(duration: str) -> float:
    """A Prometheus duration ("1h30m", "90s") in seconds."""
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", duration)
    assert "".join(n + unit for n, unit in parts) == duration, f"not a duration: {duration}"
    return sum(int(n) * DURATION_UNITS[unit] for n, unit in parts)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lowercase, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def runbook_sections() -> dict[str, str]:
    """Anchor -> text of each `## ` section of the runbooks."""
    parts = re.split(r"^## (.+)$", RUNBOOKS.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {github_anchor(title): body for title, body in zip(parts[1::2], parts[2::2])}


def table_rows(section: str) -> list[list[str]]:
    """The body rows (after the header and the separator) of the Markdown table in a section."""
    rows = [line.strip().strip("|").split("|") for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row] for row in rows[2:]]


def deduplicated_spans(expr: str) -> list[tuple[int, int]]:
    """The character ranges inside each `max without (instance) (...)`."""
    spans = []
    for match in re.finditer(re.escape(DEDUPLICATE), expr):
        depth, start = 1, match.end()
        for end in range(start, len(expr)):
            depth += {"(": 1, ")": -1}.get(expr[end], 0)
            if depth == 0:
                spans.append((start, end))
                break
    return spans


# --- helpers ------------------------------------------------------------------------------------


def test_github_anchor():
    assert github_anchor("SalesLeadWaitingTooLong") == "salesleadwaitingtoolong"
    assert github_anchor("Alerts at a glance") == "alerts-at-a-glance"
    assert github_anchor("Runbooks: the salespulse alerts") == "runbooks-the-salespulse-alerts"


def test_seconds():
    assert seconds("1m") == 60
    assert seconds("1h10m") == 4200


def test_deduplicated_spans_cover_the_argument_only():
    expr = "sum(max without (instance) (rate(a[5m]))) + b"
    [(start, end)] = deduplicated_spans(expr)
    assert expr[start:end] == "rate(a[5m])"


# --- promtool -----------------------------------------------------------------------------------


def test_rule_files_are_found():
    assert [path.name for path in RULE_FILES] == ["salespulse-alerts.yml", "salespulse-recording.yml", "thresholds.yml"]
    assert UNIT_TEST_FILES, "no promtool unit tests in deploy/prometheus/tests"


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda path: path.name)
def test_promtool_check_rules_is_clean(path):
    relative = path.relative_to(REPO)
    result = subprocess.run(
        [tool("promtool"), "check", "rules", str(relative)], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    # Exactly the success report: any warning or lint finding would add lines.
    assert (result.returncode, result.stderr) == (0, ""), result.stdout + result.stderr
    assert result.stdout == f"Checking {relative}\n  SUCCESS: {len(rules_of(path))} rules found\n\n"


@pytest.mark.parametrize("path", UNIT_TEST_FILES, ids=lambda path: path.name)
def test_promtool_unit_tests_pass(path):
    relative = path.relative_to(REPO)
    result = subprocess.run(
        [tool("promtool"), "test", "rules", str(relative)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == ["Unit", "Testing:", str(relative), "SUCCESS"]


# --- alerts -------------------------------------------------------------------------------------


def test_the_ten_alerts_are_defined():
    assert {rule["alert"] for rule in alert_rules()} == ALERTS


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_alert_is_complete(rule):
    annotations = rule.get("annotations", {})
    for key in ("summary", "description", "runbook_url"):
        assert annotations.get(key, "").strip(), f"{rule['alert']} has no {key}"
    expected = "page" if rule["alert"] in PAGING_ALERTS else "ticket"
    assert rule.get("labels", {}).get("severity") == expected


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_runbook_url_points_at_the_alert_section(rule):
    anchor = github_anchor(rule["alert"])
    assert rule["annotations"]["runbook_url"] == RUNBOOK_BASE + anchor
    assert anchor in runbook_sections(), f"docs/runbooks.md has no section '## {rule['alert']}'"


def test_alerts_at_a_glance_match_the_rules():
    documented = {}
    for name_cell, severity, for_, *_ in table_rows(runbook_sections()["alerts-at-a-glance"]):
        name, anchor = re.fullmatch(r"\[(\w+)\]\(#([\w-]+)\)", name_cell).groups()
        assert anchor == github_anchor(name)
        documented[name] = (severity, for_)
    assert documented == {rule["alert"]: (rule["labels"]["severity"], rule["for"]) for rule in alert_rules()}


def unit_test_evaluations() -> list[tuple[str, str, int, float, bool]]:
    """(file, alert, test index, eval time in s, fires?) of every alert_rule_test."""
    return [
        (path.name, case["alertname"], index, seconds(case["eval_time"]), bool(case.get("exp_alerts")))
        for path in UNIT_TEST_FILES
        for index, test in enumerate(load(path)["tests"])
        for case in test.get("alert_rule_test", [])
    ]


@pytest.mark.parametrize("alert", sorted(ALERTS))
def test_alert_has_unit_tests_where_it_fires_and_where_it_does_not(alert):
    evaluations = [e for e in unit_test_evaluations() if e[1] == alert]
    assert any(fires for *_, fires in evaluations), f"no unit test where {alert} fires"
    assert any(not fires for *_, fires in evaluations), f"no unit test where {alert} stays silent"
    # The `for:` is exercised: in some test the alert is silent at an evaluation before it fires.
    assert any(
        fires and any(other[:3] == (file, name, index) and not other[4] and other[3] < at for other in evaluations)
        for file, name, index, at, fires in evaluations
    ), f"no unit test of {alert} is silent before it fires"


# --- thresholds ---------------------------------------------------------------------------------


def thresholds() -> dict[str, str]:
    """Threshold series -> its expression, from thresholds.yml."""
    groups = load(THRESHOLDS_FILE)["groups"]
    assert [group["name"] for group in groups] == ["salespulse-thresholds"]
    return {rule["record"]: rule["expr"].strip() for rule in groups[0]["rules"]}


def test_thresholds_are_threshold_series():
    assert all(THRESHOLD.fullmatch(name) for name in thresholds())


def test_every_threshold_an_alert_uses_is_defined_and_every_defined_one_is_used():
    used = {name for rule in alert_rules() for name in THRESHOLD.findall(rule["expr"])}
    assert used == set(thresholds())


def test_thresholds_table_matches_thresholds_yml():
    documented = {
        name_cell.strip("`"): default
        for name_cell, default, *_ in table_rows(runbook_sections()["thresholds"])
    }
    assert set(documented) == set(thresholds())
    for name, expr in thresholds().items():
        constant = re.fullmatch(r"vector\(([-+0-9.e]+)\)", expr)
        if constant:
            assert float(documented[name]) == float(constant.group(1)), name
        else:
            assert documented[name] == f"`{expr}`", name


def test_lead_wait_threshold_defaults_to_the_configured_goal():
    assert thresholds()["threshold:lead_wait_seconds"] == "max(max without (instance) (sales_lead_response_sla_seconds))"


# --- recording rules ----------------------------------------------------------------------------


def test_recording_rules_the_dashboards_use_are_defined():
    defined = {rule["record"] for rule in rules_of(RULES_DIR / "salespulse-recording.yml")}
    assert RECORDING_RULES <= defined, RECORDING_RULES - defined
    assert all(re.fullmatch(r"[a-z_]+:[a-z_0-9]+:[a-z_0-9]+", name) for name in defined)


def test_percentiles_are_recorded_for_three_quantiles():
    quantiles = [
        rule["labels"]["quantile"]
        for rule in rules_of(RULES_DIR / "salespulse-recording.yml")
        if rule["record"] == "team_quantile:sales_lead_response_time_seconds:histogram_quantile1h"
    ]
    assert quantiles == ["0.5", "0.9", "0.99"]


@pytest.mark.parametrize(
    "rule",
    rules_of(RULES_DIR / "salespulse-recording.yml") + rules_of(THRESHOLDS_FILE),
    ids=lambda rule: rule["record"],
)
def test_recording_rule_deduplicates_replicas_before_aggregating(rule):
    expr = rule["expr"]
    spans = deduplicated_spans(expr)
    outside = [m.group() for m in RAW_METRIC.finditer(expr) if not any(a <= m.start() < b for a, b in spans)]
    assert outside == [], f"{rule['record']} reads {outside} without `{DEDUPLICATE}...)`"
