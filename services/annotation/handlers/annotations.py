"""Annotations: key-slice saves (immutable versions, refused when stale), interpolated slices applied while their
key-slice version is current, submission, history, diffs and restores; and per-slice provenance through all of it."""

from __future__ import annotations

import time
import uuid

import numpy as np
import sqlalchemy as sa
from google.protobuf import json_format

from radlab.annotation.v1 import annotation_service_pb2 as pb
from radlab.annotation.v1 import events_pb2
from radlab.interpolation.v1 import events_pb2 as interpolation_events
from radlab.type.v1 import label_pb2
from services.annotation import store
from services.annotation.domain import measurements, shapes
from services.annotation.domain.manifest import (
    ABSENT, DRAWN, IMPORTED, INTERPOLATED, PREDICTED, Manifest, Origin, SliceContent,
)
from services.annotation.handlers import audit, classes, items
from services.annotation.handlers.labels import (
    annotation_message, annotation_row, array_mask, check_base, grid, label_mask, new_version, put_slices, read_slices,
    record_label_array, slice_prefix, version_row, write_label_array,
)
from shared import paging, slice_masks
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import FailedPrecondition, InvalidArgument
from shared.events import Event
from shared.grid import plane_axis
from shared.objectstore import VOLUMES_BUCKET, ObjectStore
from shared.protos import timestamp

PLANE_NAMES, PLANE_ENUMS = slice_masks.PLANES_BY_ENUM, slice_masks.PLANE_ENUMS
PROVENANCE_NAMES = {label_pb2.SLICE_PROVENANCE_DRAWN: DRAWN, label_pb2.SLICE_PROVENANCE_ABSENT: ABSENT,
                    label_pb2.SLICE_PROVENANCE_INTERPOLATED: INTERPOLATED, label_pb2.SLICE_PROVENANCE_PREDICTED: PREDICTED,
                    label_pb2.SLICE_PROVENANCE_IMPORTED: IMPORTED}
PROVENANCE_ENUMS = {name: value for value, name in PROVENANCE_NAMES.items()}
MAX_KEY_SLICES_PER_SAVE = 1000


# ---- saving ---------------------------------------------------------------------------------------------------

def save_key_slices(ports, caller: Principal, request: pb.SaveKeySlicesRequest) -> tuple[str, int]:
    """Apply drawn (or absent, or accepted-prediction) key slices and removals as a new version; returns (annotation, version)."""
    if not request.key_slices and not request.removed_key_slices:
        raise InvalidArgument("nothing to save: give key_slices or removed_key_slices")
    if len(request.key_slices) + len(request.removed_key_slices) > MAX_KEY_SLICES_PER_SAVE:
        raise InvalidArgument(f"at most {MAX_KEY_SLICES_PER_SAVE} key slices per save")
    with ports.db.read() as conn:
        item = items.visible_item(conn, caller, request.item_id)
        values = set(classes.dataset_classes(conn, item.dataset_id))
    shape, affine, _ = grid(item)
    planes = {key.plane for key in request.key_slices} | {ref.plane for ref in request.removed_key_slices}
    if len(planes) != 1 or not planes <= set(PLANE_NAMES):
        raise InvalidArgument("every key slice of one save lies in one plane: axial, coronal or sagittal")
    plane = planes.pop()
    plane_name = PLANE_NAMES[plane]
    axis = plane_axis(affine, plane_name)
    slice_shape = tuple(n for a, n in enumerate(shape) if a != axis)
    edits: dict[int, dict[int, np.ndarray | None]] = {}  # label → index along axis → mask (None: cleared)
    origins: dict[tuple[str, int, int], Origin | None] = {}
    for number, key in enumerate(request.key_slices):
        where = f"key_slices[{number}] ({plane_name} slice {key.slice_index}, label {key.label_value})"
        _check_slice(key.slice_index, key.label_value, shape[axis], values, where)
        provenance = PROVENANCE_NAMES.get(key.provenance)
        if provenance not in (DRAWN, ABSENT, PREDICTED):
            raise InvalidArgument(f"{where}: provenance must be DRAWN, ABSENT or PREDICTED (an accepted model slice)")
        mask = None if provenance == ABSENT else _key_mask(key, slice_shape, plane_name, where)
        if provenance == ABSENT and (key.HasField("mask") or key.polygons):
            raise InvalidArgument(f"{where}: an ABSENT key slice carries no mask or polygons")
        edits.setdefault(key.label_value, {})[key.slice_index] = mask
        origins[(plane_name, key.slice_index, key.label_value)] = Origin(
            DRAWN if provenance == PREDICTED else provenance, caller.subject)
    for number, ref in enumerate(request.removed_key_slices):
        _check_slice(ref.slice_index, ref.label_value, shape[axis], values, f"removed_key_slices[{number}]")
        edits.setdefault(ref.label_value, {})[ref.slice_index] = None
        origins[(plane_name, ref.slice_index, ref.label_value)] = None

    # Masks are stored (by content, once) before the unit of work, which then only records them if the base is current.
    if request.annotation_id:
        with ports.db.read() as conn:
            head = annotation_row(conn, caller, request.annotation_id)
            check_base(conn, head, request.base_version)
            base = Manifest.from_bytes(version_row(conn, head.annotation_id, head.version).manifest)
    else:
        base = Manifest()
    content = apply_edits(ports.objects, slice_prefix(caller.tenant, item.item_id), base, edits, axis, shape)
    with ports.db.unit_of_work() as uow:
        head = start_or_lock(uow, caller, item, request.annotation_id, request.base_version)
        version = new_version(
            uow, head, base.changed(content, origins), change=pb.ANNOTATION_CHANGE_KEY_SLICES_SAVED, author=caller.subject,
            actor=caller.subject, new_key_slices=True, interpolate=True, plane=plane, action="annotation.key_slices_saved",
        )
        return head.annotation_id, version


