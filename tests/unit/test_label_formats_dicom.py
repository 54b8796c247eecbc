"""NIfTI label maps, DICOM-SEG and RTSTRUCT on real scans, checked against highdicom, dciodvfy and plastimatch.

The DICOM series behind the 32-label map (TotalSegmentator's JPEG 2000 CT) has its Study, Series and SOP Instance UIDs
blanked in the dataset (the file meta keeps each instance's); a DICOM label must name the images it labels, so the
exports here run on a copy that has them back, as a de-identified series in Radlab has (`ct_with_uids`).
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from services.annotation.domain.segmentation import Segment, Segmentation
from services.annotation.formats import Grid
from radlab.annotation_cli import reference_grid
from services.annotation.formats.convert import convert_labels
from services.annotation.formats.nifti import read_labelmap, write_labelmap
from services.annotation.formats.rtstruct import read_rtstruct, write_rtstruct
from services.annotation.formats.seg import read_seg, write_seg
from services.ingestion.domain.grouping import group_image_series
from services.ingestion.domain.volume import build_volume
from shared.agreement import dice
from shared.errors import InvalidArgument
from shared.volumes import LPS_TO_RAS, from_nifti, from_nifti_bytes, to_nifti
from tests.conftest import installed_tool

TOTALSEG = "totalsegmentator/tests/reference_files"
SPLEEN = "ivadomed_spleen/ct_scan/derivatives/labels/sub-spleen2/ct/sub-spleen2_ct_seg-manual.nii.gz"
SPLEEN_CT = "ivadomed_spleen/ct_scan/sub-spleen2/ct/sub-spleen2_ct.nii.gz"
DICOM_CT = f"{TOTALSEG}/example_ct_dicom"
DICOM_LABELS = f"{TOTALSEG}/example_seg_dicom.nii.gz"
DCMQI = "dcmqi/data/segmentations"
RT_UTILS = "rt_utils/tests/mock_data"
# Organs of the 32-label map written as RTSTRUCT: the largest five, the liver (5) among them with vessels as holes.
RT_ORGANS = (1, 5, 6, 32, 87)


@pytest.fixture(scope="module")
def dciodvfy() -> str:
    return installed_tool("dciodvfy")


@pytest.fixture(scope="module")
def ct_with_uids(data_dir, tmp_path_factory) -> Path:
    """The JPEG 2000 CT series with its UIDs back: study and series new (fixed), each instance's from its file meta."""
    folder = tmp_path_factory.mktemp("ct-with-uids")
    study, series = (generate_uid(entropy_srcs=["radlab test", name]) for name in ("study", "series"))
    for path in sorted((data_dir / DICOM_CT).iterdir()):
        dataset = pydicom.dcmread(path)
        dataset.StudyInstanceUID, dataset.SeriesInstanceUID = study, series
        dataset.SOPClassUID = dataset.file_meta.MediaStorageSOPClassUID
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID
        dataset.save_as(folder / path.name)
    return folder


@pytest.fixture(scope="module")
def ct_grid(ct_with_uids) -> Grid:
    return reference_grid(ct_with_uids)


@pytest.fixture(scope="module")
def organs(data_dir, ct_grid) -> Segmentation:
    """The 32-label map on the DICOM series' grid."""
    labels, _ = read_labelmap((data_dir / DICOM_LABELS).read_bytes(), "example_seg_dicom.nii.gz", ct_grid)
    return labels


@pytest.fixture(scope="module")
def organs_seg(organs, ct_grid) -> bytes:
    return write_seg(organs, ct_grid.instances)


@pytest.fixture(scope="module")
def few_organs_rtstruct(organs, ct_grid) -> tuple[Segmentation, bytes]:
    chosen = {value: organs.segments[value] for value in RT_ORGANS}
    chosen[200] = Segment(200, "drawn nowhere")  # a class with no voxels: an ROI without contours
    few = Segmentation(organs.shape, organs.affine, chosen, {value: organs.masks[value] for value in RT_ORGANS},
                       organs.frame_of_reference_uid)
    return few, write_rtstruct(few, ct_grid.instances)


def dciodvfy_errors(dciodvfy: str, data: bytes, path: Path) -> list[str]:
    path.write_bytes(data)
    report = subprocess.run([dciodvfy, str(path)], capture_output=True, text=True, timeout=120)
    return [line for line in (report.stdout + report.stderr).splitlines() if line.startswith("Error")]


def nifti_grid(path: Path) -> Grid:
    data, affine = from_nifti(path)
    return Grid(data.shape, affine)


