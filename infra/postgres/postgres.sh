#!/usr/bin/env bash
# The PostgreSQL server the tests use: 127.0.0.1:5432, trust auth for user postgres.
#   postgres.sh up       install Debian's postgresql if there is none, trust loopback, start the cluster, wait until ready
#   postgres.sh down     stop the local cluster
#   postgres.sh status   exit 0 when a server answers on 127.0.0.1:5432
set -euo pipefail

ready() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
version() { ls /etc/postgresql | sort -V | tail -n 1; }
ctl() { pg_ctlcluster --skip-systemctl-redirect "$(version)" main "$1" 2>/dev/null || pg_ctlcluster "$(version)" main "$1"; }

case "${1:-}" in
  status) ready ;;
  up)
    if ready; then exit 0; fi
    if ! command -v pg_ctlcluster >/dev/null; then
      echo "installing PostgreSQL (Debian package postgresql)..."
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq postgresql >/dev/null
    fi
    conf=/etc/postgresql/$(version)/main
    if ! grep -q "configledger" "$conf/pg_hba.conf"; then
      # Local test clusters only: trust loopback connections, as the test suite expects.
      sed -i '1i # configledger tests: trust loopback\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$conf/pg_hba.conf"
    fi
    ctl start
    for _ in $(seq 1 30); do ready && exit 0; sleep 1; done
    echo "PostgreSQL did not become ready on 127.0.0.1:5432" >&2
    exit 1
    ;;
  down) ctl stop ;;
  *)
    echo "usage: postgres.sh up|down|status" >&2
    exit 2
    ;;
esac
