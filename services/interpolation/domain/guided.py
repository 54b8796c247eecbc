"""Image-guided propagation: key-slice labels carried onto the slices between them by 2-D optical flow.

Each key's labels are warped along the chained neighbour-to-neighbour flows, then fused by distance to each
key and by per-label intensity likelihoods learned on the keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from services.interpolation.domain import flow
from shared.errors import InvalidArgument


@dataclass(frozen=True)
class Settings:
    """How one propagation runs: the flow, and how the image weighs in the fusion."""

    attachment: float = 15.0   # TV-L1 data attachment: higher follows the image more, lower keeps the flow smoother
    tightness: float = 0.3     # TV-L1 coupling between the flow and its smoothed copy
    num_warp: int = 5          # flow refinements per pyramid level
    num_iter: int = 5          # TV-L1 fixed-point iterations per refinement
    pixel: float = 2.0         # pixel (mm) of the grid the flow is computed on: organ-scale motion, bounded cost
    likelihood: float = 0.5    # exponent of the per-label intensity likelihood learned on the keys
    smoothing: float = 1.0     # Gaussian sigma (bins) of the per-label intensity histograms
    pseudocount: float = 0.5   # count added to every histogram bin: a label seen on few pixels stays near uniform
    floor: float = 1e-3        # warped probability floor: the likelihood may only reassign nearby labels
    blur: float = 0.5          # Gaussian sigma (pixels) of the fused label probabilities: boundary uncertainty


DEFAULT = Settings()
FAST = Settings(num_warp=2, num_iter=3, pixel=3.0)   # for live preview: a coarser grid, fewer iterations
# One slice between two keys, exactly midway: both warps are a single step, so the warped labels weigh more and a
# sharper intensity model only settles their boundaries (41-organ CT k=2 0.894 → 0.902; longer gaps lose with it).
MIDWAY = {"likelihood": 0.2, "smoothing": 0.75, "pseudocount": 0.1}
MARGIN = 8               # pixels kept around the labels' bounding box
MIN_GRID = 16            # the flow grid keeps at least this many pixels a side
QUANTILES = 256          # intensity quantiles that equalise the image
BINS = 64                # intensity histogram bins per label
PAIRS_PIXELS = 1 << 21   # slice pairs registered together: at most this many pixels (bounds memory)


def propagate(image: np.ndarray, keys: Mapping[int, np.ndarray], targets: Sequence[int], *,
              labels: Sequence[int], spacing: tuple[float, float, float], fast: bool = False) -> dict[int, np.ndarray]:
    """Fill `targets` (slices strictly between two of `keys`) from the key label maps, guided by `image` [n, rows, cols].

    A label is carried only from keys that hold it: present on one key and not the other it ends where the
    image says; missing on both it stays absent. Values not in `labels` come back as background.
    """
    settings = FAST if fast else DEFAULT
    order = sorted(keys)
    gaps: dict[tuple[int, int], list[int]] = {}
    for target in sorted(targets):
        after = int(np.searchsorted(order, target))
        if after == 0 or after == len(order) or order[after] == target:
            raise InvalidArgument(f"slice {target} is not strictly between two key slices ({order}); "
                                  "only slices between the first and last key that are not keys themselves can be filled")
        gaps.setdefault((order[after - 1], order[after]), []).append(target)
    wanted = np.asarray(sorted(set(labels)), dtype=np.int64)
    filled = {t: np.zeros(image.shape[1:], dtype=keys[order[0]].dtype) for t in targets}
    box = _box([np.isin(keys[s], wanted) for s in order], image.shape[1:])
    if box is None or not gaps:
        return filled
    first = order[0]
    crop = _equalise(image[first:order[-1] + 1, box[0], box[1]], _quantiles(image, first, order[-1]))
    # the flow grid: settings.pixel mm, but never under MIN_GRID pixels a side for a small structure
    zoom = [max(step / settings.pixel, min(1.0, MIN_GRID / size)) for step, size in zip(spacing[1:], crop.shape[1:])]
    stack = ndimage.zoom(crop, [1.0, *zoom], order=1) if zoom != [1.0, 1.0] else crop
    # from here on slices are numbered from the first key, and label maps are cropped to the box
    local_keys = {s - first: keys[s][box] for s in order}
    local_gaps = {(a - first, b - first): [t - first for t in inside] for (a, b), inside in gaps.items()}
    pairs = {pair for (a, b), inside in local_gaps.items() for pair in _pairs(a, b, inside)}
    flows = _flows(stack, sorted(pairs), settings)

    for (a, b), inside in local_gaps.items():
        from_first, from_last = _coordinates(flows, a, inside), _coordinates(flows, b, inside)
        if stack is not crop:  # coordinates on the flow grid → on the crop's grid
            from_first, from_last = _resampled(from_first, crop.shape[1:]), _resampled(from_last, crop.shape[1:])
        fusion = replace(settings, **MIDWAY) if b - a == 2 else settings
        for t, winner in _fuse(crop, a, b, local_keys[a], local_keys[b], from_first, from_last, wanted, fusion).items():
            filled[t + first][box] = winner
    return filled


def _pairs(first: int, last: int, inside: list[int]) -> list[tuple[int, int]]:
    """(target, source) slices whose flow a gap needs: neighbour to neighbour from each key up to its farthest target
    (chained small steps follow an organ better than one jump across the gap)."""
    return [(s, s - 1) for s in range(first + 1, max(inside) + 1)] + [(s, s + 1) for s in range(min(inside), last)]


def _flows(stack: np.ndarray, pairs: list[tuple[int, int]], settings: Settings) -> dict[tuple[int, int], np.ndarray]:
    """Flow of every (target, source) pair, registered in batches."""
    found: dict[tuple[int, int], np.ndarray] = {}
    batch = max(1, PAIRS_PIXELS // (stack.shape[1] * stack.shape[2]))
    for start in range(0, len(pairs), batch):
        part = pairs[start:start + batch]
        fields = flow.tvl1(stack[[t for t, _ in part]], stack[[s for _, s in part]], attachment=settings.attachment,
                           tightness=settings.tightness, num_warp=settings.num_warp, num_iter=settings.num_iter)
        found.update(zip(part, fields))
    return found


def _coordinates(flows: dict[tuple[int, int], np.ndarray], key: int, targets: list[int]) -> dict[int, np.ndarray]:
    """For each target, where each of its pixels lies on the key slice: [2, rows, cols] coordinates, the
    neighbour-to-neighbour flows composed from the key outwards."""
    shape = next(iter(flows.values())).shape[1:]
    grid = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
    step = 1 if targets[0] > key else -1
    found = {}
    coords = grid
    for slice_index in range(key + step, (max(targets) + 1) if step > 0 else (min(targets) - 1), step):
        # pixel x of this slice sits at x + flow(x) on the previous one, which sits at coords(x + flow(x)) on the key
        moved = grid + flows[slice_index, slice_index - step]
        coords = np.stack([ndimage.map_coordinates(channel, moved, order=1, mode="nearest") for channel in coords])
        found[slice_index] = coords
    return {t: found[t] for t in targets}


def _resampled(coords: dict[int, np.ndarray], shape: tuple[int, int]) -> dict[int, np.ndarray]:
    """Coordinates found on another grid, as coordinates of the `shape` grid (corners aligned, as ndimage.zoom)."""
    result = {}
    for t, found in coords.items():
        factors = [(full - 1) / max(small - 1, 1) for full, small in zip(shape, found.shape[1:])]
        result[t] = np.stack([ndimage.zoom(channel, (shape[0] / channel.shape[0], shape[1] / channel.shape[1]), order=1) * factor
                              for channel, factor in zip(found, factors)])
    return result


def _fuse(crop: np.ndarray, first: int, last: int, first_labels: np.ndarray, last_labels: np.ndarray,
          from_first: dict[int, np.ndarray], from_last: dict[int, np.ndarray], wanted: np.ndarray,
          settings: Settings) -> dict[int, np.ndarray]:
    """Each target's labels: both keys' one-hot maps warped, weighted by nearness, times the intensity likelihood."""
    on_first, on_last = np.unique(first_labels), np.unique(last_labels)
    present = np.union1d(on_first, on_last)
    classes = np.concatenate([[0], present[present != 0]])
    on_both = np.isin(classes, on_first) & np.isin(classes, on_last) & (classes != 0)
    likelihood = _likelihoods((crop[first], crop[last]), (first_labels, last_labels), classes, settings)
    found = {}
    for t in from_first:
        probability = 0.0
        for key, labels, coords in ((first, first_labels, from_first[t]), (last, last_labels, from_last[t])):
            warped = np.stack([ndimage.map_coordinates((labels == value).astype(np.float32), coords, order=1, mode="nearest")
                               for value in classes])
            probability = probability + (1 - abs(t - key) / (last - first)) * warped
        if settings.blur:
            probability = ndimage.gaussian_filter(probability, (0, settings.blur, settings.blur))
        score = np.log(probability + settings.floor) + settings.likelihood * np.log(_lookup(likelihood, crop[t]))
        winner = classes[np.argmax(score, axis=0)]
        _keep_lost(winner, probability, classes, on_both)
        winner[~np.isin(winner, wanted)] = 0
        found[t] = winner
    return found


def _keep_lost(winner: np.ndarray, probability: np.ndarray, classes: np.ndarray, on_both: np.ndarray) -> None:
    """A label drawn on both keys but out-voted everywhere (two small warped copies that barely overlap, each
    at half weight) keeps the background pixels where its probability is at least half its peak."""
    for index in np.nonzero(on_both)[0]:
        if not (winner == classes[index]).any():
            peak = probability[index].max()
            winner[(probability[index] >= peak / 2) & (winner == 0) & (peak > 0)] = classes[index]


def _quantiles(image: np.ndarray, first: int, last: int) -> np.ndarray:
    """Intensity quantiles between the outer keys: mapping through them equalises the histogram onto [0, 1]."""
    sample = np.asarray(image[first:last + 1, ::2, ::2], dtype=np.float32)
    return np.percentile(sample, np.linspace(0, 100, QUANTILES)).astype(np.float32)


def _equalise(image: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """`image` as float32 in [0, 1] through the volume's quantiles (ties spread evenly)."""
    unique, first = np.unique(quantiles, return_index=True)
    if len(unique) < 2:
        return np.zeros(image.shape, dtype=np.float32)
    levels = np.linspace(0, 1, len(quantiles), dtype=np.float32)
    counts = np.diff(np.append(first, len(quantiles)))
    return np.interp(np.asarray(image, dtype=np.float32), unique, levels[first] + (counts - 1) * (levels[1] - levels[0]) / 2).astype(np.float32)


