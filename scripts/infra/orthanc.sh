#!/usr/bin/env bash
# The PACS the tests use (the `orthanc` slot of scripts/infra.sh): Orthanc with its DICOMweb plugin, on loopback:
#   scripts/infra/orthanc.sh start   install it if missing, start it unless running; prints its HTTP URL last
#   scripts/infra/orthanc.sh stop    stop it and remove its data
#   scripts/infra/orthanc.sh install install it if missing (`make run` does, before it starts one of its own)
#
# Uses the Debian `orthanc` and `orthanc-dicomweb` packages (installed if missing; the packages' own service, if
# their install starts one, is left alone on its own ports). Each start writes a fresh configuration: DICOM on
# 127.0.0.1:${RADLAB_ORTHANC_DICOM_PORT:-14242} (AE title RADLABPACS), REST and DICOMweb (/dicom-web/) on
# 127.0.0.1:${RADLAB_ORTHANC_HTTP_PORT:-18042}, and a modality `radlab` for Radlab's C-STORE SCP (AE title RADLAB,
# 127.0.0.1:11112; a test points it at its own SCP with PUT /modalities/radlab). Orthanc has no listen-address
# option: its HTTP side refuses other hosts (RemoteAccessAllowed false) and its DICOM side takes associations only
# from the modalities it lists, checked by host. State lives in ${RADLAB_INFRA_DIR:-/tmp/radlab-infra-<uid>}/orthanc:
# storage/, orthanc.json, server.pid, server.log.
set -euo pipefail
# shellcheck source=scripts/infra/server_pid.sh
. "$(dirname "${BASH_SOURCE[0]}")/server_pid.sh"

dicom_port=${RADLAB_ORTHANC_DICOM_PORT:-14242}
http_port=${RADLAB_ORTHANC_HTTP_PORT:-18042}
address=127.0.0.1:$http_port
binary=/usr/sbin/Orthanc
plugin=/usr/share/orthanc/plugins/libOrthancDicomWeb.so
infra=${RADLAB_INFRA_DIR:-/tmp/radlab-infra-$(id -u)}
state=$infra/orthanc
pidfile=$state/server.pid

log() { echo "orthanc.sh: $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

# The server's pid if the one we started is alive (a reused pid of another program does not count).
running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "Orthanc $state/orthanc.json" || return 1
  echo "$pid"
}

# The DICOMweb plugin answers too, not only Orthanc's own REST API.
healthy() { curl -fs -o /dev/null --max-time 2 "http://$address/dicom-web/studies?limit=1"; }

install() {
  [ -x "$binary" ] && [ -f "$plugin" ] && return 0
  log "Orthanc or its DICOMweb plugin is missing; installing the Debian orthanc and orthanc-dicomweb packages"
  # Waits for another apt-get (a postgres.sh or tools.sh install beside this one) rather than failing on its lock.
  local apt=(as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600)
  "${apt[@]}" install -y --no-install-recommends orthanc orthanc-dicomweb >&2 \
    || { "${apt[@]}" update >&2 && "${apt[@]}" install -y --no-install-recommends orthanc orthanc-dicomweb >&2; }
  [ -x "$binary" ] && [ -f "$plugin" ] || { log "the packages installed no $binary or $plugin"; exit 1; }
}

configure() {
  cat >"$state/orthanc.json" <<EOF
{
  "Name": "radlab-test-pacs",
  "StorageDirectory": "$state/storage",
  "IndexDirectory": "$state/storage",
  "Plugins": ["$plugin"],
  "HttpPort": $http_port,
  "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false,
  "DicomAet": "RADLABPACS",
  "DicomPort": $dicom_port,
  "DicomCheckModalityHost": true,
  "DicomAlwaysAllowStore": false,
  "DicomModalities": { "radlab": ["RADLAB", "127.0.0.1", 11112] },
  "StableAge": 1,
  "ConcurrentJobs": 2,
  "SaveJobs": false,
  "DicomWeb": { "Enable": true, "Root": "/dicom-web/", "EnableWado": false, "Host": "127.0.0.1:$http_port", "Ssl": false }
}
EOF
}

start() {
  if pid=$(running_pid) && healthy; then
    log "already running (pid $pid)"
    echo "http://$address"
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
  install
  mkdir -p "$state/storage"
  chmod 700 "$state"
  configure
  # TCP_NODELAY: DCMTK, which Orthanc's DICOM side is built on, turns Nagle's algorithm off only when it is set; without
  # it each C-STORE it sends waits on a delayed ACK (into storescp: 2.7× fewer instances/s, measured by bench/pacs.py).
  TCP_NODELAY=1 setsid "$binary" "$state/orthanc.json" </dev/null >"$state/server.log" 2>&1 9>&- &
  server_pid $! "^$binary $state/orthanc.json" >"$pidfile"
  for _ in $(seq 1 150); do
    if healthy; then
      log "running (pid $(cat "$pidfile")), DICOM on 127.0.0.1:$dicom_port, storage in $state/storage"
      echo "http://$address"
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
  log "no answer from http://$address/dicom-web/ within 30s; its log ($state/server.log):"
  tail -n 30 "$state/server.log" >&2
  exit 1
}

stop() {
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
  rm -rf "$state"
}

case ${1:-} in
  start|stop) ;;
  install) install; exit 0 ;;
  *) echo "usage: $0 start|stop|install" >&2; exit 2 ;;
esac

# One start or stop at a time (two test sessions, or `infra.sh up` beside one); the server must not hold fd 9.
mkdir -p "$infra"
exec 9>"$infra/orthanc.lock"
flock 9

case $1 in
  start) start ;;
  stop) stop ;;
esac