def apply_edits(objects: ObjectStore, prefix: str, base: Manifest, edits: dict[int, dict[int, np.ndarray | None]],
                axis: int, shape) -> dict[tuple[int, int], SliceContent | None]:
    """The content entries that change when each label's slices along `axis` are replaced by the masks given (None
    clears one); masks are stored as they go, so the caller records only entries whose masks exist."""
    planes: dict[tuple[int, int], np.ndarray | None] = {}  # (label, k) → the new mask of that array slice
    for label, slices in edits.items():
        if axis == 0:
            planes.update(((label, index), mask) for index, mask in slices.items())
            continue
        volume = label_mask(objects, prefix, base, label, shape)
        before = volume.copy()
        for index, mask in slices.items():
            view = volume[:, index, :] if axis == 1 else volume[:, :, index]
            view[...] = False if mask is None else mask
        planes.update(((label, int(k)), volume[k]) for k in np.flatnonzero((volume != before).reshape(shape[0], -1).any(axis=1)))
    stored = dict(zip([key for key, mask in planes.items() if mask is not None],
                      put_slices(objects, prefix, [mask for mask in planes.values() if mask is not None])))
    return {key: stored.get(key) for key in planes}


def start_annotation(uow: UnitOfWork, caller: Principal, item, model_id: str = ""):
    """A new empty annotation by the caller on the item, at version 0 (its first save makes version 1)."""
    annotation_id, now = str(uuid.uuid4()), time.time()
    uow.execute(store.annotations.insert().values(
        annotation_id=annotation_id, tenant=caller.tenant, item_id=item.item_id, dataset_id=item.dataset_id,
        annotator=caller.subject, vendor_id=caller.vendor if caller.role == "vendor" else "", model_id=model_id, version=0,
        key_slice_version=0, state=pb.ANNOTATION_STATE_DRAFT, created_at=now, updated_at=now, submitted_at=None,
    ))
    uow.execute(store.annotation_versions.insert().values(
        annotation_id=annotation_id, version=0, parent_version=0, key_slice_version=0, change=pb.ANNOTATION_CHANGE_UNSPECIFIED,
        author=caller.subject, plane=0, manifest=Manifest().to_bytes(), label_values=[], labels_key="", created_at=now,
    ))
    audit.record(uow, caller.tenant, caller.subject, "annotation.started", dataset_id=item.dataset_id, item_id=item.item_id,
                 annotation_id=annotation_id)
    return annotation_row(uow, caller, annotation_id)


def start_or_lock(uow: UnitOfWork, caller: Principal, item, annotation_id: str, base_version: int):
    """The annotation a change applies to, locked: the named one (refused when `base_version` is stale) or a new one."""
    if not annotation_id:
        return start_annotation(uow, caller, item)
    head = annotation_row(uow, caller, annotation_id, lock=True)
    if head.item_id != item.item_id:
        raise InvalidArgument(f"annotation {annotation_id} belongs to item {head.item_id}, not {item.item_id}")
    check_base(uow, head, base_version)
    return head


