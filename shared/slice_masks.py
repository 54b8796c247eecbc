"""Slice masks and planes as the contracts carry them (radlab.type.v1 SliceMask, Plane): the one decoder and encoder
every service uses."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from radlab.type.v1 import geometry_pb2, label_pb2
from shared.errors import InvalidArgument

PLANES_BY_ENUM = {geometry_pb2.PLANE_AXIAL: "axial", geometry_pb2.PLANE_CORONAL: "coronal",
                  geometry_pb2.PLANE_SAGITTAL: "sagittal"}
PLANE_ENUMS = {name: value for value, name in PLANES_BY_ENUM.items()}


def plane_name(plane: int) -> str:
    """"axial", "coronal" or "sagittal" for a request's plane; InvalidArgument when it names none."""
    if plane not in PLANES_BY_ENUM:
        raise InvalidArgument("plane is required: PLANE_AXIAL, PLANE_CORONAL or PLANE_SAGITTAL")
    return PLANES_BY_ENUM[plane]


def decode(mask: label_pb2.SliceMask, shape: tuple[int, int], where: str) -> np.ndarray:
    """A request's RAW or PNG slice mask as a boolean array of `shape` (rows, columns); InvalidArgument naming `where`."""
    if (mask.rows, mask.columns) != shape:
        raise InvalidArgument(f"{where}: the mask is {mask.rows}×{mask.columns} but a slice of the volume in this plane "
                              f"is {shape[0]}×{shape[1]} (rows × columns)")
    if mask.encoding == label_pb2.MASK_ENCODING_RAW:
        if len(mask.data) != mask.rows * mask.columns:
            raise InvalidArgument(f"{where}: a RAW mask of {mask.rows}×{mask.columns} holds {mask.rows * mask.columns} "
                                  f"bytes (one per pixel), not {len(mask.data)}")
        return np.frombuffer(mask.data, dtype=np.uint8).reshape(shape) != 0
    if mask.encoding == label_pb2.MASK_ENCODING_PNG:
        try:
            with Image.open(io.BytesIO(mask.data), formats=["PNG"]) as png:
                pixels = np.asarray(png.convert("L"))
        except (UnidentifiedImageError, OSError, ValueError) as error:
            raise InvalidArgument(f"{where}: the mask is not a readable PNG ({error})") from None
        if pixels.shape != shape:
            raise InvalidArgument(f"{where}: the PNG is {pixels.shape[0]}×{pixels.shape[1]} pixels but the mask says "
                                  f"{shape[0]}×{shape[1]}")
        return pixels != 0
    raise InvalidArgument(f"{where}: the mask encoding must be RAW or PNG")


def raw(mask: np.ndarray) -> label_pb2.SliceMask:
    """A 2-D mask as a RAW SliceMask (one byte per pixel, row-major)."""
    rows, columns = mask.shape
    return label_pb2.SliceMask(rows=rows, columns=columns, encoding=label_pb2.MASK_ENCODING_RAW,
                               data=np.asarray(mask, dtype=np.uint8).tobytes())
