"""Frames that repeat their slice positions → a fourth axis: what orders the repeats, and the frames of each point.

A series that covers the same positions several times (over time, cardiac phase, b-value and gradient, echo
or acquisition) is one volume [t, k, j, i]. The repeats at each position are ordered by the first attribute
that tells all of them apart, tried in the order of `frames._ORDERING` (Temporal Position Identifier, Trigger
Time, Nominal Percentage of Cardiac Phase, Acquisition Date-Time / Time, Content Time, Diffusion b-value, Echo
Time, Echo Numbers, Acquisition Number, and as a last resort Instance Number), so point t holds each position's t-th repeat.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from services.ingestion.domain.frames import Frame, VolumeRefused
from services.ingestion.domain.grouping import Series
from services.ingestion.domain.mosaic import UIH_CREATOR
from services.ingestion.domain.private import private_value

# Positions closer than this (mm, per coordinate) are one position.
POSITION_DECIMALS = 2
# What each ordering attribute says the fourth axis is, when nothing more specific varies (see `_axis_name`).
_ORDERED_AS = {
    "TemporalPositionIdentifier": "time", "TemporalPositionIndex": "time", "TriggerTime": "time",
    "NominalPercentageOfCardiacPhase": "cardiac phase", "NominalCardiacTriggerDelayTime": "cardiac phase",
    "AcquisitionDateTime": "time", "AcquisitionTime": "time", "ContentTime": "time", "FrameAcquisitionDateTime": "time",
    "DiffusionBValue": "diffusion", "EchoTime": "echo", "EffectiveEchoTime": "echo", "EchoNumbers": "echo",
    "AcquisitionNumber": "acquisition",
    "InstanceNumber": "repetition", "FrameNumber": "repetition",
}


@dataclass(frozen=True)
class FourthAxis:
    """What a 4D volume's first axis is: its name, the attribute that ordered it and that attribute's value per point."""

    name: str  # time, cardiac phase, diffusion, echo, acquisition or repetition
    ordered_by: str  # the DICOM keyword whose values ordered the repeats
    values: list[float]  # per point, the ordering attribute's value at its first slice
    b_values: list[float] = field(default_factory=list)  # per point, diffusion series only
    gradients: list[list[float]] = field(default_factory=list)  # per point, unit vectors (LPS), diffusion series only
    echo_times: list[float] = field(default_factory=list)  # per point, multi-echo series only

    def describe(self) -> str:
        shown = ", ".join(f"{value:g}" for value in self.values[:6]) + (", …" if len(self.values) > 6 else "")
        last_resort = " (nothing else told the repeats apart)" if self.name == "repetition" else ""
        return f"{len(self.values)} points of {self.name}, ordered by {self.ordered_by}{last_resort}: {shown}"

    def as_dict(self) -> dict:
        return {"name": self.name, "ordered_by": self.ordered_by, "values": self.values, "b_values": self.b_values,
                "gradients": self.gradients, "echo_times": self.echo_times}


def fourth_axis(series: Series) -> tuple[list[list[Frame]], FourthAxis] | None:
    """The frames of each point along the series' fourth axis and what that axis is; None for a 3D series.

    VolumeRefused when positions repeat unevenly (an incomplete series) or nothing tells the repeats apart.
    """
    by_position: dict[tuple, list[Frame]] = defaultdict(list)
    for frame in series.frames:
        by_position[tuple(round(v, POSITION_DECIMALS) for v in frame.position)].append(frame)
    counts = {len(frames) for frames in by_position.values()}
    if counts == {1}:
        return None
    if len(counts) > 1:
        extra = len(series.frames) - len(by_position)
        raise VolumeRefused(
            f"{series.description}: {extra} slice(s) repeat another slice's position but not every position repeats "
            f"({min(counts)} to {max(counts)} times each): a duplicate, or a 4D series cut short or sent in part; "
            "send the whole series once and upload it again"
        )
    keyword = _ordering_keyword(list(by_position.values()))
    if keyword is None:
        raise VolumeRefused(
            f"{series.description}: every slice position appears {counts.pop()} times and nothing (temporal position, "
            "trigger time, cardiac phase, acquisition or content time, b-value, echo, acquisition or instance number) tells "
            "the repeats apart; export each repeat as a series of its own"
        )
    ordered = [sorted(frames, key=lambda frame: dict(frame.ordering)[keyword]) for frames in by_position.values()]
    points = [list(frames) for frames in zip(*ordered)]
    values = [min(dict(frame.ordering)[keyword] for frame in frames) for frames in points]
    b_values = [_b_value(frames[0]) for frames in points]
    gradients = [_gradient(frames[0]) for frames in points]
    echo_times = [_echo_time(frames[0]) for frames in points]
    diffusion = len({value for value in b_values if value is not None}) > 1 or len({tuple(g) for g in gradients if g}) > 1
    echo = len({value for value in echo_times if value is not None}) > 1
    name = "diffusion" if diffusion else "echo" if echo else _ORDERED_AS.get(keyword, "repetition")
    axis = FourthAxis(
        name=name, ordered_by=keyword, values=values,
        b_values=[value or 0.0 for value in b_values] if diffusion else [],
        gradients=[gradient or [0.0, 0.0, 0.0] for gradient in gradients] if diffusion else [],
        echo_times=[value or 0.0 for value in echo_times] if echo else [],
    )
    return points, axis


def _ordering_keyword(groups: list[list[Frame]]) -> str | None:
    """The first ordering attribute every frame has and whose values differ among the repeats at every position."""
    candidates = [keyword for keyword, _ in groups[0][0].ordering]
    for keyword in candidates:
        distinct = True
        for frames in groups:
            values = [dict(frame.ordering).get(keyword) for frame in frames]
            if None in values or len(set(values)) != len(values):
                distinct = False
                break
        if distinct:
            return keyword
    return None


def _b_value(frame: Frame) -> float | None:
    """The frame's diffusion b-value: the standard attribute, Siemens' CSA header or United Imaging's private one."""
    dataset = frame.dataset
    if dataset.get("DiffusionBValue") is not None:
        return float(dataset.DiffusionBValue)
    value = _first(private_value(dataset, 0x0019, "SIEMENS MR HEADER", 0x0C), private_value(dataset, 0x0065, UIH_CREATOR, 0x09))
    return None if value is None else float(value if np.ndim(value) == 0 else value[0])


def _gradient(frame: Frame) -> list[float]:
    """The frame's diffusion gradient direction (a unit vector, LPS), or [] when it gives none."""
    dataset = frame.dataset
    value = dataset.get("DiffusionGradientOrientation")
    if value is None:
        value = _first(private_value(dataset, 0x0019, "SIEMENS MR HEADER", 0x0E), private_value(dataset, 0x0065, UIH_CREATOR, 0x37))
    if value is None or np.ndim(value) == 0 or len(value) != 3:
        return []
    return [float(v) for v in value]


def _first(*values: object) -> object:
    return next((value for value in values if value is not None), None)


def _echo_time(frame: Frame) -> float | None:
    value = frame.dataset.get("EchoTime")
    return None if value in (None, "") else float(value)

