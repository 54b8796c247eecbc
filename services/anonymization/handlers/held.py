"""Instances held for review instead of released: recorded with their quarantine key sealed, listed, released or discarded."""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING

import sqlalchemy as sa

from radlab.anonymization.v1 import anonymization_service_pb2 as pb
from radlab.anonymization.v1 import events_pb2
from radlab.quoting import shown
from services.anonymization import store
from services.anonymization.domain.engine import anonymize
from services.anonymization.domain.outcome import Deidentified, HoldKind
from services.anonymization.domain.pixel_text import Region
from services.anonymization.handlers.burned_in import FrameOutOfRange, preview, redacted
from services.anonymization.handlers.outputs import dicom_key
from services.anonymization.handlers.profiles import options_of, profile_of
from services.anonymization.handlers.pseudonyms import pseudonym_pairs, remember_pseudonyms
from services.anonymization.rules_table import load_rule_table
from shared import paging
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import FailedPrecondition, InvalidArgument, NotFound
from shared.metrics import HELD_INSTANCES
from shared.objectstore import DICOM_BUCKET, ObjectNotFound
from shared.protos import timestamp

if TYPE_CHECKING:
    from services.anonymization.handlers import Ports

HOLD_REASONS = {
    HoldKind.BURNED_IN_ANNOTATION: pb.HOLD_REASON_BURNED_IN_ANNOTATION, HoldKind.RISKY_IMAGE_TYPE: pb.HOLD_REASON_RISKY_IMAGE_TYPE,
    HoldKind.HIDDEN_OVERLAY_BITS: pb.HOLD_REASON_HIDDEN_OVERLAY_BITS, HoldKind.TEXT_DETECTED: pb.HOLD_REASON_TEXT_DETECTED,
}


def hold(ports: Ports, uow: UnitOfWork, tenant: str, uploaded, bucket: str, key: str, result: Deidentified, now: float) -> None:
    """Record one instance the pass held, PENDING, its original's quarantine key sealed."""
    held_instance_id = str(uuid.uuid4())
    nonce, sealed = ports.keys.seal(key, _held_identity(tenant, held_instance_id))
    reason = result.report.held_reason or ""
    uow.execute(
        store.held_instances.insert().values(
            held_instance_id=held_instance_id, tenant=tenant, scan_id=uploaded.scan_id, upload_id=uploaded.upload_id,
            dataset_id=uploaded.dataset_id, sop_instance_uid=result.identity.instance_uid,
            modality=result.identity.modality[:16],
            reason=hold_reason(result),
            detail=reason, state=pb.HOLD_STATE_PENDING, quarantine_bucket=bucket, key_nonce=nonce, key_ciphertext=sealed,
            created_at=now, resolved_by="", comment="",
        )
    )
    HELD_INSTANCES.labels(reason=pb.HoldReason.Name(hold_reason(result)).removeprefix("HOLD_REASON_").lower()).inc()


def hold_reason(result: Deidentified) -> int:
    return HOLD_REASONS[result.report.held_kind]


def _held_identity(tenant: str, held_instance_id: str) -> str:
    return f"{tenant}\0{held_instance_id}"


def quarantine_key(ports: Ports, row) -> str:
    """The held instance's original's key in quarantine, unsealed."""
    return ports.keys.open(row.key_nonce, row.key_ciphertext, _held_identity(row.tenant, row.held_instance_id))


def list_held(
    ports: Ports, caller: Principal, dataset_id: str, scan_id: str, state: int, after: int, limit: int
) -> tuple[list[pb.HeldInstance], int | None]:
    table = store.held_instances
    query = sa.select(table).where(table.c.tenant == caller.tenant)
    for column, wanted in ((table.c.dataset_id, dataset_id), (table.c.scan_id, scan_id), (table.c.state, state)):
        if wanted:
            query = query.where(column == wanted)
    with ports.db.read() as conn:
        rows, next_after = paging.page_of(conn, query, table.c.seq, after, limit)
    return [_held(row) for row in rows], next_after


