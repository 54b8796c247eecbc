"""Ingestion's command and event handlers: load, apply the domain rules, save, emit.

Uploads go only into datasets annotation announced (DatasetCreated, cached per tenant); an unknown one is refused
before anything is stored. Each stream's bytes become one part object in `quarantine` (object stores do not append);
when the last byte arrives the parts are concatenated into a local spool while hashing, the sha256 is
checked, archives are checked whole before any member is read, and every DICOM or NIfTI file becomes
one quarantine object under an opaque key; one transaction then records the upload and ScanUploaded.
A failure records a FAILED upload with its reason (IngestFailed) and removes whatever it had written.
An upload that receives nothing for the TTL expires (EXPIRED, its parts deleted); one whose ScanUploaded
anonymization dead-lettered is FAILED (IngestFailed); its originals stay in quarantine so the letter can be replayed.

ScanAnonymized: the de-identified objects are read back, grouped into series and built into volumes
(NIfTI keeps its affine), each volume written to the `volumes` bucket before one transaction records
studies, series, instances and volumes with VolumeReady / IngestFailed and the event's id. Volume ids
are derived from what they are built from, so a redelivered event rewrites the same volumes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
import time
import uuid
import warnings
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
import sqlalchemy as sa
from pydicom.dataset import Dataset
from sqlalchemy.engine import Connection

from radlab.annotation.v1 import events_pb2 as annotation_events
from radlab.anonymization.v1 import events_pb2 as anonymization_events
from radlab.ingestion.v1 import events_pb2
from radlab.ingestion.v1 import ingestion_service_pb2 as pb
from radlab.type.v1 import geometry_pb2
from services.ingestion import store
from services.ingestion.domain import slices
from services.ingestion.domain.archive import HEAD_BYTES, Archive, ArchiveRefused, Limits, Member, kind_of, suffix_of
from services.ingestion.domain.series import Series, VolumeRefused, build_volume, group_image_series, parse_instance
from shared import paging
from shared.auth import Principal
from shared.consumer import Handler, consumer_group
from shared.db import Database, UnitOfWork, idempotent
from shared.deadletters import DeadLetter, DeadLetterHandler
from shared.errors import FailedPrecondition, InvalidArgument, NotFound
from shared.events import Event, event_type
from shared.grid import array_spacing
from shared.objectstore import DICOM_BUCKET, QUARANTINE_BUCKET, VOLUMES_BUCKET, ObjectNotFound, ObjectStore
from shared.protos import data_type, timestamp
from shared.volume_store import VolumeStore
from shared.volumes import from_nifti_bytes

log = logging.getLogger(__name__)

SPOOL_IN_MEMORY = 8 << 20  # spools larger than this go to a temporary file
_SHA256 = re.compile(r"[0-9a-f]{64}")
_NAMESPACE = uuid.UUID("5d8f6c1e-2b47-4f0a-9a43-7f1c2e9b6a10")  # ids derived from content, per tenant
_ISSUE_KINDS = {
    "gantry_tilt": geometry_pb2.GEOMETRY_ISSUE_KIND_GANTRY_TILT,
    "uneven_spacing": geometry_pb2.GEOMETRY_ISSUE_KIND_UNEVEN_SPACING,
    "missing_slices": geometry_pb2.GEOMETRY_ISSUE_KIND_MISSING_SLICES,
    "duplicate_positions": geometry_pb2.GEOMETRY_ISSUE_KIND_DUPLICATE_POSITIONS,
}
_ANONYMIZATION = consumer_group("anonymization")  # the group whose giving up on a ScanUploaded fails the upload


@dataclass(frozen=True)
class Ports:
    """What ingestion's handlers work with: its database, the object store, volume storage and archive limits."""

    db: Database
    store: ObjectStore
    volumes: VolumeStore
    limits: Limits = field(default_factory=Limits)


# ---- uploads -----------------------------------------------------------------------------------------------

def upload(ports: Ports, caller: Principal, requests: Iterator[pb.UploadFilesRequest]) -> pb.UploadFilesResponse:
    """Take one UploadFiles stream: start or resume the upload, store this stream's bytes, finish when all are in."""
    first = next(requests, None)
    if first is None or first.WhichOneof("content") != "metadata":
        raise InvalidArgument("an UploadFiles stream starts with one UploadMetadata message, then the file's bytes as chunks")
    metadata = first.metadata
    row = _resume(ports, caller, metadata) if metadata.resume_upload_id else _start(ports, caller, metadata)
    received = _receive(ports, row, metadata.offset, requests)
    if received < row.total_size:
        return pb.UploadFilesResponse(upload_id=row.upload_id, bytes_received=received, state=pb.UPLOAD_STATE_RECEIVING)
    return _finish(ports, caller, row.upload_id)


def _start(ports: Ports, caller: Principal, metadata: pb.UploadMetadata):
    sha256 = metadata.sha256.strip().lower()
    if not metadata.dataset_id or len(metadata.dataset_id) > 36:
        raise InvalidArgument("dataset_id is required: create a dataset first (radlab datasets create NAME) and name its id")
    if metadata.total_size <= 0:
        raise InvalidArgument("total_size must be the file's size in bytes (more than 0)")
    if metadata.total_size > ports.limits.max_total_bytes:
        raise InvalidArgument(f"the file is {metadata.total_size} bytes, over the {ports.limits.max_total_bytes}-byte limit; split it")
    if not _SHA256.fullmatch(sha256):
        raise InvalidArgument("sha256 must be the file's SHA-256 as 64 hex digits (e.g. the output of sha256sum)")
    if metadata.offset != 0:
        raise InvalidArgument(f"a new upload starts at offset 0, not {metadata.offset}; to continue one, set resume_upload_id")
    now = time.time()
    upload_id = str(uuid.uuid4())
    with ports.db.unit_of_work() as uow:
        known = store.datasets
        key = (known.c.tenant == caller.tenant) & (known.c.dataset_id == metadata.dataset_id)
        if uow.execute(sa.select(known.c.dataset_id).where(key)).first() is None:
            raise FailedPrecondition(
                f"dataset {metadata.dataset_id} is not known: create it with `radlab datasets create` "
                "(or, if you just did, retry in a moment)"
            )
        uow.execute(store.uploads.insert().values(
            upload_id=upload_id, tenant=caller.tenant, dataset_id=metadata.dataset_id, scan_id="",
            suffix=suffix_of(metadata.file_name), total_size=metadata.total_size, sha256=sha256, bytes_received=0,
            state=pb.UPLOAD_STATE_RECEIVING, failure_reason="", uploader=caller.subject, file_count=0, skipped="[]",
            created_at=now, updated_at=now,
        ))
        return _upload_row(uow, caller.tenant, upload_id)


