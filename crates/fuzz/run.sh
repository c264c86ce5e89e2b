#!/usr/bin/env bash
# Fuzzes salespulse's input path (crates/fuzz: decode, validate, apply, snapshot, render) with
# AFL++ for a bounded time, starting from the committed corpus (crates/fuzz/corpus), on stable
# Rust: cargo-afl instruments the target with LLVM's SanitizerCoverage, so the search is guided by
# coverage. Fails if any input (a committed one or one the fuzzer made) crashes the target,
# printing the input and its panic with a stack trace.
#
#   bash crates/fuzz/run.sh [SECONDS]     # default 90
#
# Installs, if missing, cargo-afl (from crates.io) and builds AFL++ with it (needs a C compiler
# and make), both under $TOOLS (by default ~/.cache/salespulse-tools, as deploy/local/tools.sh),
# so later runs reuse them. The instrumented build goes to target/afl, the findings to
# target/afl/findings (replaced on every run).
set -euo pipefail
cd "$(dirname "$0")/../.."

FUZZ_SECONDS="${1:-90}"
TOOLS="${SALESPULSE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/salespulse-tools}"
# The same version as the `afl` crate in Cargo.lock: cargo-afl keeps AFL++ per version.
CARGO_AFL_VERSION="0.18.2"
TARGET_DIR="$PWD/target/afl"
FINDINGS="$TARGET_DIR/findings"
HARNESS="$TARGET_DIR/release/fuzz_ingest"

log() { echo "fuzz: $*" >&2; }

export PATH="$TOOLS/cargo-afl/bin:$PATH"
# cargo-afl keeps AFL++ (its sources, afl-fuzz and the runtime it links) under $XDG_DATA_HOME/afl.rs.
export XDG_DATA_HOME="$TOOLS/afl"

if ! cargo install --list --root "$TOOLS/cargo-afl" | grep -qx "cargo-afl v$CARGO_AFL_VERSION:"; then
  log "installing cargo-afl $CARGO_AFL_VERSION from crates.io"
  cargo install --quiet --locked --force --version "$CARGO_AFL_VERSION" --root "$TOOLS/cargo-afl" cargo-afl
fi
# AFL++ is built once per rustc version (the runtime must match the compiler): its directory is
# named after `rustc -vV` (release and short commit hash).
rustc_id="$(rustc -vV | awk '/^release:/ {release = $2} /^commit-hash:/ {hash = substr($2, 1, 7)} END {print release "-" hash}')"
if [ ! -f "$XDG_DATA_HOME/afl.rs/rustc-$rustc_id/afl.rs-$CARGO_AFL_VERSION/afl-llvm/afl-compiler-rt.o" ]; then
  log "building AFL++ for rustc $rustc_id"
  cargo afl config --build --force >&2
fi

log "building the instrumented target"
CARGO_TARGET_DIR="$TARGET_DIR" cargo afl build --quiet --release --locked \
  -p salespulse-fuzz --features afl --bin fuzz_ingest

# AFL++ skips a seed that crashes: replay them all first, so that one fails the run too.
while IFS= read -r -d '' seed; do
  if ! "$HARNESS" <"$seed" >/dev/null 2>&1; then
    log "CRASH on the committed corpus file $seed:"
    RUST_BACKTRACE=1 "$HARNESS" <"$seed" >&2 || true
    exit 1
  fi
done < <(find crates/fuzz/corpus -type f -print0)

log "fuzzing for ${FUZZ_SECONDS}s"
rm -rf "$FINDINGS"
# Containers: no CPU frequency governor to check, core dumps may go to a handler AFL++ cannot
# change, and another fuzzer may own a core; no UI on a CI log. A fixed time limit per input
# (-t, ms) rather than one calibrated on a machine that may be busy with other builds.
AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 AFL_NO_UI=1 \
  cargo afl fuzz -V "$FUZZ_SECONDS" -t 1000 -x crates/fuzz/events.dict -i crates/fuzz/corpus \
  -o "$FINDINGS" -- "$HARNESS" \
  >"$TARGET_DIR/afl-fuzz.log" 2>&1 || {
  tail -n 40 "$TARGET_DIR/afl-fuzz.log" >&2
  log "afl-fuzz failed (log: $TARGET_DIR/afl-fuzz.log)"
  exit 1
}

stats="$FINDINGS/default/fuzzer_stats"
fuzzer_stat() { awk -F' *: *' -v key="$1" '$1 == key {print $2}' "$stats"; }
log "$(fuzzer_stat execs_done) executions ($(fuzzer_stat execs_per_sec)/s), corpus $(fuzzer_stat corpus_count) inputs," \
  "$(fuzzer_stat bitmap_cvg) of the coverage map, $(fuzzer_stat saved_crashes) crashes, $(fuzzer_stat saved_hangs) hangs"

shopt -s nullglob
crashes=("$FINDINGS"/default/crashes/id:*)
hangs=("$FINDINGS"/default/hangs/id:*)
for hang in "${hangs[@]}"; do
  log "an input ran longer than AFL++'s time limit (not failed: it may be the machine's load): $hang"
done
if [ "${#crashes[@]}" -gt 0 ]; then
  # The first few in full (one bug often yields many crashing inputs), then the rest by name.
  for crash in "${crashes[@]:0:3}"; do
    log "CRASH: $crash"
    echo "--- input (first 4 KiB, control bytes shown as ^X and M-X):" >&2
    head -c 4096 "$crash" | cat -v >&2
    printf '\n--- panic:\n' >&2
    RUST_BACKTRACE=1 "$HARNESS" <"$crash" >&2 || true
  done
  for crash in "${crashes[@]:3}"; do
    log "CRASH: $crash"
  done
  log "${#crashes[@]} crashing inputs: minimize each (cargo afl tmin -i IN -o OUT -- $HARNESS)," \
    "add it to crates/fuzz/corpus/regressions/ and fix the panic"
  exit 1
fi
