"""What a run is told and what a model needs to be run: model kinds, training settings (parsed from a user's
hyper-parameters) and pre-processing. Plain data, no torch: the serving process checks requests with it, the workers
train and predict with it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

# Model kind → spatial dims, and each dims' U-Net: feature channels per level and the strides between levels.
KINDS = {"monai.unet2d": 2, "monai.unet3d": 3}
ARCHITECTURES = {2: ((16, 32, 64, 128, 256), (2, 2, 2, 2)), 3: ((16, 32, 64, 128), (2, 2, 2))}
DEFAULT_ROI = {2: (128, 128), 3: (32, 96, 96)}
LARGEST_ROI = {2: 160, 3: 96}
# Detection and classification kinds, and the [rows, columns] their slices are scaled to by default.
DETECTION_KINDS = ("torchvision.retinanet",)
DETECTION_ROI = (256, 256)
CLASSIFICATION_KINDS = ("monai.densenet2d",)
CLASSIFICATION_ROI = (128, 128)
# A soft-tissue CT window (HU): spleen, liver, kidneys and vessels stand apart; bone and air saturate.
CT_WINDOW = (-160.0, 240.0)

def roi_divisor(dims: int) -> int:
    """What every patch side must be a multiple of, so the U-Net's strides halve it evenly."""
    return int(np.prod(ARCHITECTURES[dims][1]))


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes the network's input, stored as JSON beside the model: CT clipped to a HU `window` and
    scaled to [0, 1], other modalities z-scored over the volume (clipped to ±5 SD); `roi` is the patch the network
    sees at a time ([j, i] for 2D, [k, j, i] for 3D)."""

    dims: int = 2
    modality: str = "CT"
    window: tuple[float, float] = CT_WINDOW
    roi: tuple[int, ...] = DEFAULT_ROI[2]

    def __post_init__(self) -> None:
        if self.dims not in ARCHITECTURES:
            raise ValueError(f"dims must be 2 (slices) or 3 (volumes); got {self.dims}")
        divisor = roi_divisor(self.dims)
        if len(self.roi) != self.dims or any(side < divisor or side % divisor for side in self.roi):
            raise ValueError(f"roi {tuple(self.roi)} must be {self.dims} sides, each a multiple of {divisor} "
                             f"(e.g. {DEFAULT_ROI[self.dims]})")
        if not self.window[0] < self.window[1]:
            raise ValueError(f"window {tuple(self.window)} must be (low, high) with low < high")

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {"dims": self.dims, "modality": self.modality, "window": list(self.window), "roi": list(self.roi)}

    @classmethod
    def from_dict(cls, values: Mapping) -> Preprocessing:
        """The inverse of `to_dict`; a missing or malformed field raises ValueError naming it."""
        try:
            return cls(dims=int(values["dims"]), modality=str(values["modality"]),
                       window=tuple(float(v) for v in values["window"]), roi=tuple(int(v) for v in values["roi"]))
        except KeyError as missing:
            raise ValueError(f"pre-processing lacks {missing}; it needs dims, modality, window and roi") from None
        except TypeError as error:
            raise ValueError(f"pre-processing {dict(values)} is malformed: {error}") from None


def fitting_roi(shape: Sequence[int], dims: int) -> tuple[int, ...]:
    """The smallest valid roi covering a slice (2D: shape[1:]) or volume (3D) of `shape`, capped at LARGEST_ROI."""
    divisor = roi_divisor(dims)
    return tuple(min(LARGEST_ROI[dims], divisor * math.ceil(side / divisor)) for side in shape[-dims:])


class FromHyperparameters:
    """Settings dataclasses built from a user's overrides as text (a run's hyper-parameters), field by field."""

    @classmethod
    def from_hyperparameters(cls, values: Mapping[str, str]):
        """Settings from a user's overrides as text ({"learning_rate": "1e-3", "roi": "160,160", "augment":
        "false"}); an unknown key or a value that does not parse or is out of range raises ValueError naming it."""
        defaults = {field.name: field.default for field in fields(cls)}
        parsed = {}
        for key, text in values.items():
            if key not in defaults:
                raise ValueError(f"unknown hyperparameter {key!r}; known: {', '.join(defaults)}")
            try:
                parsed[key] = _parse(text, defaults[key])
            except ValueError:
                raise ValueError(f"hyperparameter {key}={text!r} is not {_expected(defaults[key])}") from None
        try:
            return cls(**parsed)
        except ValueError as error:
            raise ValueError(f"hyperparameter {error}") from None


@dataclass(frozen=True)
class Settings(FromHyperparameters):
    """How a run trains; every field can be overridden by a hyperparameter of the same name (see
    `from_hyperparameters`). An epoch is `steps_per_epoch` batches; `patience` epochs without a better validation
    mean Dice stop the run (0: never); `threads` 0 leaves torch's count; `time_budget_s` 0 is no cap; `roi` () is
    the kind's default."""

    kind: str = "monai.unet2d"
    max_epochs: int = 40
    steps_per_epoch: int = 20
    batch_size: int = 8
    learning_rate: float = 3e-3
    weight_decay: float = 1e-5
    seed: int = 0
    patience: int = 10
    threads: int = 0
    time_budget_s: float = 0.0
    foreground_fraction: float = 0.67
    augment: bool = True
    modality: str = "CT"
    window: tuple[float, float] = CT_WINDOW
    roi: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not a model kind; choose one of {', '.join(KINDS)}")
        for name, low in (("max_epochs", 1), ("steps_per_epoch", 1), ("batch_size", 1), ("patience", 0),
                          ("threads", 0), ("time_budget_s", 0), ("weight_decay", 0)):
            if getattr(self, name) < low:
                raise ValueError(f"{name} must be ≥ {low}; got {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0; got {self.learning_rate}")
        if not 0 <= self.foreground_fraction <= 1:
            raise ValueError(f"foreground_fraction must be between 0 and 1; got {self.foreground_fraction}")
        _ = self.preprocessing  # building it refuses a bad roi or window

    @property
    def preprocessing(self) -> Preprocessing:
        """The pre-processing a model trained with these settings is stored with."""
        dims = KINDS[self.kind]
        return Preprocessing(dims=dims, modality=self.modality, window=self.window, roi=self.roi or DEFAULT_ROI[dims])