def _check_slice(index: int, label: int, count: int, values: set[int], where: str) -> None:
    if not 0 <= index < count:
        raise InvalidArgument(f"{where}: slice index {index} is outside 0 to {count - 1}")
    if label not in values:
        raise InvalidArgument(f"{where}: label value {label} is no class of this dataset; create the class first")


def _key_mask(key: label_pb2.SliceLabel, shape: tuple[int, int], plane: str, where: str) -> np.ndarray:
    if key.HasField("mask") == bool(key.polygons):
        raise InvalidArgument(f"{where}: give a mask or polygons, not both or neither")
    if key.polygons:
        outer = [[(p.x, p.y) for p in polygon.vertices] for polygon in key.polygons if not polygon.hole]
        holes = [[(p.x, p.y) for p in polygon.vertices] for polygon in key.polygons if polygon.hole]
        mask = np.zeros(shape, dtype=bool)
        for ring in outer:
            shape_ = shapes.Polygon(plane=plane, slice_index=key.slice_index, outer=ring, holes=[])
            shapes.validate(shape_, shape)
            mask |= shapes.rasterize(shape_, shape)
        for ring in holes:
            hole = shapes.Polygon(plane=plane, slice_index=key.slice_index, outer=ring, holes=[])
            shapes.validate(hole, shape)
            mask &= ~shapes.rasterize(hole, shape)
        return mask
    return slice_masks.decode(key.mask, shape, where)


# ---- reading --------------------------------------------------------------------------------------------------

def get_annotation(ports, caller: Principal, request: pb.GetAnnotationRequest) -> pb.GetAnnotationResponse:
    with ports.db.read() as conn:
        head = annotation_row(conn, caller, request.annotation_id)
        item = items.visible_item(conn, caller, head.item_id)
        row = version_row(conn, head.annotation_id, request.version or head.version)
    manifest = Manifest.from_bytes(row.manifest)
    response = pb.GetAnnotationResponse(annotation=annotation_message(head, row), slice_origins=[
        pb.SliceOrigin(plane=PLANE_ENUMS[plane], slice_index=index, label_value=label,
                       provenance=PROVENANCE_ENUMS[origin.provenance], source=origin.source)
        for (plane, index, label), origin in sorted(manifest.origins.items())
    ])
    response.shapes.extend(json_format.ParseDict(stored, pb.Shape()) for _, stored in sorted(manifest.shapes.items()))
    shape, affine, _ = grid(item)
    prefix = slice_prefix(head.tenant, head.item_id)
    if request.include_measurements and manifest.content:
        image = ports.volumes.read(VOLUMES_BUCKET, item.volume_id).array
        for label in manifest.label_values():
            stats = measurements.region_stats(label_mask(ports.objects, prefix, manifest, label, shape), image, affine, item.modality)
            response.label_measurements.append(pb.LabelMeasurement(label_value=label, measurement=pb.Measurement(
                volume_ml=stats.volume_ml, voxels=stats.voxels, mean=stats.mean or 0.0, sd=stats.sd or 0.0,
                min=stats.minimum or 0.0, max=stats.maximum or 0.0, units=stats.units)))
    wanted: list[tuple[str, int, int, str]] = []  # (plane, index, label, provenance)
    if request.include_key_slices:
        wanted += [(plane, index, label, origin.provenance) for (plane, index, label), origin in sorted(manifest.origins.items())
                   if origin.provenance in (DRAWN, ABSENT)]
    if request.slice_indices:
        if request.plane not in PLANE_NAMES:
            raise InvalidArgument("slice_indices need a plane: axial, coronal or sagittal")
        name = PLANE_NAMES[request.plane]
        count = shape[plane_axis(affine, name)]
        for index in request.slice_indices:
            if not 0 <= index < count:
                raise InvalidArgument(f"slice index {index} is outside 0 to {count - 1} in the {name} plane")
            for label in manifest.label_values():
                origin = manifest.origins.get((name, index, label))
                wanted.append((name, index, label, origin.provenance if origin else ""))
    masks: dict[int, np.ndarray] = {}  # whole labels, read once, for slices across the stored (k) slices
    for plane, index, label, provenance in wanted:
        axis = plane_axis(affine, plane)
        if axis == 0:  # a stored slice: read just it
            content = manifest.content.get((label, index))
            mask = read_slices(ports.objects, prefix, [content.key])[content.key] if content else np.zeros(shape[1:], bool)
        else:
            if label not in masks:
                masks[label] = label_mask(ports.objects, prefix, manifest, label, shape)
            mask = np.take(masks[label], index, axis=axis)
        if provenance != ABSENT and not mask.any() and not provenance:
            continue
        out = label_pb2.SliceLabel(plane=PLANE_ENUMS[plane], slice_index=index, label_value=label,
                                   provenance=PROVENANCE_ENUMS.get(provenance, 0))
        if provenance != ABSENT:
            out.mask.CopyFrom(slice_masks.raw(mask))
        response.slices.append(out)
    return response


