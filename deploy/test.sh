#!/usr/bin/env bash
# Runs every salespulse check and test on a fresh machine: installs what the tests need
# (promtool), then formatting, lints, unit, property and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/local/tools.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
