"""ScanUploaded → the automatic pass: every file de-identified into `dicom`, recorded with its events, originals deleted."""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa

from radlab.anonymization.v1 import anonymization_service_pb2 as pb
from radlab.anonymization.v1 import events_pb2
from radlab.ingestion.v1 import events_pb2 as ingestion_events
from services.anonymization import store
from services.anonymization.domain.engine import anonymize
from services.anonymization.domain.nifti import deidentify_nifti, is_nifti
from services.anonymization.domain.outcome import REPLACED, VOUCHED, AnonymizationFailed, Deidentified
from services.anonymization.handlers.burned_in import screened
from services.anonymization.handlers.held import hold, hold_reason, quarantine_key
from services.anonymization.handlers.outputs import dicom_key, nifti_key
from services.anonymization.handlers.profiles import options_of, profile_of
from services.anonymization.handlers.pseudonyms import pseudonym_pairs, remember_pseudonyms
from services.anonymization.handlers.reports import report_row
from services.anonymization.rules_table import load_rule_table
from shared.db import UnitOfWork
from shared.events import Event
from shared.metrics import ANONYMIZED_INSTANCES
from shared.objectstore import DICOM_BUCKET, QUARANTINE_BUCKET, ObjectNotFound

if TYPE_CHECKING:
    from services.anonymization.handlers import Ports

log = logging.getLogger(__name__)

ACTIONS = {
    "X": pb.DEID_ACTION_REMOVED, "Z": pb.DEID_ACTION_EMPTIED, "D": pb.DEID_ACTION_DUMMY, "C": pb.DEID_ACTION_CLEANED,
    "U": pb.DEID_ACTION_UID_REPLACED, "K": pb.DEID_ACTION_KEPT,
}
# What became of an attribute kept cleaned, as the report names it.
CLEANING = {VOUCHED: pb.DEID_ACTION_KEPT, REPLACED: pb.DEID_ACTION_CLEANED}


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
    cleaned: Counter = field(default_factory=Counter)  # (keyword, VOUCHED or REPLACED) → instances


def on_scan_uploaded(ports: Ports, consumer: str, event: Event) -> None:
    """De-identify every quarantined file of the scan, or none.

    Every file is de-identified into the `dicom` bucket (DICOM under keys made of replaced UIDs only; NIfTI, recognised
    by content, under the scan id and the file's position), then one transaction records the pseudonym map, the report,
    the held instances and `ScanAnonymized`; only after that commit are the non-held originals deleted from quarantine,
    so a crash at any point can be redone from the originals. A redelivered event finds the report and only finishes
    the deletions. No file name, original value or key is ever logged, stored in clear, or put in an event."""
    uploaded: ingestion_events.ScanUploaded = event.message
    tenant = event.envelope.tenant
    with ports.db.read() as conn:
        done = report_row(conn, tenant, uploaded.scan_id) if tenant else None
    if done is not None:
        return _delete_originals(ports, tenant, uploaded)
    if ports.db.processed(consumer, event.id):
        return  # a failed scan, already reported
    bucket = uploaded.quarantine_bucket or QUARANTINE_BUCKET
    keys = list(uploaded.quarantine_keys)
    with ports.db.read() as conn:
        profile = profile_of(conn, tenant, uploaded.dataset_id) if tenant else pb.Profile()
    failure = _why_not(tenant, uploaded, keys)
    result = None
    if failure is None:
        try:
            result = _deidentify(ports, tenant, uploaded.scan_id, bucket, keys, profile)
        except AnonymizationFailed as error:
            failure = str(error)

    def report(uow: UnitOfWork) -> bool:
        """Whether this pass recorded the scan: not when another delivery did meanwhile (it deletes the originals)."""
        if tenant and report_row(uow, tenant, uploaded.scan_id):
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


def _deidentify(ports: Ports, tenant: str, scan_id: str, bucket: str, keys: list[str], profile: pb.Profile) -> _Pass:
    """Every file through the engine with the dataset's `profile` (its options, and its handling of text burned into the
    pixels), outputs written as they come; on the first failure, remove them and raise."""
    table = load_rule_table()
    options, burned_in = options_of(profile), ports.burned_in.for_profile(profile.burned_in_text)
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
                    _put(ports, done, nifti_key(tenant, scan_id, number), cleaned.data, "application/gzip")
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # pydicom warnings quote values, and values may be PHI
                    result = screened(data, anonymize(data, table, ports.keys.anon, tenant, options, scan=scan_id), burned_in)
            except AnonymizationFailed as error:
                raise AnonymizationFailed(f"{where}: {error}") from None
            ANONYMIZED_INSTANCES.labels(engine=result.engine).inc()
            done.actions.update(result.report.actions)
            done.cleaned.update(result.report.cleaned)
            done.pseudonyms.update(pseudonym_pairs(result.report))
            if result.report.redacted:
                done.warnings.append(f"{where}: burned-in text redacted: {'; '.join(result.report.redacted)}")
            if result.report.held:
                done.held.append((key, result))
                done.warnings.append(f"{where}: held for review: {result.report.held_reason}")
                continue
            _put(ports, done, dicom_key(tenant, result), result.data, "application/dicom")
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


def _record(ports: Ports, uow: UnitOfWork, tenant: str, uploaded, bucket: str, profile: pb.Profile, done: _Pass) -> None:
    now = time.time()
    remember_pseudonyms(ports, uow, tenant, done.pseudonyms)
    for key, result in done.held:
        hold(ports, uow, tenant, uploaded, bucket, key, result, now)
    uow.execute(
        store.reports.insert().values(
            tenant=tenant, scan_id=uploaded.scan_id, upload_id=uploaded.upload_id, dataset_id=uploaded.dataset_id,
            profile=profile.SerializeToString(), instance_count=len(uploaded.quarantine_keys),
            anonymized_count=len(done.object_keys), held_count=len(done.held), dropped_count=0,
            action_counts=json.dumps({pb.DeidAction.Name(ACTIONS[a]): n for a, n in sorted(done.actions.items()) if a in ACTIONS}),
            warnings=json.dumps(done.warnings), created_at=now,
            hold_counts=json.dumps(Counter(pb.HoldReason.Name(hold_reason(result)) for _key, result in done.held)),
            attribute_actions=json.dumps([[keyword, pb.DeidAction.Name(CLEANING[what]), count]
                                          for (keyword, what), count in sorted(done.cleaned.items())]),
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


def _delete_originals(ports: Ports, tenant: str, uploaded) -> None:
    """Delete the scan's non-held originals (its outputs are committed), then note it; safe to repeat."""
    with ports.db.read() as conn:
        report = report_row(conn, tenant, uploaded.scan_id)
        if report is None or report.originals_deleted_at is not None:
            return
        held = conn.execute(sa.select(store.held_instances).where(
            store.held_instances.c.tenant == tenant, store.held_instances.c.scan_id == uploaded.scan_id
        )).all()
    kept = {quarantine_key(ports, row) for row in held if row.state == pb.HOLD_STATE_PENDING}
    bucket = uploaded.quarantine_bucket or QUARANTINE_BUCKET
    for key in uploaded.quarantine_keys:
        if key not in kept:
            ports.objects.delete(bucket, key)
    with ports.db.unit_of_work() as uow:
        uow.execute(store.reports.update().where(store.reports.c.seq == report.seq).values(originals_deleted_at=time.time()))

