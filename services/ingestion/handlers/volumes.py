"""ScanAnonymized → volumes: the scan's de-identified objects built, stored and recorded with their events."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import sqlalchemy as sa
from pydicom.dataset import Dataset

from radlab.anonymization.v1 import events_pb2 as anonymization_events
from radlab.ingestion.v1 import events_pb2
from radlab.ingestion.v1 import ingestion_service_pb2 as pb
from radlab.type.v1 import geometry_pb2
from services.ingestion import store
from services.ingestion.domain import slices
from services.ingestion.domain.archive import HEAD_BYTES, kind_of
from services.ingestion.domain.reader import StoredInstance, parse_instance
from services.ingestion.domain.volume import Refusal, Volume, build_volumes
from shared.db import UnitOfWork
from shared.events import Event
from shared.grid import array_spacing
from shared.objectstore import DICOM_BUCKET, VOLUMES_BUCKET, ObjectNotFound
from shared.protos import data_type
from shared.volumes import VolumeTooLarge, from_nifti_bytes

if TYPE_CHECKING:
    from services.ingestion.handlers import Ports

log = logging.getLogger(__name__)

_NAMESPACE = uuid.UUID("5d8f6c1e-2b47-4f0a-9a43-7f1c2e9b6a10")  # ids derived from content, per tenant
_ISSUE_KINDS = {
    "gantry_tilt": geometry_pb2.GEOMETRY_ISSUE_KIND_GANTRY_TILT,
    "uneven_spacing": geometry_pb2.GEOMETRY_ISSUE_KIND_UNEVEN_SPACING,
    "missing_slices": geometry_pb2.GEOMETRY_ISSUE_KIND_MISSING_SLICES,
    "duplicate_positions": geometry_pb2.GEOMETRY_ISSUE_KIND_DUPLICATE_POSITIONS,
}


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


def on_scan_anonymized(ports: Ports, consumer: str, event: Event) -> None:
    """Build and store every volume of the scan, then record them with their events in one transaction.

    Volume ids are derived from what they are built from, so a redelivered event rewrites the same volumes."""
    anonymized: anonymization_events.ScanAnonymized = event.message
    tenant = event.envelope.tenant
    # A reviewer's release of one held instance adds to an upload already done: it never un-completes it.
    release = bool(anonymized.released_held_instance_id)

    def processing(uow: UnitOfWork) -> bool:
        if not release:
            _set_upload_state(uow, tenant, anonymized.upload_id, pb.UPLOAD_STATE_PROCESSING)
        return True

    if not ports.db.apply_once(consumer, event.id, processing, record=False):
        return  # built already (None: the event is processed)
    bucket = anonymized.dicom_bucket or DICOM_BUCKET
    built, refused = _build(ports, tenant, anonymized.dataset_id, bucket, list(anonymized.object_keys))
    now = time.time()

    def record(uow: UnitOfWork) -> bool:
        for volume in built:
            _record_volume(uow, tenant, anonymized, volume, now)
        for refusal in refused:
            uow.emit(events_pb2.IngestFailed(
                upload_id=anonymized.upload_id, scan_id=anonymized.scan_id, dataset_id=anonymized.dataset_id,
                series_instance_uid=refusal.series_uid, reason=refusal.reason,
            ), subject=anonymized.scan_id, tenant=tenant)
        if built or not (refused or release):
            _set_upload_state(uow, tenant, anonymized.upload_id, pb.UPLOAD_STATE_COMPLETED)
        elif not release:
            _set_upload_state(uow, tenant, anonymized.upload_id, pb.UPLOAD_STATE_FAILED, "; ".join(r.reason for r in refused))
        return True

    if ports.db.apply_once(consumer, event.id, record):  # None: a redelivery recorded the scan meanwhile
        log.info("scan ingested", extra={"scan_id": anonymized.scan_id, "volumes": len(built), "refused": len(refused)})


def _instance_keys(volume: Volume, where: dict[int, str]) -> list[str]:
    """Per slice k, the object key of the single-frame instance that lies exactly on it ("" where none does, as on a
    resampled grid), so label formats that reference source instances (DICOM-SEG, RTSTRUCT) can find them."""
    inverse = np.linalg.inv(volume.affine)
    keys = [""] * volume.shape[-3]
    for frame in volume.slice_frames:
        if frame.frame is not None or frame.mosaic is not None:
            continue
        i, j, k = (inverse @ np.array([*frame.position, 1.0]))[:3]
        nearest = round(float(k))
        if abs(k - nearest) < 1e-3 and abs(i) < 1e-3 and abs(j) < 1e-3 and 0 <= nearest < len(keys):
            keys[nearest] = where[id(frame.dataset)]
    return keys


def _set_upload_state(uow: UnitOfWork, tenant: str, upload_id: str, state: int, reason: str = "") -> None:
    table = store.uploads
    values = {"state": state, "updated_at": time.time()} | ({"failure_reason": reason} if reason else {})
    uow.execute(table.update().where(table.c.tenant == tenant, table.c.upload_id == upload_id).values(**values))


def _build(ports: Ports, tenant: str, dataset_id: str, bucket: str, keys: list[str]) -> tuple[list[_Built], list[Refusal]]:
    """Read the de-identified objects, build each series (and each NIfTI) within the voxel budget into a stored volume.

    Instances are held as headers; each volume reads its pixel data from the bucket as it is built."""
    datasets: list[Dataset] = []
    where: dict[int, str] = {}  # id(dataset) → its object key
    built: list[_Built] = []
    refused: list[Refusal] = []
    for key in keys:
        try:
            data = ports.objects.get(bucket, key)
        except ObjectNotFound:
            refused.append(Refusal("", "a de-identified instance is missing from the dicom bucket; upload the scan again"))
            continue
        kind = kind_of(data[:HEAD_BYTES])
        if kind == "nifti":
            built.append(_nifti_volume(ports, tenant, dataset_id, bucket, key, data, refused))
            continue
        dataset = parse_instance(data, _stored(ports, bucket, key)) if kind == "dicom" else None
        if dataset is None:
            continue  # no pixel data (structured reports, RT structures, …): nothing to build, nothing to refuse
        datasets.append(dataset)
        where[id(dataset)] = key
    for key in _earlier_parts(ports, tenant, dataset_id, bucket, datasets):
        try:
            dataset = parse_instance(ports.objects.get(bucket, key), _stored(ports, bucket, key))
        except ObjectNotFound:
            log.warning("an earlier arrival's instance is missing from the dicom bucket", extra={"object_key": key})
            continue
        datasets.append(dataset)
        where[id(dataset)] = key
    for result in build_volumes(datasets, ports.limits.max_voxels):
        if isinstance(result, Refusal):
            refused.append(result)
        else:
            built.append(_dicom_volume(ports, tenant, dataset_id, bucket, result, where))
    return [volume for volume in built if volume is not None], refused


def _stored(ports: Ports, bucket: str, key: str) -> StoredInstance:
    """Where a de-identified instance is read again when its volume is built: its header is all that is held before."""
    return StoredInstance(partial(ports.objects.get, bucket, key), partial(ports.objects.get_range, bucket, key))


def _earlier_parts(ports: Ports, tenant: str, dataset_id: str, bucket: str, datasets: list[Dataset]) -> list[str]:
    """Object keys of the instances earlier arrivals brought of the series these instances belong to (and are not
    among them), so a series sent in parts is built whole each time a part arrives."""
    uids = {str(dataset.get("SeriesInstanceUID", "")) for dataset in datasets} - {""}
    if not uids:
        return []
    arrived = {str(dataset.get("SOPInstanceUID", "")) for dataset in datasets}
    instances, series = store.instances, store.series
    with ports.db.read() as conn:
        rows = conn.execute(
            sa.select(instances.c.sop_instance_uid, instances.c.object_key)
            .join(series, (series.c.series_id == instances.c.series_id) & (series.c.tenant == instances.c.tenant))
            .where(series.c.tenant == tenant, series.c.dataset_id == dataset_id, series.c.series_instance_uid.in_(uids),
                   instances.c.bucket == bucket)
        ).all()
    return sorted(row.object_key for row in rows if row.sop_instance_uid not in arrived)


def _dicom_volume(ports: Ports, tenant: str, dataset_id: str, bucket: str, volume: Volume, where: dict[int, str]) -> _Built:
    series = volume.series
    first = series.frames[0].dataset
    sops = sorted({str(frame.dataset.SOPInstanceUID) for frame in series.frames})
    content = hashlib.sha256("\n".join([series.series_uid, json.dumps(series.split, sort_keys=True, default=str), *sops]).encode())
    volume_id = str(uuid.uuid5(_NAMESPACE, f"{tenant}/{dataset_id}/{content.hexdigest()}"))
    modality = str(first.get("Modality", ""))[:16]
    attributes = slices.volume_attributes(volume.data, modality, slices.Window(*volume.window) if volume.window else None)
    # the pseudonym lets training keep one patient's scans on one side of its split
    attributes |= {"dicom_bucket": bucket, "instance_keys": _instance_keys(volume, where),
                   "patient_pseudonym": str(first.get("PatientID", ""))[:64]}
    if volume.fourth is not None:
        attributes["fourth_axis"] = volume.fourth.as_dict()
    if volume.precise is not None:
        attributes["precise_values"] = volume.precise
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
        volume_ref=_volume_ref(volume_id, volume.data, volume.affine, str(first.get("FrameOfReferenceUID", "")), volume.issues,
                               volume.fourth.describe() if volume.fourth is not None else ""),
        modality=modality, min_value=attributes["min_value"], max_value=attributes["max_value"],
    )


def _nifti_volume(ports: Ports, tenant: str, dataset_id: str, bucket: str, key: str, data: bytes, refused: list[Refusal]) -> _Built | None:
    """A NIfTI object as a volume of its own study and series, its affine kept exactly (shared.volumes.from_nifti_bytes)."""
    try:
        array, affine = from_nifti_bytes(data, ports.limits.max_voxels)
    except VolumeTooLarge as error:
        refused.append(Refusal("", f"a NIfTI file is too large to build: {error}"))
        return None
    except (ValueError, OSError, EOFError) as error:
        refused.append(Refusal("", f"a NIfTI file could not be read as one 3D volume ({error}); upload a 3D .nii or .nii.gz"))
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


def _volume_ref(volume_id: str, array: np.ndarray, affine: np.ndarray, frame_of_reference: str, issues,
                fourth_axis: str = "") -> geometry_pb2.VolumeRef:
    spacing = list(array_spacing(affine))
    resampled = any(issue.kind == "resampled" for issue in issues)
    how = next((issue.message for issue in issues if issue.kind == "resampled"), "")
    return geometry_pb2.VolumeRef(
        volume_id=volume_id, bucket=VOLUMES_BUCKET, key_prefix=volume_id, format=geometry_pb2.VOLUME_FORMAT_ZARR,
        dtype=data_type(array.dtype),
        geometry=geometry_pb2.Geometry(
            shape=list(array.shape[-3:]), affine=[float(v) for v in np.asarray(affine).ravel()], spacing=spacing,
            frame_of_reference_uid=frame_of_reference,
            issues=[_issue(issue, resampled, how) for issue in issues if issue.kind in _ISSUE_KINDS],
            time_points=array.shape[0] if array.ndim == 4 else 0, fourth_axis=fourth_axis,
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
    sops = {instance["sop_instance_uid"] for instance in volume.instances}
    superseded = _superseded(uow, tenant, dataset_id, series_id, sops)
    if sops:
        uow.execute(store.volume_instances.insert(), [{"tenant": tenant, "volume_id": volume.volume_id, "sop_instance_uid": sop}
                                                      for sop in sorted(sops)])
    uow.execute(table.insert().values(
        volume_id=volume.volume_id, tenant=tenant, dataset_id=dataset_id, study_id=study_id, series_id=series_id,
        upload_id=anonymized.upload_id, scan_id=anonymized.scan_id, modality=volume.modality,
        volume_ref=volume.volume_ref.SerializeToString(), min_value=volume.min_value, max_value=volume.max_value, created_at=now,
    ))
    uow.emit(events_pb2.VolumeReady(
        volume_id=volume.volume_id, study_id=study_id, series_id=series_id, dataset_id=dataset_id, scan_id=anonymized.scan_id,
        volume_ref=volume.volume_ref, modality=volume.modality, series_description=volume.series["description"],
        body_part=volume.series["body_part"], supersedes_volume_ids=superseded,
    ), subject=study_id, tenant=tenant)


def _superseded(uow: UnitOfWork, tenant: str, dataset_id: str, series_id: str, sops: set[str]) -> list[str]:
    """The series' earlier volumes (in this dataset) whose every instance is among `sops`, and fewer of them: the
    parts a series that arrived in parts was built from before."""
    table, members = store.volumes, store.volume_instances
    earlier = uow.execute(sa.select(table.c.volume_id).where(
        table.c.tenant == tenant, table.c.dataset_id == dataset_id, table.c.series_id == series_id).order_by(table.c.seq)).scalars().all()
    found = []
    for volume_id in earlier:
        theirs = set(uow.execute(sa.select(members.c.sop_instance_uid).where(
            members.c.tenant == tenant, members.c.volume_id == volume_id)).scalars())
        if theirs and theirs < sops:
            found.append(volume_id)
    return found


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