def list_versions(ports, caller: Principal, annotation_id: str, after: int, limit: int):
    table = store.annotation_versions
    with ports.db.read() as conn:
        head = annotation_row(conn, caller, annotation_id)
        items.visible_item(conn, caller, head.item_id)
        query = sa.select(table).where(table.c.annotation_id == annotation_id, table.c.version > 0)
        rows, next_after = paging.page_of(conn, query, table.c.version, after, limit, newest_first=True)
    return [_version_message(row) for row in rows], next_after


def _version_message(row) -> pb.AnnotationVersion:
    message = pb.AnnotationVersion(version=row.version, key_slice_version=row.key_slice_version, change=row.change,
                                   author=row.author, parent_version=row.parent_version, create_time=timestamp(row.created_at))
    if row.labels_key:
        message.labels.CopyFrom(array_mask(row.labels_key, row.label_values))
    if row.submitted_at:
        message.submit_time.CopyFrom(timestamp(row.submitted_at))
    return message


def diff(ports, caller: Principal, request: pb.GetAnnotationDiffRequest) -> pb.GetAnnotationDiffResponse:
    """Per class: voxels added and removed from one version to another, and the slices whose content changed."""
    with ports.db.read() as conn:
        head = annotation_row(conn, caller, request.annotation_id)
        item = items.visible_item(conn, caller, head.item_id)
        to_row = version_row(conn, head.annotation_id, request.to_version or head.version)
        from_row = version_row(conn, head.annotation_id, request.from_version if request.from_version else to_row.parent_version)
    old, new = Manifest.from_bytes(from_row.manifest), Manifest.from_bytes(to_row.manifest)
    prefix = slice_prefix(head.tenant, head.item_id)
    shape = grid(item)[0]
    response = pb.GetAnnotationDiffResponse(from_version=from_row.version, to_version=to_row.version)
    shape_changes = new.shapes_changed(old)
    for label, slices in old.slices_changed(new).items():
        keys = [content.key for k in slices for content in (old.content.get((label, k)), new.content.get((label, k))) if content]
        decoded = read_slices(ports.objects, prefix, keys)
        empty = np.zeros(shape[1:], dtype=bool)
        added = removed = 0
        for k in slices:
            before = decoded[old.content[(label, k)].key] if (label, k) in old.content else empty
            after = decoded[new.content[(label, k)].key] if (label, k) in new.content else empty
            added += int(np.count_nonzero(after & ~before))
            removed += int(np.count_nonzero(before & ~after))
        response.labels.append(pb.LabelDiff(label_value=label, voxels_added=added, voxels_removed=removed, slices_changed=slices))
    for label, (added, removed, changed) in shape_changes.items():
        entry = next((d for d in response.labels if d.label_value == label), None) or response.labels.add(label_value=label)
        entry.shapes_added, entry.shapes_removed, entry.shapes_changed = added, removed, changed
    response.labels.sort(key=lambda d: d.label_value)
    return response


def restore(ports, caller: Principal, request: pb.RestoreAnnotationVersionRequest) -> pb.Annotation:
    """A new version whose labels and provenance are those of an earlier one; history stays as it was."""
    with ports.db.unit_of_work() as uow:
        head = annotation_row(uow, caller, request.annotation_id, lock=True)
        items.visible_item(uow, caller, head.item_id)
        check_base(uow, head, request.base_version)
        old = version_row(uow, head.annotation_id, request.version)
        version = new_version(uow, head, Manifest.from_bytes(old.manifest), change=pb.ANNOTATION_CHANGE_VERSION_RESTORED,
                              author=caller.subject, actor=caller.subject, new_key_slices=True, interpolate=False,
                              action="annotation.restored")
        return annotation_message(annotation_row(uow, caller, head.annotation_id), version_row(uow, head.annotation_id, version))


