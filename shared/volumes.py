"""NIfTI import and export of volumes: the one place LPS [k, j, i] meets RAS (i, j, k), both ways, within the voxel budget."""

from __future__ import annotations

import io
import math
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import nibabel as nib
import numpy as np
from nibabel.spatialimages import HeaderDataError

from shared.config import DEFAULT_VOLUME_MAX_VOXELS
from shared.errors import InvalidArgument
from shared.nifti import header_format

# LPS → RAS and back: negate x and y. Its own inverse.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
# The decoded bytes a volume may take are its voxel budget × this: a float32 volume at the budget fits, wider
# voxels (float64, 16-bit colour) get proportionally fewer, and a header or a multi-frame instance cannot make
# its decoder allocate more than the budget's array would take.
BYTES_PER_BUDGET_VOXEL = 4
_GZIP_MAGIC = b"\x1f\x8b"
_LARGEST_HEADER = 540  # NIfTI-2's; NIfTI-1's is 348


class VolumeTooLarge(ValueError):
    """A volume that would decode to more voxels or bytes than the budget allows; the message says how many."""


class VolumeLike(Protocol):
    """Anything with `data` indexed [k, j, i] (or [t, k, j, i]) and `affine` from (i, j, k, 1) to LPS mm (the Geometry
    convention)."""

    data: np.ndarray
    affine: np.ndarray


def to_nifti(volume: VolumeLike, path: str | Path) -> Path:
    """Write `volume` as NIfTI-1 (.nii or .nii.gz): data transposed to (i, j, k[, t]), affine LPS → RAS, exact values."""
    path = Path(path)
    nib.save(_nifti_image(volume), path)
    return path


def to_nifti_bytes(volume: VolumeLike) -> bytes:
    """`to_nifti` into memory: the bytes of a single-file, uncompressed NIfTI-1 (.nii)."""
    return _nifti_image(volume).to_bytes()


def _nifti_image(volume: VolumeLike) -> nib.Nifti1Image:
    data = np.asarray(volume.data)
    if data.ndim not in (3, 4):
        raise ValueError(f"a volume is 3D [k, j, i] or 4D [t, k, j, i]; got shape {data.shape}")
    ras = LPS_TO_RAS @ np.asarray(volume.affine, dtype=np.float64)
    image = nib.Nifti1Image(np.ascontiguousarray(data.transpose(*range(data.ndim)[::-1])), ras)
    image.header.set_data_dtype(data.dtype)
    image.header.set_xyzt_units("mm", "sec")
    image.set_sform(ras, code=1)  # scanner anatomical: the affine is the scanner's patient coordinates
    image.set_qform(ras, code=1)  # nibabel stores the closest rigid + zooms form; a sheared sform stays exact
    image.header["scl_slope"], image.header["scl_inter"] = 1.0, 0.0  # values are stored as they are
    return image


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


def from_nifti_bytes(data: bytes, max_voxels: int = DEFAULT_VOLUME_MAX_VOXELS) -> tuple[np.ndarray, np.ndarray]:
    """`from_nifti` of a single-file NIfTI-1 or -2 (.nii, or gzipped .nii.gz) held in memory, with no file written.

    The header is read first: an image that is not one 3D volume (ValueError) or is over the voxel budget
    (VolumeTooLarge) is refused before anything is decompressed, and no more is ever inflated than the header declares.
    """
    header = read_nifti_header(data)
    check_nifti(header, max_voxels)
    size = _data_end(header)
    # One byte more than declared lets an exact stream reach its end, where zlib checks the gzip CRC.
    whole = _gunzip(data, size + 1) if data[:2] == _GZIP_MAGIC else data
    if len(whole) < size:
        raise ValueError(f"it is truncated ({len(whole)} of the {size} bytes its header declares)")
    image_type = nib.Nifti2Image if isinstance(header, nib.Nifti2Header) else nib.Nifti1Image
    return _volume(image_type.from_bytes(whole), "the NIfTI file")


