#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 with trust auth for
# user postgres: start the local cluster if it is stopped, install it if absent.
set -euo pipefail

ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if command -v pg_isready >/dev/null && ready; then exit 0; fi

if ! command -v pg_ctlcluster >/dev/null; then
  echo "installing PostgreSQL (Debian package postgresql)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi

version=$(ls /etc/postgresql | sort -V | tail -n 1)
conf=/etc/postgresql/$version/main
if ! grep -q "configledger" "$conf/pg_hba.conf"; then
  # Local test clusters only: trust loopback connections, as the test suite expects.
  sed -i '1i # configledger tests: trust loopback\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$conf/pg_hba.conf"
fi
pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || pg_ctlcluster "$version" main start
for _ in $(seq 1 30); do ready && exit 0; sleep 1; done
echo "PostgreSQL did not become ready on 127.0.0.1:5432" >&2
exit 1
