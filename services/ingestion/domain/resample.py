"""Resample a tilted or unevenly spaced slice stack onto an equidistant, tilt-corrected grid (dcm2niix's _Tilt_Eq method)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

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


def tilt_correct(data: np.ndarray, shifts: np.ndarray, fill: float) -> tuple[np.ndarray, int, int]:
    """Undo gantry tilt: slice k is moved by -shifts[k] = (Δj, Δi) pixels so all slices share one in-plane grid.

    `shifts[k]` is where slice k's first pixel lies, in pixels of (j, i), relative to the first slice's
    normal line. Each slice is linearly interpolated along the shifted axis (what dcm2niix does along
    rows; next to padding, the nearer pixel); the grid grows to hold every slice whole, and the new area is
    `fill`. Returns (data, j0, i0).
    """
    out = np.asarray(data, dtype=np.float64)
    starts = [0, 0]
    for axis in (1, 2):
        along = np.asarray(shifts[:, axis - 1], dtype=np.float64)
        if np.abs(along).max() >= SHIFT_TOLERANCE_PIXELS:
            out, starts[axis - 1] = _shift_axis(out, along, axis, fill)
    return out, starts[0], starts[1]


def _shift_axis(data: np.ndarray, shifts: np.ndarray, axis: int, fill: float) -> tuple[np.ndarray, int]:
    size = data.shape[axis]
    start = math.floor(shifts.min() + SHIFT_TOLERANCE_PIXELS)
    stop = math.ceil(size - 1 + shifts.max() - SHIFT_TOLERANCE_PIXELS)
    grid = np.arange(start, stop + 1, dtype=np.float64)
    shape = list(data.shape)
    shape[axis] = len(grid)
    out = np.full(shape, fill, dtype=np.float64)
    for k, shift in enumerate(shifts):
        source = grid - shift  # the input index each output index samples
        # Sampled where an input pixel is less than one pixel away on the near side: dcm2niix's [0, rows) in its
        # row-flipped frame, so the one partial row at the padding edge is the same as in its output.
        inside = (source > -1) & (source <= size - 1)
        source = np.clip(source[inside], 0, size - 1)
        low = np.floor(source).astype(np.intp)
        high = np.minimum(low + 1, size - 1)
        frac = source - low
        if axis == 1:
            out[k, inside, :] = _blend(data[k, low, :], data[k, high, :], frac[:, None], fill)
        else:
            out[k][:, inside] = _blend(data[k][:, low], data[k][:, high], frac, fill)
    return out, start


def _blend(low: np.ndarray, high: np.ndarray, frac: np.ndarray | float, fill: float) -> np.ndarray:
    """Linear interpolation, except next to padding (`fill`, the darkest value): the nearer neighbour, as dcm2niix does,
    so the edge of the field of view stays sharp instead of smearing real values into it."""
    linear = low * (1 - frac) + high * frac
    padding = (low == fill) | (high == fill)
    if not padding.any():
        return linear
    return np.where(padding, np.where(frac < 0.5, low, high), linear)


def equidistant(data: np.ndarray, distances: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, float]:
    """Linearly interpolate slices at `distances` (ascending, mm) onto an equal spacing from the first to the last.

    Plain linear interpolation between the two nearest slices (as dcm2niix), in float64, each output slice
    then stored as `dtype` (rounded to the nearest integer for integer types). The spacing is the smallest
    gap, stretched so the grid ends exactly on the last slice; at most
    MAX_SLICES_PER_INPUT × slices (then spacing = extent / (that − 1)), as dcm2niix does. Returns (data, spacing).
    """
    distances = np.asarray(distances, dtype=np.float64) - distances[0]
    count = len(distances)
    extent = float(distances[-1])
    smallest = float(np.diff(distances).min())
    steps = min(math.ceil(extent / smallest - 1e-6), MAX_SLICES_PER_INPUT * count - 1)
    spacing = extent / steps
    targets = np.arange(steps + 1) * spacing
    targets[-1] = extent
    high = np.clip(np.searchsorted(distances, targets, side="left"), 1, count - 1)
    low = high - 1
    frac = np.clip((targets - distances[low]) / (distances[high] - distances[low]), 0.0, 1.0)
    # Slice by slice into the output type: no volume-sized float64 array beside the result.
    out = np.empty((len(targets),) + data.shape[1:], dtype=dtype)
    blended = np.empty(data.shape[1:], dtype=np.float64)
    for k in range(len(targets)):
        np.multiply(data[low[k]], 1 - frac[k], out=blended)
        blended += data[high[k]] * frac[k]
        out[k] = _stored(blended, dtype)
    return out, spacing


def _stored(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Interpolated float64 values as `dtype`: rounded to the nearest integer first for integer types."""
    return np.rint(values) if np.issubdtype(dtype, np.integer) else values


def resample(data: np.ndarray, distances: np.ndarray, shifts: np.ndarray, fill: float, even: bool, dtype: np.dtype) -> Resampled:
    """Tilt-correct `data` [k, j, i] (slices at `distances` along the normal, sideways `shifts` (j, i) in pixels),
    then, unless `even`, interpolate it onto equidistant slices; dcm2niix's order (tilt first, then spacing).
    The result is stored as `dtype`."""
    corrected, j0, i0 = tilt_correct(data, shifts, fill)
    padded = (corrected.shape[2] - data.shape[2], corrected.shape[1] - data.shape[1])
    if even or len(distances) < 2:
        spacing = float((distances[-1] - distances[0]) / (len(distances) - 1)) if len(distances) > 1 else 0.0
        return Resampled(_stored(corrected, dtype).astype(dtype), i0, j0, spacing, padded, len(distances))
    out, spacing = equidistant(corrected, distances, dtype)
    return Resampled(out, i0, j0, spacing, padded, len(distances))