def _resume(ports: Ports, caller: Principal, metadata: pb.UploadMetadata):
    with ports.db.read() as conn:
        row = _upload_row(conn, caller.tenant, metadata.resume_upload_id)
    if row is None:
        raise NotFound(f"upload {metadata.resume_upload_id!r} not found; start a new upload without resume_upload_id")
    if row.state != pb.UPLOAD_STATE_RECEIVING:
        raise FailedPrecondition(f"upload {row.upload_id} is {_state_name(row.state)}; only a RECEIVING upload can be resumed")
    if (metadata.sha256 and metadata.sha256.strip().lower() != row.sha256) or (metadata.total_size and metadata.total_size != row.total_size):
        raise InvalidArgument(f"upload {row.upload_id} is of another file (its size or sha256 differ); start a new upload")
    if metadata.offset != row.bytes_received:
        raise FailedPrecondition(
            f"offset {metadata.offset} does not match the {row.bytes_received} bytes upload {row.upload_id} holds; "
            f"resume from offset {row.bytes_received} (GetUpload's bytes_received)"
        )
    return row


def _receive(ports: Ports, row, offset: int, requests: Iterator[pb.UploadFilesRequest]) -> int:
    """Store this stream's chunks as one part object; a broken stream keeps what arrived. Returns bytes received."""
    room = row.total_size - offset
    spool = tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY)
    size, broken = 0, None
    try:
        try:
            for request in requests:
                if request.WhichOneof("content") != "chunk":
                    raise InvalidArgument("only the first message of an UploadFiles stream is metadata; the rest are chunks")
                size += len(request.chunk)
                if size > room:
                    raise InvalidArgument(
                        f"the stream sent more than the {row.total_size} bytes announced in total_size; start a new upload"
                    )
                spool.write(request.chunk)
        except InvalidArgument:
            raise
        except Exception as error:  # the client went away: keep what arrived so it can resume from there
            broken = error
        if size:
            spool.seek(0)
            ports.store.ensure_bucket(QUARANTINE_BUCKET)
            key = f"{_parts_prefix(row.upload_id)}{offset:016d}-{uuid.uuid4().hex[:8]}"  # two streams never share a key
            ports.store.put(QUARANTINE_BUCKET, key, spool)
            refused = _add_part(ports, row.upload_id, offset, size, key)
            if refused:
                ports.store.delete(QUARANTINE_BUCKET, key)
                raise FailedPrecondition(refused)
    finally:
        spool.close()
    if broken is not None:
        raise broken
    return offset + size


def _parts_prefix(upload_id: str) -> str:
    return f"uploads/{upload_id}/"


def _add_part(ports: Ports, upload_id: str, offset: int, size: int, key: str) -> str | None:
    """Record a stored part if the upload is still RECEIVING and ends at `offset` (no other stream got there first);
    else say why not."""
    table = store.uploads
    with ports.db.unit_of_work() as uow:
        row = uow.execute(sa.select(table).where(table.c.upload_id == upload_id)).one()
        if row.state != pb.UPLOAD_STATE_RECEIVING:
            return f"upload {upload_id} is {_state_name(row.state)} ({row.failure_reason or 'see GetUpload'}); start a new upload"
        if row.bytes_received != offset:
            return f"upload {upload_id} was continued by another stream; ask GetUpload for the offset"
        uow.execute(table.update().where(table.c.upload_id == upload_id).values(
            bytes_received=offset + size, parts=json.dumps(json.loads(row.parts) + [key]), updated_at=time.time(),
        ))
        return None


