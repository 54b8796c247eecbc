#!/usr/bin/env bash
# The real servers the tests use, on loopback ports, data in a temp dir, binaries cached in
# $HOME/.cache/radlab/tools/:
#   scripts/infra.sh start NAME    start one (kafka, minio, postgres, orthanc) if not running; prints its URL last
#   scripts/infra.sh stop NAME     stop it and remove its data
#   scripts/infra.sh halt NAME     stop it, keeping its data (postgres, minio): `start` brings it back
#   scripts/infra.sh up            start all; prints `export RADLAB_TEST_<NAME>_URL=…` lines
#   scripts/infra.sh down          stop all
# Each server's own script is scripts/infra/<name>.sh with the same start/stop verbs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
servers=(kafka minio postgres orthanc)

case ${1:-} in
  start|stop|halt)
    [ -n "${2:-}" ] || { echo "usage: $0 $1 NAME" >&2; exit 2; }
    exec "$here/infra/$2.sh" "$1"
    ;;
  up)
    for name in "${servers[@]}"; do
      url=$("$here/infra/$name.sh" start | tail -n 1)
      echo "export RADLAB_TEST_${name^^}_URL='$url'"
    done
    ;;
  down)
    status=0
    for name in "${servers[@]}"; do "$here/infra/$name.sh" stop || status=1; done
    exit $status
    ;;
  *) echo "usage: $0 start|stop|halt NAME | up | down" >&2; exit 2 ;;
esac
