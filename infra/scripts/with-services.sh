#!/usr/bin/env bash
# Runs a command with every server the tests use: PostgreSQL (127.0.0.1:5432),
# Redis (127.0.0.1:6379) and a Kafka broker (127.0.0.1:9092). One already
# running is used as it is; a missing one is installed and started, and what
# this script started it stops again afterwards, whatever the command's outcome.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
started=()

stop_started() {
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do "${started[$i]}" down || true; done
}
trap stop_started EXIT

use() {
  local script=$1
  if "$script" status; then return 0; fi
  "$script" up || { echo "could not start ${script##*/}" >&2; exit 1; }
  started+=("$script")
}

use "$root/infra/postgres/postgres.sh"
use "$root/infra/redis/redis.sh"
if ! "$root/infra/kafka/kafka.sh" status; then
  # A fresh broker for the run, with storage of its own.
  export KAFKA_STATE_DIR=$root/.tmp/kafka-test
  rm -rf "$KAFKA_STATE_DIR"
fi
use "$root/infra/kafka/kafka.sh"

"$@"
