"""Live proof of the rules, dashboards and alerts (issue 9): a real Apache Kafka, `salespulse run`,
and a real Prometheus and Alertmanager (deploy/local/stack.sh) loading deploy/prometheus/rules/.
Through their HTTP APIs: every rule group loads healthy, every rule and dashboard query evaluates,
every panel shows data, the recording rules agree with ratios worked out here from the raw series,
the team response-time histogram is the sum of its reps' histograms, `promtool check metrics` has
nothing to say about the exposition of `run`, and SalesLeadWaitingTooLong fires for a lead nobody
answers and reaches Alertmanager.

The events: `salespulse simulate --out` (240 days of a 3-team sales floor, about 24,000 events),
shifted so that they end at AS_OF, plus a rep whose only lead is never answered. `run --as-of AS_OF`
pins the clock, so every calendar window holds the same days of data whatever day the test runs on.
They go to this run's own topics, produced with Kafka's console producer from the jars that
deploy/local/kafka.sh fetched (the binary's only producer, `simulate --brokers`, writes to the fixed
`sales.*` topics in real time). The last LIVE_EVENTS are produced after Prometheus has started
scraping, so counters move while it watches and the rate()-based panels have something to show.

Needs the broker that deploy/test.sh starts: $SALESPULSE_TEST_BROKERS, by default 127.0.0.1:19092
as in tests/kafka_e2e.rs.
"""

import json
import math
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from conftest import REPO, family_types, free_port, salespulse_binary, tool
from promql import dashboard_queries, substitute, variable_query_expr

RULES = sorted((REPO / "deploy" / "prometheus" / "rules").glob("*.yml"))
DASHBOARDS = sorted((REPO / "deploy" / "grafana" / "dashboards").glob("*.json"))
KAFKA_WORK = REPO / "deploy" / "local" / ".work"
STACK = REPO / "deploy" / "local" / "stack.sh"

