"""`radlab interpolate LABELS.nii.gz OUT.nii.gz --key-slices 0,4,8`: fill a label map between its key slices, offline, with the service's code."""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
from nibabel.filebasedimages import ImageFileError

from services.interpolation.domain.fill import Filled, Method, fill, keys_from_slices
from shared.grid import array_spacing
from shared.errors import InvalidArgument
from shared.files import write_atomically
from shared.volumes import check_output, from_nifti, to_nifti

METHODS = {"automatic": Method.AUTOMATIC, "shape": Method.SHAPE, "image": Method.IMAGE_GUIDED,
           "fast": Method.IMAGE_GUIDED_FAST, "nearest": Method.NEAREST_KEY, "distance": Method.SIGNED_DISTANCE}
FILE_AXES = (0, 1, 2)  # NIfTI voxel axes (i, j, k), as nibabel's shape lists them
# Another program's copy of the image's affine is often rounded: grids whose corners lie within this fraction of
# a voxel (along every voxel axis) are one grid, with a warning; farther apart they are refused.
GRID_TOLERANCE_VOXELS = 0.5
AFFINE_EQUAL_MM = 1e-3  # closer than this: the same header, no warning


@dataclass(frozen=True)
class LabelMap:
    """A label volume [k, j, i] and its affine (i, j, k, 1) → LPS mm, as shared.volumes reads and writes them."""

    data: np.ndarray
    affine: np.ndarray


def parse_key_slices(text: str) -> list[int]:
    """`0,4,8` → [0, 4, 8]; refuses anything but whole numbers, and fewer than two key slices."""
    try:
        slices = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise InvalidArgument(f"--key-slices {text!r} is not a comma-separated list of slice numbers, e.g. 0,4,8") from None
    if len(slices) < 2:
        raise InvalidArgument(f"--key-slices {text!r} names {len(slices)} slice(s); give at least two to fill between")
    return slices


def interpolate_file(
    labels_path: Path, output: Path, key_slices: Sequence[int], *, axis: int = 2, image_path: Path | None = None,
    method: str | None = None, out: TextIO | None = None,
) -> Filled:
    """Fill every non-key slice between the outer key slices of `labels_path` along file axis `axis`; write `output`.

    The key slices are the input: every other slice counts as empty. The output keeps the input's affine and
    voxel type; it is written atomically, and only after every check passed.
    """
    out = out or sys.stdout
    check_output(output)
    if axis not in FILE_AXES:
        raise InvalidArgument(f"--axis {axis} is not a voxel axis of a 3-D file; use 0, 1 or 2")
    chosen = METHODS[method] if method else Method.AUTOMATIC
    if chosen in (Method.IMAGE_GUIDED, Method.IMAGE_GUIDED_FAST) and image_path is None:
        raise InvalidArgument(f"--method {method} follows the image; give it with --image IMG.nii.gz, or use --method shape")
    data, affine = _read(labels_path)
    labels = _label_values(data, labels_path)
    array_axis = 2 - axis  # file axes (i, j, k) are array axes (2, 1, 0)
    count = labels.shape[array_axis]
    outside = [s for s in key_slices if not 0 <= s < count]
    if outside:
        raise InvalidArgument(f"key slices {outside} lie outside {labels_path.name}: axis {axis} has slices 0 to {count - 1}")
    image = None
    if image_path is not None:
        image, image_affine = _read(image_path)
        apart = corner_distance(affine, image_affine, data.shape) if image.shape == data.shape else None
        if apart is None or apart[0] > GRID_TOLERANCE_VOXELS:
            off = "" if apart is None else f", corners up to {apart[1]:.2f} mm ({apart[0]:.2f} voxel) apart"
            raise InvalidArgument(f"{image_path.name} ({_size(image)}) and {labels_path.name} ({_size(data)}) do not share "
                                  f"one voxel grid{off}; give the image the labels were drawn on")
        if apart[1] > AFFINE_EQUAL_MM:
            print(f"warning: the headers of {image_path.name} and {labels_path.name} differ by up to {apart[1]:.3f} mm at "
                  f"the grid's corners ({apart[0]:.2f} voxel, within {GRID_TOLERANCE_VOXELS}): taken as one grid", file=out)
    keys = keys_from_slices(labels, key_slices, array_axis)
    print(f"{labels_path.name}: {_size(data)} voxels, labels {', '.join(map(str, keys)) or 'none'}; "
          f"key slices along axis {axis}: {', '.join(map(str, key_slices))}", file=out)
    started = time.perf_counter()
    result = fill(labels, keys, axis=array_axis, method=chosen, image=image, spacing=array_spacing(affine),
                  progress=_progress_bar())
    seconds = time.perf_counter() - started
    filled = result.labels.astype(data.dtype)
    _write(LabelMap(filled, affine), output)
    for value in keys:
        slices = result.filled.get(value, ())
        made = result.choices[value]
        print(f"label {value}: filled {len(slices)} slice(s){': ' if slices else ''}{', '.join(map(str, slices))}; "
              f"{made.method}: {made.reason}", file=out)
    name = {method: name for name, method in METHODS.items()}[result.method]
    print(f"method {name}, {seconds:.2f} s; wrote {output}", file=out)
    return result


