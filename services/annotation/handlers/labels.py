"""An annotation's content in the object store and its versions in the database: slice masks stored once by content,
label arrays assembled from a version's manifest, and the one way a new version is made."""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from radlab.annotation.v1 import annotation_service_pb2 as pb
from radlab.annotation.v1 import events_pb2
from radlab.quoting import shown
from radlab.type.v1 import geometry_pb2, label_pb2
from services.annotation import store
from services.annotation.domain import rle
from services.annotation.domain.manifest import INTERPOLATED, PREDICTED, Manifest, SliceContent
from services.annotation.domain.segmentation import AUTOMATIC, SEMIAUTOMATIC, Segment, Segmentation
from services.annotation.handlers import access, audit
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import Conflict, NotFound
from shared.grid import PLANES, plane_axis
from shared.objectstore import LABELS_BUCKET, ObjectStore
from shared.protos import timestamp
from shared.volume_store import VolumeStore

READ_THREADS = 8  # slice masks are small objects: read and write them concurrently (S3 round trips dominate)


def grid(item_row) -> tuple[tuple[int, int, int], np.ndarray, str]:
    """The item's grid: shape [k, j, i], affine (i, j, k, 1) → LPS mm, frame of reference UID."""
    geometry = geometry_pb2.VolumeRef.FromString(item_row.volume_ref).geometry
    return tuple(geometry.shape), np.array(geometry.affine, dtype=np.float64).reshape(4, 4), geometry.frame_of_reference_uid


def slice_prefix(tenant: str, item_id: str) -> str:
    """Where an item's slice masks are stored, by content: shared by its annotations, never changed once written."""
    return f"{tenant}/{item_id}/slices"


def put_slice(objects: ObjectStore, prefix: str, mask: np.ndarray) -> SliceContent | None:
    """Store one label's 2-D mask on one slice (once per content); None for an empty mask."""
    voxels = int(np.count_nonzero(mask))
    if voxels == 0:
        return None
    encoded = rle.encode(mask)
    key = rle.content_id(encoded)
    if not objects.exists(LABELS_BUCKET, f"{prefix}/{key}"):
        objects.put(LABELS_BUCKET, f"{prefix}/{key}", encoded)
    return SliceContent(key, voxels)


def put_slices(objects: ObjectStore, prefix: str, masks: list[np.ndarray]) -> list[SliceContent | None]:
    """`put_slice` of many masks, concurrently (each a small object: round trips dominate)."""
    if len(masks) < 2:
        return [put_slice(objects, prefix, mask) for mask in masks]
    with ThreadPoolExecutor(READ_THREADS) as pool:
        return list(pool.map(lambda mask: put_slice(objects, prefix, mask), masks))


def read_slices(objects: ObjectStore, prefix: str, keys: list[str]) -> dict[str, np.ndarray]:
    unique = sorted(set(keys))
    with ThreadPoolExecutor(READ_THREADS) as pool:
        masks = pool.map(lambda key: rle.decode(objects.get(LABELS_BUCKET, f"{prefix}/{key}")), unique)
        return dict(zip(unique, masks))


def label_mask(objects: ObjectStore, prefix: str, manifest: Manifest, label: int, shape) -> np.ndarray:
    """One label's boolean mask [k, j, i] at a version."""
    mask = np.zeros(shape, dtype=bool)
    entries = {k: c.key for (value, k), c in manifest.content.items() if value == label}
    decoded = read_slices(objects, prefix, list(entries.values()))
    for k, key in entries.items():
        mask[k] = decoded[key]
    return mask


def stored_plane(affine: np.ndarray) -> str:
    """The plane whose slices are the array's k slices (the slices content is stored by)."""
    return next(plane for plane in PLANES if plane_axis(affine, plane) == 0)


def segmentation(objects: ObjectStore, prefix: str, manifest: Manifest, shape, affine, segments: dict[int, Segment],
                 frame_of_reference_uid: str = "") -> Segmentation:
    """A version's labels as exports write them: one mask per label (overlaps kept), named by the dataset's classes."""
    decoded = read_slices(objects, prefix, [c.key for c in manifest.content.values()])
    masks: dict[int, np.ndarray] = {}
    for (label, k), content in manifest.content.items():
        masks.setdefault(label, np.zeros(shape, dtype=bool))[k] = decoded[content.key]
    chosen = {value: _made_how(segments.get(value) or Segment(value=value, name=f"label {value}"), manifest)
              for value in masks}
    provenance = {}
    k_plane = stored_plane(affine)
    for (plane, index, label), origin in manifest.origins.items():
        if plane == k_plane:
            provenance[(label, index)] = f"{origin.provenance}:{origin.source}" if origin.source else origin.provenance
    return Segmentation(tuple(shape), affine, chosen, masks, frame_of_reference_uid, provenance)


