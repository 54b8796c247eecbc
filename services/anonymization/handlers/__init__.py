"""Anonymization's handlers: what they work with (`Ports`), and which of them each event goes to."""

from __future__ import annotations

from dataclasses import dataclass

from radlab.ingestion.v1 import events_pb2 as ingestion_events
from services.anonymization import store
from services.anonymization.handlers.burned_in import BurnedInText
from services.anonymization.handlers.scans import on_scan_uploaded
from services.anonymization.keys import Keys
from shared.consumer import Handler
from shared.db import Database
from shared.events import Event, event_type
from shared.objectstore import ObjectStore


@dataclass(frozen=True)
class Ports:
    """What anonymization's handlers work with: its database, the object store (`objects`), its keys, and how text
    burned into the pixels is handled (the service reads its setting; built by hand, the header's flags alone count)."""

    db: Database
    objects: ObjectStore
    keys: Keys
    burned_in: BurnedInText = BurnedInText()


def event_handlers(ports: Ports, consumer: str) -> dict[str, Handler]:
    """ScanUploaded → the automatic pass (idempotent by event id and by scan); DatasetCreated → a known dataset (once
    per event id)."""

    def handle_scan_uploaded(event: Event) -> None:
        on_scan_uploaded(ports, consumer, event)

    return {
        event_type(ingestion_events.ScanUploaded): handle_scan_uploaded,
        **store.datasets.event_handlers(ports.db, consumer),
        **store.revoked_tokens.event_handlers(ports.db, consumer),
    }