def _finish(ports: Ports, caller: Principal, upload_id: str) -> pb.UploadFilesResponse:
    """All bytes are in: concatenate and check them, unpack into quarantine, record ScanUploaded (or the failure)."""
    with ports.db.read() as conn:
        row = _upload_row(conn, caller.tenant, upload_id)
    parts = json.loads(row.parts)
    scan_id = str(uuid.uuid4())
    written: dict[str, int] = {}  # quarantine key → bytes
    with tempfile.TemporaryFile() as whole:
        digest = hashlib.sha256()
        for part in parts:
            try:
                for chunk in ports.store.stream(QUARANTINE_BUCKET, part):
                    digest.update(chunk)
                    whole.write(chunk)
            except ObjectNotFound:
                return _fail(ports, row, parts, [], "a stored part of the upload is missing; upload the file again")
        if digest.hexdigest() != row.sha256:
            return _fail(ports, row, parts, [], (
                f"the file's SHA-256 is {digest.hexdigest()}, not the {row.sha256} announced: it changed or was damaged "
                "on the way; upload it again"
            ))
        try:
            skipped = _unpack(ports, whole, row.total_size, scan_id, written)
        except ArchiveRefused as refused:
            return _fail(ports, row, parts, list(written), str(refused))
        except Exception:  # the store failed: nothing half-written stays; the upload can be finished again
            _delete(ports, written)
            raise
    if not written:
        return _fail(ports, row, parts, [], "no DICOM or NIfTI file in the upload" + (f" ({'; '.join(skipped[:5])})" if skipped else ""))
    table = store.uploads
    with ports.db.unit_of_work() as uow:
        finished = uow.execute(table.update().where(table.c.upload_id == upload_id, table.c.state == pb.UPLOAD_STATE_RECEIVING).values(
            state=pb.UPLOAD_STATE_UPLOADED, scan_id=scan_id, file_count=len(written), skipped=json.dumps(skipped),
            updated_at=time.time(),
        )).rowcount
        if not finished:  # another stream finished it first (a retried last stream): its files stand, not these
            _delete(ports, written)
            raise FailedPrecondition(f"upload {upload_id} was finished by another stream; see GetUpload")
        uow.emit(events_pb2.ScanUploaded(
            upload_id=upload_id, scan_id=scan_id, dataset_id=row.dataset_id, quarantine_bucket=QUARANTINE_BUCKET,
            quarantine_keys=list(written), file_count=len(written), byte_count=sum(written.values()), uploader=row.uploader,
        ), subject=scan_id, tenant=row.tenant)
    _delete(ports, parts)
    log.info("upload complete", extra={"upload_id": upload_id, "scan_id": scan_id, "files": len(written), "skipped": len(skipped)})
    return pb.UploadFilesResponse(
        upload_id=upload_id, scan_id=scan_id, bytes_received=row.total_size, state=pb.UPLOAD_STATE_UPLOADED,
        file_count=len(written), skipped=skipped,
    )


def _unpack(ports: Ports, whole: BinaryIO, size: int, scan_id: str, written: dict[str, int]) -> list[str]:
    """Put each DICOM or NIfTI file of the upload into quarantine (recording key → size in `written`); returns why others were skipped."""
    whole.seek(0)
    kind = kind_of(whole.read(HEAD_BYTES))
    whole.seek(0)
    if kind in ("dicom", "nifti"):
        key = _quarantine_key(scan_id, 1)
        written[key] = 0  # recorded before the put, so a failing put is cleaned up too
        written[key] = ports.store.put(QUARANTINE_BUCKET, key, whole).size
        return []
    if kind not in ("zip", "tar"):
        raise ArchiveRefused(
            "the file is not DICOM (Part 10, with or without preamble), NIfTI (.nii, .nii.gz), zip or tar(.gz); "
            "upload one of those"
        )
    archive = Archive(whole, kind, size, ports.limits)  # every member checked before any is read
    skipped: list[str] = []
    try:
        for member in archive.members:
            with archive.open(member) as stream:
                member_kind = kind_of(stream.read(HEAD_BYTES))
                if member_kind not in ("dicom", "nifti"):
                    skipped.append(_why_skipped(member, member_kind))
                    continue
                key = _quarantine_key(scan_id, len(written) + 1)
                written[key] = 0
                stream.seek(0)  # within the member: zip and tar members seek back by re-reading, no second open
                written[key] = ports.store.put(QUARANTINE_BUCKET, key, stream).size
    finally:
        archive.close()
    return skipped


def _why_skipped(member: Member, kind: str | None) -> str:
    if kind == "dicomdir":
        return f"{member.where}: a DICOMDIR (an index, not an image); the files it lists are taken when they are in the upload"
    if kind in ("zip", "tar"):
        return f"{member.where}: an archive inside the archive; upload it on its own"
    return f"{member.where}: not DICOM or NIfTI"


def _quarantine_key(scan_id: str, number: int) -> str:
    return f"scans/{scan_id}/{number:06d}"  # opaque: file names may hold PHI, and keys travel in events


def _fail(ports: Ports, row, parts: list[str], written: list[str], reason: str) -> pb.UploadFilesResponse:
    with ports.db.unit_of_work() as uow:
        uow.execute(store.uploads.update().where(store.uploads.c.upload_id == row.upload_id).values(
            state=pb.UPLOAD_STATE_FAILED, failure_reason=reason, updated_at=time.time(),
        ))
        uow.emit(events_pb2.IngestFailed(upload_id=row.upload_id, dataset_id=row.dataset_id, reason=reason),
                 subject=row.upload_id, tenant=row.tenant)
    _delete(ports, written + parts)
    log.info("upload failed", extra={"upload_id": row.upload_id})
    return pb.UploadFilesResponse(
        upload_id=row.upload_id, bytes_received=row.total_size, state=pb.UPLOAD_STATE_FAILED, failure_reason=reason,
    )


def _delete(ports: Ports, keys: Iterable[str]) -> None:
    for key in keys:
        ports.store.delete(QUARANTINE_BUCKET, key)


def expire_uploads(ports: Ports, ttl_s: float, now: float | None = None) -> list[str]:
    """Uploads left RECEIVING with no part recorded for `ttl_s` become EXPIRED and their parts are deleted; returns
    their ids. Each is taken by an update conditional on it being idle still, so of several replicas sweeping at
    once one expires it, and a stream that brings a part meanwhile keeps its upload."""
    now = time.time() if now is None else now
    table = store.uploads
    idle = (table.c.state == pb.UPLOAD_STATE_RECEIVING) & (table.c.updated_at < now - ttl_s)
    with ports.db.read() as conn:  # most sweeps find nothing: no write lock for them
        candidates = conn.execute(sa.select(table.c.upload_id).where(idle).order_by(table.c.seq)).scalars().all()
    reason = f"no bytes arrived for {_duration(ttl_s)}, so the bytes received were deleted; upload the file again"
    expired = []
    for upload_id in candidates:
        with ports.db.unit_of_work() as uow:
            taken = uow.execute(table.update().where(table.c.upload_id == upload_id, idle).values(
                state=pb.UPLOAD_STATE_EXPIRED, failure_reason=reason, updated_at=now,
            )).rowcount
        if taken:  # every object under the upload's prefix: also a part whose stream broke before it was recorded
            ports.store.ensure_bucket(QUARANTINE_BUCKET)
            _delete(ports, [info.key for info in ports.store.list(QUARANTINE_BUCKET, _parts_prefix(upload_id))])
            expired.append(upload_id)
    if expired:
        log.info("uploads expired", extra={"uploads": expired, "ttl_s": ttl_s})
    return expired