def submit(ports, caller: Principal, annotation_id: str, version: int) -> pb.Annotation:
    """Hand in the current version: its label array is written, and AnnotationSubmitted tells workflow."""
    with ports.db.read() as conn:
        head = annotation_row(conn, caller, annotation_id)
        item = items.visible_item(conn, caller, head.item_id)
        check_base(conn, head, version)
        if head.version == 0:
            raise FailedPrecondition(f"annotation {annotation_id} has nothing saved yet; save key slices first")
        row = version_row(conn, annotation_id, version)
    key = write_label_array(ports.objects, ports.volumes, head, row, item)
    with ports.db.unit_of_work() as uow:
        head = annotation_row(uow, caller, annotation_id, lock=True)
        check_base(uow, head, version)
        mark_submitted(uow, head, row, record_label_array(uow, row, key, item.volume_id), caller.subject)
        return annotation_message(annotation_row(uow, caller, annotation_id), version_row(uow, annotation_id, version))


def mark_submitted(uow: UnitOfWork, head, row, mask: label_pb2.Mask, actor: str) -> None:
    """The annotation's version `row` is handed in: SUBMITTED, AnnotationSubmitted (with its label array, boxes and
    polygons), audited."""
    now = time.time()
    uow.execute(store.annotations.update().where(store.annotations.c.annotation_id == head.annotation_id).values(
        state=pb.ANNOTATION_STATE_SUBMITTED, submitted_at=now, updated_at=now))
    table = store.annotation_versions
    uow.execute(table.update().where(table.c.annotation_id == head.annotation_id, table.c.version == row.version)
                .values(submitted_at=now))
    boxes, polygons = _boxes_and_polygons(Manifest.from_bytes(row.manifest))
    uow.emit(events_pb2.AnnotationSubmitted(
        item_id=head.item_id, dataset_id=head.dataset_id, annotation_id=head.annotation_id, version=row.version,
        annotator=head.annotator, vendor_id=head.vendor_id, labels=mask, boxes=boxes, polygons=polygons,
    ), subject=head.item_id, tenant=head.tenant)
    audit.record(uow, head.tenant, actor, "annotation.submitted", dataset_id=head.dataset_id, item_id=head.item_id,
                 annotation_id=head.annotation_id, before_version=row.version, after_version=row.version)


def _boxes_and_polygons(manifest: Manifest) -> tuple[list[label_pb2.SliceBox], list[label_pb2.Polygon]]:
    """A version's box and polygon shapes as events carry them (a polygon: its outer ring, then its holes); ellipses,
    lines, points, angles and tags are left out."""
    boxes, polygons = [], []
    for _, stored in sorted(manifest.shapes.items()):
        shape = json_format.ParseDict(stored, pb.Shape())
        place = dict(plane=shape.plane, slice_index=shape.slice_index, label_value=shape.label_value)
        if shape.HasField("box"):
            boxes.append(label_pb2.SliceBox(**place, x0=shape.box.x0, y0=shape.box.y0, x1=shape.box.x1, y1=shape.box.y1))
        elif shape.HasField("polygon"):
            polygons.append(label_pb2.Polygon(**place, vertices=shape.polygon.outer.vertices))
            polygons.extend(label_pb2.Polygon(**place, vertices=hole.vertices, hole=True) for hole in shape.polygon.holes)
    return boxes, polygons


# ---- events ---------------------------------------------------------------------------------------------------

def on_annotation_version_saved(ports, consumer: str, event: Event) -> None:
    """Write a key-slice version's label array and ask interpolation to fill it (KeySlicesSaved), while it is current.
    The array is written before the unit of work that records it and emits the request."""
    saved: events_pb2.AnnotationVersionSaved = event.message
    if not saved.interpolate or ports.db.processed(consumer, event.id):
        return
    with ports.db.read() as conn:
        head = _current_key_slices(conn, saved.annotation_id, saved.version)
        if head is None:
            return  # a newer key-slice version was saved since: it asks for its own interpolation
        item = conn.execute(sa.select(store.items).where(store.items.c.item_id == head.item_id)).one()
        row = version_row(conn, head.annotation_id, saved.version)
    key = write_label_array(ports.objects, ports.volumes, head, row, item)

    def request(uow: UnitOfWork) -> None:
        if _current_key_slices(uow, saved.annotation_id, saved.version) is None:
            return
        mask = record_label_array(uow, row, key, item.volume_id)
        keys = Manifest.from_bytes(row.manifest).key_slices(PLANE_NAMES[saved.plane])
        uow.emit(events_pb2.KeySlicesSaved(
            item_id=head.item_id, dataset_id=head.dataset_id, annotation_id=head.annotation_id, version=saved.version,
            volume_id=item.volume_id, plane=saved.plane, labels=mask,
            key_slices=[events_pb2.LabelKeySlices(label_value=label, drawn_slice_indices=drawn, absent_slice_indices=absent)
                        for label, (drawn, absent) in keys.items()],
        ), subject=head.item_id, tenant=head.tenant)

    ports.db.apply_once(consumer, event.id, request)


