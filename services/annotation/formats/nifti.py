"""NIfTI label maps ↔ Segmentation on an item's grid: voxel for voxel where grids agree, else reordered or resampled."""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from services.annotation.domain.segmentation import Segment, Segmentation
from services.annotation.formats import Grid, describe_grid, grid_differences, placement
from shared.errors import InvalidArgument
from shared.grid import array_spacing
from shared.volumes import from_nifti_bytes, to_nifti

LARGEST_LABEL = 65535
# A file whose voxels are this many times finer or coarser than the item's is not resampled: that is a unit mistake
# (cm or m for mm) or the label of another scan, and nearest neighbour would hide it.
SPACING_RATIO_LIMIT = 8.0


def read_labelmap(data: bytes, file_name: str, grid: Grid, segments: dict[int, Segment] | None = None
                  ) -> tuple[Segmentation, list[str]]:
    """A NIfTI label map (.nii or .nii.gz bytes, any voxel order) on the item's `grid`, with warnings for people.

    The same grid is taken voxel for voxel; the same voxels stored in another axis order or direction are reordered, and
    a part of the grid (a crop) is placed, without resampling; any other grid that overlaps the item's is resampled by
    nearest neighbour. Values must be whole numbers 0–65535 (0 is background); `segments` names and codes them.
    """
    labels, affine = _load(data, file_name)
    labels = _whole_labels(labels, file_name)
    if not _boxes_meet(np.linalg.inv(affine) @ grid.affine, grid.shape, labels.shape):
        raise _apart(file_name, labels.shape, affine, grid)
    warnings = []
    found = placement(grid, labels.shape, affine)
    if found is None:
        placed = _resampled(labels, affine, grid, file_name)
        warnings.append(
            f"{file_name}: resampled from {_spacing(affine)} mm onto the item's grid of {_spacing(grid.affine)} mm by "
            f"nearest neighbour (the file is {describe_grid(labels.shape, affine)}; the item is "
            f"{describe_grid(grid.shape, grid.affine)}); check the labels' edges"
        )
    else:
        placed, _ = found.apply(labels, grid.shape)
        if not found.covers(labels.shape, grid.shape):
            warnings.append(f"{file_name}: its grid ({describe_grid(labels.shape, affine)}) is on the item's voxels but "
                            "does not match it; placed voxel for voxel, without resampling, the rest left empty")
        elif found.reorders:
            warnings.append(f"{file_name}: its voxels are stored in another order ({describe_grid(labels.shape, affine)}); "
                            "reordered onto the item's grid, voxel for voxel, without resampling")
    lost = sorted(set(_values(labels)) - set(_values(placed)))
    if lost:
        warnings.append(f"{file_name}: label value(s) {', '.join(map(str, lost))} lie wholly outside the item's grid and "
                        "are dropped")
    return Segmentation.from_labelmap(placed, grid.affine, segments, grid.frame_of_reference_uid), warnings


def write_labelmap(seg: Segmentation) -> bytes:
    """The segmentation as .nii.gz bytes on exactly its grid: uint8 when every value fits, else uint16."""
    if seg.overlapping():
        raise InvalidArgument("some voxels belong to more than one segment, and a label map holds one value per voxel; "
                              "export it as DICOM-SEG, which keeps overlaps")
    dtype = np.uint8 if max(seg.masks, default=0) <= 255 else np.uint16
    with tempfile.TemporaryDirectory(prefix="radlab-labels-") as folder:
        path = to_nifti(SimpleNamespace(data=seg.labelmap(dtype), affine=seg.affine), Path(folder) / "labels.nii.gz")
        return path.read_bytes()


def labelmap_grid(data: bytes, file_name: str) -> Grid:
    """The NIfTI file's own grid (with no frame of reference), for conversions that have no item to land on."""
    labels, affine = _load(data, file_name)
    return Grid(labels.shape, affine)


