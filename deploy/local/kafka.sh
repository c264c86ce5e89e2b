#!/usr/bin/env bash
# Runs a real single-node Apache Kafka 4.x broker (KRaft, broker+controller in one JVM) on
# 127.0.0.1 for integration tests. The jars come from Maven Central via deploy/local/kafka/pom.xml
# (the only registry these machines reach), so it works on a fresh machine with Java 17 + Maven.
#
#   deploy/local/kafka.sh start               fetch jars if needed, format storage, start, wait until ready
#   deploy/local/kafka.sh stop [--clean]      stop it; --clean also deletes the data dir
#   deploy/local/kafka.sh status              exit 0 and print the bootstrap address if running
#   deploy/local/kafka.sh topics-create NAME...   create topics (partitions = num.partitions, RF 1)
#
# Env: KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (19093), KAFKA_HEAP_OPTS (-Xms256m -Xmx512m),
#      KAFKA_START_TIMEOUT seconds (90).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/processes.sh
source "$HERE/processes.sh"
POM="$HERE/kafka/pom.xml"
WORK="$HERE/.work" # git-ignored
LIBS="$WORK/libs"
DATA="$WORK/data"
CONFIG="$WORK/server.properties"
LOG4J_CONFIG="$WORK/log4j2.properties"
TOOLS_LOG4J_CONFIG="$WORK/tools-log4j2.properties"
LOG="$WORK/kafka.log"
PIDFILE="$WORK/kafka.pid"

HOST=127.0.0.1
PORT="${KAFKA_PORT:-19092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
BOOTSTRAP="$HOST:$PORT"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"

# The pid from the pid file, if that process is alive and is our broker.
running_pid() { pid_from_file "$PIDFILE" 'kafka\.Kafka'; }

# Fetches the broker jars once. The stamp holds the pom's hash, so editing the pom (e.g. a
# version bump) re-fetches, and an interrupted download never counts as done.
ensure_jars() {
  local want
  want="$(sha256sum "$POM" | cut -d' ' -f1)"
  if [ -f "$LIBS/.pom.sha256" ] && [ "$(cat "$LIBS/.pom.sha256")" = "$want" ]; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found (needed once, to fetch Kafka from Maven Central)"
  log "fetching Kafka jars with Maven (once per pom.xml change)..."
  local tmp="$WORK/libs.tmp"
  rm -rf "$tmp"
  mkdir -p "$WORK"
  if ! mvn -B -q -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" >"$WORK/maven.log" 2>&1; then
    cat "$WORK/maven.log" >&2
    die "maven failed to fetch the Kafka jars"
  fi
  echo "$want" >"$tmp/.pom.sha256"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
}

# For the CLI tool classes: their log lines go to stderr so stdout stays the tool's answer.
kafka_java() { java -cp "$LIBS/*" -Dlog4j2.configurationFile="$TOOLS_LOG4J_CONFIG" "$@"; }

write_config() {
  # Static voter list (not --standalone's dynamic quorum): the voters then come from this file on
  # every start, so changing KAFKA_CONTROLLER_PORT later needs no reformat.
  cat >"$CONFIG" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$DATA
num.partitions=3
auto.create.topics.enable=false
delete.topic.enable=true
# One node: every internal topic must live with a single replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1
# Tests want consumer groups to form at once, not after the default 3 s.
group.initial.rebalance.delay.ms=0
EOF
  # Console only: nohup sends it to kafka.log. Kafka's own per-component files are noise here.
  cat >"$LOG4J_CONFIG" <<'EOF'
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka-request.name = kafka.request.logger
logger.kafka-request.level = WARN
logger.state-change.name = state.change.logger
logger.state-change.level = WARN
EOF
  cat >"$TOOLS_LOG4J_CONFIG" <<'EOF'
status = warn
appender.console.type = Console
appender.console.name = STDERR
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
EOF
}

