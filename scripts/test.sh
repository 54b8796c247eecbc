#!/usr/bin/env bash
# `make test`: check the contracts, start the real servers once, run every suite, stop the servers
# (also when a phase fails or the run is interrupted), then run `make run` in a fresh clone of the committed
# tree, as a new user meets it. Arguments go to pytest (and skip the fresh-clone run).
set -uo pipefail
cd "$(dirname "$0")/.."
phase=scripts/phase.sh

$phase check-protos scripts/protos.sh check || exit 1
servers=$(mktemp)
trap '$phase infra-down scripts/infra.sh down >&2; rm -f "$servers"' EXIT
$phase infra-up bash -c "scripts/infra.sh up > '$servers'" || exit 1
(
  set -a
  # shellcheck disable=SC1090
  . "$servers"
  set +a
  $phase pytest .venv/bin/python -m pytest -p no:cacheprovider "$@"
)
tests=$?
$phase infra-down scripts/infra.sh down >&2
rm -f "$servers"
trap - EXIT
[ $# -eq 0 ] || exit $tests

$phase fresh-clone scripts/fresh_clone.sh
clone=$?
[ $tests -eq 0 ] && [ $clone -eq 0 ]
