"""The array grid of a volume: which array axis each slice plane holds fixed, and the spacing along each axis.

One place for both, so the slice a viewer shows (ingestion) and the slice interpolation fills are the same.
"""

from __future__ import annotations

import itertools

import numpy as np

PLANES = ("axial", "coronal", "sagittal")
# The patient axis each plane is perpendicular to, as a row of the LPS affine: axial ⟂ S (z), coronal ⟂ A/P (y),
# sagittal ⟂ L/R (x).
_NORMAL_ROW = {"axial": 2, "coronal": 1, "sagittal": 0}


def plane_axis(affine: np.ndarray, plane: str) -> int:
    """The array axis (0 = k, 1 = j, 2 = i) that `plane` holds fixed on a [k, j, i] array with this affine.

    Each array axis is matched to one patient axis (S, A/P, L/R): of the six ways to pair them, the one whose
    voxel directions are best aligned wins, so even an oblique volume gets three different axes.
    """
    if plane not in _NORMAL_ROW:
        raise ValueError(f"unknown plane {plane!r}; choose one of {', '.join(PLANES)}")
    directions = np.asarray(affine, dtype=np.float64)[:3, :3]
    norms = np.linalg.norm(directions, axis=0)
    if not np.all(np.isfinite(directions)) or np.any(norms == 0):
        raise ValueError("the affine has a zero or non-finite voxel direction; its planes are undefined")
    cosines = np.abs(directions / norms)  # [patient axis, voxel column (i, j, k)]
    columns = max(itertools.permutations(range(3)), key=lambda chosen: sum(cosines[row, column] for row, column in enumerate(chosen)))
    return 2 - columns[_NORMAL_ROW[plane]]  # voxel column c (i, j, k) is array axis 2 - c


def array_spacing(affine: np.ndarray) -> tuple[float, float, float]:
    """Voxel spacing in mm per array axis (k, j, i): the norms of the affine's k, j and i columns."""
    norms = np.linalg.norm(np.asarray(affine, dtype=np.float64)[:3, :3], axis=0)
    return float(norms[2]), float(norms[1]), float(norms[0])
