#!/usr/bin/env bash
# Makes ./.venv point at a virtualenv with every pinned dependency and this checkout installed
# (editable). The virtualenv is cached in $HOME/.cache/radlab/ under a hash of the pins, so only the
# first run on a machine downloads anything.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${RADLAB_CACHE:-$HOME/.cache/radlab}
python=${RADLAB_PYTHON:-python3}
key=$( { cat "$root/requirements.lock"; "$python" --version; } | sha256sum | cut -c1-16)
venv="$cache/venv-$key"

if [ ! -f "$venv/.complete" ]; then
  echo "setup: building the virtualenv $venv (first run on this machine: a large download, once)" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet --requirement "$root/requirements.lock"
  touch "$venv/.complete"
fi

installed=$(cd / && "$venv/bin/python" -c 'import radlab, os; print(os.path.dirname(os.path.dirname(radlab.__file__)))' 2>/dev/null || true)
if [ "$installed" != "$root" ]; then
  if ! out=$("$venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation --editable "$root" 2>&1); then
    echo "$out" >&2
    exit 1
  fi
fi
ln -sfn "$venv" "$root/.venv"
