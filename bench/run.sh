#!/usr/bin/env bash
# The benchmark suite of issue 7: measures every figure and rewrites the marked section of
# BENCHMARKS.md (between "<!-- bench/run.sh: begin -->" and "<!-- bench/run.sh: end -->").
#
#   bash bench/run.sh            the full suite, 3 runs of each figure (tens of minutes)
#   bash bench/run.sh --quick    small sizes, 1 run: a smoke run of a few minutes
#   bash bench/run.sh --only decode,render,replay,kafka,freshness,checkpoint
#                                some parts only (the others' rows say "not measured")
#   bash bench/run.sh --runs N   N runs of each figure instead of 3 (or 1 with --quick)
#   bash bench/run.sh --no-write measure, keep the raw results, leave BENCHMARKS.md alone
#
# Starts the local Kafka broker (deploy/local/kafka.sh start, idempotent). Raw results, logs
# and the generated section stay in target/bench/<time>/. Not run by CI: nothing here asserts
# a figure.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

QUICK=0
WRITE=1
RUNS_OVERRIDE=""
ONLY="decode,render,replay,kafka,freshness,checkpoint"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --no-write) WRITE=0 ;;
    --only) ONLY="$2"; shift ;;
    --runs) RUNS_OVERRIDE="$2"; shift ;;
    *) echo "usage: $0 [--quick] [--only PART,...] [--runs N] [--no-write]" >&2; exit 2 ;;
  esac
  shift
done

if [ "$QUICK" = 1 ]; then
  RUNS=1
  REPLAY_SIZES="200000"
  KAFKA_EVENTS=200000
  FRESH_SECONDS=5
  CHECKPOINT_EVENTS=200000
  CRITERION=(--sample-size 10 --warm-up-time 1 --measurement-time 2)
else
  RUNS=3
  REPLAY_SIZES="2000000 10000000"
  KAFKA_EVENTS=5000000
  FRESH_SECONDS=30
  CHECKPOINT_EVENTS=10000000
  CRITERION=(--sample-size 10 --warm-up-time 1 --measurement-time 5)
fi
RUNS="${RUNS_OVERRIDE:-$RUNS}"
# 12 teams of the demo floor keep about 1 M contacts after 10 M events (10 teams: 863 k).
CHECKPOINT_TEAMS=12
FRESH_RATE=20000

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$REPO/target/bench/$STAMP"
mkdir -p "$OUT"
RESULTS="$OUT/results.txt"
ENVFILE="$OUT/environment.txt"
: >"$RESULTS"
BIN="$REPO/target/release/salespulse"
TOOL="$REPO/target/release/salespulse-bench"
REPORT=(python3 "$REPO/bench/report.py")
PIDS=()

log() { echo "bench: $*" >&2; }
part() { [[ ",$ONLY," == *",$1,"* ]]; }
# One observation: KEY VALUE (a figure measured several times has one line per run).
record() { echo "$1 $2" >>"$RESULTS"; }
# key=value pairs of a tool's output line, as records under PREFIX.
record_pairs() {
  local prefix="$1" pair
  for pair in $2; do record "$prefix.${pair%%=*}" "${pair#*=}"; done
}
# User + system CPU time of a live process and all its threads, in seconds.
cpu_seconds() { awk -v tick="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / tick }' "/proc/$1/stat"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
stop_services() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}
trap stop_services EXIT

