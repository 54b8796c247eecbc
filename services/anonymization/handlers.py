"""Anonymization's command and event handlers: load, apply the de-identification engine, save, emit.

A scan is all or nothing: every file is de-identified into the `dicom` bucket (DICOM under keys made of
replaced UIDs only; NIfTI, recognised by content, under the scan id and the file's position), then one
transaction records the pseudonym map, the report, the held instances and `ScanAnonymized`; only after
that commit are the non-held originals deleted from quarantine, so a crash at any point can be redone
from the originals. A redelivered event finds the report and only finishes the deletions. No file name, original value or key is ever logged, stored in clear, or put in an event.

A profile exists only for a dataset annotation announced (DatasetCreated) in the caller's tenant; any other id is
NOT_FOUND, worded alike whether it does not exist or is another tenant's.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, fields

import sqlalchemy as sa
from google.protobuf import field_mask_pb2
from sqlalchemy.engine import Connection

from radlab.anonymization.v1 import anonymization_service_pb2 as pb
from radlab.anonymization.v1 import events_pb2
from radlab.ingestion.v1 import events_pb2 as ingestion_events
from radlab.quoting import shown
from services.anonymization import store
from services.anonymization.domain.engine import anonymize
from services.anonymization.domain.nifti import deidentify_nifti, is_nifti
from services.anonymization.domain.outcome import AnonymizationFailed, Deidentified, HoldKind
from services.anonymization.domain.profile import Options
from services.anonymization.keys import Keys
from services.anonymization.rules_table import load_rule_table
from shared import paging
from shared.auth import Principal
from shared.consumer import Handler
from shared.db import Database, UnitOfWork
from shared.errors import FailedPrecondition, InvalidArgument, NotFound
from shared.events import Event, event_type
from shared.metrics import ANONYMIZED_INSTANCES
from shared.objectstore import DICOM_BUCKET, QUARANTINE_BUCKET, ObjectNotFound, ObjectStore
from shared.protos import timestamp

log = logging.getLogger(__name__)

PROFILE_FLAGS = tuple(option.name for option in fields(Options))
# The engine's entry kinds → the pseudonym map's kinds (and the LookupPseudonym field of each).
KINDS = {"PatientID": "patient_id", "StudyInstanceUID": "study_uid", "SeriesInstanceUID": "series_uid", "SOPInstanceUID": "sop_uid"}
LOOKUP_FIELDS = {
    "patient_pseudonym": ("patient_id", "patient_id"),
    "study_instance_uid": ("study_uid", "study_instance_uid"),
    "series_instance_uid": ("series_uid", "series_instance_uid"),
    "sop_instance_uid": ("sop_uid", "sop_instance_uid"),
}
ACTIONS = {
    "X": pb.DEID_ACTION_REMOVED, "Z": pb.DEID_ACTION_EMPTIED, "D": pb.DEID_ACTION_DUMMY, "C": pb.DEID_ACTION_CLEANED,
    "U": pb.DEID_ACTION_UID_REPLACED, "K": pb.DEID_ACTION_KEPT,
}
HOLD_REASONS = {
    HoldKind.BURNED_IN_ANNOTATION: pb.HOLD_REASON_BURNED_IN_ANNOTATION, HoldKind.RISKY_IMAGE_TYPE: pb.HOLD_REASON_RISKY_IMAGE_TYPE,
    HoldKind.HIDDEN_OVERLAY_BITS: pb.HOLD_REASON_HIDDEN_OVERLAY_BITS,
}


@dataclass(frozen=True)
class Ports:
    """What anonymization's handlers work with: its database, the object store (`objects`) and its keys."""

    db: Database
    objects: ObjectStore
    keys: Keys


# ---- datasets ----------------------------------------------------------------------------------------------

