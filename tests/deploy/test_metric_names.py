"""Every metric name a dashboard or a rule uses exists, so a rename can never blank a panel or
silence an alert: it is a family of salespulse's exposition (a histogram's `_bucket`, `_sum` and
`_count` series belong to their family), exactly the name of a recording rule defined in
deploy/prometheus/rules/, or one of Prometheus's own series. The same holds for every `sales_*` and
`salespulse_*` name that docs/runbooks.md and docs/metrics.md show in code, so no runbook tells
anyone to query a series that does not exist; metrics.md may also name the old names of its
migration notes.

The exposition is that of a running `salespulse demo` (the only one with the consumer families of
`run`) together with `replay` of the bundled example: a family without series prints no `# TYPE`
line, and in the demo's first minutes no deal has closed and no finance event has arrived yet, so
the win ratios, CAC, LTV and magic number only show in the example.

Also the unit tests of promql.py, which reads the names out of the expressions.
"""

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import yaml

from conftest import REPO, family_types, free_port, salespulse_binary
from promql import dashboard_queries, metric_names, substitute

DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards"
RULES = REPO / "deploy" / "prometheus" / "rules"
DOCS = REPO / "docs"
# Series that Prometheus itself produces.
PROMETHEUS_SERIES = {"up", "ALERTS", "ALERTS_FOR_STATE"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# Values for the dashboards' template variables (the names only matter, not the values).
VARIABLES = {"datasource": "prometheus", "team": ".*", "rep": ".*", "window": "current"}
# Families only `run`/`demo` export: the fixture waits for them.
RUN_ONLY_FAMILIES = (
    "salespulse_consumer_lag_messages",
    "salespulse_event_processing_seconds",
    "salespulse_state_history_truncated",
    "salespulse_partitions_unowned",
    "salespulse_kafka_errors_total",
    "salespulse_ready",
)
# Families `run` exports once it has written or restored a checkpoint (the demo keeps no state);
# tests/kafka_e2e.rs checks them on a live run.
CHECKPOINT_FAMILIES = {
    "salespulse_checkpoint_last_success_timestamp_seconds": "gauge",
    "salespulse_checkpoint_duration_seconds": "gauge",
}


# --- promql.py ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr,names",
    [
        ('sum by (team) (rate(foo_total{job="x", a=~"b|c"}[5m]))', {"foo_total"}),
        (
            "histogram_quantile(0.9, sum by (le, team) (increase(sales_lead_response_time_seconds_bucket[1h])))",
            {"sales_lead_response_time_seconds_bucket"},
        ),
        (
            "team:a:sum / on (team) group_left (x) (b + c offset 1w) > bool 0.5 unless d",
            {"team:a:sum", "b", "c", "d"},
        ),
        (
            "count(x > on () group_left () threshold:lead_wait_seconds) or vector(0)",
            {"x", "threshold:lead_wait_seconds"},
        ),
        ('label_replace(up{job="a"}, "dst", "$1", "instance", "(.*):.*")', {"up"}),
        ('{__name__="sales_mqls", team="a"}', {"sales_mqls"}),
        ("max_over_time(x[1h:5m]) * 1e3 + time() - y @ start()", {"x", "y"}),
        ("sum without (instance) (z) and ignoring (period) w", {"z", "w"}),
        ("a < 1 and (b or (c unless d))", {"a", "b", "c", "d"}),
        # Words inside strings are not names, even when they look like PromQL.
        ('x{reason="sum by (foo) bar"}', {"x"}),
        ('max without (instance) (m{team=~"$team"}[$__rate_interval])', {"m"}),
        ("vector(1) + scalar(time())", set()),
    ],
)
def test_metric_names(expr, names):
    assert metric_names(expr) == names


def test_metric_names_rejects_an_unknown_function():
    with pytest.raises(ValueError, match="rat"):
        metric_names("rat(x[5m])")


def test_substitute_grafana_variables():
    expr = 'rate(x{team=~"$team", rep=~"${rep}", w="${window:raw}"}[$__rate_interval]) * $__range_s'
    assert substitute(expr, {"team": "a|b", "rep": ".*", "window": "current"}) == (
        'rate(x{team=~"a|b", rep=~".*", w="current"}[5m]) * 3600'
    )
    assert substitute("avg_over_time(y[$__range]) * $__interval", {}) == "avg_over_time(y[1h]) * 1m"
    # `$1` of label_replace is no template variable.
    assert substitute('label_replace(up, "a", "$1", "b", "(.*)")', {}) == 'label_replace(up, "a", "$1", "b", "(.*)")'
    with pytest.raises(ValueError, match=r"\$tem"):
        substitute('x{team=~"$tem"}', {"team": ".*"})


