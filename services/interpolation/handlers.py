"""Interpolation's command and event handlers: load key slices and volumes, call the domain's `fill`, save, emit.

A whole-volume job (one per KeySlicesSaved, run on the consumer; one per StartInterpolation, run on the
worker under a claim that lets another instance take it over if this process stops: shared/jobs.py) reads the
key-slice version's label array and, when stored, the item's image; fills every label's gaps along the
plane's array axis; writes the filled array to the `labels` bucket under a prefix naming the
item, annotation, version and job; then records the result and emits SlicesInterpolated in one unit of
work. Key slices are never overwritten (`fill` keeps them), and only the filled slices are listed. A
redelivered KeySlicesSaved finds its job by event id and emits nothing twice. Interpolate fills one label
between its key slices (every gap between the outer ones) in memory, for the live preview, and stores nothing.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from radlab.annotation.v1 import events_pb2 as annotation_events
from radlab.interpolation.v1 import events_pb2
from radlab.interpolation.v1 import interpolation_service_pb2 as pb
from radlab.quoting import shown
from radlab.type.v1 import geometry_pb2, job_pb2, label_pb2
from services.interpolation import store
from services.interpolation.domain.fill import LabelKeys, Method, fill
from shared.grid import array_spacing, plane_axis
from services.interpolation.domain.polygons import Contour, outline, rasterize
from shared import slice_masks
from shared.auth import Principal
from shared.consumer import Handler
from shared.db import Database, UnitOfWork, idempotent
from shared.errors import FailedPrecondition, InvalidArgument, NotFound, RadlabError
from shared.events import Event, event_type
from shared.jobs import JobProgress, JobWorker
from shared.objectstore import LABELS_BUCKET, VOLUMES_BUCKET, ObjectNotFound
from shared.protos import data_type, timestamp
from shared.volume_store import VolumeStore

log = logging.getLogger(__name__)

# Share of a job's progress bar before and after the fill itself (reading inputs, writing the result).
READ_SHARE, WRITE_SHARE = 0.1, 0.1


@dataclass(frozen=True)
class Ports:
    """What interpolation's handlers work with: its database, the volume store and the job worker."""

    db: Database
    volumes: VolumeStore
    worker: JobWorker


def job_worker(db: Database, **options) -> JobWorker:
    """The worker of StartInterpolation jobs; KeySlicesSaved jobs (with a source event) are never claimed."""
    return JobWorker(db, store.jobs, name="interpolation", claimable=store.jobs.c.source_event_id.is_(None), **options)


# ---- access --------------------------------------------------------------------------------------------------

def _visible_item(conn: UnitOfWork | Connection, caller: Principal, item_id: str):
    """The cached item, if the caller's tenant has it and (vendors) its dataset is shared with the caller's vendor."""
    if not item_id:
        raise InvalidArgument("item_id is required")
    items = store.items
    row = conn.execute(sa.select(items).where(items.c.tenant == caller.tenant, items.c.item_id == item_id)).first()
    if row is None or not store.vendor_shares.visible(conn, caller, row.dataset_id):
        raise NotFound(f"item {shown(item_id)} not found (interpolation knows the items annotation announced with ItemAdded)")
    return row


# ---- Interpolate: one label, one gap, nothing stored ----------------------------------------------------------

