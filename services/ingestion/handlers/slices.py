"""Slices of a volume in any plane, raw or as windowed PNGs, and thumbnails."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import sqlalchemy as sa

from radlab.ingestion.v1 import ingestion_service_pb2 as pb
from radlab.quoting import shown
from radlab.type.v1 import geometry_pb2
from services.ingestion import store
from services.ingestion.domain import slices
from services.ingestion.handlers.queries import visible_volume
from shared.auth import Principal
from shared.errors import InvalidArgument, NotFound
from shared.protos import numpy_dtype

if TYPE_CHECKING:
    from services.ingestion.handlers import Ports

_PLANES = {
    geometry_pb2.PLANE_AXIAL: slices.Plane.AXIAL, geometry_pb2.PLANE_CORONAL: slices.Plane.CORONAL,
    geometry_pb2.PLANE_SAGITTAL: slices.Plane.SAGITTAL,
}
# UNSPECIFIED is RAW, as the contract says.
_FORMATS = frozenset({pb.SLICE_FORMAT_UNSPECIFIED, pb.SLICE_FORMAT_RAW, pb.SLICE_FORMAT_PNG})
# The most one GetVolumeData answer holds (a viewer asks again for the rest): a 512² int16 CT's 32 slices.
MAX_VOLUME_DATA_BYTES = 16 << 20
_COLORMAPS = {
    pb.COLORMAP_UNSPECIFIED: slices.Colormap.GRAY, pb.COLORMAP_GRAY: slices.Colormap.GRAY, pb.COLORMAP_BONE: slices.Colormap.BONE,
    pb.COLORMAP_HOT: slices.Colormap.HOT, pb.COLORMAP_VIRIDIS: slices.Colormap.VIRIDIS,
}


def get_slice(ports: Ports, caller: Principal, request: pb.GetSliceRequest) -> pb.GetSliceResponse:
    """One slice of a volume in a plane, by index or position in mm: its raw values, or a windowed PNG.

    Everything the request chooses is checked before anything is read: the plane, the format (an unknown one is
    refused, never served as RAW), the window and colormap, the slice and its size."""
    if request.plane not in _PLANES:
        raise InvalidArgument("plane is required: PLANE_AXIAL, PLANE_CORONAL or PLANE_SAGITTAL")
    if request.format not in _FORMATS:
        raise InvalidArgument("format must be SLICE_FORMAT_RAW or SLICE_FORMAT_PNG")
    if request.colormap not in _COLORMAPS:
        raise InvalidArgument(f"colormap must be one of {', '.join(pb.Colormap.keys())}")
    choice = _window_choice(request)
    ref = geometry_pb2.VolumeRef.FromString(visible_volume(ports, caller, request.volume_id).volume_ref)
    affine = np.reshape(ref.geometry.affine, (4, 4))
    shape = tuple(ref.geometry.shape)
    which = request.WhichOneof("position")
    location = slices.locate(
        affine, shape, _PLANES[request.plane],
        index=request.slice_index if which == "slice_index" else None,
        position_mm=request.position_mm if which == "position_mm" else None,
    )
    slices.check_slice_size(shape, location.axis, ports.slice_limits)
    time = _time_index(ref, request.time_index)
    png = request.format == pb.SLICE_FORMAT_PNG
    window = slices.resolve_window(choice, ports.volumes.info(ref.bucket, ref.key_prefix).attributes) if png else None
    pixels = ports.volumes.slice(ref.bucket, ref.key_prefix, location.axis, location.index, time)
    response = pb.GetSliceResponse(
        slice_index=location.index, position_mm=location.position_mm, shape=list(pixels.shape), pixel_spacing=list(location.pixel_spacing),
    )
    if png:
        response.data = slices.encode_png(slices.render(pixels, window, _COLORMAPS[request.colormap], request.invert))
        response.applied_window.CopyFrom(pb.Window(center=window.center, width=window.width))
    else:
        response.data = slices.raw_bytes(pixels)
        response.dtype = ref.dtype
    return response


def get_volume_data(ports: Ports, caller: Principal, request: pb.GetVolumeDataRequest) -> pb.GetVolumeDataResponse:
    """Slices [first_slice, first_slice + slice_count) of a volume (0: to the end), one time point, as raw values.

    A range outside the volume is refused before anything is read; one answer holds at most MAX_VOLUME_DATA_BYTES (and
    one slice at least, itself bounded by the slice limit), the first slices of the range that fit, `shape` saying how
    many."""
    ref = geometry_pb2.VolumeRef.FromString(visible_volume(ports, caller, request.volume_id).volume_ref)
    slices_in_volume, rows, columns = ref.geometry.shape
    first, count = request.first_slice, request.slice_count or slices_in_volume - request.first_slice
    if not (0 <= first < slices_in_volume and 0 < count and first + count <= slices_in_volume):
        asked = f"slice_count {request.slice_count} from first_slice {first}" if request.slice_count else f"first_slice {first}"
        raise InvalidArgument(f"{asked} is outside the volume's {slices_in_volume} slices (0 to {slices_in_volume - 1})")
    slices.check_slice_size(tuple(ref.geometry.shape), 0, ports.slice_limits)
    slice_bytes = rows * columns * numpy_dtype(ref.dtype).itemsize
    count = min(count, max(1, MAX_VOLUME_DATA_BYTES // slice_bytes))
    block = ports.volumes.slab(ref.bucket, ref.key_prefix, first, count, _time_index(ref, request.time_index))
    return pb.GetVolumeDataResponse(
        data=slices.raw_bytes(block), dtype=ref.dtype, shape=list(block.shape), volume_shape=list(ref.geometry.shape)
    )


def _time_index(ref: geometry_pb2.VolumeRef, time_index: int) -> int:
    """`time_index` checked against the volume's fourth axis (a 3D volume has the one point 0)."""
    points = max(ref.geometry.time_points, 1)
    if not 0 <= time_index < points:
        axis = f"its fourth axis has {points} points ({ref.geometry.fourth_axis})" if ref.geometry.time_points else "it is 3D"
        raise InvalidArgument(f"time_index {time_index} is outside the volume: {axis}; ask for 0 to {points - 1}")
    return time_index


