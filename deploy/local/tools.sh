#!/usr/bin/env bash
# Installs the external tools the tests use, if missing, and prints nothing on stdout:
#   - promtool, Prometheus and Alertmanager (Debian's prometheus and prometheus-alertmanager);
#   - a Python virtual environment with pytest, PyYAML and jsonschema for the deploy-kit tests,
#     and moto[server], the local S3-compatible server of deploy/local/s3.sh ($TOOLS/venv, from
#     PyPI);
#   - helm, built from its Go module ($TOOLS/bin/helm), when a Go toolchain is present.
# $TOOLS is $SALESPULSE_TOOLS_DIR, by default ~/.cache/salespulse-tools, outside the clone so
# that later runs on the same machine reuse it. Idempotent: does nothing for what is there.
set -euo pipefail
cd "$(dirname "$0")/../.."

TOOLS="${SALESPULSE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/salespulse-tools}"
HELM_VERSION="v3.19.0"

log() { echo "tools.sh: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1 ||
  ! command -v prometheus-alertmanager >/dev/null 2>&1; then
  log "installing Prometheus and Alertmanager (Debian packages prometheus, prometheus-alertmanager)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    prometheus prometheus-alertmanager >/dev/null
  # The packages start servers as services where an init system runs; the tests start their own.
  $SUDO systemctl stop prometheus prometheus-alertmanager >/dev/null 2>&1 || true
fi
command -v promtool >/dev/null

if [ ! -x "$TOOLS/venv/bin/pytest" ] || [ ! -x "$TOOLS/venv/bin/moto_server" ] ||
  ! "$TOOLS/venv/bin/python" -c 'import yaml, jsonschema' 2>/dev/null; then
  log "creating the test virtual environment (pytest, PyYAML, jsonschema, moto[server] from PyPI)"
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check \
    'pytest>=8,<10' 'PyYAML>=6,<7' 'jsonschema>=4.20,<5' 'moto[server]>=5.1,<6' >&2
fi

if [ ! -x "$TOOLS/bin/helm" ]; then
  if command -v go >/dev/null 2>&1; then
    log "building helm $HELM_VERSION from its Go module"
    mkdir -p "$TOOLS/bin"
    GOBIN="$TOOLS/bin" GOFLAGS=-mod=mod CGO_ENABLED=0 \
      go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
  else
    log "no Go toolchain: helm lint and helm template are skipped"
  fi
fi
