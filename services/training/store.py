"""Training's tables (runs, models, predictions) arrive with their issues; for now the shared ones."""

from __future__ import annotations

from shared.db import service_metadata
from shared.revocation import RevokedTokens

metadata = service_metadata()

revoked_tokens = RevokedTokens(metadata)
