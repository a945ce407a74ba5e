#!/usr/bin/env bash
# The Redis server the tests share rate limits and lockouts through.
#   redis.sh up       install Debian's redis-server if missing, start one on 127.0.0.1:${REDIS_PORT:-6379}, wait until it answers
#   redis.sh down     stop the one this script started
#   redis.sh status   exit 0 when a Redis answers on the port
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
port=${REDIS_PORT:-6379}
state=${REDIS_STATE_DIR:-$root/.tmp/redis}
pidfile=$state/redis.pid

answers() {
  { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  printf 'PING\r\n' >&3
  local reply
  read -r -t 2 reply <&3 || true
  exec 3>&-
  [[ "$reply" == +PONG* ]]
}

case "${1:-}" in
  status) answers ;;
  up)
    if answers; then exit 0; fi
    if ! command -v redis-server >/dev/null; then
      echo "installing Redis (Debian package redis-server)..."
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq redis-server >/dev/null
    fi
    mkdir -p "$state"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
      --dir "$state" --pidfile "$pidfile" --logfile "$state/redis.log"
    for _ in $(seq 1 50); do answers && exit 0; sleep 0.1; done
    echo "Redis did not answer on 127.0.0.1:$port; see $state/redis.log" >&2
    exit 1
    ;;
  down)
    if [ -f "$pidfile" ]; then
      pid=$(cat "$pidfile")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$pidfile"
    fi
    ;;
  *)
    echo "usage: redis.sh up|down|status" >&2
    exit 2
    ;;
esac