def _load(data: bytes, file_name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        return from_nifti_bytes(data)
    except ValueError as error:  # VolumeTooLarge is one
        raise InvalidArgument(f"{file_name}: {error}") from None


def _whole_labels(labels: np.ndarray, file_name: str) -> np.ndarray:
    """The label map as unsigned integers, or a refusal saying which values a label map cannot hold."""
    if labels.dtype.kind not in "uif":
        raise InvalidArgument(f"{file_name}: holds {labels.dtype} voxels; a label map holds whole numbers 0–{LARGEST_LABEL}")
    if labels.dtype.kind == "f":
        broken = ~np.isfinite(labels) | (labels != np.floor(labels))
        if broken.any():
            raise InvalidArgument(f"{file_name}: holds values that are not whole numbers (e.g. {float(labels[broken][0]):g}); "
                                  f"a label map holds whole numbers 0–{LARGEST_LABEL}: save it as an integer image")
    low, high = labels.min(initial=0), labels.max(initial=0)
    if low < 0:
        raise InvalidArgument(f"{file_name}: holds negative values (down to {low}); label values are 0 (background) to "
                              f"{LARGEST_LABEL}")
    if high > LARGEST_LABEL:
        raise InvalidArgument(f"{file_name}: holds values up to {high}; label values are 0 (background) to {LARGEST_LABEL}")
    return labels.astype(np.uint8 if high <= 255 else np.uint16, copy=False)


def _values(labels: np.ndarray) -> list[int]:
    """The non-zero values present, counted rather than sorted (a large volume sorts slowly)."""
    return [int(v) for v in np.flatnonzero(np.bincount(labels.ravel()))[1:]] if labels.size else []


def _spacing(affine: np.ndarray) -> str:
    return "×".join(f"{s:.4g}" for s in array_spacing(affine)[::-1])


def _resampled(labels: np.ndarray, affine: np.ndarray, grid: Grid, file_name: str) -> np.ndarray:
    """`labels` on `affine` resampled onto `grid` by nearest neighbour, one slice of the item at a time."""
    theirs, ours = array_spacing(affine), array_spacing(grid.affine)
    if min(theirs) <= 0 or min(theirs) < min(ours) / SPACING_RATIO_LIMIT or max(theirs) > max(ours) * SPACING_RATIO_LIMIT:
        raise InvalidArgument(
            f"{file_name}: its voxels of {_spacing(affine)} mm are too far from the item's {_spacing(grid.affine)} mm "
            f"to resample (over {SPACING_RATIO_LIMIT:g}× finer or coarser); check the file's units and that it labels this scan"
        )
    to_file = np.linalg.inv(affine) @ grid.affine  # item (i, j, k) → file (i, j, k)
    depth, rows, columns = labels.shape
    out = np.zeros(grid.shape, dtype=labels.dtype)
    j, i = np.mgrid[0:grid.shape[1], 0:grid.shape[2]]
    in_plane = to_file[:3, :1, None] * i + to_file[:3, 1:2, None] * j + to_file[:3, 3:4, None]  # (3, j, i)
    met = False
    for k in range(grid.shape[0]):
        fi, fj, fk = np.floor(in_plane + to_file[:3, 2:3, None] * k + 0.5).astype(np.int64)
        inside = (fi >= 0) & (fi < columns) & (fj >= 0) & (fj < rows) & (fk >= 0) & (fk < depth)
        if inside.any():
            met = True
            out[k][inside] = labels[fk[inside], fj[inside], fi[inside]]
    if not met:
        raise _apart(file_name, labels.shape, affine, grid)
    return out


def _boxes_meet(to_file: np.ndarray, grid_shape: tuple[int, ...], file_shape: tuple[int, ...]) -> bool:
    """Whether the item's box of voxels, taken into the file's voxel space, meets the file's box."""
    corners = np.array([[i, j, k, 1.0] for i in (-0.5, grid_shape[2] - 0.5) for j in (-0.5, grid_shape[1] - 0.5)
                        for k in (-0.5, grid_shape[0] - 0.5)]).T
    mapped = (to_file @ corners)[:3]
    limits = np.array(file_shape[::-1], dtype=np.float64) - 0.5
    return bool(np.all(mapped.max(axis=1) >= -0.5) and np.all(mapped.min(axis=1) <= limits))


def _apart(file_name: str, shape: tuple[int, ...], affine: np.ndarray, grid: Grid) -> InvalidArgument:
    return InvalidArgument(
        f"{file_name} does not overlap the item in space (they differ in "
        f"{grid_differences(shape, affine, grid.shape, grid.affine)}): the file is {describe_grid(shape, affine)}; "
        f"the item is {describe_grid(grid.shape, grid.affine)}. Is it the label of another scan?"
    )
