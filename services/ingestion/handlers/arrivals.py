"""Instances a PACS sends (C-STORE, STOW-RS): each into quarantine as it arrives; a study that has gone quiet becomes one
upload and one ScanUploaded, the way an uploaded archive does, so nothing of it is visible before it is whole."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from pydicom import dcmread
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from radlab.ingestion.v1 import events_pb2
from radlab.ingestion.v1 import ingestion_service_pb2 as pb
from services.ingestion import store
from services.ingestion.sources import Source
from shared.objectstore import QUARANTINE_BUCKET

if TYPE_CHECKING:
    from services.ingestion.handlers import Ports

log = logging.getLogger(__name__)

# DICOM C-STORE statuses (PS3.4 Annex B.2.3), also what STOW-RS reports per instance (PS3.18 Table 10.5.3-1).
SOP_CLASS_NOT_SUPPORTED = 0x0122
PROCESSING_FAILURE = 0x0110
CANNOT_UNDERSTAND = 0xC000


class InstanceRefused(Exception):
    """An instance a PACS sent that is not taken; `status` is the DICOM status that says so, the message says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Received:
    """An instance taken into quarantine, named as its sender named it (for the sender's receipt only)."""

    sop_class_uid: str
    sop_instance_uid: str


def is_image_storage(sop_class_uid: str) -> bool:
    """Whether a Storage SOP class holds images a volume is made of (CT, MR, enhanced and multi-frame, radiographs …),
    not reports, structure sets, presentation states, segmentations or raw data."""
    return "Image Storage" in UID(sop_class_uid).name


def receive(ports: Ports, source: Source, data: bytes, study_uid: str = "") -> Received:
    """Take one DICOM Part 10 instance from `source` into quarantine, to wait there for its study to go quiet.

    An instance the dataset does not take (not an image), one that is not DICOM, one of another study than `study_uid`
    (when given) or one for a dataset ingestion has not heard of is refused with InstanceRefused and nothing is stored.
    The same instance sent again replaces the copy that waits."""
    try:
        header = dcmread(io.BytesIO(data), stop_before_pixels=True)
        sop_class_uid = str(header.get("SOPClassUID", "") or header.file_meta.get("MediaStorageSOPClassUID", ""))
        sop_instance_uid, its_study = str(header.get("SOPInstanceUID", "")), str(header.get("StudyInstanceUID", ""))
    except (InvalidDicomError, EOFError, ValueError, AttributeError) as error:
        raise InstanceRefused(CANNOT_UNDERSTAND, f"not a readable DICOM instance ({type(error).__name__}); send it again") from None
    if not (sop_instance_uid and its_study):
        raise InstanceRefused(CANNOT_UNDERSTAND, "the instance has no SOP Instance UID or Study Instance UID")
    if study_uid and its_study != study_uid:
        raise InstanceRefused(PROCESSING_FAILURE, "the instance is of another study than the one the request names")
    if not is_image_storage(sop_class_uid):
        name = UID(sop_class_uid).name if sop_class_uid else "an instance without a SOP Class UID"
        raise InstanceRefused(SOP_CLASS_NOT_SUPPORTED, f"dataset {source.dataset_id} takes images; {name} is not one")
    with ports.db.read() as conn:
        known = store.datasets.known(conn, source.tenant, source.dataset_id)
    if not known:
        raise InstanceRefused(PROCESSING_FAILURE, f"dataset {source.dataset_id}, which AE title {source.ae_title} is bound "
                                                  "to, is not known: create it (radlab datasets create) or fix the binding")
    study_key, instance_key = _key(source, its_study), _key(source, sop_instance_uid)
    ports.objects.ensure_bucket(QUARANTINE_BUCKET)
    quarantine_key = f"pacs/{uuid.uuid4()}"  # opaque: UIDs may identify a patient, and keys travel in events
    ports.objects.put(QUARANTINE_BUCKET, quarantine_key, io.BytesIO(data))
    table = store.pacs_arrivals
    same = ((table.c.tenant == source.tenant) & (table.c.dataset_id == source.dataset_id)
            & (table.c.study_key == study_key) & (table.c.instance_key == instance_key))
    values = dict(source=source.ae_title, quarantine_key=quarantine_key, size=len(data), received_at=time.time())
    try:
        with ports.db.unit_of_work() as uow:
            earlier = uow.execute(sa.select(table.c.quarantine_key).where(same)).scalar()
            if earlier is None:
                uow.execute(table.insert().values(tenant=source.tenant, dataset_id=source.dataset_id, study_key=study_key,
                                                  instance_key=instance_key, **values))
            else:
                uow.execute(table.update().where(same).values(**values))
    except Exception:
        ports.objects.delete(QUARANTINE_BUCKET, quarantine_key)
        raise
    if earlier is not None:
        ports.objects.delete(QUARANTINE_BUCKET, earlier)
    return Received(sop_class_uid, sop_instance_uid)


