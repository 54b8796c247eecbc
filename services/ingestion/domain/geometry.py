"""A series' geometry: its frames in order along the slice normal, and what is wrong with their spacing."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from services.ingestion.domain.frames import Frame
from services.ingestion.domain.grouping import Series

# Gaps along the normal agree when within max(GAP_TOLERANCE_MM, GAP_TOLERANCE_REL × median gap).
GAP_TOLERANCE_MM = 0.02
GAP_TOLERANCE_REL = 0.01
# Slice positions may stray sideways from the normal line by this fraction of a pixel before it is tilt.
TILT_TOLERANCE_PIXELS = 0.1
# Findings no grid can fix (the volume is refused), and findings fixed by resampling onto a regular grid.
_REFUSING = frozenset({"duplicate_positions"})
_RESAMPLING = frozenset({"gantry_tilt", "uneven_spacing", "missing_slices"})


@dataclass(frozen=True)
class Issue:
    """One geometry finding on a series: `kind` is a stable name, `values` its numbers, `message` for people."""

    kind: str
    message: str
    values: dict = field(default_factory=dict)


@dataclass
class Geometry:
    """A series' frames in order along the slice normal, with what was found about their spacing."""

    frames: list[Frame]
    row: np.ndarray  # unit vector along i
    column: np.ndarray  # unit vector along j
    normal: np.ndarray  # row × column
    distances: np.ndarray  # each sorted frame's position along the normal, mm
    offsets: np.ndarray  # each sorted frame's sideways offset from the first frame's normal line, mm (N, 3)
    issues: list[Issue]

    @property
    def stackable(self) -> bool:
        """True when stacking the frames as they are gives a correct volume on a regular grid."""
        return not any(issue.kind in _REFUSING | _RESAMPLING for issue in self.issues)

    @property
    def buildable(self) -> bool:
        """True when a correct volume can be built, if need be by resampling onto a regular grid."""
        return not self.refusals

    @property
    def refusals(self) -> list[Issue]:
        """The findings no grid can fix: each refuses the volume."""
        return [issue for issue in self.issues if issue.kind in _REFUSING]


def gap_tolerance(distances: np.ndarray) -> float:
    """How far (mm) two gaps between sorted slice `distances` may differ and still be one spacing: DS strings'
    rounding, never less than GAP_TOLERANCE_MM."""
    gaps = np.diff(distances)
    valid = gaps[gaps >= GAP_TOLERANCE_MM]
    return max(GAP_TOLERANCE_MM, GAP_TOLERANCE_REL * float(np.median(valid))) if len(valid) else GAP_TOLERANCE_MM


def grid_units(gaps: np.ndarray, tolerance: float) -> np.ndarray | None:
    """How many grid steps each gap spans when the gaps lie on one regular grid with slices missing (each within
    `tolerance` mm of a whole number of steps); None when they do not. The step is the mean of the gaps nearest
    the smallest, so the DS rounding of one position cannot shrink it."""
    smallest = float(gaps.min())
    step = float(np.mean(gaps[gaps <= smallest + 2 * tolerance]))
    units = np.maximum(np.round(gaps / step), 1)
    return units if np.all(np.abs(gaps - units * step) <= tolerance * np.maximum(units, 1)) else None


def analyse(series: Series) -> Geometry:
    """Sort frames along the slice normal and report tilt, uneven gaps, missing slices and duplicates."""
    orientation = np.asarray(series.frames[0].orientation, dtype=np.float64)
    row, column = orientation[:3], orientation[3:]
    row, column = row / np.linalg.norm(row), column / np.linalg.norm(column)
    normal = np.cross(row, column)
    positions = np.array([frame.position for frame in series.frames], dtype=np.float64)
    distances = positions @ normal
    order = np.argsort(distances, kind="stable")
    frames = [series.frames[index] for index in order]
    positions, distances = positions[order], distances[order]
    offsets = (positions - positions[0]) - np.outer(distances - distances[0], normal)
    issues = []
    gaps = np.diff(distances)
    pixel = min(series.frames[0].spacing)
    if len(frames) > 1:
        duplicates = int(np.sum(gaps < GAP_TOLERANCE_MM))
        if duplicates:
            issues.append(Issue(
                "duplicate_positions",
                f"{duplicates} slice(s) repeat another slice's position: the series mixes volumes that nothing "
                "here tells apart (echo, time, acquisition); it is not stacked",
                {"count": duplicates},
            ))
        sideways = np.linalg.norm(offsets, axis=1)
        if sideways.max() > TILT_TOLERANCE_PIXELS * pixel:
            along = distances[-1] - distances[0]
            step = positions[-1] - positions[0]
            angle = float(np.degrees(np.arccos(np.clip(abs(step @ normal) / np.linalg.norm(step), -1, 1)))) if along else 90.0
            declared = series.frames[0].dataset.get("GantryDetectorTilt")
            issues.append(Issue(
                "gantry_tilt",
                f"slice positions are not along the slice normal: tilt {angle:.2f}° "
                f"(GantryDetectorTilt {declared if declared is not None else 'absent'}), "
                f"up to {sideways.max():.2f} mm sideways; stacking as is would shear the anatomy",
                {"angle_deg": angle, "max_offset_mm": float(sideways.max()),
                 "declared_deg": None if declared is None else float(declared)},
            ))
        valid = gaps[gaps >= GAP_TOLERANCE_MM]
        if len(valid):
            tolerance = gap_tolerance(distances)
            if np.ptp(valid) > tolerance:
                units = grid_units(valid, tolerance)
                if units is not None and np.any(units >= 2):
                    smallest = float(np.sum(valid) / np.sum(units))
                    missing = int(np.sum(units - 1))
                    where = [int(index) for index in np.flatnonzero(np.round(gaps / smallest) >= 2)]
                    issues.append(Issue(
                        "missing_slices",
                        f"{missing} slice(s) missing from a {smallest:.4g} mm grid (after sorted slice(s) "
                        f"{', '.join(str(index + 1) for index in where)}); the volume would have holes",
                        {"count": missing, "spacing_mm": smallest, "after_slices": where},
                    ))
                else:
                    distinct = sorted({round(float(gap), 2) for gap in valid})
                    between = sorted({round(float(gap), 2) for gap in np.linalg.norm(np.diff(positions, axis=0), axis=1)})
                    issues.append(Issue(
                        "uneven_spacing",
                        f"slice gaps along the normal vary from {valid.min():.3f} to {valid.max():.3f} mm "
                        f"({len(distinct)} distinct: {', '.join(f'{gap:g}' for gap in distinct[:8])}; between "
                        f"positions {', '.join(f'{gap:g}' for gap in between[:8])}); no single slice spacing describes the stack",
                        {"min_mm": float(valid.min()), "max_mm": float(valid.max()), "distinct_mm": distinct,
                         "between_positions_mm": between},
                    ))
    return Geometry(frames, row, column, normal, distances, offsets, issues)
