"""Polygons from masks and back: ordered, simple, bounded outlines with holes, and a faithful round trip.

The round trip runs on real organ masks (the 41-organ CT's slices).
"""

from __future__ import annotations

import numpy as np
import pytest
from skimage.draw import disk

from services.interpolation.domain.polygons import Contour, outline, rasterize, self_intersects, signed_area
from shared.agreement import dice
from shared.volumes import from_nifti


def test_a_ring_gives_an_outline_and_a_hole_that_rasterize_back_exactly():
    ring = np.zeros((30, 30), dtype=bool)
    ring[5:25, 5:25] = True
    ring[10:20, 10:20] = False
    contours = outline(ring)
    assert [contour.hole for contour in contours] == [False, True]
    assert signed_area(contours[0].vertices) > 0 > signed_area(contours[1].vertices)
    assert np.array_equal(rasterize(contours, ring.shape), ring)


def test_vertices_are_ordered_along_the_outline():
    """Consecutive vertices of a disk's outline are close together and go round once (angle steps one sign)."""
    mask = np.zeros((64, 64), dtype=bool)
    mask[disk((32, 30), 20)] = True
    (contour,) = outline(mask)
    closed = np.vstack([contour.vertices, contour.vertices[:1]])
    x, y = closed[:, 0] - 30, closed[:, 1] - 32
    steps = np.diff(np.unwrap(np.arctan2(y, x)))
    assert (steps > 0).all() or (steps < 0).all()
    assert abs(steps.sum()) == pytest.approx(2 * np.pi, abs=0.3)
    assert np.linalg.norm(np.diff(closed, axis=0), axis=1).max() < 15


def test_the_vertex_count_is_bounded_even_for_a_ragged_outline():
    """A comb with 100 teeth needs hundreds of vertices; with max_vertices=64 it gets at most 64, still simple."""
    comb = np.zeros((40, 420), dtype=bool)
    comb[20:30, 5:415] = True
    for tooth in range(100):
        comb[5:20, 8 + 4 * tooth: 10 + 4 * tooth] = True
    assert len(outline(comb)[0].vertices) > 64
    (bounded,) = outline(comb, max_vertices=64)
    assert 3 <= len(bounded.vertices) <= 64
    assert not self_intersects(bounded.vertices)


def test_self_intersection_is_detected():
    bow_tie = np.array([[0, 0], [10, 10], [10, 0], [0, 10]], dtype=float)
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], dtype=float)
    assert self_intersects(bow_tie) and not self_intersects(square)


def test_a_single_pixel_and_diagonal_neighbours_survive():
    """Tiny outlines are not simplified away; 8-connected pixels form one outline."""
    mask = np.zeros((8, 8), dtype=bool)
    mask[2, 2] = mask[3, 3] = mask[6, 6] = True
    contours = outline(mask)
    assert len(contours) == 2
    assert np.array_equal(rasterize(contours, mask.shape), mask)


def test_rasterize_refuses_nothing_and_an_empty_mask_has_no_outline():
    assert outline(np.zeros((5, 5), dtype=bool)) == []
    assert not rasterize([], (5, 5)).any()
    triangle = Contour(vertices=np.array([[1.0, 1.0], [8.0, 1.0], [1.0, 8.0]]), hole=False)
    assert rasterize([triangle], (10, 10)).sum() > 20


def test_round_trip_on_real_organ_masks(data_dir):
    """Every organ outline of the 41-organ CT (sagittal slices) is simple and bounded, and masks of 100 pixels
    or more come back with Dice ≥ 0.95 (measured: worst 0.965, mean 0.994)."""
    labels, _ = from_nifti(data_dir / "totalsegmentator/tests/reference_files/example_seg.nii.gz")
    scores = []
    for index in range(0, labels.shape[2], 3):
        plane = labels[:, :, index]
        for value in np.unique(plane)[1:]:
            mask = plane == value
            contours = outline(mask)
            assert all(not self_intersects(c.vertices) and 3 <= len(c.vertices) <= 256 for c in contours)
            if mask.sum() >= 100:
                scores.append(dice(rasterize(contours, mask.shape), mask))
    assert len(scores) > 100
    assert min(scores) >= 0.95
