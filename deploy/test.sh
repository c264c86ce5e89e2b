#!/usr/bin/env bash
# Runs every salespulse check and test on a fresh machine: installs what the tests need
# (deploy/local/tools.sh: Prometheus, Alertmanager, promtool, a Python test environment with
# moto, helm), starts a real Apache Kafka broker and a local S3 server (and stops them again if
# it started them), then formatting,
# lints, unit, property and end-to-end tests, a bounded fuzzing run (AFL++, installed by
# crates/fuzz/run.sh), and the deploy-kit tests (rules, dashboards, docs,
# Helm chart, and the live stack with Prometheus and Alertmanager).
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/local/tools.sh
TOOLS="${SALESPULSE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/salespulse-tools}"

# Stops, on exit, what this script started (a broker or S3 server already running is left alone).
STARTED=()
cleanup() {
  for service in "${STARTED[@]}"; do
    bash "deploy/local/$service.sh" stop || true
  done
}
trap cleanup EXIT

if bash deploy/local/kafka.sh status >/dev/null 2>&1; then
  echo "test.sh: using the Kafka broker that is already running" >&2
else
  STARTED+=(kafka)
fi
SALESPULSE_TEST_BROKERS=$(bash deploy/local/kafka.sh start)
export SALESPULSE_TEST_BROKERS
# Its SASL_SSL listener (SCRAM-SHA-512, a CA of its own), for tests/kafka_security.rs:
# SALESPULSE_TEST_SASL_BROKERS, _CA, _USER and _PASSWORD.
sasl_info=$(bash deploy/local/kafka.sh sasl-info)
while IFS='=' read -r key value; do
  export "SALESPULSE_TEST_SASL_${key^^}=$value"
done <<<"$sasl_info"

# A local S3-compatible server (moto) for the checkpoint store on object storage.
if bash deploy/local/s3.sh status >/dev/null 2>&1; then
  echo "test.sh: using the S3 server that is already running" >&2
else
  STARTED+=(s3)
fi
SALESPULSE_TEST_S3_ENDPOINT=$(bash deploy/local/s3.sh start)
export SALESPULSE_TEST_S3_ENDPOINT

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The end-to-end tests in tests/ run the real binary, which `cargo test` alone does not build.
cargo build --workspace --locked
cargo test --workspace --locked
# Coverage-guided fuzzing (AFL++) of decode, validate, apply, snapshot and render from the
# committed corpus, for a bounded time; fails on any crash (crates/fuzz/run.sh).
bash crates/fuzz/run.sh 90
"$TOOLS/venv/bin/pytest" tests/deploy -q -p no:cacheprovider
