"""Ingestion's tables (uploads, studies, series, volumes) arrive with its issue; for now the shared ones."""

from __future__ import annotations

from shared.db import service_metadata

metadata = service_metadata()
