"""Label file formats (NIfTI label maps, DICOM-SEG, RTSTRUCT, COCO, Darwin JSON): pure converters between bytes and
a Segmentation on an item's grid."""

from __future__ import annotations

import colorsys
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset

from services.annotation.domain.segmentation import Segment, Segmentation
from shared.errors import InvalidArgument
from shared.grid import array_spacing

# Two grids are the same when every affine entry agrees within this many mm.
AFFINE_TOLERANCE_MM = 1e-3
# A point lies on a grid's voxel centre (or slice plane) when within this fraction of a voxel of it: DICOM writes
# positions as decimal strings of at most 16 characters, so a few micrometres of rounding are normal.
ON_GRID_VOXELS = 0.01
# What a DICOM label export needs of each source instance to reference it.
_IDENTITY = ("StudyInstanceUID", "SeriesInstanceUID", "SOPClassUID", "SOPInstanceUID", "FrameOfReferenceUID")
# Hue step between segments that carry no colour: the golden angle, so neighbouring values look different.
_GOLDEN_ANGLE = 0.381966


@dataclass(frozen=True)
class Grid:
    """An item's voxel grid: `shape` [k, j, i], `affine` (i, j, k, 1) → LPS mm, its frame of reference, and the
    DICOM instances it was built from (one per k, in k order; empty when the item did not come from DICOM)."""

    shape: tuple[int, int, int]
    affine: np.ndarray
    frame_of_reference_uid: str = ""
    instances: tuple[Dataset, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(n) for n in self.shape))
        object.__setattr__(self, "affine", np.asarray(self.affine, dtype=np.float64))
        object.__setattr__(self, "instances", tuple(self.instances))
        if self.instances and len(self.instances) != self.shape[0]:
            raise ValueError(f"a grid of {self.shape[0]} slices needs one instance per slice; got {len(self.instances)}")

    def voxels(self, points: np.ndarray) -> np.ndarray:
        """Patient points (N, 3) in LPS mm as voxel coordinates (N, 3) in (i, j, k) order."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        return (np.linalg.inv(self.affine) @ np.c_[points, np.ones(len(points))].T)[:3].T

    def points(self, voxels: np.ndarray) -> np.ndarray:
        """Voxel coordinates (N, 3) in (i, j, k) order as patient points (N, 3) in LPS mm."""
        voxels = np.asarray(voxels, dtype=np.float64).reshape(-1, 3)
        return (self.affine @ np.c_[voxels, np.ones(len(voxels))].T)[:3].T


@dataclass(frozen=True)
class Placement:
    """How an array on another voxel lattice lands on a grid without resampling: transpose its array axes by `axes`,
    reverse those in `flips`, then its index 0 on each axis is the grid's `offset` (on [k, j, i] arrays)."""

    axes: tuple[int, int, int]
    flips: tuple[bool, bool, bool]
    offset: tuple[int, int, int]

    @property
    def reorders(self) -> bool:
        return self.axes != (0, 1, 2) or any(self.flips)

    def covers(self, shape: tuple[int, ...], grid_shape: tuple[int, ...]) -> bool:
        """True when an array of `shape` fills the grid exactly, voxel for voxel."""
        return self.offset == (0, 0, 0) and tuple(shape[axis] for axis in self.axes) == tuple(grid_shape)

    def apply(self, array: np.ndarray, grid_shape: tuple[int, int, int]) -> tuple[np.ndarray, int]:
        """`array` ([k, j, i] on its own lattice) on the grid, zeros where it does not reach; and how many of its
        non-zero voxels fell outside the grid."""
        moved = array.transpose(self.axes)
        moved = moved[tuple(slice(None, None, -1) if flip else slice(None) for flip in self.flips)]
        out = np.zeros(grid_shape, dtype=array.dtype)
        source, target = [], []
        for start, size, length in zip(self.offset, moved.shape, grid_shape):
            low, high = max(start, 0), min(start + size, length)
            if low >= high:
                return out, int(np.count_nonzero(array))
            source.append(slice(low - start, high - start))
            target.append(slice(low, high))
        out[tuple(target)] = moved[tuple(source)]
        return out, int(np.count_nonzero(array)) - int(np.count_nonzero(out))


def placement(grid: Grid, shape: tuple[int, ...], affine: np.ndarray) -> Placement | None:
    """How an array of `shape` ([k, j, i]) on `affine` lands on `grid` when both are one voxel lattice (same spacing,
    axes permuted or reversed, shifted by whole voxels; every affine entry within AFFINE_TOLERANCE_MM); None when it
    would need resampling."""
    affine = np.asarray(affine, dtype=np.float64)
    to_grid = np.linalg.inv(grid.affine) @ affine  # other (i, j, k) → grid (i, j, k)
    turn, shift = np.rint(to_grid[:3, :3]), np.rint(to_grid[:3, 3])
    if not (np.all(np.abs(turn).sum(axis=0) == 1) and np.all(np.abs(turn).sum(axis=1) == 1)):
        return None
    snapped = np.eye(4)
    snapped[:3, :3], snapped[:3, 3] = turn, shift
    if not np.allclose(grid.affine @ snapped, affine, rtol=0, atol=AFFINE_TOLERANCE_MM):
        return None
    # Grid voxel axis b = ±(other voxel axis c) + shift[b]; array axis of voxel axis b is 2 - b. A reversed axis's
    # first element is the other's last one, so its offset moves back by the axis' length less one.
    axes, flips, offset = [], [], []
    for b in (2, 1, 0):
        c = int(np.flatnonzero(turn[b])[0])
        reversed_ = bool(turn[b, c] < 0)
        axes.append(2 - c)
        flips.append(reversed_)
        offset.append(int(shift[b]) - (shape[2 - c] - 1 if reversed_ else 0))
    return Placement(tuple(axes), tuple(flips), tuple(offset))