def _duration(seconds: float) -> str:
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


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
    with ports.db.unit_of_work() as uow:
        if uow.already_processed(consumer, event.id):
            return
        if uow.execute(table.update().where(waiting).values(
            state=pb.UPLOAD_STATE_FAILED, failure_reason=reason, updated_at=time.time(),
        )).rowcount:
            uow.emit(events_pb2.IngestFailed(
                upload_id=row.upload_id, scan_id=row.scan_id, dataset_id=row.dataset_id, reason=reason,
            ), subject=row.upload_id, tenant=tenant)
        uow.mark_processed(consumer, event.id)
    log.info("upload failed: anonymization gave up", extra={"upload_id": row.upload_id, "scan_id": row.scan_id})


def dead_letter_handlers(ports: Ports, consumer: str) -> dict[str, DeadLetterHandler]:
    """The dead letters of ingestion's own ScanUploaded: an upload anonymization gave up on is FAILED, not left waiting."""
    return {event_type(events_pb2.ScanUploaded): lambda letter: on_scan_upload_dead_lettered(ports, consumer, letter)}


def get_upload(ports: Ports, caller: Principal, upload_id: str) -> pb.Upload:
    with ports.db.read() as conn:
        row = _upload_row(conn, caller.tenant, upload_id) if upload_id else None
        if row is None:
            raise NotFound(f"upload {upload_id!r} not found")
        return _upload(conn, row)


def list_uploads(ports: Ports, caller: Principal, dataset_id: str, state: int, before: int, limit: int) -> tuple[list[pb.Upload], int | None]:
    """One page of uploads, newest first; `before` is the position the page starts before (0: from the newest)."""
    table = store.uploads
    query = sa.select(table).where(table.c.tenant == caller.tenant)
    if dataset_id:
        query = query.where(table.c.dataset_id == dataset_id)
    if state:
        query = query.where(table.c.state == state)
    with ports.db.read() as conn:
        rows, next_before = paging.page_of(conn, query, table.c.seq, before, limit, newest_first=True)
        return [_upload(conn, row) for row in rows], next_before


def _upload_row(conn: UnitOfWork | Connection, tenant: str, upload_id: str):
    table = store.uploads
    return conn.execute(sa.select(table).where(table.c.tenant == tenant, table.c.upload_id == upload_id)).first()


def _upload(conn: Connection, row) -> pb.Upload:
    link = store.upload_volumes
    volumes = conn.execute(
        sa.select(link.c.volume_id, link.c.study_id).where(link.c.upload_id == row.upload_id).order_by(link.c.seq)
    ).all()
    return pb.Upload(
        upload_id=row.upload_id, scan_id=row.scan_id, dataset_id=row.dataset_id, file_name=row.suffix,
        total_size=row.total_size, sha256=row.sha256, bytes_received=row.bytes_received, state=row.state,
        failure_reason=row.failure_reason, uploader=row.uploader,
        study_ids=list(dict.fromkeys(volume.study_id for volume in volumes)), volume_ids=[volume.volume_id for volume in volumes],
        create_time=timestamp(row.created_at), update_time=timestamp(row.updated_at),
        file_count=row.file_count, skipped=json.loads(row.skipped),
    )


def _state_name(state: int) -> str:
    return pb.UploadState.Name(state).removeprefix("UPLOAD_STATE_")


# ---- ScanAnonymized → volumes ------------------------------------------------------------------------------

@dataclass
class _Built:
    """One volume made from a scan, written to the volume store, waiting to be recorded."""

    volume_id: str
    study: dict
    series: dict
    instances: list[dict]
    volume_ref: geometry_pb2.VolumeRef
    modality: str
    min_value: float
    max_value: float


@dataclass
class _Refused:
    series_instance_uid: str
    reason: str


def on_scan_anonymized(ports: Ports, consumer: str, event: Event) -> None:
    """Build and store every volume of the scan, then record them with their events in one transaction."""
    anonymized: anonymization_events.ScanAnonymized = event.message
    tenant = event.envelope.tenant
    # A reviewer's release of one held instance adds to an upload already done: it never un-completes it.
    release = bool(anonymized.released_held_instance_id)
    with ports.db.unit_of_work() as uow:
        if uow.already_processed(consumer, event.id):
            return
        if not release:
            _set_upload_state(uow, tenant, anonymized.upload_id, pb.UPLOAD_STATE_PROCESSING)
    bucket = anonymized.dicom_bucket or DICOM_BUCKET
    built, refused = _build(ports, tenant, anonymized.dataset_id, bucket, list(anonymized.object_keys))
    now = time.time()
    with ports.db.unit_of_work() as uow:
        if uow.already_processed(consumer, event.id):
            return
        for volume in built:
            _record_volume(uow, tenant, anonymized, volume, now)
        for series in refused:
            uow.emit(events_pb2.IngestFailed(
                upload_id=anonymized.upload_id, scan_id=anonymized.scan_id, dataset_id=anonymized.dataset_id,
                series_instance_uid=series.series_instance_uid, reason=series.reason,
            ), subject=anonymized.scan_id, tenant=tenant)
        if built or not (refused or release):
            _set_upload_state(uow, tenant, anonymized.upload_id, pb.UPLOAD_STATE_COMPLETED)
        elif not release:
            _set_upload_state(uow, tenant, anonymized.upload_id, pb.UPLOAD_STATE_FAILED, "; ".join(r.reason for r in refused))
        uow.mark_processed(consumer, event.id)
    log.info("scan ingested", extra={"scan_id": anonymized.scan_id, "volumes": len(built), "refused": len(refused)})


