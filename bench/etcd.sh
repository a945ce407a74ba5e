#!/usr/bin/env bash
# etcd, the reference the benchmarks are compared with (Debian package etcd-server).
set -euo pipefail
case "${1:-}" in
  ensure-installed)
    if ! command -v etcd >/dev/null; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq etcd-server >/dev/null
    fi
    ;;
  *)
    echo "usage: $0 ensure-installed" >&2
    exit 2
    ;;
esac