def release_held(ports: Ports, caller: Principal, held_instance_id: str, resolution: int, regions: Iterable, comment: str) -> pb.HeldInstance:
    """Release a held instance as is or with `regions` blanked in every frame (or discard it): de-identify its original
    into `dicom`, then delete the original."""
    if resolution == pb.HOLD_RESOLUTION_UNSPECIFIED:
        raise InvalidArgument("resolution is required: RELEASE, RELEASE_REDACTED or DISCARD")
    blanked = [Region(region.x, region.y, region.width, region.height) for region in regions]
    if (resolution == pb.HOLD_RESOLUTION_RELEASE_REDACTED) != bool(blanked):
        raise InvalidArgument("RELEASE_REDACTED needs the regions to blank, and only it takes regions")
    if any(region.x < 0 or region.y < 0 or region.width <= 0 or region.height <= 0 for region in blanked):
        raise InvalidArgument("a region to blank needs x and y of 0 or more and a width and height above 0")
    row = _held_row(ports, caller, held_instance_id)
    if row.state != pb.HOLD_STATE_PENDING:
        raise FailedPrecondition(f"held instance {held_instance_id} is already {pb.HoldState.Name(row.state)}")
    key = quarantine_key(ports, row)
    object_keys: list[str] = []
    pairs: dict[tuple[str, str], str] = {}
    if resolution != pb.HOLD_RESOLUTION_DISCARD:
        with ports.db.read() as conn:
            options = options_of(profile_of(conn, caller.tenant, row.dataset_id))
        try:
            data = ports.objects.get(row.quarantine_bucket, key)
        except ObjectNotFound:
            raise FailedPrecondition(f"the original of held instance {held_instance_id} is no longer in quarantine") from None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = anonymize(data, load_rule_table(), ports.keys.anon, caller.tenant, options, scan=row.scan_id)
            if blanked:
                result = _blanked(result, blanked)
        pairs = pseudonym_pairs(result.report)
        target = dicom_key(caller.tenant, result)
        ports.objects.ensure_bucket(DICOM_BUCKET)
        ports.objects.put(DICOM_BUCKET, target, result.data, content_type="application/dicom")
        object_keys, study = [target], result.identity.study_uid
    table = store.held_instances
    with ports.db.unit_of_work() as uow:
        current = uow.execute(sa.select(table.c.state).where(table.c.seq == row.seq)).scalar_one()
        if current != pb.HOLD_STATE_PENDING:
            raise FailedPrecondition(f"held instance {held_instance_id} is already {pb.HoldState.Name(current)}")
        state = pb.HOLD_STATE_DISCARDED if resolution == pb.HOLD_RESOLUTION_DISCARD else pb.HOLD_STATE_RELEASED
        uow.execute(table.update().where(table.c.seq == row.seq).values(
            state=state, resolved_by=caller.subject, resolved_at=time.time(), comment=comment
        ))
        if object_keys:
            remember_pseudonyms(ports, uow, caller.tenant, pairs)
            still_held = uow.execute(sa.select(sa.func.count()).select_from(table).where(
                table.c.tenant == caller.tenant, table.c.scan_id == row.scan_id, table.c.state == pb.HOLD_STATE_PENDING
            )).scalar_one()
            uow.emit(
                events_pb2.ScanAnonymized(
                    scan_id=row.scan_id, upload_id=row.upload_id, dataset_id=row.dataset_id, dicom_bucket=DICOM_BUCKET,
                    object_keys=object_keys, study_instance_uids=[study], instance_count=1, held_count=still_held,
                    released_held_instance_id=held_instance_id,
                ),
                subject=row.scan_id, tenant=caller.tenant,
            )
        resolved = uow.execute(sa.select(table).where(table.c.seq == row.seq)).one()
    ports.objects.delete(row.quarantine_bucket, key)  # after the commit: the output is recorded, the original may go
    return _held(resolved)


def preview_held(ports: Ports, caller: Principal, held_instance_id: str, frame_index: int) -> pb.GetHeldInstancePreviewResponse:
    """One frame of a pending held instance as the reviewer sees it (a PNG, windowed with its own window), with a red
    box round each region of burned-in text the reader takes for identity, and nothing stored."""
    row = _held_row(ports, caller, held_instance_id)
    if row.state != pb.HOLD_STATE_PENDING:
        raise FailedPrecondition(f"held instance {held_instance_id} is already {pb.HoldState.Name(row.state)}; its original is gone")
    try:
        data = ports.objects.get(row.quarantine_bucket, quarantine_key(ports, row))
    except ObjectNotFound:
        raise FailedPrecondition(f"the original of held instance {held_instance_id} is no longer in quarantine") from None
    try:
        return preview(data, frame_index, ports.burned_in.reader)
    except FrameOutOfRange as error:
        raise InvalidArgument(str(error)) from None
    except (ValueError, RuntimeError, NotImplementedError, AttributeError, KeyError):
        raise FailedPrecondition(f"the pixels of held instance {held_instance_id} could not be decoded; DISCARD it") from None


def _blanked(result: Deidentified, regions: list[Region]) -> Deidentified:
    """The released instance with the reviewer's regions filled in every frame (cut to the image where they overrun it)."""
    try:
        data = redacted(result.dataset, regions)
    except (ValueError, RuntimeError, NotImplementedError, AttributeError, KeyError):
        raise FailedPrecondition("the held instance's pixels could not be decoded to blank them; DISCARD it") from None
    return Deidentified(data, result.identity, result.report, result.engine)


def _held_row(ports: Ports, caller: Principal, held_instance_id: str):
    table = store.held_instances
    with ports.db.read() as conn:
        row = conn.execute(
            sa.select(table).where(table.c.tenant == caller.tenant, table.c.held_instance_id == held_instance_id)
        ).first() if held_instance_id else None
    if row is None:
        raise NotFound(f"held instance {shown(held_instance_id)} not found")
    return row


def _held(row) -> pb.HeldInstance:
    held = pb.HeldInstance(
        held_instance_id=row.held_instance_id, scan_id=row.scan_id, dataset_id=row.dataset_id,
        sop_instance_uid=row.sop_instance_uid, modality=row.modality, reason=row.reason, detail=row.detail,
        state=row.state, resolved_by=row.resolved_by, create_time=timestamp(row.created_at),
    )
    if row.resolved_at is not None:
        held.resolve_time.CopyFrom(timestamp(row.resolved_at))
    return held