def checked_sources(seg: Segmentation, instances: Sequence[Dataset]) -> list[Dataset]:
    """The source instances of a DICOM label export, one per slice of `seg` in k order, each checked to be that slice.

    A DICOM label names the images it labels by their UIDs and lies on their planes, so instances without UIDs or off
    the segmentation's grid are refused with what to do about it.
    """
    instances = list(instances)
    if len(instances) != seg.shape[0]:
        raise InvalidArgument(f"the labels have {seg.shape[0]} slices but {len(instances)} source DICOM instances were "
                              "given; a DICOM label export needs the item's own instances, one per slice")
    grid = Grid(seg.shape, seg.affine)
    row, column = (seg.affine[:3, axis] / np.linalg.norm(seg.affine[:3, axis]) for axis in (0, 1))
    for k, instance in enumerate(instances):
        name = f"source instance {k + 1} of {len(instances)}"
        for keyword in _IDENTITY:
            if not str(instance.get(keyword, "") or ""):
                raise InvalidArgument(f"{name} has no {keyword}: a DICOM label names the images it labels by their UIDs; "
                                      "give the series its UIDs first (de-identifying it through Radlab does)")
        if (int(instance.get("Rows", 0)), int(instance.get("Columns", 0))) != seg.shape[1:]:
            raise InvalidArgument(f"{name} is {instance.get('Rows')}×{instance.get('Columns')} pixels; the labels' slices "
                                  f"are {seg.shape[1]}×{seg.shape[2]}")
        position = grid.voxels(np.asarray(instance.get("ImagePositionPatient", [np.nan] * 3), dtype=np.float64))[0]
        orientation = np.asarray(instance.get("ImageOrientationPatient", [np.nan] * 6), dtype=np.float64)
        if not (np.allclose(position, (0, 0, k), rtol=0, atol=ON_GRID_VOXELS)
                and np.allclose(orientation, np.r_[row, column], rtol=0, atol=1e-4)):
            raise InvalidArgument(f"{name} ({instance.SOPInstanceUID}) is not the plane of slice k={k} of the labels' "
                                  f"grid ({describe_grid(seg.shape, seg.affine)}); export with the item's own instances "
                                  "in slice order")
    series = sorted({str(instance.SeriesInstanceUID) for instance in instances})
    frames = sorted({str(instance.FrameOfReferenceUID) for instance in instances} | {seg.frame_of_reference_uid} - {""})
    if len(series) > 1 or len(frames) > 1:
        raise InvalidArgument(f"the source instances are not one series on one frame of reference (series "
                              f"{', '.join(series)}; frames of reference {', '.join(frames)})")
    return instances


def describe_grid(shape: tuple[int, ...], affine: np.ndarray) -> str:
    """A grid in words: "512×512×20 voxels (i×j×k) of 0.9766×0.9766×2 mm, axes toward L, P, S, first voxel at
    (-249.51, -437.51, -804.50) mm"."""
    size, spacing, axes, origin = _grid_words(shape, affine)
    return f"{size} voxels (i×j×k) of {spacing} mm, axes toward {axes}, first voxel at {origin} mm"


def grid_differences(shape: tuple[int, ...], affine: np.ndarray, other_shape: tuple[int, ...],
                     other_affine: np.ndarray) -> str:
    """What sets two grids apart, in describe_grid's words ("size, first voxel")."""
    pairs = zip(("size", "spacing", "axes", "first voxel"), _grid_words(shape, affine), _grid_words(other_shape, other_affine))
    return ", ".join(name for name, mine, theirs in pairs if mine != theirs) or "position or orientation, by less than shown"


def _grid_words(shape: tuple[int, ...], affine: np.ndarray) -> tuple[str, str, str, str]:
    affine = np.asarray(affine, dtype=np.float64)
    letters = []
    for column in affine[:3, :3].T:
        axis = int(np.argmax(np.abs(column)))
        letters.append(("RL", "AP", "IS")[axis][int(column[axis] > 0)])
    size = "×".join(str(n) for n in reversed(tuple(shape)))
    spacing = "×".join(f"{s:.4g}" for s in array_spacing(affine)[::-1])
    return size, spacing, ", ".join(letters), f"({', '.join(f'{v:.2f}' for v in affine[:3, 3])})"


def display_color(segment: Segment) -> str:
    """The segment's colour as "#rrggbb": its own, else one picked from its value (stable across exports)."""
    if segment.color:
        return segment.color
    red, green, blue = colorsys.hsv_to_rgb((segment.value * _GOLDEN_ANGLE) % 1.0, 0.65, 0.9)
    return "#" + "".join(f"{round(channel * 255):02x}" for channel in (red, green, blue))