def read_nifti_header(data: bytes) -> nib.Nifti1Header:
    """The NIfTI-1 or -2 header (nibabel's) of a file whose bytes, or first bytes, are `data` (gzipped or not); only the
    header is inflated. ValueError if it holds none."""
    head = _gunzip(data, _LARGEST_HEADER) if data[:2] == _GZIP_MAGIC else data[:_LARGEST_HEADER]
    found = header_format(head)
    if found is None:
        raise ValueError("not a NIfTI-1 or NIfTI-2 file")
    header_type = nib.Nifti1Header if found[0] == 348 else nib.Nifti2Header
    return header_type.from_fileobj(io.BytesIO(head[:found[0]]), check=False)


def check_nifti(header: nib.Nifti1Header, max_voxels: int) -> None:
    """Refuse, from its header alone, a NIfTI image that is not one 3D volume (ValueError) or that would decode to more
    than the budget allows (VolumeTooLarge)."""
    try:
        shape, end = header.get_data_shape(), _data_end(header)
    except (HeaderDataError, KeyError, ValueError) as error:
        raise ValueError(f"its header cannot be read ({type(error).__name__})") from None
    _check_3d(shape)
    if min(shape) < 1 or header.get_data_offset() < 0:
        raise ValueError(f"its header is inconsistent (shape {shape}, data offset {header.get_data_offset()})")
    check_budget(shape, end, max_voxels)


def check_budget(shape: Sequence[int], decoded_bytes: int, max_voxels: int) -> None:
    """Refuse (VolumeTooLarge) a volume of `shape` whose reading decodes `decoded_bytes`, if either is over the budget."""
    voxels = math.prod(shape)
    if voxels > max_voxels:
        raise VolumeTooLarge(
            f"{'×'.join(map(str, shape))} is {voxels} voxels, over the budget of {max_voxels} per volume "
            "(RADLAB_VOLUME_MAX_VOXELS); crop, downsample or split it"
        )
    if decoded_bytes > max_voxels * BYTES_PER_BUDGET_VOXEL:
        raise VolumeTooLarge(
            f"reading it decodes {decoded_bytes} bytes, over the {max_voxels * BYTES_PER_BUDGET_VOXEL} that the budget of "
            f"{max_voxels} voxels per volume (RADLAB_VOLUME_MAX_VOXELS) allows; crop, downsample or split it"
        )


def _data_end(header: nib.Nifti1Header) -> int:
    """Where the header says the voxel data ends: its offset plus shape × bytes per voxel."""
    return int(header.get_data_offset()) + math.prod(header.get_data_shape()) * header.get_data_dtype().itemsize


def _gunzip(data: bytes, limit: int) -> bytes:
    """At most `limit` bytes of a gzip stream, across its members: never more, as a small file may inflate to gigabytes."""
    parts, inflated, rest = [], 0, data
    try:
        while rest[:2] == _GZIP_MAGIC and inflated < limit:
            inflater = zlib.decompressobj(wbits=31)
            parts.append(inflater.decompress(rest, limit - inflated))
            inflated += len(parts[-1])
            rest = inflater.unused_data if inflater.eof else b""
    except zlib.error as error:
        raise ValueError(f"its gzip stream is damaged ({error})") from None
    return b"".join(parts)  # one member: its bytes as they are, not copied


def _check_3d(shape: tuple[int, ...]) -> None:
    if not (len(shape) == 3 or (len(shape) == 4 and shape[3] == 1)):
        raise ValueError(f"a volume is 3D; this image has shape {shape}")


def _volume(image, name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        _check_3d(image.header.get_data_shape())  # before any voxel is read
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
    data = np.asanyarray(image.dataobj)
    if data.ndim == 4:
        data = data[..., 0]
    return np.ascontiguousarray(data.transpose(2, 1, 0)), LPS_TO_RAS @ image.affine
