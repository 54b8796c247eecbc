"""Consensus of readers on real CT labels (MSD spleen, TotalSegmentator's 41 organs) and on hand-worked 2-D shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from services.workflow.domain import consensus
from services.workflow.domain.consensus import ClassThresholds, ScoredBox, Thresholds
from shared import agreement as measure
from shared.errors import InvalidArgument
from shared.grid import array_spacing
from shared.volumes import from_nifti

SPLEEN = "ivadomed_spleen/ct_scan/derivatives/labels/sub-spleen2/ct/sub-spleen2_ct_seg-manual.nii.gz"
ORGANS = "totalsegmentator/tests/reference_files/example_seg.nii.gz"
STRICT = Thresholds(ClassThresholds(min_dice=0.9, min_surface_dice=0.9, max_hd95_mm=3.0))
LIVER, SPLEEN_ORGAN, KIDNEY = 5, 1, 2  # TotalSegmentator v1 class values


def ball(radius_mm: float, spacing: tuple[float, ...]) -> np.ndarray:
    """A structuring element holding the voxels within `radius_mm` of the centre on this anisotropic grid."""
    axes = [np.arange(-int(radius_mm // size), int(radius_mm // size) + 1) * size for size in spacing]
    return sum(axis ** 2 for axis in np.meshgrid(*axes, indexing="ij")) <= radius_mm ** 2


@pytest.fixture(scope="module")
def spleen(data_dir):
    """(manual label, the label eroded by 1 mm, spacing [k, j, i] in mm)."""
    labels, affine = from_nifti(data_dir / SPLEEN)
    spacing = array_spacing(affine)
    eroded = ndimage.binary_erosion(labels == 1, ball(1.0, spacing)).astype(labels.dtype)
    return labels, eroded, spacing


@pytest.fixture(scope="module")
def organs(data_dir):
    """Three readers of the 41-organ labels: A the reference; B drops a kidney and grows the liver 6 mm into the
    background; C shrinks the spleen by a voxel. Each voxel has at most one dissenting reader."""
    labels, affine = from_nifti(data_dir / ORGANS)
    b = labels.copy()
    b[b == KIDNEY] = 0
    b[ndimage.binary_dilation(labels == LIVER, iterations=2) & (labels == 0)] = LIVER
    c = labels.copy()
    c[(labels == SPLEEN_ORGAN) & ~ndimage.binary_erosion(labels == SPLEEN_ORGAN)] = 0
    classes = [int(value) for value in np.unique(labels) if value]
    return {"A": labels, "B": b, "C": c}, classes, array_spacing(affine)


def test_a_reader_eroding_by_1_mm_agrees_and_the_measures_are_shared_agreements(spleen):
    manual, eroded, spacing = spleen
    [found] = consensus.agreement({"manual": manual, "eroded": eroded}, spacing, [1], 2.0, STRICT).values()
    pair = found.pairs["manual", "eroded"]
    assert pair.dice == measure.dice(manual == 1, eroded == 1)
    assert pair.iou == measure.iou(manual == 1, eroded == 1)
    assert pair.hd95_mm == measure.hd95(manual == 1, eroded == 1, spacing)
    assert pair.assd_mm == measure.assd(manual == 1, eroded == 1, spacing)
    assert pair.surface_dice == measure.surface_dice(manual == 1, eroded == 1, 2.0, spacing)
    assert pair.volume_difference == pytest.approx((manual == 1).sum() / (eroded == 1).sum() - 1)
    assert found.mean == pair and found.judged and found.agreed and found.shortfalls == ()
    assert 0.95 < pair.dice < 1 and 0 < pair.hd95_mm <= 1.0  # the erosion moves the border one in-plane voxel


def test_staple_of_the_manual_and_eroded_readers_is_close_to_the_manual_label(spleen):
    manual, eroded, spacing = spleen
    merged = consensus.merge({"manual": manual, "eroded": eroded}, "staple", [1], spacing=spacing)
    assert merged.shape == manual.shape and set(np.unique(merged)) <= {0, 1}
    assert measure.dice(merged == 1, manual == 1) > 0.95


def test_a_reader_10_mm_off_fails_naming_the_measure_and_by_how_much(spleen):
    manual, _, spacing = spleen
    shift = round(10 / spacing[2])
    moved = np.zeros_like(manual)
    moved[:, :, shift:] = manual[:, :, :-shift]
    [found] = consensus.agreement({"manual": manual, "moved": moved}, spacing, [1], 2.0, STRICT).values()
    failed = {shortfall.measure: shortfall for shortfall in found.shortfalls}
    assert not found.agreed and set(failed) == {"dice", "surface_dice", "hd95_mm"}
    hd95 = failed["hd95_mm"]
    assert hd95.value > 7 and hd95.limit == 3.0 and hd95.by == pytest.approx(hd95.value - 3.0)
    assert str(hd95).startswith("hd95_mm ") and "above the maximum 3" in str(hd95)
    assert "below the minimum 0.9" in str(failed["dice"])


def test_only_the_organs_the_readers_disagree_on_fail(organs):
    readers, classes, spacing = organs
    found = consensus.agreement({"A": readers["A"], "B": readers["B"]}, spacing, [*classes, 12], 3.0, STRICT)
    assert {value for value, verdict in found.items() if not verdict.agreed} == {KIDNEY, LIVER}
    assert not found[12].judged and found[12].agreed and found[12].pairs == {}  # no reader drew it
    kidney = found[KIDNEY].mean
    assert kidney.dice == 0 and math.isinf(kidney.hd95_mm) and math.isinf(kidney.assd_mm)
    assert {shortfall.measure for shortfall in found[KIDNEY].shortfalls} == {"dice", "surface_dice", "hd95_mm"}
    liver = {shortfall.measure: shortfall for shortfall in found[LIVER].shortfalls}  # grown 6 mm (2 voxels)
    assert set(liver) == {"dice", "surface_dice", "hd95_mm"} and liver["hd95_mm"].value == pytest.approx(6.0)
    assert liver["hd95_mm"].by == pytest.approx(3.0) and 0.85 < liver["dice"].value < 0.9
    assert all(found[value].mean.dice == 1 for value in classes if value not in (KIDNEY, LIVER))


def test_three_readers_are_judged_on_their_mean_over_pairs(organs):
    readers, classes, spacing = organs
    thresholds = Thresholds(per_class={LIVER: ClassThresholds(max_hd95_mm=7.0)})
    found = consensus.agreement(readers, spacing, classes, 3.0, thresholds)
    spleen = found[SPLEEN_ORGAN]
    assert set(spleen.pairs) == {("A", "B"), ("A", "C"), ("B", "C")}
    assert spleen.mean.dice == pytest.approx(np.mean([pair.dice for pair in spleen.pairs.values()]))
    assert spleen.pairs["A", "B"].dice == 1 and spleen.pairs["A", "C"].dice < 1
    assert found[LIVER].agreed  # its own limit, on HD95 alone: the default minimum Dice does not apply
    assert not found[KIDNEY].agreed  # default min Dice 0.8: two of three pairs have Dice 0


def test_majority_vote_outvotes_each_dissent_and_ties_go_to_background(organs):
    readers, classes, _ = organs
    assert np.array_equal(consensus.merge(readers, "majority", classes), readers["A"])
    a, b, c, d = (np.array([labels]) for labels in ([1, 1, 2, 0, 1], [2, 1, 2, 0, 1], [0, 2, 0, 1, 2], [0, 2, 0, 1, 0]))
    assert consensus.merge({"a": a, "b": b, "c": c}, "majority", [1, 2]).tolist() == [[0, 1, 2, 0, 1]]
    assert consensus.merge({"a": a, "b": b, "c": c, "d": d}, "majority", [1, 2]).tolist() == [[0, 0, 0, 0, 1]]
    assert consensus.merge({"a": a, "b": b, "c": c}, "majority", [2]).tolist() == [[0, 0, 2, 0, 0]]  # 1 is background


def test_staple_of_three_readers_keeps_each_organ(organs):
    readers, classes, spacing = organs
    merged = consensus.merge(readers, "staple", classes, spacing=spacing)
    large = [value for value in classes if np.count_nonzero(readers["A"] == value) > 100]
    assert all(measure.dice(merged == value, readers["A"] == value) > 0.9 for value in large)


def test_champion_merge_is_that_readers_labels_for_the_classes_asked(organs):
    readers, classes, _ = organs
    assert np.array_equal(consensus.merge(readers, "champion", classes, champion="B"), readers["B"])
    liver_only = consensus.merge(readers, "champion", [LIVER], champion="B")
    assert np.array_equal(liver_only, np.where(readers["B"] == LIVER, LIVER, 0))


def test_reader_scores_record_where_each_reader_departs_from_the_result(organs):
    readers, classes, spacing = organs
    merged = consensus.merge(readers, "majority", classes)
    scores = consensus.reader_scores(readers, merged, [*classes, 12], spacing, 3.0)
    assert set(scores) == {"A", "B", "C"} and all(12 not in per_class for per_class in scores.values())
    assert all(score.dice == 1 and score.hd95_mm == 0 for score in scores["A"].values())
    assert scores["B"][KIDNEY].dice == 0 and scores["B"][LIVER].hd95_mm == pytest.approx(6.0)
    assert 0.5 < scores["C"][SPLEEN_ORGAN].dice < 1 and scores["C"][LIVER].dice == 1
    assert {value for value, score in scores["B"].items() if score.dice < 1} == {KIDNEY, LIVER}


def test_merge_refuses_what_it_cannot_do(organs):
    readers, classes, _ = organs
    with pytest.raises(InvalidArgument, match="choose one of staple, majority, champion"):
        consensus.merge(readers, "average", classes)
    with pytest.raises(InvalidArgument, match="'D' is not one of the readers"):
        consensus.merge(readers, "champion", classes, champion="D")
    with pytest.raises(InvalidArgument, match="name a champion"):
        consensus.merge(readers, "champion", classes)
    with pytest.raises(InvalidArgument, match="shapes differ"):
        consensus.merge({**readers, "D": readers["A"][1:]}, "majority", classes)
    with pytest.raises(InvalidArgument, match="at least 2 readers"):
        consensus.agreement({"A": readers["A"]}, (3.0, 3.0, 3.0), classes, 1.0)


def test_hungarian_matching_of_boxes_maximises_the_total_iou():
    """a0 overlaps b0 most (IoU 8/12), but a1 overlaps only b0 well (7/13): greedy would pair a0–b0 and leave a1 with
    b1 (1/19); the best total pairs a0–b1 (6/14) and a1–b0. The far box matches nothing."""
    a = [(0, 0, 10, 10), (5, 0, 15, 10)]
    b = [(2, 0, 12, 10), (-4, 0, 6, 10), (100, 100, 110, 110)]
    assert consensus.match_boxes(a, b) == [(0, 1, pytest.approx(6 / 14)), (1, 0, pytest.approx(7 / 13))]
    assert consensus.match_boxes(a, b, min_iou=0.5) == [(1, 0, pytest.approx(7 / 13))]
    assert consensus.match_boxes([], b) == []


def test_weighted_box_fusion_averages_by_confidence_and_discounts_boxes_few_readers_drew():
    """Two readers' overlapping boxes (IoU 8/12) fuse to their confidence-weighted mean with mean confidence × 2/3;
    a box one reader of three drew keeps its corners at a third of its confidence."""
    fused = consensus.fuse_boxes({
        "r1": [ScoredBox((0, 0, 10, 10), 0.9)],
        "r2": [ScoredBox((2, 0, 12, 10), 0.6)],
        "r3": [ScoredBox((50, 50, 60, 60), 0.8)],
    })
    assert len(fused) == 2
    assert fused[0].box == pytest.approx((0.8, 0, 10.8, 10)) and fused[0].score == pytest.approx(0.75 * 2 / 3)
    assert fused[1].box == (50, 50, 60, 60) and fused[1].score == pytest.approx(0.8 / 3)


def test_weighted_box_fusion_matches_against_the_fused_box():
    """The third box overlaps the cluster's first box by IoU 6.6/13.4 = 0.49, under the threshold, but the box fused
    from the first two, (1, 0, 11, 10), by 7.6/12.4 = 0.61: it joins the cluster."""
    fused = consensus.fuse_boxes({
        "r1": [ScoredBox((0, 0, 10, 10), 0.9)],
        "r2": [ScoredBox((2, 0, 12, 10), 0.9)],
        "r3": [ScoredBox((3.4, 0, 13.4, 10), 0.5)],
    }, iou_threshold=0.55)
    assert len(fused) == 1 and fused[0].score == pytest.approx((0.9 + 0.9 + 0.5) / 3)
    assert fused[0].box[0] == pytest.approx((0.9 * 0 + 0.9 * 2 + 0.5 * 3.4) / 2.3)


def test_polygons_merge_into_what_more_than_half_the_readers_cover():
    """Three readers' shifted squares merge into the pixels two or more cover, traced as one outline whose covering
    share is between 2/3 and 1; a region only one reader of three drew, and two readers' disjoint outlines (a tie on
    every pixel: no majority), give nothing."""
    square = [(10, 10), (40, 10), (40, 30), (10, 30)]
    right, down = [(x + 4, y) for x, y in square], [(x, y + 4) for x, y in square]
    [(vertices, share)] = consensus.fuse_polygons({"r1": [square], "r2": [right], "r3": [down, [(90, 90), (99, 90), (99, 99)]]})
    covered = np.zeros((60, 60), bool)
    covered[consensus.raster_polygon(vertices[:, 1], vertices[:, 0], covered.shape)] = True
    votes = sum(np.pad(np.ones((21, 31), int), ((y, 60 - y - 21), (x, 60 - x - 31))) for x, y in ((10, 10), (14, 10), (10, 14)))
    assert measure.dice(covered, votes >= 2) > 0.95 and 2 / 3 < share < 1
    assert consensus.fuse_polygons({"r1": [square], "r2": [[(x + 100, y) for x, y in square]]}) == []


def test_polygons_match_by_the_pixels_they_cover():
    square = [(0, 0), (100, 0), (100, 100), (0, 100)]
    moved = [(x + 20, y) for x, y in square]
    triangle = [(300, 300), (340, 300), (300, 340)]
    matches = consensus.match_polygons([square, triangle], [triangle, moved, [(500, 500), (510, 500), (505, 510)]])
    assert [(i, j) for i, j, _ in matches] == [(0, 1), (1, 0)]
    assert matches[0][2] == pytest.approx(80 / 120, abs=0.01) and matches[1][2] == 1.0


@pytest.mark.parametrize(("limits", "message"), [
    ({"default": ClassThresholds(min_dice=1.2)}, r"min_dice for every class \(the default\) is a share in \[0, 1\]"),
    ({"per_class": {3: ClassThresholds(max_hd95_mm=-1.0)}}, "max_hd95_mm for class 3 is a distance in mm"),
    ({"per_class": {4: ClassThresholds(max_assd_mm=math.inf)}}, "max_assd_mm for class 4 .*leave it unset"),
    ({"per_class": {4: ClassThresholds(min_surface_dice=math.nan)}}, "min_surface_dice for class 4"),
    ({"per_class": {4: ClassThresholds(max_volume_difference=-0.1)}},
     "max_volume_difference for class 4 is a fraction of the volume"),
    ({"per_class": {0: ClassThresholds(min_dice=0.5)}}, "0 is the background"),
])
def test_thresholds_out_of_range_are_refused_naming_measure_and_class(limits, message):
    with pytest.raises(InvalidArgument, match=message):
        Thresholds(**limits)