def _require_known_dataset(conn: UnitOfWork | Connection, tenant: str, dataset_id: str) -> None:
    if not store.datasets.known(conn, tenant, dataset_id):
        # DatasetCreated reaches anonymization a moment after CreateDataset returns, and that moment cannot be told
        # from a wrong id: one NOT_FOUND for both, saying to retry for the first.
        raise NotFound(
            f"dataset {shown(dataset_id)} not found: check its id with `radlab datasets list` (one created a moment ago "
            "may not have reached anonymization yet: retry in a moment)"
        )


# ---- profiles ----------------------------------------------------------------------------------------------

def get_profile(ports: Ports, caller: Principal, dataset_id: str) -> pb.Profile:
    if not dataset_id:
        raise InvalidArgument("dataset_id is required")
    with ports.db.read() as conn:
        _require_known_dataset(conn, caller.tenant, dataset_id)
        return _profile(conn, caller.tenant, dataset_id)


def update_profile(ports: Ports, caller: Principal, profile: pb.Profile, mask: field_mask_pb2.FieldMask) -> pb.Profile:
    if not profile.dataset_id:
        raise InvalidArgument("profile.dataset_id is required")
    paths = list(mask.paths) or list(PROFILE_FLAGS)
    unknown = sorted(set(paths) - set(PROFILE_FLAGS))
    if unknown:
        raise InvalidArgument(f"update_mask names {', '.join(unknown)}; it may name only {', '.join(PROFILE_FLAGS)}")
    table = store.profiles
    with ports.db.unit_of_work() as uow:
        _require_known_dataset(uow, caller.tenant, profile.dataset_id)
        current = _profile(uow, caller.tenant, profile.dataset_id)
        values = {flag: getattr(profile if flag in paths else current, flag) for flag in PROFILE_FLAGS}
        values |= {"updated_by": caller.subject, "updated_at": time.time()}
        key = (table.c.tenant == caller.tenant) & (table.c.dataset_id == profile.dataset_id)
        if uow.execute(sa.select(table.c.dataset_id).where(key)).first():
            uow.execute(table.update().where(key).values(**values))
        else:
            uow.execute(table.insert().values(tenant=caller.tenant, dataset_id=profile.dataset_id, **values))
        return _profile(uow, caller.tenant, profile.dataset_id)


def _profile(conn: UnitOfWork | Connection, tenant: str, dataset_id: str) -> pb.Profile:
    table = store.profiles
    row = conn.execute(sa.select(table).where(table.c.tenant == tenant, table.c.dataset_id == dataset_id)).first()
    if row is None:
        return pb.Profile(dataset_id=dataset_id, **{flag: getattr(Options(), flag) for flag in PROFILE_FLAGS})
    return pb.Profile(
        dataset_id=dataset_id, updated_by=row.updated_by, update_time=timestamp(row.updated_at),
        **{flag: getattr(row, flag) for flag in PROFILE_FLAGS},
    )


def _options(profile: pb.Profile) -> Options:
    return Options(**{flag: getattr(profile, flag) for flag in PROFILE_FLAGS})


# ---- the automatic pass ------------------------------------------------------------------------------------

@dataclass
class _Pass:
    """What de-identifying one scan produced, before it is recorded."""

    written: list[str]  # dicom keys this pass created (removed again if the scan fails)
    object_keys: list[str]  # dicom keys of every anonymized instance
    studies: list[str]
    held: list[tuple[str, Deidentified]]  # (quarantine key, result)
    pseudonyms: dict[tuple[str, str], str]  # (kind, pseudonym) → original
    actions: Counter
    warnings: list[str]