def _made_how(segment: Segment, manifest: Manifest) -> Segment:
    """The segment with the algorithm type DICOM-SEG records, from how its slices were made: MANUAL when drawn or
    imported only, AUTOMATIC when a model predicted it all, else SEMIAUTOMATIC (naming the interpolation or model)."""
    made = {(origin.provenance, origin.source) for (_, _, label), origin in manifest.origins.items() if label == segment.value}
    machines = sorted({("Radlab interpolation" if how == INTERPOLATED else source) for how, source in made
                       if how in (INTERPOLATED, PREDICTED)})
    if not machines:
        return segment
    kind = AUTOMATIC if {how for how, _ in made} == {PREDICTED} else SEMIAUTOMATIC
    return dataclasses.replace(segment, algorithm_type=kind, algorithm_name=", ".join(machines)[:64])


def labelmap(objects: ObjectStore, prefix: str, manifest: Manifest, shape) -> np.ndarray:
    """A version's label array (uint16; where labels overlap, the higher value wins)."""
    decoded = read_slices(objects, prefix, [c.key for c in manifest.content.values()])
    out = np.zeros(shape, dtype=np.uint16)
    for (label, k), content in sorted(manifest.content.items()):
        out[k][decoded[content.key]] = label
    return out


def annotation_row(conn: UnitOfWork | Connection, caller: Principal, annotation_id: str, *, lock: bool = False):
    """The annotation's head row if the caller may see it (its tenant; vendors only their own), else NotFound."""
    table = store.annotations
    query = sa.select(table).where(table.c.annotation_id == annotation_id, table.c.tenant == caller.tenant)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if (row is None or (caller.role == "vendor" and row.vendor_id != caller.vendor)
            or (access.blind(caller) and row.annotator != caller.subject and not row.model_id)
            or not access.works_on(conn, caller, row.item_id)):
        raise NotFound(f"annotation {shown(annotation_id)} not found")
    return row


def version_row(conn, annotation_id: str, version: int):
    table = store.annotation_versions
    row = conn.execute(sa.select(table).where(table.c.annotation_id == annotation_id, table.c.version == version)).first()
    if row is None:
        raise NotFound(f"annotation {annotation_id} has no version {version}")
    return row


def check_base(conn, head, base_version: int) -> None:
    """Refuse a change made on an older version than the current one, naming who saved since."""
    if base_version == head.version:
        return
    if base_version > head.version or base_version < 0:
        raise Conflict(f"annotation {head.annotation_id} has no version {base_version}; its current version is {head.version}")
    table = store.annotation_versions
    since = conn.execute(sa.select(table.c.author, table.c.created_at, table.c.version).where(
        table.c.annotation_id == head.annotation_id, table.c.version > base_version).order_by(table.c.version)).all()
    authors = ", ".join(sorted({row.author for row in since}))
    last = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(since[-1].created_at))
    raise Conflict(f"annotation {head.annotation_id} changed since version {base_version}: {len(since)} newer version(s) by "
                   f"{authors}, the last (version {head.version}) at {last}; reload version {head.version} and redo the edit")


