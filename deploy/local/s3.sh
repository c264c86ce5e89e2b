#!/usr/bin/env bash
# Runs a local S3-compatible server for tests: moto in server mode (`moto_server`, from PyPI's
# moto[server], installed into the test virtual environment by deploy/local/tools.sh), on
# 127.0.0.1. Its buckets live in memory: stopping it forgets them. Any access key and secret work.
#
#   deploy/local/s3.sh start     start it if it is not running, wait until it answers, print its URL
#   deploy/local/s3.sh stop      stop it
#   deploy/local/s3.sh status    exit 0 and print its URL if it is running
#
# The URL (e.g. http://127.0.0.1:41234) is what AWS_ENDPOINT_URL and SALESPULSE_TEST_S3_ENDPOINT
# take; plain HTTP needs AWS_ALLOW_HTTP=true.
#
# Env: S3_PORT (default: a free port, chosen at start and kept until stop), S3_START_TIMEOUT
#      seconds (30), SALESPULSE_TOOLS_DIR (where tools.sh put the venv).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/processes.sh
source "$HERE/processes.sh"
WORK="$HERE/.work" # git-ignored
PIDFILE="$WORK/s3.pid"
PORTFILE="$WORK/s3.port"
LOG="$WORK/s3.log"

TOOLS="${SALESPULSE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/salespulse-tools}"
VENV="$TOOLS/venv"
MOTO="$VENV/bin/moto_server"

HOST=127.0.0.1
START_TIMEOUT="${S3_START_TIMEOUT:-30}"

# The pid from the pid file, if that process is alive and is our moto_server.
running_pid() { pid_from_file "$PIDFILE" 'moto_server'; }

running_port() {
  [ -f "$PORTFILE" ] && cat "$PORTFILE"
}

endpoint() { echo "http://$HOST:$1"; }

# Ready = an S3 request (ListBuckets) answers 200, not just an open port.
ready() {
  "$VENV/bin/python" - "$(endpoint "$1")" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "/", timeout=2) as response:
    sys.exit(0 if response.status == 200 else 1)
EOF
}

cmd_start() {
  local pid port
  if pid="$(running_pid)"; then
    port="$(running_port)" || die "pid $pid is running but $PORTFILE is missing; run '$0 stop' first"
    if [ -n "${S3_PORT:-}" ] && [ "$S3_PORT" != "$port" ]; then
      die "already running on port $port, not S3_PORT=$S3_PORT; run '$0 stop' first"
    fi
    if ready "$port"; then
      log "already running (pid $pid)"
      endpoint "$port"
      return 0
    fi
    die "pid $pid is up but does not answer on $(endpoint "$port"); run '$0 stop' first"
  fi
  rm -f "$PIDFILE" "$PORTFILE"
  [ -x "$MOTO" ] || die "$MOTO not found: run 'bash deploy/local/tools.sh' (installs moto[server])"
  if [ -n "${S3_PORT:-}" ]; then
    port="$S3_PORT"
    if port_open "$HOST" "$port"; then
      die "port $HOST:$port is taken by another process (set S3_PORT, or leave it unset for a free one)"
    fi
  else
    port="$(free_port "$VENV/bin/python")"
  fi

  mkdir -p "$WORK"
  nohup "$MOTO" -H "$HOST" -p "$port" >"$LOG" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PIDFILE"
  echo "$port" >"$PORTFILE"

  local deadline=$((SECONDS + START_TIMEOUT))
  until port_open "$HOST" "$port" && ready "$port"; do
    if ! alive "$pid"; then
      tail -n 20 "$LOG" >&2
      rm -f "$PIDFILE" "$PORTFILE"
      die "moto_server exited during startup (log: $LOG)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 20 "$LOG" >&2
      cmd_stop >/dev/null 2>&1 || true
      die "moto_server not ready after ${START_TIMEOUT}s (log: $LOG)"
    fi
    sleep 0.2
  done
  log "started (pid $pid, log $LOG)"
  endpoint "$port"
}

cmd_stop() {
  local pid
  if pid="$(running_pid)"; then
    stop_process "$pid" 10
  else
    log "not running"
  fi
  rm -f "$PIDFILE" "$PORTFILE"
}

cmd_status() {
  local pid port
  if pid="$(running_pid)" && port="$(running_port)" && ready "$port"; then
    endpoint "$port"
    return 0
  fi
  if pid="$(running_pid)"; then
    log "moto_server pid $pid is up but does not answer"
  else
    log "not running"
  fi
  return 1
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 start | stop | status" >&2
    exit 2
    ;;
esac
