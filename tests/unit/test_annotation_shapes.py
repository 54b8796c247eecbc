"""Slice shapes, measurements through the affine, and coded concepts: checks, masks, mm on real and sheared grids."""

from __future__ import annotations

import math
import time
import xml.etree.ElementTree as ET

import nibabel as nib
import numpy as np
import pytest

from services.annotation.domain import concepts
from services.annotation.domain.measurements import angle_degrees, length_mm, region_stats
from services.annotation.domain.segmentation import Code
from services.annotation.domain.shapes import Box, Ellipse, Keypoint, Polygon, Polyline, rasterize, validate
from shared.errors import InvalidArgument
from shared.grid import plane_axis
from shared.volumes import from_nifti

SPLEEN_CT = "ivadomed_spleen/ct_scan/sub-spleen2/ct/sub-spleen2_ct.nii.gz"
SPLEEN_LABEL = "ivadomed_spleen/ct_scan/derivatives/labels/sub-spleen2/ct/sub-spleen2_ct_seg-manual.nii.gz"
TOTALSEGMENTATOR_LABELS = ("example_seg.nii.gz", "example_seg_dicom.nii.gz", "example_seg_mr.nii.gz")


def circle(cx: float, cy: float, radius: float, count: int) -> list[tuple[float, float]]:
    angles = np.linspace(0, 2 * np.pi, count, endpoint=False)
    return list(zip(cx + radius * np.cos(angles), cy + radius * np.sin(angles)))


def refusal(shape, slice_shape=(512, 512)) -> str:
    with pytest.raises(InvalidArgument) as refused:
        validate(shape, slice_shape)
    return str(refused.value)


# Shapes


def test_a_polygon_with_a_hole_covers_the_outer_area_less_the_hole():
    # Edges on pixel boundaries: the pixel-centre rule makes the count exact.
    outer = [(-0.5, -0.5), (39.5, -0.5), (39.5, 39.5), (-0.5, 39.5)]
    hole = [(9.5, 9.5), (19.5, 9.5), (19.5, 19.5), (9.5, 19.5)]
    mask = rasterize(Polygon(outer=outer, holes=[hole], plane="axial", slice_index=3), (40, 40))
    assert mask.sum() == 40 * 40 - 10 * 10
    assert not mask[10:20, 10:20].any()

    # Round rings: within the pixels the two boundaries cross (their perimeters), and exactly outer minus hole.
    ring, inner = circle(50, 50, 30.3, 800), circle(52, 47, 12.7, 400)
    with_hole = rasterize(Polygon(outer=ring, holes=[inner], plane="axial", slice_index=3), (100, 100))
    alone = rasterize(Polygon(outer=ring, plane="axial", slice_index=3), (100, 100))
    hole_only = rasterize(Polygon(outer=inner, plane="axial", slice_index=3), (100, 100))
    assert with_hole.sum() == alone.sum() - hole_only.sum()
    exact = math.pi * (30.3**2 - 12.7**2)
    assert abs(with_hole.sum() - exact) < 2 * math.pi * (30.3 + 12.7) * 0.5


def test_a_bow_tie_is_refused_naming_the_crossing_edges_and_where():
    message = refusal(Polygon(outer=[(10, 10), (50, 50), (50, 10), (10, 50)], plane="axial", slice_index=12))
    assert message == ("polygon on axial slice 12: edges 0 and 2 cross at (30.0, 30.0); draw it without crossing edges")


def test_a_ring_folding_back_on_itself_or_touching_itself_is_refused():
    assert "edges 0 and 2" in refusal(Polygon(outer=[(0, 0), (1, 0), (2, 0)], plane="coronal", slice_index=1))
    # Two loops joined at one vertex (2, 5): a figure of eight, not one ring.
    touching = [(0, 0), (5, 0), (2, 5), (5, 9), (0, 9), (2, 5)]
    assert "edges 1 and 4 cross at (2.0, 5.0)" in refusal(Polygon(outer=touching, plane="coronal", slice_index=1))


def test_a_2000_vertex_circle_validates_well_under_50_ms():
    polygon = Polygon(outer=circle(256, 256, 200, 2000), plane="axial", slice_index=0)
    validate(polygon, (512, 512))  # warm up
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        validate(polygon, (512, 512))
        timings.append(time.perf_counter() - started)
    assert min(timings) < 0.050, f"{min(timings) * 1000:.1f} ms"


def test_holes_must_lie_inside_the_outer_ring_clear_of_it_and_of_each_other():
    square = [(10, 10), (50, 10), (50, 50), (10, 50)]
    outside = refusal(Polygon(outer=square, holes=[[(60, 60), (70, 60), (70, 70)]], plane="axial", slice_index=4))
    assert outside == "polygon on axial slice 4: hole 0 lies outside the outer ring; draw holes inside it"
    crossing = refusal(Polygon(outer=square, holes=[[(20, 20), (60, 20), (30, 30)]], plane="axial", slice_index=4))
    assert "edge 1 of the outer ring and edge 0 of hole 0 meet at (50.0, 20.0)" in crossing
    nested = [[(20, 20), (40, 20), (40, 40), (20, 40)], [(25, 25), (30, 25), (30, 30)]]
    assert "hole 1 lies inside hole 0" in refusal(Polygon(outer=square, holes=nested, plane="axial", slice_index=4))


