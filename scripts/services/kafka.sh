#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft, combined broker + controller) on 127.0.0.1,
# run from the broker's jars on Maven Central, without Docker.
#
#   scripts/services/kafka.sh fetch    download the jars once into .cache/kafka/<version>/libs
#   scripts/services/kafka.sh start    format a store in .data/kafka-<port> (first time) and start; waits until ready
#   scripts/services/kafka.sh stop     stop the broker by its pid (SIGTERM, then SIGKILL after 20 s)
#   scripts/services/kafka.sh status   exit 0 when running
#
# Environment: KAFKA_VERSION (4.1.1), KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (port + 1),
# KAFKA_DATA_DIR (.data/kafka-<port>), KAFKA_HEAP (512m), KAFKA_FRESH=1 wipes the store before start.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
version="${KAFKA_VERSION:-4.1.1}"
port="${KAFKA_PORT:-19092}"
cport="${KAFKA_CONTROLLER_PORT:-$((port + 1))}"
cache="$root/.cache/kafka/$version"
libs="$cache/libs"
data="${KAFKA_DATA_DIR:-$root/.data/kafka-$port}"
pidfile="$data/kafka.pid"

fetch() {
  if [ -f "$libs/.complete" ]; then return 0; fi
  command -v mvn >/dev/null || { echo "kafka.sh: mvn is needed to fetch the broker (apt-get install maven)" >&2; exit 1; }
  command -v java >/dev/null || { echo "kafka.sh: Java 17+ is needed to run the broker" >&2; exit 1; }
  rm -rf "$libs"
  mkdir -p "$cache"
  mvn -q -B -f "$root/scripts/services/kafka-pom.xml" -Dkafka.version="$version" \
    dependency:copy-dependencies -DoutputDirectory="$libs" -DincludeScope=runtime
  touch "$libs/.complete"
}

running() {
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

write_config() {
  mkdir -p "$data/logs"
  cat > "$data/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data/logs
num.partitions=3
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.cleaner.backoff.ms=1000
PROPS
  cat > "$data/log4j2.properties" <<PROPS
rootLogger.level=INFO
rootLogger.appenderRef.file.ref=FILE
appender.file.type=File
appender.file.name=FILE
appender.file.fileName=$data/server.log
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
PROPS
}

java_run() {
  java -Xmx"${KAFKA_HEAP:-512m}" -Xms128m -XX:+UseG1GC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$data/log4j2.properties" -cp "$libs/*" "$@"
}

start() {
  fetch
  if running; then echo "kafka already running on 127.0.0.1:$port (pid $(cat "$pidfile"))"; return 0; fi
  if [ "${KAFKA_FRESH:-0}" = 1 ]; then rm -rf "$data"; fi
  write_config
  if [ ! -f "$data/logs/meta.properties" ]; then
    cluster_id="$(java_run kafka.tools.StorageTool random-uuid | tail -n 1)"
    java_run kafka.tools.StorageTool format -t "$cluster_id" -c "$data/server.properties" --ignore-formatted >/dev/null
  fi
  : > "$data/server.log"
  nohup java -Xmx"${KAFKA_HEAP:-512m}" -Xms128m -XX:+UseG1GC \
    -Dlog4j2.configurationFile="$data/log4j2.properties" -cp "$libs/*" \
    kafka.Kafka "$data/server.properties" > "$data/stdout.log" 2>&1 &
  echo $! > "$pidfile"
  for _ in $(seq 1 240); do
    if grep -q "Kafka Server started" "$data/server.log" 2>/dev/null; then
      echo "kafka $version ready on 127.0.0.1:$port (pid $(cat "$pidfile"), data $data)"
      return 0
    fi
    if ! running; then
      echo "kafka.sh: the broker exited during start; last lines of its logs:" >&2
      tail -n 30 "$data/stdout.log" "$data/server.log" >&2 || true
      exit 1
    fi
    sleep 0.25
  done
  echo "kafka.sh: the broker did not become ready within 60 s (see $data/server.log)" >&2
  exit 1
}

stop() {
  if ! running; then rm -f "$pidfile"; echo "kafka not running"; return 0; fi
  pid="$(cat "$pidfile")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 80); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; echo "kafka stopped"; return 0; }
    sleep 0.25
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
  echo "kafka killed after 20 s"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) running ;;
  *) echo "usage: $0 fetch|start|stop|status" >&2; exit 2 ;;
esac
