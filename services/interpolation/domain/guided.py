"""Image-guided propagation: key-slice labels carried onto the slices between them by 2-D optical flow, fused by image match."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.registration import optical_flow_ilk


@dataclass(frozen=True)
class Settings:
    """How one propagation runs: flow window and warps, chaining, and how the image weighs in the fusion."""

    radius: int = 4            # Lucas–Kanade window radius, pixels
    num_warp: int = 3          # flow refinements per pyramid level
    chain: bool = True         # register slice to slice from each key (else jump the gap directly)
    likelihood: float = 0.5    # exponent of the per-label intensity likelihood learned on the keys
    match: float = 4.0         # sharpness of the local image-match weight between the two keys
    floor: float = 1e-3        # warped probability floor: the likelihood may only reassign nearby labels


DEFAULT = Settings()
FAST = Settings(num_warp=1, chain=False)
MARGIN = 8          # pixels kept around the labels' bounding box
BINS = 32           # intensity histogram bins per label


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
            raise ValueError(f"slice {target} is not strictly between two key slices ({order})")
        gaps.setdefault((order[after - 1], order[after]), []).append(target)
    window = _window(image, order[0], order[-1])
    wanted = np.asarray(sorted(set(labels)), dtype=np.int64)
    filled: dict[int, np.ndarray] = {}
    for (first, last), inside in gaps.items():
        filled.update(_fill_gap(image, window, keys[first], keys[last], first, last, sorted(inside), wanted, settings))
    return filled


def _window(image: np.ndarray, first: int, last: int) -> tuple[float, float]:
    """1st and 99th intensity percentiles between the outer keys: the range mapped onto [0, 1] (robust to metal and air)."""
    low, high = np.percentile(np.asarray(image[first:last + 1, ::2, ::2], dtype=np.float32), (1, 99))
    return float(low), float(max(high, low + 1e-6))


def _fill_gap(image: np.ndarray, window: tuple[float, float], first_labels: np.ndarray, last_labels: np.ndarray, first: int, last: int,
              targets: list[int], wanted: np.ndarray, settings: Settings) -> dict[int, np.ndarray]:
    """Targets of one gap between keys `first` and `last`."""
    shape = first_labels.shape
    present = np.union1d(np.unique(first_labels), np.unique(last_labels))
    present = present[present != 0]
    if not np.isin(present, wanted).any():
        return {t: np.zeros(shape, dtype=first_labels.dtype) for t in targets}
    box = _box(first_labels != 0, last_labels != 0, shape)
    classes = np.concatenate([[0], present])
    low, high = window
    crop = np.clip((np.asarray(image[first:last + 1, box[0], box[1]], dtype=np.float32) - low) / (high - low), 0, 1)
    onehot_first = _onehot(first_labels[box], classes)
    onehot_last = _onehot(last_labels[box], classes)
    likelihood = _likelihoods((crop[0], crop[-1]), (first_labels[box], last_labels[box]), classes)
    from_first = _coordinates(crop, 0, [t - first for t in targets], settings)
    from_last = _coordinates(crop, len(crop) - 1, [t - first for t in targets], settings)
    filled = {}
    for t in targets:
        local = t - first
        probability = 0.0
        weights = 0.0
        for key, onehot, coords in ((0, onehot_first, from_first[local]), (len(crop) - 1, onehot_last, from_last[local])):
            warped_image = ndimage.map_coordinates(crop[key], coords, order=1, mode="nearest")
            warped = np.stack([ndimage.map_coordinates(channel, coords, order=1, mode="nearest") for channel in onehot])
            weight = (1 - abs(local - key) / (len(crop) - 1)) * _match(warped_image, crop[local], settings)
            probability = probability + weight * warped
            weights = weights + weight
        probability = probability / weights
        score = np.log(probability + settings.floor) + settings.likelihood * np.log(_lookup(likelihood, crop[local]))
        winner = classes[np.argmax(score, axis=0)]
        winner[~np.isin(winner, wanted)] = 0
        out = np.zeros(shape, dtype=first_labels.dtype)
        out[box] = winner
        filled[t] = out
    return filled


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


def _match(warped: np.ndarray, target: np.ndarray, settings: Settings) -> np.ndarray:
    """Local image agreement in (0, 1]: exp(-sharpness × local mean squared difference / local variance)."""
    difference = ndimage.uniform_filter((warped - target) ** 2, 2 * settings.radius + 1)
    variance = ndimage.uniform_filter(target ** 2, 2 * settings.radius + 1) - ndimage.uniform_filter(target, 2 * settings.radius + 1) ** 2
    return np.exp(-settings.match * difference / (variance + 1e-3)) + 1e-6


def _coordinates(stack: np.ndarray, key: int, targets: list[int], settings: Settings) -> dict[int, np.ndarray]:
    """For each target, where each of its pixels lies on the key slice: [2, rows, cols] coordinates."""
    grid = np.mgrid[: stack.shape[1], : stack.shape[2]].astype(np.float32)
    if not settings.chain:
        return {t: grid + optical_flow_ilk(stack[t], stack[key], radius=settings.radius, num_warp=settings.num_warp) for t in targets}
    step = 1 if max(targets) > key else -1
    found = {}
    coords = grid
    for slice_index in range(key + step, max(targets) + 1 if step > 0 else min(targets) - 1, step):
        flow = optical_flow_ilk(stack[slice_index], stack[slice_index - step], radius=settings.radius, num_warp=settings.num_warp)
        # pixel x of this slice sits at x + flow(x) on the previous one, which sits at coords(x + flow(x)) on the key
        coords = np.stack([ndimage.map_coordinates(channel, grid + flow, order=1, mode="nearest") for channel in coords])
        found[slice_index] = coords
    return found