def interpolate(ports: Ports, caller: Principal, request: pb.InterpolateRequest) -> pb.InterpolateResponse:
    """Fill one label between the request's key slices; return a SliceLabel (mask, polygons if asked) per filled slice."""
    plane = slice_masks.plane_name(request.plane)
    if request.label_value <= 0:
        raise InvalidArgument("label_value must be a label class value of 1 or more (0 is the background)")
    with ports.db.read() as conn:
        item = _visible_item(conn, caller, request.item_id)
    try:
        info = ports.volumes.info(VOLUMES_BUCKET, item.volume_id)
    except ObjectNotFound:
        raise FailedPrecondition(
            f"volume {item.volume_id} of item {request.item_id} is not stored yet; try again once ingestion has written it"
        ) from None
    axis = plane_axis(info.affine, plane)
    count = info.shape[axis]
    slice_shape = tuple(size for n, size in enumerate(info.shape) if n != axis)
    masks = _key_masks(request, slice_shape, count, plane)
    drawn = sorted(index for index, mask in masks.items() if mask is not None)
    if not drawn:
        raise InvalidArgument(f"no key slice has label {request.label_value} drawn; draw it on at least one key slice")
    first, last = min(masks), max(masks)
    if last - first < 2:
        raise InvalidArgument(
            f"key slices {sorted(masks)} leave no slice between them to fill; give key slices on both sides of the gap"
        )
    slab = np.zeros((last - first + 1, *slice_shape), dtype=np.min_scalar_type(request.label_value))
    for index in drawn:
        slab[index - first][masks[index]] = request.label_value
    keys = {request.label_value: LabelKeys(
        drawn=tuple(index - first for index in drawn),
        absent=tuple(sorted(index - first for index, mask in masks.items() if mask is None)),
    )}
    method = _method(request.method)
    image = None
    if method not in (Method.SHAPE, Method.NEAREST_KEY, Method.SIGNED_DISTANCE):
        image = np.stack([ports.volumes.slice(VOLUMES_BUCKET, item.volume_id, axis, index) for index in range(first, last + 1)])
    spacing = array_spacing(info.affine)
    # The live preview's image-guided candidate is the fast one.
    result = fill(slab, keys, axis=0, method=method, image=image, fast=True,
                  spacing=(spacing[axis], *(s for n, s in enumerate(spacing) if n != axis)))
    slices = []
    for index in result.filled.get(request.label_value, ()):
        mask = result.labels[index] == request.label_value
        slices.append(_slice_label(request.plane, first + index, request.label_value, mask, request.include_polygons))
    return pb.InterpolateResponse(slices=slices, method=_method_proto(result.method), choices=_choices(result))


def _key_masks(request: pb.InterpolateRequest, shape: tuple[int, int], count: int, plane: str) -> dict[int, np.ndarray | None]:
    """Each key slice's index → its mask (None where the label is absent), checked against the volume."""
    masks: dict[int, np.ndarray | None] = {}
    for number, key in enumerate(request.key_slices, 1):
        where = f"key slice {number} (slice {key.slice_index})"
        if key.plane and key.plane != request.plane:
            raise InvalidArgument(f"{where} is in plane {geometry_pb2.Plane.Name(key.plane)} but the request asks for "
                                  f"{geometry_pb2.Plane.Name(request.plane)}; key slices of one request share its plane")
        if key.label_value and key.label_value != request.label_value:
            raise InvalidArgument(f"{where} is of label {key.label_value} but the request fills label {request.label_value}")
        if not 0 <= key.slice_index < count:
            raise InvalidArgument(f"{where} lies outside the volume: its {plane} slices are 0 to {count - 1}")
        if key.slice_index in masks:
            raise InvalidArgument(f"{where}: slice {key.slice_index} is given twice; give each key slice once")
        masks[key.slice_index] = _key_mask(key, shape, where)
    if len(masks) < 2:
        raise InvalidArgument("give at least two key slices, one on each side of the gap to fill")
    return masks


def _key_mask(key: label_pb2.SliceLabel, shape: tuple[int, int], where: str) -> np.ndarray | None:
    """A key slice's pixels (None for ABSENT, and for a DRAWN key with nothing drawn)."""
    has_mask = key.HasField("mask")
    if key.provenance == label_pb2.SLICE_PROVENANCE_ABSENT:
        if has_mask or key.polygons:
            raise InvalidArgument(f"{where} is ABSENT but carries a mask or polygons; an absent key slice has neither")
        return None
    if key.provenance not in (label_pb2.SLICE_PROVENANCE_UNSPECIFIED, label_pb2.SLICE_PROVENANCE_DRAWN):
        raise InvalidArgument(f"{where} has provenance {label_pb2.SliceProvenance.Name(key.provenance)}; "
                              "key slices are DRAWN or ABSENT")
    if has_mask and key.polygons:
        raise InvalidArgument(f"{where} has both a mask and polygons; set one of them")
    if has_mask:
        mask = slice_masks.decode(key.mask, shape, where)
    elif key.polygons:
        contours = [Contour(vertices=np.array([(p.x, p.y) for p in polygon.vertices], dtype=np.float64), hole=polygon.hole)
                    for polygon in key.polygons]
        short = [len(contour.vertices) for contour in contours if len(contour.vertices) < 3]
        if short:
            raise InvalidArgument(f"{where} has a polygon of {short[0]} vertices; a polygon needs at least 3")
        mask = rasterize(contours, shape)
    else:
        raise InvalidArgument(f"{where} is DRAWN but has neither a mask nor polygons")
    return mask if mask.any() else None


