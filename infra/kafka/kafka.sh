#!/usr/bin/env bash
# The single-node Apache Kafka broker (KRaft) that tests and people use locally.
#   kafka.sh up       fetch the jars if needed, format storage on first use, start, wait until ready
#   kafka.sh down     stop it
#   kafka.sh status   exit 0 when the broker answers
# Clients connect to the broker listener 127.0.0.1:${KAFKA_PORT:-9092}; the controller
# listener (port + 1) is for the broker itself.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
port=${KAFKA_PORT:-9092}
controller_port=$((port + 1))
state=${KAFKA_STATE_DIR:-$root/.tmp/kafka}
libs=$here/libs
pidfile=$state/broker.pid

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

fetch() {
  if [ -f "$libs/.complete" ]; then return; fi
  command -v java >/dev/null || { echo "kafka.sh: java is required (Debian: default-jre-headless)" >&2; exit 1; }
  command -v mvn >/dev/null || { echo "kafka.sh: maven is required (Debian: maven)" >&2; exit 1; }
  echo "fetching the Kafka broker jars from Maven Central..."
  rm -rf "$libs"
  mvn -q -B --no-transfer-progress -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$libs" -DincludeScope=runtime
  touch "$libs/.complete"
}

jvm=(java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dorg.slf4j.simpleLogger.showDateTime=true -cp "$libs/*")

configure() {
  mkdir -p "$state/data"
  cat > "$state/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$state/data
num.partitions=3
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.cleaner.backoff.ms=1000
PROPS
  if [ ! -f "$state/data/meta.properties" ]; then
    local cluster
    cluster=$("${jvm[@]}" kafka.tools.StorageTool random-uuid)
    "${jvm[@]}" kafka.tools.StorageTool format -t "$cluster" -c "$state/server.properties" >/dev/null
  fi
}

up() {
  if answers; then return; fi
  fetch
  configure
  nohup "${jvm[@]}" kafka.Kafka "$state/server.properties" >"$state/broker.log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 120); do
    if answers; then echo "Kafka $(ls "$libs" | sed -n 's/^kafka_2.13-\(.*\)\.jar$/\1/p') on 127.0.0.1:$port"; return; fi
    if ! running; then echo "the broker exited; see $state/broker.log" >&2; tail -20 "$state/broker.log" >&2; exit 1; fi
    sleep 0.5
  done
  echo "the broker did not answer on 127.0.0.1:$port within 60 s; see $state/broker.log" >&2
  exit 1
}

down() {
  if running; then
    local pid
    pid=$(cat "$pidfile")
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) answers ;;
  fetch) fetch ;;
  *) echo "usage: $0 up|down|status|fetch" >&2; exit 2 ;;
esac
