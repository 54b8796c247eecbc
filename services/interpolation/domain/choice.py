"""Choosing per label how its gaps are filled: each candidate tried on the annotator's own inner keys, then weighed by what predicts the real gap.

Validation predicts every inner key slice of a label from the keys on either side with each candidate and
scores it (pooled Dice, as the benchmark scores held-out slices). That judges a gap twice as wide as the real
one, which understates nearest-key copy: its error grows with the distance to a key, and at the real gap no
slice is farther than half a gap from one, so copy's validated Dice gets a bonus. Inner keys no candidate
predicted at all: the label is copied, the simplest. A label with no inner key (a lesion drawn on two or three
keys) cannot be validated: it is copied when its keys overlap so little that no outline can be carried from
one to the next, or its gaps are wide against its width (thin rootlets, small vessels), else interpolated.
Besides switching, a candidate may blend: the pixels most candidates agree on. The settings are chosen by
the benchmark on half of its cases and reported on the other half.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

# Candidate names (Method values in fill.py): how a label may be filled.
NEAREST_KEY, SIGNED_DISTANCE, SHAPE, IMAGE_GUIDED, BLEND = "nearest_key", "signed_distance", "shape", "image_guided", "blend"
# Ties go to the first: the one that follows the image, then shape, blending, copying, the plain blend of distances.
PREFERENCE = (IMAGE_GUIDED, SHAPE, BLEND, NEAREST_KEY, SIGNED_DISTANCE)


@dataclass(frozen=True)
class Settings:
    """How the validated scores and the keys' overlap turn into a choice. The defaults are what bench/interpolation.py
    chose from its grid on each half of its cases, the same on both halves: they are reported on the other half."""

    copy_bonus: float = 0.02     # added to nearest-key copy's validated Dice: the real gap is half the validated one
    min_overlap: float = 0.0     # unvalidated label: copied when consecutive drawn keys overlap less (Dice) than this
    blend: bool = True           # the majority of the other candidates is a candidate too
    max_gap_ratio: float = 0.5   # unvalidated label: copied when its gaps (mm) exceed this × its width (mm)
    one_key_copy: bool = True    # a label drawn on one key only is copied (to the nearer half of its gaps), not shrunk


DEFAULT = Settings()


@dataclass
class Validation:
    """One label's inner keys predicted by each candidate: pooled overlap and size sums, per candidate."""

    keys: int = 0
    overlap: dict[str, float] = field(default_factory=dict)
    size: dict[str, float] = field(default_factory=dict)

    def add(self, candidate: str, predicted: np.ndarray, truth: np.ndarray) -> None:
        self.overlap[candidate] = self.overlap.get(candidate, 0.0) + 2.0 * np.count_nonzero(predicted & truth)
        self.size[candidate] = self.size.get(candidate, 0.0) + np.count_nonzero(predicted) + np.count_nonzero(truth)

    def dice(self) -> dict[str, float]:
        """Pooled Dice per candidate over the validated keys (1 where both were empty throughout)."""
        return {name: self.overlap[name] / self.size[name] if self.size[name] else 1.0 for name in self.size}


@dataclass(frozen=True)
class Choice:
    """One label's method and why it was chosen (a sentence the annotator can read), with what it was chosen from."""

    method: str
    reason: str
    validation: Validation = field(default_factory=Validation)
    overlap: float | None = None


# A candidate: the volume (key axis first, off-key pixels cleared) and the keys to fill from → a filled copy.
Candidate = Callable[[np.ndarray, Mapping[int, object]], np.ndarray]


def validate(volume: np.ndarray, keys: Mapping, candidates: Mapping[str, Candidate],
             with_keys: Callable) -> dict[int, Validation]:
    """Each label's inner key slices predicted from their neighbouring keys by every candidate.

    Labels sharing their key slices are validated together: once with every other inner key left out, once with
    the rest left out, so each inner key is predicted once from the keys beside it. `with_keys(label_keys,
    left_out)` is that label's keys without the slices left out.
    """
    found: dict[int, Validation] = {value: Validation() for value in keys}
    groups: dict[tuple[int, ...], list[int]] = {}
    for value, label_keys in keys.items():
        if len(label_keys.slices) >= 3:
            groups.setdefault(label_keys.slices, []).append(value)
    for slices, values in groups.items():
        inner = slices[1:-1]
        for left_out in (inner[0::2], inner[1::2]):
            if not left_out:
                continue
            work = volume.copy()
            for s in left_out:
                work[s][np.isin(work[s], values)] = 0
            reduced = {value: with_keys(keys[value], left_out) for value in values}
            predicted = {name: run(work, reduced)[list(left_out)] for name, run in candidates.items()}
            truth = volume[list(left_out)]
            for value in values:
                masks = {name: labels == value for name, labels in predicted.items()}
                masks[BLEND] = majority(list(masks.values()))
                expected = truth == value
                if not expected.any() and not any(mask.any() for mask in masks.values()):
                    continue
                found[value].keys += int(np.count_nonzero(expected.any(axis=(1, 2))))
                for name, mask in masks.items():
                    found[value].add(name, mask, expected)
    return found