def on_scan_uploaded(ports: Ports, consumer: str, event: Event) -> None:
    """De-identify every quarantined file of the scan, or none; see the module docstring for the order of steps."""
    uploaded: ingestion_events.ScanUploaded = event.message
    tenant = event.envelope.tenant
    with ports.db.read() as conn:
        done = _report_row(conn, tenant, uploaded.scan_id) if tenant else None
    if done is not None:
        return _delete_originals(ports, tenant, uploaded)
    if ports.db.processed(consumer, event.id):
        return  # a failed scan, already reported
    bucket = uploaded.quarantine_bucket or QUARANTINE_BUCKET
    keys = list(uploaded.quarantine_keys)
    with ports.db.read() as conn:
        profile = _profile(conn, tenant, uploaded.dataset_id) if tenant else pb.Profile()
    failure = _why_not(tenant, uploaded, keys)
    result = None
    if failure is None:
        try:
            result = _deidentify(ports, tenant, uploaded.scan_id, bucket, keys, _options(profile))
        except AnonymizationFailed as error:
            failure = str(error)

    def report(uow: UnitOfWork) -> bool:
        """Whether this pass recorded the scan: not when another delivery did meanwhile (it deletes the originals)."""
        if tenant and _report_row(uow, tenant, uploaded.scan_id):
            return False
        if failure is not None:
            uow.emit(
                events_pb2.AnonymizationFailed(
                    scan_id=uploaded.scan_id, upload_id=uploaded.upload_id, dataset_id=uploaded.dataset_id, reason=failure
                ),
                subject=uploaded.scan_id, tenant=tenant,
            )
            log.info("scan not anonymized", extra={"scan_id": uploaded.scan_id, "files": len(keys)})
        else:
            _record(ports, uow, tenant, uploaded, bucket, profile, result)
        return True

    if ports.db.apply_once(consumer, event.id, report) and failure is None:
        _delete_originals(ports, tenant, uploaded)


def _why_not(tenant: str, uploaded: ingestion_events.ScanUploaded, keys: list[str]) -> str | None:
    if not tenant:
        return "the upload event names no tenant; upload again with a valid token"
    if not uploaded.scan_id:
        return "the upload event names no scan; upload again"
    if not keys:
        return "the upload holds no files; upload the scan's DICOM or NIfTI files"
    return None


def _deidentify(ports: Ports, tenant: str, scan_id: str, bucket: str, keys: list[str], options: Options) -> _Pass:
    """Every file through the engine, outputs written as they come; on the first failure, remove them and raise."""
    table = load_rule_table()
    ports.objects.ensure_bucket(DICOM_BUCKET)
    done = _Pass([], [], [], [], {}, Counter(), [])
    try:
        for number, key in enumerate(keys, 1):
            where = f"file {number} of {len(keys)}"  # never the file name: it may carry PHI
            try:
                data = ports.objects.get(bucket, key)
            except ObjectNotFound:
                raise AnonymizationFailed(f"{where}: missing from quarantine; upload the scan again") from None
            try:
                if is_nifti(data):
                    cleaned = deidentify_nifti(data)
                    done.actions.update(cleaned.actions)
                    _put(ports, done, _nifti_key(tenant, scan_id, number), cleaned.data, "application/gzip")
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # pydicom warnings quote values, and values may be PHI
                    result = anonymize(data, table, ports.keys.anon, tenant, options, scan=scan_id)
            except AnonymizationFailed as error:
                raise AnonymizationFailed(f"{where}: {error}") from None
            ANONYMIZED_INSTANCES.labels(engine=result.engine).inc()
            done.actions.update(result.report.actions)
            for entry in result.report.pseudonyms:
                done.pseudonyms[(KINDS[entry.kind], entry.pseudonym)] = entry.original
            if result.report.held:
                done.held.append((key, result))
                done.warnings.append(f"{where}: held for review: {result.report.held_reason}")
                continue
            _put(ports, done, _dicom_key(tenant, result), result.data, "application/dicom")
            study = result.identity.study_uid
            if study not in done.studies:
                done.studies.append(study)
    except AnonymizationFailed:
        for target in done.written:
            ports.objects.delete(DICOM_BUCKET, target)
        raise
    return done


def _put(ports: Ports, done: _Pass, target: str, data: bytes, content_type: str) -> None:
    """Write one output (once per key: a file uploaded twice is one instance), remembering what this pass created."""
    if target in done.object_keys:
        return
    if not ports.objects.exists(DICOM_BUCKET, target):
        done.written.append(target)
    ports.objects.put(DICOM_BUCKET, target, data, content_type=content_type)
    done.object_keys.append(target)