def test_the_reference_grid_is_the_volume_ingestion_stacks_and_an_uneven_series_is_refused(data_dir, ct_with_uids,
                                                                                           ct_grid):
    series, _ = group_image_series([pydicom.dcmread(path) for path in sorted(ct_with_uids.iterdir())])
    volume = build_volume(series[0])
    assert ct_grid.shape == volume.shape and np.allclose(ct_grid.affine, volume.affine, rtol=0, atol=1e-6)
    assert [k for k, instance in enumerate(ct_grid.instances) if instance.ImagePositionPatient[2] != -804.5 + 2 * k] == []
    with pytest.raises(InvalidArgument, match=r"GE: .*tilt 18\.50°.*slice gaps along the normal vary from 1\.081 to 6\.999 mm"):
        reference_grid(data_dir / "dcm_qa_ct/In/GE")


@pytest.mark.parametrize("label, scan", [
    (SPLEEN, SPLEEN_CT),
    (f"{TOTALSEG}/example_seg.nii.gz", f"{TOTALSEG}/example_ct_sm.nii.gz"),
    (f"{TOTALSEG}/example_seg_mr.nii.gz", f"{TOTALSEG}/example_mr_sm.nii.gz"),
])
def test_a_label_map_on_its_scans_grid_comes_back_voxel_for_voxel(data_dir, label, scan):
    expected, expected_affine = from_nifti(data_dir / label)
    labels, warnings = read_labelmap((data_dir / label).read_bytes(), Path(label).name, nifti_grid(data_dir / scan))
    assert warnings == []
    assert sorted(labels.masks) == [int(v) for v in np.unique(expected) if v]
    written, affine = from_nifti_bytes(write_labelmap(labels))
    assert written.dtype == np.uint8 and np.array_equal(written, expected)
    assert np.allclose(affine, expected_affine, rtol=0, atol=1e-3)


def test_the_32_label_map_lands_on_the_dicom_series_grid_and_is_written_there(data_dir, ct_grid, organs):
    """The file stores rows bottom-up (RAS-style); every item voxel takes the file voxel at the same point in space."""
    image = nib.load(data_dir / DICOM_LABELS)
    _, warnings = read_labelmap((data_dir / DICOM_LABELS).read_bytes(), "example_seg_dicom.nii.gz", ct_grid)
    assert len(warnings) == 1 and "reordered" in warnings[0] and "without resampling" in warnings[0]
    k, j, i = np.indices(ct_grid.shape).reshape(3, -1)
    ras = LPS_TO_RAS @ ct_grid.affine @ np.stack([i, j, k, np.ones_like(i)])
    x, y, z = np.rint(np.linalg.inv(image.affine) @ ras)[:3].astype(int)
    expected = np.asanyarray(image.dataobj)[x, y, z].reshape(ct_grid.shape)
    assert np.array_equal(organs.labelmap(np.uint8), expected)
    assert len(organs.masks) == 31

    exported = nib.Nifti1Image.from_bytes(gzip.decompress(write_labelmap(organs)))
    assert np.allclose(exported.affine, LPS_TO_RAS @ ct_grid.affine, rtol=0, atol=1e-3)
    assert np.array_equal(np.asanyarray(exported.dataobj).transpose(2, 1, 0), expected)
    again, warnings = read_labelmap(write_labelmap(organs), "export.nii.gz", ct_grid)
    assert warnings == [] and np.array_equal(again.labelmap(np.uint8), expected)


def test_a_label_map_in_another_axis_order_imports_to_the_same_voxels(data_dir, tmp_path):
    grid = nifti_grid(data_dir / SPLEEN_CT)
    original, _ = read_labelmap((data_dir / SPLEEN).read_bytes(), "spleen.nii.gz", grid)
    image = nib.load(data_dir / SPLEEN)
    turned = image.as_reoriented(nib.orientations.ornt_transform(nib.orientations.io_orientation(image.affine),
                                                                 nib.orientations.axcodes2ornt("PSL")))
    assert turned.shape == (166, 26, 164)  # axes swapped and reversed, not resampled
    nib.save(turned, tmp_path / "turned.nii.gz")
    labels, warnings = read_labelmap((tmp_path / "turned.nii.gz").read_bytes(), "turned.nii.gz", grid)
    assert np.array_equal(labels.masks[1], original.masks[1]) and original.masks[1].sum() > 10_000
    assert len(warnings) == 1 and "reordered" in warnings[0]

    crop = nib.Nifti1Image(np.asanyarray(image.dataobj)[20:150, 30:140, 5:20],  # i, j, k
                           image.affine @ np.array([[1, 0, 0, 20], [0, 1, 0, 30], [0, 0, 1, 5], [0, 0, 0, 1.0]]))
    nib.save(crop, tmp_path / "crop.nii.gz")
    labels, warnings = read_labelmap((tmp_path / "crop.nii.gz").read_bytes(), "crop.nii.gz", grid)
    expected = np.zeros_like(original.masks[1])
    expected[5:20, 30:140, 20:150] = original.masks[1][5:20, 30:140, 20:150]
    assert np.array_equal(labels.masks[1], expected)
    assert len(warnings) == 1 and "placed voxel for voxel, without resampling" in warnings[0]


