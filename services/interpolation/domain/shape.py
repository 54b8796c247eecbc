"""Shape-based interpolation between two key slices: signed distances with connected-component correspondence.

Components of the two keys are matched by overlap (a split or a merge is one group: the union on each side);
a component with no partner on the other key matches the nearest unmatched one there when it lies within a
few diameters, else it is a structure that appears or ends between the keys and shrinks to nothing
halfway. Each group is interpolated in a frame that moves with its centroid, so a structure that shifts
between the keys moves instead of fading out where the two outlines do not overlap. A structure that is one
piece across the gap and drawn on a key beyond it follows a cubic path through those keys (shape and
position), which bends with the organ instead of cutting corners (+0.04 held-out Dice on the spleen at k=6).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
# How far (in equivalent diameters of the larger) an unmatched component may have moved and still be matched:
# 3 scored best on the benchmark (+0.03 to +0.05 held-out Dice on the 41-organ CT over 1, no change above 4).
REACH_DIAMETERS = 3.0


@dataclass(frozen=True)
class Neighbour:
    """A label's mask on the key beyond a gap, and how far that key lies from the gap's end, in gap lengths."""

    mask: np.ndarray
    distance: float


def signed_distance(mask: np.ndarray, spacing: tuple[float, float]) -> np.ndarray:
    """Distance in mm to the outline: negative inside, positive outside (the mask must hold some pixels);
    the slice's edge counts as outside."""
    padded = np.pad(mask, 1)
    sd = ndimage.distance_transform_edt(~padded, sampling=spacing) - ndimage.distance_transform_edt(padded, sampling=spacing)
    return sd[1:-1, 1:-1]


def gap_fields(first: np.ndarray, last: np.ndarray, fractions: Sequence[float], spacing: tuple[float, float], *,
               correspondence: bool = True, before: Neighbour | None = None,
               after: Neighbour | None = None) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """Interpolated signed-distance fields (mm, < 0 inside) at each fraction (0 = `first`, 1 = `last`), as
    (window, fields [len(fractions), *window shape]); outside the window every field is outside. None when
    nothing lies between the keys.

    `first` and `last` are 2-D boolean masks of one label on the two key slices. Without `correspondence`
    this is the plain baseline: the two distance fields blended as they are, nothing when a key is empty.
    `before` and `after` are the label on the keys beyond `first` and `last`, when it is drawn there: a
    structure that is one piece on both keys then follows a cubic (Hermite) path through all four, shape and
    position, instead of a straight one.
    """
    if not first.any() and not last.any() or not correspondence and not (first.any() and last.any()):
        return None
    if not correspondence:
        window, crop_first, crop_last = _crop((first, last), margin=2)
        sd_first, sd_last = signed_distance(crop_first, spacing), signed_distance(crop_last, spacing)
        return window, np.stack([(1 - t) * sd_first + t * sd_last for t in fractions]).astype(np.float32)
    groups = _groups(first, last, spacing)
    if len(groups) == 1 and first.any() and last.any() and (before or after):
        return _smooth_fields(first, last, fractions, spacing, before, after)
    offsets = [_offset(a, b) for a, b in groups]
    margin = int(np.ceil(max(np.abs(offset).max() for offset in offsets))) + 2
    window = _crop((first, last), margin=margin)[0]
    fields = np.full((len(fractions), *first[window].shape), np.inf, dtype=np.float32)
    for (group_first, group_last), offset in zip(groups, offsets):
        np.minimum(fields, _group_fields(group_first[window], group_last[window], offset, fractions, spacing), out=fields)
    return window, fields


def _smooth_fields(first: np.ndarray, last: np.ndarray, fractions: Sequence[float], spacing: tuple[float, float],
                   before: Neighbour | None, after: Neighbour | None) -> tuple[tuple[slice, slice], np.ndarray]:
    """Cubic Hermite fields through four keys: every key's distance field is moved so its centroid sits on the
    interpolated centroid, then the fields are blended with finite-difference tangents. A missing neighbour
    stands in as the gap's own end at distance 0, which gives the straight tangent there."""
    before = before or Neighbour(first, 0.0)
    after = after or Neighbour(last, 0.0)
    masks = (before.mask, first, last, after.mask)
    centres = [np.asarray(ndimage.center_of_mass(mask)) for mask in masks]
    reach = max(np.abs(c - d).max() for c in centres for d in centres)
    window = _crop(masks, margin=int(np.ceil(reach)) + 2)[0]
    centres = [c - (window[0].start, window[1].start) for c in centres]
    distances = {id(mask): signed_distance(mask[window], spacing) for mask in masks}
    fields = [distances[id(mask)] for mask in masks]

    def hermite(values: Sequence, t: float):
        """The cubic through values at (before, first, last, after) at fraction t of the first→last gap."""
        start_slope = (values[2] - values[0]) / (1 + before.distance)
        end_slope = (values[3] - values[1]) / (1 + after.distance)
        return ((2 * t**3 - 3 * t**2 + 1) * values[1] + (t**3 - 2 * t**2 + t) * start_slope
                + (-2 * t**3 + 3 * t**2) * values[2] + (t**3 - t**2) * end_slope)

    out = np.empty((len(fractions), *fields[0].shape), dtype=np.float32)
    for row, t in enumerate(fractions):
        centre = hermite(centres, t)
        out[row] = hermite([ndimage.shift(f, centre - c, order=1, mode="nearest") for f, c in zip(fields, centres)], t)
    return window, out


