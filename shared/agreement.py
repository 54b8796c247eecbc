"""Agreement between two masks (Dice, IoU, HD95, ASSD, surface Dice, volume difference), written once for every caller.

The interpolation benchmark and `make run` score with Dice and HD95, workflow consensus with all of them; training
validation is to use the same functions when it lands (no other module measures agreement).

Masks are boolean arrays of any dimension (2-D slices, 3-D volumes) with `spacing` in mm per array axis.
Edge cases, decided once: two empty masks agree perfectly (Dice, IoU and surface Dice 1, HD95, ASSD and volume
difference 0); one empty and one not agree not at all (Dice, IoU and surface Dice 0, HD95, ASSD and relative
volume difference infinite). Surface distances run between surface voxels (voxels of the mask with a
face-neighbour outside it or on the array's edge), measured centre to centre in mm.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial import KDTree

# Surface voxels whose nearest voxel on the other surface is this many grid offsets away or closer (about a 5³
# neighbourhood) are found by looking those offsets up; only the rest ask a k-d tree.
NEAR_OFFSETS = 124


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """2|A∩B| / (|A| + |B|); 1 when both are empty."""
    a, b = _masks(a, b)
    total = int(np.count_nonzero(a)) + int(np.count_nonzero(b))
    return 1.0 if total == 0 else 2.0 * int(np.count_nonzero(a & b)) / total


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """|A∩B| / |A∪B| (Jaccard); 1 when both are empty."""
    a, b = _masks(a, b)
    union = int(np.count_nonzero(a | b))
    return 1.0 if union == 0 else int(np.count_nonzero(a & b)) / union


def hd95(a: np.ndarray, b: np.ndarray, spacing: Sequence[float] | None = None) -> float:
    """95th-percentile Hausdorff distance in mm: the larger of the two directed 95th percentiles of surface
    distances (as MONAI and DeepMind's surface-distance do); 0 when both are empty, inf when one is."""
    return surface_agreement(a, b, 0.0, spacing).hd95


def assd(a: np.ndarray, b: np.ndarray, spacing: Sequence[float] | None = None) -> float:
    """Average symmetric surface distance in mm: the mean distance from each surface voxel of either mask to the
    other mask's surface, over both surfaces together; 0 when both are empty, inf when one is."""
    return surface_agreement(a, b, 0.0, spacing).assd


def surface_dice(a: np.ndarray, b: np.ndarray, tolerance: float, spacing: Sequence[float] | None = None) -> float:
    """Share of both surfaces lying within `tolerance` mm of the other surface (counted per surface voxel);
    1 when both are empty, 0 when one is."""
    return surface_agreement(a, b, tolerance, spacing).surface_dice


@dataclass(frozen=True)
class SurfaceAgreement:
    """HD95 and ASSD in mm, and surface Dice at some tolerance, of one pair of masks."""

    hd95: float
    assd: float
    surface_dice: float


def surface_agreement(a: np.ndarray, b: np.ndarray, tolerance: float, spacing: Sequence[float] | None = None
                      ) -> SurfaceAgreement:
    """What `hd95`, `assd` and `surface_dice` give, from one measurement of the surface distances (a third of
    the cost of calling the three)."""
    return surface_agreements([a, b], tolerance, spacing)[0, 1]


def surface_agreements(masks: Sequence[np.ndarray], tolerance: float, spacing: Sequence[float] | None = None
                       ) -> dict[tuple[int, int], SurfaceAgreement]:
    """`surface_agreement` of every pair of masks, keyed by their positions (first < second), finding each mask's
    surface once: what comparing several readers' masks of one structure needs.

    Each surface voxel's distance is to the nearest voxel centre on the other surface, exact; a distance transform's
    cost would follow the bounding box's volume, this one follows the surfaces' size (11.6 s against 0.4 s for the
    HD95 of two livers on a 300 × 512 × 512 grid)."""
    if len(masks) < 2:
        raise ValueError(f"surface agreement compares two masks or more; got {len(masks)}")
    masks = _masks(*masks)
    spacing = tuple(float(s) for s in (spacing if spacing is not None else (1.0,) * masks[0].ndim))
    if len(spacing) != masks[0].ndim:
        raise ValueError(f"spacing {spacing} does not match masks with {masks[0].ndim} axes")
    pairs = list(itertools.combinations(range(len(masks)), 2))
    either = np.logical_or.reduce(masks)
    if not either.any():
        return {pair: SurfaceAgreement(hd95=0.0, assd=0.0, surface_dice=1.0) for pair in pairs}
    box = _bounding_box(either)  # outside it every mask is background, as beyond the array's edge
    offsets, lengths = _near_offsets(spacing)
    margin = np.abs(offsets).max(axis=0)  # ≥ 1 on every axis: the offsets hold every face neighbour
    surfaces = [_surface(mask[box], margin) for mask in masks]
    drawn = [bool(surface.any()) for surface in surfaces]
    found = {}
    for first, second in pairs:
        if not (drawn[first] or drawn[second]):
            found[first, second] = SurfaceAgreement(hd95=0.0, assd=0.0, surface_dice=1.0)
        elif not (drawn[first] and drawn[second]):  # one mask is empty: the other's surface is infinitely far
            found[first, second] = SurfaceAgreement(hd95=float("inf"), assd=float("inf"), surface_dice=0.0)
        else:
            there = _nearest(surfaces[first], surfaces[second], offsets, lengths, spacing)
            back = _nearest(surfaces[second], surfaces[first], offsets, lengths, spacing)
            both = np.concatenate([there, back])
            found[first, second] = SurfaceAgreement(
                hd95=float(max(np.percentile(there, 95), np.percentile(back, 95))),
                assd=float(both.mean()),
                surface_dice=int(np.count_nonzero(both <= tolerance)) / both.size,
            )
    return found


def volume_difference(prediction: np.ndarray, reference: np.ndarray) -> float:
    """(|prediction| − |reference|) / |reference|, signed: > 0 over-, < 0 under-segmented; 0 when both are
    empty, inf when only the reference is (the spacing cancels out)."""
    prediction, reference = _masks(prediction, reference)
    predicted, expected = int(np.count_nonzero(prediction)), int(np.count_nonzero(reference))
    if expected == 0:
        return 0.0 if predicted == 0 else float("inf")
    return (predicted - expected) / expected


def _masks(*masks: np.ndarray) -> tuple[np.ndarray, ...]:
    masks = tuple(np.asarray(mask, dtype=bool) for mask in masks)
    if len({mask.shape for mask in masks}) > 1:
        shapes = " and ".join(str(mask.shape) for mask in masks)
        raise ValueError(f"masks of different shapes {shapes} cannot be compared")
    return masks


def _nearest(voxels: np.ndarray, surface: np.ndarray, offsets: np.ndarray, lengths: np.ndarray,
             spacing: tuple[float, ...]) -> np.ndarray:
    """The distance in mm from each voxel of `voxels` to the nearest voxel of `surface` (not empty, same shape, with
    a background margin wider than every offset).

    The grid offsets, nearest first, are looked up so the first to land on `surface` gives the distance; voxels
    where none does (farther from `surface` than the longest offset) ask a k-d tree of its voxel centres."""
    at = np.flatnonzero(voxels)
    steps = offsets @ (np.array(surface.strides) // surface.itemsize)
    flat = surface.ravel()
    distances = np.full(at.size, np.inf)
    pending = np.arange(at.size)
    for step, length in zip(steps, lengths):
        landed = flat[at + step]
        distances[pending[landed]] = length
        pending, at = pending[~landed], at[~landed]
        if not pending.size:
            return distances
    centres = np.column_stack(np.unravel_index(np.flatnonzero(surface), surface.shape)) * spacing
    tree = KDTree(centres, balanced_tree=False, compact_nodes=False)  # quicker built, as quick asked
    distances[pending], _ = tree.query(np.column_stack(np.unravel_index(at, surface.shape)) * spacing, workers=-1)
    return distances


def _near_offsets(spacing: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Every grid offset up to the radius of a ball of about NEAR_OFFSETS voxels (and at least every face
    neighbour), nearest first, with its length in mm."""
    dimensions = len(spacing)
    ball = NEAR_OFFSETS * math.prod(spacing) * math.gamma(dimensions / 2 + 1) / math.pi ** (dimensions / 2)
    radius = max(ball ** (1 / dimensions), *spacing)
    offsets = np.stack(np.meshgrid(*[np.arange(-(radius // size), radius // size + 1, dtype=int) for size in spacing],
                                   indexing="ij"), axis=-1).reshape(-1, dimensions)
    lengths = np.sqrt(((offsets * np.asarray(spacing)) ** 2).sum(axis=1))
    near = np.flatnonzero(lengths <= radius)
    near = near[np.argsort(lengths[near], kind="stable")]
    return offsets[near], lengths[near]


def _bounding_box(mask: np.ndarray) -> tuple[slice, ...]:
    """The smallest box holding every voxel of a non-empty mask."""
    box = []
    for axis in range(mask.ndim):
        present = np.flatnonzero(mask.any(axis=tuple(other for other in range(mask.ndim) if other != axis)))
        box.append(slice(int(present[0]), int(present[-1]) + 1))
    return tuple(box)


def _surface(mask: np.ndarray, margin: Sequence[int]) -> np.ndarray:
    """Voxels of the mask with a face-neighbour outside it (the array's edge counts as outside), in an array grown
    by `margin` (≥ 1) voxels of background before and after each axis."""
    grown = np.zeros(np.add(mask.shape, np.multiply(margin, 2)), dtype=bool)
    inside = tuple(slice(int(m), int(m) + n) for m, n in zip(margin, mask.shape))
    grown[inside] = mask
    neighbours = []
    for axis, step in itertools.product(range(mask.ndim), (-1, 1)):
        shifted = list(inside)
        shifted[axis] = slice(inside[axis].start + step, inside[axis].stop + step)
        neighbours.append(grown[tuple(shifted)])
    interior = neighbours[0].copy()
    for neighbour in neighbours[1:]:
        interior &= neighbour
    grown[inside] &= ~interior
    return grown
