#!/usr/bin/env python3
"""The report side of bench/run.sh.

  report.py criterion DIR GROUP PREFIX   records from criterion's estimates under DIR/GROUP
  report.py checkpoint LOG               records from a checkpoint_capacity output
  report.py section OUT                  the BENCHMARKS.md section from OUT/results.txt
  report.py write SECTION BENCHMARKS.md  replaces the marked section (or appends it)

A record is one line "KEY VALUE"; a figure measured in several runs has one line per run and
the section shows the median (statistics.median: the mean of the two middle values for an even
count).
"""

import json
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

BEGIN = "<!-- bench/run.sh: begin -->"
END = "<!-- bench/run.sh: end -->"
GIB = 1024**3

# The figures of the previous session, before each optimisation (closing note of stop 11,
# "Issue 7 ... started", and the issue text), measured on the same machine kind.
BEFORE_SCRAPE = {
    "text.all_periods": 542e-3,
    "scrape_new_snapshot.all_periods": 704e-3,
    "scrape_cached.all_periods": 704e-3,
    "text.month_only": 113e-3,
    "scrape_new_snapshot.month_only": 159e-3,
}
BEFORE_REPLAY = {"2000000": (1020e6, 154_900), "10000000": (4304e6, 149_000)}
BEFORE_DECODE = 466_000
BEFORE_RUN = 99_600
BEFORE_RUN_RATIO = 0.34
# The suite's medians of 2026-11-30T19:12:15Z (salespulse at c24c6c8), before the optimisations
# of the session after it: mimalloc, decoding on a second thread in `run`, the snapshot cadence.
SUITE_OF = "suite of 2026-11-30 19:12"
BEFORE_MIMALLOC_REPLAY = {
    ("2000000", "two_pass"): 352_700, ("2000000", "as_of"): 520_800,
    ("10000000", "two_pass"): 375_700, ("10000000", "as_of"): 516_000,
}
BEFORE_SPLIT_RUN = 211_000
BEFORE_SPLIT_RATIO = 0.26
BEFORE_CADENCE_MS = (257, 935)
# The suite's medians of 2026-11-30T22:14:27Z (salespulse at e7cbea1), before polling on the
# decoding thread, releasing messages there, the catch-up snapshot cadence and the off-thread
# checkpoint encoding.
SUITE_BEFORE_POLL = "suite of 2026-11-30 22:14"
BEFORE_POLL_RUN = 302_000
BEFORE_POLL_RATIO = 0.26
# That suite ran beside other work (load average 1.6): `replay --as-of`, whose code did not
# change since, is the control.
BEFORE_POLL_REPLAY = {"2000000": 621_100, "10000000": 666_700}
BEFORE_POLL_CONTROL = {"2000000": 892_900, "10000000": 878_000}
# The suite's medians of 2026-12-01T00:12:36Z (salespulse at 6aba888, the machine otherwise
# idle), before checkpoints for the message count were paced by their capture's cost.
SUITE_BEFORE_PACING = "suite of 2026-12-01 00:12"
BEFORE_PACING_RUN = 383_000
BEFORE_PACING_RATIO = 0.37
# The suite of 2026-12-01T00:12:36Z with its `run` part rerun at 788baaf (the figures
# BENCHMARKS.md held at 9d77bd0), before the quick first pass of `replay`, freeing decoded events
# on their decoding thread, the kept window horizons and the lazy topic name.
SUITE_BEFORE_GLIMPSE = "suite of 2026-12-01 00:12, `run` part rerun at 788baaf"
BEFORE_GLIMPSE_REPLAY = {"2000000": 869_600, "10000000": 968_100}
BEFORE_BORROW_REPLAY = {"2000000": 1_300_000, "10000000": 1_290_000}
BEFORE_BORROW_RUN = 429_300
BEFORE_BORROW_RATIO = 0.41


