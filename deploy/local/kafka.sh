#!/usr/bin/env bash
# Runs a real single-node Apache Kafka 4.x broker (KRaft, broker+controller in one JVM) on
# 127.0.0.1 for integration tests. The jars come from Maven Central via deploy/local/kafka/pom.xml
# (the only registry these machines reach), so it works on a fresh machine with Java 17 + Maven.
# Two client listeners: PLAINTEXT, and SASL_SSL (SCRAM-SHA-512 over TLS, as managed clusters
# require) with a certificate from a CA made here with openssl, once per work dir.
#
#   deploy/local/kafka.sh start               fetch jars if needed, format storage, start, wait until ready
#   deploy/local/kafka.sh stop [--clean]      stop it; --clean also deletes the data dir and the CA
#   deploy/local/kafka.sh status              exit 0 and print the bootstrap address if running
#   deploy/local/kafka.sh sasl-info           print the SASL_SSL listener's brokers=, ca=, user=,
#                                             password= (one per line) if running
#   deploy/local/kafka.sh topics-create NAME...   create topics (partitions = num.partitions, RF 1)
#
# Kafka's own CLI tools reach the SASL_SSL listener with --command-config .work/tls/client.properties.
#
# Env: KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (19093), KAFKA_SASL_PORT (19094),
#      KAFKA_HEAP_OPTS (-Xms256m -Xmx512m), KAFKA_START_TIMEOUT seconds (90).
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
# The CA, the broker's key store, the SCRAM user's password and a Java client configuration.
TLS="$WORK/tls"

HOST=127.0.0.1
PORT="${KAFKA_PORT:-19092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
SASL_PORT="${KAFKA_SASL_PORT:-19094}"
BOOTSTRAP="$HOST:$PORT"
SASL_BOOTSTRAP="$HOST:$SASL_PORT"
SASL_USER=salespulse
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

