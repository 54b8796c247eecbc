"""A model's validation report: its labels against the reference on held-out data, per label, by shared/agreement.py's
measures. Whole volumes are compared in 3D; held-out slices of one patient (the split's "slices" case) one slice at a
time in 2D, since surfaces across the gaps between them would be distances the model never had to get right."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shared import agreement

SURFACE_TOLERANCE_MM = 2.0


@dataclass(frozen=True)
class Held:
    """One held-out case: predicted and reference label arrays [k, j, i], spacing (sk, sj, si) in mm, and the slices
    held out (None: the whole volume)."""

    predicted: np.ndarray
    reference: np.ndarray
    spacing: tuple[float, float, float]
    slices: tuple[int, ...] | None = None


def report(cases: Sequence[Held], label_values: Sequence[int], tolerance_mm: float = SURFACE_TOLERANCE_MM) -> list[dict]:
    """Metric rows {name, label_value, value}: per label Dice (pooled over every case's voxels), HD95 and ASSD in mm,
    surface Dice at `tolerance_mm` and relative volume difference (means over the comparisons where the label is in
    the reference or the prediction; infinite distances, a label missed or made up entirely, count as such)."""
    rows = []
    for value in label_values:
        pairs = [(predicted == value, reference == value, spacing) for predicted, reference, spacing in _comparisons(cases)]
        present = [(p, r, s) for p, r, s in pairs if p.any() or r.any()]
        if not present:
            continue
        measured = [agreement.surface_agreement(p, r, tolerance_mm, s) for p, r, s in present]
        pooled_p = np.concatenate([p.ravel() for p, _, _ in present])
        pooled_r = np.concatenate([r.ravel() for _, r, _ in present])
        rows += [
            {"name": "dice", "label_value": value, "value": agreement.dice(pooled_p, pooled_r)},
            {"name": "hd95_mm", "label_value": value, "value": _mean(m.hd95 for m in measured)},
            {"name": "assd_mm", "label_value": value, "value": _mean(m.assd for m in measured)},
            {"name": "surface_dice", "label_value": value, "value": _mean(m.surface_dice for m in measured)},
            {"name": "volume_difference", "label_value": value,
             "value": agreement.volume_difference(pooled_p, pooled_r)},
        ]
    dice = [row["value"] for row in rows if row["name"] == "dice"]
    if dice:
        rows.append({"name": "dice", "label_value": 0, "value": sum(dice) / len(dice)})
    return rows


def _comparisons(cases: Sequence[Held]):
    """(predicted, reference, spacing) per volume, or per held-out slice in 2D."""
    for case in cases:
        if case.slices is None:
            yield case.predicted, case.reference, case.spacing
        else:
            for k in case.slices:
                yield case.predicted[k], case.reference[k], case.spacing[1:]


def _mean(values) -> float:
    values = list(values)
    return math.inf if any(math.isinf(v) for v in values) else float(np.mean(values))