def _box(masks: list[np.ndarray], shape: tuple[int, int]) -> tuple[slice, slice] | None:
    """Bounding box of the masks' union grown by MARGIN, or None when they are all empty."""
    union = np.logical_or.reduce(masks)
    rows, cols = np.nonzero(union.any(axis=1))[0], np.nonzero(union.any(axis=0))[0]
    if rows.size == 0:
        return None
    return (slice(max(rows[0] - MARGIN, 0), min(rows[-1] + MARGIN + 1, shape[0])),
            slice(max(cols[0] - MARGIN, 0), min(cols[-1] + MARGIN + 1, shape[1])))


def _likelihoods(images: tuple[np.ndarray, ...], label_maps: tuple[np.ndarray, ...], classes: np.ndarray,
                 settings: Settings) -> np.ndarray:
    """[classes, BINS] smoothed intensity densities of each class on the key slices."""
    values = np.concatenate([image.ravel() for image in images])
    owners = np.concatenate([labels.ravel() for labels in label_maps])
    bins = np.minimum((values * BINS).astype(np.int64), BINS - 1)
    table = np.zeros((len(classes), BINS), dtype=np.float64)
    for index, value in enumerate(classes):
        table[index] = np.bincount(bins[owners == value], minlength=BINS)
    table = ndimage.gaussian_filter1d(table, settings.smoothing, axis=1) + settings.pseudocount
    return table / table.sum(axis=1, keepdims=True)


def _lookup(likelihood: np.ndarray, image: np.ndarray) -> np.ndarray:
    """[classes, rows, cols] likelihood of each pixel's intensity under each class."""
    bins = np.minimum((image * BINS).astype(np.int64), BINS - 1)
    return likelihood[:, bins]