format_storage() {
  # meta.properties is what the formatter writes; its presence means already formatted.
  [ -f "$DATA/meta.properties" ] && return 0
  mkdir -p "$DATA"
  local cluster_id
  cluster_id="$(kafka_java kafka.tools.StorageTool random-uuid)"
  kafka_java kafka.tools.StorageTool format --config "$CONFIG" --cluster-id "$cluster_id" \
    >>"$WORK/format.log" 2>&1 || {
    cat "$WORK/format.log" >&2
    die "formatting KRaft storage failed"
  }
}

# Ready = a real metadata request succeeds (an admin client lists topics), not just an open port.
# Bounded, as the admin client would otherwise retry for up to a minute.
broker_ready() {
  timeout 20 java -cp "$LIBS/*" -Dlog4j2.configurationFile="$TOOLS_LOG4J_CONFIG" \
    org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --list \
    >/dev/null 2>&1
}

cmd_start() {
  local pid
  if pid="$(running_pid)"; then
    if port_open "$HOST" "$PORT"; then
      log "already running (pid $pid)"
      echo "$BOOTSTRAP"
      return 0
    fi
    die "broker pid $pid is up but not on $BOOTSTRAP (other KAFKA_PORT, or still starting?); run '$0 stop' first"
  fi
  rm -f "$PIDFILE"
  local p
  for p in "$PORT" "$CONTROLLER_PORT"; do
    if port_open "$HOST" "$p"; then
      die "port $HOST:$p is taken by another process (set KAFKA_PORT / KAFKA_CONTROLLER_PORT)"
    fi
  done
  command -v java >/dev/null || die "java not found (Kafka 4.x needs Java 17+)"

  ensure_jars
  write_config
  format_storage

  # shellcheck disable=SC2086 # HEAP_OPTS is a list of JVM flags
  nohup java $HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$LOG4J_CONFIG" -cp "$LIBS/*" \
    kafka.Kafka "$CONFIG" >"$LOG" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PIDFILE"

  local deadline=$((SECONDS + START_TIMEOUT))
  # Cheap check first (log line + port), then one admin round trip to be sure.
  until grep -q 'Kafka Server started' "$LOG" 2>/dev/null && port_open "$HOST" "$PORT" && broker_ready; do
    if ! alive "$pid"; then
      tail -n 40 "$LOG" >&2
      rm -f "$PIDFILE"
      die "broker exited during startup (log: $LOG)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 40 "$LOG" >&2
      cmd_stop >/dev/null 2>&1 || true
      die "broker not ready after ${START_TIMEOUT}s (log: $LOG)"
    fi
    sleep 0.5
  done
  log "started (pid $pid, log $LOG)"
  echo "$BOOTSTRAP"
}

cmd_stop() {
  case "${1:-}" in
    "" | --clean) ;;
    *) die "usage: $0 stop [--clean]" ;;
  esac
  local pid
  if pid="$(running_pid)"; then
    # Controlled shutdown normally takes a few seconds; don't wait forever.
    stop_process "$pid" 20
  else
    log "not running"
  fi
  rm -f "$PIDFILE"
  if [ "${1:-}" = "--clean" ]; then
    rm -rf "$DATA"
    log "removed $DATA"
  fi
}

cmd_status() {
  local pid
  if pid="$(running_pid)" && port_open "$HOST" "$PORT"; then
    echo "$BOOTSTRAP"
    return 0
  fi
  if pid="$(running_pid)"; then
    log "broker pid $pid is up but not listening on $BOOTSTRAP"
  else
    log "not running"
  fi
  return 1
}

cmd_topics_create() {
  [ $# -gt 0 ] || die "usage: $0 topics-create NAME..."
  running_pid >/dev/null || die "not running; run '$0 start' first"
  local t
  for t in "$@"; do
    kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
      --create --if-not-exists --topic "$t" --replication-factor 1
  done
}

case "${1:-}" in
  start) cmd_start ;;
  stop)
    shift
    cmd_stop "$@"
    ;;
  status) cmd_status ;;
  topics-create)
    shift
    cmd_topics_create "$@"
    ;;
  *)
    echo "usage: $0 start | stop [--clean] | status | topics-create NAME..." >&2
    exit 2
    ;;
esac