def _nifti_key(tenant: str, scan_id: str, number: int) -> str:
    """NIfTI has no UIDs: its output is named for the scan (an opaque id) and the file's position in it."""
    return f"{tenant}/nifti/{scan_id}/{number}.nii.gz"


def _dicom_key(tenant: str, result: Deidentified) -> str:
    """Made of replaced UIDs only; the engine gives every output all three (a blank one gets a derived UID)."""
    identity = result.identity
    return f"{tenant}/{identity.study_uid}/{identity.series_uid}/{identity.instance_uid}.dcm"


def _record(ports: Ports, uow: UnitOfWork, tenant: str, uploaded, bucket: str, profile: pb.Profile, done: _Pass) -> None:
    now = time.time()
    _remember_pseudonyms(ports, uow, tenant, done.pseudonyms)
    for key, result in done.held:
        _hold(ports, uow, tenant, uploaded, bucket, key, result, now)
    uow.execute(
        store.reports.insert().values(
            tenant=tenant, scan_id=uploaded.scan_id, upload_id=uploaded.upload_id, dataset_id=uploaded.dataset_id,
            profile=profile.SerializeToString(), instance_count=len(uploaded.quarantine_keys),
            anonymized_count=len(done.object_keys), held_count=len(done.held), dropped_count=0,
            action_counts=json.dumps({pb.DeidAction.Name(ACTIONS[a]): n for a, n in sorted(done.actions.items()) if a in ACTIONS}),
            warnings=json.dumps(done.warnings), created_at=now,
            hold_counts=json.dumps(Counter(pb.HoldReason.Name(_hold_reason(result)) for _key, result in done.held)),
        )
    )
    uow.emit(
        events_pb2.ScanAnonymized(
            scan_id=uploaded.scan_id, upload_id=uploaded.upload_id, dataset_id=uploaded.dataset_id, dicom_bucket=DICOM_BUCKET,
            object_keys=done.object_keys, study_instance_uids=done.studies, instance_count=len(done.object_keys),
            held_count=len(done.held),
        ),
        subject=uploaded.scan_id, tenant=tenant,
    )
    log.info(
        "scan anonymized",
        extra={"scan_id": uploaded.scan_id, "instances": len(done.object_keys), "held": len(done.held)},
    )


def _remember_pseudonyms(ports: Ports, uow: UnitOfWork, tenant: str, pairs: dict[tuple[str, str], str]) -> None:
    table = store.pseudonyms
    for (kind, pseudonym), original in pairs.items():
        known = uow.execute(
            sa.select(table.c.pseudonym).where(table.c.tenant == tenant, table.c.kind == kind, table.c.pseudonym == pseudonym)
        ).first()
        if known is None:
            nonce, sealed = ports.keys.seal(original, _pseudonym_identity(tenant, kind, pseudonym))
            uow.execute(
                table.insert().values(tenant=tenant, kind=kind, pseudonym=pseudonym, nonce=nonce, ciphertext=sealed, created_at=time.time())
            )


def _pseudonym_identity(tenant: str, kind: str, pseudonym: str) -> str:
    return f"{tenant}\0{kind}\0{pseudonym}"


def _hold(ports: Ports, uow: UnitOfWork, tenant: str, uploaded, bucket: str, key: str, result: Deidentified, now: float) -> None:
    held_instance_id = str(uuid.uuid4())
    nonce, sealed = ports.keys.seal(key, _held_identity(tenant, held_instance_id))
    reason = result.report.held_reason or ""
    uow.execute(
        store.held_instances.insert().values(
            held_instance_id=held_instance_id, tenant=tenant, scan_id=uploaded.scan_id, upload_id=uploaded.upload_id,
            dataset_id=uploaded.dataset_id, sop_instance_uid=result.identity.instance_uid,
            modality=result.identity.modality[:16],
            reason=_hold_reason(result),
            detail=reason, state=pb.HOLD_STATE_PENDING, quarantine_bucket=bucket, key_nonce=nonce, key_ciphertext=sealed,
            created_at=now, resolved_by="", comment="",
        )
    )


