#!/usr/bin/env bash
# Copies the Prometheus rule files into the Helm chart (deploy/prometheus/rules/*.yml ->
# deploy/helm/salespulse/files/rules/), since a chart cannot read files outside itself. Run it
# after changing a rule; tests/deploy/test_deploy_kit.py fails while the copies differ.
set -euo pipefail
cd "$(dirname "$0")/.."

source_dir=prometheus/rules
target_dir=helm/salespulse/files/rules

mkdir -p "$target_dir"
# Rule files removed from the source go from the chart too.
find "$target_dir" -maxdepth 1 -name '*.yml' -type f -delete
cp -p "$source_dir"/*.yml "$target_dir"/
echo "sync-rules.sh: copied $(find "$target_dir" -maxdepth 1 -name '*.yml' | wc -l) rule files to deploy/$target_dir" >&2
