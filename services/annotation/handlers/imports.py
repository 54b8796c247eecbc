"""Label imports: a NIfTI label map, DICOM-SEG, RTSTRUCT, COCO or Darwin JSON file onto an item as a new version, its
labels mapped to the dataset's classes; read and checked whole before anything is written."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import sqlalchemy as sa

from radlab.annotation.v1 import annotation_service_pb2 as pb
from services.annotation import store
from services.annotation.domain.manifest import IMPORTED, Manifest, Origin
from services.annotation.domain.segmentation import Segmentation
from services.annotation.formats import Grid, coco, darwin, nifti, rtstruct, seg
from services.annotation.handlers import classes, items
from services.annotation.handlers.annotations import start_or_lock
from services.annotation.handlers.labels import grid, new_version, put_slices, slice_prefix, stored_plane, version_row
from shared.auth import Principal
from shared.errors import FailedPrecondition, InvalidArgument
from shared.objectstore import VOLUMES_BUCKET, ObjectNotFound

FORMAT_NAMES = {pb.LABEL_FORMAT_NIFTI: "NIfTI", pb.LABEL_FORMAT_DICOM_SEG: "DICOM-SEG", pb.LABEL_FORMAT_RTSTRUCT: "RTSTRUCT",
                pb.LABEL_FORMAT_COCO: "COCO", pb.LABEL_FORMAT_DARWIN: "Darwin JSON"}


def import_labels(ports, caller: Principal, request: pb.ImportLabelsRequest) -> pb.ImportLabelsResponse:
    if request.format not in FORMAT_NAMES:
        raise InvalidArgument(f"format must be one of {', '.join(FORMAT_NAMES.values())}")
    if not request.data:
        raise InvalidArgument("data is empty: send the label file's bytes")
    name = request.file_name or f"the {FORMAT_NAMES[request.format]} file"
    with ports.db.read() as conn:
        item = items.visible_item(conn, caller, request.item_id)
        known = classes.dataset_classes(conn, item.dataset_id)
    item_grid = item_grid_of(ports, item, with_instances=request.format in (pb.LABEL_FORMAT_DICOM_SEG, pb.LABEL_FORMAT_RTSTRUCT))
    labels, warnings = read_file(ports, request.format, request.data, name, item_grid, item)
    mapping, mapping_warnings = _map_labels(labels, dict(request.label_mapping), known, request.create_missing_classes)
    warnings += mapping_warnings
    # Masks are stored (by content, once) before the unit of work, so the database is held only to record them.
    groups: dict[object, np.ndarray] = {}  # class value, or ("new", source value) for a class still to create
    for source_value, (target, create) in mapping.items():
        group = ("new", source_value) if create else target
        mask = labels.masks[source_value]
        groups[group] = groups[group] | mask if group in groups else mask
    prefix = slice_prefix(caller.tenant, item.item_id)
    slices = [(group, int(k)) for group, mask in groups.items() for k in np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1))]
    contents = put_slices(ports.objects, prefix, [groups[group][k] for group, k in slices])
    stored: dict[object, dict[int, object]] = {group: {} for group in groups}
    for (group, k), content in zip(slices, contents):
        stored[group][k] = content
    plane = stored_plane(item_grid.affine)
    with ports.db.unit_of_work() as uow:
        head = start_or_lock(uow, caller, item, request.annotation_id, request.base_version)
        content, origins, targets = {}, {}, []
        for group, slices in stored.items():
            target = group if isinstance(group, int) else classes.create_missing(
                uow, caller, item.dataset_id, labels.segments[group[1]]).value
            targets.append(target)
            for k, slice_content in slices.items():
                content[(target, k)] = slice_content
                origins[(plane, k, target)] = Origin(IMPORTED, name)
        base = Manifest.from_bytes(version_row(uow, head.annotation_id, head.version).manifest)
        manifest = base.without_labels(targets).changed(content, origins)
        version = new_version(uow, head, manifest, change=pb.ANNOTATION_CHANGE_LABELS_IMPORTED, author=caller.subject,
                              actor=caller.subject, new_key_slices=True, action="annotation.labels_imported")
        return pb.ImportLabelsResponse(annotation_id=head.annotation_id, version=version, label_values=sorted(targets), warnings=warnings)


def read_file(ports, label_format: int, data: bytes, name: str, item_grid: Grid, item) -> tuple[Segmentation, list[str]]:
    """The file's labels on the item's grid, and what was adjusted on the way (InvalidArgument when it cannot fit)."""
    if label_format == pb.LABEL_FORMAT_NIFTI:
        return nifti.read_labelmap(data, name, item_grid)
    if label_format == pb.LABEL_FORMAT_DICOM_SEG:
        return seg.read_seg(data, name, item_grid)
    if label_format == pb.LABEL_FORMAT_RTSTRUCT:
        return rtstruct.read_rtstruct(data, name, item_grid)
    if label_format == pb.LABEL_FORMAT_DARWIN:
        return darwin.read_darwin(data, name, item_grid)
    return _read_coco(ports, data, name, item_grid, item)


def _read_coco(ports, data: bytes, name: str, item_grid: Grid, item) -> tuple[Segmentation, list[str]]:
    """This item's labels from a COCO file, which may label other items of its dataset too (a dataset's export): those
    are checked and left out with a warning; an image on no item of the dataset is refused."""
    others = coco.named_items(data) - {item.item_id}
    with ports.db.read() as conn:
        rows = conn.execute(sa.select(store.items).where(store.items.c.item_id.in_(others),
                                                         store.items.c.dataset_id == item.dataset_id)).all() if others else []
    grids = {row.item_id: Grid(*grid(row)) for row in rows} | {item.item_id: item_grid}
    found = coco.read_coco(data, name, grids)
    labels, warnings = found[item.item_id]
    labelled = sorted(item_id for item_id, (other, _) in found.items() if item_id != item.item_id and other.masks)
    if labelled:
        warnings.append(f"{name} also labels {len(labelled)} other item(s) of this dataset (e.g. {labelled[0]}); import "
                        "it onto each of them for theirs")
    return labels, warnings


def item_grid_of(ports, item, *, with_instances: bool) -> Grid:
    """The item's grid; with the de-identified source instances (one per k) when a DICOM format needs them."""
    shape, affine, frame_of_reference = grid(item)
    if not with_instances:
        return Grid(shape, affine, frame_of_reference)
    attributes = ports.volumes.info(VOLUMES_BUCKET, item.volume_id).attributes
    keys = attributes.get("instance_keys") or []
    if len(keys) != shape[0] or not all(keys):
        raise FailedPrecondition(f"item {item.item_id}'s volume is not one DICOM instance per slice (it was resampled, "
                                 "built from NIfTI or multi-frame images); import or export NIfTI instead")
    try:
        instances = [pydicom.dcmread(io.BytesIO(ports.objects.get(attributes["dicom_bucket"], key)), stop_before_pixels=True)
                     for key in keys]
    except ObjectNotFound:
        raise FailedPrecondition(f"the DICOM instances of item {item.item_id} are gone from the object store") from None
    return Grid(shape, affine, frame_of_reference, instances)