def criterion(directory, group, prefix):
    for benchmark in sorted(Path(directory, group).glob("**/new/benchmark.json")):
        meta = json.loads(benchmark.read_text())
        estimates = json.loads((benchmark.parent / "estimates.json").read_text())
        nanos = estimates["median"]["point_estimate"]
        key = f"{prefix}.{meta['function_id'].replace('/', '.')}"
        print(f"{key}.seconds {nanos / 1e9:.9f}")
        elements = (meta.get("throughput") or {}).get("Elements")
        if elements:
            print(f"{key}.per_second {elements / (nanos / 1e9):.0f}")


def checkpoint(log):
    text = Path(log).read_text()

    def find(pattern):
        match = re.search(pattern, text)
        if not match:
            sys.exit(f"checkpoint_capacity output without /{pattern}/ in {log}")
        return match.groups()

    (contacts,) = find(r"state sizes\s+reps \d+ contacts (\d+)")
    (events,) = find(r"checkpoint_capacity: \d+ teams, (\d+) events")
    (reps,) = find(r"; (\d+) reps in the snapshot")
    (snapshot,) = find(r"\n  snapshot\s+([\d.]+) s")
    ingest_peak, after_ingest, checkpoint_peak = find(
        r"peak while ingesting (\d+) MB; after ingesting (\d+) MB; peak while checkpointing (\d+) MB"
    )
    (state_mb,) = find(r"engine state\s+([\d.]+) MB")
    (write,) = find(r"write \(fsync, rename\) [\d.]+ s = ([\d.]+) s")
    restore, restore_peak, at_rest = find(
        r"restore, fresh process .*= ([\d.]+) s; peak RSS (\d+) MB, RSS after (\d+) MB"
    )
    (ingest_rate,) = find(r"ingest \(decode \+ apply\)\s+[\d.]+ s = (\d+) events/s")
    for key, value in [
        ("events", events),
        ("reps", reps),
        ("contacts", contacts),
        ("snapshot_seconds", snapshot),
        ("ingest_per_second", ingest_rate),
        ("ingest_peak_mb", ingest_peak),
        ("after_ingest_mb", after_ingest),
        ("checkpoint_peak_mb", checkpoint_peak),
        ("state_mb", state_mb),
        ("checkpoint_seconds", write),
        ("restore_seconds", restore),
        ("restore_peak_mb", restore_peak),
        ("at_rest_mb", at_rest),
    ]:
        print(f"checkpoint.{key} {value}")


def load(out):
    values = defaultdict(list)
    for line in Path(out, "results.txt").read_text().splitlines():
        key, value = line.split(" ", 1)
        values[key].append(float(value))
    env = dict(
        line.split("=", 1) for line in Path(out, "environment.txt").read_text().splitlines()
    )
    return values, env


def group(n):
    return f"{n:,.0f}"


def rate(n):
    return f"{n / 1e6:.2f} M/s" if n >= 1e6 else f"{n / 1e3:,.1f} k/s"


def ms(seconds):
    return f"{seconds * 1e3:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def mb(value_bytes):
    return f"{value_bytes / 1e6:,.0f} MB"


def spread(values, fmt):
    """The median, and the range when there were several runs."""
    median = statistics.median(values)
    if len(values) == 1:
        return fmt(median)
    return f"{fmt(median)} ({fmt(min(values))} – {fmt(max(values))})"


def verdict(measured, target, higher_is_better, fmt):
    met = measured >= target if higher_is_better else measured <= target
    if met:
        return "**met**"
    gap = abs(measured - target)
    return f"**missed** by {fmt(gap)} ({gap / target:.0%})"


def per_event_us(values, key, events):
    """The runs' figures under `key`, in microseconds per event."""
    return [v / events * 1e6 for v in values[key]]


