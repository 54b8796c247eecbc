"""Anonymization's command and event handlers: load, apply the domain rules, save, emit."""

from __future__ import annotations

from shared.consumer import Handler
from shared.db import Database


def event_handlers(db: Database, consumer: str) -> dict[str, Handler]:
    """Anonymization will consume ScanUploaded (its issue adds it)."""
    return {}
