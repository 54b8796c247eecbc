"""Resample a tilted or unevenly spaced slice stack onto an equidistant, tilt-corrected grid (dcm2niix's _Tilt_Eq method)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from services.ingestion.domain.geometry import grid_units

# Per-slice shifts smaller than this (pixels) along an in-plane axis leave that axis untouched.
SHIFT_TOLERANCE_PIXELS = 1e-3
# At most this many output slices per input slice, as dcm2niix caps it (a tiny gap must not blow the volume up).
MAX_SLICES_PER_INPUT = 2


@dataclass(frozen=True)
class Resampled:
    """A resampled stack `data` [k, j, i] (in the dtype asked for) and where its grid lies relative to the first
    input slice.

    Output voxel (i, j, k) sits at input pixel (i + i0, j + j0) of the first slice's pixel grid, moved
    k × `spacing` mm along the slice normal.
    """

    data: np.ndarray
    i0: int
    j0: int
    spacing: float
    padded: tuple[int, int]  # columns, rows added by the tilt correction
    slices_in: int


@dataclass(frozen=True)
class _Shift:
    """Gantry tilt undone along one in-plane axis (0: rows j, 1: columns i): each slice k moved by -shifts[k] pixels
    onto `grid`, the input indices from `start` that hold every slice whole."""

    axis: int
    shifts: np.ndarray
    start: int
    grid: np.ndarray


def _tilt_shifts(shape: tuple[int, int], shifts: np.ndarray) -> list[_Shift]:
    """The axes `shifts` (per slice, pixels of (j, i)) move slices along, rows first, as dcm2niix does."""
    moves = []
    for axis in (0, 1):
        along = np.asarray(shifts[:, axis], dtype=np.float64)
        if np.abs(along).max() >= SHIFT_TOLERANCE_PIXELS:
            start = math.floor(along.min() + SHIFT_TOLERANCE_PIXELS)
            stop = math.ceil(shape[axis] - 1 + along.max() - SHIFT_TOLERANCE_PIXELS)
            moves.append(_Shift(axis, along, start, np.arange(start, stop + 1, dtype=np.float64)))
    return moves


def _tilt_corrected(image: np.ndarray, k: int, moves: list[_Shift], fill: float) -> np.ndarray:
    """Slice k (float64) moved by -shifts[k] along each axis of `moves`: linearly interpolated along the shifted
    axis (what dcm2niix does along rows; next to padding, the nearer pixel); the grown area is `fill`."""
    for move in moves:
        size = image.shape[move.axis]
        source = move.grid - move.shifts[k]  # the input index each output index samples
        # Sampled where an input pixel is less than one pixel away on the near side: dcm2niix's [0, rows) in its
        # row-flipped frame, so the one partial row at the padding edge is the same as in its output.
        inside = (source > -1) & (source <= size - 1)
        source = np.clip(source[inside], 0, size - 1)
        low = np.floor(source).astype(np.intp)
        high = np.minimum(low + 1, size - 1)
        frac = source - low
        shape = list(image.shape)
        shape[move.axis] = len(move.grid)
        out = np.full(shape, fill, dtype=np.float64)
        if move.axis == 0:
            out[inside, :] = _blend(image[_run(low), :], image[_run(high), :], frac[:, None], fill)
        else:
            out[:, inside] = _blend(image[:, _run(low)], image[:, _run(high)], frac, fill)
        image = out
    return image


def _run(indices: np.ndarray) -> np.ndarray | slice:
    """Ascending indices as a slice (a view, not a copy) when they are consecutive, as they are but for clipped ends."""
    return slice(indices[0], indices[-1] + 1) if len(indices) and indices[-1] - indices[0] == len(indices) - 1 else indices


def _blend(low: np.ndarray, high: np.ndarray, frac: np.ndarray | float, fill: float) -> np.ndarray:
    """Linear interpolation, except next to padding (`fill`, the darkest value): the nearer neighbour, as dcm2niix does,
    so the edge of the field of view stays sharp instead of smearing real values into it."""
    linear = low * (1 - frac)
    linear += high * frac
    padding = low == fill
    padding |= high == fill
    if padding.any():
        np.copyto(linear, np.where(frac < 0.5, low, high), where=padding)
    return linear


def _equidistant(slice_at: Callable[[int], np.ndarray], distances: np.ndarray, out_shape: tuple[int, int], dtype: np.dtype,
                 tolerance: float) -> tuple[np.ndarray, float]:
    """Linearly interpolate slices at `distances` (ascending, mm) onto an equal spacing from the first to the last.

    Plain linear interpolation between the two nearest slices (as dcm2niix), in float64, each output slice
    then stored as `dtype` (rounded to the nearest integer for integer types). The spacing is the smallest
    gap, stretched so the grid ends exactly on the last slice; at most
    MAX_SLICES_PER_INPUT × slices (then spacing = extent / (that − 1)), as dcm2niix does. Slices on a regular grid
    with some missing (gaps whole steps within `tolerance` mm, the rounding of DS strings) keep that grid and stay
    as they are, only the missing ones interpolated. Returns (data, spacing).
    """
    distances = np.asarray(distances, dtype=np.float64) - distances[0]
    count = len(distances)
    extent = float(distances[-1])
    smallest = float(np.diff(distances).min())
    units = grid_units(np.diff(distances), tolerance)  # a regular grid with slices missing, or None
    steps = int(units.sum()) if units is not None else math.ceil(extent / smallest - 1e-6)
    steps = min(steps, MAX_SLICES_PER_INPUT * count - 1)
    spacing = extent / steps
    targets = np.arange(steps + 1) * spacing
    targets[-1] = extent
    high = np.clip(np.searchsorted(distances, targets, side="left"), 1, count - 1)
    low = high - 1
    offset, gap = targets - distances[low], distances[high] - distances[low]
    frac = np.clip(offset / gap, 0.0, 1.0)
    if units is not None:  # grid points on an input slice take it as it is
        frac = np.where(offset <= tolerance, 0.0, np.where(gap - offset <= tolerance, 1.0, frac))
    out = np.empty((len(targets), *out_shape), dtype=dtype)
    blended, weighted = np.empty(out_shape, dtype=np.float64), np.empty(out_shape, dtype=np.float64)
    for k in range(len(targets)):
        np.multiply(slice_at(int(low[k])), 1 - frac[k], out=blended)
        blended += np.multiply(slice_at(int(high[k])), frac[k], out=weighted)
        out[k] = _stored(blended, dtype, blended)
    return out, spacing


def _stored(values: np.ndarray, dtype: np.dtype, out: np.ndarray | None = None) -> np.ndarray:
    """Interpolated float64 values as `dtype`: rounded to the nearest integer first (into `out`, if given) for integer types."""
    return np.rint(values, out=out) if np.issubdtype(dtype, np.integer) else values


def resample(data: np.ndarray, distances: np.ndarray, shifts: np.ndarray, fill: float, even: bool, dtype: np.dtype,
             tolerance: float) -> Resampled:
    """Tilt-correct `data` [k, j, i] (slices at `distances` along the normal, sideways `shifts` (j, i) in pixels),
    then, unless `even`, interpolate it onto equidistant slices (distances within `tolerance` mm are equal);
    dcm2niix's order (tilt first, then spacing). The result is stored as `dtype`.

    Slice by slice: each tilt-corrected input slice is made when first needed and kept while the next output slices
    need it, so nothing volume-sized but the result is allocated (float64 copies of the whole stack cost more in
    memory traffic than the arithmetic).
    """
    moves = _tilt_shifts(data.shape[1:], shifts)
    starts = {move.axis: move.start for move in moves}
    kept: dict[int, np.ndarray] = {}

    def slice_at(k: int) -> np.ndarray:
        if k not in kept:
            for old in [index for index in kept if index < k - 1]:
                del kept[old]  # output slices go up the stack: nothing below k - 1 is asked for again
            kept[k] = _tilt_corrected(np.asarray(data[k], dtype=np.float64), k, moves, fill)
        return kept[k]

    out_shape = slice_at(0).shape
    padded = (out_shape[1] - data.shape[2], out_shape[0] - data.shape[1])
    j0, i0 = starts.get(0, 0), starts.get(1, 0)
    if even or len(distances) < 2:
        spacing = float((distances[-1] - distances[0]) / (len(distances) - 1)) if len(distances) > 1 else 0.0
        out = np.empty((len(data), *out_shape), dtype=dtype)
        for k in range(len(data)):
            out[k] = _stored(slice_at(k), dtype)
        return Resampled(out, i0, j0, spacing, padded, len(distances))
    out, spacing = _equidistant(slice_at, distances, out_shape, dtype, tolerance)
    return Resampled(out, i0, j0, spacing, padded, len(distances))
