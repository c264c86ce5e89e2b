"""The user reference in docs/ agrees with the product.

- docs/events.schema.json is a valid JSON Schema whose verdicts match what `salespulse replay`
  accepts, on hand-written events and on every line of examples/events.jsonl;
- every metric family the binary exports is documented in docs/metrics.md, and nothing documented
  there as a series is missing from the binary;
- every configuration key `salespulse check-config` prints is documented in its section of
  docs/configuration.md, and the defaults shown there are the binary's;
- every relative link in docs/*.md and README.md leads to a file (and heading) in the repository.
"""

import json
import re
import subprocess
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from conftest import REPO, family_types, replay, salespulse_binary

DOCS = REPO / "docs"
SCHEMA = json.loads((DOCS / "events.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA)

# Families only `run` and `demo` export (they need a Kafka consumer), so `replay` cannot show them;
# the checkpoint families need `run` with a state (tests/kafka_e2e.rs checks them on a live run).
RUN_ONLY_FAMILIES = {
    "salespulse_consumer_lag_messages",
    "salespulse_event_processing_seconds",
    "salespulse_state_history_truncated",
    "salespulse_partitions_unowned",
    "salespulse_kafka_errors_total",
    "salespulse_ready",
    "salespulse_checkpoint_last_success_timestamp_seconds",
    "salespulse_checkpoint_duration_seconds",
}

# One valid event of each of the 13 types, written from docs/events.md.
VALID_EVENTS = {
    "activity": {"rep_id": "r-ana", "contact_id": "c-1", "channel": "call", "established": True,
                 "lead_id": "L-1"},
    "appointment_set": {"rep_id": "r-ana", "contact_id": "c-1", "appointment_id": "ap-1",
                        "scheduled_for": "next Tuesday"},
    "lead_created": {"lead_id": "L-1", "rep_id": "r-ana", "source": "webinar", "segment": "smb"},
    "lead_assigned": {"lead_id": "L-1", "rep_id": "r-ben"},
    "lead_disqualified": {"lead_id": "L-1", "rep_id": "r-ana", "reason": "duplicate"},
    "lead_qualified": {"lead_id": "L-1", "stage": "mql"},
    "deal_opened": {"deal_id": "D-1", "rep_id": "r-ben", "amount": "12500.00", "industry": "retail",
                    "channel": "inbound", "segment": "smb", "currency": "USD"},
    "deal_closed": {"deal_id": "D-1", "rep_id": "r-ben", "outcome": "won", "amount": ""},
    "customer_acquired": {"customer_id": "cu-1", "segment": None, "deal_id": "D-1"},
    "expense": {"amount": 8000, "category": "marketing", "segment": "smb"},
    "revenue": {"customer_id": "cu-1", "amount": 1041.67, "recurring": True, "currency": "USD"},
    "customer_cost": {"customer_id": "cu-1", "amount": "1.2e2"},
    "rep_upserted": {"rep_id": "r-ana", "team": "east", "role": "bdr", "max_daily_leads": 45,
                     "active": False},
}

# (what is wrong, the event, the reason salespulse gives): lines the schema must refuse too.
INVALID_EVENTS = [
    ("missing required field", {"type": "deal_closed", "deal_id": "D-9", "rep_id": "r-ben"},
     "missing_field"),
    ("required field is null", {"type": "lead_created", "lead_id": None}, "missing_field"),
    ("disqualification without lead", {"type": "lead_disqualified", "reason": "junk"},
     "missing_field"),
    ("unknown enum value", {"type": "activity", "rep_id": "r-ana", "contact_id": "c-1",
                            "channel": "fax", "established": True}, "invalid_field"),
    ("enum is case-sensitive", {"type": "deal_closed", "deal_id": "D-9", "rep_id": "r-ben",
                                "outcome": "WON"}, "invalid_field"),
    ("boolean as a string", {"type": "activity", "rep_id": "r-ana", "contact_id": "c-1",
                             "channel": "call", "established": "true"}, "invalid_field"),
    ("boolean as a number", {"type": "revenue", "customer_id": "cu-1", "amount": 10,
                             "recurring": 1}, "invalid_field"),
    ("rep_id over 128 characters", {"type": "lead_assigned", "lead_id": "L-1",
                                    "rep_id": "r" * 129}, "invalid_field"),
    ("empty identifier", {"type": "customer_cost", "customer_id": "", "amount": 5},
     "invalid_field"),
    ("amount with a decimal comma", {"type": "expense", "amount": "12,50", "category": "sales"},
     "invalid_field"),
    ("reason that is not a string", {"type": "lead_disqualified", "lead_id": "L-1", "reason": 7},
     "invalid_field"),
    ("negative capacity", {"type": "rep_upserted", "rep_id": "r-x", "team": "east", "role": "ae",
                           "max_daily_deals": -1}, "invalid_field"),
    ("unknown type", {"type": "meeting", "rep_id": "r-ana"}, "unknown_type"),
    ("another schema version", {"type": "lead_created", "lead_id": "L-1", "schema_version": 2},
     "unsupported_version"),
    ("timestamp without offset", {"type": "lead_created", "lead_id": "L-1",
                                  "occurred_at": "2026-11-23T09:00:00"}, "bad_timestamp"),
    ("date alone", {"type": "lead_created", "lead_id": "L-1", "occurred_at": "2026-11-23"},
     "bad_timestamp"),
    ("leap second", {"type": "lead_created", "lead_id": "L-1",
                     "occurred_at": "2026-11-23T09:00:60Z"}, "bad_timestamp"),
    ("offset without colon", {"type": "lead_created", "lead_id": "L-1",
                              "occurred_at": "2026-11-23T09:00:00+0500"}, "bad_timestamp"),
]

# Lines the schema accepts but salespulse rejects: the checks docs/events.md says only the
# binary can make (configuration, calendar, integer notation).
SEMANTIC_REJECTIONS = [
    ("negative amount", {"type": "expense", "amount": -5, "category": "sales"}, "negative_amount"),
    ("foreign currency", {"type": "revenue", "customer_id": "cu-1", "amount": 10,
                          "recurring": True, "currency": "EUR"}, "foreign_currency"),
    ("February 30", {"type": "lead_created", "lead_id": "L-1",
                     "occurred_at": "2026-02-30T09:00:00Z"}, "bad_timestamp"),
    ("schema_version 1.0", {"type": "lead_created", "lead_id": "L-1", "schema_version": 1.0},
     "invalid_field"),
    ("capacity 5.0", {"type": "rep_upserted", "rep_id": "r-x", "team": "east", "role": "bdr",
                      "max_daily_leads": 5.0}, "invalid_field"),
]

# Spellings of `occurred_at` the grammar tolerates besides the canonical one.
TOLERATED_TIMESTAMPS = [
    "2026-11-23t09:00:00z",
    "2026-11-23 09:00:00Z",
    "2026-11-23T09:00:00.123456789012+05:30",
    "2026-11-23T09:00:00-00:00",
]


def event_line(event_id: str, fields: dict) -> str:
    """A JSON line with the envelope filled in (fields may override `occurred_at`)."""
    return json.dumps({"event_id": event_id, "occurred_at": "2026-11-23T09:00:00-05:00", **fields})


def counters(exposition: str) -> dict[tuple[str, str], float]:
    """(family, label value) -> value of salespulse_events_total{type} / _rejected_total{reason}."""
    found = re.findall(
        r'^(salespulse_events_total|salespulse_events_rejected_total)\{(?:type|reason)="([^"]+)"\} (\S+)$',
        exposition,
        flags=re.MULTILINE,
    )
    return {(family, label): float(value) for family, label, value in found}


def verdict(line: str) -> dict[tuple[str, str], float]:
    """The non-zero pipeline counters after replaying `line` alone."""
    return {key: value for key, value in counters(replay("--events", "-", stdin=line + "\n")).items()
            if value}


def schema_errors(line: str) -> list[str]:
    return [error.message for error in VALIDATOR.iter_errors(json.loads(line))]


# --- the JSON Schema --------------------------------------------------------------------------

def test_schema_is_a_valid_draft_2020_12_schema():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(SCHEMA)


def test_schema_covers_exactly_the_documented_types():
    assert sorted(SCHEMA["properties"]["type"]["enum"]) == sorted(VALID_EVENTS)


@pytest.mark.parametrize("event_type", sorted(VALID_EVENTS))
def test_valid_event_passes_the_schema_and_replay(event_type):
    line = event_line(f"ok-{event_type}", {"type": event_type, **VALID_EVENTS[event_type]})
    assert schema_errors(line) == []
    assert verdict(line) == {("salespulse_events_total", event_type): 1.0}


@pytest.mark.parametrize("problem, fields, reason", INVALID_EVENTS,
                         ids=[case[0] for case in INVALID_EVENTS])
def test_invalid_event_fails_the_schema_and_replay(problem, fields, reason):
    line = event_line("bad", fields)
    assert schema_errors(line), f"the schema accepts a line with {problem}"
    assert verdict(line) == {("salespulse_events_rejected_total", reason): 1.0}


@pytest.mark.parametrize("problem, fields, reason", SEMANTIC_REJECTIONS,
                         ids=[case[0] for case in SEMANTIC_REJECTIONS])
def test_semantic_checks_are_left_to_salespulse(problem, fields, reason):
    line = event_line("semantic", fields)
    assert schema_errors(line) == []
    assert verdict(line) == {("salespulse_events_rejected_total", reason): 1.0}


@pytest.mark.parametrize("timestamp", TOLERATED_TIMESTAMPS)
def test_tolerated_timestamps_pass_the_schema_and_replay(timestamp):
    line = event_line("ts", {"type": "lead_created", "lead_id": "L-1", "occurred_at": timestamp})
    assert schema_errors(line) == []
    assert verdict(line) == {("salespulse_events_total", "lead_created"): 1.0}


def test_the_worked_example_gives_the_numbers_events_md_states():
    text = (DOCS / "events.md").read_text()
    section = text.split("## A worked example", 1)[1]
    events = re.search(r"```json\n(.*?)```", section, flags=re.DOTALL).group(1)
    assert all(not schema_errors(line) for line in events.splitlines())
    exposition = replay("--events", "-", "--as-of", "2026-11-26T17:00:00-05:00", stdin=events)

    def value(series: str) -> float | None:
        found = re.search(rf"^{re.escape(series)} (\S+)$", exposition, flags=re.MULTILINE)
        return float(found.group(1)) if found else None

    week = 'period="week",window="current"'
    ana, ben = 'rep="r-ana",team="east"', 'rep="r-ben",team="east"'
    # 09:00:00 -> 09:03:30 is 210 s, inside the 300 s goal.
    assert value(f"sales_lead_response_seconds{{{ana},percentile=\"50\",{week}}}") == 210
    assert value(f"sales_leads_responded_within_sla{{{ana},{week}}}") == 1
    assert value(f"sales_appointment_set_ratio{{{ana},{week}}}") == 1
    assert value(f"sales_mqls{{{ana},{week}}}") == 1
    assert value(f"sales_sqls{{{ben},{week}}}") == 1
    assert value(f"sales_deals_won_amount{{{ben},{week}}}") == 12500
    assert value(f'sales_dimension_deals_won{{dimension="industry",value="retail",{week}}}') == 1
    assert value(f'sales_dimension_deals_won{{dimension="size",value="medium",{week}}}') == 1
    # L-2 is disqualified; only L-3 waits, since 10:00 (7 h before 17:00).
    assert value(f"sales_leads_awaiting_response{{{ana}}}") == 1
    assert value(f"sales_lead_oldest_awaiting_response_seconds{{{ana}}}") == 7 * 3600
    assert sum(v for (family, _), v in counters(exposition).items()
               if family == "salespulse_events_total") == 13


def test_every_example_line_replay_accepts_passes_the_schema():
    lines = [line for line in (REPO / "examples" / "events.jsonl").read_text().splitlines()
             if line.strip()]

    def accepted(line: str) -> bool:
        totals = counters(replay("--events", "-", stdin=line + "\n"))
        rejected = sum(v for (family, _), v in totals.items()
                       if family == "salespulse_events_rejected_total")
        taken = sum(v for (family, _), v in totals.items() if family == "salespulse_events_total")
        assert rejected + taken == 1, line
        return taken == 1

    # Each line alone, so no line's fate depends on another (duplicates, "now").
    with ThreadPoolExecutor(max_workers=2) as pool:
        verdicts = list(pool.map(accepted, lines))
    accepted_lines = [line for line, ok in zip(lines, verdicts) if ok]
    assert len(accepted_lines) > len(lines) // 2
    failures = {line: errors for line in accepted_lines if (errors := schema_errors(line))}
    assert failures == {}


# --- docs/metrics.md ----------------------------------------------------------------------------

def documented_families() -> set[str]:
    """Series names in the first cell of a table row or at the start of a heading."""
    text = (DOCS / "metrics.md").read_text()
    return set(re.findall(r"^(?:\|\s*|#+\s+)`((?:sales|salespulse)_[a-z0-9_]+)`", text,
                          flags=re.MULTILINE))


def test_every_exported_family_is_documented(example_exposition):
    exported = set(family_types(example_exposition)) | RUN_ONLY_FAMILIES
    assert sorted(exported - documented_families()) == []


def test_every_documented_family_is_exported(example_exposition):
    exported = set(family_types(example_exposition)) | RUN_ONLY_FAMILIES
    assert sorted(documented_families() - exported) == []


def test_documented_recording_rules_are_the_shipped_ones():
    text = (DOCS / "metrics.md").read_text()
    # `level:metric:operations`, whatever the level (team, team_channel, company, job, ...).
    documented = set(re.findall(r"`([a-z_]+:(?:sales|salespulse)_[a-z0-9_]+:[a-z0-9_]+)`", text))
    shipped = {
        rule["record"]
        for path in sorted((REPO / "deploy" / "prometheus" / "rules").glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    # Thresholds are settings, listed in thresholds.yml and runbooks.md, not metrics.
    aggregates = {name for name in shipped if not name.startswith("threshold:")}
    assert sorted(documented ^ aggregates) == []


def test_the_binary_exports_the_v1_1_names_documented(example_exposition):
    families = family_types(example_exposition)
    assert families.get("sales_workdays") == "gauge"
    assert "sales_business_days" not in families
    assert families.get("sales_lead_response_sla_seconds") == "gauge"
    assert re.search(r"^sales_lead_response_sla_seconds 300$", example_exposition, re.MULTILINE)
    assert re.search(r'^salespulse_events_total\{type="lead_disqualified"\} \d+$',
                     example_exposition, re.MULTILINE)


# --- docs/configuration.md -----------------------------------------------------------------------

def check_config(*args: str, cwd: Path = REPO) -> str:
    result = subprocess.run([str(salespulse_binary().resolve()), "check-config", *args], cwd=cwd,
                            capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    return result.stdout


def config_sections() -> dict[str, str]:
    """Section name (`business`, `roster`, `kafka.properties`) -> its text in configuration.md,
    from a heading that is exactly `[name]` or `[[name]]` to the next heading of the same level."""
    lines = (DOCS / "configuration.md").read_text().splitlines()
    sections: dict[str, str] = {}
    for start, line in enumerate(lines):
        heading = re.fullmatch(r"(#+)\s+`\[{1,2}([a-z_.]+)\]{1,2}`\s*", line)
        if not heading:
            continue
        level = len(heading.group(1))
        end = next((i for i in range(start + 1, len(lines))
                    if (m := re.match(r"(#+)\s", lines[i])) and len(m.group(1)) <= level),
                   len(lines))
        sections[heading.group(2)] = "\n".join(lines[start:end])
    return sections


FULL_ROSTER = """
[[roster]]
rep_id = "r-001"
team = "east"
role = "bdr"
max_daily_leads = 50
max_daily_deals = 2
active = false

[kafka.properties]
"client.id" = "docs-test"
"""


def test_every_configuration_key_is_documented_in_its_section(tmp_path):
    config = tmp_path / "full.toml"
    config.write_text(FULL_ROSTER)
    effective = tomllib.loads(check_config("--config", str(config)))
    sections = config_sections()
    missing = []
    for section, body in effective.items():
        if section not in sections:
            missing.append(f"[{section}]")
            continue
        entries = body if isinstance(body, list) else [body]
        for key in sorted({key for entry in entries for key in entry}):
            value = entries[0][key]
            if isinstance(value, dict):
                if f"{section}.{key}" not in sections:
                    missing.append(f"[{section}.{key}]")
                continue
            if not re.search(rf"^\|\s*`{key}`\s*\|", sections[section], flags=re.MULTILINE):
                missing.append(f"{section}.{key}")
            env_var = f"SALESPULSE_{section.upper()}__{key.upper()}"
            if section != "roster" and env_var not in sections[section]:
                missing.append(env_var)
    assert missing == []


def test_documented_defaults_are_the_binary_defaults(tmp_path):
    text = (DOCS / "configuration.md").read_text()
    block = re.search(r"<!-- check-config defaults.*?-->\s*```toml\n(.*?)```", text, flags=re.DOTALL)
    assert block, "configuration.md lost its defaults block"
    # An empty working directory, so no stray file or variable changes the defaults.
    assert tomllib.loads(block.group(1)) == tomllib.loads(check_config(cwd=tmp_path))


def test_the_v1_1_configuration_keys_have_their_defaults(tmp_path):
    effective = tomllib.loads(check_config(cwd=tmp_path))
    assert effective["business"]["lead_queue_max_age_seconds"] == 2_592_000
    assert effective["export"] == {
        "periods": ["week", "month", "quarter", "7d", "30d", "90d"],
        "rep_histograms": True,
    }


# --- links ----------------------------------------------------------------------------------------

def without_code(markdown: str) -> str:
    """The text outside fenced code blocks and inline code spans."""
    markdown = re.sub(r"^```.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", markdown)


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes, -1 for repeats."""
    seen: dict[str, int] = {}
    result = set()
    stripped = re.sub(r"^```.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)
    for heading in re.findall(r"^#+\s+(.*?)\s*$", stripped, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


MARKDOWN_FILES = sorted(DOCS.glob("*.md")) + [REPO / "README.md"]


@pytest.mark.parametrize("page", MARKDOWN_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_lead_to_files_in_the_repository(page):
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", without_code(page.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue  # http:, https:, mailto:
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        if not linked.is_relative_to(REPO) or not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked.read_text()):
            broken.append(target)
    assert broken == []


def test_the_reference_pages_exist_and_link_each_other():
    for name in ["events.md", "events.schema.json", "metrics.md", "configuration.md",
                 "semantics.md"]:
        assert (DOCS / name).is_file(), name
    events = (DOCS / "events.md").read_text()
    assert "](events.schema.json)" in events
    assert "](runbooks.md)" in (DOCS / "metrics.md").read_text()
