"""Series → volume against dcm2niix on real scans, plus tilt, gaps, missing slices and mixed folders."""

from __future__ import annotations

import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from radlab.cli import main
from services.ingestion.domain.series import (
    Volume,
    VolumeRefused,
    analyse,
    build_volume,
    build_volumes,
    group_series,
    parse_instance,
)
from shared.volumes import from_nifti, to_nifti
from tests.conftest import REPO

MR = "dcm_qa_deident/In"
CT_J2K = "totalsegmentator/tests/reference_files/example_ct_dicom"
CT_TILT = "dcm_qa_ct/In/GE"


def read_folder(folder: Path) -> list:
    datasets = [parse_instance(path.read_bytes()) for path in sorted(folder.iterdir()) if path.is_file()]
    return [dataset for dataset in datasets if dataset is not None]


@pytest.fixture(scope="session")
def dcm2niix() -> str:
    """dcm2niix's path, installed through scripts/tools.sh when missing; failing to get it fails the test."""
    found = subprocess.run([str(REPO / "scripts" / "tools.sh"), "dcm2niix"], capture_output=True, text=True, timeout=600)
    if found.returncode != 0:
        pytest.fail(f"scripts/tools.sh dcm2niix could not provide dcm2niix:\n{found.stderr[-3000:]}")
    return found.stdout.strip().splitlines()[-1]