def _key(source: Source, uid: str) -> str:
    return hashlib.sha256(f"{source.tenant}/{source.dataset_id}/{uid}".encode()).hexdigest()


def hand_on_quiet_studies(ports: Ports, quiet_s: float, now: float | None = None) -> list[str]:
    """Every study that has received nothing for `quiet_s` becomes one UPLOADED upload of its instances, with its
    ScanUploaded, in one transaction that also forgets its arrivals; returns the new upload ids. Of several replicas
    sweeping at once one takes a study; an instance arriving meanwhile waits for the next quiet period."""
    now = time.time() if now is None else now
    table = store.pacs_arrivals
    study = (table.c.tenant, table.c.dataset_id, table.c.study_key)
    with ports.db.read() as conn:  # most sweeps find nothing: no write lock for them
        quiet = conn.execute(sa.select(*study).group_by(*study).having(sa.func.max(table.c.received_at) < now - quiet_s)).all()
    upload_ids = []
    for tenant, dataset_id, study_key in quiet:
        with ports.db.unit_of_work() as uow:
            rows = uow.execute(sa.select(table).where(
                table.c.tenant == tenant, table.c.dataset_id == dataset_id, table.c.study_key == study_key,
            ).order_by(table.c.seq)).all()
            if not rows or max(row.received_at for row in rows) >= now - quiet_s:
                continue  # another replica took it, or it is receiving again
            taken = uow.execute(table.delete().where(table.c.seq.in_([row.seq for row in rows]))).rowcount
            if taken != len(rows):
                continue  # another replica took part of it: its transaction hands the study on, and this one adds nothing
            upload_ids.append(_upload(uow, rows, now))
    if upload_ids:
        log.info("pacs studies handed on", extra={"uploads": upload_ids, "quiet_s": quiet_s})
    return upload_ids


def _upload(uow, rows, now: float) -> str:
    """Record the arrivals as one UPLOADED upload and emit its ScanUploaded; returns its id."""
    first, upload_id, scan_id = rows[0], str(uuid.uuid4()), str(uuid.uuid4())
    size = sum(row.size for row in rows)
    digest = hashlib.sha256("".join(sorted(row.instance_key for row in rows)).encode()).hexdigest()  # what the scan holds
    keys = [row.quarantine_key for row in rows]
    uow.execute(store.uploads.insert().values(
        upload_id=upload_id, tenant=first.tenant, dataset_id=first.dataset_id, scan_id=scan_id, suffix=".dcm",
        total_size=size, sha256=digest, bytes_received=size, parts="[]", state=pb.UPLOAD_STATE_UPLOADED,
        failure_reason="", uploader=f"pacs:{first.source}", file_count=len(rows), skipped=json.dumps([]),
        created_at=now, updated_at=now,
    ))
    uow.emit(events_pb2.ScanUploaded(
        upload_id=upload_id, scan_id=scan_id, dataset_id=first.dataset_id, quarantine_bucket=QUARANTINE_BUCKET,
        quarantine_keys=keys, file_count=len(keys), byte_count=size, uploader=f"pacs:{first.source}",
    ), subject=scan_id, tenant=first.tenant)
    return upload_id
