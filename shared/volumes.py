"""NIfTI import and export of volumes: the one place LPS [k, j, i] meets RAS (i, j, k), both ways."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Protocol

import nibabel as nib
import numpy as np

from shared.errors import InvalidArgument
from shared.nifti import header_format

# LPS → RAS and back: negate x and y. Its own inverse.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


class VolumeLike(Protocol):
    """Anything with `data` indexed [k, j, i] and `affine` from (i, j, k, 1) to LPS mm (the Geometry convention)."""

    data: np.ndarray
    affine: np.ndarray


def to_nifti(volume: VolumeLike, path: str | Path) -> Path:
    """Write `volume` as NIfTI-1 (.nii or .nii.gz): data transposed to (i, j, k), affine LPS → RAS, exact values."""
    data = np.asarray(volume.data)
    if data.ndim != 3:
        raise ValueError(f"a volume is 3D [k, j, i]; got shape {data.shape}")
    ras = LPS_TO_RAS @ np.asarray(volume.affine, dtype=np.float64)
    image = nib.Nifti1Image(np.ascontiguousarray(data.transpose(2, 1, 0)), ras)
    image.header.set_data_dtype(data.dtype)
    image.header.set_xyzt_units("mm", "sec")
    image.set_sform(ras, code=1)  # scanner anatomical: the affine is the scanner's patient coordinates
    image.set_qform(ras, code=1)  # nibabel stores the closest rigid + zooms form; a sheared sform stays exact
    image.header["scl_slope"], image.header["scl_inter"] = 1.0, 0.0  # values are stored as they are
    path = Path(path)
    nib.save(image, path)
    return path


def check_output(path: Path) -> None:
    """Refuse, before any work, an output path `to_nifti` cannot write: not named .nii or .nii.gz, or in no folder."""
    if not path.name.endswith((".nii", ".nii.gz")):
        raise InvalidArgument(f"{path}: name the output .nii or .nii.gz")
    if not path.parent.is_dir():
        raise InvalidArgument(f"{path.parent} is not a folder; create it first")


def from_nifti(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a NIfTI file as (data [k, j, i], affine (i, j, k, 1) → LPS mm); the inverse of `to_nifti`.

    Values are as the file means them (its scl_slope/scl_inter applied when set); only 3D images.
    """
    return _volume(nib.load(str(path)), str(path))


def from_nifti_bytes(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """`from_nifti` of a single-file NIfTI-1 or -2 (.nii, or gzipped .nii.gz) held in memory, with no file written."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except zlib.error as error:
            raise ValueError(f"its gzip stream is damaged ({error})") from None
    found = header_format(data[:540])
    if found is None:
        raise ValueError("not a NIfTI-1 or NIfTI-2 file")
    image_type = nib.Nifti1Image if found[0] == 348 else nib.Nifti2Image
    return _volume(image_type.from_bytes(data), "the NIfTI file")


def _volume(image, name: str) -> tuple[np.ndarray, np.ndarray]:
    data = np.asanyarray(image.dataobj)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise ValueError(f"{name}: a volume is 3D; this image has shape {data.shape}")
    return np.ascontiguousarray(data.transpose(2, 1, 0)), LPS_TO_RAS @ image.affine
