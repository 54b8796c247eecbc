"""The interpolation benchmark's protocol: acquisition axis, key slices, held-out scoring, the peers' figures.

The peers' figures are those the issue measured on the spleen: the protocol is right when they come out the
same here.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench import interpolation as bench


def test_the_acquisition_axis_is_the_coarsest_else_the_longest_labelled_span():
    labels = np.zeros((10, 20, 30), dtype=np.int32)
    labels[2:4, 5:15, 1:29] = 1  # spans 2 slices on axis 0, 10 on axis 1, 28 on axis 2
    assert bench.acquisition_axis(labels, (1.0, 5.0, 1.0)) == 1
    assert bench.acquisition_axis(labels, (3.0, 3.0, 3.0)) == 2


def test_keys_are_every_kth_labelled_slice_plus_the_last():
    labels = np.zeros((20, 4, 4), dtype=np.int32)
    labels[3:15, 1, 1] = 1  # labelled range 3..14
    assert bench.key_slices(labels, 0, 3) == [3, 6, 9, 12, 14]
    assert bench.key_slices(labels, 0, 6) == [3, 9, 14]
    assert bench.held_out(labels, 0, [3, 6, 9, 12, 14]) == [4, 5, 7, 8, 10, 11, 13]


def test_scores_count_per_label_dice_and_false_empty_and_present_slices():
    """Label 1 perfect; label 2 missing on one of its two held-out slices and present on a slice where truth has
    none (Dice 2·4/(8+8)): Dice averages the two labels, the counts are per (slice, label)."""
    truth = np.zeros((4, 6, 6), dtype=np.int32)
    truth[1:3, 0:2, 0:2] = 1
    truth[1:3, 4:6, 4:6] = 2
    predicted = truth.copy()
    predicted[2][predicted[2] == 2] = 0
    predicted[3, 4:6, 4:6] = 2
    score = bench.score(truth, predicted, 0, [1, 2, 3], (1.0, 1.0, 1.0), seconds=0.5)
    assert score.per_label == {1: 1.0, 2: 0.5}
    assert score.dice == 0.75
    assert (score.false_empty, score.false_present, score.hd95, score.seconds) == (1, 1, 0.0, 0.5)


def test_the_spleen_peers_come_out_as_the_issue_measured(data_dir, monkeypatch):
    """Nearest key 0.900 and plain signed distance 0.960 at k=3 (the issue's figures), and SHAPE above both."""
    monkeypatch.setenv("RADLAB_DATA", str(data_dir))
    case = bench.load_case("spleen CT")
    assert case.axis == 0 and case.spacing[0] == pytest.approx(5.0)
    nearest = bench.evaluate(case, 3, bench.NEAREST)
    plain = bench.evaluate(case, 3, bench.SIGNED_DISTANCE)
    shape = bench.evaluate(case, 3, "SHAPE")
    assert nearest.dice == pytest.approx(0.900, abs=0.002) and plain.dice == pytest.approx(0.960, abs=0.002)
    assert shape.dice > plain.dice and shape.hd95 < plain.hd95 < nearest.hd95
