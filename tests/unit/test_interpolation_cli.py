"""`radlab interpolate` on the MSD spleen CT and its manual mask: key slices in, filled NIfTI out, bad input refused."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from radlab.cli import main
from shared.agreement import dice
from shared.volumes import from_nifti

KEYS = (3, 6, 9, 12, 15, 18, 21, 22)  # k = 3 over the labelled slices 3..22, plus the last one
HELD_OUT = [s for s in range(KEYS[0] + 1, KEYS[-1]) if s not in KEYS]


@pytest.fixture(scope="module")
def spleen(data_dir):
    folder = data_dir / "ivadomed_spleen" / "ct_scan"
    return (folder / "derivatives" / "labels" / "sub-spleen2" / "ct" / "sub-spleen2_ct_seg-manual.nii.gz",
            folder / "sub-spleen2" / "ct" / "sub-spleen2_ct.nii.gz")


def run(*argv: str) -> int:
    return main(["interpolate", *map(str, argv)])


def test_the_spleen_at_k3_is_filled_image_guided_with_the_geometry_kept(spleen, tmp_path, capsys):
    """Every non-key slice between slices 3 and 22 filled (Dice > 0.95 against the manual mask), keys and header
    geometry unchanged; the automatic method chose the image-guided filler for the spleen and says why."""
    labels, image = spleen
    output = tmp_path / "filled.nii.gz"
    assert run(labels, output, "--key-slices", ",".join(map(str, KEYS)), "--image", image) == 0

    printed = capsys.readouterr().out
    assert f"label 1: filled {len(HELD_OUT)} slice(s): {', '.join(map(str, HELD_OUT))}" in printed
    assert "; image_guided: best on 6 inner key slice(s) predicted from their neighbours: image_guided 0.9" in printed
    assert "method automatic, " in printed and f"wrote {output}" in printed
    truth, affine = from_nifti(labels)
    result, result_affine = from_nifti(output)
    assert result.dtype == truth.dtype and np.array_equal(result_affine, affine)
    assert result[list(KEYS)].tobytes() == truth[list(KEYS)].tobytes()
    assert not result[:KEYS[0]].any() and not result[KEYS[-1] + 1:].any()
    assert dice(result[HELD_OUT] == 1, truth[HELD_OUT] == 1) > 0.95
    before, after = nib.load(str(labels)).header, nib.load(str(output)).header
    assert np.array_equal(before.get_best_affine(), after.get_best_affine())
    assert before.get_zooms() == after.get_zooms() and before.get_data_shape() == after.get_data_shape()


def test_only_key_slices_are_read_every_other_slice_counts_as_empty(spleen, tmp_path, capsys):
    """A non-key slice wiped or holding a stray label changes nothing: without an image the automatic method gives
    the same output."""
    labels, _image = spleen
    data = nib.load(str(labels))
    edited = np.asarray(data.dataobj).copy()  # file order (i, j, k)
    edited[..., 10] = 0
    edited[:5, :5, 13] = 2
    changed = tmp_path / "edited.nii.gz"
    nib.save(nib.Nifti1Image(edited, data.affine, data.header), changed)
    keys = ",".join(map(str, KEYS))
    assert run(labels, tmp_path / "a.nii.gz", "--key-slices", keys) == 0
    assert run(changed, tmp_path / "b.nii.gz", "--key-slices", keys) == 0

    assert "method automatic" in capsys.readouterr().out
    first, _ = from_nifti(tmp_path / "a.nii.gz")
    second, _ = from_nifti(tmp_path / "b.nii.gz")
    assert np.array_equal(first, second) and first[10].any() and set(np.unique(second)) == {0, 1}


def test_key_slices_along_another_file_axis(spleen, tmp_path, capsys):
    """--axis 0 numbers slices along the file's first axis (i): sagittal key slices, filled between them."""
    labels, _image = spleen
    truth, _ = from_nifti(labels)
    columns = np.nonzero(truth.any(axis=(0, 1)))[0]
    keys = list(range(int(columns[0]), int(columns[-1]) + 1, 4))
    assert run(labels, tmp_path / "out.nii", "--key-slices", ",".join(map(str, keys)), "--axis", 0, "--method", "shape") == 0

    result, _ = from_nifti(tmp_path / "out.nii")
    between = [i for i in range(keys[0] + 1, keys[-1]) if i not in keys]
    assert result[..., keys].tobytes() == truth[..., keys].tobytes()
    assert dice(result[..., between] == 1, truth[..., between] == 1) > 0.85
    assert "label 1: filled" in capsys.readouterr().out


