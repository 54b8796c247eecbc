"""Labels on one item's grid, as every import reads them and every export writes them: segments with their codes,
one boolean mask per segment (segments may overlap), and where each segment's slices came from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# DICOM-SEG Segment Algorithm Type, from how a segment's slices were made.
MANUAL, SEMIAUTOMATIC, AUTOMATIC = "MANUAL", "SEMIAUTOMATIC", "AUTOMATIC"


@dataclass(frozen=True)
class Code:
    """A coded concept as DICOM writes it: (code value, coding scheme designator, code meaning)."""

    value: str
    scheme: str
    meaning: str


@dataclass(frozen=True)
class Segment:
    """One labelled structure: its value in label maps (1 to 65535), name, colour and codes (DICOM-SEG needs both)."""

    value: int
    name: str
    color: str = ""  # "#rrggbb"; empty lets the writer choose
    category: Code | None = None  # e.g. (123037004, SCT, Anatomical Structure)
    type: Code | None = None  # e.g. (10200004, SCT, Liver)
    algorithm_type: str = MANUAL  # MANUAL, SEMIAUTOMATIC or AUTOMATIC
    algorithm_name: str = ""  # the model or method, when not MANUAL


@dataclass
class Segmentation:
    """Segments on a grid of `shape` [k, j, i] with `affine` from (i, j, k, 1) to LPS mm (the Geometry convention).

    `masks[value]` is a boolean array of `shape`; `provenance[(value, k)]` optionally says how one axial slice of a
    segment was made ("drawn", "interpolated", "predicted", "imported"), with its source after a colon
    ("interpolated:job-12", "predicted:model-3@v2"), for the formats that can carry it.
    """

    shape: tuple[int, int, int]
    affine: np.ndarray
    segments: dict[int, Segment]
    masks: dict[int, np.ndarray]
    frame_of_reference_uid: str = ""
    provenance: dict[tuple[int, int], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.shape = tuple(int(n) for n in self.shape)
        self.affine = np.asarray(self.affine, dtype=np.float64)
        if len(self.shape) != 3 or self.affine.shape != (4, 4):
            raise ValueError(f"a segmentation is 3D [k, j, i] with a 4×4 affine; got {self.shape} and {self.affine.shape}")
        if set(self.masks) - set(self.segments):
            raise ValueError(f"masks without a segment: {sorted(set(self.masks) - set(self.segments))}")
        for value, mask in self.masks.items():
            if mask.shape != self.shape or mask.dtype != np.bool_:
                raise ValueError(f"segment {value}'s mask is {mask.dtype} {mask.shape}; expected bool {self.shape}")

    def labelmap(self, dtype=np.uint16) -> np.ndarray:
        """One array of segment values (0 background); where segments overlap, the higher value wins."""
        out = np.zeros(self.shape, dtype=dtype)
        for value in sorted(self.masks):
            out[self.masks[value]] = value
        return out

    def overlapping(self) -> bool:
        """True when some voxel belongs to more than one segment (a label map cannot hold these)."""
        count = np.zeros(self.shape, dtype=np.uint16)
        for mask in self.masks.values():
            count += mask
        return bool((count > 1).any())

    @classmethod
    def from_labelmap(cls, labels: np.ndarray, affine: np.ndarray, segments: dict[int, Segment] | None = None,
                      frame_of_reference_uid: str = "") -> Segmentation:
        """Split a label map into one mask per non-zero value; values without a given segment are named by number."""
        labels = np.asarray(labels)
        values = [int(v) for v in np.unique(labels) if v != 0]
        given = segments or {}
        chosen = {v: given.get(v) or Segment(value=v, name=f"label {v}") for v in values}
        chosen.update({v: s for v, s in given.items() if v not in chosen})
        return cls(labels.shape, affine, chosen, {v: labels == v for v in values}, frame_of_reference_uid)