def _hold_reason(result: Deidentified) -> int:
    return HOLD_REASONS[result.report.held_kind]


def _held_identity(tenant: str, held_instance_id: str) -> str:
    return f"{tenant}\0{held_instance_id}"


def _delete_originals(ports: Ports, tenant: str, uploaded) -> None:
    """Delete the scan's non-held originals (its outputs are committed), then note it; safe to repeat."""
    with ports.db.read() as conn:
        report = _report_row(conn, tenant, uploaded.scan_id)
        if report is None or report.originals_deleted_at is not None:
            return
        held = conn.execute(sa.select(store.held_instances).where(
            store.held_instances.c.tenant == tenant, store.held_instances.c.scan_id == uploaded.scan_id
        )).all()
    kept = {_quarantine_key(ports, row) for row in held if row.state == pb.HOLD_STATE_PENDING}
    bucket = uploaded.quarantine_bucket or QUARANTINE_BUCKET
    for key in uploaded.quarantine_keys:
        if key not in kept:
            ports.objects.delete(bucket, key)
    with ports.db.unit_of_work() as uow:
        uow.execute(store.reports.update().where(store.reports.c.seq == report.seq).values(originals_deleted_at=time.time()))


def _quarantine_key(ports: Ports, row) -> str:
    return ports.keys.open(row.key_nonce, row.key_ciphertext, _held_identity(row.tenant, row.held_instance_id))


def _report_row(conn: UnitOfWork | Connection, tenant: str, scan_id: str):
    table = store.reports
    return conn.execute(sa.select(table).where(table.c.tenant == tenant, table.c.scan_id == scan_id)).first()


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


# ---- reports -----------------------------------------------------------------------------------------------

def get_report(ports: Ports, caller: Principal, scan_id: str) -> pb.AnonymizationReport:
    with ports.db.read() as conn:
        row = _report_row(conn, caller.tenant, scan_id) if scan_id else None
    if row is None:
        raise NotFound(f"no anonymization report for scan {shown(scan_id)}")
    return _report(row)


def list_reports(ports: Ports, caller: Principal, dataset_id: str, before: int, limit: int) -> tuple[list[pb.AnonymizationReport], int | None]:
    """One page of reports, newest first; `before` is the position the page starts before (0: from the newest)."""
    table = store.reports
    query = sa.select(table).where(table.c.tenant == caller.tenant)
    if dataset_id:
        query = query.where(table.c.dataset_id == dataset_id)
    with ports.db.read() as conn:
        rows, next_before = paging.page_of(conn, query, table.c.seq, before, limit, newest_first=True)
    return [_report(row) for row in rows], next_before


def _report(row) -> pb.AnonymizationReport:
    return pb.AnonymizationReport(
        scan_id=row.scan_id, dataset_id=row.dataset_id, profile=pb.Profile.FromString(row.profile),
        instance_count=row.instance_count, anonymized_count=row.anonymized_count, held_count=row.held_count,
        dropped_count=row.dropped_count,
        action_counts=[pb.ActionCount(action=pb.DeidAction.Value(name), count=count) for name, count in json.loads(row.action_counts).items()],
        hold_counts=[pb.HoldCount(reason=pb.HoldReason.Value(name), count=count) for name, count in json.loads(row.hold_counts).items()],
        warnings=json.loads(row.warnings), create_time=timestamp(row.created_at),
    )