def _parse(text: str, default: object) -> object:
    """`text` as the type of `default` (tuples: comma-separated numbers like the default's items)."""
    text = str(text).strip()
    if isinstance(default, bool):
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(text)
        return text.lower() in ("true", "1", "yes")
    if isinstance(default, tuple):
        item = float if default and isinstance(default[0], float) else int
        return tuple(item(part) for part in text.split(",") if part.strip())
    return type(default)(text)


def _expected(default: object) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, tuple):
        return "comma-separated numbers (e.g. 160,160)"
    return {int: "a whole number", float: "a number", str: "text"}[type(default)]


@dataclass(frozen=True)
class SliceSettings(FromHyperparameters):
    """How a detection or classification run trains (a subclass per task gives its kinds and defaults); every field can
    be overridden by a hyperparameter of the same name. An epoch is `steps_per_epoch` batches of `batch_size` slices;
    `patience` epochs without a better validation mean score stop the run (0: never); `threads` 0 leaves torch's
    count; `time_budget_s` 0 is no cap; `roi` is the [rows, columns] box slices are scaled to fit."""

    TASK: ClassVar[str] = ""
    KINDS: ClassVar[tuple[str, ...]] = ()
    SMALLEST_BATCH: ClassVar[int] = 1

    kind: str = ""
    max_epochs: int = 30
    steps_per_epoch: int = 10
    batch_size: int = 8
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    patience: int = 10
    threads: int = 0
    time_budget_s: float = 0.0
    augment: bool = True
    modality: str = "CT"
    window: tuple[float, float] = CT_WINDOW
    roi: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"kind {self.kind!r} is not a {self.TASK} model kind; choose one of {', '.join(self.KINDS)}")
        for name, low in (("max_epochs", 1), ("steps_per_epoch", 1), ("batch_size", self.SMALLEST_BATCH),
                          ("patience", 0), ("threads", 0), ("time_budget_s", 0), ("weight_decay", 0)):
            if getattr(self, name) < low:
                raise ValueError(f"{name} must be ≥ {low}; got {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0; got {self.learning_rate}")
        _ = self.preprocessing  # building it refuses a bad roi or window

    @property
    def preprocessing(self) -> Preprocessing:
        """The pre-processing a model trained with these settings is stored with (its roi: the box slices are
        scaled to fit)."""
        return Preprocessing(dims=2, modality=self.modality, window=self.window, roi=self.roi)


@dataclass(frozen=True)
class DetectionSettings(SliceSettings):
    """A detection run's settings."""

    TASK: ClassVar[str] = "detection"
    KINDS: ClassVar[tuple[str, ...]] = DETECTION_KINDS

    kind: str = DETECTION_KINDS[0]
    roi: tuple[int, ...] = DETECTION_ROI


@dataclass(frozen=True)
class ClassificationSettings(SliceSettings):
    """A classification run's settings: batches of at least two slices (its batch norm needs them)."""

    TASK: ClassVar[str] = "classification"
    KINDS: ClassVar[tuple[str, ...]] = CLASSIFICATION_KINDS
    SMALLEST_BATCH: ClassVar[int] = 2

    kind: str = CLASSIFICATION_KINDS[0]
    batch_size: int = 16
    roi: tuple[int, ...] = CLASSIFICATION_ROI


TASKS = {**{kind: "segmentation" for kind in KINDS}, **{kind: "detection" for kind in DETECTION_KINDS},
         **{kind: "classification" for kind in CLASSIFICATION_KINDS}}
_SETTINGS = {"segmentation": Settings, "detection": DetectionSettings, "classification": ClassificationSettings}


def settings_for(kind: str, hyperparameters: Mapping[str, str]):
    """The settings of a run of `kind` with a user's hyper-parameters (ValueError naming what is wrong)."""
    if kind not in TASKS:
        raise ValueError(f"model kind {kind!r} is not one training knows; choose one of {', '.join(TASKS)}")
    return _SETTINGS[TASKS[kind]].from_hyperparameters({**hyperparameters, "kind": kind})
