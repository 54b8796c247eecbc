"""Image-guided propagation: key-slice labels carried onto the slices between them by 2-D optical flow, fused by image match."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.registration import optical_flow_tvl1

from shared.errors import InvalidArgument


@dataclass(frozen=True)
class Settings:
    """How one propagation runs: flow window and warps, chaining, and how the image weighs in the fusion."""

    attachment: float = 15.0   # TV-L1 data attachment: higher follows the image more, lower keeps the flow smoother
    tightness: float = 0.3     # TV-L1 coupling between the flow and its smoothed copy
    num_warp: int = 5          # flow refinements per pyramid level
    num_iter: int = 10         # TV-L1 fixed-point iterations per refinement
    pixel: float = 2.0         # finest pixel (mm) the flow is computed on; finer slices are resampled for it
    chain: bool = True         # register slice to slice from each key (else jump the gap directly)
    likelihood: float = 0.5    # exponent of the per-label intensity likelihood learned on the keys
    floor: float = 1e-3        # warped probability floor: the likelihood may only reassign nearby labels
    blur: float = 0.5          # Gaussian sigma (pixels) of the fused label probabilities: boundary uncertainty


DEFAULT = Settings()
FAST = Settings(num_warp=2, num_iter=5, chain=False)
MARGIN = 8          # pixels kept around the labels' bounding box
QUANTILES = 256     # intensity quantiles that equalise the image
BINS = 64           # intensity histogram bins per label


def propagate(image: np.ndarray, keys: Mapping[int, np.ndarray], targets: Sequence[int], *,
              labels: Sequence[int], spacing: tuple[float, float, float], fast: bool = False) -> dict[int, np.ndarray]:
    """Fill `targets` (slices strictly between two of `keys`) from the key label maps, guided by `image` [n, rows, cols].

    A label is carried only from keys that hold it: present on one key and not the other it ends where the
    image says; missing on both it stays absent. Values not in `labels` come back as background.
    """
    settings = FAST if fast else DEFAULT
    order = sorted(keys)
    gaps: dict[tuple[int, int], list[int]] = {}
    for target in targets:
        after = np.searchsorted(order, target)
        if after == 0 or after == len(order) or order[after] == target:
            raise InvalidArgument(f"slice {target} is not strictly between two key slices ({order}); "
                                  "only slices between the first and last key that are not keys themselves can be filled")
        gaps.setdefault((order[after - 1], order[after]), []).append(target)
    window = _window(image, order[0], order[-1])
    wanted = np.asarray(sorted(set(labels)), dtype=np.int64)
    filled: dict[int, np.ndarray] = {}
    for (first, last), inside in gaps.items():
        filled.update(_fill_gap(image, window, keys[first], keys[last], first, last, sorted(inside), wanted, spacing, settings))
    return filled


def _window(image: np.ndarray, first: int, last: int) -> np.ndarray:
    """Intensity quantiles between the outer keys: mapping through them equalises the histogram onto [0, 1]."""
    sample = np.asarray(image[first:last + 1, ::2, ::2], dtype=np.float32)
    return np.percentile(sample, np.linspace(0, 100, QUANTILES)).astype(np.float32)


def _fill_gap(image: np.ndarray, window: np.ndarray, first_labels: np.ndarray, last_labels: np.ndarray, first: int, last: int,
              targets: list[int], wanted: np.ndarray, spacing: tuple[float, float, float], settings: Settings) -> dict[int, np.ndarray]:
    """Targets of one gap between keys `first` and `last`."""
    shape = first_labels.shape
    present = np.union1d(np.unique(first_labels), np.unique(last_labels))
    present = present[present != 0]
    if not np.isin(present, wanted).any():
        return {t: np.zeros(shape, dtype=first_labels.dtype) for t in targets}
    box = _box(first_labels != 0, last_labels != 0, shape)
    classes = np.concatenate([[0], present])
    crop = _equalise(image[first:last + 1, box[0], box[1]], window)
    onehot_first = _onehot(first_labels[box], classes)
    onehot_last = _onehot(last_labels[box], classes)
    likelihood = _likelihoods((crop[0], crop[-1]), (first_labels[box], last_labels[box]), classes)
    zoom = [min(1.0, step / settings.pixel) for step in spacing[1:]]
    coarse = ndimage.zoom(crop, [1.0] + zoom, order=1) if min(zoom) < 1 else crop
    from_first = _coordinates(coarse, 0, [t - first for t in targets], settings)
    from_last = _coordinates(coarse, len(crop) - 1, [t - first for t in targets], settings)
    if coarse is not crop:
        from_first, from_last = _resampled(from_first, crop.shape[1:]), _resampled(from_last, crop.shape[1:])
    filled = {}
    for t in targets:
        local = t - first
        probability = 0.0
        for key, onehot, coords in ((0, onehot_first, from_first[local]), (len(crop) - 1, onehot_last, from_last[local])):
            warped = np.stack([ndimage.map_coordinates(channel, coords, order=1, mode="nearest") for channel in onehot])
            probability = probability + (1 - abs(local - key) / (len(crop) - 1)) * warped
        if settings.blur:
            probability = ndimage.gaussian_filter(probability, (0, settings.blur, settings.blur))
        score = np.log(probability + settings.floor) + settings.likelihood * np.log(_lookup(likelihood, crop[local]))
        winner = classes[np.argmax(score, axis=0)]
        winner[~np.isin(winner, wanted)] = 0
        out = np.zeros(shape, dtype=first_labels.dtype)
        out[box] = winner
        filled[t] = out
    return filled


def _equalise(image: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """`image` as float32 in [0, 1] through the volume's quantiles (ties spread evenly)."""
    unique, first = np.unique(quantiles, return_index=True)
    levels = np.linspace(0, 1, len(quantiles), dtype=np.float32)
    if len(unique) < 2:
        return np.zeros(image.shape, dtype=np.float32)
    counts = np.diff(np.append(first, len(quantiles)))
    return np.interp(np.asarray(image, dtype=np.float32), unique, levels[first] + (counts - 1) * (levels[1] - levels[0]) / 2).astype(np.float32)