def _slice_label(plane: int, index: int, value: int, mask: np.ndarray, with_polygons: bool) -> label_pb2.SliceLabel:
    label = label_pb2.SliceLabel(
        plane=plane, slice_index=index, label_value=value, provenance=label_pb2.SLICE_PROVENANCE_INTERPOLATED,
        mask=slice_masks.raw(mask),
    )
    if with_polygons:
        label.polygons.extend(
            label_pb2.Polygon(plane=plane, slice_index=index, label_value=value, hole=contour.hole,
                              vertices=[label_pb2.Point2(x=float(x), y=float(y)) for x, y in contour.vertices])
            for contour in outline(mask)
        )
    return label


# ---- whole-volume jobs ----------------------------------------------------------------------------------------

def start_interpolation(ports: Ports, caller: Principal, request: pb.StartInterpolationRequest) -> pb.InterpolationJob:
    """Queue a whole-volume job for an annotation's key-slice version (0: the latest) and return it; poll it with get_job."""
    if not request.annotation_id:
        raise InvalidArgument("annotation_id is required")
    with ports.db.unit_of_work() as uow:
        item = _visible_item(uow, caller, request.item_id)
        saved = _key_slice_version(uow, caller.tenant, item.item_id, request.annotation_id, request.key_slice_version)
        if request.plane and request.plane != saved.plane:
            raise InvalidArgument(
                f"version {saved.version} of annotation {saved.annotation_id} has key slices in the "
                f"{geometry_pb2.Plane.Name(saved.plane)} plane only; ask for that plane or leave plane unset"
            )
        known = {keys.label_value for keys in saved.key_slices}
        unknown = sorted(set(request.label_values) - known)
        if unknown:
            raise InvalidArgument(f"labels {unknown} have no key slices in version {saved.version}; "
                                  f"its labels are {sorted(known)}")
        job_id = _insert_job(uow, caller.tenant, saved, request.method, sorted(set(request.label_values)), caller.subject,
                             None, ports.worker.claim())
        job = _job(_job_row(uow, job_id))
    ports.worker.submit(job_id, partial(_run_in_background, ports, job_id))
    return job


def resume_abandoned_jobs(ports: Ports) -> list[str]:
    """From startup on: take over and run the StartInterpolation jobs a stopped process left QUEUED or RUNNING
    (those whose claims have lapsed now, and later ones as theirs lapse); returns the ids taken now."""
    return ports.worker.watch(partial(_run_in_background, ports))


def get_job(ports: Ports, caller: Principal, job_id: str) -> pb.InterpolationJob:
    if not job_id:
        raise InvalidArgument("job_id is required")
    table = store.jobs
    with ports.db.read() as conn:
        row = conn.execute(sa.select(table).where(table.c.tenant == caller.tenant, table.c.job_id == job_id)).first()
        if row is None or not store.vendor_shares.visible(conn, caller, row.dataset_id):
            raise NotFound(f"interpolation job {shown(job_id)} not found")
    return _job(row)


def _key_slice_version(conn, tenant: str, item_id: str, annotation_id: str, version: int) -> annotation_events.KeySlicesSaved:
    table = store.key_slice_versions
    query = sa.select(table).where(table.c.tenant == tenant, table.c.annotation_id == annotation_id, table.c.item_id == item_id)
    query = query.where(table.c.version == version) if version else query.order_by(table.c.version.desc()).limit(1)
    row = conn.execute(query).first()
    if row is None:
        which = f"version {version}" if version else "any version"
        raise NotFound(f"no key slices saved for annotation {shown(annotation_id)} of item {shown(item_id)} ({which})")
    return annotation_events.KeySlicesSaved.FromString(row.key_slices_saved)


