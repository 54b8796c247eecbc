#!/usr/bin/env bash
# Runs one phase of a make target and prints how long it took: `scripts/phase.sh NAME CMD [ARGS...]`.
set -uo pipefail
name=$1
shift
start=$(date +%s%N)
"$@"
status=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
printf '== phase %-14s %5d.%01d s  %s\n' "$name" $((ms / 1000)) $((ms % 1000 / 100)) "$([ $status -eq 0 ] && echo ok || echo "FAILED ($status)")"
exit $status