def on_anonymization_failed(ports: Ports, consumer: str, event: Event) -> None:
    """The upload could not be de-identified: it is FAILED, with anonymization's reason, and IngestFailed says so
    (once: an upload already failed or built stays as it is)."""
    failed: anonymization_events.AnonymizationFailed = event.message
    tenant, table = event.envelope.tenant, store.uploads
    waiting = (table.c.tenant == tenant) & (table.c.upload_id == failed.upload_id) & (table.c.state == pb.UPLOAD_STATE_UPLOADED)
    reason = f"not de-identified: {failed.reason}"
    with ports.db.unit_of_work() as uow:
        if uow.already_processed(consumer, event.id):
            return
        row = uow.execute(sa.select(table).where(waiting)).first()
        if row is not None and uow.execute(table.update().where(waiting).values(
            state=pb.UPLOAD_STATE_FAILED, failure_reason=reason, updated_at=time.time(),
        )).rowcount:
            uow.emit(events_pb2.IngestFailed(
                upload_id=row.upload_id, scan_id=row.scan_id, dataset_id=row.dataset_id, reason=reason,
            ), subject=row.upload_id, tenant=tenant)
        uow.mark_processed(consumer, event.id)


def _set_upload_state(uow: UnitOfWork, tenant: str, upload_id: str, state: int, reason: str = "") -> None:
    table = store.uploads
    values = {"state": state, "updated_at": time.time()} | ({"failure_reason": reason} if reason else {})
    uow.execute(table.update().where(table.c.tenant == tenant, table.c.upload_id == upload_id).values(**values))


def _build(ports: Ports, tenant: str, dataset_id: str, bucket: str, keys: list[str]) -> tuple[list[_Built], list[_Refused]]:
    """Read the de-identified objects, build each series (and each NIfTI) into a stored volume."""
    datasets: list[Dataset] = []
    where: dict[int, str] = {}  # id(dataset) → its object key
    built: list[_Built] = []
    refused: list[_Refused] = []
    for key in keys:
        try:
            data = ports.store.get(bucket, key)
        except ObjectNotFound:
            refused.append(_Refused("", "a de-identified instance is missing from the dicom bucket; upload the scan again"))
            continue
        kind = kind_of(data[:HEAD_BYTES])
        if kind == "nifti":
            built.append(_nifti_volume(ports, tenant, dataset_id, bucket, key, data, refused))
            continue
        dataset = parse_instance(data) if kind == "dicom" else None
        if dataset is None:
            continue  # no pixel data (structured reports, RT structures, …): nothing to build, nothing to refuse
        datasets.append(dataset)
        where[id(dataset)] = key
    series_list, unusable = group_image_series(datasets)
    refused += [_Refused(uid, f"series {uid}: {reason}") for uid, reason in unusable.items()]
    for series in series_list:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pydicom warnings may quote values
                volume = build_volume(series)
        except VolumeRefused as error:
            refused.append(_Refused(series.series_uid, str(error)))
            continue
        except (ValueError, RuntimeError, NotImplementedError, AttributeError) as error:
            refused.append(_Refused(series.series_uid, (
                f"{series.description}: the pixel data could not be decoded ({type(error).__name__}); "
                "export the series uncompressed or in a transfer syntax pydicom reads, and upload it again"
            )))
            continue
        built.append(_dicom_volume(ports, tenant, dataset_id, bucket, series, volume, where))
    return [volume for volume in built if volume is not None], refused


def _dicom_volume(ports: Ports, tenant: str, dataset_id: str, bucket: str, series: Series, volume, where: dict[int, str]) -> _Built:
    first = series.frames[0].dataset
    sops = sorted({str(frame.dataset.SOPInstanceUID) for frame in series.frames})
    content = hashlib.sha256("\n".join([series.series_uid, json.dumps(series.split, sort_keys=True, default=str), *sops]).encode())
    volume_id = str(uuid.uuid5(_NAMESPACE, f"{tenant}/{dataset_id}/{content.hexdigest()}"))
    modality = str(first.get("Modality", ""))[:16]
    attributes = slices.volume_attributes(volume.data, modality, slices.Window(*volume.window) if volume.window else None)
    with ports.db.read() as conn:
        known = conn.execute(sa.select(store.volumes.c.volume_id).where(store.volumes.c.volume_id == volume_id)).first()
    if known is None:  # the same instances uploaded again make the same volume: it is stored already
        ports.volumes.write(VOLUMES_BUCKET, volume_id, volume.data, volume.affine, attributes)
    instances = {str(frame.dataset.SOPInstanceUID): frame.dataset for frame in series.frames}
    return _Built(
        volume_id=volume_id,
        study=_study_facts(first, series.study_uid),
        series={
            "series_instance_uid": series.series_uid, "modality": modality, "series_number": _int(first.get("SeriesNumber")) or 0,
            "description": str(first.get("SeriesDescription", "")), "body_part": str(first.get("BodyPartExamined", ""))[:64],
        },
        instances=[
            {"sop_instance_uid": sop, "instance_number": _int(dataset.get("InstanceNumber")), "bucket": bucket, "object_key": where[id(dataset)]}
            for sop, dataset in instances.items()
        ],
        volume_ref=_volume_ref(volume_id, volume.data, volume.affine, str(first.get("FrameOfReferenceUID", "")), volume.issues),
        modality=modality, min_value=attributes["min_value"], max_value=attributes["max_value"],
    )


