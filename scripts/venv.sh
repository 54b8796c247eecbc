#!/usr/bin/env bash
# Makes ./.venv point at a virtualenv with every pinned dependency and this checkout's two distributions
# (radlab, radlab-server) installed editable. The virtualenv is cached in $HOME/.cache/radlab/ under a hash of
# the pins, so only the first run on a machine downloads anything.
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

# The SDK (radlab) and the server code (radlab-server, packaging/radlab-server) of this checkout, editable.
installed=$(cd / && "$venv/bin/python" -c 'import importlib.metadata as m, json; print(*(json.loads(m.distribution(d).read_text("direct_url.json"))["url"] for d in ("radlab", "radlab-server")))' 2>/dev/null || true)
if [ "$installed" != "file://$root file://$root/packaging/radlab-server" ]; then
  if ! out=$("$venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation --editable "$root" --editable "$root/packaging/radlab-server" 2>&1); then
    echo "$out" >&2
    exit 1
  fi
fi
ln -sfn "$venv" "$root/.venv"