def majority(masks: Sequence[np.ndarray]) -> np.ndarray:
    """The pixels more than half of the masks hold."""
    return np.sum(masks, axis=0) * 2 > len(masks)


def key_overlap(volume: np.ndarray, value: int, drawn: Sequence[int]) -> float | None:
    """Mean Dice between consecutive drawn key slices of a label (how much it changes over one gap; None: one key)."""
    scores = []
    for a, b in zip(drawn, drawn[1:]):
        first, last = volume[a] == value, volume[b] == value
        total = np.count_nonzero(first) + np.count_nonzero(last)
        scores.append(2.0 * np.count_nonzero(first & last) / total if total else 1.0)
    return float(np.mean(scores)) if scores else None


def gap_to_size(volume: np.ndarray, value: int, drawn: Sequence[int], gap_mm: float, in_plane: tuple[float, float]) -> float | None:
    """The label's mean gap (mm) over its equivalent diameter (mm) on its drawn keys: above 1 a gap is wider than the
    structure is thick, and an outline carried across it is mostly guessed (None: drawn nowhere)."""
    areas = [np.count_nonzero(volume[s] == value) * in_plane[0] * in_plane[1] for s in drawn]
    diameter = 2 * np.sqrt(np.mean(areas) / np.pi) if areas else 0.0
    return gap_mm / diameter if diameter else None


def decide(validation: Validation, overlap: float | None, gap_ratio: float | None, interpolator: str,
           settings: Settings) -> Choice:
    """The method for one label from its validated Dice per candidate, else from how much its keys overlap and how
    wide its gaps are against its size."""
    scores = validation.dice()
    if validation.keys and max(scores.values()) == 0:
        return Choice(NEAREST_KEY, f"no candidate predicted any of its {validation.keys} inner key slice(s): copied, the "
                                   "simplest", validation, overlap)
    if validation.keys:
        scores = {name: score for name, score in scores.items() if settings.blend or name != BLEND}
        adjusted = {name: score + (settings.copy_bonus if name == NEAREST_KEY else 0.0) for name, score in scores.items()}
        ranked = sorted(adjusted, key=lambda name: (-round(adjusted[name], 6), PREFERENCE.index(name)))
        shown = ", ".join(f"{name} {scores[name]:.3f}" + (f" (+{settings.copy_bonus:.2f}: the real gap is half as wide)"
                                                           if name == NEAREST_KEY and settings.copy_bonus else "")
                          for name in ranked)
        return Choice(ranked[0], f"best on {validation.keys} inner key slice(s) predicted from their neighbours: {shown}",
                      validation, overlap)
    if overlap is None and settings.one_key_copy:
        return Choice(NEAREST_KEY, "drawn on one key slice only: nothing to validate, copied up to halfway to the next key",
                      validation, overlap)
    if overlap is None:
        return Choice(interpolator, "drawn on one key slice only: nothing to validate, it shrinks to nothing halfway to "
                                    "the next key", validation, overlap)
    if overlap < settings.min_overlap:
        return Choice(NEAREST_KEY, f"no inner key slice to validate on; consecutive keys overlap {overlap:.2f} (Dice) < "
                                   f"{settings.min_overlap:.2f}: too little to carry an outline across, copied",
                      validation, overlap)
    if gap_ratio is not None and gap_ratio > settings.max_gap_ratio:
        return Choice(NEAREST_KEY, f"no inner key slice to validate on; its gaps are {gap_ratio:.1f}× its width "
                                   f"(> {settings.max_gap_ratio:.1f}): too thin to carry an outline across, copied",
                      validation, overlap)
    return Choice(interpolator, f"no inner key slice to validate on; consecutive keys overlap {overlap:.2f} (Dice) ≥ "
                                f"{settings.min_overlap:.2f}, gaps {gap_ratio or 0:.1f}× its width: interpolated",
                  validation, overlap)