# ---- held instances ----------------------------------------------------------------------------------------

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
    """Release a held instance as is (or discard it): de-identify its original into `dicom`, then delete the original."""
    if resolution == pb.HOLD_RESOLUTION_UNSPECIFIED:
        raise InvalidArgument("resolution is required: RELEASE, RELEASE_REDACTED or DISCARD")
    row = _held_row(ports, caller, held_instance_id)
    if resolution == pb.HOLD_RESOLUTION_RELEASE_REDACTED or list(regions):
        raise FailedPrecondition(
            "releasing with regions blanked is not available yet; check the pixels and RELEASE as is, or DISCARD"
        )
    if row.state != pb.HOLD_STATE_PENDING:
        raise FailedPrecondition(f"held instance {held_instance_id} is already {pb.HoldState.Name(row.state)}")
    key = _quarantine_key(ports, row)
    object_keys: list[str] = []
    pairs: dict[tuple[str, str], str] = {}
    if resolution == pb.HOLD_RESOLUTION_RELEASE:
        with ports.db.read() as conn:
            options = _options(_profile(conn, caller.tenant, row.dataset_id))
        try:
            data = ports.objects.get(row.quarantine_bucket, key)
        except ObjectNotFound:
            raise FailedPrecondition(f"the original of held instance {held_instance_id} is no longer in quarantine") from None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = anonymize(data, load_rule_table(), ports.keys.anon, caller.tenant, options, scan=row.scan_id)
        pairs = {(KINDS[entry.kind], entry.pseudonym): entry.original for entry in result.report.pseudonyms}
        target = _dicom_key(caller.tenant, result)
        ports.objects.ensure_bucket(DICOM_BUCKET)
        ports.objects.put(DICOM_BUCKET, target, result.data, content_type="application/dicom")
        object_keys, study = [target], result.identity.study_uid
    table = store.held_instances
    with ports.db.unit_of_work() as uow:
        current = uow.execute(sa.select(table.c.state).where(table.c.seq == row.seq)).scalar_one()
        if current != pb.HOLD_STATE_PENDING:
            raise FailedPrecondition(f"held instance {held_instance_id} is already {pb.HoldState.Name(current)}")
        state = pb.HOLD_STATE_RELEASED if resolution == pb.HOLD_RESOLUTION_RELEASE else pb.HOLD_STATE_DISCARDED
        uow.execute(table.update().where(table.c.seq == row.seq).values(
            state=state, resolved_by=caller.subject, resolved_at=time.time(), comment=comment
        ))
        if object_keys:
            _remember_pseudonyms(ports, uow, caller.tenant, pairs)
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


# ---- re-identification -------------------------------------------------------------------------------------

def lookup_pseudonym(ports: Ports, caller: Principal, request: pb.LookupPseudonymRequest) -> pb.LookupPseudonymResponse:
    """The original behind a pseudonym of the caller's tenant; every call is audited with its reason."""
    which = request.WhichOneof("pseudonym")
    if which is None or not getattr(request, which):
        raise InvalidArgument("name what to look up: patient_pseudonym, study_instance_uid, series_instance_uid or sop_instance_uid")
    if not request.reason.strip():
        raise InvalidArgument("a reason is required for re-identification; it is recorded in the audit log")
    kind, field_name = LOOKUP_FIELDS[which]
    pseudonym = getattr(request, which).strip()
    table = store.pseudonyms
    with ports.db.unit_of_work() as uow:
        row = uow.execute(
            sa.select(table).where(table.c.tenant == caller.tenant, table.c.kind == kind, table.c.pseudonym == pseudonym)
        ).first()
        uow.execute(store.lookups.insert().values(
            tenant=caller.tenant, subject=caller.subject, kind=kind, pseudonym=pseudonym[:64],
            reason=request.reason.strip(), found=row is not None, at=time.time(),
        ))
    if row is None:
        raise NotFound(f"no {kind.replace('_', ' ')} {shown(pseudonym)} was issued in your tenant")
    original = ports.keys.open(row.nonce, row.ciphertext, _pseudonym_identity(caller.tenant, kind, pseudonym))
    return pb.LookupPseudonymResponse(**{field_name: original})