log "results in $OUT"
# A page cache that fills the memory makes every page the engine touches first wait for the
# kernel to reclaim one: with most of the memory in the page cache, the same replays ran up to
# 1.5 times slower than after dropping it.
# Dropping it (root only) makes runs comparable; the free memory at the start is recorded.
sync
if echo 1 2>/dev/null >/proc/sys/vm/drop_caches; then PAGE_CACHE=dropped; else PAGE_CACHE=kept; fi
{
  echo "page_cache=$PAGE_CACHE"
  echo "memory_free_kb=$(sed -n 's/^MemFree: *\([0-9]*\) kB/\1/p' /proc/meminfo)"
  echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "mode=$([ "$QUICK" = 1 ] && echo quick || echo full)"
  echo "runs=$RUNS"
  echo "criterion=${CRITERION[*]}"
  echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  echo "cores=$(nproc)"
  echo "memory_kb=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)"
  echo "kernel=$(uname -r)"
  echo "rustc=$(rustc -V)"
  echo "commit=$(git rev-parse --short HEAD)"
  echo "changed_files=$(git status --porcelain --untracked-files=no | wc -l)"
  echo "kafka=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' deploy/local/kafka/pom.xml)"
  echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$ENVFILE"

log "building (release)"
cargo build --release -p salespulse -p salespulse-bench --bins
cargo build --release -p salespulse --example checkpoint_capacity
echo "librdkafka=$("$TOOL" versions | sed 's/^librdkafka=//')" >>"$ENVFILE"

# --- decode + validate, one core (criterion) -------------------------------------------------
if part decode; then
  for run in $(seq "$RUNS"); do
    log "decode, run $run"
    CRITERION_HOME="$OUT/criterion-decode-$run" cargo bench -p salespulse-events --bench decode \
      -- "${CRITERION[@]}" >"$OUT/decode-$run.log" 2>&1
    "${REPORT[@]}" criterion "$OUT/criterion-decode-$run" decode decode >>"$RESULTS"
  done
fi

# --- /metrics rendering and scrapes, 2,000 reps (criterion) ----------------------------------
if part render; then
  for run in $(seq "$RUNS"); do
    log "render, run $run"
    CRITERION_HOME="$OUT/criterion-render-$run" cargo bench -p salespulse-exporter --bench render \
      -- "${CRITERION[@]}" >"$OUT/render-$run.log" 2>&1
    "${REPORT[@]}" criterion "$OUT/criterion-render-$run" exposition render >>"$RESULTS"
    # "all_periods: 2000 reps, 32207017 bytes, 2071515 gzipped"
    sed -n 's/^\([a-z_]*\): \([0-9]*\) reps, \([0-9]*\) bytes, \([0-9]*\) gzipped$/render.\1.reps \2\nrender.\1.bytes \3\nrender.\1.gzip_bytes \4/p' \
      "$OUT/render-$run.log" >>"$RESULTS"
  done
fi

# --- replay end to end -----------------------------------------------------------------------
if part replay; then
  for events in $REPLAY_SIZES; do
    file="$OUT/events-$events.jsonl"
    log "replay: simulating $events events"
    "$BIN" simulate --out "$file" --events "$events" --seed 7
    as_of="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    record "replay.$events.bytes" "$(stat -c %s "$file")"
    for run in $(seq "$RUNS"); do
      for mode in two_pass as_of; do
        log "replay $events, $mode, run $run"
        args=(replay --events "$file")
        [ "$mode" = as_of ] && args+=(--as-of "$as_of")
        /usr/bin/time -f "%e %M %U %S" -o "$OUT/time.txt" "$BIN" "${args[@]}" >/dev/null
        read -r seconds rss_kb user system <"$OUT/time.txt"
        record "replay.$events.$mode.seconds" "$seconds"
        record "replay.$events.$mode.rss_kb" "$rss_kb"
        record "replay.$events.$mode.cpu_seconds" "$(awk "BEGIN { print $user + $system }")"
      done
    done
    rm -f "$file"
  done
fi

# --- Kafka: start the broker once --------------------------------------------------------------
BROKERS=""
if part kafka || part freshness; then
  for attempt in 1 2 3 4 5; do
    if started="$(bash deploy/local/kafka.sh start 2>"$OUT/kafka-start.log")"; then
      BROKERS="$(echo "$started" | grep -Eo '127\.0\.0\.1:[0-9]+' | tail -1)"
      break
    fi
    log "kafka.sh start failed (attempt $attempt; the port may be in use by CI), retrying in 30 s"
    sleep 30
  done
  [ -n "$BROKERS" ] || { log "no Kafka broker"; exit 1; }
  BROKER_PID="$(cat deploy/local/.work/kafka.pid)"
  log "Kafka at $BROKERS (pid $BROKER_PID)"
fi

# A service config: its own topics, group, state directory and HTTP port.
write_config() { # FILE PREFIX GROUP STATE_DIR PORT
  cat >"$1" <<EOF
[kafka]
brokers = "$BROKERS"
group_id = "$3"
topics = ["$2.activities", "$2.leads", "$2.deals", "$2.finance", "$2.roster"]
deadletter_topic = "$2.deadletter"

[http]
listen = "127.0.0.1:$5"

[state]
dir = "$4"
EOF
}

# --- run against the broker, side by side with the consume-only loop -------------------------
if part kafka; then
  prefix="bench-$STAMP-throughput"
  log "producing $KAFKA_EVENTS events to $prefix.*"
  produced="$("$TOOL" produce --brokers "$BROKERS" --prefix "$prefix" --events "$KAFKA_EVENTS")"
  record_pairs kafka.produce "$produced"
  record kafka.events "$KAFKA_EVENTS"
  for run in $(seq "$RUNS"); do
    log "consume-only, run $run"
    broker_before="$(cpu_seconds "$BROKER_PID")"
    consumed="$(/usr/bin/time -f "%U %S" -o "$OUT/time.txt" "$TOOL" consume-only \
      --brokers "$BROKERS" --prefix "$prefix" --group "$prefix-consume-only-$run" \
      --events "$KAFKA_EVENTS")"
    broker_after="$(cpu_seconds "$BROKER_PID")"
    read -r user system <"$OUT/time.txt"
    record_pairs kafka.consume_only "$consumed"
    record kafka.consume_only.cpu_seconds "$(awk "BEGIN { print $user + $system }")"
    record kafka.consume_only.broker_cpu_seconds "$(awk "BEGIN { print $broker_after - $broker_before }")"

    log "salespulse run, run $run"
    port="$(free_port)"
    config="$OUT/run-$run.toml"
    write_config "$config" "$prefix" "$prefix-run-$run" "$OUT/state-run-$run" "$port"
    broker_before="$(cpu_seconds "$BROKER_PID")"
    "$BIN" run --config "$config" 2>"$OUT/run-$run.log" &
    pid=$!
    PIDS=("$pid")
    counted="$("$TOOL" wait-counted --http "127.0.0.1:$port" --events "$KAFKA_EVENTS")"
    record kafka.run.cpu_seconds "$(cpu_seconds "$pid")"
    record kafka.run.broker_cpu_seconds "$(awk "BEGIN { print $(cpu_seconds "$BROKER_PID") - $broker_before }")"
    record_pairs kafka.run "$counted"
    record kafka.run.rss_kb "$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status")"
    read -r scrape_seconds scrape_bytes < <(curl -s -o /dev/null -w '%{time_total} %{size_download}\n' "http://127.0.0.1:$port/metrics")
    record kafka.run.scrape_seconds "$scrape_seconds"
    record kafka.run.scrape_bytes "$scrape_bytes"
    stop_services
    rm -rf "$OUT/state-run-$run"
  done
