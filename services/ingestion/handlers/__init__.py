"""Ingestion's handlers: what they work with (`Ports`), and which of them each event and dead letter goes to."""

from __future__ import annotations

from dataclasses import dataclass, field

from radlab.anonymization.v1 import events_pb2 as anonymization_events
from radlab.ingestion.v1 import events_pb2
from services.ingestion import store
from services.ingestion.domain.archive import Limits
from services.ingestion.domain.slices import SliceLimits
from services.ingestion.handlers.arrivals import hand_on_quiet_studies
from services.ingestion.handlers.failures import on_anonymization_failed, on_scan_upload_dead_lettered
from services.ingestion.handlers.uploads import expire_uploads
from services.ingestion.handlers.volumes import on_scan_anonymized
from shared.consumer import Handler
from shared.db import Database, idempotent
from shared.deadletters import DeadLetterHandler
from shared.events import event_type
from shared.objectstore import ObjectStore
from shared.volume_store import VolumeStore

__all__ = ["Ports", "dead_letter_handlers", "event_handlers", "expire_uploads", "hand_on_quiet_studies"]  # what bootstrap() wires


@dataclass(frozen=True)
class Ports:
    """What ingestion's handlers work with: its database, the object store (`objects`), volume storage, archive limits
    and what one slice or thumbnail may cost."""

    db: Database
    objects: ObjectStore
    volumes: VolumeStore
    limits: Limits = field(default_factory=Limits)
    slice_limits: SliceLimits = field(default_factory=SliceLimits)


def event_handlers(ports: Ports, consumer: str) -> dict[str, Handler]:
    """ScanAnonymized → volumes; AnonymizationFailed → a FAILED upload; datasets cached for uploads, vendor sharing
    for slice access."""
    return {
        event_type(anonymization_events.ScanAnonymized): lambda event: on_scan_anonymized(ports, consumer, event),
        event_type(anonymization_events.AnonymizationFailed): idempotent(ports.db, consumer, on_anonymization_failed),
        **store.datasets.event_handlers(ports.db, consumer),
        **store.vendor_shares.event_handlers(ports.db, consumer),
        **store.revoked_tokens.event_handlers(ports.db, consumer),
    }


def dead_letter_handlers(ports: Ports, consumer: str) -> dict[str, DeadLetterHandler]:
    """The dead letters of ingestion's own ScanUploaded: an upload anonymization gave up on is FAILED, not left waiting."""
    return {event_type(events_pb2.ScanUploaded): lambda letter: on_scan_upload_dead_lettered(ports, consumer, letter)}