def _nifti_volume(ports: Ports, tenant: str, dataset_id: str, bucket: str, key: str, data: bytes, refused: list[_Refused]) -> _Built | None:
    """A NIfTI object as a volume of its own study and series, its affine kept exactly (shared.volumes.from_nifti_bytes)."""
    try:
        array, affine = from_nifti_bytes(data)
    except (ValueError, OSError, EOFError) as error:
        refused.append(_Refused("", f"a NIfTI file could not be read as one 3D volume ({error}); upload a 3D .nii or .nii.gz"))
        return None
    identity = uuid.uuid5(_NAMESPACE, f"{tenant}/{dataset_id}/{bucket}/{key}")
    volume_id = str(identity)
    attributes = slices.volume_attributes(array, "")
    ports.volumes.write(VOLUMES_BUCKET, volume_id, array, affine, attributes)
    uid = f"2.25.{identity.int}"  # NIfTI has no UIDs: the study and series are named for the file's content key
    return _Built(
        volume_id=volume_id, study=_study_facts(Dataset(), uid),
        series={"series_instance_uid": uid, "modality": "", "series_number": 0, "description": "", "body_part": ""},
        instances=[], volume_ref=_volume_ref(volume_id, array, affine, "", []), modality="",
        min_value=attributes["min_value"], max_value=attributes["max_value"],
    )


def _study_facts(dataset: Dataset, study_uid: str) -> dict:
    return {
        "study_instance_uid": study_uid, "patient_pseudonym": str(dataset.get("PatientID", ""))[:64],
        "study_date": str(dataset.get("StudyDate", ""))[:8], "description": str(dataset.get("StudyDescription", "")),
    }


def _int(value) -> int | None:
    try:
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def _volume_ref(volume_id: str, array: np.ndarray, affine: np.ndarray, frame_of_reference: str, issues) -> geometry_pb2.VolumeRef:
    spacing = list(array_spacing(affine))
    resampled = any(issue.kind == "resampled" for issue in issues)
    how = next((issue.message for issue in issues if issue.kind == "resampled"), "")
    return geometry_pb2.VolumeRef(
        volume_id=volume_id, bucket=VOLUMES_BUCKET, key_prefix=volume_id, format=geometry_pb2.VOLUME_FORMAT_ZARR,
        dtype=data_type(array.dtype),
        geometry=geometry_pb2.Geometry(
            shape=list(array.shape), affine=[float(v) for v in np.asarray(affine).ravel()], spacing=spacing,
            frame_of_reference_uid=frame_of_reference,
            issues=[_issue(issue, resampled, how) for issue in issues if issue.kind in _ISSUE_KINDS],
        ),
    )


def _issue(issue, resampled: bool, how: str) -> geometry_pb2.GeometryIssue:
    values = issue.values
    kind = _ISSUE_KINDS[issue.kind]
    value = {
        "gantry_tilt": values.get("angle_deg"), "missing_slices": values.get("count"), "duplicate_positions": values.get("count"),
        "uneven_spacing": (values.get("max_mm", 0.0) - values.get("min_mm", 0.0)),
    }[issue.kind]
    corrected = resampled and issue.kind != "duplicate_positions"
    return geometry_pb2.GeometryIssue(
        kind=kind, message=issue.message + (f"; {how}" if corrected else ""),
        slice_indices=[int(index) for index in values.get("after_slices", [])], value=float(value or 0.0), corrected=corrected,
    )


def _record_volume(uow: UnitOfWork, tenant: str, anonymized, volume: _Built, now: float) -> None:
    dataset_id = anonymized.dataset_id
    study_id = _upsert_study(uow, tenant, dataset_id, volume.study, volume.modality, now)
    series_id = _upsert_series(uow, tenant, dataset_id, study_id, volume.series, now)
    for instance in volume.instances:
        key = (store.instances.c.tenant == tenant) & (store.instances.c.series_id == series_id) & (
            store.instances.c.sop_instance_uid == instance["sop_instance_uid"])
        if uow.execute(sa.select(store.instances.c.sop_instance_uid).where(key)).first() is None:
            uow.execute(store.instances.insert().values(tenant=tenant, series_id=series_id, **instance))
    link = store.upload_volumes
    if uow.execute(sa.select(link.c.volume_id).where(link.c.upload_id == anonymized.upload_id, link.c.volume_id == volume.volume_id)).first() is None:
        uow.execute(link.insert().values(upload_id=anonymized.upload_id, volume_id=volume.volume_id, study_id=study_id, created_at=now))
    table = store.volumes
    if uow.execute(sa.select(table.c.volume_id).where(table.c.volume_id == volume.volume_id)).first() is not None:
        return  # the same series uploaded again: its volume exists and was announced then
    uow.execute(table.insert().values(
        volume_id=volume.volume_id, tenant=tenant, dataset_id=dataset_id, study_id=study_id, series_id=series_id,
        upload_id=anonymized.upload_id, scan_id=anonymized.scan_id, modality=volume.modality,
        volume_ref=volume.volume_ref.SerializeToString(), min_value=volume.min_value, max_value=volume.max_value, created_at=now,
    ))
    uow.emit(events_pb2.VolumeReady(
        volume_id=volume.volume_id, study_id=study_id, series_id=series_id, dataset_id=dataset_id, scan_id=anonymized.scan_id,
        volume_ref=volume.volume_ref, modality=volume.modality, series_description=volume.series["description"],
    ), subject=study_id, tenant=tenant)


def _upsert_study(uow: UnitOfWork, tenant: str, dataset_id: str, facts: dict, modality: str, now: float) -> str:
    table = store.studies
    row = uow.execute(sa.select(table).where(
        table.c.tenant == tenant, table.c.dataset_id == dataset_id, table.c.study_instance_uid == facts["study_instance_uid"]
    )).first()
    if row is None:
        study_id = str(uuid.uuid4())
        uow.execute(table.insert().values(
            study_id=study_id, tenant=tenant, dataset_id=dataset_id, modalities=json.dumps([modality] if modality else []),
            created_at=now, **facts,
        ))
        return study_id
    modalities = json.loads(row.modalities)
    if modality and modality not in modalities:
        uow.execute(table.update().where(table.c.study_id == row.study_id).values(modalities=json.dumps(modalities + [modality])))
    return row.study_id


