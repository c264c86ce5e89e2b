#!/usr/bin/env bash
# Installs the external tools the tests use, if missing: promtool (Debian's prometheus package).
# Idempotent: does nothing when everything is there.
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "tools.sh: installing promtool (Debian package prometheus)" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
# The package starts a Prometheus server as a service; the tests start their own.
$SUDO systemctl stop prometheus >/dev/null 2>&1 || true
command -v promtool >/dev/null