def corner_distance(affine: np.ndarray, other: np.ndarray, shape: tuple[int, ...]) -> tuple[float, float]:
    """How far apart two affines put the corners of one voxel grid of `shape` [k, j, i]: the largest difference along
    any voxel axis (in `affine`'s voxels) and the largest distance (mm)."""
    corners = np.array([[i, j, k, 1.0] for i in (0, shape[2] - 1) for j in (0, shape[1] - 1) for k in (0, shape[0] - 1)])
    difference = (corners @ other.T - corners @ affine.T)[:, :3]
    in_voxels = np.abs(difference @ np.linalg.inv(affine[:3, :3]).T)
    return float(in_voxels.max()), float(np.linalg.norm(difference, axis=1).max())


def _read(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        return from_nifti(path)
    except FileNotFoundError:
        raise InvalidArgument(f"{path}: no such file") from None
    except (ImageFileError, ValueError, OSError, EOFError) as error:
        raise InvalidArgument(f"{path}: not a readable 3-D NIfTI image ({error})") from None


def _label_values(data: np.ndarray, path: Path) -> np.ndarray:
    """The label map as integers (a float file with whole values is accepted); refuses anything else."""
    if np.issubdtype(data.dtype, np.integer) or data.dtype == np.bool_:
        values = data
    elif np.issubdtype(data.dtype, np.floating) and np.all(np.isfinite(data)) and np.all(np.mod(data, 1) == 0):
        values = data.astype(np.int64)
    else:
        raise InvalidArgument(f"{path.name} holds {data.dtype} values that are not whole numbers; it is not a label map")
    if values.size and values.min() < 0:
        raise InvalidArgument(f"{path.name} holds negative values; label values are 0 (background) and up")
    return values.astype(np.min_scalar_type(int(values.max()) if values.size else 0))


def _write(label_map: LabelMap, output: Path) -> None:
    """NIfTI through shared.volumes into a scratch folder, then renamed into place in one step."""
    suffix = ".nii.gz" if output.name.endswith(".nii.gz") else ".nii"
    with tempfile.TemporaryDirectory(prefix="radlab-interpolate-") as scratch:
        written = to_nifti(label_map, Path(scratch) / f"labels{suffix}")
        write_atomically(output, written.read_bytes())


def _size(data: np.ndarray) -> str:
    return " × ".join(map(str, data.shape[::-1]))  # as the file's (i, j, k)


def _progress_bar():
    """A one-line progress bar on a terminal's stderr; nothing when stderr is not a terminal."""
    if not sys.stderr.isatty():
        return None

    def show(done: float) -> None:
        filled = int(30 * done)
        print(f"\r[{'#' * filled}{'.' * (30 - filled)}] {100 * done:3.0f}%", end="\n" if done >= 1 else "", file=sys.stderr, flush=True)

    return show
