#!/usr/bin/env bash
# The label-format peers the tests check Radlab's files against, in their own cached virtualenv: darwin-py (V7's
# library, with its NIfTI support) pins a Pillow that conflicts with ours, so it cannot live in the main one.
#
# Usage: scripts/peers.sh   prints the path of the peers' python on stdout (building the virtualenv on first use,
#                           once per machine); progress and errors go to stderr, so `python="$(scripts/peers.sh)"` works.
# The virtualenv is $RADLAB_CACHE (default $HOME/.cache/radlab)/peers-darwin-<hash of the pins and Python version>.
# It needs PyPI on first use only.
set -euo pipefail

# Exact pins: changing one makes a new cached virtualenv.
PINS=("darwin-py[medical]==3.6.3")
PYTHON=${RADLAB_PYTHON:-python3}
CACHE=${RADLAB_CACHE:-$HOME/.cache/radlab}

log() { printf 'peers.sh: %s\n' "$*" >&2; }

key=$( { printf '%s\n' "${PINS[@]}"; "$PYTHON" --version; } | sha256sum | cut -c1-16)
venv="$CACHE/peers-darwin-$key"
mkdir -p "$CACHE"
# One build at a time: a second run waits for the first and then finds the virtualenv complete.
exec 9>"$venv.lock"
flock 9
if [[ ! -f "$venv/.complete" ]]; then
  log "building $venv with ${PINS[*]} (first use on this machine: a download from PyPI, once)"
  started=$SECONDS
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}" >&2; then
    log "pip could not install ${PINS[*]} (see its output above); it needs PyPI on first use"
    exit 1
  fi
  "$venv/bin/python" -m pip freeze >"$venv/freeze.txt"
  touch "$venv/.complete"
  log "built $venv in $((SECONDS - started))s"
fi
printf '%s\n' "$venv/bin/python"