# A Wednesday noon: the current week, month and quarter each hold days of data.
AS_OF = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
# Back to the end of March: the previous quarter and the one before it (the magic number compares
# them) are complete. At 0.001 events/s that is about 24,000 events.
HISTORY = "240d"
RATE = "0.001"
SEED = "9"
# The last ~10 days of events, current week included.
LIVE_EVENTS = 2_000
PARTITIONS = 3
TOPICS = ("activities", "leads", "deals", "finance", "roster")
TEAMS = ("central", "east", "west")  # the simulator's three teams at this rate
# The rep of the lead nobody answers: a rep of its own, so that nothing else can make it alert.
UNANSWERED_REP = "r-east-bdr-live"
UNANSWERED_TEAM = "east"
UNANSWERED_WAIT = timedelta(minutes=15)
# Grafana's interval variables as a dashboard over the last minutes of a 2 s scrape sets them.
INTERVALS = {"__rate_interval": "1m", "__interval": "2s"}
# Seconds from the stack's start by which the alert must reach Alertmanager and every panel must
# show data: `for: 1m` plus rounds of evaluation (2 s) and delivery.
ALERT_DEADLINE = 150
PROCESSED_FAMILIES = (
    "salespulse_events_total",
    "salespulse_events_rejected_total",
    "salespulse_events_duplicate_total",
)


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as the simulator writes it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def wait_until(predicate, timeout: float, interval: float = 0.5):
    """Calls `predicate` until it returns something truthy or `timeout` seconds have passed;
    returns its last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(interval)


def http(url: str, form: dict | None = None) -> tuple[int, str] | None:
    """(status, body) of a GET, or of a form POST when `form` is given; None if nothing answers."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    try:
        with urllib.request.urlopen(url, data=data, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:  # refused, reset, timed out (URLError is an OSError)
        return None


_SAMPLE = re.compile(r"^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([A-Za-z_]\w*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text: str) -> list[tuple[str, dict[str, str], float]]:
    """(name, labels, value) of every sample of a text exposition."""
    samples = []
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            name, labels, value = match.groups()
            samples.append((name, dict(_LABEL.findall(labels or "")), float(value)))
    return samples


# ---------------------------------------------------------------------------------------------
# Kafka: this run's topics, and producing to them with Kafka's own command-line tools
# ---------------------------------------------------------------------------------------------


def kafka_tool(main_class: str, *args: str, stdin=None) -> subprocess.Popen:
    """Starts one of Kafka's command-line tools, as deploy/local/kafka.sh runs them."""
    return subprocess.Popen(
        [
            "java",
            "-cp",
            str(KAFKA_WORK / "libs" / "*"),
            f"-Dlog4j2.configurationFile={KAFKA_WORK / 'tools-log4j2.properties'}",
            main_class,
            *args,
        ],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(tools: dict[str, subprocess.Popen], what: str) -> None:
    """Waits for tools started side by side (a JVM starts slowly); fails naming one that failed."""
    for name, tool in tools.items():
        try:
            out, err = tool.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            tool.kill()
            out, err = tool.communicate()
        if tool.returncode != 0:
            pytest.fail(f"{what} {name} failed (exit {tool.returncode}):\n{out}\n{err}")


def topic_and_key(event: dict) -> tuple[str, str]:
    """The topic (suffix) and key of an event, as EVENTS.md "Topics and keys" spreads them."""
    kind = event["type"]
    if kind in ("activity", "appointment_set"):
        return "activities", event["rep_id"]
    if kind.startswith("lead_"):
        return "leads", event["lead_id"]
    if kind.startswith("deal_"):
        return "deals", event["rep_id"]
    if kind == "expense":
        return "finance", event.get("segment") or "company"
    if kind in ("customer_acquired", "customer_cost", "revenue"):
        return "finance", event["customer_id"]
    if kind == "rep_upserted":
        return "roster", event["rep_id"]
    raise AssertionError(f"no topic for event type {kind!r}")


@dataclass
class Kafka:
    brokers: str
    name: str  # the prefix of this run's topics, and its consumer group

    def topic(self, suffix: str) -> str:
        return f"{self.name}.{suffix}"

    def produce(self, events: list[dict], scratch: Path) -> None:
        """Produces events with their keys, one console producer per topic, each reading a file
        (a pipe could fill up while the others run)."""
        lines = defaultdict(list)
        for event in events:
            suffix, key = topic_and_key(event)
            # json.dumps escapes tabs and newlines: a tab ends the key, a line is one message.
            lines[suffix].append(f"{key}\t{json.dumps(event)}\n")
        producers = {}
        for suffix, batch in lines.items():
            path = scratch / f"{suffix}.txt"
            path.write_text("".join(batch))
            with open(path) as stdin:
                producers[suffix] = kafka_tool(
                    "org.apache.kafka.tools.ConsoleProducer",
                    *("--bootstrap-server", self.brokers, "--topic", self.topic(suffix)),
                    *("--reader-property", "parse.key=true", "--command-property", "acks=all"),
                    stdin=stdin,
                )
        finish(producers, "producing to")


@pytest.fixture(scope="module")
def kafka():
    brokers = os.environ.get("SALESPULSE_TEST_BROKERS", "127.0.0.1:19092")
    host, _, port = brokers.split(",")[0].rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as error:
        pytest.fail(
            f"no Kafka broker at {brokers} ({error}): start one with "
            "`bash deploy/local/kafka.sh start` (deploy/test.sh does) or set SALESPULSE_TEST_BROKERS"
        )
    if not (KAFKA_WORK / "libs").is_dir():
        pytest.fail(f"no {KAFKA_WORK / 'libs'}: `bash deploy/local/kafka.sh start` fetches Kafka's tools")
    kafka = Kafka(brokers, f"live-{os.getpid()}-{int(time.time() * 1000)}")
    create = ("--create", "--partitions", str(PARTITIONS), "--replication-factor", "1")
    topics = [kafka.topic(suffix) for suffix in (*TOPICS, "deadletter")]
    finish(
        {
            topic: kafka_tool(
                "org.apache.kafka.tools.TopicCommand",
                *("--bootstrap-server", brokers, "--topic", topic, *create),
            )
            for topic in topics
        },
        "creating topic",
    )
    yield kafka
    # The topics are this run's alone (--topic is a regular expression when deleting).
    delete = ("--bootstrap-server", brokers, "--delete", "--topic", kafka.name + r"\..*")
    finish({"topics": kafka_tool("org.apache.kafka.tools.TopicCommand", *delete)}, "deleting")


# ---------------------------------------------------------------------------------------------
# The events
# ---------------------------------------------------------------------------------------------


@dataclass
class Events:
    history: list[dict]  # produced before Prometheus starts
    live: list[dict]  # produced while it scrapes


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> Events:
    out = tmp_path_factory.mktemp("events") / "simulated.jsonl"
    simulate = ["simulate", "--out", str(out), "--duration", HISTORY, "--rate", RATE, "--seed", SEED]
    subprocess.run([str(salespulse_binary()), *simulate], check=True, capture_output=True, timeout=120)
    # The simulated events end at the moment it ran: after it, so that shifted they end by AS_OF.
    shift = AS_OF - datetime.now(timezone.utc)
    simulated = []
    for line in out.read_text().splitlines():
        event = json.loads(line)
        event["occurred_at"] = timestamp(datetime.fromisoformat(event["occurred_at"]) + shift)
        simulated.append(event)
    assert len(simulated) > 20_000, "a realistic volume"
    unanswered = [
        {
            "event_id": "live-proof-rep",
            "type": "rep_upserted",
            "occurred_at": min(event["occurred_at"] for event in simulated),
            "rep_id": UNANSWERED_REP,
            "team": UNANSWERED_TEAM,
            "role": "bdr",
            "max_daily_leads": 30,
        },
        {
            "event_id": "live-proof-unanswered-lead",
            "type": "lead_created",
            "occurred_at": timestamp(AS_OF - UNANSWERED_WAIT),
            "lead_id": "L-live-proof-unanswered",
            "rep_id": UNANSWERED_REP,
            "source": "web",
            "segment": "smb",
        },
    ]
    return Events(history=simulated[:-LIVE_EVENTS] + unanswered, live=simulated[-LIVE_EVENTS:])


# ---------------------------------------------------------------------------------------------
# salespulse run
# ---------------------------------------------------------------------------------------------


class Service:
    def __init__(self, kafka: Kafka, log: Path):
        self.address = f"127.0.0.1:{free_port()}"
        self.log = log
        topics = ", ".join(f'"{kafka.topic(suffix)}"' for suffix in TOPICS)
        # Only these variables: no SALESPULSE_* of the caller's environment changes the config.
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "RUST_LOG": "info",
            "SALESPULSE_KAFKA__BROKERS": kafka.brokers,
            "SALESPULSE_KAFKA__TOPICS": f"[{topics}]",
            "SALESPULSE_KAFKA__DEADLETTER_TOPIC": kafka.topic("deadletter"),
            "SALESPULSE_KAFKA__GROUP_ID": kafka.name,
            "SALESPULSE_HTTP__LISTEN": self.address,
            # Checkpoints beside the log, not in the working directory.
            "SALESPULSE_STATE__DIR": str(log.parent / "state"),
        }
        with open(log, "w") as stderr:
            self.process = subprocess.Popen(
                [str(salespulse_binary()), "run", "--as-of", timestamp(AS_OF)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )

    def log_tail(self) -> str:
        return self.log.read_text()[-3000:]

    def wait_caught_up(self, messages: int) -> str:
        """Waits until all `messages` are processed, the lag is 0 on every partition and /readyz
        says ready; returns that exposition."""
        last = ""

        def caught_up() -> str | None:
            nonlocal last
            metrics = http(f"http://{self.address}/metrics")
            ready = http(f"http://{self.address}/readyz")
            if metrics is None or metrics[0] != 200:
                return None
            samples = parse_exposition(metrics[1])
            processed = sum(value for name, _, value in samples if name in PROCESSED_FAMILIES)
            lags = [value for name, _, value in samples if name == "salespulse_consumer_lag_messages"]
            last = f"processed {processed} of {messages}, lags {lags}, readyz {ready}"
            done = (
                processed == messages
                and len(lags) == len(TOPICS) * PARTITIONS
                and all(lag == 0 for lag in lags)
                and ready is not None
                and ready[0] == 200
            )
            return metrics[1] if done else None

        exposition = wait_until(caught_up, timeout=120)
        assert exposition, f"salespulse did not catch up: {last}\n{self.log_tail()}"
        return exposition

    def stop(self) -> int:
        """SIGTERM, then its exit status."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"salespulse still ran 20 s after SIGTERM:\n{self.log_tail()}")


@pytest.fixture(scope="module")
def service(kafka, events, tmp_path_factory):
    kafka.produce(events.history, tmp_path_factory.mktemp("history"))
    service = Service(kafka, tmp_path_factory.mktemp("salespulse") / "run.log")
    try:
        service.wait_caught_up(len(events.history))
        yield service
    finally:
        status = service.stop()
    assert status == 0, f"salespulse exited {status} after SIGTERM:\n{service.log_tail()}"


# ---------------------------------------------------------------------------------------------
# Prometheus and Alertmanager
# ---------------------------------------------------------------------------------------------


class Stack:
    def __init__(self, prometheus: str, alertmanager: str):
        self.prometheus = prometheus
        self.alertmanager = alertmanager
        self.started = time.time()
        # The service's exposition once every event is in (set by the fixture).
        self.exposition = ""

    def get(self, path: str) -> dict:
        """A Prometheus API answer."""
        answer = http(self.prometheus + path)
        assert answer is not None, f"Prometheus does not answer {path}"
        return json.loads(answer[1])

    def _evaluate(self, path: str, expr: str, **params) -> list[dict]:
        # A form POST: long expressions fit.
        answer = http(self.prometheus + path, form={"query": expr, **params})
        assert answer is not None, f"Prometheus does not answer {path}"
        body = json.loads(answer[1])
        assert body["status"] == "success", f"{expr}\n-> {body.get('errorType')}: {body.get('error')}"
        return body["data"]["result"]

    def query(self, expr: str) -> list[dict]:
        """The instant result of `expr`; fails with Prometheus's error if it does not evaluate."""
        return self._evaluate("/api/v1/query", expr)

    def has_data(self, expr: str) -> bool:
        """Whether `expr` over the test's time range so far (a range query, as a Grafana panel
        asks) has at least one finite sample."""
        result = self._evaluate("/api/v1/query_range", expr, start=self.started, end=time.time(), step=2)
        return any(math.isfinite(float(value)) for series in result for _, value in series["values"])

    def alertmanager_alerts(self, alertname: str) -> list[dict]:
        """The active alerts of that name in Alertmanager."""
        matcher = urllib.parse.urlencode({"filter": f'alertname="{alertname}"'})
        answer = http(f"{self.alertmanager}/api/v2/alerts?{matcher}")
        assert answer is not None and answer[0] == 200, f"Alertmanager: {answer}"
        return [alert for alert in json.loads(answer[1]) if alert["status"]["state"] == "active"]


def stack_command(*args: str, stack_dir: Path) -> str:
    env = {**os.environ, "STACK_DIR": str(stack_dir)}
    env.pop("RULES_DIR", None)  # always the repo's rules
    result = subprocess.run(
        ["bash", str(STACK), *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"stack.sh {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def stack(service, kafka, events, tmp_path_factory):
    stack_dir = tmp_path_factory.mktemp("stack")
    try:
        printed = stack_command("start", service.address, stack_dir=stack_dir)
        urls = dict(line.split("=", 1) for line in printed.split())
        stack = Stack(urls["prometheus"], urls["alertmanager"])
        up = wait_until(lambda: stack.query('up{job="salespulse"} == 1'), timeout=30)
        assert up, f"Prometheus never scraped salespulse at {service.address}"

        kafka.produce(events.live, tmp_path_factory.mktemp("live"))
        messages = len(events.history) + len(events.live)
        stack.exposition = service.wait_caught_up(messages)
        # The clock is pinned, so the series no longer change: wait until Prometheus has them.
        processed = " + ".join(f"sum({family})" for family in PROCESSED_FAMILIES)
        scraped = wait_until(lambda: stack.query(f"{processed} == {messages}"), timeout=30)
        assert scraped, f"Prometheus never scraped the final exposition: {stack.query(processed)}"
        yield stack
    finally:
        stack_command("stop", stack_dir=stack_dir)


# ---------------------------------------------------------------------------------------------
# Rules and dashboards, as the repo has them
# ---------------------------------------------------------------------------------------------


def rule_groups() -> list[tuple[str, dict]]:
    """(file name, group) of every rule group of deploy/prometheus/rules/."""
    assert RULES, "no rule files in deploy/prometheus/rules"
    return [
        (path.name, group) for path in RULES for group in yaml.safe_load(path.read_text())["groups"]
    ]


def dashboards() -> dict[str, dict]:
    assert DASHBOARDS, "no dashboards in deploy/grafana/dashboards"
    return {path.name: json.loads(path.read_text()) for path in DASHBOARDS}


def variables(dashboard: dict) -> list[dict]:
    return dashboard.get("templating", {}).get("list", [])


def variable_values(dashboard: dict, window: str) -> dict[str, str]:
    """Values for a dashboard's template variables: a query variable (team, rep) at "All" (its
    allValue, a regex), `window` as given, any other variable at its current value."""
    values = dict(INTERVALS)
    for variable in variables(dashboard):
        name = variable["name"]
        if name == "window":
            values[name] = window
        elif variable.get("type") == "query":
            values[name] = variable.get("allValue") or ".*"
        else:
            values[name] = str(variable.get("current", {}).get("value", ""))
    return values


def windows(dashboard: dict) -> list[str]:
    """The options of the dashboard's `window` variable (just "current" when it has none)."""
    for variable in variables(dashboard):
        if variable["name"] == "window":
            return [option["value"] for option in variable["options"]]
    return ["current"]


def panels(panel_list: list[dict]):
    for panel in panel_list:
        yield panel
        # A collapsed row keeps its panels inside it.
        yield from panels(panel.get("panels", []))


def expected_ratios(exposition: str) -> dict[tuple, float]:
    """The team and company ratio recording rules, worked out from the per-rep counts of the
    exposition: (rule, sorted labels) -> sum of numerators / sum of denominators, absent where the
    denominator is 0."""
    ratios = {
        "sales_win_ratio": ("sales_deals_won", ("sales_deals_won", "sales_deals_lost")),
        "sales_lead_response_sla_ratio": ("sales_leads_responded_within_sla", ("sales_leads_responded",)),
        "sales_appointment_set_ratio": ("sales_appointments_set", ("sales_contacts_established",)),
        "sales_mql_to_sql_ratio": ("sales_sqls", ("sales_mqls",)),
    }
    wanted = {name for numerator, denominators in ratios.values() for name in (numerator, *denominators)}
    team_sums = defaultdict(float)  # (family, team, period, window) -> sum over the team's reps
    for name, labels, value in parse_exposition(exposition):
        if name in wanted:
            team_sums[(name, labels["team"], labels["period"], labels["window"])] += value
    expected = {}
    for ratio, (numerator, denominators) in ratios.items():
        company = defaultdict(lambda: [0.0, 0.0])
        for family, team, period, window in list(team_sums):
            if family != numerator:
                continue
            top = team_sums[(numerator, team, period, window)]
            bottom = sum(team_sums[(name, team, period, window)] for name in denominators)
            company[(period, window)][0] += top
            company[(period, window)][1] += bottom
            if bottom > 0:
                labels = (("period", period), ("team", team), ("window", window))
                expected[(f"team:{ratio}:sum", labels)] = top / bottom
        for (period, window), (top, bottom) in company.items():
            if bottom > 0:
                expected[(f"company:{ratio}:sum", (("period", period), ("window", window)))] = top / bottom
    return expected


# ---------------------------------------------------------------------------------------------
# The tests, in file order: the alert takes a minute, so the other checks come first.
# ---------------------------------------------------------------------------------------------


def test_every_rule_group_is_loaded_and_healthy(stack):
    def all_evaluated():
        groups = stack.get("/api/v1/rules")["data"]["groups"]
        # A rule's health is "unknown" until its first evaluation.
        return groups if all(rule["health"] != "unknown" for g in groups for rule in g["rules"]) else None

    groups = wait_until(all_evaluated, timeout=30)
    assert groups, "some rules were never evaluated"
    loaded = {(Path(group["file"]).name, group["name"]): len(group["rules"]) for group in groups}
    assert loaded == {(file, group["name"]): len(group["rules"]) for file, group in rule_groups()}
    unhealthy = [
        (group["name"], rule["name"], rule["health"], rule.get("lastError"))
        for group in groups
        for rule in group["rules"]
        if rule["health"] != "ok" or rule.get("lastError")
    ]
    assert unhealthy == []


def test_every_rule_expression_evaluates(stack):
    exprs = [rule["expr"] for _, group in rule_groups() for rule in group["rules"]]
    assert len(exprs) > 30, "recording rules, thresholds and alerts"
    for expr in exprs:
        stack.query(expr)


def test_every_dashboard_query_evaluates_in_every_window(stack):
    evaluated = set()
    for name, dashboard in dashboards().items():
        queries = dashboard_queries(dashboard)
        assert queries, f"{name} has no query"
        for window in windows(dashboard):
            values = variable_values(dashboard, window)
            for _, expr in queries:
                expr = substitute(expr, values)
                if expr not in evaluated:
                    stack.query(expr)
                    evaluated.add(expr)
    assert len(evaluated) > 50, "the three dashboards' queries, the windowed ones three times"


def test_recording_rules_agree_with_the_raw_series(stack):
    """Team and company ratios are ratios of summed counts (not averages of the reps' ratios), and
    absent where nothing was counted."""
    expected = expected_ratios(stack.exposition)
    for team in TEAMS:  # what makes the comparison worth something: deals won and lost this month
        labels = (("period", "month"), ("team", team), ("window", "current"))
        assert 0 < expected[("team:sales_win_ratio:sum", labels)] < 1

    def recorded() -> dict[tuple, float]:
        values = {}
        for rule in {rule for rule, _ in expected}:
            for series in stack.query(rule):
                labels = tuple(sorted((k, v) for k, v in series["metric"].items() if k != "__name__"))
                values[(rule, labels)] = float(series["value"][1])
        return values

    def differences() -> dict[tuple, tuple]:
        values = recorded()
        return {
            key: (values.get(key), expected.get(key))
            for key in values.keys() | expected.keys()
            if key not in values
            or key not in expected
            or not math.isclose(values[key], expected[key], rel_tol=1e-12)
        }

    # Rules are evaluated every 2 s, possibly still on the scrape before the final one.
    wait_until(lambda: not differences(), timeout=30, interval=1)
    assert differences() == {}, "(recorded, expected)"


def test_promtool_check_metrics_reports_nothing_on_the_run_exposition(stack):
    """The exposition of `run`, consumer families included, passes Prometheus's own linter."""
    families = family_types(stack.exposition)
    assert families.get("salespulse_consumer_lag_messages") == "gauge"
    assert families.get("salespulse_event_processing_seconds") == "histogram"
    assert families.get("sales_team_lead_response_time_seconds") == "histogram"
    result = subprocess.run(
        [tool("promtool"), "check", "metrics"], input=stack.exposition, capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_team_histogram_is_the_sum_of_its_reps_histograms(stack):
    """Prometheus's sales_team_lead_response_time_seconds, per team and bucket, equals the per-rep
    sales_lead_response_time_seconds of the same scrape summed over the team's reps."""
    rep_sums = defaultdict(float)  # (series, team, le) -> sum over the team's reps
    for name, labels, value in parse_exposition(stack.exposition):
        if name in ("sales_lead_response_time_seconds_count", "sales_lead_response_time_seconds_bucket"):
            rep_sums[(name.removeprefix("sales_"), labels["team"], labels.get("le"))] += value
    for team in TEAMS:  # every simulated team answered leads: the comparison is worth something
        assert rep_sums[("lead_response_time_seconds_count", team, None)] > 0, team

    in_prometheus = {}
    for name in ("sales_team_lead_response_time_seconds_count", "sales_team_lead_response_time_seconds_bucket"):
        for series in stack.query(f"max without (instance) ({name})"):
            labels = series["metric"]
            key = (name.removeprefix("sales_team_"), labels["team"], labels.get("le"))
            in_prometheus[key] = float(series["value"][1])
    assert in_prometheus == dict(rep_sums)


def test_every_panel_and_variable_shows_data(stack):
    """With window=current, each panel has a query with a finite sample in the test's time range
    (the SLA-breach panel once the alert fires), and each query variable offers values. No panel
    is exempt: the data cover every window, and the live batch moves the counters that the
    rate()-based panels need."""
    pending = {}
    for name, dashboard in dashboards().items():
        values = variable_values(dashboard, "current")
        for panel in panels(dashboard["panels"]):
            exprs = [target["expr"] for target in panel.get("targets", []) if target.get("expr")]
            if exprs:
                pending[f"{name}: {panel['title']}"] = [substitute(expr, values) for expr in exprs]
        for variable in variables(dashboard):
            if variable.get("type") == "query":
                query = variable["query"]
                expr = variable_query_expr(query["query"] if isinstance(query, dict) else query)
                pending[f"{name}: variable {variable['name']}"] = [substitute(expr, values)]
    assert len(pending) > 30

    def all_shown() -> bool:
        for where in [where for where, exprs in pending.items() if any(map(stack.has_data, exprs))]:
            del pending[where]
        return not pending

    wait_until(all_shown, timeout=max(0, stack.started + ALERT_DEADLINE - time.time()), interval=2)
    assert pending == {}, "panels and variables without data"


def test_lead_waiting_too_long_fires_and_reaches_alertmanager(stack):
    deadline = stack.started + ALERT_DEADLINE

    def ours_firing() -> list[dict]:
        return [
            alert
            for alert in stack.get("/api/v1/alerts")["data"]["alerts"]
            if alert["labels"]["alertname"] == "SalesLeadWaitingTooLong"
            and alert["labels"].get("rep") == UNANSWERED_REP
            and alert["state"] == "firing"
        ]

    firing = wait_until(ours_firing, timeout=max(0, deadline - time.time()), interval=1)
    assert len(firing) == 1, f"not firing for {UNANSWERED_REP}: {stack.get('/api/v1/alerts')['data']}"
    assert firing[0]["labels"]["team"] == UNANSWERED_TEAM
    # The clock is pinned at AS_OF, so the lead has waited exactly UNANSWERED_WAIT.
    assert float(firing[0]["value"]) == UNANSWERED_WAIT.total_seconds()

    def ours_delivered() -> list[dict]:
        return [
            alert
            for alert in stack.alertmanager_alerts("SalesLeadWaitingTooLong")
            if alert["labels"].get("rep") == UNANSWERED_REP
        ]

    delivered = wait_until(ours_delivered, timeout=max(5, deadline - time.time()), interval=1)
    assert len(delivered) == 1, f"not in Alertmanager: {stack.alertmanager_alerts('SalesLeadWaitingTooLong')}"
    assert delivered[0]["labels"]["team"] == UNANSWERED_TEAM
    assert delivered[0]["labels"]["severity"] == "page"
