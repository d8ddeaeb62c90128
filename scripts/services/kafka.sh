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
#
# KAFKA_SASL_SSL_PORT adds a SASL_SSL listener on 127.0.0.1 beside the plaintext one, for tests of secure
# clients. FOR TESTS ONLY: its CA and certificate are made here (openssl, into $data/tls; the CA is
# $data/tls/ca.pem) and its users and passwords come from the environment, with defaults that are no secret:
#   KAFKA_SASL_PLAIN_USER (test-plain) / KAFKA_SASL_PLAIN_PASSWORD (test-plain-password)   mechanism PLAIN
#   KAFKA_SASL_SCRAM_USER (test-scram) / KAFKA_SASL_SCRAM_PASSWORD (test-scram-password)   SCRAM-SHA-256 and -512
#   KAFKA_SASL_CONNECTION_STRING   the PLAIN password of user $ConnectionString, as a client of an Event Hubs
#                                  namespace sends it (the whole connection string); default below
# SCRAM users are written when the store is formatted: changing them needs KAFKA_FRESH=1.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
version="${KAFKA_VERSION:-4.1.1}"
port="${KAFKA_PORT:-19092}"
cport="${KAFKA_CONTROLLER_PORT:-$((port + 1))}"
cache="$root/.cache/kafka/$version"
libs="$cache/libs"
data="${KAFKA_DATA_DIR:-$root/.data/kafka-$port}"
pidfile="$data/kafka.pid"
sport="${KAFKA_SASL_SSL_PORT:-}"
tls="$data/tls"
plain_user="${KAFKA_SASL_PLAIN_USER:-test-plain}"
plain_password="${KAFKA_SASL_PLAIN_PASSWORD:-test-plain-password}"
scram_user="${KAFKA_SASL_SCRAM_USER:-test-scram}"
scram_password="${KAFKA_SASL_SCRAM_PASSWORD:-test-scram-password}"
eventhubs_cs="${KAFKA_SASL_CONNECTION_STRING:-Endpoint=sb://127.0.0.1:$sport/;SharedAccessKeyName=test;SharedAccessKey=test-shared-access-key}"

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

# A CA and a broker certificate for 127.0.0.1 and localhost, signed by it (EC P-256: a few ms each).
# Made once per store; KAFKA_FRESH=1 makes new ones.
make_certificates() {
  if [ -f "$tls/broker.pem" ] && [ -f "$tls/ca.pem" ]; then return 0; fi
  command -v openssl >/dev/null || { echo "kafka.sh: openssl is needed for the SASL_SSL listener" >&2; exit 1; }
  mkdir -p "$tls"
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 "${ec[@]}" -days 30 -subj "/CN=activity-tracking test CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
  openssl req "${ec[@]}" -subj "/CN=localhost" -keyout "$tls/broker.key" -out "$tls/broker.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > "$tls/broker.ext"
  openssl x509 -req -in "$tls/broker.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -days 30 \
    -extfile "$tls/broker.ext" -out "$tls/broker.crt" 2>/dev/null
  # Kafka's PEM key store: the private key (PKCS#8) and the certificate chain in one file.
  openssl pkcs8 -topk8 -nocrypt -in "$tls/broker.key" > "$tls/broker.pem"
  cat "$tls/broker.crt" "$tls/ca.pem" >> "$tls/broker.pem"
}

# A JAAS option value in double quotes: backslashes and quotes escaped (JAAS), then backslashes doubled
# again because a .properties file unescapes them once more.
jaas_quote() {
  local v="${1//\\/\\\\}"
  v="${v//\"/\\\"}"
  v="${v//\\/\\\\}"
  printf '"%s"' "$v"
}

# The SASL_SSL listener's settings: TLS with the PEM key store, PLAIN users in the listener's JAAS
# configuration, SCRAM users in the metadata log (added when the store is formatted, see start).
sasl_ssl_config() {
  cat <<PROPS
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$tls/broker.pem
listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$plain_user=$(jaas_quote "$plain_password") user_\$ConnectionString=$(jaas_quote "$eventhubs_cs");
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
PROPS
}

write_config() {
  mkdir -p "$data/logs"
  local listeners="PLAINTEXT://127.0.0.1:$port" protocols="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  if [ -n "$sport" ]; then
    listeners="$listeners,SASL_SSL://127.0.0.1:$sport"
    protocols="$protocols,SASL_SSL:SASL_SSL"
  fi
  cat > "$data/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=$listeners,CONTROLLER://127.0.0.1:$cport
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protocols
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
  if [ -n "$sport" ]; then sasl_ssl_config >> "$data/server.properties"; fi
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
  local scram=() scram_mark=""
  if [ -n "$sport" ]; then
    make_certificates
    for m in SCRAM-SHA-256 SCRAM-SHA-512; do
      scram+=(--add-scram "$m=[name=$scram_user,password=\"$scram_password\"]")
    done
    scram_mark="$(printf '%s\n' "${scram[@]}" | sha256sum | cut -c1-16)"
  fi
  write_config
  if [ ! -f "$data/logs/meta.properties" ]; then
    cluster_id="$(java_run kafka.tools.StorageTool random-uuid | tail -n 1)"
    java_run kafka.tools.StorageTool format -t "$cluster_id" -c "$data/server.properties" --ignore-formatted \
      "${scram[@]}" >/dev/null
    echo "$scram_mark" > "$data/scram-users"
  elif [ "$(cat "$data/scram-users" 2>/dev/null)" != "$scram_mark" ]; then
    echo "kafka.sh: the store in $data was formatted with other SCRAM users (or none); KAFKA_FRESH=1 formats it again" >&2
    exit 1
  fi
  : > "$data/server.log"
  nohup java -Xmx"${KAFKA_HEAP:-512m}" -Xms128m -XX:+UseG1GC \
    -Dlog4j2.configurationFile="$data/log4j2.properties" -cp "$libs/*" \
    kafka.Kafka "$data/server.properties" > "$data/stdout.log" 2>&1 &
  echo $! > "$pidfile"
  for _ in $(seq 1 240); do
    if grep -q "Kafka Server started" "$data/server.log" 2>/dev/null; then
      local secure=""
      if [ -n "$sport" ]; then secure=", SASL_SSL on 127.0.0.1:$sport (CA $tls/ca.pem)"; fi
      echo "kafka $version ready on 127.0.0.1:$port$secure (pid $(cat "$pidfile"), data $data)"
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