def _window_choice(request: pb.GetSliceRequest) -> slices.WindowPreset | slices.Window | None:
    which = request.WhichOneof("window")
    if which == "explicit_window":
        return slices.Window(request.explicit_window.center, request.explicit_window.width)
    if which == "window_preset" and request.window_preset != pb.WINDOW_PRESET_UNSPECIFIED:
        if request.window_preset not in pb.WindowPreset.values():
            raise InvalidArgument(f"window_preset must be one of {', '.join(pb.WindowPreset.keys())}")
        return slices.WindowPreset[pb.WindowPreset.Name(request.window_preset).removeprefix("WINDOW_PRESET_")]
    return None


def get_thumbnail(ports: Ports, caller: Principal, request: pb.GetThumbnailRequest) -> pb.GetThumbnailResponse:
    """A small PNG of the middle axial slice of a volume (a study's or series' first volume), in its default window.

    Not found says only what the caller named: a study's or series' volume id is not theirs to learn unless they
    may see that volume."""
    size = slices.thumbnail_size(request.max_size, ports.slice_limits)
    target = request.WhichOneof("target") or "volume_id"
    named = getattr(request, target)
    try:
        row = visible_volume(ports, caller, _thumbnail_volume(ports, caller, target, named))
    except NotFound:
        unbuilt = "" if target == "volume_id" else ", or it has no volume yet"
        raise NotFound(f"{target.removesuffix('_id')} {shown(named)} not found{unbuilt}") from None
    ref = geometry_pb2.VolumeRef.FromString(row.volume_ref)
    affine = np.reshape(ref.geometry.affine, (4, 4))
    shape = tuple(ref.geometry.shape)
    location = slices.middle_axial(affine, shape)
    slices.check_slice_size(shape, location.axis, ports.slice_limits)
    pixels = ports.volumes.slice(ref.bucket, ref.key_prefix, location.axis, location.index, _time_index(ref, request.time_index))
    window = slices.resolve_window(None, ports.volumes.info(ref.bucket, ref.key_prefix).attributes)
    image = slices.thumbnail(pixels, location.pixel_spacing, window, size)
    return pb.GetThumbnailResponse(png=slices.encode_png(image), width=image.shape[1], height=image.shape[0])


def _thumbnail_volume(ports: Ports, caller: Principal, target: str, named: str) -> str:
    """The volume a thumbnail of `target` (volume_id, study_id or series_id) `named` shows; '' when there is none."""
    if target == "volume_id":
        return named
    table = store.volumes
    column = table.c.study_id if target == "study_id" else table.c.series_id
    with ports.db.read() as conn:
        return conn.execute(
            sa.select(table.c.volume_id).where(table.c.tenant == caller.tenant, column == named).order_by(table.c.seq).limit(1)
        ).scalar() or ""
