"""Filling a label volume between its key slices: per-label key sets, shape-based or image-guided, no overlaps.

The rules every caller (service, CLI, benchmark) gets: only slices strictly between a label's outer key
slices are filled, and only in gaps with the label drawn on at least one side; a label's pixels on slices
that are not its keys count as empty (they are cleared, then filled); a pixel of a label keyed on that
slice is never overwritten, nor one of a label the caller did not name in `keys`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from services.interpolation.domain import shape
from shared.errors import InvalidArgument


class Method(enum.Enum):
    """How slices are filled: from the key outlines alone, or guided by the image (default, or fast)."""

    SHAPE = "shape"
    IMAGE_GUIDED = "image_guided"
    IMAGE_GUIDED_FAST = "image_guided_fast"


@dataclass(frozen=True)
class LabelKeys:
    """One label's key slices: where it is drawn (content read from the label array) and where it is marked absent."""

    drawn: tuple[int, ...]
    absent: tuple[int, ...]

    @property
    def slices(self) -> tuple[int, ...]:
        """Every key slice of the label, in order."""
        return tuple(sorted({*self.drawn, *self.absent}))


@dataclass(frozen=True)
class Filled:
    """The filled label volume, which slices each label was filled on, and the method actually used."""

    labels: np.ndarray
    filled: dict[int, tuple[int, ...]]
    method: Method


def keys_from_slices(labels: np.ndarray, key_slices: Sequence[int], axis: int) -> dict[int, LabelKeys]:
    """Keys when whole slices are keys (the CLI's case): every label of the volume is drawn on the key slices
    that hold it and absent on the others (so a label seen only off the keys is cleared, never filled)."""
    _check_axis(labels, axis)
    keys = sorted(set(int(s) for s in key_slices))
    _check_slices(keys, labels.shape[axis], axis)
    moved = np.moveaxis(labels, axis, 0)
    present = {s: set(np.unique(moved[s]).tolist()) - {0} for s in keys}
    values = sorted(set(np.unique(labels).tolist()) - {0})
    return {int(v): LabelKeys(drawn=tuple(s for s in keys if v in present[s]),
                              absent=tuple(s for s in keys if v not in present[s])) for v in values}


def fill(labels: np.ndarray, keys: Mapping[int, LabelKeys], *, axis: int = 0, method: Method = Method.IMAGE_GUIDED,
         image: np.ndarray | None = None, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
         progress: Callable[[float], None] | None = None) -> Filled:
    """Fill every label between its key slices along `axis`; `spacing` is mm per array axis.

    Image-guided methods need `image` (same shape as `labels`) and the image-guided module; without either
    the shape method is used, and `Filled.method` says so.
    """
    _check_axis(labels, axis)
    if image is not None and image.shape != labels.shape:
        raise InvalidArgument(f"the image has shape {image.shape} but the labels {labels.shape}; "
                              "give the image the label map was drawn on")
    for value, label_keys in keys.items():
        if value == 0:
            raise InvalidArgument("label 0 is the background; name only labels 1 and up in the key slices")
        _check_slices(label_keys.slices, labels.shape[axis], axis)
    out = np.moveaxis(labels, axis, 0).copy()
    in_plane = tuple(float(s) for n, s in enumerate(spacing) if n != axis)
    _clear_off_keys(out, keys)
    propagate = _guided() if method is not Method.SHAPE and image is not None else None
    if propagate is None:
        filled = fill_by_shape(out, keys, in_plane, progress=progress)
        used = Method.SHAPE
    else:
        filled = _fill_guided(out, keys, propagate, np.moveaxis(image, axis, 0), (float(spacing[axis]), *in_plane),
                              method is Method.IMAGE_GUIDED_FAST, progress)
        used = method
    if progress:
        progress(1.0)
    return Filled(labels=np.moveaxis(out, 0, axis), filled=filled, method=used)


def gaps(label_keys: LabelKeys) -> list[tuple[int, int]]:
    """Consecutive key slices (first, last) with slices between them and the label drawn on at least one."""
    slices, drawn = label_keys.slices, set(label_keys.drawn)
    return [(a, b) for a, b in zip(slices, slices[1:]) if b - a > 1 and (a in drawn or b in drawn)]


def _check_axis(labels: np.ndarray, axis: int) -> None:
    if labels.ndim != 3:
        raise InvalidArgument(f"a label volume is 3-D; got shape {labels.shape}")
    if axis not in (0, 1, 2):
        raise InvalidArgument(f"axis {axis} is not one of 0 (slices), 1 (rows) or 2 (columns)")


def _check_slices(slices: Sequence[int], count: int, axis: int) -> None:
    outside = [s for s in slices if not 0 <= s < count]
    if outside:
        raise InvalidArgument(f"key slices {outside} lie outside the volume: axis {axis} has slices 0 to {count - 1}")