def test_a_coarser_label_map_is_resampled_and_said_so(data_dir, tmp_path):
    grid = nifti_grid(data_dir / SPLEEN_CT)
    image = nib.load(data_dir / SPLEEN)
    coarse = nib.Nifti1Image(np.asanyarray(image.dataobj)[::2, ::2, :], image.affine @ np.diag([2.0, 2.0, 1.0, 1.0]))
    nib.save(coarse, tmp_path / "coarse.nii.gz")
    labels, warnings = read_labelmap((tmp_path / "coarse.nii.gz").read_bytes(), "coarse.nii.gz", grid)
    assert len(warnings) == 1 and "resampled from 1.59×1.59×5 mm onto the item's grid of 0.7949×0.7949×5 mm" in warnings[0]
    original, _ = from_nifti(data_dir / SPLEEN)
    assert dice(labels.masks[1], original == 1) > 0.95


def test_label_maps_that_cannot_fit_are_refused_saying_what_differs(data_dir, tmp_path):
    grid = nifti_grid(data_dir / SPLEEN_CT)
    image = nib.load(data_dir / SPLEEN)
    data = np.asanyarray(image.dataobj)
    elsewhere = np.eye(4)
    elsewhere[0, 3] = 1000.0
    cases = {
        "far.nii.gz": (nib.Nifti1Image(data, elsewhere @ image.affine), r"far\.nii\.gz does not overlap the item.*"
                       r"they differ in first voxel\).*first voxel at \(-593\.79, 406\.21, 0\.00\) mm.*"
                       r"first voxel at \(406\.21, 406\.21, 0\.00\) mm"),
        "centimetres.nii.gz": (nib.Nifti1Image(data, image.affine @ np.diag([0.1, 0.1, 0.1, 1.0])),
                               r"centimetres\.nii\.gz: its voxels of 0\.07949×0\.07949×0\.5 mm are too far"),
        "fractions.nii.gz": (nib.Nifti1Image(data * np.float32(0.5), image.affine), r"not whole numbers \(e\.g\. 0\.5\)"),
        "negative.nii.gz": (nib.Nifti1Image(-data.astype(np.int16), image.affine), r"negative values \(down to -1\)"),
    }
    for name, (bad, message) in cases.items():
        nib.save(bad, tmp_path / name)
        with pytest.raises(InvalidArgument, match=message):
            read_labelmap((tmp_path / name).read_bytes(), name, grid)


def test_a_dicom_seg_of_the_32_label_map_references_its_sources_and_reads_back_the_same(organs, organs_seg, ct_grid,
                                                                                            dciodvfy, tmp_path):
    document = hd.seg.segread(BytesIO(organs_seg))
    uids = [str(instance.SOPInstanceUID) for instance in ct_grid.instances]
    assert {str(uid) for _, _, uid in document.get_source_image_uids()} == set(uids)
    assert document.ReferencedSeriesSequence[0].SeriesInstanceUID == ct_grid.instances[0].SeriesInstanceUID
    values = sorted(organs.segments)
    assert document.segment_numbers == list(range(1, len(values) + 1))
    for number, value in enumerate(values, 1):
        description = document.get_segment_description(number)
        assert description.segment_label == organs.segments[value].name
        assert description.segmented_property_category.value == "123037004"  # Anatomical Structure
        assert description.segmented_property_type.value == "85756007"  # Tissue
        pixels = document.get_pixels_by_source_instance(uids, segment_numbers=[number], assert_missing_frames_are_empty=True)
        assert np.array_equal(pixels[..., 0] > 0, organs.masks[value]), f"segment {number} (label {value})"
    with_content = sum(int(mask.any(axis=(1, 2)).sum()) for mask in organs.masks.values())
    assert document.NumberOfFrames == with_content  # empty frames left out
    assert dciodvfy_errors(dciodvfy, organs_seg, tmp_path / "organs-seg.dcm") == []

    by_instance, warnings = read_seg(organs_seg, "organs.dcm", ct_grid)
    by_position, _ = read_seg(organs_seg, "organs.dcm", Grid(ct_grid.shape, ct_grid.affine, ct_grid.frame_of_reference_uid))
    assert warnings == []
    for number, value in enumerate(values, 1):
        assert np.array_equal(by_instance.masks[number], organs.masks[value])
        assert np.array_equal(by_position.masks[number], organs.masks[value])


