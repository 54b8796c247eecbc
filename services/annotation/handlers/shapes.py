"""Vector shapes and item tags: checked against their class's type and attributes, measured on the item's image in
patient mm and the image's units, and saved as a new annotation version."""

from __future__ import annotations

import uuid

import numpy as np
from google.protobuf import json_format

from radlab.annotation.v1 import annotation_service_pb2 as pb
from radlab.quoting import shown
from services.annotation.domain import classes as class_rules
from services.annotation.domain import measurements, shapes
from services.annotation.domain.manifest import Manifest
from services.annotation.handlers import classes, items
from services.annotation.handlers.annotations import PLANE_NAMES, start_or_lock
from services.annotation.handlers.labels import annotation_row, check_base, grid, new_version, version_row
from shared.auth import Principal
from shared.errors import InvalidArgument
from shared.grid import plane_axis
from shared.objectstore import VOLUMES_BUCKET

MAX_SHAPES_PER_SAVE = 1000
def save_shapes(ports, caller: Principal, request: pb.SaveShapesRequest) -> pb.SaveShapesResponse:
    if not request.shapes and not request.removed_shape_ids:
        raise InvalidArgument("nothing to save: give shapes or removed_shape_ids")
    if len(request.shapes) + len(request.removed_shape_ids) > MAX_SHAPES_PER_SAVE:
        raise InvalidArgument(f"at most {MAX_SHAPES_PER_SAVE} shapes per save")
    with ports.db.read() as conn:
        item = items.visible_item(conn, caller, request.item_id)
        known = classes.class_rows(conn, item.dataset_id)
        base = Manifest()
        if request.annotation_id:
            head = annotation_row(conn, caller, request.annotation_id)
            check_base(conn, head, request.base_version)
            base = Manifest.from_bytes(version_row(conn, head.annotation_id, head.version).manifest)
    shape, affine, _ = grid(item)
    image = _Image(ports, item.volume_id)
    saved: dict[str, dict] = {}
    for number, drawn in enumerate(request.shapes):
        where = f"shapes[{number}]" + (f" ({drawn.shape_id})" if drawn.shape_id else "")
        if drawn.shape_id and drawn.shape_id not in base.shapes:
            raise InvalidArgument(f"{where}: no shape {shown(drawn.shape_id)} in this annotation; leave shape_id empty for a new one")
        shape_id = drawn.shape_id or str(uuid.uuid4())
        if shape_id in saved:
            raise InvalidArgument(f"{where}: shape {shape_id} is given twice")
        checked = _checked(drawn, known, shape, affine, where)
        checked.measurement.CopyFrom(_measure(checked, shape, affine, item.modality, image))
        checked.shape_id, checked.author = shape_id, caller.subject
        saved[shape_id] = json_format.MessageToDict(checked, preserving_proto_field_name=True)
    for shape_id in request.removed_shape_ids:
        if shape_id not in base.shapes:
            raise InvalidArgument(f"removed_shape_ids: no shape {shown(shape_id)} in this annotation")
    with ports.db.unit_of_work() as uow:
        head = start_or_lock(uow, caller, item, request.annotation_id, request.base_version)
        manifest = base.with_shapes(saved, request.removed_shape_ids)
        version = new_version(uow, head, manifest, change=pb.ANNOTATION_CHANGE_SHAPES_SAVED, author=caller.subject,
                              actor=caller.subject, new_key_slices=False, action="annotation.shapes_saved")
    return pb.SaveShapesResponse(annotation_id=head.annotation_id, version=version, shapes=shapes_of(manifest))


def shapes_of(manifest: Manifest) -> list[pb.Shape]:
    return [json_format.ParseDict(stored, pb.Shape()) for _, stored in sorted(manifest.shapes.items())]


