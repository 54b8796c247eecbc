"""Agreement between two masks (Dice, IoU, HD95, surface Dice, volume difference), written once for every caller.

Today the interpolation benchmark and `make run` score with Dice and HD95; workflow consensus and training
validation are to use the same functions when they land (no other module measures agreement).

Masks are boolean arrays of any dimension (2-D slices, 3-D volumes) with `spacing` in mm per array axis.
Edge cases, decided once: two empty masks agree perfectly (Dice, IoU and surface Dice 1, HD95 0, volume
difference 0); one empty and one not agree not at all (Dice, IoU and surface Dice 0, HD95 and relative
volume difference infinite). Surface distances run between surface voxels (voxels of the mask with a
face-neighbour outside it or on the array's edge), measured centre to centre in mm.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """2|A∩B| / (|A| + |B|); 1 when both are empty."""
    a, b = _masks(a, b)
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.count_nonzero(a & b)) / total


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """|A∩B| / |A∪B| (Jaccard); 1 when both are empty."""
    a, b = _masks(a, b)
    union = int(np.count_nonzero(a | b))
    return 1.0 if union == 0 else int(np.count_nonzero(a & b)) / union


def hd95(a: np.ndarray, b: np.ndarray, spacing: Sequence[float] | None = None) -> float:
    """95th-percentile Hausdorff distance in mm: the larger of the two directed 95th percentiles of surface
    distances (as MONAI and DeepMind's surface-distance do); 0 when both are empty, inf when one is."""
    distances = _surface_distances(a, b, spacing)
    if distances is None:
        return 0.0
    if distances[0].size == 0 or distances[1].size == 0:
        return float("inf")
    return float(max(np.percentile(distances[0], 95), np.percentile(distances[1], 95)))


def surface_dice(a: np.ndarray, b: np.ndarray, tolerance: float, spacing: Sequence[float] | None = None) -> float:
    """Share of both surfaces lying within `tolerance` mm of the other surface (counted per surface voxel);
    1 when both are empty, 0 when one is."""
    distances = _surface_distances(a, b, spacing)
    if distances is None:
        return 1.0
    near = sum(int(np.count_nonzero(d <= tolerance)) for d in distances)
    return near / (distances[0].size + distances[1].size)


def volume_difference(prediction: np.ndarray, reference: np.ndarray) -> float:
    """(|prediction| − |reference|) / |reference|, signed: > 0 over-, < 0 under-segmented; 0 when both are
    empty, inf when only the reference is (the spacing cancels out)."""
    prediction, reference = _masks(prediction, reference)
    predicted, expected = int(prediction.sum()), int(reference.sum())
    if expected == 0:
        return 0.0 if predicted == 0 else float("inf")
    return (predicted - expected) / expected


def _masks(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"masks of different shapes {a.shape} and {b.shape} cannot be compared")
    return a, b


def _surface_distances(a: np.ndarray, b: np.ndarray, spacing: Sequence[float] | None
                       ) -> tuple[np.ndarray, np.ndarray] | None:
    """(distances from A's surface voxels to B's surface, and back) in mm; None when both are empty.

    Computed on the bounding box of both masks (grown by one voxel), which holds every surface voxel, so
    the distances are exact and the cost follows the structures' size, not the volume's."""
    a, b = _masks(a, b)
    spacing = tuple(float(s) for s in (spacing if spacing is not None else (1.0,) * a.ndim))
    if len(spacing) != a.ndim:
        raise ValueError(f"spacing {spacing} does not match masks with {a.ndim} axes")
    either = a | b
    if not either.any():
        return None
    box = tuple(slice(max(int(idx.min()) - 1, 0), int(idx.max()) + 2) for idx in np.nonzero(either))
    surface_a, surface_b = _surface(a[box]), _surface(b[box])
    if not surface_a.any() or not surface_b.any():  # one mask is empty: the other's surface is infinitely far
        return np.full(int(surface_a.sum()), np.inf), np.full(int(surface_b.sum()), np.inf)
    to_b = ndimage.distance_transform_edt(~surface_b, sampling=spacing)
    to_a = ndimage.distance_transform_edt(~surface_a, sampling=spacing)
    return to_b[surface_a], to_a[surface_b]


def _surface(mask: np.ndarray) -> np.ndarray:
    """Voxels of the mask with a face-neighbour outside it (the array's edge counts as outside)."""
    return mask & ~ndimage.binary_erosion(mask, ndimage.generate_binary_structure(mask.ndim, 1), border_value=0)