def _current_key_slices(conn, annotation_id: str, key_slice_version: int):
    """The annotation's head while `key_slice_version` is its current key-slice version, else None."""
    head = conn.execute(sa.select(store.annotations).where(store.annotations.c.annotation_id == annotation_id)).first()
    return head if head is not None and head.key_slice_version == key_slice_version else None


class AnnotationMovedOn(RuntimeError):
    """The annotation got a new version while filled slices were being applied to the one before; retried on it."""


def on_slices_interpolated(ports, consumer: str, event: Event) -> None:
    """Apply filled slices as a new version, only while the key-slice version they came from is current; key slices
    are never overwritten, and slices interpolated before that lie outside the new fill are cleared. The fill is read
    and its masks stored before the unit of work that records the version."""
    filled: interpolation_events.SlicesInterpolated = event.message
    if ports.db.processed(consumer, event.id):
        return
    with ports.db.read() as conn:
        head = _current_key_slices(conn, filled.annotation_id, filled.key_slice_version)
        if head is None:
            return  # stale: the current key-slice version has its own interpolation coming
        item = conn.execute(sa.select(store.items).where(store.items.c.item_id == head.item_id)).one()
        base = Manifest.from_bytes(version_row(conn, head.annotation_id, head.version).manifest)
    shape, affine, _ = grid(item)
    plane = PLANE_NAMES[filled.plane]
    axis = plane_axis(affine, plane)
    edits, origins = _filled_edits(base, filled, plane, ports.volumes.read(filled.labels.bucket, filled.labels.key).array, axis)
    content = apply_edits(ports.objects, slice_prefix(head.tenant, head.item_id), base, edits, axis, shape) if edits else {}

    def record(uow: UnitOfWork) -> None:
        current = uow.execute(sa.select(store.annotations).where(
            store.annotations.c.annotation_id == filled.annotation_id).with_for_update()).first()
        if not edits or current.key_slice_version != filled.key_slice_version:
            return
        if current.version != head.version:
            raise AnnotationMovedOn(f"annotation {head.annotation_id} is at version {current.version} now, not {head.version}")
        new_version(uow, current, base.changed(content, origins), change=pb.ANNOTATION_CHANGE_SLICES_INTERPOLATED,
                    author=f"interpolation:{filled.job_id}", actor="radlab.interpolation", new_key_slices=False,
                    action="annotation.slices_interpolated", plane=filled.plane)

    ports.db.apply_once(consumer, event.id, record)


def _filled_edits(base: Manifest, filled, plane: str, result: np.ndarray, axis: int):
    """Per label, the slices to replace with the fill (never an annotator's key slice) and the interpolated slices
    of before that the fill no longer covers (cleared); and their new origins."""
    source = f"job {filled.job_id}"
    fills = {entry.label_value: set(entry.slice_indices) for entry in filled.filled_slices}
    edits: dict[int, dict[int, np.ndarray | None]] = {}
    origins: dict[tuple[str, int, int], Origin | None] = {}
    for label in set(fills) | set(base.key_slices(plane)):
        slices = {}
        for index in fills.get(label, ()):
            origin = base.origins.get((plane, index, label))
            if origin is not None and origin.provenance in (DRAWN, ABSENT):
                continue  # an annotator's slice stays theirs
            slices[index] = np.take(result, index, axis=axis) == label
            origins[(plane, index, label)] = Origin(INTERPOLATED, source)
        for (origin_plane, index, origin_label), origin in base.origins.items():
            if (origin_plane, origin_label) == (plane, label) and origin.provenance == INTERPOLATED and index not in slices:
                slices[index] = None
                origins[(plane, index, label)] = None
        if slices:
            edits[label] = slices
    return edits, origins