def _map_labels(labels: Segmentation, mapping: dict[str, int], known, create_missing: bool):
    """Source value → (class value, whether to create the class); the warnings say what was skipped or matched how."""
    by_name = {segment.name.lower(): value for value, segment in known.items()}
    result: dict[int, tuple[int, bool]] = {}
    warnings: list[str] = []
    for value, segment in sorted(labels.segments.items()):
        if not labels.masks.get(value, np.zeros(1, bool)).any():
            warnings.append(f"{_source(value, segment)} is empty; skipped")
            continue
        target = mapping.get(segment.name, mapping.get(str(value)))
        if target is not None:
            if target not in known:
                raise InvalidArgument(f"label_mapping sends {_source(value, segment)} to value {target}, which no class has")
            result[value] = (target, False)
        elif segment.name.lower() in by_name:
            result[value] = (by_name[segment.name.lower()], False)
        elif value in known and segment.name == f"label {value}":
            result[value] = (value, False)
        elif create_missing:
            result[value] = (value, True)
        else:
            warnings.append(f"{_source(value, segment)} has no label class; skipped (map it with label_mapping, or create "
                            "missing classes)")
    if not result:
        raise InvalidArgument("nothing to import: no label of the file maps to a class of this dataset; "
                              + "; ".join(warnings[:5]))
    return result, warnings


def _source(value: int, segment) -> str:
    return f"label {value}" if segment.name == f"label {value}" else f"label {value} ({segment.name!r})"

