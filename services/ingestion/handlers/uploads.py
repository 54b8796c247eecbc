"""Uploads: chunked streams into quarantine, checked whole and unpacked into one ScanUploaded; expiry; queries."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, BinaryIO

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from radlab.ingestion.v1 import events_pb2
from radlab.ingestion.v1 import ingestion_service_pb2 as pb
from radlab.quoting import shown
from services.ingestion import store
from services.ingestion.domain.archive import HEAD_BYTES, Archive, ArchiveRefused, Limits, Member, kind_of, suffix_of
from shared import paging
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from shared.objectstore import QUARANTINE_BUCKET, ObjectNotFound
from shared.protos import timestamp
from shared.volumes import VolumeTooLarge, check_nifti, read_nifti_header

if TYPE_CHECKING:
    from services.ingestion.handlers import Ports

log = logging.getLogger(__name__)

SPOOL_IN_MEMORY = 8 << 20  # spools larger than this go to a temporary file
_SHA256 = re.compile(r"[0-9a-f]{64}")


def upload(ports: Ports, caller: Principal, requests: Iterator[pb.UploadFilesRequest]) -> pb.UploadFilesResponse:
    """Take one UploadFiles stream: start or resume the upload, store this stream's bytes, finish when all are in.

    Uploads go only into datasets annotation announced; an unknown one is refused before anything is stored, and only
    the uploader may resume an upload. Each stream's bytes become one part object in `quarantine` (object stores do not
    append); when the last byte arrives the parts are concatenated into a local spool while hashing, the sha256 is
    checked, archives are checked whole before any member is read, a NIfTI's header is checked against the voxel
    budget, and every DICOM or NIfTI file becomes one quarantine object under an opaque key; one transaction then
    records the upload and ScanUploaded. A failure (also a member whose data turns out damaged) records a FAILED upload
    with its reason (IngestFailed) and removes whatever it had written.
    """
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
        if not store.datasets.known(uow, caller.tenant, metadata.dataset_id):
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
        raise NotFound(f"upload {shown(metadata.resume_upload_id)} not found; start a new upload without resume_upload_id")
    if row.uploader != caller.subject:  # a stream writes into the upload: its uploader's alone, admins' neither
        raise PermissionDenied(
            f"upload {row.upload_id} was started by another user and only they can resume it; start a new upload without "
            "resume_upload_id"
        )
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
            ports.objects.ensure_bucket(QUARANTINE_BUCKET)
            key = f"{_parts_prefix(row.upload_id)}{offset:016d}-{uuid.uuid4().hex[:8]}"  # two streams never share a key
            ports.objects.put(QUARANTINE_BUCKET, key, spool)
            refused = _add_part(ports, row.upload_id, offset, size, key)
            if refused:
                ports.objects.delete(QUARANTINE_BUCKET, key)
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
                for chunk in ports.objects.stream(QUARANTINE_BUCKET, part):
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
    head = whole.read(HEAD_BYTES)
    kind = kind_of(head)
    whole.seek(0)
    if kind in ("dicom", "nifti"):
        why = _nifti_refusal(head, ports.limits) if kind == "nifti" else None
        if why:
            raise ArchiveRefused(f"the NIfTI file is {why}")
        key = _quarantine_key(scan_id, 1)
        written[key] = 0  # recorded before the put, so a failing put is cleaned up too
        written[key] = ports.objects.put(QUARANTINE_BUCKET, key, whole).size
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
                head = stream.read(HEAD_BYTES)
                member_kind = kind_of(head)
                if member_kind not in ("dicom", "nifti"):
                    skipped.append(_why_skipped(member, member_kind))
                    continue
                why = _nifti_refusal(head, ports.limits) if member_kind == "nifti" else None
                if why:
                    skipped.append(f"{member.where}: a NIfTI file {why}")
                    continue
                key = _quarantine_key(scan_id, len(written) + 1)
                written[key] = 0
                stream.seek(0)  # within the member: zip and tar members seek back by re-reading, no second open
                written[key] = ports.objects.put(QUARANTINE_BUCKET, key, stream).size
    finally:
        archive.close()
    return skipped


def _nifti_refusal(head: bytes, limits: Limits) -> str | None:
    """Why a NIfTI file starting with `head` will not build, from its header alone (so neither anonymization nor the
    build ever inflates it): not one 3D volume, or over the voxel budget; None when it will."""
    try:
        check_nifti(read_nifti_header(head), limits.max_voxels)
    except VolumeTooLarge as error:
        return f"too large to build: {error}"
    except ValueError as error:
        return f"not one 3D volume ({error}); upload a 3D .nii or .nii.gz"
    return None


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
        ports.objects.delete(QUARANTINE_BUCKET, key)


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
            ports.objects.ensure_bucket(QUARANTINE_BUCKET)
            _delete(ports, [info.key for info in ports.objects.list(QUARANTINE_BUCKET, _parts_prefix(upload_id))])
            expired.append(upload_id)
    if expired:
        log.info("uploads expired", extra={"uploads": expired, "ttl_s": ttl_s})
    return expired


def _duration(seconds: float) -> str:
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def get_upload(ports: Ports, caller: Principal, upload_id: str) -> pb.Upload:
    with ports.db.read() as conn:
        row = _upload_row(conn, caller.tenant, upload_id) if upload_id else None
        if row is None:
            raise NotFound(f"upload {shown(upload_id)} not found")
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
