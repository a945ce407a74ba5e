#!/usr/bin/env bash
# Runs a command with a Kafka broker on 127.0.0.1:9092: the one already running,
# or a fresh one (new storage) that is stopped again afterwards.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
kafka=$root/infra/kafka/kafka.sh

if "$kafka" status; then
  "$@"
  exit $?
fi

export KAFKA_STATE_DIR=$root/.tmp/kafka-test
rm -rf "$KAFKA_STATE_DIR"
"$kafka" up || exit 1
"$@"
rc=$?
"$kafka" down
exit $rc