# Makes, once per work dir, a CA, a broker key and certificate it signs (for 127.0.0.1 and
# localhost, so clients verify the host name as they would a managed cluster's), the broker's
# PKCS12 key store, and random passwords for the store and the SCRAM user. Written aside and
# moved in whole, so an interrupted run never leaves half of it.
ensure_tls() {
  [ -f "$TLS/client.properties" ] && return 0
  command -v openssl >/dev/null || die "openssl not found (needed to make the test CA)"
  local tmp="$WORK/tls.tmp"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  if ! (
    cd "$tmp" &&
      openssl rand -hex 16 >keystore-password &&
      openssl rand -hex 16 >sasl-password &&
      openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=salespulse test CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        -keyout ca.key -out ca.crt &&
      openssl req -newkey rsa:2048 -nodes -subj "/CN=$HOST" -keyout broker.key -out broker.csr &&
      printf 'subjectAltName=IP:%s,DNS:localhost\nextendedKeyUsage=serverAuth\n' "$HOST" >broker.ext &&
      openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
        -extfile broker.ext -out broker.crt &&
      openssl pkcs12 -export -name broker -in broker.crt -inkey broker.key -certfile ca.crt \
        -passout file:keystore-password -out broker.p12 &&
      rm broker.csr broker.ext ca.srl
  ) >"$WORK/tls.log" 2>&1; then
    cat "$WORK/tls.log" >&2
    die "making the test CA and the broker certificate failed"
  fi
  # Kafka's tools read this; it also shows a person how to reach the listener by hand.
  cat >"$tmp/client.properties" <<EOF
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$SASL_USER" password="$(cat "$tmp/sasl-password")";
ssl.truststore.type=PEM
ssl.truststore.location=$TLS/ca.crt
EOF
  chmod 600 "$tmp"/*
  rm -rf "$TLS"
  mv "$tmp" "$TLS"
}

write_config() {
  # Static voter list (not --standalone's dynamic quorum): the voters then come from this file on
  # every start, so changing KAFKA_CONTROLLER_PORT later needs no reformat.
  cat >"$CONFIG" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT,SASL_SSL://$HOST:$SASL_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT,SASL_SSL://$HOST:$SASL_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
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
# The SASL_SSL listener. No authorizer: an authenticated user may do anything, transactions too.
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=$TLS/broker.p12
listener.name.sasl_ssl.ssl.keystore.password=$(cat "$TLS/keystore-password")
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

# The same through the SASL_SSL listener: TLS verified against the CA, the SCRAM user known.
sasl_ready() {
  timeout 20 java -cp "$LIBS/*" -Dlog4j2.configurationFile="$TOOLS_LOG4J_CONFIG" \
    org.apache.kafka.tools.TopicCommand --bootstrap-server "$SASL_BOOTSTRAP" \
    --command-config "$TLS/client.properties" --list >/dev/null 2>&1
}

# Creates the SCRAM user, or sets its password again (an upsert), over PLAINTEXT. Every start
# does it, so a data dir formatted before the SASL_SSL listener existed gets the user too. The
# password goes in a file, not on the command line other users' `ps` shows.
add_scram_user() {
  local request="$WORK/scram-user.properties"
  (
    umask 077
    # The file form of --add-config 'SCRAM-SHA-512=[password=...]': the tool strips the
    # brackets from the command line only.
    echo "SCRAM-SHA-512=password=$(cat "$TLS/sasl-password")" >"$request"
  )
  local status=0
  kafka_java org.apache.kafka.tools.ConfigCommand --bootstrap-server "$BOOTSTRAP" --alter \
    --entity-type users --entity-name "$SASL_USER" --add-config-file "$request" >/dev/null ||
    status=$?
  rm -f "$request"
  return "$status"
}

cmd_start() {
  local pid
  if pid="$(running_pid)"; then
    if port_open "$HOST" "$PORT"; then
      port_open "$HOST" "$SASL_PORT" ||
        die "broker pid $pid has no SASL_SSL listener on $SASL_BOOTSTRAP (started by an older kafka.sh, or another KAFKA_SASL_PORT); run '$0 stop' first"
      log "already running (pid $pid)"
      echo "$BOOTSTRAP"
      return 0
    fi
    die "broker pid $pid is up but not on $BOOTSTRAP (other KAFKA_PORT, or still starting?); run '$0 stop' first"
  fi
  rm -f "$PIDFILE"
  local p
  for p in "$PORT" "$CONTROLLER_PORT" "$SASL_PORT"; do
    if port_open "$HOST" "$p"; then
      die "port $HOST:$p is taken by another process (set KAFKA_PORT / KAFKA_CONTROLLER_PORT / KAFKA_SASL_PORT)"
    fi
  done
  command -v java >/dev/null || die "java not found (Kafka 4.x needs Java 17+)"

  ensure_jars
  ensure_tls
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
  if ! add_scram_user; then
    cmd_stop >/dev/null 2>&1 || true
    die "creating the SCRAM user $SASL_USER failed"
  fi
  # The new credential reaches the SASL listener through the metadata log: wait until it works.
  until sasl_ready; do
    if [ "$SECONDS" -ge "$deadline" ] || ! alive "$pid"; then
      tail -n 40 "$LOG" >&2
      cmd_stop >/dev/null 2>&1 || true
      die "the SASL_SSL listener on $SASL_BOOTSTRAP does not accept $SASL_USER after ${START_TIMEOUT}s (log: $LOG)"
    fi
    sleep 0.5
  done
  log "started (pid $pid, log $LOG; SASL_SSL on $SASL_BOOTSTRAP, see '$0 sasl-info')"
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
    rm -rf "$DATA" "$TLS"
    log "removed $DATA and $TLS"
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

# What a client of the SASL_SSL listener needs, as NAME=value lines (values are printed raw).
cmd_sasl_info() {
  if ! running_pid >/dev/null || ! port_open "$HOST" "$SASL_PORT"; then
    die "no SASL_SSL listener on $SASL_BOOTSTRAP; run '$0 start' first"
  fi
  echo "brokers=$SASL_BOOTSTRAP"
  echo "ca=$TLS/ca.crt"
  echo "user=$SASL_USER"
  echo "password=$(cat "$TLS/sasl-password")"
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
  sasl-info) cmd_sasl_info ;;
  topics-create)
    shift
    cmd_topics_create "$@"
    ;;
  *)
    echo "usage: $0 start | stop [--clean] | status | sasl-info | topics-create NAME..." >&2
    exit 2
    ;;
esac
