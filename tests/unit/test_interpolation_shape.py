"""Shape-based filling through `fill`, on drawn shapes and the real spleen.

Splits, merges, structures that appear or end, absent key slices, several labels, any axis, nothing beyond
the outer keys, key slices untouched.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.draw import disk

from services.interpolation.domain.fill import LabelKeys, Method, fill, keys_from_slices
from services.interpolation.domain.shape import interpolate_gap, signed_distance
from shared import agreement
from shared.errors import InvalidArgument
from shared.volumes import from_nifti

SIZE = 64


def circle(centre: tuple[float, float], radius: float) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    mask[disk(centre, radius, shape=mask.shape)] = True
    return mask


def volume(slices: dict[int, dict[int, np.ndarray]], count: int = 9) -> np.ndarray:
    """A label volume [count, 64, 64] with label value → mask on the given slices."""
    labels = np.zeros((count, SIZE, SIZE), dtype=np.uint8)
    for index, masks in slices.items():
        for value, mask in masks.items():
            labels[index][mask] = value
    return labels


def components(mask: np.ndarray) -> int:
    return ndimage.label(mask, np.ones((3, 3)))[1]


def test_a_growing_disk_grows_in_between():
    """Radius 10 → 20 over 4 slices: the middle slice is a disk of radius ≈ 15 at the same place."""
    labels = volume({0: {1: circle((32, 32), 10)}, 4: {1: circle((32, 32), 20)}})
    out = fill(labels, keys_from_slices(labels, [0, 4], 0), method=Method.SHAPE)
    assert agreement.dice(out.labels[2] == 1, circle((32, 32), 15)) > 0.97
    assert out.filled == {1: (1, 2, 3)} and out.method is Method.SHAPE


def test_a_moving_structure_moves_rather_than_fading():
    """A disk that moves by more than twice its diameter still exists halfway, halfway along; one that jumps
    farther than three diameters is another structure (one ends, one appears)."""
    labels = volume({0: {1: circle((32, 12), 6)}, 4: {1: circle((32, 42), 6)}})
    middle = fill(labels, keys_from_slices(labels, [0, 4], 0), method=Method.SHAPE).labels[2] == 1
    assert agreement.dice(middle, circle((32, 27), 6)) > 0.9
    labels = volume({0: {1: circle((32, 6), 5)}, 4: {1: circle((32, 58), 5)}})
    assert not fill(labels, keys_from_slices(labels, [0, 4], 0), method=Method.SHAPE).labels[2].any()


def test_a_structure_on_a_curved_path_follows_the_curve_through_four_keys():
    """A disk travelling along an arc (60° per 4 slices around the image centre): halfway between the two
    middle keys it lies on the arc (radius 20), not on the chord (17.3), as a straight interpolation would."""
    angles = {0: 0.0, 4: np.pi / 3, 8: 2 * np.pi / 3, 12: np.pi}
    labels = volume({s: {1: circle((32 + 20 * np.sin(a), 32 + 20 * np.cos(a)), 5)} for s, a in angles.items()},
                    count=13)
    out = fill(labels, keys_from_slices(labels, list(angles), 0), method=Method.SHAPE).labels
    row, col = ndimage.center_of_mass(out[6] == 1)
    assert np.hypot(row - 32, col - 32) > 19
    chord = fill(labels, {1: LabelKeys(drawn=(4, 8), absent=())}, method=Method.SHAPE).labels
    assert ndimage.center_of_mass(chord[6] == 1)[0] - 32 < 18


def test_a_split_is_one_structure_then_two():
    """One wide blob on slice 0 splitting into two on slice 6: one component near the first key, two near
    the last, no pixel far outside both."""
    first = np.zeros((SIZE, SIZE), dtype=bool)
    first[24:40, 10:54] = True
    last = circle((32, 14), 7) | circle((32, 50), 7)
    between = interpolate_gap(first, last, 5, (1.0, 1.0))
    assert components(between[0]) == 1 and components(between[-1]) == 2
    assert not (between & ~(ndimage.binary_dilation(first | last, iterations=3))).any()


def test_a_merge_is_a_split_backwards():
    first = circle((32, 14), 7) | circle((32, 50), 7)
    last = np.zeros((SIZE, SIZE), dtype=bool)
    last[24:40, 10:54] = True
    between = interpolate_gap(first, last, 5, (1.0, 1.0))
    assert components(between[0]) == 2 and components(between[-1]) == 1


def test_a_structure_that_ends_between_keys_shrinks_to_nothing_halfway_and_is_not_copied():
    """Two disks on slice 0, only one on slice 4: the other shrinks (smaller at each step) and is gone by the
    middle; the one on both keys stays whole."""
    kept, ending = circle((32, 16), 8), circle((32, 48), 8)
    labels = volume({0: {1: kept | ending}, 4: {1: kept}})
    out = fill(labels, keys_from_slices(labels, [0, 4], 0), method=Method.SHAPE).labels == 1
    areas = [int((out[s] & ending).sum()) for s in range(5)]
    assert areas[0] > areas[1] > 0 and areas[2] == 0 and areas[3] == 0
    assert all(agreement.dice(out[s] & (kept | ending) & ~ending, kept) > 0.97 for s in range(5))


def test_a_structure_that_appears_between_keys_grows_from_nothing_after_halfway():
    labels = volume({0: {1: circle((32, 32), 8)}, 4: {1: circle((32, 32), 8) | circle((10, 10), 6)}})
    out = fill(labels, keys_from_slices(labels, [0, 4], 0), method=Method.SHAPE).labels == 1
    appearing = circle((10, 10), 6)
    assert (out[1] & appearing).sum() == 0 and (out[2] & appearing).sum() == 0 and (out[3] & appearing).sum() > 0


def test_an_absent_key_slice_stops_interpolation():
    """Drawn on 0 and 8, absent on 4: the label fades out towards 4 and back in, never crossing it."""
    labels = volume({0: {1: circle((32, 32), 12)}, 8: {1: circle((32, 32), 12)}})
    keys = {1: LabelKeys(drawn=(0, 8), absent=(4,))}
    out = fill(labels, keys, method=Method.SHAPE)
    assert not (out.labels[3:6] == 1).any()
    assert (out.labels[1] == 1).any() and (out.labels[7] == 1).any()
    assert out.filled == {1: (1, 7)}
    # Without the absent key the same drawing bridges the gap.
    bridged = fill(labels, {1: LabelKeys(drawn=(0, 8), absent=())}, method=Method.SHAPE)
    assert (bridged.labels[4] == 1).sum() > 300


def test_nothing_beyond_the_outer_keys_and_key_slices_untouched():
    """Slices outside the outer keys end up empty (off-key content is treated as empty), key slices are
    returned exactly as given, and a slice between absent keys stays empty."""
    labels = volume({2: {1: circle((32, 32), 10)}, 6: {1: circle((30, 30), 14), 2: circle((5, 5), 3)}}, count=12)
    labels[0][circle((20, 20), 5)] = 1  # stray content on a non-key slice: ignored, cleared
    labels[9][circle((40, 40), 5)] = 2
    keys = keys_from_slices(labels, [2, 6, 10], 0)
    assert keys == {1: LabelKeys(drawn=(2, 6), absent=(10,)), 2: LabelKeys(drawn=(6,), absent=(2, 10))}
    out = fill(labels, keys, method=Method.SHAPE).labels
    assert not out[:2].any() and not out[11:].any()
    assert np.array_equal(out[2], labels[2]) and np.array_equal(out[6], labels[6])
    # Label 2 is drawn on 6 only: it fades towards the absent keys 2 and 10, gone by their halfway points.
    assert (out[7] == 2).any() and not (out[8:] == 2).any() and not (out[:4] == 2).any()


def test_several_labels_never_overlap_and_the_deeper_one_wins():
    """Two labels whose interpolations would overlap: every pixel gets one label, each label keeps most of
    its own interpolated area."""
    left, right = circle((32, 24), 14), circle((32, 40), 14)
    labels = np.zeros((5, SIZE, SIZE), dtype=np.uint8)
    labels[0][left] = 1
    labels[0][right & ~left] = 2
    labels[4][right] = 2
    labels[4][left & ~right] = 1
    out = fill(labels, keys_from_slices(labels, [0, 4], 0), method=Method.SHAPE).labels
    assert set(np.unique(out[2]).tolist()) == {0, 1, 2}
    alone_1 = interpolate_gap(labels[0] == 1, labels[4] == 1, 3, (1.0, 1.0))[1]
    assert agreement.dice(out[2] == 1, alone_1) > 0.8


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_any_axis_gives_the_same_result(axis):
    labels = volume({0: {1: circle((32, 32), 10), 3: circle((10, 50), 4)}, 4: {1: circle((30, 34), 16)}})
    along_0 = fill(labels, keys_from_slices(labels, [0, 4], 0), method=Method.SHAPE).labels
    moved = np.moveaxis(labels, 0, axis)
    along_axis = fill(moved, keys_from_slices(moved, [0, 4], axis), axis=axis, method=Method.SHAPE).labels
    assert np.array_equal(np.moveaxis(along_axis, axis, 0), along_0)


def test_spacing_is_in_mm_per_array_axis():
    """Distances are in mm (rows 2 mm, columns 1 mm here), and fill hands the in-plane spacing of the key
    axis's slices to the shape method: a horizontal bar turning into a vertical one is interpolated as in
    that metric, not in the transposed one."""
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    mask[30:34, 30:34] = True
    distance = signed_distance(mask, (2.0, 1.0))
    assert distance[25, 31] == pytest.approx(10.0) and distance[31, 25] == pytest.approx(5.0)
    assert distance[31, 31] == pytest.approx(-2.0)
    horizontal, vertical = np.zeros((SIZE, SIZE), dtype=bool), np.zeros((SIZE, SIZE), dtype=bool)
    horizontal[28:36, 8:56] = True
    vertical[8:56, 28:36] = True
    labels = np.zeros((SIZE, 3, SIZE), dtype=np.uint8)  # key axis 1: slices are [rows=axis 0, cols=axis 2]
    labels[:, 0][horizontal], labels[:, 2][vertical] = 1, 1
    middle = fill(labels, keys_from_slices(labels, [0, 2], 1), axis=1, method=Method.SHAPE,
                  spacing=(2.0, 5.0, 1.0)).labels[:, 1] == 1
    assert np.array_equal(middle, interpolate_gap(horizontal, vertical, 1, (2.0, 1.0))[0])
    assert not np.array_equal(middle, interpolate_gap(horizontal, vertical, 1, (1.0, 2.0))[0])


def test_image_guided_without_an_image_falls_back_to_shape_and_reports_progress():
    labels = volume({0: {1: circle((32, 32), 10)}, 4: {1: circle((32, 32), 20)}})
    seen = []
    out = fill(labels, keys_from_slices(labels, [0, 4], 0), method=Method.IMAGE_GUIDED, progress=seen.append)
    assert out.method is Method.SHAPE
    assert seen and seen == sorted(seen) and seen[-1] == 1.0


def test_bad_requests_are_refused_with_an_actionable_message():
    labels = volume({0: {1: circle((32, 32), 10)}})
    with pytest.raises(InvalidArgument, match="outside the volume"):
        fill(labels, {1: LabelKeys(drawn=(0, 12), absent=())})
    with pytest.raises(InvalidArgument, match="axis 3"):
        keys_from_slices(labels, [0], 3)
    with pytest.raises(InvalidArgument, match="image has shape"):
        fill(labels, {1: LabelKeys(drawn=(0,), absent=())}, image=np.zeros((2, 2, 2)))
    with pytest.raises(InvalidArgument, match="background"):
        fill(labels, {0: LabelKeys(drawn=(0,), absent=())})


def test_real_spleen_every_third_slice(data_dir):
    """The issue's protocol on the MSD spleen CT at k=3: held-out Dice measured 0.962 (plain signed distance
    0.960, nearest key 0.900); the test allows 0.01 less."""
    base = data_dir / "ivadomed_spleen/ct_scan"
    truth, affine = from_nifti(base / "derivatives/labels/sub-spleen2/ct/sub-spleen2_ct_seg-manual.nii.gz")
    spacing = tuple(np.linalg.norm(affine[:3, :3], axis=0)[::-1])
    present = np.nonzero(truth.any(axis=(1, 2)))[0]
    keys = sorted({*range(present[0], present[-1] + 1, 3), present[-1]})
    given = np.zeros_like(truth)
    given[keys] = truth[keys]
    out = fill(given, keys_from_slices(given, keys, 0), method=Method.SHAPE, spacing=spacing).labels
    held = [s for s in range(present[0], present[-1] + 1) if s not in keys]
    assert agreement.dice(out[held] == 1, truth[held] == 1) >= 0.952