def test_rings_need_three_distinct_finite_on_slice_vertices():
    assert "the outer ring has 2 distinct vertices" in refusal(
        Polygon(outer=[(0, 0), (1, 0), (1, 0), (0, 0)], plane="axial", slice_index=0))
    assert "vertex 2 (nan, 5.0) is not a finite position" in refusal(
        Polygon(outer=[(0, 0), (5, 0), (math.nan, 5)], plane="axial", slice_index=0))
    off_slice = [[(1, 1), (600, 1), (1, 2)]]
    off = refusal(Polygon(outer=[(0, 0), (5, 0), (5, 5)], holes=off_slice, plane="axial", slice_index=0))
    assert "vertex 1 of hole 0 (600, 1) is off the 512×512 slice" in off
    # Half a voxel past the outer centres is still on the slice; a closing repeat of vertex 0 is allowed.
    validate(Polygon(outer=[(-0.5, -0.5), (511.5, -0.5), (511.5, 511.5), (-0.5, -0.5)], plane="axial", slice_index=0),
             (512, 512))


def test_other_shapes_are_checked_and_boxes_and_ellipses_rasterize_by_pixel_centres():
    assert "choose one of axial, coronal, sagittal" in refusal(Keypoint(1, 1, plane="oblique", slice_index=0))
    assert "needs at least 2 distinct points" in refusal(Polyline([(3, 3), (3, 3)], plane="axial", slice_index=0))
    assert "must be left of and above corner 1" in refusal(Box(5, 5, 2, 8, plane="axial", slice_index=0))
    assert "off the 512×512 slice" in refusal(Ellipse(5, 5, 10, 3, plane="axial", slice_index=0))
    validate(Polyline([(3, 3), (40, 7), (3, 3)], plane="sagittal", slice_index=2), (64, 64))

    box = rasterize(Box(1.5, 2, 4, 5.2, plane="axial", slice_index=0), (8, 8))
    assert np.argwhere(box).min(axis=0).tolist() == [2, 2] and np.argwhere(box).max(axis=0).tolist() == [5, 4]
    # The rx axis points `angle` from +x towards +y (down the slice).
    tilted = rasterize(Ellipse(20, 20, 10, 2, math.pi / 4, plane="axial", slice_index=0), (41, 41))
    assert tilted[26, 26] and not tilted[14, 26] and tilted.sum() == pytest.approx(math.pi * 10 * 2, rel=0.1)
    with pytest.raises(InvalidArgument, match="encloses no area"):
        rasterize(Keypoint(3, 3, plane="axial", slice_index=0), (8, 8))


# Measurements


def tilted_affine() -> np.ndarray:
    """A gantry-tilted CT's grid, built by hand: 0.5 mm columns, 0.6 mm rows, and slices 4.5 mm apart in z that
    also step 1.5 mm in y (the shear a tilted gantry leaves)."""
    affine = np.eye(4)
    affine[:3, 0] = (0.5, 0.0, 0.0)  # i
    affine[:3, 1] = (0.0, 0.6, 0.0)  # j
    affine[:3, 2] = (0.0, 1.5, 4.5)  # k
    affine[:3, 3] = (-120.0, -80.0, 30.0)
    return affine


def test_lengths_on_a_sheared_anisotropic_grid_are_the_hand_computed_mm():
    affine = tilted_affine()
    axial, sagittal = plane_axis(affine, "axial"), plane_axis(affine, "sagittal")
    assert (axial, sagittal) == (0, 2)
    # Axial: 20 columns and 10 rows → (10 mm, 6 mm).
    assert length_mm(affine, axial, 7, (10, 20), (30, 30)) == pytest.approx(math.hypot(10, 6))
    # Sagittal (rows k, columns j): 20 j-steps and 6 k-steps → 20·(0, 0.6, 0) + 6·(0, 1.5, 4.5) = (0, 21, 27).
    assert length_mm(affine, sagittal, 40, (10, 2), (30, 8)) == pytest.approx(math.sqrt(21**2 + 27**2))
    # A polyline is the sum of its legs.
    assert length_mm(affine, axial, 7, (10, 20), (30, 30), (30, 40)) == pytest.approx(math.hypot(10, 6) + 6)
    with pytest.raises(InvalidArgument, match="at least 2 points"):
        length_mm(affine, axial, 7, (1, 1))


def test_a_right_angle_is_90_degrees_in_the_patient_even_where_pixels_say_otherwise():
    affine = np.diag([0.5, 1.0, 3.0, 1.0])
    # In pixels (4, 2) and (-4, 2) are not perpendicular; in mm they are (2, 2) and (-2, 2).
    assert angle_degrees(affine, 0, 5, (14, 12), (10, 10), (6, 12)) == pytest.approx(90.0)
    assert angle_degrees(affine, 0, 5, (20, 10), (10, 10), (0, 10)) == pytest.approx(180.0)
    assert angle_degrees(tilted_affine(), 2, 0, (1, 0), (0, 0), (0, 1)) == pytest.approx(
        math.degrees(math.acos(1.5 * 0.6 / (0.6 * math.hypot(1.5, 4.5)))))


