#!/usr/bin/env bash
# Regenerates services/anonymization/profile_rules.json (PS3.15 Table E.1-1) from the machine-readable
# standard (the pinned dicom-anonymizer's 2026c edition, read as data, and the 2024b JSON in RADLAB_DATA);
# `scripts/rules.sh --check` only says whether the committed file is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh
exec .venv/bin/python -m services.anonymization.rules_source "$@"