def test_a_labelmap_seg_keeps_the_label_values(organs, ct_grid):
    labels, _ = read_seg(write_seg(organs, ct_grid.instances, labelmap=True), "labelmap.dcm", ct_grid)
    assert sorted(labels.masks) == sorted(organs.masks)
    assert np.array_equal(labels.labelmap(np.uint8), organs.labelmap(np.uint8))


@pytest.mark.parametrize("name, segments", [("liver.dcm", 1), ("partial_overlaps.dcm", 5)])
def test_dcmqi_segs_import_as_highdicom_reads_their_frames(data_dir, name, segments):
    grid = reference_grid(data_dir / DCMQI / "ct-3slice")
    data = (data_dir / DCMQI / name).read_bytes()
    labels, warnings = read_seg(data, name, grid)
    assert warnings == [] and len(labels.segments) == segments
    document = hd.seg.segread(BytesIO(data))
    slice_of = {str(instance.SOPInstanceUID): k for k, instance in enumerate(grid.instances)}
    frames = document.pixel_array.reshape(-1, *grid.shape[1:])
    seen = np.zeros((segments + 1, grid.shape[0]), dtype=bool)
    for index, item in enumerate(document.PerFrameFunctionalGroupsSequence):
        number = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        source = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        k = slice_of[str(source)]
        assert np.array_equal(labels.masks[number][k], frames[index] > 0), f"segment {number}, frame {index + 1}"
        seen[number, k] = True
    for number in labels.masks:  # slices no frame names are empty
        assert not labels.masks[number][~seen[number]].any()
    for number in labels.segments:
        description = document.get_segment_description(number)
        assert labels.segments[number].name == description.segment_label
        assert labels.segments[number].type.meaning == description.segmented_property_type.meaning
        assert labels.segments[number].algorithm_type == description.algorithm_type.value
    positioned, _ = read_seg(data, name, Grid(grid.shape, grid.affine, grid.frame_of_reference_uid))
    assert all(np.array_equal(positioned.masks[n], labels.masks[n]) for n in labels.masks)
    if name == "partial_overlaps.dcm":
        assert labels.overlapping()
    else:
        assert labels.segments[1].type.meaning == "Liver" and labels.masks[1].sum() > 10_000


def test_a_seg_of_another_series_is_refused_naming_what_it_references(data_dir, ct_grid):
    with pytest.raises(InvalidArgument, match=r"liver\.dcm labels instances 1\.2\.392\.200103\.20080913\.113635\.2\..*none of"):
        read_seg((data_dir / DCMQI / "liver.dcm").read_bytes(), "liver.dcm", ct_grid)


def test_the_rt_utils_structure_set_fills_its_outline_less_the_hole(data_dir):
    grid = reference_grid(data_dir / RT_UTILS)
    assert grid.shape == (2, 512, 512)
    labels, warnings = read_rtstruct((data_dir / RT_UTILS / "rt.dcm").read_bytes(), "rt.dcm", grid)
    assert [segment.name for segment in labels.segments.values()] == ["ROI-1"]
    # The file names a frame of reference its CT does not have, yet references the CT's images by UID.
    assert len(warnings) == 1 and "references the item's own images" in warnings[0]
    dataset = pydicom.dcmread(data_dir / RT_UTILS / "rt.dcm")
    outer, inner = (np.asarray(c.ContourData, float).reshape(-1, 3) for c in dataset.ROIContourSequence[0].ContourSequence)

    def area(points):
        x, y = points[:, 0], points[:, 1]
        return abs(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)) / 2

    pixel = float(np.prod(grid.instances[0].PixelSpacing))
    mask = labels.masks[1]
    assert mask[1].sum() == 0 and abs(mask[0].sum() * pixel - (area(outer) - area(inner))) < 0.05 * (area(outer) - area(inner))
    (ring_i, ring_j, _), (hole_i, hole_j, _) = np.rint(grid.voxels([[-49.0, -49.0, 60.0], [-39.5, -39.5, 60.0]])).astype(int)
    assert mask[0, ring_j, ring_i] and not mask[0, hole_j, hole_i]


