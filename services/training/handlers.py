"""Training's command and event handlers: load, apply the domain rules, save, emit."""

from __future__ import annotations

from dataclasses import dataclass

from shared.consumer import Handler
from shared.db import Database


@dataclass(frozen=True)
class Ports:
    """What training's handlers work with: its database."""

    db: Database


def event_handlers(ports: Ports, consumer: str) -> dict[str, Handler]:
    """Training will consume TrainingRequested and PredictionRequested (their issues add them)."""
    return {}