def cpu_budget(values, med, env, add):
    """Where the CPU goes in `run` and consume-only, and what that leaves at 85 %."""
    if "kafka.run.cpu_seconds" not in values:
        return
    n = med["kafka.events"]
    cores = int(env["cores"])
    us = lambda v: f"{v:.2f} µs"
    rows = [("consume-only", "kafka.consume_only"), ("`salespulse run`", "kafka.run")]
    add("#### Where the CPU goes")
    add("")
    add("User + system CPU time per event: of the client process (`/usr/bin/time` for "
        "consume-only; `/proc/PID/stat` of `run` once all are counted) and of the broker's JVM "
        "over the same span (`/proc/PID/stat` before and after); wall time per event as above; "
        "cores busy = both CPU times ÷ wall time.")
    add("")
    add("| | client CPU / event | broker CPU / event | wall / event | cores busy |")
    add("|---|---|---|---|---|")
    for label, prefix in rows:
        client = per_event_us(values, f"{prefix}.cpu_seconds", n)
        broker = per_event_us(values, f"{prefix}.broker_cpu_seconds", n)
        wall = per_event_us(values, f"{prefix}.all_seconds", n)
        busy = [(c + b) / w for c, b, w in zip(client, broker, wall)]
        add(f"| {label} | {spread(client, us)} | {spread(broker, us)} | {spread(wall, us)} | "
            f"{spread(busy, lambda v: f'{v:.2f}')} |")
    add("")
    replay_cpu = {int(k.split(".")[1]): statistics.median(per_event_us(values, k, int(k.split(".")[1])))
                  for k in values if k.startswith("replay.") and k.endswith(".as_of.cpu_seconds")}
    kafka_cpu = (med["kafka.consume_only.cpu_seconds"] + med["kafka.consume_only.broker_cpu_seconds"]) / n * 1e6
    wall_at_target = med["kafka.consume_only.all_seconds"] / n * 1e6 / 0.85
    left = cores * wall_at_target - kafka_cpu
    text = (f"At 85 % of consume-only's rate a run would take {us(wall_at_target)} of wall time per "
            f"event, so {cores} cores offer {us(cores * wall_at_target)} of CPU per event. Kafka "
            f"alone (consume-only's client and broker) takes {us(kafka_cpu)} of it, which leaves "
            f"{us(left)} per event for decoding and the engine.")
    if left <= 0:
        text += " Kafka alone leaves nothing: 85 % is out of reach on this machine."
    elif replay_cpu:
        needed = min(replay_cpu.values())
        sizes = "; ".join(f"{group(events)} events: {us(cpu)}"
                          for events, cpu in sorted(replay_cpu.items()))
        text += (" `replay --as-of` does about that work (it decodes and applies, without Kafka, "
                 f"the machine to itself) with this much CPU per event: {sizes} (a longer "
                 "history costs less per event once most of it is older than every window)")
        text += (": **even the cheapest is more than is left, so no arrangement of threads "
                 "reaches 85 % on this machine**; decoding and the engine would have to be "
                 f"{needed / left:.1f} times cheaper than that, or the machine have more cores."
                 if needed > left else
                 ": within what is left, so the miss is in how `run` arranges its work.")
    busy = statistics.median(
        (c + b) / a for c, b, a in zip(values["kafka.run.cpu_seconds"],
                                       values["kafka.run.broker_cpu_seconds"],
                                       values["kafka.run.all_seconds"]))
    if busy < cores - 0.25:
        text += (f" As it is, `run` keeps {busy:.2f} of the {cores} cores busy: its applying "
                 "thread, the only one that runs the engine, sets the pace.")
    add(text)
    add("")