def test_region_stats_of_the_manual_spleen_on_its_ct(data_dir):
    image, affine = from_nifti(data_dir / SPLEEN_CT)
    labels, label_affine = from_nifti(data_dir / SPLEEN_LABEL)
    assert np.allclose(affine, label_affine)
    spleen = labels > 0
    stats = region_stats(spleen, image, affine, "CT")
    voxel = abs(np.linalg.det(affine[:3, :3]))
    assert voxel == pytest.approx(0.79492199**2 * 5.0, rel=1e-6)
    assert stats.voxels == spleen.sum() and stats.volume_mm3 == pytest.approx(spleen.sum() * voxel)
    assert stats.volume_ml == pytest.approx(stats.volume_mm3 / 1000) and stats.area_mm2 is None
    assert 40 < stats.mean < 150, stats.mean  # soft tissue, contrast-enhanced at most
    assert stats.sd == pytest.approx(image[spleen].astype(np.float64).std(ddof=1))
    assert stats.minimum <= stats.mean <= stats.maximum and stats.units == "HU"

    k = int(np.argmax(spleen.sum(axis=(1, 2))))
    on_slice = region_stats(spleen[k], image, affine, "ct", plane_axis=plane_axis(affine, "axial"), slice_index=k)
    assert on_slice.area_mm2 == pytest.approx(spleen[k].sum() * 0.79492199**2, rel=1e-6)
    assert on_slice.volume_mm3 is None and on_slice.mean == pytest.approx(image[k][spleen[k]].mean(), rel=1e-6)
    assert region_stats(spleen, image, affine, "MR").units == ""
    empty = region_stats(np.zeros_like(spleen), image, affine, "CT")
    assert (empty.voxels, empty.volume_mm3, empty.mean, empty.sd) == (0, 0.0, None, None)


def test_region_stats_refuse_a_mask_of_another_shape():
    with pytest.raises(InvalidArgument, match="the mask is 2×2×2 but the image is 3×3×3"):
        region_stats(np.ones((2, 2, 2), dtype=bool), np.zeros((3, 3, 3)), np.eye(4), "CT")


# Concepts


def totalsegmentator_names(data_dir) -> set[str]:
    """Every label name the sample label maps declare (their NIfTI label-table extension)."""
    names: set[str] = set()
    for file in TOTALSEGMENTATOR_LABELS:
        header = nib.load(data_dir / "totalsegmentator/tests/reference_files" / file).header
        for extension in header.extensions:
            table = ET.fromstring(extension.get_content().decode().strip().rstrip("\x00"))
            names |= {label.text for label in table.iter("Label")}
    return names


def test_every_totalsegmentator_label_in_the_sample_data_has_a_concept(data_dir):
    names = totalsegmentator_names(data_dir)
    assert len(names) == 121  # 117 CT classes and the MR task's lung_left/right, vertebrae, intervertebral_discs
    assert sorted(name for name in names if concepts.lookup(name) is None) == []


def test_lookup_ignores_case_underscores_spaces_and_word_order():
    kidney_left = concepts.lookup("kidney_left")
    assert concepts.lookup("Kidney left") == concepts.lookup("left kidney") == kidney_left
    assert (kidney_left.type.value, kidney_left.modifier) == ("64033007", concepts.LEFT)
    assert concepts.lookup("kidney").modifier is None
    assert concepts.lookup("LIVER").type == Code("10200004", "SCT", "Liver")
    assert concepts.lookup("liver").category == concepts.ANATOMICAL_STRUCTURE
    assert concepts.lookup("unicorn horn") is None
    # DICOM's codes where TotalSegmentator's differ: 29700009 is the right subclavian artery only.
    left, right = concepts.lookup("subclavian_artery_left"), concepts.lookup("subclavian_artery_right")
    assert left.type.value == right.type.value == "36765005"
    assert (left.modifier, right.modifier) == (concepts.LEFT, concepts.RIGHT)
    cyst = concepts.lookup("kidney_cyst_right")
    assert (cyst.type.value, cyst.region.value, cyst.region_modifier) == ("367643001", "64033007", concepts.RIGHT)


def test_findings_are_morphologically_abnormal_structures():
    expected = {"mass": "4147007", "nodule": "27925004", "lesion": "52988006", "hemorrhage": "50960005",
                "fracture": "72704001", "effusion": "41699000", "pneumothorax": "36118008",
                "consolidation": "95436008", "calcification": "18115005"}
    for name, value in expected.items():
        concept = concepts.lookup(name)
        assert (concept.category, concept.type.value) == (concepts.MORPHOLOGICALLY_ABNORMAL_STRUCTURE, value), name
    everything = concepts.all_concepts()
    assert set(expected) <= set(everything) and all(c.type.scheme == "SCT" for c in everything.values())
