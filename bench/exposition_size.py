#!/usr/bin/env python3
"""Measures the exposition per `[export]` choice for a large sales floor.

Writes events for REPS reps (in teams of 10, half BDRs, half AEs), each active in every window
(contacts, appointments, answered leads, MQL/SQL, won and lost deals), replays them with the
release binary under each `[export]` choice, and prints a Markdown table: series in total, series
per rep, bytes per scrape and gzip bytes. Usage: python3 bench/exposition_size.py [REPS]
"""

import gzip
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BINARY = REPO / "target" / "release" / "salespulse"
AS_OF = "2026-11-25T12:00:00Z"

CHOICES = [
    ("all six periods, per-rep histograms (default)", None),
    ("all six periods, `rep_histograms = false`", "[export]\nrep_histograms = false\n"),
    (
        "`periods = [\"week\", \"month\", \"quarter\"]`",
        '[export]\nperiods = ["week", "month", "quarter"]\n',
    ),
    (
        "`periods = [\"week\", \"month\", \"quarter\"]`, `rep_histograms = false`",
        '[export]\nperiods = ["week", "month", "quarter"]\nrep_histograms = false\n',
    ),
    (
        "`periods = [\"7d\", \"30d\", \"90d\"]`, `rep_histograms = false`",
        '[export]\nperiods = ["7d", "30d", "90d"]\nrep_histograms = false\n',
    ),
    ("`periods = [\"month\"]`, `rep_histograms = false`", '[export]\nperiods = ["month"]\nrep_histograms = false\n'),
]


def events(reps: int):
    """Every rep busy in the current week, month and quarter, and in the previous ones."""
    days = ["2026-11-24", "2026-11-10", "2026-10-20", "2026-09-15"]
    for r in range(reps):
        rep = f"rep-{r:05d}"
        role = "bdr" if r % 2 == 0 else "ae"
        yield {"event_id": f"u-{rep}", "type": "rep_upserted", "occurred_at": "2026-01-05T00:00:00Z",
               "rep_id": rep, "team": f"team-{r // 10:03d}", "role": role}
        for d, day in enumerate(days):
            at = f"{day}T10:00:00Z"
            touch_at = f"{day}T10:04:00Z"
            key = f"{rep}-{d}"
            yield {"event_id": f"lc-{key}", "type": "lead_created", "occurred_at": at,
                   "lead_id": f"L-{key}", "rep_id": rep}
            yield {"event_id": f"a-{key}", "type": "activity", "occurred_at": touch_at, "rep_id": rep,
                   "contact_id": f"c-{key}", "channel": "call", "established": True, "lead_id": f"L-{key}"}
            yield {"event_id": f"ap-{key}", "type": "appointment_set", "occurred_at": touch_at,
                   "rep_id": rep, "contact_id": f"c-{key}"}
            yield {"event_id": f"m-{key}", "type": "lead_qualified", "occurred_at": touch_at,
                   "lead_id": f"L-{key}", "stage": "mql", "rep_id": rep}
            yield {"event_id": f"s-{key}", "type": "lead_qualified", "occurred_at": touch_at,
                   "lead_id": f"L-{key}", "stage": "sql", "rep_id": rep}
            for outcome in ("won", "lost"):
                yield {"event_id": f"d{outcome}-{key}", "type": "deal_closed", "occurred_at": touch_at,
                       "deal_id": f"D{outcome}-{key}", "rep_id": rep, "outcome": outcome,
                       "amount": "25000", "industry": "software", "channel": "inbound"}


def measure(events_file: Path, config_text: str | None, reps: int, work: Path) -> tuple[int, float, int, int]:
    args = [str(BINARY), "replay", "--events", str(events_file), "--as-of", AS_OF]
    if config_text is not None:
        config = work / "export.toml"
        config.write_text(config_text)
        args += ["--config", str(config)]
    text = subprocess.run(args, capture_output=True, check=True).stdout
    series = sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))
    per_rep = sum(1 for line in text.splitlines() if b'rep="rep-00000"' in line)
    return series, per_rep, len(text), len(gzip.compress(text, compresslevel=1))


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        events_file = work / "events.jsonl"
        with events_file.open("w") as out:
            for event in events(reps):
                out.write(json.dumps(event) + "\n")
        print(f"| `[export]` choice | series per rep | series at {reps:,} reps | bytes per scrape | gzipped |")
        print("|---|---|---|---|---|")
        for label, config_text in CHOICES:
            series, per_rep, size, compressed = measure(events_file, config_text, reps, work)
            print(f"| {label} | {per_rep} | {series:,} | {size / 1e6:.1f} MB | {compressed / 1e6:.2f} MB |")


if __name__ == "__main__":
    main()
