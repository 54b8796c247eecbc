"""Slices of a volume in any plane, raw or as windowed PNGs, and thumbnails."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import sqlalchemy as sa

from radlab.ingestion.v1 import ingestion_service_pb2 as pb
from radlab.type.v1 import geometry_pb2
from services.ingestion import store
from services.ingestion.domain import slices
from services.ingestion.handlers.queries import visible_volume
from shared.auth import Principal
from shared.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    from services.ingestion.handlers import Ports

_PLANES = {
    geometry_pb2.PLANE_AXIAL: slices.Plane.AXIAL, geometry_pb2.PLANE_CORONAL: slices.Plane.CORONAL,
    geometry_pb2.PLANE_SAGITTAL: slices.Plane.SAGITTAL,
}
_COLORMAPS = {
    pb.COLORMAP_UNSPECIFIED: slices.Colormap.GRAY, pb.COLORMAP_GRAY: slices.Colormap.GRAY, pb.COLORMAP_BONE: slices.Colormap.BONE,
    pb.COLORMAP_HOT: slices.Colormap.HOT, pb.COLORMAP_VIRIDIS: slices.Colormap.VIRIDIS,
}


def get_slice(ports: Ports, caller: Principal, request: pb.GetSliceRequest) -> pb.GetSliceResponse:
    """One slice of a volume in a plane, by index or position in mm: its raw values, or a windowed PNG."""
    if request.plane not in _PLANES:
        raise InvalidArgument("plane is required: PLANE_AXIAL, PLANE_CORONAL or PLANE_SAGITTAL")
    ref = geometry_pb2.VolumeRef.FromString(visible_volume(ports, caller, request.volume_id).volume_ref)
    affine = np.reshape(ref.geometry.affine, (4, 4))
    which = request.WhichOneof("position")
    location = slices.locate(
        affine, tuple(ref.geometry.shape), _PLANES[request.plane],
        index=request.slice_index if which == "slice_index" else None,
        position_mm=request.position_mm if which == "position_mm" else None,
    )
    pixels = ports.volumes.slice(ref.bucket, ref.key_prefix, location.axis, location.index)
    response = pb.GetSliceResponse(
        slice_index=location.index, position_mm=location.position_mm, shape=list(pixels.shape), pixel_spacing=list(location.pixel_spacing),
    )
    if request.format == pb.SLICE_FORMAT_PNG:
        window = slices.resolve_window(_window_choice(request), ports.volumes.info(ref.bucket, ref.key_prefix).attributes)
        response.data = slices.encode_png(slices.render(pixels, window, _COLORMAPS[request.colormap], request.invert))
        response.applied_window.CopyFrom(pb.Window(center=window.center, width=window.width))
    else:
        response.data = slices.raw_bytes(pixels)
        response.dtype = ref.dtype
    return response


def _window_choice(request: pb.GetSliceRequest) -> slices.WindowPreset | slices.Window | None:
    which = request.WhichOneof("window")
    if which == "explicit_window":
        return slices.Window(request.explicit_window.center, request.explicit_window.width)
    if which == "window_preset" and request.window_preset != pb.WINDOW_PRESET_UNSPECIFIED:
        return slices.WindowPreset[pb.WindowPreset.Name(request.window_preset).removeprefix("WINDOW_PRESET_")]
    return None


def get_thumbnail(ports: Ports, caller: Principal, request: pb.GetThumbnailRequest) -> pb.GetThumbnailResponse:
    """A small PNG of the middle axial slice of a volume (a study's or series' first volume), in its default window."""
    ref = geometry_pb2.VolumeRef.FromString(visible_volume(ports, caller, _thumbnail_volume(ports, caller, request)).volume_ref)
    affine = np.reshape(ref.geometry.affine, (4, 4))
    location = slices.middle_axial(affine, tuple(ref.geometry.shape))
    pixels = ports.volumes.slice(ref.bucket, ref.key_prefix, location.axis, location.index)
    window = slices.resolve_window(None, ports.volumes.info(ref.bucket, ref.key_prefix).attributes)
    image = slices.thumbnail(pixels, location.pixel_spacing, window, request.max_size or slices.THUMBNAIL_SIZE)
    return pb.GetThumbnailResponse(png=slices.encode_png(image), width=image.shape[1], height=image.shape[0])


def _thumbnail_volume(ports: Ports, caller: Principal, request: pb.GetThumbnailRequest) -> str:
    which = request.WhichOneof("target")
    if which == "volume_id" or which is None:
        return request.volume_id
    table = store.volumes
    column = table.c.study_id if which == "study_id" else table.c.series_id
    with ports.db.read() as conn:
        volume_id = conn.execute(
            sa.select(table.c.volume_id).where(table.c.tenant == caller.tenant, column == getattr(request, which))
            .order_by(table.c.seq).limit(1)
        ).scalar()
    if volume_id is None:
        raise NotFound(f"no volume for {which.removesuffix('_id')} {getattr(request, which)!r}")
    return volume_id
