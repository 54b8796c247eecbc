#!/usr/bin/env bash
# Regenerates services/anonymization/profile_rules.json (PS3.15 Table E.1-1) from the machine-readable
# standard; `scripts/rules.sh --check` only says whether the committed file is stale. Installs the pinned
# dicom-anonymizer (the 2026c edition's source, read as data) into .venv when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
pin=$("$python" -c 'from services.anonymization.rules_source import ANONYMIZER; print(f"{ANONYMIZER[0]}=={ANONYMIZER[1]}")')
if ! "$python" -c "import importlib.metadata as m, sys; sys.exit(m.version('${pin%%==*}') != '${pin##*==}')" 2>/dev/null; then
  echo "rules: installing $pin" >&2
  "$python" -m pip install --quiet --no-deps "$pin"
fi
exec "$python" -m services.anonymization.rules_source "$@"