def test_an_rtstruct_export_reimports_passes_dciodvfy_and_plastimatch_agrees(few_organs_rtstruct, ct_grid, ct_with_uids,
                                                                             dciodvfy, tmp_path):
    few, data = few_organs_rtstruct
    labels, warnings = read_rtstruct(data, "organs.rtstruct.dcm", ct_grid)
    assert warnings == ["organs.rtstruct.dcm: ROI 'drawn nowhere' has no closed contours; it is left out"]
    for value in RT_ORGANS:
        assert dice(labels.masks[value], few.masks[value]) >= 0.99, value
    assert dciodvfy_errors(dciodvfy, data, tmp_path / "organs.rtstruct.dcm") == []

    plastimatch = installed_tool("plastimatch")
    (tmp_path / "rt.dcm").write_bytes(data)
    to_nifti(SimpleNamespace(data=np.zeros(ct_grid.shape, np.int16), affine=ct_grid.affine), tmp_path / "grid.nii.gz")
    run = subprocess.run([plastimatch, "convert", "--input", str(tmp_path / "rt.dcm"), "--referenced-ct", str(ct_with_uids),
                          "--fixed", str(tmp_path / "grid.nii.gz"), "--output-labelmap", str(tmp_path / "labels.nii.gz"),
                          "--output-ss-list", str(tmp_path / "labels.txt")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    rasterised, affine = from_nifti(tmp_path / "labels.nii.gz")
    assert np.allclose(affine, ct_grid.affine, rtol=0, atol=1e-3)
    listed = [line.split("|") for line in (tmp_path / "labels.txt").read_text().splitlines() if line]
    by_name = {name: int(index) + 1 for index, _, name in listed}  # its label map numbers structures from 1
    for value in RT_ORGANS:
        agreement = dice(rasterised == by_name[few.segments[value].name], few.masks[value])
        assert agreement >= 0.99, f"plastimatch's {few.segments[value].name}: Dice {agreement:.4f}"


def test_an_rtstruct_on_another_frame_of_reference_is_refused(few_organs_rtstruct, ct_grid):
    _, data = few_organs_rtstruct
    elsewhere = Grid(ct_grid.shape, ct_grid.affine, "1.2.826.0.1.3680043.10.1.99")
    with pytest.raises(InvalidArgument, match=rf"on frame of reference {re.escape(ct_grid.frame_of_reference_uid)}, "
                                              r"the item on 1\.2\.826\.0\.1\.3680043\.10\.1\.99"):
        read_rtstruct(data, "organs.rtstruct.dcm", elsewhere)


def test_convert_goes_nifti_to_seg_and_back_exactly(data_dir, ct_grid, organs, tmp_path):
    classes = {str(value): {"name": f"organ {value}", "type": [str(10_000 + value), "99RADLAB", f"organ {value}"]}
               for value in sorted(organs.segments)}
    classes["5"]["category"] = ["123037004", "SCT", "Anatomical Structure"]
    (tmp_path / "classes.json").write_text(json.dumps(classes))
    source = data_dir / DICOM_LABELS
    warnings = convert_labels(source, tmp_path / "organs.dcm", ct_grid, tmp_path / "classes.json")
    assert any("segment numbers 1–31" in warning for warning in warnings)
    number = sorted(organs.segments).index(5) + 1
    assert hd.seg.segread(tmp_path / "organs.dcm").get_segment_description(number).segment_label == "organ 5"
    convert_labels(tmp_path / "organs.dcm", tmp_path / "back.nii.gz", ct_grid, tmp_path / "classes.json")
    back, affine = from_nifti(tmp_path / "back.nii.gz")
    assert np.array_equal(back, organs.labelmap(np.uint8)) and np.allclose(affine, organs.affine, rtol=0, atol=1e-3)


def test_convert_refuses_bad_input_and_leaves_nothing_behind(data_dir, ct_grid, tmp_path):
    source = data_dir / DICOM_LABELS
    (tmp_path / "broken.json").write_text('{"1": {"colour": "red"}}')
    refusals = [
        ((source, tmp_path / "out.txt", ct_grid, None), r"name the output \.nii\.gz"),
        ((source, tmp_path / "out.dcm", None, None), r"writing DICOM-SEG needs --reference DICOM_DIR"),
        ((source, tmp_path / "out.dcm", ct_grid, tmp_path / "broken.json"), r'give each label a "name"'),
        ((data_dir / RT_UTILS / "rt.dcm", tmp_path / "out.nii.gz", None, None), r"RTSTRUCT.*give --reference"),
        ((data_dir / DCMQI / "ct-3slice" / "01.dcm", tmp_path / "out.nii.gz", None, None), r"modality CT"),
        ((source, tmp_path / "out.dcm", reference_grid(data_dir / RT_UTILS), None), r"does not overlap the item"),
    ]
    for arguments, message in refusals:
        with pytest.raises(InvalidArgument, match=message):
            convert_labels(*arguments)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["broken.json"]
