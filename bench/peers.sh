#!/usr/bin/env bash
# Installs the anonymization peers: gdcmanon (apt) and a cached virtualenv with the pinned PyPI peers.
# Prints `PEERS_VENV=<path>` on stdout; per-tool install errors land in <path>/errors/<tool>.log.
# A peer that fails to install is left out here and reported as such by the benchmark, which still runs.
set -uo pipefail

# Exact pins: changing one makes a new cached virtualenv (its name carries a hash of this list).
PINS=(
  "dicognito==0.19.0"
  "dicom-anonymizer==2.1.0"
  "deid==0.4.13"
  "itk-morphologicalcontourinterpolation==2.1.2"
)
CACHE=${RADLAB_CACHE:-$HOME/.cache/radlab}
PYTHON=${PEERS_PYTHON:-$(.venv/bin/python -c 'import sys; print(sys.base_prefix)' 2>/dev/null)/bin/python3}
[ -x "$PYTHON" ] || PYTHON=$(command -v python3)
hash=$(printf '%s\n' "${PINS[@]}" "$("$PYTHON" -c 'import sys; print(sys.version)')" | sha256sum | cut -c1-16)
VENV="$CACHE/bench-peers-$hash"
mkdir -p "$CACHE"

log() { echo "peers: $*" >&2; }

# gdcmanon comes from Debian's libgdcm-tools.
if ! command -v gdcmanon >/dev/null 2>&1; then
  mkdir -p "$CACHE/bench-peers-apt"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing libgdcm-tools (gdcmanon) with apt-get"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgdcm-tools; } \
      >"$CACHE/bench-peers-apt/gdcmanon.log" 2>&1 || log "libgdcm-tools failed: see $CACHE/bench-peers-apt/gdcmanon.log"
  else
    echo "not root or no apt-get: install Debian package libgdcm-tools for gdcmanon" >"$CACHE/bench-peers-apt/gdcmanon.log"
  fi
fi

if [ ! -f "$VENV/.complete" ]; then
  log "building $VENV (first run only)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" || { echo "PEERS_VENV=$VENV"; exit 0; }
  mkdir -p "$VENV/errors"
  "$VENV/bin/pip" install -q --upgrade pip >/dev/null 2>&1
  if ! "$VENV/bin/pip" install -q "${PINS[@]}" >"$VENV/errors/all.log" 2>&1; then
    log "installing all peers together failed; trying one by one"
    for pin in "${PINS[@]}"; do
      name=${pin%%==*}
      "$VENV/bin/pip" install -q "$pin" >"$VENV/errors/$name.log" 2>&1 \
        && rm -f "$VENV/errors/$name.log" || log "$pin failed: see $VENV/errors/$name.log"
    done
  fi
  rm -f "$VENV/errors/all.log"
  "$VENV/bin/pip" freeze >"$VENV/freeze.txt" 2>/dev/null
  touch "$VENV/.complete"
fi
echo "PEERS_VENV=$VENV"
