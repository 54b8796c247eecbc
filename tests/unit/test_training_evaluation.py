"""A model's validation report measures what shared/agreement.py measures: in 3D on whole volumes, per slice in 2D on
held-out slices, pooled Dice over every case."""

from __future__ import annotations

import math

import numpy as np
import pytest

from services.training.domain.evaluation import Held, report
from shared import agreement


def _box(shape, corner, size, value=1):
    labels = np.zeros(shape, dtype=np.uint16)
    labels[tuple(slice(c, c + s) for c, s in zip(corner, size))] = value
    return labels


def test_whole_volumes_are_measured_in_3d_and_dice_is_pooled():
    spacing = (3.0, 1.0, 1.0)
    reference = _box((10, 30, 30), (2, 5, 5), (6, 12, 12))
    predicted = _box((10, 30, 30), (2, 6, 5), (6, 12, 12))
    other_reference = _box((10, 30, 30), (1, 1, 1), (3, 4, 4))
    rows = {(r["name"], r["label_value"]): r["value"] for r in report(
        [Held(predicted, reference, spacing), Held(other_reference, other_reference, spacing)], [1])}
    pooled = agreement.dice(np.concatenate([(predicted == 1).ravel(), (other_reference == 1).ravel()]),
                            np.concatenate([(reference == 1).ravel(), (other_reference == 1).ravel()]))
    assert rows["dice", 1] == pytest.approx(pooled) and rows["dice", 0] == pytest.approx(pooled)
    direct = agreement.surface_agreement(predicted == 1, reference == 1, 2.0, spacing)
    assert rows["hd95_mm", 1] == pytest.approx(direct.hd95 / 2)  # the mean with the perfect second case
    assert rows["surface_dice", 1] == pytest.approx((direct.surface_dice + 1) / 2)


def test_held_out_slices_are_measured_one_at_a_time_in_2d():
    spacing = (5.0, 0.8, 0.8)
    reference = _box((8, 40, 40), (0, 10, 10), (8, 10, 10))
    predicted = reference.copy()
    predicted[3] = np.roll(reference[3], 4, axis=1)  # 3.2 mm off on slice 3 only
    rows = {(r["name"], r["label_value"]): r["value"] for r in report([Held(predicted, reference, spacing, (3, 6))], [1])}
    on_three = agreement.hd95(predicted[3] == 1, reference[3] == 1, spacing[1:])
    assert on_three > 0 and rows["hd95_mm", 1] == pytest.approx(on_three / 2)


def test_a_label_missed_entirely_has_infinite_distances_and_no_label_no_rows():
    reference = _box((4, 10, 10), (1, 2, 2), (2, 3, 3), value=5)
    rows = {(r["name"], r["label_value"]): r["value"] for r in report(
        [Held(np.zeros_like(reference), reference, (1.0, 1.0, 1.0))], [5, 9])}
    assert rows["dice", 5] == 0 and math.isinf(rows["hd95_mm", 5]) and ("dice", 9) not in rows
