#!/usr/bin/env bash
# Runs every salespulse check and test on a fresh machine: installs what the tests need
# (deploy/local/tools.sh: Prometheus, Alertmanager, promtool, a Python test environment, helm),
# starts a real Apache Kafka broker (and stops it again if it started it), then formatting,
# lints, unit, property and end-to-end tests, and the deploy-kit tests (rules, dashboards, docs,
# Helm chart, and the live stack with Prometheus and Alertmanager).
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/local/tools.sh
TOOLS="${SALESPULSE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/salespulse-tools}"

if bash deploy/local/kafka.sh status >/dev/null 2>&1; then
  echo "test.sh: using the Kafka broker that is already running" >&2
else
  trap 'bash deploy/local/kafka.sh stop' EXIT
fi
SALESPULSE_TEST_BROKERS=$(bash deploy/local/kafka.sh start)
export SALESPULSE_TEST_BROKERS

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The end-to-end tests in tests/ run the real binary, which `cargo test` alone does not build.
cargo build --workspace --locked
cargo test --workspace --locked
"$TOOLS/venv/bin/pytest" tests/deploy -q -p no:cacheprovider