def _upsert_series(uow: UnitOfWork, tenant: str, dataset_id: str, study_id: str, facts: dict, now: float) -> str:
    table = store.series
    row = uow.execute(sa.select(table.c.series_id).where(
        table.c.tenant == tenant, table.c.dataset_id == dataset_id, table.c.series_instance_uid == facts["series_instance_uid"]
    )).first()
    if row is not None:
        return row.series_id
    series_id = str(uuid.uuid4())
    uow.execute(table.insert().values(series_id=series_id, study_id=study_id, tenant=tenant, dataset_id=dataset_id, created_at=now, **facts))
    return series_id


# ---- datasets and vendor sharing (annotation's facts, cached) ----------------------------------------------

def on_dataset_created(uow: UnitOfWork, event: Event) -> None:
    """Remember the dataset in its tenant, so uploads into it are taken."""
    created: annotation_events.DatasetCreated = event.message
    uow.execute(store.datasets.insert().values(tenant=event.envelope.tenant, dataset_id=created.dataset_id))


def event_handlers(ports: Ports, consumer: str) -> dict[str, Handler]:
    """ScanAnonymized → volumes; AnonymizationFailed → a FAILED upload; datasets cached for uploads, vendor sharing
    for slice access."""
    return {
        event_type(annotation_events.DatasetCreated): idempotent(ports.db, consumer, on_dataset_created),
        event_type(anonymization_events.ScanAnonymized): lambda event: on_scan_anonymized(ports, consumer, event),
        event_type(anonymization_events.AnonymizationFailed): lambda event: on_anonymization_failed(ports, consumer, event),
        **store.vendor_shares.event_handlers(ports.db, consumer),
    }


# ---- studies, series, volumes ------------------------------------------------------------------------------

def list_studies(ports: Ports, caller: Principal, request: pb.ListStudiesRequest, after: int, limit: int) -> tuple[list[pb.Study], int | None]:
    table = store.studies
    query = sa.select(table).where(table.c.tenant == caller.tenant)
    if request.dataset_id:
        query = query.where(table.c.dataset_id == request.dataset_id)
    if request.patient_pseudonym:
        query = query.where(table.c.patient_pseudonym == request.patient_pseudonym)
    if request.modality:
        query = query.where(table.c.modalities.contains(json.dumps(request.modality)))
    with ports.db.read() as conn:
        rows, next_after = paging.page_of(conn, query, table.c.seq, after, limit)
        return _studies(conn, rows), next_after


def get_study(ports: Ports, caller: Principal, study_id: str) -> pb.Study:
    table = store.studies
    with ports.db.read() as conn:
        row = conn.execute(sa.select(table).where(table.c.tenant == caller.tenant, table.c.study_id == study_id)).first()
        if row is None:
            raise NotFound(f"study {study_id!r} not found")
        return _studies(conn, [row])[0]


def _studies(conn: Connection, rows) -> list[pb.Study]:
    """The studies of `rows`, their series counted in one query for the page."""
    counts = _counts(conn, store.series.c.study_id, [row.study_id for row in rows])
    return [pb.Study(
        study_id=row.study_id, dataset_id=row.dataset_id, study_instance_uid=row.study_instance_uid,
        patient_pseudonym=row.patient_pseudonym, study_date=row.study_date, description=row.description,
        modalities=json.loads(row.modalities), series_count=counts.get(row.study_id, 0), create_time=timestamp(row.created_at),
    ) for row in rows]


def _counts(conn: Connection, column, keys: list[str]) -> dict[str, int]:
    """How many rows of `column`'s table hold each of `keys` (absent: none)."""
    if not keys:
        return {}
    return dict(conn.execute(sa.select(column, sa.func.count()).where(column.in_(keys)).group_by(column)).all())


def list_series(ports: Ports, caller: Principal, request: pb.ListSeriesRequest, after: int, limit: int) -> tuple[list[pb.Series], int | None]:
    table = store.series
    query = sa.select(table).where(table.c.tenant == caller.tenant)
    if request.study_id:
        query = query.where(table.c.study_id == request.study_id)
    if request.dataset_id:
        query = query.where(table.c.dataset_id == request.dataset_id)
    with ports.db.read() as conn:
        rows, next_after = paging.page_of(conn, query, table.c.seq, after, limit)
        return _series_of(conn, rows), next_after


def get_series(ports: Ports, caller: Principal, series_id: str) -> pb.Series:
    table = store.series
    with ports.db.read() as conn:
        row = conn.execute(sa.select(table).where(table.c.tenant == caller.tenant, table.c.series_id == series_id)).first()
        if row is None:
            raise NotFound(f"series {series_id!r} not found")
        return _series_of(conn, [row])[0]


def _series_of(conn: Connection, rows) -> list[pb.Series]:
    """The series of `rows`, their instances counted and volumes listed in one query each for the page."""
    ids = [row.series_id for row in rows]
    instances = _counts(conn, store.instances.c.series_id, ids)
    volumes: dict[str, list[str]] = defaultdict(list)
    if ids:
        table = store.volumes
        for series_id, volume_id in conn.execute(
            sa.select(table.c.series_id, table.c.volume_id).where(table.c.series_id.in_(ids)).order_by(table.c.seq)
        ):
            volumes[series_id].append(volume_id)
    return [pb.Series(
        series_id=row.series_id, study_id=row.study_id, dataset_id=row.dataset_id, series_instance_uid=row.series_instance_uid,
        modality=row.modality, series_number=row.series_number, description=row.description, body_part=row.body_part,
        instance_count=instances.get(row.series_id, 0), volume_ids=volumes[row.series_id], create_time=timestamp(row.created_at),
    ) for row in rows]


