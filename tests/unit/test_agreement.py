"""Agreement measures against values worked out by hand, their documented edge cases, and the spacing in mm."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shared import agreement


def square(size: int, top: int, left: int, side: int) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    mask[top:top + side, left:left + side] = True
    return mask


def test_dice_and_iou_of_two_overlapping_squares():
    """4×4 squares shifted by 2 columns: 8 shared pixels of 16 + 16 → Dice 0.5, IoU 8/24."""
    a, b = square(10, 2, 2, 4), square(10, 2, 4, 4)
    assert agreement.dice(a, b) == pytest.approx(0.5)
    assert agreement.iou(a, b) == pytest.approx(1 / 3)


def test_hd95_and_surface_dice_of_a_shifted_square_with_spacing():
    """A 6×6 square shifted by 3 columns, columns 2 mm wide: of each square's 20 surface voxels the 6 on its far
    side lie 6 mm from the other surface and the rest at most 4 mm, so HD95 = 6 mm (3 voxels without
    spacing) and surface Dice at 5 mm = 14/20."""
    a, b = square(20, 5, 5, 6), square(20, 5, 8, 6)
    assert agreement.hd95(a, b, spacing=(1.0, 2.0)) == pytest.approx(6.0)
    assert agreement.hd95(a, b) == pytest.approx(3.0)
    assert agreement.surface_dice(a, b, tolerance=5.0, spacing=(1.0, 2.0)) == pytest.approx(14 / 20)
    assert agreement.surface_dice(a, b, tolerance=6.0, spacing=(1.0, 2.0)) == 1.0


def test_hd95_is_robust_to_one_far_outlier_voxel_but_not_to_many():
    """One stray voxel 6 away among ~400 surface voxels does not move HD95 (the plain maximum would); a whole
    side moved out by 5 (100 of ~400 surface voxels) does."""
    a = np.zeros((120, 120), dtype=bool)
    a[10:110, 10:110] = True
    b = a.copy()
    b[10, 115] = True
    assert agreement.hd95(a, b) == 0.0
    c = a.copy()
    c[10:110, 110:115] = True
    assert agreement.hd95(a, c) == pytest.approx(5.0)


def test_identical_masks_agree_perfectly():
    a = square(12, 3, 3, 5)
    assert (agreement.dice(a, a), agreement.iou(a, a), agreement.hd95(a, a), agreement.surface_dice(a, a, 0.0),
            agreement.volume_difference(a, a)) == (1.0, 1.0, 0.0, 1.0, 0.0)


def test_both_empty_agree_perfectly_and_one_empty_not_at_all():
    """The documented edge cases: nothing vs nothing is perfect agreement; something vs nothing is none."""
    empty, full = np.zeros((8, 8), dtype=bool), square(8, 2, 2, 3)
    assert (agreement.dice(empty, empty), agreement.iou(empty, empty), agreement.hd95(empty, empty),
            agreement.surface_dice(empty, empty, 1.0), agreement.volume_difference(empty, empty)) == (1.0, 1.0, 0.0, 1.0, 0.0)
    for a, b in ((empty, full), (full, empty)):
        assert agreement.dice(a, b) == 0.0 and agreement.iou(a, b) == 0.0
        assert math.isinf(agreement.hd95(a, b)) and agreement.surface_dice(a, b, 100.0) == 0.0
    assert math.isinf(agreement.volume_difference(full, empty))
    assert agreement.volume_difference(empty, full) == -1.0


def test_volume_difference_is_signed_and_relative():
    reference, larger = square(10, 0, 0, 4), square(10, 0, 0, 5)
    assert agreement.volume_difference(larger, reference) == pytest.approx(9 / 16)
    assert agreement.volume_difference(reference, larger) == pytest.approx(-9 / 25)


def test_masks_touching_the_array_edge_have_a_surface_there():
    """A mask filling the whole 5³ array still has a surface (the edge): its 8 corners (8% of 98 surface voxels)
    lie √3 from the inner 3³ cube's corners, so HD95 is √3."""
    full = np.ones((5, 5, 5), dtype=bool)
    inner = np.zeros_like(full)
    inner[1:4, 1:4, 1:4] = True
    assert agreement.hd95(full, inner) == pytest.approx(math.sqrt(3))


def test_mismatched_shapes_and_spacing_are_refused():
    with pytest.raises(ValueError, match="different shapes"):
        agreement.dice(np.zeros((3, 3)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="spacing"):
        agreement.hd95(np.ones((3, 3)), np.ones((3, 3)), spacing=(1.0, 1.0, 1.0))


def test_assd_of_a_square_moved_two_rows_with_spacing():
    """A 3×3 square moved down two rows: of each square's 8 surface voxels 3 lie on the other's surface, 2 are one
    row and 3 two rows away, so ASSD = (0·3 + 1·2 + 2·3) / 8 = 1 row: 2 mm with rows 2 mm apart."""
    a, b = square(10, 2, 2, 3), square(10, 4, 2, 3)
    assert agreement.assd(a, b) == pytest.approx(1.0)
    assert agreement.assd(a, b, spacing=(2.0, 1.0)) == pytest.approx(2.0)
    assert agreement.surface_agreement(a, b, 1.0, spacing=(2.0, 1.0)) == agreement.SurfaceAgreement(
        hd95=agreement.hd95(a, b, spacing=(2.0, 1.0)), assd=2.0,
        surface_dice=agreement.surface_dice(a, b, 1.0, spacing=(2.0, 1.0)))


def test_assd_edge_cases_follow_hd95():
    empty, full = np.zeros((8, 8), dtype=bool), square(8, 2, 2, 3)
    assert agreement.assd(empty, empty) == 0.0 and agreement.assd(full, full) == 0.0
    assert math.isinf(agreement.assd(full, empty)) and math.isinf(agreement.assd(empty, full))


def test_surface_agreements_of_several_masks_are_those_of_each_pair():
    """Three readers' masks, one of them empty: each pair's entry is what `surface_agreement` gives that pair."""
    masks = [square(16, 2, 2, 6), square(16, 3, 4, 6), np.zeros((16, 16), dtype=bool)]
    found = agreement.surface_agreements(masks, 1.5, spacing=(1.0, 2.0))
    assert set(found) == {(0, 1), (0, 2), (1, 2)}
    for (first, second), measured in found.items():
        assert measured == agreement.surface_agreement(masks[first], masks[second], 1.5, spacing=(1.0, 2.0))
    assert math.isinf(found[0, 2].hd95) and found[0, 1].hd95 > 0