def test_dashboard_queries_reads_panels_rows_and_variables():
    dashboard = {
        "panels": [
            {"type": "row", "title": "Open", "panels": []},
            {"type": "timeseries", "title": "A", "targets": [{"expr": "a"}, {"expr": "b", "refId": "B"}]},
            {"type": "text", "title": "Notes"},
            {"type": "row", "title": "Collapsed", "panels": [{"type": "stat", "title": "C", "targets": [{"expr": "c"}]}]},
        ],
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus"},
                {"name": "team", "type": "query", "query": "label_values(t, team)"},
                {"name": "rep", "type": "query", "query": {"query": 'label_values(t{team=~"$team"}, rep)', "refId": "X"}},
                {"name": "job", "type": "query", "query": "label_values(job)"},
                {"name": "top", "type": "query", "query": "query_result(topk(3, q))"},
                {"name": "window", "type": "custom", "query": "current,previous"},
            ]
        },
    }
    assert dashboard_queries(dashboard) == [
        ("A", "a"),
        ("A", "b"),
        ("C", "c"),
        ("variable team", "t"),
        ("variable rep", 't{team=~"$team"}'),
        ("variable top", "topk(3, q)"),
    ]


# --- the names exist ------------------------------------------------------------------------------


def scrape(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode("utf-8")
    except (urllib.error.URLError, ConnectionError):
        return None


@pytest.fixture(scope="session")
def exported_families(demo_families, example_exposition) -> dict[str, str]:
    """Family -> type of everything salespulse exports (the demo's, the example's, and the
    checkpoint families of a stateful `run`)."""
    return {**family_types(example_exposition), **demo_families, **CHECKPOINT_FAMILIES}


@pytest.fixture(scope="session")
def demo_families(tmp_path_factory) -> dict[str, str]:
    """Family -> type of a running `salespulse demo`, once it exports the run-only families."""
    port = free_port()
    env = {**os.environ, "SALESPULSE_HTTP__LISTEN": f"127.0.0.1:{port}"}
    process = subprocess.Popen(
        [str(salespulse_binary()), "demo", "--rate", "500"],
        cwd=tmp_path_factory.mktemp("demo"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            exposition = scrape(f"http://127.0.0.1:{port}/metrics")
            families = family_types(exposition or "")
            if all(family in families for family in RUN_ONLY_FAMILIES):
                return families
            if process.poll() is not None:
                pytest.fail(f"salespulse demo exited with {process.returncode}")
            if time.monotonic() > deadline:
                pytest.fail(f"salespulse demo did not export {RUN_ONLY_FAMILIES} within 60 s")
            time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def rule_files() -> list:
    return sorted(RULES.glob("*.yml"))


def rules_of(path) -> list[dict]:
    return [rule for group in (yaml.safe_load(path.read_text()) or {}).get("groups", []) for rule in group["rules"]]


def recorded_names() -> set[str]:
    return {rule["record"] for path in rule_files() for rule in rules_of(path) if "record" in rule}


def unknown_names(queries: list[tuple[str, str]], families: dict[str, str]) -> dict[str, list[str]]:
    """Name -> where it is used, for each name that nothing exports or records."""
    recorded = recorded_names()

    def known(name: str) -> bool:
        if name in families or name in PROMETHEUS_SERIES or name in recorded:
            return True
        return any(
            name.endswith(suffix) and families.get(name.removesuffix(suffix)) in ("histogram", "summary")
            for suffix in HISTOGRAM_SUFFIXES
        )

    unknown = {}
    for where, expr in queries:
        for name in sorted(metric_names(expr)):
            if not known(name):
                unknown.setdefault(name, []).append(where)
    return unknown


def test_demo_exports_the_families_the_rules_default_to(demo_families):
    # The response goal that threshold:lead_wait_seconds defaults to, and the v1.1 rename.
    assert demo_families.get("sales_lead_response_sla_seconds") == "gauge"
    assert demo_families.get("sales_workdays") == "gauge"
    assert demo_families.get("salespulse_event_processing_seconds") == "histogram"


def test_the_rules_define_recording_rules():
    assert rule_files(), f"no rule files in {RULES}"
    assert {"team:sales_win_ratio:sum", "threshold:lead_wait_seconds"} <= recorded_names()


@pytest.mark.parametrize("name", ["sales-performance.json", "lead-queue.json", "pipeline-health.json"])
def test_dashboard_metric_names_exist(name, exported_families):
    dashboard = json.loads((DASHBOARDS / name).read_text(encoding="utf-8"))
    queries = [(where, substitute(expr, VARIABLES)) for where, expr in dashboard_queries(dashboard)]
    assert queries
    assert unknown_names(queries, exported_families) == {}


@pytest.mark.parametrize("path", rule_files(), ids=lambda p: p.name)
def test_rule_metric_names_exist(path, exported_families):
    queries = [(rule.get("record") or rule["alert"], rule["expr"]) for rule in rules_of(path)]
    assert queries
    assert unknown_names(queries, exported_families) == {}


def test_a_renamed_family_is_reported(exported_families):
    # What a rename looks like to the check: the old name is gone from the exposition.
    queries = [
        ("Win rate by rep", 'max without (instance) (sales_win_ratio{rep=~".*"})'),
        ("Up", "up"),
        ("Heatmap", "sales_lead_response_time_seconds_bucket"),
    ]
    without = {name: kind for name, kind in exported_families.items() if name != "sales_win_ratio"}
    assert unknown_names(queries, exported_families) == {}
    assert unknown_names(queries, without) == {"sales_win_ratio": ["Win rate by rep"]}


def test_only_histograms_have_bucket_series(exported_families):
    # sales_mqls is a gauge: it has no _count series to query.
    assert unknown_names([("MQLs", "sales_mqls_count")], exported_families) == {"sales_mqls_count": ["MQLs"]}


def test_a_recording_rule_name_must_match_exactly(exported_families):
    # A longer name that merely starts with a rule's name selects nothing in Prometheus.
    queries = [("Win rate", "team:sales_win_ratio:sum"), ("Typo", "team:sales_win_ratio:sum_rate")]
    assert unknown_names(queries, exported_families) == {"team:sales_win_ratio:sum_rate": ["Typo"]}


def test_the_team_histogram_is_exported(exported_families):
    # Team percentiles, the heatmap and the weekly team panel read it, whatever rep_histograms says.
    assert exported_families.get("sales_team_lead_response_time_seconds") == "histogram"
    assert unknown_names([("Heatmap", "sales_team_lead_response_time_seconds_bucket")], exported_families) == {}


# --- the names the docs show ----------------------------------------------------------------------

_FENCED = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_INLINE = re.compile(r"`([^`\n]+)`")
# A salespulse series or a recording rule built on one (`level:sales_...:operations`), not part of a
# longer word, path or label value.
_DOC_NAME = re.compile(r"(?<![\w:./$-])((?:[a-z_]+:)?(?:sales|salespulse)_[a-z0-9_]+(?::[a-z0-9_]+)?)(?![\w:])")


def code_names(markdown: str) -> set[str]:
    """The series and rule names written in the fenced code blocks and inline code of a page."""
    code = _FENCED.findall(markdown)
    code += _INLINE.findall(_FENCED.sub("", markdown))
    return {name for text in code for name in _DOC_NAME.findall(text)}


def renamed_names() -> set[str]:
    """The old names of metrics.md's migration notes (headings "`old` is now `new`")."""
    text = (DOCS / "metrics.md").read_text(encoding="utf-8")
    return set(re.findall(r"^#+ .*`(\w+)` is now `\w+`", text, flags=re.MULTILINE))


def test_code_names_reads_code_only():
    markdown = (
        "Query `max(salespulse_up_total{job=\"x\"})` or `team:sales_a:sum`, not sales_prose.\n"
        "```promql\nrate(sales_b_bucket[5m]) / job:salespulse_c:rate5m\n```\n"
        "Files: `deploy/sales_alerts_test.yml`, `salespulse-recording.yml`, `SALESPULSE_HTTP__LISTEN`.\n"
    )
    assert code_names(markdown) == {"salespulse_up_total", "team:sales_a:sum", "sales_b_bucket", "job:salespulse_c:rate5m"}


def test_renamed_names_are_found():
    assert renamed_names() == {"sales_business_days"}


@pytest.mark.parametrize("page", ["runbooks.md", "metrics.md"])
def test_doc_metric_names_exist(page, exported_families):
    text = (DOCS / page).read_text(encoding="utf-8")
    names = code_names(text)
    assert len(names) > 20
    # metrics.md may name what was renamed; a runbook only what can be queried.
    allowed = renamed_names() if page == "metrics.md" else set()
    assert unknown_names([(page, name) for name in sorted(names - allowed)], exported_families) == {}
