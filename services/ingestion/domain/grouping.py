"""Frames → series: what can share one volume, split by orientation, size, spacing, stack and series number."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from pydicom.dataset import Dataset

from services.ingestion.domain.frames import Frame, VolumeRefused, frames_of
from services.ingestion.domain.reader import collector_paused

# Two unit vectors closer than this (per component) are the same orientation.
ORIENTATION_TOLERANCE = 1e-4


@dataclass
class Series:
    """Frames that belong in one volume: same study, series, orientation, size and acquisition parameters."""

    study_uid: str
    series_uid: str
    frames: list[Frame]
    split: dict = field(default_factory=dict)  # what set this part apart from the rest of its DICOM series

    @property
    def description(self) -> str:
        first = self.frames[0].dataset
        parts = [str(first.get("Modality", "?")), f"series {first.get('SeriesNumber', '?')}"]
        if first.get("SeriesDescription"):
            parts.append(repr(str(first.SeriesDescription)))
        parts += [f"{key} {value}" for key, value in self.split.items()]
        return ", ".join(parts)


# Modalities whose instances carry pixels that are not images to label: segmentations are labels (annotation
# imports them).
NOT_IMAGES = frozenset({"SEG"})


def holds_image(dataset: Dataset) -> bool:
    """Whether the instance holds an image a volume is made of (a segmentation holds labels of one)."""
    return str(dataset.get("Modality", "")) not in NOT_IMAGES


def group_image_series(datasets: list[Dataset]) -> tuple[list[Series], dict[str, str]]:
    """Group the instances that can be part of a volume by study and series, then split what cannot share one volume.

    A DICOM series is split by orientation, image size, pixel spacing, stack and series number (one Series
    Instance UID sometimes spans several series numbers, each an image of its own). Echo, b-value, temporal
    position and acquisition do not split it: slices that repeat their positions along one of them become the
    fourth axis of one volume (domain/dimensions.py). Instances that hold no image to build (segmentations) are
    left out silently; one whose geometry cannot make a volume is left out and its series named with the reason
    (series uid → the first reason), so the rest still builds.
    """
    frames: list[Frame] = []
    unusable: dict[str, str] = {}
    with collector_paused():  # reading each instance's geometry converts its elements: many small objects
        for dataset in datasets:
            if not holds_image(dataset):
                continue
            try:
                frames += frames_of(dataset)
            except VolumeRefused as error:
                unusable.setdefault(str(dataset.SeriesInstanceUID), str(error))
    return _group(frames), unusable


def _group(frames: list[Frame]) -> list[Series]:
    groups: dict[tuple, list[Frame]] = defaultdict(list)
    for frame in frames:
        key = (
            frame.study_uid, frame.series_uid,
            tuple(round(v / ORIENTATION_TOLERANCE) for v in frame.orientation),
            frame.rows, frame.columns, tuple(round(v, 4) for v in frame.spacing),
            _text(frame.stack), frame.instance, _text(frame.series_number),
        )
        groups[key].append(frame)
    series_uids = defaultdict(set)
    for key in groups:
        series_uids[key[:2]].add(key)
    result = []
    for key, frames in groups.items():
        split = {}
        if len(series_uids[key[:2]]) > 1:
            split = _what_differs(key, series_uids[key[:2]])
        result.append(Series(key[0], key[1], frames, split))
    result.sort(key=lambda series: (series.study_uid, series.series_uid, sorted(series.split.items(), key=str)))
    return result


def _text(value: object) -> str:
    return "" if value is None else str(value)


_KEY_NAMES = {2: "orientation", 3: "rows", 4: "columns", 5: "spacing", 6: "stack", 7: "image", 8: "series number"}


def _what_differs(key: tuple, siblings: set[tuple]) -> dict:
    """The grouping values that set `key` apart from the other parts of its DICOM series."""
    differing = sorted({index for other in siblings for index in _KEY_NAMES if other[index] != key[index]})
    out = {}
    for index in differing:
        value = key[index]
        if index == 2:  # back from tolerance units to direction cosines
            value = tuple(round(v * ORIENTATION_TOLERANCE, 4) for v in value)
        out[_KEY_NAMES[index]] = value
    return out