def _box(first: np.ndarray, last: np.ndarray, shape: tuple[int, int]) -> tuple[slice, slice]:
    """Bounding box of both keys' labels, grown by MARGIN."""
    rows = np.nonzero((first | last).any(axis=1))[0]
    cols = np.nonzero((first | last).any(axis=0))[0]
    return (slice(max(rows[0] - MARGIN, 0), min(rows[-1] + MARGIN + 1, shape[0])),
            slice(max(cols[0] - MARGIN, 0), min(cols[-1] + MARGIN + 1, shape[1])))


def _onehot(labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """[classes, rows, cols] float32 indicator of each class."""
    return (labels[None] == classes[:, None, None]).astype(np.float32)


def _likelihoods(images: tuple[np.ndarray, ...], label_maps: tuple[np.ndarray, ...], classes: np.ndarray) -> np.ndarray:
    """[classes, BINS] smoothed intensity densities of each class on the key slices."""
    values = np.concatenate([image.ravel() for image in images])
    owners = np.concatenate([labels.ravel() for labels in label_maps])
    bins = np.minimum((values * BINS).astype(np.int64), BINS - 1)
    table = np.zeros((len(classes), BINS), dtype=np.float64)
    for index, value in enumerate(classes):
        table[index] = np.bincount(bins[owners == value], minlength=BINS)
    table = ndimage.gaussian_filter1d(table, 1.0, axis=1) + 0.5
    return table / table.sum(axis=1, keepdims=True)


def _lookup(likelihood: np.ndarray, image: np.ndarray) -> np.ndarray:
    """[classes, rows, cols] likelihood of each pixel's intensity under each class."""
    bins = np.minimum((image * BINS).astype(np.int64), BINS - 1)
    return likelihood[:, bins]


def _coordinates(stack: np.ndarray, key: int, targets: list[int], settings: Settings) -> dict[int, np.ndarray]:
    """For each target, where each of its pixels lies on the key slice: [2, rows, cols] coordinates."""
    grid = np.mgrid[: stack.shape[1], : stack.shape[2]].astype(np.float32)
    if not settings.chain:
        return {t: grid + _flow(stack[t], stack[key], settings) for t in targets}
    step = 1 if max(targets) > key else -1
    found = {}
    coords = grid
    for slice_index in range(key + step, max(targets) + 1 if step > 0 else min(targets) - 1, step):
        flow = _flow(stack[slice_index], stack[slice_index - step], settings)
        # pixel x of this slice sits at x + flow(x) on the previous one, which sits at coords(x + flow(x)) on the key
        coords = np.stack([ndimage.map_coordinates(channel, grid + flow, order=1, mode="nearest") for channel in coords])
        found[slice_index] = coords
    return found


def _flow(target: np.ndarray, source: np.ndarray, settings: Settings) -> np.ndarray:
    """[2, rows, cols] displacement: pixel x of `target` looks like `source` at x + flow(x)."""
    return optical_flow_tvl1(target, source, attachment=settings.attachment, tightness=settings.tightness,
                             num_warp=settings.num_warp, num_iter=settings.num_iter, dtype=np.float32)


def _resampled(coords: dict[int, np.ndarray], shape: tuple[int, int]) -> dict[int, np.ndarray]:
    """Coordinates found on a coarser grid, as coordinates of the `shape` grid (corners aligned, as ndimage.zoom)."""
    result = {}
    for t, coarse in coords.items():
        factors = [(full - 1) / max(small - 1, 1) for full, small in zip(shape, coarse.shape[1:])]
        result[t] = np.stack([ndimage.zoom(channel, (shape[0] / channel.shape[0], shape[1] / channel.shape[1]), order=1) * factor
                              for channel, factor in zip(coarse, factors)])
    return result