def _insert_job(uow: UnitOfWork, tenant: str, saved: annotation_events.KeySlicesSaved, method: int,
                label_values: list[int], requester: str, source_event_id: str | None, claim: dict | None = None) -> str:
    job_id = str(uuid.uuid4())
    now = time.time()
    uow.execute(store.jobs.insert().values(
        job_id=job_id, tenant=tenant, item_id=saved.item_id, dataset_id=saved.dataset_id,
        annotation_id=saved.annotation_id, key_slice_version=saved.version, plane=saved.plane, method=method,
        label_values=json.dumps(label_values), requester=requester, source_event_id=source_event_id,
        state=job_pb2.JOB_STATE_QUEUED, percent_done=0.0, message="queued", error="", result=None,
        method_used=pb.INTERPOLATION_METHOD_UNSPECIFIED, created_at=now, updated_at=now, **(claim or {}),
    ))
    return job_id


def _job_row(conn, job_id: str):
    return conn.execute(sa.select(store.jobs).where(store.jobs.c.job_id == job_id)).one()


def _run_in_background(ports: Ports, job_id: str) -> None:
    """A StartInterpolation job on the worker thread: every failure ends in the job row, none is lost in the executor."""
    try:
        run_job(ports, job_id, owner=ports.worker.owner)
    except Exception:
        log.exception("interpolation job %s failed", job_id)


def run_job(ports: Ports, job_id: str, *, consumer: str = "", event_id: str = "", owner: str = "") -> None:
    """Run a queued job to SUCCEEDED (result stored, SlicesInterpolated emitted) or FAILED.

    With `event_id` (a KeySlicesSaved job) the event is marked processed in the unit of work that finishes the
    job; errors a user caused end it FAILED for good, any other error is raised again so the consumer retries.
    With `owner` (a StartInterpolation job) the job row is changed only while that worker's claim on it holds:
    had this process stalled past its claim and another instance taken the job over, the job is left to it.
    """
    with ports.db.read() as conn:
        row = _job_row(conn, job_id)
        saved = _key_slice_version(conn, row.tenant, row.item_id, row.annotation_id, row.key_slice_version)
    if owner and row.claimed_by != owner:
        log.warning("interpolation job claimed by another instance; left to it", extra={"job_id": job_id})
        return
    progress = JobProgress(ports.db, store.jobs, job_id, owner)
    progress.report(0.0, "reading the label array and the image", state=job_pb2.JOB_STATE_RUNNING)
    try:
        mask, filled = _fill_volume(ports, row, saved, progress)
    except (RadlabError, ObjectNotFound) as error:
        _finish(ports, job_id, consumer, event_id, owner, error=_user_message(error))
        return
    except Exception as error:
        retry = "it is retried while the event is redelivered" if event_id else "start the interpolation again"
        progress.report(progress.percent / 100, "failed", state=job_pb2.JOB_STATE_FAILED,
                        error=f"internal error ({type(error).__name__}); {retry}")
        raise
    _finish(ports, job_id, consumer, event_id, owner, mask=mask, filled=filled)


def _user_message(error: Exception) -> str:
    if isinstance(error, ObjectNotFound):
        return f"{error}: the label array of this key-slice version is gone; save the key slices again"
    return str(error)


def _fill_volume(ports: Ports, row, saved: annotation_events.KeySlicesSaved, progress: JobProgress):
    """Read, fill and write one job's label array; returns its Mask and the fill's result."""
    if not saved.labels.key:
        raise InvalidArgument(f"version {saved.version} of annotation {saved.annotation_id} names no label array")
    labels = ports.volumes.read(saved.labels.bucket or LABELS_BUCKET, saved.labels.key)
    image = _image(ports, saved.volume_id or saved.labels.volume_id, labels.array.shape)
    axis = plane_axis(labels.affine, slice_masks.plane_name(saved.plane))
    wanted = set(json.loads(row.label_values))
    keys = {
        keys.label_value: LabelKeys(drawn=tuple(keys.drawn_slice_indices), absent=tuple(keys.absent_slice_indices))
        for keys in saved.key_slices if not wanted or keys.label_value in wanted
    }
    progress.report(READ_SHARE, "filling between the key slices")
    filled = fill(
        labels.array, keys, axis=axis, method=_method(row.method), image=image,
        spacing=array_spacing(labels.affine),
        progress=lambda done: progress.report(READ_SHARE + (1 - READ_SHARE - WRITE_SHARE) * done, "filling between the key slices"),
    )
    progress.report(1 - WRITE_SHARE, "writing the filled label array")
    prefix = f"{row.tenant}/{row.item_id}/{row.annotation_id}/{row.key_slice_version}/interpolated-{row.job_id}"
    ports.volumes.write(LABELS_BUCKET, prefix, filled.labels, labels.affine, {
        "item_id": row.item_id, "annotation_id": row.annotation_id, "key_slice_version": row.key_slice_version,
        "job_id": row.job_id, "method": filled.method.value,
        "choices": {str(value): {"method": made.method, "reason": made.reason} for value, made in filled.choices.items()},
        "filled_slices": {str(value): list(slices) for value, slices in filled.filled.items()},
    })
    mask = label_pb2.Mask(
        bucket=LABELS_BUCKET, key=prefix, format=geometry_pb2.VOLUME_FORMAT_ZARR,
        dtype=data_type(filled.labels.dtype),
        label_values=[int(v) for v in np.unique(filled.labels) if v != 0], volume_id=saved.volume_id or saved.labels.volume_id,
    )
    return mask, filled