fi

# --- freshness at a steady rate ----------------------------------------------------------------
if part freshness; then
  for run in $(seq "$RUNS"); do
    prefix="bench-$STAMP-freshness-$run"
    "$TOOL" create-topics --brokers "$BROKERS" --prefix "$prefix"
    port="$(free_port)"
    config="$OUT/freshness-$run.toml"
    write_config "$config" "$prefix" "$prefix" "$OUT/state-freshness-$run" "$port"
    "$BIN" run --config "$config" 2>"$OUT/freshness-$run.log" &
    PIDS=("$!")
    for _ in $(seq 300); do
      [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] && break
      sleep 0.2
    done
    log "freshness at $FRESH_RATE events/s for $FRESH_SECONDS s, run $run"
    fresh="$("$TOOL" freshness --brokers "$BROKERS" --prefix "$prefix" --http "127.0.0.1:$port" \
      --rate "$FRESH_RATE" --seconds "$FRESH_SECONDS")"
    record_pairs freshness "$fresh"
    stop_services
    rm -rf "$OUT/state-freshness-$run"
  done
fi

# --- state at scale: RSS, snapshot, checkpoint write and restore ------------------------------
if part checkpoint; then
  for run in $(seq "$RUNS"); do
    log "checkpoint_capacity --teams $CHECKPOINT_TEAMS --events $CHECKPOINT_EVENTS, run $run"
    "$REPO/target/release/examples/checkpoint_capacity" --teams "$CHECKPOINT_TEAMS" \
      --events "$CHECKPOINT_EVENTS" --dir "$OUT/checkpoints-$run" >"$OUT/checkpoint-$run.log"
    "${REPORT[@]}" checkpoint "$OUT/checkpoint-$run.log" >>"$RESULTS"
    rm -rf "$OUT/checkpoints-$run"
  done
fi

echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$ENVFILE"
"${REPORT[@]}" section "$OUT" >"$OUT/section.md"
if [ "$WRITE" = 1 ]; then
  "${REPORT[@]}" write "$OUT/section.md" "$REPO/BENCHMARKS.md"
  log "BENCHMARKS.md updated"
fi
log "done: $OUT/section.md"
