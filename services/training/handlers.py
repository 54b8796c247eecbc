"""Training's command and event handlers: load, apply the domain rules, save, emit."""

from __future__ import annotations

from dataclasses import dataclass

from services.training import store
from shared.consumer import Handler
from shared.db import Database


@dataclass(frozen=True)
class Ports:
    """What training's handlers work with: its database."""

    db: Database


def event_handlers(ports: Ports, consumer: str) -> dict[str, Handler]:
    """Revoked tokens now; TrainingRequested and PredictionRequested come with their issues."""
    return store.revoked_tokens.event_handlers(ports.db, consumer)
