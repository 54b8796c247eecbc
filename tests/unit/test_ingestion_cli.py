"""`radlab volume` offline (services.ingestion.cli): real folders in, NIfTI out, built as the service builds them."""

from __future__ import annotations

import nibabel as nib
import pytest

from services.ingestion.cli import volumes_from_folder
from shared.errors import InvalidArgument

MR = "dcm_qa_deident/In"
CT_J2K = "totalsegmentator/tests/reference_files/example_ct_dicom"
CT_TILT = "dcm_qa_ct/In/GE"


def test_a_mixed_folder_is_split(data_dir, tmp_path, capsys):
    """MR and CT files in one folder: two volumes, the larger (MR) in OUT, the other in OUT_2."""
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for folder in (MR, CT_J2K):
        for path in (data_dir / folder).iterdir():
            (mixed / f"{folder.split('/')[0]}_{path.name}").symlink_to(path)
    (mixed / "notes.txt").write_text("not DICOM")
    assert volumes_from_folder(mixed, tmp_path / "out.nii.gz") == 0
    printed = capsys.readouterr().out
    assert "216 DICOM image(s) among 217 file(s)" in printed
    assert nib.load(tmp_path / "out.nii.gz").shape == (256, 256, 196)
    assert nib.load(tmp_path / "out_2.nii.gz").shape == (512, 512, 20)


def test_a_missing_folder_no_dicom_and_a_bad_output_are_refused_in_one_line(data_dir, tmp_path):
    """Each user error is one line naming what to do, and nothing is written."""
    (tmp_path / "notes.txt").write_text("not DICOM")
    cases = [
        (tmp_path / "nowhere", tmp_path / "out.nii.gz", "is not a folder"),
        (tmp_path / "notes.txt", tmp_path / "out.nii.gz", "is not a folder"),
        (tmp_path, tmp_path / "out.nii.gz", "no DICOM images in"),
        (data_dir / CT_TILT, tmp_path / "out.txt", "name the output .nii or .nii.gz"),
        (data_dir / CT_TILT, tmp_path / "missing" / "out.nii.gz", "create it first"),
    ]
    for source, output, expected in cases:
        with pytest.raises(InvalidArgument, match=expected) as refused:
            volumes_from_folder(source, output)
        assert "\n" not in str(refused.value)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt"]


def test_segmentations_are_left_out_as_ingestion_does(data_dir, tmp_path, capsys):
    """dcmqi's folder: a 3-slice CT and two DICOM-SEG objects of it; only the CT becomes a volume, in OUT itself."""
    assert volumes_from_folder(data_dir / "dcmqi/data/segmentations", tmp_path / "out.nii.gz") == 0
    printed = capsys.readouterr().out
    assert "3 DICOM image(s) among 5 file(s)" in printed and "(2 segmentation(s) left out)" in printed
    assert [path.name for path in tmp_path.iterdir()] == ["out.nii.gz"]
    assert nib.load(tmp_path / "out.nii.gz").shape == (512, 512, 3)


def test_tilt_is_reported_and_the_resampled_volume_written(data_dir, tmp_path, capsys):
    assert volumes_from_folder(data_dir / CT_TILT, tmp_path / "ge.nii.gz") == 0
    printed = capsys.readouterr().out
    assert "gantry_tilt" in printed and "uneven_spacing" in printed and "issue resampled" in printed
    assert nib.load(tmp_path / "ge.nii.gz").shape == (512, 611, 56)


def test_repeated_positions_are_reported_and_not_written(data_dir, tmp_path, capsys):
    """A CT slice copied under another name repeats a position: the series is reported, nothing written, exit 1."""
    folder = tmp_path / "ct"
    folder.mkdir()
    paths = sorted((data_dir / CT_J2K).iterdir())
    for path in paths:
        (folder / path.name).symlink_to(path)
    (folder / "copy.dcm").symlink_to(paths[5])
    assert volumes_from_folder(folder, tmp_path / "out.nii.gz") == 1
    printed = capsys.readouterr().out
    assert "issue duplicate_positions: 1 slice(s) repeat another slice's position" in printed
    assert "  not written: no single regular grid describes these slices" in printed
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ct"]


def test_a_corrupt_file_beside_a_good_series_leaves_the_series_written(data_dir, tmp_path, capsys):
    """Beside the CT: an MR slice cut short in its pixel data (its series is refused with the reason) and one cut short
    in its header (not read, named): the CT is still written to OUT, both are reported, and the exit code is 1."""
    folder = tmp_path / "scan"
    folder.mkdir()
    for path in (data_dir / CT_J2K).iterdir():
        (folder / path.name).symlink_to(path)
    mr = sorted((data_dir / MR).iterdir())[0].read_bytes()
    (folder / "cut-in-pixels.dcm").write_bytes(mr[:-200])
    (folder / "cut-in-header.dcm").write_bytes(mr[:1000])
    assert volumes_from_folder(folder, tmp_path / "out.nii.gz") == 1
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f"21 DICOM image(s) among 22 file(s) in {folder}"
    assert printed[1].startswith(f"  not read: {folder / 'cut-in-header.dcm'} (")
    assert printed[2] == "series 1: CT, series None, 'CT Body 3.0', 20 slice(s)"
    assert printed[3].startswith(f"  wrote {tmp_path / 'out.nii.gz'}: 512 × 512 × 20 (i × j × k) voxels")
    assert printed[4] == "series 2: MR, series 10, 'Accelerated SAG IR-SPGR', 1 slice(s)"
    assert printed[5].startswith("  not written: MR, series 10, 'Accelerated SAG IR-SPGR': the pixel data could not be decoded")
    assert len(printed) == 6
    assert nib.load(tmp_path / "out.nii.gz").shape == (512, 512, 20)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.nii.gz", "scan"]