@pytest.mark.parametrize("arguments,words", [
    (("--key-slices", "3,x"), "not a comma-separated list"),
    (("--key-slices", "3"), "at least two"),
    (("--key-slices", "3,60"), "axis 2 has slices 0 to 25"),
    (("--key-slices", "3,6", "--axis", "3"), "use 0, 1 or 2"),
    (("--key-slices", "3,6", "--method", "image"), "give it with --image"),
])
def test_bad_arguments_are_one_line_exit_2_and_nothing_written(spleen, tmp_path, capsys, arguments, words):
    labels, _image = spleen
    output = tmp_path / "out.nii.gz"
    assert run(labels, output, *arguments) == 2
    error = capsys.readouterr().err
    assert words in error and error.count("\n") == 1 and error.startswith("radlab: ")
    assert list(tmp_path.iterdir()) == []


def test_bad_files_are_refused_and_nothing_written(spleen, data_dir, tmp_path, capsys):
    """A missing file, an image on another grid, and a CT image given as the label map."""
    labels, image = spleen
    other = data_dir / "totalsegmentator" / "tests" / "reference_files" / "example_ct_sm.nii.gz"
    output = tmp_path / "out.nii.gz"
    cases = [
        ((tmp_path / "missing.nii.gz", output, "--key-slices", "3,6"), "no such file"),
        ((labels, output, "--key-slices", "3,6", "--image", other), "do not share one voxel grid"),
        ((image, output, "--key-slices", "3,6"), "negative values"),
        ((labels, tmp_path / "out.txt", "--key-slices", "3,6"), "name the output .nii or .nii.gz"),
    ]
    for arguments, words in cases:
        assert run(*arguments) == 2
        error = capsys.readouterr().err
        assert words in error and error.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("voxels,accepted", [(0.3, True), (0.8, False)])
def test_an_image_header_rounded_within_half_a_voxel_is_one_grid_with_a_warning(spleen, tmp_path, capsys, voxels, accepted):
    """The spleen CT saved again with its origin moved by a fraction of a voxel along i (as another program's
    rounding leaves it): 0.3 voxel is accepted with a warning naming the difference in mm, 0.8 is refused."""
    labels, image = spleen
    data = nib.load(str(image))
    affine = data.affine.copy()
    affine[:3, 3] += voxels * affine[:3, 0]
    moved = tmp_path / "moved.nii.gz"
    nib.save(nib.Nifti1Image(np.asarray(data.dataobj), affine, data.header), moved)
    output = tmp_path / "out.nii.gz"
    mm = voxels * float(np.linalg.norm(affine[:3, 0]))

    code = run(labels, output, "--key-slices", "3,6,9", "--image", moved)
    printed = capsys.readouterr()
    if accepted:
        assert code == 0 and output.is_file()
        assert (f"warning: the headers of moved.nii.gz and {labels.name} differ by up to {mm:.3f} mm at the grid's "
                f"corners ({voxels:.2f} voxel, within 0.5): taken as one grid") in printed.out
    else:
        assert code == 2 and not output.exists()
        assert f"do not share one voxel grid, corners up to {mm:.2f} mm ({voxels:.2f} voxel) apart" in printed.err
