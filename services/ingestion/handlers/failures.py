"""Uploads anonymization could not de-identify (AnonymizationFailed) or gave up on (its ScanUploaded dead-lettered)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import sqlalchemy as sa

from radlab.anonymization.v1 import events_pb2 as anonymization_events
from radlab.ingestion.v1 import events_pb2
from radlab.ingestion.v1 import ingestion_service_pb2 as pb
from services.ingestion import store
from shared.consumer import consumer_group
from shared.db import UnitOfWork
from shared.deadletters import DeadLetter
from shared.events import Event, event_type

if TYPE_CHECKING:
    from services.ingestion.handlers import Ports

log = logging.getLogger(__name__)

_ANONYMIZATION = consumer_group("anonymization")  # the group whose giving up on a ScanUploaded fails the upload


def on_anonymization_failed(uow: UnitOfWork, event: Event) -> None:
    """The upload could not be de-identified: it is FAILED, with anonymization's reason, and IngestFailed says so
    (once: an upload already failed or built stays as it is)."""
    failed: anonymization_events.AnonymizationFailed = event.message
    tenant, table = event.envelope.tenant, store.uploads
    waiting = (table.c.tenant == tenant) & (table.c.upload_id == failed.upload_id) & (table.c.state == pb.UPLOAD_STATE_UPLOADED)
    reason = f"not de-identified: {failed.reason}"
    row = uow.execute(sa.select(table).where(waiting)).first()
    if row is not None and uow.execute(table.update().where(waiting).values(
        state=pb.UPLOAD_STATE_FAILED, failure_reason=reason, updated_at=time.time(),
    )).rowcount:
        uow.emit(events_pb2.IngestFailed(
            upload_id=row.upload_id, scan_id=row.scan_id, dataset_id=row.dataset_id, reason=reason,
        ), subject=row.upload_id, tenant=tenant)


def on_scan_upload_dead_lettered(ports: Ports, consumer: str, letter: DeadLetter) -> None:
    """Anonymization retried a ScanUploaded, then gave up: the upload, if still UPLOADED, is FAILED with IngestFailed.

    The originals stay in quarantine (nothing is lost: once the cause is fixed an admin can replay the letter, and the
    ScanAnonymized that follows builds the volumes as usual). The reason names only the error's type: its message may
    quote an object key."""
    event = letter.event
    if event is None or event.type != event_type(events_pb2.ScanUploaded):
        record = letter.record
        log.warning("a dead letter that is not a ScanUploaded; no upload to fail", extra={"topic": record.topic, "offset": record.offset})
        return
    if letter.consumer != _ANONYMIZATION:
        return  # another group's trouble with the event says nothing about de-identification
    uploaded: events_pb2.ScanUploaded = event.message
    tenant = event.envelope.tenant
    table = store.uploads
    waiting = (table.c.tenant == tenant) & (table.c.upload_id == uploaded.upload_id) & (table.c.scan_id == uploaded.scan_id) & (
        table.c.state == pb.UPLOAD_STATE_UPLOADED)
    with ports.db.read() as conn:
        row = conn.execute(sa.select(table).where(waiting)).first()
    if row is None:
        return  # failed already, or anonymization got through on a redelivery and the scan was built
    tries = f" {letter.attempts} times" if letter.attempts else ""
    reason = (
        f"de-identification failed{tries} with an internal error ({letter.error_type or 'unknown'}); the uploaded files "
        f"are kept in quarantine: ask an admin to read the dead letter of scan {uploaded.scan_id} on "
        f"{letter.record.topic} and replay it once the cause is fixed"
    )

    def fail(uow: UnitOfWork) -> bool:
        if uow.execute(table.update().where(waiting).values(
            state=pb.UPLOAD_STATE_FAILED, failure_reason=reason, updated_at=time.time(),
        )).rowcount:
            uow.emit(events_pb2.IngestFailed(
                upload_id=row.upload_id, scan_id=row.scan_id, dataset_id=row.dataset_id, reason=reason,
            ), subject=row.upload_id, tenant=tenant)
        return True

    if ports.db.apply_once(consumer, event.id, fail):  # None: this letter was handled already
        log.info("upload failed: anonymization gave up", extra={"upload_id": row.upload_id, "scan_id": row.scan_id})