def get_volume(ports: Ports, caller: Principal, volume_id: str) -> pb.Volume:
    row = _volume_row(ports, caller, volume_id)
    return pb.Volume(
        volume_ref=geometry_pb2.VolumeRef.FromString(row.volume_ref), series_id=row.series_id, study_id=row.study_id,
        dataset_id=row.dataset_id, modality=row.modality, min_value=row.min_value, max_value=row.max_value,
        create_time=timestamp(row.created_at),
    )


def _volume_row(ports: Ports, caller: Principal, volume_id: str):
    """The volume, if the caller may see it: its tenant's, and for vendors only in a dataset shared with them."""
    table = store.volumes
    with ports.db.read() as conn:
        row = conn.execute(sa.select(table).where(table.c.tenant == caller.tenant, table.c.volume_id == volume_id)).first() if volume_id else None
        if row is not None and not store.vendor_shares.visible(conn, caller, row.dataset_id):
            row = None
    if row is None:
        raise NotFound(f"volume {volume_id!r} not found")
    return row


# ---- slices and thumbnails ---------------------------------------------------------------------------------

_PLANES = {
    geometry_pb2.PLANE_AXIAL: slices.Plane.AXIAL, geometry_pb2.PLANE_CORONAL: slices.Plane.CORONAL,
    geometry_pb2.PLANE_SAGITTAL: slices.Plane.SAGITTAL,
}
_COLORMAPS = {
    pb.COLORMAP_UNSPECIFIED: slices.Colormap.GRAY, pb.COLORMAP_GRAY: slices.Colormap.GRAY, pb.COLORMAP_BONE: slices.Colormap.BONE,
    pb.COLORMAP_HOT: slices.Colormap.HOT, pb.COLORMAP_VIRIDIS: slices.Colormap.VIRIDIS,
}


def get_slice(ports: Ports, caller: Principal, request: pb.GetSliceRequest) -> pb.GetSliceResponse:
    """One slice of a volume in a plane, by index or position in mm: its raw values, or a windowed PNG."""
    if request.plane not in _PLANES:
        raise InvalidArgument("plane is required: PLANE_AXIAL, PLANE_CORONAL or PLANE_SAGITTAL")
    ref = geometry_pb2.VolumeRef.FromString(_volume_row(ports, caller, request.volume_id).volume_ref)
    affine = np.reshape(ref.geometry.affine, (4, 4))
    which = request.WhichOneof("position")
    location = slices.locate(
        affine, tuple(ref.geometry.shape), _PLANES[request.plane],
        index=request.slice_index if which == "slice_index" else None,
        position_mm=request.position_mm if which == "position_mm" else None,
    )
    pixels = ports.volumes.slice(ref.bucket, ref.key_prefix, location.axis, location.index)
    response = pb.GetSliceResponse(
        slice_index=location.index, position_mm=location.position_mm, shape=list(pixels.shape), pixel_spacing=list(location.pixel_spacing),
    )
    if request.format == pb.SLICE_FORMAT_PNG:
        window = slices.resolve_window(_window_choice(request), ports.volumes.info(ref.bucket, ref.key_prefix).attributes)
        response.data = slices.encode_png(slices.render(pixels, window, _COLORMAPS[request.colormap], request.invert))
        response.applied_window.CopyFrom(pb.Window(center=window.center, width=window.width))
    else:
        response.data = slices.raw_bytes(pixels)
        response.dtype = ref.dtype
    return response


def _window_choice(request: pb.GetSliceRequest) -> slices.WindowPreset | slices.Window | None:
    which = request.WhichOneof("window")
    if which == "explicit_window":
        return slices.Window(request.explicit_window.center, request.explicit_window.width)
    if which == "window_preset" and request.window_preset != pb.WINDOW_PRESET_UNSPECIFIED:
        return slices.WindowPreset[pb.WindowPreset.Name(request.window_preset).removeprefix("WINDOW_PRESET_")]
    return None


def get_thumbnail(ports: Ports, caller: Principal, request: pb.GetThumbnailRequest) -> pb.GetThumbnailResponse:
    """A small PNG of the middle axial slice of a volume (a study's or series' first volume), in its default window."""
    ref = geometry_pb2.VolumeRef.FromString(_volume_row(ports, caller, _thumbnail_volume(ports, caller, request)).volume_ref)
    affine = np.reshape(ref.geometry.affine, (4, 4))
    location = slices.middle_axial(affine, tuple(ref.geometry.shape))
    pixels = ports.volumes.slice(ref.bucket, ref.key_prefix, location.axis, location.index)
    window = slices.resolve_window(None, ports.volumes.info(ref.bucket, ref.key_prefix).attributes)
    image = slices.thumbnail(pixels, location.pixel_spacing, window, request.max_size or slices.THUMBNAIL_SIZE)
    return pb.GetThumbnailResponse(png=slices.encode_png(image), width=image.shape[1], height=image.shape[0])


def _thumbnail_volume(ports: Ports, caller: Principal, request: pb.GetThumbnailRequest) -> str:
    which = request.WhichOneof("target")
    if which == "volume_id" or which is None:
        return request.volume_id
    table = store.volumes
    column = table.c.study_id if which == "study_id" else table.c.series_id
    with ports.db.read() as conn:
        volume_id = conn.execute(
            sa.select(table.c.volume_id).where(table.c.tenant == caller.tenant, column == getattr(request, which))
            .order_by(table.c.seq).limit(1)
        ).scalar()
    if volume_id is None:
        raise NotFound(f"no volume for {which.removesuffix('_id')} {getattr(request, which)!r}")
    return volume_id