def _clear_off_keys(volume: np.ndarray, keys: Mapping[int, LabelKeys]) -> None:
    """Erase each named label from the slices that are not its keys (they are treated as empty)."""
    named = np.fromiter(keys, dtype=np.int64)
    keyed: dict[int, list[int]] = {}
    for value, label_keys in keys.items():
        for s in label_keys.slices:
            keyed.setdefault(s, []).append(value)
    for s in range(volume.shape[0]):
        off_key = np.setdiff1d(named, keyed.get(s, []))
        if off_key.size:
            volume[s][np.isin(volume[s], off_key)] = 0


def fill_by_shape(volume: np.ndarray, keys: Mapping[int, LabelKeys], spacing: tuple[float, float], *,
                  correspondence: bool = True, progress: Callable[[float], None] | None = None) -> dict[int, tuple[int, ...]]:
    """Shape-based filling in place of a volume with its key axis first (off-key pixels already cleared); where
    two labels reach one pixel, the one deeper inside its interpolated outline wins. Without `correspondence`
    it is the plain signed-distance baseline the benchmark compares against."""
    candidates: dict[int, list[tuple[int, tuple[slice, slice], np.ndarray]]] = {}
    for done, (value, label_keys) in enumerate(keys.items()):
        drawn = set(label_keys.drawn)
        slices = label_keys.slices
        empty = np.zeros(volume.shape[1:], dtype=bool)
        stack = shape.KeyStack({s: volume[s] == value if s in drawn else empty for s in slices}, spacing)
        for a, b in gaps(label_keys):
            at = slices.index(a)
            found = shape.gap_fields(stack, a, b, [(s - a) / (b - a) for s in range(a + 1, b)],
                                     correspondence=correspondence, before=_drawn_key(stack, slices, at - 1),
                                     after=_drawn_key(stack, slices, at + 2))
            if found is not None:
                for s, field in zip(range(a + 1, b), found):
                    candidates.setdefault(s, []).append((value, stack.window, field))
        if progress:
            progress(0.9 * (done + 1) / max(len(keys), 1))
    filled: dict[int, set[int]] = {}
    for s, entries in candidates.items():
        depth = np.full(volume.shape[1:], np.inf, dtype=np.float32)
        winner = np.zeros(volume.shape[1:], dtype=volume.dtype)
        for value, window, field in entries:
            claim = (field < 0) & (field < depth[window])
            depth[window][claim] = field[claim]
            winner[window][claim] = value
        _write(volume[s], winner, s, filled)
    return {value: tuple(sorted(slices)) for value, slices in sorted(filled.items())}


def _drawn_key(stack: shape.KeyStack, slices: tuple[int, ...], at: int) -> int | None:
    """The key slice at position `at` when the label is drawn there (a neighbour for the cubic path)."""
    return slices[at] if 0 <= at < len(slices) and stack.masks[slices[at]].any() else None


def _fill_guided(volume: np.ndarray, keys: Mapping[int, LabelKeys], propagate, image: np.ndarray,
                 spacing: tuple[float, float, float], fast: bool,
                 progress: Callable[[float], None] | None) -> dict[int, tuple[int, ...]]:
    """Image-guided filling: one propagation per set of labels sharing their key slices."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for value, label_keys in keys.items():
        if gaps(label_keys):
            groups.setdefault(label_keys.slices, []).append(value)
    filled: dict[int, set[int]] = {}
    for done, (slices, values) in enumerate(groups.items()):
        key_maps = {s: np.where(np.isin(volume[s], [v for v in values if s in keys[v].drawn]), volume[s], 0)
                    for s in slices}
        targets = [s for s in range(slices[0] + 1, slices[-1]) if s not in key_maps]
        results = propagate(image, key_maps, targets, labels=values, spacing=spacing, fast=fast)
        # A label is kept only in its own gaps (drawn on at least one side), whatever the propagation found.
        allowed = {v: {s for a, b in gaps(keys[v]) for s in range(a + 1, b)} for v in values}
        for s, result in results.items():
            permitted = [v for v in values if s in allowed[v]]
            _write(volume[s], np.where(np.isin(result, permitted), result, 0).astype(volume.dtype), s, filled)
        if progress:
            progress(0.95 * (done + 1) / len(groups))
    return {value: tuple(sorted(slices)) for value, slices in sorted(filled.items())}


def _write(target: np.ndarray, found: np.ndarray, index: int, filled: dict[int, set[int]]) -> None:
    """Write found labels into the empty pixels of one slice and note which labels landed there."""
    free = (target == 0) & (found != 0)
    target[free] = found[free]
    for value in np.unique(found[free]).tolist():
        filled.setdefault(int(value), set()).add(index)


def _guided():
    """The image-guided propagation, or None while that module is not there."""
    try:
        from services.interpolation.domain.guided import propagate
    except ImportError:
        return None
    return propagate