def _image(ports: Ports, volume_id: str, shape: tuple[int, ...]) -> np.ndarray | None:
    """The item's image when it is stored on the label array's grid; None (shape-based filling) otherwise."""
    if not volume_id:
        return None
    try:
        image = ports.volumes.read(VOLUMES_BUCKET, volume_id).array
    except ObjectNotFound:
        return None
    if image.shape != shape:
        raise InvalidArgument(f"the label array has shape {shape} but volume {volume_id} has {image.shape}; "
                              "labels must lie on their volume's grid")
    return image


def _finish(ports: Ports, job_id: str, consumer: str, event_id: str, owner: str, *, mask: label_pb2.Mask | None = None,
            filled=None, error: str = "") -> None:
    """End the job (and, for an event's job, mark the event processed) in one unit of work; emit its result.

    Nothing changes when the event was processed already, or when `owner` no longer holds the job's claim (only
    StartInterpolation jobs have an owner, and no event).
    """
    table = store.jobs

    def end(uow: UnitOfWork) -> None:
        row = _job_row(uow, job_id)
        if owner and row.claimed_by != owner:
            log.warning("interpolation job taken over by another instance; its result is left to it", extra={"job_id": job_id})
            return
        values = dict(percent_done=100.0, updated_at=time.time())
        if error:
            values |= dict(state=job_pb2.JOB_STATE_FAILED, message="failed", error=error)
            log.info("interpolation job failed", extra={"job_id": job_id, "item_id": row.item_id})
        else:
            method = _method_proto(filled.method)
            choices = _choices(filled)
            values |= dict(state=job_pb2.JOB_STATE_SUCCEEDED, message="done", error="", result=mask.SerializeToString(),
                           method_used=method, choices=json.dumps([[made.label_value, made.method, made.reason] for made in choices]))
            uow.emit(
                events_pb2.SlicesInterpolated(
                    item_id=row.item_id, annotation_id=row.annotation_id, key_slice_version=row.key_slice_version,
                    job_id=job_id, plane=row.plane, method=method, labels=mask,
                    filled_slices=[events_pb2.FilledSlices(label_value=value, slice_indices=slices)
                                   for value, slices in sorted(filled.filled.items())],
                    choices=choices,
                ),
                subject=row.item_id, tenant=row.tenant,
            )
            log.info("slices interpolated", extra={"job_id": job_id, "item_id": row.item_id,
                                                   "slices": sum(len(s) for s in filled.filled.values())})
        uow.execute(table.update().where(table.c.job_id == job_id).values(**values))

    ports.db.apply_once(consumer, event_id, end)


def _job(row) -> pb.InterpolationJob:
    job = pb.InterpolationJob(
        job=job_pb2.Job(id=row.job_id, state=row.state, percent_done=row.percent_done, message=row.message,
                        error=row.error, create_time=timestamp(row.created_at), update_time=timestamp(row.updated_at)),
        item_id=row.item_id, annotation_id=row.annotation_id, key_slice_version=row.key_slice_version, plane=row.plane,
        method=row.method_used or row.method, label_values=json.loads(row.label_values), requester=row.requester,
        create_time=timestamp(row.created_at),
    )
    if row.result:
        job.labels.CopyFrom(label_pb2.Mask.FromString(row.result))
    job.choices.extend(pb.LabelChoice(label_value=value, method=method, reason=reason)
                       for value, method, reason in json.loads(row.choices or "[]"))
    return job