def _checked(drawn: pb.Shape, known: dict, volume_shape, affine, where: str) -> pb.Shape:
    """A copy of the shape as stored: its class, geometry, slice and attributes checked; no measurement or author."""
    row = known.get(drawn.label_value)
    if row is None:
        raise InvalidArgument(f"{where}: label value {drawn.label_value} is no class of this dataset; create the class first")
    kind = drawn.WhichOneof("geometry")
    class_rules.check_geometry(row.class_type, kind, row.name, where)
    checked = pb.Shape()
    checked.CopyFrom(drawn)
    checked.ClearField("measurement")
    checked.author = ""
    if kind is None:
        if drawn.plane or drawn.slice_index:
            raise InvalidArgument(f"{where}: a tag is on the whole item; leave plane and slice_index unset")
    else:
        if drawn.plane not in PLANE_NAMES:
            raise InvalidArgument(f"{where}: a shape lies on a slice: give its plane (axial, coronal or sagittal)")
        axis = plane_axis(affine, PLANE_NAMES[drawn.plane])
        if not 0 <= drawn.slice_index < volume_shape[axis]:
            raise InvalidArgument(f"{where}: slice index {drawn.slice_index} is outside 0 to {volume_shape[axis] - 1}")
        slice_shape = tuple(n for a, n in enumerate(volume_shape) if a != axis)
        geometry = domain_shape(checked)
        if geometry is not None:
            shapes.validate(geometry, slice_shape)
        elif kind == "angle":
            for point in (drawn.angle.a, drawn.angle.vertex, drawn.angle.b):
                shapes.validate(shapes.Keypoint(point.x, point.y, plane=PLANE_NAMES[drawn.plane], slice_index=drawn.slice_index), slice_shape)
    class_rules.check_attribute_values(dict(drawn.attributes), row.attributes, row.name, where)
    return checked


def domain_shape(drawn: pb.Shape):
    """The domain's shape for a box, ellipse, polygon, polyline or keypoint; None for angles and tags."""
    plane, index = PLANE_NAMES.get(drawn.plane, ""), drawn.slice_index
    kind = drawn.WhichOneof("geometry")
    if kind == "box":
        box = drawn.box
        return shapes.Box(box.x0, box.y0, box.x1, box.y1, plane=plane, slice_index=index)
    if kind == "ellipse":
        e = drawn.ellipse
        return shapes.Ellipse(e.center_x, e.center_y, e.radius_x, e.radius_y, e.rotation_radians, plane=plane, slice_index=index)
    if kind == "polygon":
        return shapes.Polygon(outer=[(p.x, p.y) for p in drawn.polygon.outer.vertices],
                              holes=[[(p.x, p.y) for p in hole.vertices] for hole in drawn.polygon.holes],
                              plane=plane, slice_index=index)
    if kind == "polyline":
        return shapes.Polyline([(p.x, p.y) for p in drawn.polyline.points], plane=plane, slice_index=index)
    if kind == "keypoint":
        return shapes.Keypoint(drawn.keypoint.x, drawn.keypoint.y, plane=plane, slice_index=index)
    return None


class _Image:
    """The item's image, read on first need (a tag or a length needs none)."""

    def __init__(self, ports, volume_id: str):
        self.ports, self.volume_id = ports, volume_id

    def slice(self, axis: int, index: int) -> np.ndarray:
        return self.ports.volumes.slice(VOLUMES_BUCKET, self.volume_id, axis, index)


def _measure(drawn: pb.Shape, volume_shape, affine, modality: str, image: _Image) -> pb.Measurement:
    kind = drawn.WhichOneof("geometry")
    if kind is None:
        return pb.Measurement()
    plane = PLANE_NAMES[drawn.plane]
    axis = plane_axis(affine, plane)
    units = "HU" if modality.upper() == "CT" else ""
    if kind == "polyline":
        points = [(p.x, p.y) for p in drawn.polyline.points]
        return pb.Measurement(length_mm=measurements.length_mm(affine, axis, drawn.slice_index, *points))
    if kind == "angle":
        a, vertex, b = ((p.x, p.y) for p in (drawn.angle.a, drawn.angle.vertex, drawn.angle.b))
        return pb.Measurement(angle_degrees=measurements.angle_degrees(affine, axis, drawn.slice_index, a, vertex, b))
    pixels = image.slice(axis, drawn.slice_index)
    if kind == "keypoint":
        row, column = (min(max(round(v), 0), n - 1) for v, n in zip((drawn.keypoint.y, drawn.keypoint.x), pixels.shape))
        value = float(pixels[row, column])
        return pb.Measurement(voxels=1, mean=value, min=value, max=value, units=units)
    region = shapes.rasterize(domain_shape(drawn), pixels.shape)
    stats = measurements.region_stats(region, pixels, affine, modality, plane_axis=axis, slice_index=drawn.slice_index)
    return pb.Measurement(area_mm2=stats.area_mm2, voxels=stats.voxels, mean=stats.mean or 0.0, sd=stats.sd or 0.0,
                          min=stats.minimum or 0.0, max=stats.maximum or 0.0, units=stats.units)
