#!/usr/bin/env bash
# Clones the committed tree into an empty temporary folder and runs the README's first command there, with none
# of this checkout's settings: what a new user does. The cached virtualenv is shared, so its editable installs
# are pointed back at this checkout afterwards.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
parent=$(mktemp -d)
trap 'cd "$root"; rm -rf "$parent"; scripts/venv.sh' EXIT
git clone --quiet "$root" "$parent/radlab" || exit 1
cd "$parent/radlab"
env -u RADLAB_DATA -u RADLAB_HOME -u MAKEFLAGS -u MAKELEVEL make run