def reference(dcm2niix: str, source: Path, out: Path) -> nib.Nifti1Image:
    """dcm2niix's single NIfTI for `source` (read only), written under `out`."""
    out.mkdir()
    done = subprocess.run(
        [dcm2niix, "-z", "n", "-b", "n", "-f", "ref", "-o", str(out), str(source)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    written = sorted(out.glob("*.nii"))
    assert [path.name for path in written] == ["ref.nii"], done.stdout
    return nib.load(written[0])


@pytest.mark.parametrize("folder", [MR, CT_J2K])
def test_volume_equals_dcm2niix(folder, data_dir, dcm2niix, tmp_path):
    """Same voxels, affine within 1e-3 mm; both NIfTIs reoriented by nibabel to the closest RAS+ axes first."""
    volumes = build_volumes(read_folder(data_dir / folder))
    assert len(volumes) == 1 and isinstance(volumes[0], Volume) and volumes[0].issues == []
    ours = nib.load(to_nifti(volumes[0], tmp_path / "ours.nii.gz"))
    theirs = reference(dcm2niix, data_dir / folder, tmp_path / "dcm2niix")
    ours, theirs = nib.as_closest_canonical(ours), nib.as_closest_canonical(theirs)
    assert ours.shape == theirs.shape
    assert np.array_equal(ours.get_fdata(), theirs.get_fdata())
    assert np.abs(ours.affine - theirs.affine).max() < 1e-3


def test_mr_geometry_in_lps(data_dir):
    """The 196-slice sagittal MR: [k, j, i] shape, spacing from positions (1.2 mm, as its SliceThickness says here)."""
    (volume,) = build_volumes(read_folder(data_dir / MR))
    assert volume.shape == (196, 256, 256)
    assert np.allclose(volume.spacing, (1.0547, 1.0547, 1.2), atol=1e-4)
    assert np.allclose(volume.affine[:3, 0] / volume.spacing[0], (0, 1, 0))  # i runs along rows: anterior → posterior
    assert np.allclose(volume.affine[:3, 1] / volume.spacing[1], (0, 0, -1))  # j runs down the columns: superior → inferior


def test_ct_rescale_and_spacing_from_positions(data_dir):
    """The JPEG 2000 CT: intercept −1024 applied exactly (int16), spacing 2 mm from positions though SliceThickness says 3."""
    datasets = read_folder(data_dir / CT_J2K)
    assert float(datasets[0].SliceThickness) == 3.0
    (volume,) = build_volumes(datasets)
    assert volume.data.dtype == np.int16
    assert volume.data.min() == -1024
    assert volume.spacing[2] == pytest.approx(2.0, abs=1e-6)


def test_nifti_round_trip_is_exact(data_dir, tmp_path):
    (volume,) = build_volumes(read_folder(data_dir / CT_J2K))
    data, affine = from_nifti(to_nifti(volume, tmp_path / "ct.nii.gz"))
    assert data.dtype == volume.data.dtype and np.array_equal(data, volume.data)
    assert np.allclose(affine, volume.affine, atol=1e-4)  # NIfTI stores the affine as float32


def test_tilted_ct_is_detected_and_refused(data_dir):
    """The GE head CT: tilt ≈ 18.5° and uneven gaps are reported with numbers, and it is not stacked as is."""
    (series,) = group_series(read_folder(data_dir / CT_TILT))
    issues = {issue.kind: issue for issue in analyse(series).issues}
    assert set(issues) == {"gantry_tilt", "uneven_spacing"}
    assert issues["gantry_tilt"].values["angle_deg"] == pytest.approx(18.5, abs=0.05)
    assert issues["gantry_tilt"].values["declared_deg"] == pytest.approx(18.5)
    assert issues["uneven_spacing"].values["between_positions_mm"] == [1.14, 4.22, 7.38]
    with pytest.raises(VolumeRefused, match="tilt 18.50°"):
        build_volume(series)


def test_missing_slice_is_reported(data_dir):
    """Drop one slice of the CT: one missing slice on the 2 mm grid, after sorted slice 10, refused."""
    datasets = read_folder(data_dir / CT_J2K)
    (series,) = group_series(datasets)
    dropped = analyse(series).frames[10].dataset
    (holed,) = group_series([dataset for dataset in datasets if dataset is not dropped])
    issues = analyse(holed).issues
    assert [issue.kind for issue in issues] == ["missing_slices"]
    assert issues[0].values == {"count": 1, "spacing_mm": pytest.approx(2.0, abs=1e-3), "after_slices": [9]}
    with pytest.raises(VolumeRefused, match="1 slice"):
        build_volume(holed)


def test_series_mixing_echoes_is_split(data_dir):
    """Two echoes at the same positions in one DICOM series make two volumes, never one interleaved stack."""
    first, second = read_folder(data_dir / CT_J2K), read_folder(data_dir / CT_J2K)
    for dataset in second:
        dataset.EchoNumbers = 2
    volumes = build_volumes(first + second)
    assert [type(volume) for volume in volumes] == [Volume, Volume]
    assert sorted(volume.series.split.get("echo") for volume in volumes) == ["", "2"]
    assert all(volume.shape == (20, 512, 512) for volume in volumes)


def test_cli_splits_a_mixed_folder(data_dir, tmp_path, capsys):
    """MR and CT files in one folder: two volumes, the larger (MR) in OUT, the other in OUT_2."""
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for folder in (MR, CT_J2K):
        for path in (data_dir / folder).iterdir():
            (mixed / f"{folder.split('/')[0]}_{path.name}").symlink_to(path)
    (mixed / "notes.txt").write_text("not DICOM")
    assert main(["volume", str(mixed), str(tmp_path / "out.nii.gz")]) == 0
    printed = capsys.readouterr().out
    assert "216 DICOM image(s) among 217 file(s)" in printed
    assert nib.load(tmp_path / "out.nii.gz").shape == (256, 256, 196)
    assert nib.load(tmp_path / "out_2.nii.gz").shape == (512, 512, 20)


def test_cli_reports_tilt_and_fails(data_dir, tmp_path, capsys):
    assert main(["volume", str(data_dir / CT_TILT), str(tmp_path / "ge.nii.gz")]) == 1
    printed = capsys.readouterr().out
    assert "gantry_tilt" in printed and "uneven_spacing" in printed and "not written" in printed
    assert not (tmp_path / "ge.nii.gz").exists()
