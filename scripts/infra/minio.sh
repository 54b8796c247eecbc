#!/usr/bin/env bash
# The S3 server the tests use (the `minio` slot of scripts/infra.sh), on 127.0.0.1:19000:
#   scripts/infra/minio.sh start   build it if not cached, start it unless running; prints its URL last
#   scripts/infra/minio.sh stop    stop it and remove its data
#   scripts/infra/minio.sh halt    stop it, keeping its data and credentials: `start` brings the same server back
#
#
# MinIO is built from source with `go install github.com/minio/minio@<pinned pseudo-version>` (the module
# proxy serves MinIO only as pseudo-versions) into $HOME/.cache/radlab/tools/minio-<version>/ (a build
# lands there only once complete), so a machine builds it once (about 4 minutes on 2 cores) and then
# starts it in about a second. MinIO is AGPL-licensed: it is only run here, as a test server on loopback,
# never linked into or shipped with Radlab. Its root credentials are made afresh for each start after a
# stop (a halted server keeps them): they guard a loopback server holding throwaway data. State lives in
# ${RADLAB_INFRA_DIR:-/tmp/radlab-infra-<uid>}/minio: data/, server.pid, server.log, credentials.
set -euo pipefail
# shellcheck source=scripts/infra/server_pid.sh
. "$(dirname "${BASH_SOURCE[0]}")/server_pid.sh"

version=v0.0.0-20260212201848-7aac2a2c5b7c
module=github.com/minio/minio
address=127.0.0.1:${RADLAB_MINIO_PORT:-19000}
health=/minio/health/live

tools=${RADLAB_TOOLS_DIR:-${RADLAB_CACHE:-${HOME}/.cache/radlab}/tools}
binary=$tools/minio-$version/minio
infra=${RADLAB_INFRA_DIR:-/tmp/radlab-infra-$(id -u)}
state=$infra/minio
pidfile=$state/server.pid

log() { echo "minio.sh: $*" >&2; }

# The server's pid if the one we started is alive (a reused pid of another program does not count).
running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "minio server" || return 1
  echo "$pid"
}

healthy() { curl -fs -o /dev/null --max-time 2 "http://$address$health"; }

url() {
  local access secret
  { read -r access; read -r secret; } <"$state/credentials"
  echo "s3://$access:$secret@$address"
}

build() {
  [ -x "$binary" ] && return 0
  command -v go >/dev/null || { log "the Go toolchain is needed to build $module@$version"; exit 1; }
  mkdir -p "$tools"
  local work started
  work=$(mktemp -d "$tools/.minio-$version.XXXXXX")
  # A failed or interrupted build leaves nothing in the cache.
  trap 'rm -rf "$work"' EXIT
  started=$(date +%s)
  log "building $module@$version with $(go env GOVERSION) (about 4 minutes on a cold cache)…"
  GOBIN="$work" GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go install "$module@$version" >&2
  if ! mv -T "$work" "$tools/minio-$version" 2>/dev/null; then
    [ -x "$binary" ] || { log "could not move the build to $tools/minio-$version"; exit 1; }
    # Another start finished the same build first; keep theirs.
  fi
  trap - EXIT
  rm -rf "$work"
  log "built $binary in $(($(date +%s) - started))s"
}

start() {
  if pid=$(running_pid) && healthy; then
    log "already running (pid $pid)"
    url
    return 0
  fi
  if [ -f "$pidfile" ]; then
    log "removing the state of a server that is no longer running"
    stop
  fi
  if curl -s -o /dev/null --max-time 2 "http://$address/"; then
    log "something else already listens on $address; stop it first"
    exit 1
  fi
  build
  mkdir -p "$state/data"
  chmod 700 "$state"
  local access secret
  if [ ! -f "$state/credentials" ]; then
    access=radlab$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
    secret=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
    (umask 077 && printf '%s\n%s\n' "$access" "$secret" >"$state/credentials")
  fi
  { read -r access; read -r secret; } <"$state/credentials"
  MINIO_ROOT_USER="$access" MINIO_ROOT_PASSWORD="$secret" MINIO_BROWSER=off MINIO_UPDATE=off \
    setsid "$binary" server "$state/data" --address "$address" --console-address 127.0.0.1:0 --quiet \
    </dev/null >"$state/server.log" 2>&1 9>&- &
  server_pid $! "^$binary server $state/data " >"$pidfile"
  for _ in $(seq 1 150); do
    if healthy; then
      log "running (pid $(cat "$pidfile")), data in $state/data"
      url
      return 0
    fi
    if ! running_pid >/dev/null; then
      log "the server exited at start; its log ($state/server.log):"
      tail -n 30 "$state/server.log" >&2
      rm -f "$pidfile"
      exit 1
    fi
    sleep 0.2
  done
  log "no answer from http://$address$health within 30s; its log ($state/server.log):"
  tail -n 30 "$state/server.log" >&2
  exit 1
}

halt() {
  local pid
  if pid=$(running_pid); then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      [ -d "/proc/$pid" ] || break
      sleep 0.2
    done
    if [ -d "/proc/$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
    log "stopped pid $pid"
  fi
  rm -f "$pidfile"
}

stop() {
  halt
  rm -rf "$state"
}

case ${1:-} in
  start|stop|halt) ;;
  *) echo "usage: $0 start|stop|halt" >&2; exit 2 ;;
esac

# One start or stop at a time (two test sessions, or `infra.sh up` beside one); the server must not hold fd 9.
mkdir -p "$infra"
exec 9>"$infra/minio.lock"
flock 9

case $1 in
  start) start ;;
  stop) stop ;;
  halt) halt ;;
esac
