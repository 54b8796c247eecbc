"""What de-identifying one instance gives: the output, the report of what was done, the hold decision, or the failure."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from io import BytesIO

import pydicom
from pydicom.dataset import Dataset

from shared.errors import InvalidArgument


class AnonymizationFailed(InvalidArgument):
    """The input cannot be de-identified safely; nothing was produced. The message says what to do."""


@dataclass(frozen=True)
class PseudonymEntry:
    """One original → replacement pair, to be stored encrypted so authorised re-identification stays possible."""

    kind: str
    original: str
    pseudonym: str


# What became of an attribute kept cleaned (C): kept, domain/vouched.py vouching for it, or replaced.
VOUCHED, REPLACED = "kept as vouched", "replaced"


class HoldKind(Enum):
    """Why an instance is held for review instead of released."""

    BURNED_IN_ANNOTATION = "burned-in annotation"  # the instance says its pixels carry text
    RISKY_IMAGE_TYPE = "risky image type"  # a modality that often burns text in, and no word either way
    HIDDEN_OVERLAY_BITS = "hidden overlay bits"  # compressed pixels use bits above Bits Stored, or cannot be checked
    TEXT_DETECTED = "text detected"  # text read in the pixels names someone (or the pixels could not be read)


@dataclass
class Report:
    """What the engine did to one instance: element counts per action, what became of each attribute kept cleaned
    (`cleaned`: (keyword, VOUCHED or REPLACED) → count, never the values), the hold decision, the pseudonym pairs, and
    the burned-in text filled in the pixels."""

    actions: Counter = field(default_factory=Counter)
    cleaned: Counter = field(default_factory=Counter)
    held_kind: HoldKind | None = None
    held_reason: str | None = None  # for the reviewer: what was found and what to do
    pseudonyms: list[PseudonymEntry] = field(default_factory=list)
    overlay_bits_cleared: bool = False
    redacted: list[str] = field(default_factory=list)  # burned-in text filled: where and why, never the text
    to_read: str | None = None  # why the pixels must be read for burned-in text (pixel_text.reading_reason), or None

    @property
    def held(self) -> bool:
        return self.held_reason is not None

    def clean(self, keyword: str, kept: bool) -> None:
        """Record that a C attribute was kept as vouched for, or replaced by the profile's basic action."""
        self.cleaned[keyword, VOUCHED if kept else REPLACED] += 1

    def release(self) -> None:
        """Lift a hold the header's flags made, once the pixels were read and cleaned."""
        self.held_kind, self.held_reason = None, None

    def hold(self, kind: HoldKind, reason: str | None) -> None:
        """Hold the instance for `reason` (None: nothing found) unless already held: the first reason found is reported."""
        if reason is not None and self.held_reason is None:
            self.held_kind, self.held_reason = kind, reason


@dataclass(frozen=True)
class Identity:
    """The de-identified instance's replaced UIDs and modality: what its object key and records are made of."""

    study_uid: str
    series_uid: str
    instance_uid: str
    modality: str


@dataclass
class Deidentified:
    """The de-identified instance as Part 10 bytes, who it now is, the report, and which engine made it
    ("bytes" or "dataset"); `dataset` parses the bytes when first asked (the engines do not keep one)."""

    data: bytes
    identity: Identity
    report: Report
    engine: str

    @cached_property
    def dataset(self) -> Dataset:
        return pydicom.dcmread(BytesIO(self.data))