def interpolate_gap(first: np.ndarray, last: np.ndarray, count: int, spacing: tuple[float, float], *,
                    correspondence: bool = True) -> np.ndarray:
    """The `count` masks strictly between two key-slice masks, as a boolean array [count, rows, cols]."""
    masks = np.zeros((count, *first.shape), dtype=bool)
    found = gap_fields(first, last, [(n + 1) / (count + 1) for n in range(count)], spacing, correspondence=correspondence)
    if found is not None and count:
        window, fields = found
        masks[(slice(None), *window)] = fields < 0
    return masks


def _crop(masks: Sequence[np.ndarray], margin: int) -> tuple[tuple[slice, slice], ...]:
    """The window around every mask's pixels (grown by `margin`, clipped to the slice) and the masks cut to it."""
    rows, cols = np.nonzero(np.logical_or.reduce(masks))
    shape = masks[0].shape
    window = (slice(max(rows.min() - margin, 0), min(rows.max() + margin + 1, shape[0])),
              slice(max(cols.min() - margin, 0), min(cols.max() + margin + 1, shape[1])))
    return (window, *(mask[window] for mask in masks))


def _groups(first: np.ndarray, last: np.ndarray, spacing: tuple[float, float]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Corresponding parts of the two masks: (part of first, part of last), either possibly empty."""
    first_parts, n_first = ndimage.label(first, EIGHT_CONNECTED)
    last_parts, n_last = ndimage.label(last, EIGHT_CONNECTED)
    # Union-find over components 1..n_first (first key) and n_first+1..n_first+n_last (last key).
    parent = list(range(n_first + n_last + 1))

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    both = (first_parts > 0) & (last_parts > 0)
    pairs = np.unique(np.stack([first_parts[both], last_parts[both]]), axis=1) if both.any() else np.zeros((2, 0), int)
    for a, b in pairs.T:
        parent[root(int(a))] = root(int(b) + n_first)
    _match_nearby(first_parts, n_first, last_parts, n_last, set(pairs[0].tolist()), set(pairs[1].tolist()),
                  spacing, lambda a, b: parent.__setitem__(root(a), root(b + n_first)))
    members: dict[int, tuple[list[int], list[int]]] = {}
    for node in range(1, n_first + n_last + 1):
        side = members.setdefault(root(node), ([], []))
        (side[0].append(node) if node <= n_first else side[1].append(node - n_first))
    return [(np.isin(first_parts, a) if a else np.zeros_like(first), np.isin(last_parts, b) if b else np.zeros_like(last))
            for a, b in members.values()]


def _match_nearby(first_parts: np.ndarray, n_first: int, last_parts: np.ndarray, n_last: int,
                  matched_first: set[int], matched_last: set[int], spacing: tuple[float, float], join) -> None:
    """Join each unmatched component to the closest unmatched one on the other key when their centroids lie
    within REACH_DIAMETERS of the larger one's equivalent diameter (a structure that moved rather than one
    that ended and another that appeared)."""
    free_first = [n for n in range(1, n_first + 1) if n not in matched_first]
    free_last = [n for n in range(1, n_last + 1) if n not in matched_last]
    if not free_first or not free_last:
        return
    scale = np.asarray(spacing)
    centres_first = np.asarray(ndimage.center_of_mass(np.ones_like(first_parts), first_parts, free_first)) * scale
    centres_last = np.asarray(ndimage.center_of_mass(np.ones_like(last_parts), last_parts, free_last)) * scale
    area = float(np.prod(scale))
    size_first = np.bincount(first_parts.ravel(), minlength=n_first + 1)[free_first] * area
    size_last = np.bincount(last_parts.ravel(), minlength=n_last + 1)[free_last] * area
    distance = np.linalg.norm(centres_first[:, None] - centres_last[None], axis=2)
    reach = REACH_DIAMETERS * 2 * np.sqrt(np.maximum(size_first[:, None], size_last[None]) / np.pi)
    distance[distance > reach] = np.inf
    while np.isfinite(distance).any():
        a, b = np.unravel_index(np.argmin(distance), distance.shape)
        join(free_first[a], free_last[b])
        distance[a, :] = np.inf
        distance[:, b] = np.inf


def _offset(first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """How far (pixels, rows and columns) a group's centroid moves from the first key to the last; 0 when one is empty."""
    if not first.any() or not last.any():
        return np.zeros(2)
    return np.subtract(ndimage.center_of_mass(last), ndimage.center_of_mass(first))


def _group_fields(first: np.ndarray, last: np.ndarray, offset: np.ndarray, fractions: Sequence[float],
                  spacing: tuple[float, float]) -> np.ndarray:
    """Fields [len(fractions), rows, cols] for one corresponding group, in a frame moving with its centroid."""
    if not last.any() or not first.any():
        # A structure that ends (or appears) between the keys: eroded by (2t)² of its depth, so it keeps its
        # size near the key and is gone halfway, like the dome at an organ's end (the square beat a linear
        # shrink by 0.03 held-out Dice on the 41-organ CT at k=3 and 6 in the benchmark).
        present, from_present = (first, fractions) if first.any() else (last, [1 - t for t in fractions])
        sd = signed_distance(present, spacing)
        depth = -sd.min()
        return np.stack([sd + min(2 * t, 1.0) ** 2 * depth for t in from_present])
    sd_first, sd_last = signed_distance(first, spacing), signed_distance(last, spacing)
    if not offset.any():
        return np.stack([(1 - t) * sd_first + t * sd_last for t in fractions])
    return np.stack([(1 - t) * ndimage.shift(sd_first, t * offset, order=1, mode="nearest")
                     + t * ndimage.shift(sd_last, -(1 - t) * offset, order=1, mode="nearest") for t in fractions])
