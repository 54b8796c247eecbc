#!/usr/bin/env bash
# `make test`: check the contracts, start the real servers once, run every suite, stop the servers
# (also when a phase fails). Arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
phase=scripts/phase.sh

$phase check-protos scripts/protos.sh check || exit 1
servers=$(mktemp)
trap '$phase infra-down scripts/infra.sh down >&2; rm -f "$servers"' EXIT
$phase infra-up bash -c "scripts/infra.sh up > '$servers'" || exit 1
set -a
# shellcheck disable=SC1090
. "$servers"
set +a
$phase pytest .venv/bin/python -m pytest -p no:cacheprovider "$@"
