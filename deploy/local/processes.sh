# shellcheck shell=bash
# Process management shared by the scripts here that run test servers in the background
# (kafka.sh, s3.sh, stack.sh). Sourced, not run: `source "$HERE/processes.sh"`. It only defines
# functions, sets no shell options and works under `set -euo pipefail`.

# Messages go to stderr, prefixed with the name of the script that was run (e.g. "s3.sh: ...").
log() { echo "${0##*/}: $*" >&2; }
die() {
  log "$*"
  exit 1
}

# alive PID: the process exists and is not a zombie (a server this shell started and then killed,
# e.g. on a start timeout, stays a zombie child of it until the shell exits).
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# port_open HOST PORT: something accepts TCP connections there.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# free_port PYTHON: prints a port of 127.0.0.1 the kernel just handed out and released, free
# unless another process grabs it first. PYTHON is the Python interpreter to ask.
free_port() {
  "$1" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# pid_from_file FILE PATTERN: prints the pid FILE holds if that process is alive and its command
# line matches the grep PATTERN (which guards against the pid having been reused); fails otherwise.
pid_from_file() {
  local file="$1" pattern="$2" pid
  [ -f "$file" ] || return 1
  pid="$(cat "$file")"
  [ -n "$pid" ] && alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$pattern" || return 1
  echo "$pid"
}

# wait_gone PID SECONDS: waits up to SECONDS for the process to be gone; fails if it is not.
wait_gone() {
  local pid="$1" polls=$(($2 * 5))
  while [ "$polls" -gt 0 ] && alive "$pid"; do
    sleep 0.2
    polls=$((polls - 1))
  done
  ! alive "$pid"
}

# stop_process PID GRACE [NAME]: SIGTERM, up to GRACE seconds for the process to exit, then
# SIGKILL and up to 5 s more. Logs "stopped NAME (pid PID)", or "stopped (pid PID)" without NAME.
stop_process() {
  local pid="$1" grace="$2" name="${3:-}"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" "$grace"; then
    log "${name:+$name (}pid $pid${name:+)} still alive after ${grace}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 5 || true
  fi
  log "stopped ${name:+$name }(pid $pid)"
}
