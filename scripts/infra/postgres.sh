#!/usr/bin/env bash
# A private PostgreSQL cluster for the tests, on loopback only (trust auth), data in a temp dir:
#   scripts/infra/postgres.sh start   init and start it if not running; prints its URL as the last line
#   scripts/infra/postgres.sh stop    stop it and remove its data
#   scripts/infra/postgres.sh halt    stop it, keeping its data: `start` brings the same cluster back
# Uses the Debian `postgresql` package's binaries (installed if missing; the package's own default
# cluster, if its install starts one, is left alone). RADLAB_INFRA_DIR (default /tmp/radlab-infra-UID)
# holds the data dir `postgres/` and the server log; RADLAB_POSTGRES_PORT (default 15432) picks the port.
set -euo pipefail

infra=${RADLAB_INFRA_DIR:-/tmp/radlab-infra-$(id -u)}
data=$infra/postgres
logfile=$infra/postgres.log
port=${RADLAB_POSTGRES_PORT:-15432}
host=127.0.0.1

say() { echo "postgres: $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

# The newest installed server's bin dir (a client-only version has no initdb), or nothing.
find_bin() {
  local initdb
  initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$initdb" ]; then dirname "$initdb"; fi
}

# Server commands run as the `postgres` OS user when we are root (initdb refuses root), else as us.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install_server() {
  say "initdb not found under /usr/lib/postgresql/*/bin; installing the Debian postgresql package"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >&2
}

running() {
  [ -f "$data/PG_VERSION" ] && as_owner "$bin/pg_ctl" status -D "$data" >/dev/null 2>&1
}

init_cluster() {
  say "initializing a cluster in $data"
  rm -rf "$data"
  mkdir -p "$data"
  touch "$logfile"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$data" "$logfile"; fi
  chmod 700 "$data"
  # --no-sync: a throwaway cluster need not wait for initdb's files to reach the disk; the running
  # server still fsyncs its WAL.
  as_owner "$bin/initdb" -D "$data" -U postgres -E UTF8 --no-locale --auth=trust --no-sync >/dev/null
  cat >>"$data/postgresql.conf" <<EOF

# radlab test cluster
listen_addresses = '$host'
unix_socket_directories = ''
max_connections = 200
shared_buffers = 32MB
fsync = on
log_min_messages = warning
EOF
  # Loopback TCP only: no unix socket, no other hosts.
  cat >"$data/pg_hba.conf" <<EOF
host all all 127.0.0.1/32 trust
host all all ::1/128 trust
EOF
}

start_server() {
  say "starting on $host:$port"
  # 9>&-: the server must not inherit the lock's descriptor, or it would hold the lock while it runs.
  if ! as_owner "$bin/pg_ctl" start -D "$data" -l "$logfile" -w -t 60 -o "-p $port" >/dev/null 9>&-; then
    say "the server did not start; the end of $logfile:"
    tail -n 30 "$logfile" >&2 || true
    exit 1
  fi
}

wait_ready() {
  local tries=0
  until "$bin/pg_isready" -q -h "$host" -p "$port" -d postgres -U postgres; do
    tries=$((tries + 1))
    if [ "$tries" -ge 120 ]; then say "not ready after 60 s on $host:$port"; exit 1; fi
    sleep 0.5
  done
}

create_role_and_database() {
  # CREATEDB lets a test suite make a fresh database per test (see tests/contract/test_db_postgres.py);
  # pg_signal_backend lets it drop one WITH (FORCE) while an autovacuum worker is in it.
  "$bin/psql" -q -X -h "$host" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 >/dev/null <<'EOF'
SELECT 'CREATE ROLE radlab LOGIN CREATEDB' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'radlab')
\gexec
SELECT 'CREATE DATABASE radlab OWNER radlab' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'radlab')
\gexec
GRANT pg_signal_backend TO radlab;
EOF
}

start() {
  bin=$(find_bin)
  if [ -z "$bin" ]; then
    install_server
    bin=$(find_bin)
    [ -n "$bin" ] || { say "the postgresql package installed no initdb under /usr/lib/postgresql/*/bin"; exit 1; }
  fi
  if running; then
    # The port it already listens on (line 4 of postmaster.pid), whatever this call's environment says.
    port=$(sed -n 4p "$data/postmaster.pid")
    say "already running on $host:$port"
  else
    [ -f "$data/PG_VERSION" ] || init_cluster
    start_server
  fi
  wait_ready
  create_role_and_database
  echo "postgresql://radlab@$host:$port/radlab"
}

halt() {
  bin=$(find_bin)
  if [ -n "$bin" ] && running; then
    as_owner "$bin/pg_ctl" stop -D "$data" -m fast -w -t 60 >/dev/null
  fi
}

stop() {
  halt
  rm -rf "$data" "$logfile"
}

case ${1:-} in
  start|stop|halt)
    mkdir -p "$infra"
    if [ "$(id -u)" -eq 0 ]; then chmod 755 "$infra"; fi  # the postgres user must reach its data dir inside
    # One start/stop at a time per infra dir: two test sessions starting at once share one cluster.
    exec 9>"$infra/postgres.lock"
    flock 9
    "$1"
    ;;
  *) echo "usage: $0 start|stop|halt" >&2; exit 2 ;;
esac