def section(out):
    values, env = load(out)
    med = {key: statistics.median(v) for key, v in values.items()}
    runs = env["runs"]
    lines = []
    add = lines.append
    changed = int(env.get("changed_files", "0"))
    add(BEGIN)
    add("## The benchmark suite (issue 7)")
    add("")
    add(
        f"Written by `bash bench/run.sh{' --quick' if env['mode'] == 'quick' else ''}` on "
        f"{env['date']}; rerunning it replaces this section only. Each figure is the median of "
        f"{runs} run{'s' if runs != '1' else ''} (the range in brackets when there were several)."
        + (" **Quick mode: small sizes, one run; a smoke test, not the figures.**"
           if env["mode"] == "quick" else "")
    )
    add("")
    add(
        f"Machine: {env['cpu']}, {env['cores']} cores, {int(env['memory_kb']) / 1024**2:.1f} GiB, "
        f"Linux {env['kernel']}; {env['rustc']}, `release` profile; salespulse at `{env['commit']}`"
        + (f" with {changed} changed files not yet committed" if changed else "")
        + f"; Kafka {env['kafka']} (one local KRaft node, `deploy/local/kafka.sh`), librdkafka "
        f"{env['librdkafka']}. Load average (1, 5, 15 min) {env['load_start']} at the start, "
        f"{env['load_end']} at the end"
        + (
            ": other work shared the machine, so times are on the slow side."
            if max(float(env["load_start"].split()[0]), float(env["load_end"].split()[0]))
            >= int(env["cores"])
            else "."
        )
        + (f" Page cache {env['page_cache']} at the start, "
           f"{int(env['memory_free_kb']) / 1024**2:.1f} GiB free." if "page_cache" in env else "")
        + (f" {env['merged']}" if "merged" in env else "")
    )
    add("")

    # --- targets ---
    add("### Against the targets")
    add("")
    add("| figure | target | measured | verdict |")
    add("|---|---|---|---|")

    def target_row(name, key, target, higher, fmt, target_text):
        if key not in med:
            add(f"| {name} | {target_text} | not measured | — |")
            return
        add(f"| {name} | {target_text} | {spread(values[key], fmt)} | "
            f"{verdict(med[key], target, higher, fmt)} |")

    target_row("decode + validate, simulator mix, one core", "decode.simulator_mix.per_second",
               2e6, True, rate, "≥ 2 M lines/s")
    replay_sizes = sorted({int(k.split(".")[1]) for k in values if k.startswith("replay.")})
    for events in replay_sizes:
        for mode, label in [("two_pass", "without `--as-of`"), ("as_of", "with `--as-of`")]:
            key = f"replay.{events}.{mode}.seconds"
            if key in values:
                values[f"replay.{events}.{mode}.per_second"] = [events / s for s in values[key]]
                med[f"replay.{events}.{mode}.per_second"] = statistics.median(
                    values[f"replay.{events}.{mode}.per_second"])
            target_row(f"`replay`, {group(events)} events, {label}",
                       f"replay.{events}.{mode}.per_second", 1e6, True, rate, "≥ 1 M events/s")
    if "kafka.run.all_seconds" in values:
        n = med["kafka.events"]
        values["kafka.run.per_second"] = [n / s for s in values["kafka.run.all_seconds"]]
        values["kafka.consume_only.per_second"] = [
            n / s for s in values["kafka.consume_only.all_seconds"]]
        values["kafka.ratio"] = [
            r / c for r, c in zip(values["kafka.run.per_second"],
                                  values["kafka.consume_only.per_second"])]
        for key in ["kafka.run.per_second", "kafka.consume_only.per_second", "kafka.ratio"]:
            med[key] = statistics.median(values[key])
    target_row("`run` ÷ consume-only, same run, same topics", "kafka.ratio", 0.85, True,
               lambda r: f"{r:.0%}", "≥ 85 %")
    target_row(f"freshness p99 at {group(20000)} events/s", "freshness.p99_ms", 500, False,
               lambda v: f"{v:,.0f} ms", "≤ 500 ms")
    target_row("`/metrics` scrape, 2,000 reps, all periods (gzip, new snapshot)",
               "render.scrape_new_snapshot.all_periods.seconds", 0.1, False, ms, "≤ 100 ms")
    if "checkpoint.events" in med:
        scale = (f"{group(med['checkpoint.events'])} events, "
                 f"{group(med['checkpoint.contacts'])} contacts kept")
        for key, label in [("checkpoint.after_ingest_mb", "RSS after ingesting"),
                           ("checkpoint.ingest_peak_mb", "peak RSS while ingesting"),
                           ("checkpoint.at_rest_mb", "RSS after a restore (engine alone)")]:
            values[key + "_b"] = [v * 1e6 for v in values[key]]
            med[key + "_b"] = statistics.median(values[key + "_b"])
            target_row(f"{label}, {scale}", key + "_b", GIB, False, mb, "≤ 1 GiB (1,074 MB)")
        target_row(f"restore (fresh process, cold file), {scale}", "checkpoint.restore_seconds",
                   5, False, lambda s: f"{s:.2f} s", "≤ 5 s")
    else:
        add("| RSS and restore after 10 M events with 1 M contacts | ≤ 1 GiB; ≤ 5 s | not measured | — |")
    add("")
    add("`replay`'s other target, peak RSS no more than the engine's state plus a constant, is "
        "shown by the peak RSS below staying level with the state's size; the streaming work "
        "checked it with a heap probe.")
    add("")

    # --- decode ---
    decode = sorted(k for k in values if k.startswith("decode.") and k.endswith(".per_second"))
    if decode:
        add("### Decode + validate, one core")
        add("")
        add(f"`cargo bench -p salespulse-events --bench decode -- {env['criterion']}` (criterion's median time per pass over the lines; lines/s = lines "
            "÷ that). What a driver does per line: the size limit, decode with validation, the "
            "clock check. Lines: the `simulate` sales floor, seed 7, 100,000 events after the "
            "roster, and each event type's lines of it.")
        add("")
        add("| lines | lines/s |")
        add("|---|---|")
        for key in decode:
            add(f"| {key.split('.')[1]} | {spread(values[key], rate)} |")
        add("")

    # --- replay ---
    if replay_sizes:
        add("### `replay` end to end")
        add("")
        add("`salespulse simulate --out FILE --events N --seed 7` (the realistic sales floor: 10 "
            "teams, about 20,000 events a day; ending now), then `/usr/bin/time -f '%e %M' "
            "salespulse replay --events FILE > /dev/null`, without `--as-of` (two passes over "
            "the file) and with `--as-of` (one pass). events/s = N ÷ wall time, process start "
            "to exit; peak RSS = `Maximum resident set size`.")
        add("")
        add("| events | file | mode | events/s | peak RSS |")
        add("|---|---|---|---|---|")
        for events in replay_sizes:
            for mode in ["two_pass", "as_of"]:
                if f"replay.{events}.{mode}.seconds" not in values:
                    continue
                add(f"| {group(events)} | {mb(med[f'replay.{events}.bytes'])} | "
                    f"{'two passes' if mode == 'two_pass' else '`--as-of`'} | "
                    f"{spread(values[f'replay.{events}.{mode}.per_second'], rate)} | "
                    f"{spread([v * 1024 for v in values[f'replay.{events}.{mode}.rss_kb']], mb)} |")
        add("")

    # --- kafka ---
    if "kafka.ratio" in values:
        n = med["kafka.events"]
        add("### `run` against the broker, side by side with a consume-only loop")
        add("")
        add(f"{group(n)} simulator events (20 teams at the floor's pace, seed 7, ending a minute "
            "before now, roster first) produced once to five fresh topics of 3 partitions "
            "(`salespulse-bench produce`, "
            f"{rate(med['kafka.produce.produced'] / med['kafka.produce.seconds'])}). Then, in each "
            "run, one after the other on the same topics: `salespulse-bench consume-only` (the "
            "service's own consumer settings, from `PipelineConfig::consumer_config`: it subscribes, "
            "polls as the service does and discards, until it has N messages) with a fresh group, "
            "and `salespulse run` with a fresh group, default settings (checkpoints every 60 s "
            "or 1 M events, dead-letter producer), polled on `/metrics` every 20 ms until the "
            "sum of `salespulse_events_total`, `_duplicate_total`, `_rejected_total` and "
            "`_ignored_total` reaches N. Times from process start (group join included); "
            "\"steady\" leaves out the time to the first message (first count for `run`).")
        add("")
        add("| | events/s | steady events/s | seconds | peak RSS |")
        add("|---|---|---|---|---|")
        steady_consume = [n / (a - f) for a, f in zip(values["kafka.consume_only.all_seconds"],
                                                       values["kafka.consume_only.first_seconds"])]
        steady_run = [(n - c) / (a - f) for a, f, c in zip(values["kafka.run.all_seconds"],
                                                            values["kafka.run.first_seconds"],
                                                            values["kafka.run.first_count"])]
        add(f"| consume-only | {spread(values['kafka.consume_only.per_second'], rate)} | "
            f"{spread(steady_consume, rate)} | "
            f"{spread(values['kafka.consume_only.all_seconds'], lambda s: f'{s:.1f}')} | — |")
        add(f"| `salespulse run` | {spread(values['kafka.run.per_second'], rate)} | "
            f"{spread(steady_run, rate)} | "
            f"{spread(values['kafka.run.all_seconds'], lambda s: f'{s:.1f}')} | "
            f"{spread([v * 1024 for v in values['kafka.run.rss_kb']], mb)} |")
        add(f"| ratio | {spread(values['kafka.ratio'], lambda r: f'{r:.0%}')} | "
            f"{spread([r / c for r, c in zip(steady_run, steady_consume)], lambda r: f'{r:.0%}')} | | |")
        add("")
        add("A `curl` of that `run`'s `/metrics` once all were counted (20 teams, 120 reps): "
            f"{spread(values['kafka.run.scrape_seconds'], ms)}, "
            f"{spread(values['kafka.run.scrape_bytes'], mb)}.")
        add("")
        cpu_budget(values, med, env, add)

    # --- freshness ---
    if "freshness.p99_ms" in values:
        add(f"### Freshness at {group(20000)} events/s")
        add("")
        add("A fresh `salespulse run` on five empty topics, ready (`/readyz` 200); then "
            "`salespulse-bench freshness` produces simulator events at a steady 20,000 a second "
            "(paced per millisecond, for the time given) and scrapes `/metrics` every 10 ms. Each "
            "event's latency is from the moment it was handed to the producer to the first "
            "scrape whose count (as above) includes its number: an upper bound, within a scrape "
            "interval plus the scrape's own time, and assuming events are counted in about the "
            "order sent (three partitions per topic). The service publishes a new snapshot at "
            "most every 250 ms; when a snapshot takes longer, 2 × its time after the last while events "
            "arrive caught up, 10 × idle, 30 × catching up (`publish_interval` in `crates/kafka/src/consumer.rs`), "
            "so p50 is about half the interval plus a snapshot and the consumer's delay.")
        add("")
        add("| events | achieved rate | p50 | p99 | max |")
        add("|---|---|---|---|---|")
        add(f"| {group(med['freshness.events'])} | {spread(values['freshness.achieved_rate'], rate)} | "
            f"{spread(values['freshness.p50_ms'], lambda v: f'{v:,.0f} ms')} | "
            f"{spread(values['freshness.p99_ms'], lambda v: f'{v:,.0f} ms')} | "
            f"{spread(values['freshness.max_ms'], lambda v: f'{v:,.0f} ms')} |")
        add("")

    # --- scrape ---
    if "render.text.all_periods.seconds" in values:
        add("### `/metrics` with 2,000 reps")
        add("")
        add(f"`cargo bench -p salespulse-exporter --bench render -- {env['criterion']}` (200 simulated teams of 10, 200 "
            "days): `text` renders the exposition alone; `scrape_new_snapshot` is a gzip scrape "
            "of a snapshot not scraped before (render and compress); `scrape_cached` is a repeat "
            "scrape of the same snapshot. Lightest `[export]`: `periods = [\"month\"]`, "
            "`rep_histograms = false`.")
        add("")
        add("| export | size | gzip | render | scrape, new snapshot | scrape, cached |")
        add("|---|---|---|---|---|---|")
        for name, label in [("all_periods", "all periods (default)"), ("month_only", "lightest")]:
            add(f"| {label} | {mb(med[f'render.{name}.bytes'])} | "
                f"{mb(med[f'render.{name}.gzip_bytes'])} | "
                f"{spread(values[f'render.text.{name}.seconds'], ms)} | "
                f"{spread(values[f'render.scrape_new_snapshot.{name}.seconds'], ms)} | "
                f"{spread(values[f'render.scrape_cached.{name}.seconds'], ms)} |")
        add("")

    # --- state ---
    if "checkpoint.events" in med:
        add("### State at scale: RSS, snapshot, checkpoint, restore")
        add("")
        add(f"`target/release/examples/checkpoint_capacity --teams 12 --events "
            f"{group(med['checkpoint.events'])}` (method in \"Durable state\" below: the demo's "
            "floor, here with 12 teams so that about 1 M contacts are kept after 10 M events; "
            "with 10 teams it keeps 863 k). RSS is `VmHWM`/`VmRSS` of the process, which also "
            "runs the generator while ingesting.")
        add("")
        add("| measure | median |")
        add("|---|---|")
        for key, label, fmt in [
            ("checkpoint.contacts", "contacts kept", group),
            ("checkpoint.reps", "reps", group),
            ("checkpoint.ingest_per_second", "ingest (decode + apply)", rate),
            ("checkpoint.after_ingest_mb", "RSS after ingesting (MB)", group),
            ("checkpoint.ingest_peak_mb", "peak RSS while ingesting (MB)", group),
            ("checkpoint.snapshot_seconds", "snapshot", ms),
            ("checkpoint.state_mb", "engine state = checkpoint (MB)", lambda v: f"{v:,.1f}"),
            ("checkpoint.checkpoint_seconds", "checkpoint: save_state + encode + write", ms),
            ("checkpoint.checkpoint_peak_mb", "peak RSS while checkpointing (MB)", group),
            ("checkpoint.restore_seconds", "restore, fresh process, file evicted", ms),
            ("checkpoint.restore_peak_mb", "peak RSS while restoring (MB)", group),
            ("checkpoint.at_rest_mb", "RSS after restore, engine alone (MB)", group),
        ]:
            add(f"| {label} | {spread(values[key], fmt)} |")
        add("")

    # --- before / after ---
    add("### Before and after each optimisation")
    add("")
    add("\"Before\": measured in the previous session on the same machine kind (its closing note, "
        "and the issue text), medians of 3 on a loaded machine, or an earlier run of this suite "
        "where named. \"After\": this suite, above; each later optimisation's figure includes "
        "the earlier ones'. Between two suites the machine's load and free memory can move a "
        "figure more than a change does (a row can even go down); the effect of each change "
        "alone is measured by alternating runs of the old and new binary, in CHANGELOG.md and "
        "the hand-written section below.")
    add("")
    add("| optimisation | figure | before | after |")
    add("|---|---|---|---|")
    labels = {
        "text.all_periods": "render, all periods",
        "scrape_new_snapshot.all_periods": "gzip scrape of a new snapshot, all periods",
        "scrape_cached.all_periods": "repeat scrape, all periods",
        "text.month_only": "render, lightest `[export]`",
        "scrape_new_snapshot.month_only": "scrape, lightest `[export]`",
    }
    for key, before in BEFORE_SCRAPE.items():
        after = med.get(f"render.{key}.seconds")
        add(f"| fast scrape | {labels[key]} | {ms(before)} | "
            f"{ms(after) if after is not None else 'not measured'} |")
    for events, (rss, speed) in BEFORE_REPLAY.items():
        for mode, label in [("two_pass", "two passes"), ("as_of", "`--as-of`")]:
            key = f"replay.{events}.{mode}"
            after = (f"{rate(med[key + '.per_second'])}, {mb(med[key + '.rss_kb'] * 1024)}"
                     if key + ".seconds" in med else "not measured")
            add(f"| streaming `replay` | {group(int(events))} events, {label}: events/s, peak RSS | "
                f"{rate(speed)}, {mb(rss)} (whole file in memory) | {after} |")
    after = med.get("decode.simulator_mix.per_second")
    add(f"| typed decoder | decode + validate, simulator mix, one core | {rate(BEFORE_DECODE)} | "
        f"{rate(after) if after else 'not measured'} |")
    after_run = (f"{rate(med['kafka.run.per_second'])} ({group(med['kafka.events'])} events)"
                 if "kafka.run.per_second" in med else "not measured")
    add(f"| batched consumer | `run` from earliest | {rate(BEFORE_RUN)} (2 M events) | {after_run} |")
    after_ratio = med.get("kafka.ratio")
    add(f"| batched consumer | `run` ÷ a raw consumer | {BEFORE_RUN_RATIO:.2f} (against `kcat`, "
        f"issue text) | {f'{after_ratio:.2f} (against the consume-only loop)' if after_ratio else 'not measured'} |")
    ratio_after = f"{after_ratio:.2f}" if after_ratio else "not measured"

    def replay_row(change, events, mode, before, suite):
        key = f"replay.{events}.{mode}.per_second"
        label = "two passes" if mode == "two_pass" else "`--as-of`"
        add(f"| {change} | `replay`, {group(int(events))} events, {label} | {rate(before)} "
            f"({suite}) | {rate(med[key]) if key in med else 'not measured'} |")

    def run_rows(change, before_run, before_ratio, suite, ratio_change="the same"):
        add(f"| {change} | `run` from earliest | {rate(before_run)} ({suite}) | {after_run} |")
        add(f"| {ratio_change} | `run` ÷ consume-only | {before_ratio:.2f} ({suite}) | "
            f"{ratio_after} |")

    for (events, mode), before in BEFORE_MIMALLOC_REPLAY.items():
        replay_row("mimalloc, the binaries' allocator", events, mode, before, SUITE_OF)
    split = "decoding on a second thread in `run` (and mimalloc)"
    run_rows(split, BEFORE_SPLIT_RUN, BEFORE_SPLIT_RATIO, SUITE_OF, ratio_change=split)
    run_rows("polling, decoding and releasing messages on one thread, applying on the other; "
             "snapshots 30 × their cost while catching up; checkpoint encoding off the applying "
             "thread", BEFORE_POLL_RUN, BEFORE_POLL_RATIO, SUITE_BEFORE_POLL)
    run_rows("checkpoints for the message count at most every 10 × their capture's time",
             BEFORE_PACING_RUN, BEFORE_PACING_RATIO, SUITE_BEFORE_PACING)
    for events, before in BEFORE_POLL_REPLAY.items():
        replay_row("`replay`'s first pass on both cores", events, "two_pass", before,
                   SUITE_BEFORE_POLL)
    for events, before in BEFORE_POLL_CONTROL.items():
        replay_row(f"none (the control: no change since {SUITE_BEFORE_POLL}, which ran beside "
                   "other work, load average 1.6)", events, "as_of", before, SUITE_BEFORE_POLL)
    for events, before in BEFORE_GLIMPSE_REPLAY.items():
        replay_row("`replay`'s first pass glimpses `occurred_at` and decodes only the 16 newest "
                   "lines; lines found with `memchr` (and the rows below)", events, "two_pass",
                   before, SUITE_BEFORE_GLIMPSE)
    borrow = ("decoded events freed on the thread that decoded them; window horizons kept, not "
              "recomputed per event; the topic name read only when needed")
    for events, before in BEFORE_BORROW_REPLAY.items():
        replay_row(borrow, events, "as_of", before, SUITE_BEFORE_GLIMPSE)
    run_rows("the same", BEFORE_BORROW_RUN, BEFORE_BORROW_RATIO, SUITE_BEFORE_GLIMPSE)
    fresh = ((f"{med['freshness.p50_ms']:,.0f} ms, {med['freshness.p99_ms']:,.0f} ms")
             if "freshness.p99_ms" in med else "not measured")
    add(f"| snapshot cadence when caught up | freshness p50, p99 | {BEFORE_CADENCE_MS[0]} ms, "
        f"{BEFORE_CADENCE_MS[1]} ms ({SUITE_OF}) | {fresh} |")
    add("")
    add("Raw results: `target/bench/<time>/results.txt` (one line per run), with the logs.")
    add(END)
    return "\n".join(lines) + "\n"


def write(section_file, benchmarks):
    section = Path(section_file).read_text()
    path = Path(benchmarks)
    text = path.read_text()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + section.rstrip("\n") + tail
    else:
        # After the title and its one-line preface, before the historical sections.
        marker = "\n## "
        at = text.index(marker) + 1
        text = text[:at] + section + "\n" + text[at:]
    path.write_text(text)


def main(argv):
    command, *args = argv
    if command == "criterion":
        criterion(*args)
    elif command == "checkpoint":
        checkpoint(*args)
    elif command == "section":
        sys.stdout.write(section(*args))
    elif command == "write":
        write(*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