# ---- events --------------------------------------------------------------------------------------------------

def on_item_added(uow: UnitOfWork, event: Event) -> None:
    """Remember the item's dataset (access) and volume (the image that guides filling)."""
    added: annotation_events.ItemAdded = event.message
    items = store.items
    key = (items.c.tenant == event.envelope.tenant) & (items.c.item_id == added.item_id)
    uow.execute(items.delete().where(key))
    uow.execute(items.insert().values(tenant=event.envelope.tenant, item_id=added.item_id, dataset_id=added.dataset_id,
                                      volume_id=added.volume_id))


def on_key_slices_saved(ports: Ports, consumer: str, event: Event) -> None:
    """Cache the key-slice version, then interpolate it at once (the job is found again on redelivery)."""
    saved: annotation_events.KeySlicesSaved = event.message
    tenant = event.envelope.tenant
    versions, jobs = store.key_slice_versions, store.jobs

    def cache_and_queue(uow: UnitOfWork) -> str:
        known = uow.execute(sa.select(versions.c.version).where(
            versions.c.tenant == tenant, versions.c.annotation_id == saved.annotation_id, versions.c.version == saved.version
        )).first()
        if known is None:
            uow.execute(versions.insert().values(
                tenant=tenant, annotation_id=saved.annotation_id, version=saved.version, item_id=saved.item_id,
                dataset_id=saved.dataset_id, key_slices_saved=saved.SerializeToString(), saved_at=time.time(),
            ))
        job = uow.execute(sa.select(jobs.c.job_id).where(jobs.c.source_event_id == event.id)).first()
        return job.job_id if job else _insert_job(uow, tenant, saved, pb.INTERPOLATION_METHOD_UNSPECIFIED, [], "", event.id)

    # Not recorded yet: the unit of work that ends the job records the event (_finish), so until then a
    # redelivery finds the job and runs it again.
    job_id = ports.db.apply_once(consumer, event.id, cache_and_queue, record=False)
    if job_id is not None:
        run_job(ports, job_id, consumer=consumer, event_id=event.id)


def event_handlers(ports: Ports, consumer: str) -> dict[str, Handler]:
    """ItemAdded and vendor sharing are cached; KeySlicesSaved is interpolated (all idempotent by event id)."""

    def handle_key_slices_saved(event: Event) -> None:
        on_key_slices_saved(ports, consumer, event)

    cached: Iterable[tuple[type, Callable[[UnitOfWork, Event], None]]] = (
        (annotation_events.ItemAdded, on_item_added),
    )
    handlers = {event_type(message): idempotent(ports.db, consumer, apply) for message, apply in cached}
    handlers.update(store.vendor_shares.event_handlers(ports.db, consumer))
    handlers.update(store.revoked_tokens.event_handlers(ports.db, consumer))
    handlers[event_type(annotation_events.KeySlicesSaved)] = handle_key_slices_saved
    return handlers


# ---- conversions ---------------------------------------------------------------------------------------------

def _method(method: int) -> Method:
    """The domain's method for a request's; UNSPECIFIED is AUTOMATIC (the image-guided kinds fall back to SHAPE without
    an image); BLEND is only ever chosen, and fill() refuses it."""
    if method == pb.INTERPOLATION_METHOD_UNSPECIFIED:
        return Method.AUTOMATIC
    try:
        return Method[pb.InterpolationMethod.Name(method).removeprefix("INTERPOLATION_METHOD_")]
    except ValueError:
        asked = ", ".join(m.name for m in Method if m is not Method.BLEND)
        raise InvalidArgument(f"unknown interpolation method {method}; use one of {asked}") from None


def _method_proto(method: Method) -> int:
    return pb.InterpolationMethod.Value(f"INTERPOLATION_METHOD_{method.name}")


def _choices(filled) -> list[pb.LabelChoice]:
    """Per label of a fill, its method and why, as the API says them."""
    return [pb.LabelChoice(label_value=value, method=_method_proto(Method(made.method)), reason=made.reason)
            for value, made in sorted(filled.choices.items())]
