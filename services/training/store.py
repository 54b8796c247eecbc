"""Training's tables (runs, models, predictions) arrive with their issues; for now the shared ones."""

from __future__ import annotations

from shared.db import service_metadata

metadata = service_metadata()
