"""Slice masks as run lengths and version manifests: exact round trips on real label slices, and provenance kept
through edits."""

from __future__ import annotations

import numpy as np
import pytest

from services.annotation.domain import rle
from services.annotation.domain.manifest import DRAWN, INTERPOLATED, Manifest, Origin, SliceContent
from shared.volumes import from_nifti


@pytest.fixture(scope="module")
def organs(data_dir) -> np.ndarray:
    labels, _ = from_nifti(data_dir / "totalsegmentator/tests/reference_files/example_seg.nii.gz")
    return labels.astype(np.int32)


def test_every_slice_of_every_organ_round_trips_exactly(organs):
    """All 41 organs' slices of the TotalSegmentator CT labels, including masks that start and end inside."""
    count = 0
    for value in np.unique(organs)[1:]:
        for k in range(organs.shape[0]):
            mask = organs[k] == value
            assert np.array_equal(rle.decode(rle.encode(mask)), mask)
            count += 1
    full = np.ones((7, 5), dtype=bool)
    assert np.array_equal(rle.decode(rle.encode(full)), full)
    assert count > 1000


def test_equal_content_has_one_name_and_damage_is_refused(organs):
    mask = organs[organs.shape[0] // 2] > 0
    assert rle.content_id(rle.encode(mask)) == rle.content_id(rle.encode(mask.copy()))
    assert rle.content_id(rle.encode(mask)) != rle.content_id(rle.encode(~mask))
    with pytest.raises(ValueError):
        rle.decode(b"RLE0" + rle.encode(mask)[4:])
    encoded = bytearray(rle.encode(mask))
    encoded[4] += 1  # one more row than the runs cover
    with pytest.raises(ValueError, match="cover"):
        rle.decode(bytes(encoded))


def test_a_manifest_changes_only_what_an_edit_names_and_survives_bytes():
    base = Manifest(
        {(1, 3): SliceContent("a", 10), (1, 4): SliceContent("b", 12), (2, 3): SliceContent("c", 5)},
        {("axial", 3, 1): Origin(DRAWN, "alice"), ("axial", 4, 1): Origin(INTERPOLATED, "job 7"), ("axial", 3, 2): Origin(DRAWN, "bob")},
    )
    edited = base.changed({(1, 4): SliceContent("d", 14), (2, 3): None}, {("axial", 4, 1): Origin(DRAWN, "carol"),
                                                                          ("axial", 3, 2): None})
    assert edited.origins[("axial", 3, 1)] == Origin(DRAWN, "alice")  # untouched provenance is kept
    assert edited.origins[("axial", 4, 1)] == Origin(DRAWN, "carol")  # an edited filled slice is drawn now
    assert (2, 3) not in edited.content and ("axial", 3, 2) not in edited.origins
    assert base.content[(1, 4)] == SliceContent("b", 12)  # versions are immutable
    assert edited.slices_changed(base) == {1: [4], 2: [3]}
    assert edited.key_slices("axial") == {1: ([3, 4], [])}
    assert edited.voxels() == {1: 24}
    assert Manifest.from_bytes(edited.to_bytes()) == edited


def test_dicom_seg_algorithm_type_follows_how_a_label_was_made():
    from services.annotation.domain.manifest import IMPORTED, PREDICTED
    from services.annotation.domain.segmentation import AUTOMATIC, MANUAL, SEMIAUTOMATIC, Segment
    from services.annotation.handlers.labels import _made_how

    made = Manifest({}, {("axial", 3, 1): Origin(DRAWN, "alice"), ("axial", 4, 1): Origin(INTERPOLATED, "job 7"),
                         ("axial", 3, 2): Origin(IMPORTED, "seg.nii.gz"), ("axial", 5, 3): Origin(PREDICTED, "model-9@v2")})
    assert (_made_how(Segment(1, "liver"), made).algorithm_type, _made_how(Segment(1, "liver"), made).algorithm_name) == (
        SEMIAUTOMATIC, "Radlab interpolation")
    assert _made_how(Segment(2, "spleen"), made).algorithm_type == MANUAL
    assert (_made_how(Segment(3, "lesion"), made).algorithm_type, _made_how(Segment(3, "lesion"), made).algorithm_name) == (
        AUTOMATIC, "model-9@v2")
