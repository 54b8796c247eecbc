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

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import ndimage

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
# How far (in equivalent diameters of the larger) an unmatched component may have moved and still be matched:
# 3 scored best on the benchmark (+0.03 to +0.05 held-out Dice on the 41-organ CT over 1, no change above 4).
REACH_DIAMETERS = 3.0


class KeyStack:
    """One label on its key slices (slice index → mask, empty where absent), cut to one window around all of
    them, so each key's distance field and centroid are computed once however many gaps it bounds."""

    def __init__(self, masks: Mapping[int, np.ndarray], spacing: tuple[float, float]):
        self.spacing = spacing
        drawn = [masks[s] for s in sorted(masks) if masks[s].any()]
        centres = [np.asarray(ndimage.center_of_mass(mask)) for mask in drawn]
        # Fields are moved by at most the centroid distances between keys up to three gaps apart.
        reach = max((np.abs(c - d).max() for n, c in enumerate(centres) for d in centres[n:n + 4]), default=0.0)
        self.window = _crop(drawn, margin=int(np.ceil(reach)) + 2)[0] if drawn else \
            (slice(0, 0), slice(0, 0))
        self.masks = {s: mask[self.window] for s, mask in masks.items()}
        self._distances: dict[int, np.ndarray] = {}
        self._centres: dict[int, np.ndarray] = {}

    def distance(self, index: int) -> np.ndarray:
        """The key's signed distance field (mm) in the window."""
        if index not in self._distances:
            self._distances[index] = signed_distance(self.masks[index], self.spacing).astype(np.float32)
        return self._distances[index]

    def centre(self, index: int) -> np.ndarray:
        """The key's centroid (row, column) in the window's pixels."""
        if index not in self._centres:
            self._centres[index] = np.asarray(ndimage.center_of_mass(self.masks[index]))
        return self._centres[index]


def signed_distance(mask: np.ndarray, spacing: tuple[float, float]) -> np.ndarray:
    """Distance in mm to the outline: negative inside, positive outside (the mask must hold some pixels);
    the slice's edge counts as outside."""
    padded = np.pad(mask, 1)
    sd = ndimage.distance_transform_edt(~padded, sampling=spacing) - ndimage.distance_transform_edt(padded, sampling=spacing)
    return sd[1:-1, 1:-1]


def gap_fields(keys: KeyStack, first: int, last: int, fractions: Sequence[float], *, correspondence: bool = True,
               before: int | None = None, after: int | None = None) -> np.ndarray | None:
    """Interpolated signed-distance fields (mm, < 0 inside) in `keys.window` at each fraction of the gap
    between key slices `first` (0) and `last` (1), as [len(fractions), *window shape]; None when nothing lies
    between them.

    Without `correspondence` this is the plain baseline: the two distance fields blended as they are,
    nothing when a key is empty. `before` and `after` are the keys beyond the gap, when the label is drawn
    there: a structure that is one piece on both ends of the gap then follows a cubic path through all four.
    """
    start, end = keys.masks[first], keys.masks[last]
    if not start.any() and not end.any() or not correspondence and not (start.any() and end.any()):
        return None
    if not correspondence:
        return np.stack([(1 - t) * keys.distance(first) + t * keys.distance(last) for t in fractions]).astype(np.float32)
    groups = _groups(start, end, keys.spacing)
    if len(groups) == 1 and start.any() and end.any():
        return _smooth_fields(keys, [first if before is None else before, first, last, last if after is None else after],
                              fractions)
    fields = np.full((len(fractions), *start.shape), np.inf, dtype=np.float32)
    for group_first, group_last in groups:
        np.minimum(fields, _group_fields(group_first, group_last, fractions, keys.spacing), out=fields)
    return fields


def _smooth_fields(keys: KeyStack, path: list[int], fractions: Sequence[float]) -> np.ndarray:
    """Cubic Hermite fields through the keys `path` = (before, first, last, after): every key's distance field
    is moved so its centroid sits on the interpolated centroid, then the fields are blended with
    finite-difference tangents. A missing neighbour is the gap's own end (the straight tangent there)."""
    before, first, last, after = path
    length = last - first
    centres = [keys.centre(index) for index in path]

    def hermite(values: Sequence, t: float):
        """The cubic through values at (before, first, last, after) at fraction t of the first→last gap."""
        start_slope = (values[2] - values[0]) * length / (last - before)
        end_slope = (values[3] - values[1]) * length / (after - first)
        return ((2 * t**3 - 3 * t**2 + 1) * values[1] + (t**3 - 2 * t**2 + t) * start_slope
                + (-2 * t**3 + 3 * t**2) * values[2] + (t**3 - t**2) * end_slope)

    out = np.empty((len(fractions), *keys.masks[first].shape), dtype=np.float32)
    for row, t in enumerate(fractions):
        centre = hermite(centres, t)
        moved = {index: _moved(keys.distance(index), centre - keys.centre(index)) for index in set(path)}
        out[row] = hermite([moved[index] for index in path], t)
    return out


def _moved(field: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """The field translated by `offset` (rows, columns; sub-pixel, bilinear), edges extended: what
    ndimage.shift(order=1, mode="nearest") gives, as row and column gathers (twice as fast)."""
    whole = np.floor(offset).astype(int)
    part = offset - whole
    for axis in (0, 1):
        source = np.arange(field.shape[axis]) - whole[axis]
        near = field.take(np.clip(source, 0, field.shape[axis] - 1), axis=axis)
        if part[axis]:
            far = field.take(np.clip(source - 1, 0, field.shape[axis] - 1), axis=axis)
            near = (1 - part[axis]) * near + part[axis] * far
        field = near
    return field


def interpolate_gap(first: np.ndarray, last: np.ndarray, count: int, spacing: tuple[float, float], *,
                    correspondence: bool = True) -> np.ndarray:
    """The `count` masks strictly between two key-slice masks, as a boolean array [count, rows, cols]."""
    masks = np.zeros((count, *first.shape), dtype=bool)
    keys = KeyStack({0: first, 1: last}, spacing)
    found = gap_fields(keys, 0, 1, [(n + 1) / (count + 1) for n in range(count)], correspondence=correspondence)
    if found is not None and count:
        masks[(slice(None), *keys.window)] = found < 0
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


def _group_fields(first: np.ndarray, last: np.ndarray, fractions: Sequence[float],
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
    offset = np.subtract(ndimage.center_of_mass(last), ndimage.center_of_mass(first))
    return np.stack([(1 - t) * _moved(sd_first, t * offset) + t * _moved(sd_last, -(1 - t) * offset) for t in fractions])
