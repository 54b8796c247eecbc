"""Loads PS3.15 Table E.1-1 (the machine-readable JSON in RADLAB_DATA) for the pure de-identification engine."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from services.anonymization.domain.profile import RuleTable, rule_table
from shared.errors import InvalidArgument

TABLE_PATH = Path("dicom-standard") / "confidentiality_profile_attributes.json"


def data_dir() -> Path:
    """RADLAB_DATA, or ../shared/data beside the repository."""
    configured = os.environ.get("RADLAB_DATA")
    return Path(configured) if configured else Path(__file__).resolve().parents[2].parent / "shared" / "data"


@lru_cache(maxsize=4)
def load_rule_table(path: Path | None = None) -> RuleTable:
    """The rule table from `path` (default: RADLAB_DATA's copy of Table E.1-1); a missing table is an error."""
    path = path or data_dir() / TABLE_PATH
    try:
        rows = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise InvalidArgument(f"cannot read the confidentiality profile table at {path} ({error}); set RADLAB_DATA") from error
    return rule_table(rows)