def new_version(uow: UnitOfWork, head, manifest: Manifest, *, change: int, author: str, actor: str, new_key_slices: bool,
                interpolate: bool = False, plane: int = 0, action: str) -> int:
    """Record `manifest` as the annotation's next version (made from the current one), move the head to it, refresh the
    item's label index, announce AnnotationVersionSaved and audit it; returns the new version number."""
    version = head.version + 1
    key_slice_version = version if new_key_slices else head.key_slice_version
    now = time.time()
    uow.execute(store.annotation_versions.insert().values(
        annotation_id=head.annotation_id, version=version, parent_version=head.version, key_slice_version=key_slice_version,
        change=change, author=author, plane=plane, manifest=manifest.to_bytes(), label_values=manifest.label_values(),
        labels_key="", created_at=now, submitted_at=None,
    ))
    uow.execute(store.annotations.update().where(store.annotations.c.annotation_id == head.annotation_id).values(
        version=version, key_slice_version=key_slice_version, state=pb.ANNOTATION_STATE_DRAFT, updated_at=now, submitted_at=None,
    ))
    item_seq = uow.execute(sa.select(store.items.c.seq).where(store.items.c.item_id == head.item_id)).scalar_one()
    labels = store.item_labels
    uow.execute(labels.delete().where(labels.c.annotation_id == head.annotation_id))
    if manifest.label_values():
        uow.execute(labels.insert(), [dict(annotation_id=head.annotation_id, label_value=value, item_seq=item_seq,
                                           dataset_id=head.dataset_id) for value in manifest.label_values()])
    uow.emit(events_pb2.AnnotationVersionSaved(
        item_id=head.item_id, dataset_id=head.dataset_id, annotation_id=head.annotation_id, version=version,
        parent_version=head.version, author=author, interpolate=interpolate, plane=plane,
    ), subject=head.item_id, tenant=head.tenant)
    audit.record(uow, head.tenant, actor, action, dataset_id=head.dataset_id, item_id=head.item_id,
                 annotation_id=head.annotation_id, before_version=head.version, after_version=version,
                 labels=manifest.label_values())
    return version


def write_label_array(objects: ObjectStore, volumes: VolumeStore, head, version_row_, item_row) -> str:
    """The version's label array written as Zarr in the labels bucket (once: a version never changes); its key. Done
    before the unit of work that records it, so no database lock is held while it is written."""
    if version_row_.labels_key:
        return version_row_.labels_key
    shape, affine, _ = grid(item_row)
    key = f"{head.tenant}/{head.item_id}/{head.annotation_id}/v{version_row_.version}"
    array = labelmap(objects, slice_prefix(head.tenant, head.item_id), Manifest.from_bytes(version_row_.manifest), shape)
    volumes.write(LABELS_BUCKET, key, array, affine, {
        "item_id": head.item_id, "annotation_id": head.annotation_id, "version": version_row_.version,
    })
    return key


def record_label_array(uow: UnitOfWork, version_row_, key: str, volume_id: str) -> label_pb2.Mask:
    """Note the version's label array, and give it as the Mask events carry."""
    table = store.annotation_versions
    uow.execute(table.update().where(table.c.annotation_id == version_row_.annotation_id,
                                     table.c.version == version_row_.version).values(labels_key=key))
    return array_mask(key, version_row_.label_values, volume_id)


def array_mask(key: str, label_values, volume_id: str = "") -> label_pb2.Mask:
    """A version's label array (Zarr, uint16, labels bucket) as the Mask messages carry it."""
    return label_pb2.Mask(bucket=LABELS_BUCKET, key=key, format=geometry_pb2.VOLUME_FORMAT_ZARR,
                          dtype=geometry_pb2.DATA_TYPE_UINT16, label_values=label_values, volume_id=volume_id)


def annotation_message(head, version=None) -> pb.Annotation:
    """The annotation at its current version, or at `version` (a version row) when given."""
    labels = label_pb2.Mask()
    row = version
    if row is not None and row.labels_key:
        labels = array_mask(row.labels_key, row.label_values)
    message = pb.Annotation(
        annotation_id=head.annotation_id, item_id=head.item_id, dataset_id=head.dataset_id, annotator=head.annotator,
        model_id=head.model_id, vendor_id=head.vendor_id,
        version=row.version if row is not None else head.version,
        key_slice_version=row.key_slice_version if row is not None else head.key_slice_version,
        state=head.state if row is None or row.version == head.version else pb.ANNOTATION_STATE_DRAFT,
        labels=labels, create_time=timestamp(head.created_at), update_time=timestamp(head.updated_at),
    )
    if head.submitted_at and (row is None or row.version == head.version):
        message.submit_time.CopyFrom(timestamp(head.submitted_at))
    return message


def annotations_of(conn, caller: Principal, item_id: str) -> list[pb.Annotation]:
    """The item's annotations the caller may see (vendors and annotators: only their own), with their current versions."""
    table = store.annotations
    query = sa.select(table).where(table.c.item_id == item_id, table.c.tenant == caller.tenant)
    if caller.role == "vendor":
        query = query.where(table.c.vendor_id == caller.vendor)
    if access.blind(caller):  # their own, and what models predicted to start from
        query = query.where((table.c.annotator == caller.subject) | (table.c.model_id != ""))
    heads = conn.execute(query.order_by(table.c.created_at)).all()
    return [annotation_message(head, version_row(conn, head.annotation_id, head.version)) for head in heads]
