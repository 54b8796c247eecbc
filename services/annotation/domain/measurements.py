"""Measurements in patient millimetres through the affine: lengths and angles on a slice, a region's size and values.

Points on a slice are (x, y) = (column, row) in continuous voxel coordinates (see `shapes`); a slice holds array
axis `plane_axis` of the [k, j, i] volume fixed at `slice_index`, and its rows and columns are the other two axes in
order. Every distance goes through the full 4×4 affine, so anisotropic voxels and sheared or oblique grids (a
gantry-tilted CT) measure right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from shared.errors import InvalidArgument


@dataclass(frozen=True)
class RegionStats:
    """A region's size and the image's values inside it.

    `area_mm2` is set for a slice's region, `volume_mm3` and `volume_ml` for a volume's. `sd` is the sample standard
    deviation (n - 1 in the denominator: the region is a sample of the tissue), None for fewer than 2 voxels; mean,
    sd, minimum and maximum are None for an empty region. `units` names the image's values: "HU" for CT, else
    what the caller knew ("" when unknown).
    """

    voxels: int
    area_mm2: float | None
    volume_mm3: float | None
    volume_ml: float | None
    mean: float | None
    sd: float | None
    minimum: float | None
    maximum: float | None
    units: str


def length_mm(affine: np.ndarray, plane_axis: int, slice_index: int, *points: tuple[float, float]) -> float:
    """The length in mm of the line p0 → p1 on a slice, or with more points the polyline's total length."""
    if len(points) < 2:
        raise InvalidArgument(f"a length needs at least 2 points; got {len(points)}")
    positions = patient_mm(affine, plane_axis, slice_index, points)
    return float(np.linalg.norm(np.diff(positions, axis=0), axis=1).sum())


def angle_degrees(affine: np.ndarray, plane_axis: int, slice_index: int,
                  a: tuple[float, float], vertex: tuple[float, float], b: tuple[float, float]) -> float:
    """The angle a-vertex-b in degrees (0 to 180), as it is in the patient, not on the screen's pixel grid."""
    origin, end_a, end_b = patient_mm(affine, plane_axis, slice_index, [vertex, a, b])
    arm_a, arm_b = end_a - origin, end_b - origin
    if not (np.linalg.norm(arm_a) > 0 and np.linalg.norm(arm_b) > 0):
        raise InvalidArgument("an angle's arms need length: put both ends apart from the vertex")
    # atan2 of |cross| and dot stays accurate near 0° and 180°, where acos of the cosine does not.
    return math.degrees(math.atan2(float(np.linalg.norm(np.cross(arm_a, arm_b))), float(np.dot(arm_a, arm_b))))


def patient_mm(affine: np.ndarray, plane_axis: int, slice_index: int, points) -> np.ndarray:
    """Slice points (x, y) as LPS patient positions in mm, one row (x, y, z) per point."""
    matrix = _affine(affine)
    if plane_axis not in (0, 1, 2):
        raise InvalidArgument(f"plane axis {plane_axis!r} must be 0 (k), 1 (j) or 2 (i)")
    xy = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if not np.isfinite(xy).all() or not math.isfinite(slice_index):
        raise InvalidArgument("every point needs finite coordinates")
    row_axis, column_axis = (axis for axis in range(3) if axis != plane_axis)
    index = np.empty((len(xy), 3))  # [k, j, i]
    index[:, plane_axis] = slice_index
    index[:, row_axis] = xy[:, 1]
    index[:, column_axis] = xy[:, 0]
    return index[:, ::-1] @ matrix[:3, :3].T + matrix[:3, 3]


def region_stats(mask: np.ndarray, image: np.ndarray, affine: np.ndarray, modality: str, *,
                 plane_axis: int | None = None, slice_index: int | None = None, units: str = "") -> RegionStats:
    """Size and value statistics of the region `mask` marks in `image` (values in the image's units).

    A 3-D mask [k, j, i] (the image's shape) gives a volume: voxels × |det| of the affine's 3×3 part, in mm³ and
    mL. A 2-D mask is one slice of the volume at `slice_index` along `plane_axis` and gives an area: pixels × the
    area of one pixel on that slice (the parallelogram its row and column steps span); `image` is then the whole
    volume or that slice. `units` is the image's value unit where the caller knows it (e.g. from a PET series'
    Units); CT is always "HU".
    """
    matrix = _affine(affine)
    mask = np.asarray(mask)
    image = np.asarray(image)
    if mask.dtype != np.bool_:
        raise InvalidArgument(f"a region mask is boolean; got {mask.dtype}")
    if mask.ndim == 3:
        if plane_axis is not None or slice_index is not None:
            raise InvalidArgument("a 3-D mask covers the whole volume; "
                                  "give a plane axis and slice index only with a 2-D mask")
        unit = abs(float(np.linalg.det(matrix[:3, :3])))  # one voxel's volume
    elif mask.ndim == 2:
        if plane_axis not in (0, 1, 2) or slice_index is None:
            raise InvalidArgument("a 2-D mask is one slice: give its plane axis (0, 1 or 2) and slice index")
        if image.ndim == 3:
            if not 0 <= slice_index < image.shape[plane_axis]:
                raise InvalidArgument(f"slice {slice_index} is outside 0 to {image.shape[plane_axis] - 1} "
                                      f"along axis {plane_axis}")
            image = np.take(image, slice_index, axis=plane_axis)
        row_axis, column_axis = (axis for axis in range(3) if axis != plane_axis)
        # One pixel's area; array axis a steps along the affine's column 2 - a (the affine maps (i, j, k)).
        unit = float(np.linalg.norm(np.cross(matrix[:3, 2 - row_axis], matrix[:3, 2 - column_axis])))
    else:
        raise InvalidArgument(f"a region mask is a 2-D slice or a 3-D [k, j, i] volume; got {mask.ndim} dimensions")
    values = _matching(image, mask.shape)[mask].astype(np.float64)
    voxels = len(values)
    size = voxels * unit
    return RegionStats(
        voxels=voxels,
        area_mm2=size if mask.ndim == 2 else None,
        volume_mm3=size if mask.ndim == 3 else None,
        volume_ml=size / 1000.0 if mask.ndim == 3 else None,
        mean=float(values.mean()) if voxels else None,
        sd=float(values.std(ddof=1)) if voxels > 1 else None,
        minimum=float(values.min()) if voxels else None,
        maximum=float(values.max()) if voxels else None,
        units="HU" if modality.strip().upper() == "CT" else units,
    )


def _affine(affine: np.ndarray) -> np.ndarray:
    matrix = np.asarray(affine, dtype=np.float64)
    if matrix.shape != (4, 4) or not np.isfinite(matrix).all():
        raise InvalidArgument(f"the affine must be a finite 4×4 matrix; got shape {matrix.shape}")
    return matrix


def _matching(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if image.shape != shape:
        raise InvalidArgument(f"the mask is {'×'.join(map(str, shape))} but the image is "
                              f"{'×'.join(map(str, image.shape))}; measure a mask on the image it was drawn on")
    return image
