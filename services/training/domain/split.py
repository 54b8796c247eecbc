"""A run's training/validation split: by patient, so one patient's items never sit on both sides; by slice when the
examples come from fewer than three patients (holding one of two out would leave a model that learns from a single
patient, validated on a single one), and the split says so."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DEFAULT_VALIDATION_FRACTION = 0.2
# The fewest patients a run holds whole patients out of: one validates, at least two train.
MIN_PATIENTS_TO_HOLD_OUT = 3


@dataclass(frozen=True)
class Split:
    """Which items train and which validate; with `how` "slices", every item does both, on the slices named."""

    how: str  # "patients" or "slices"
    training: tuple[str, ...]
    validation: tuple[str, ...]
    # how == "slices": per item, the labelled slice indices held out for validation (the rest train).
    held_out_slices: Mapping[str, tuple[int, ...]]

    def to_dict(self) -> dict:
        return {"how": self.how, "training": list(self.training), "validation": list(self.validation),
                "held_out_slices": {item: list(slices) for item, slices in self.held_out_slices.items()}}


def split(patients: Mapping[str, str], labelled_slices: Mapping[str, Sequence[int]], validation_fraction: float,
          seed: int = 0) -> Split:
    """Split items (item id → patient pseudonym; an empty pseudonym counts as a patient of its own) by patient, about
    `validation_fraction` of the patients validating; with fewer than MIN_PATIENTS_TO_HOLD_OUT patients, hold out that
    share of each item's labelled slices instead, spread evenly over them."""
    if not patients:
        raise ValueError("no items to split")
    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction must be between 0 and 1 (exclusive); got {validation_fraction:g}")
    people = {item: patient or f"item:{item}" for item, patient in patients.items()}
    distinct = sorted(set(people.values()), key=lambda patient: _rank(patient, seed))
    if len(distinct) < MIN_PATIENTS_TO_HOLD_OUT:
        return _by_slice(sorted(patients), labelled_slices, validation_fraction)
    held_out = set(distinct[:min(len(distinct) - 1, max(1, round(validation_fraction * len(distinct))))])
    items = sorted(patients)
    return Split("patients", tuple(item for item in items if people[item] not in held_out),
                 tuple(item for item in items if people[item] in held_out), {})


def _by_slice(items: list[str], labelled_slices: Mapping[str, Sequence[int]], validation_fraction: float) -> Split:
    held_out = {}
    for item in items:
        slices = sorted(labelled_slices.get(item, ()))
        if len(slices) < 2:
            raise ValueError(f"item {item} has {len(slices)} labelled slice(s); a run on fewer than "
                             f"{MIN_PATIENTS_TO_HOLD_OUT} patients validates on each item's held-out slices and needs "
                             f"at least 2 per item (better: items of {MIN_PATIENTS_TO_HOLD_OUT} patients or more)")
        count = min(len(slices) - 1, max(1, round(validation_fraction * len(slices))))
        step = len(slices) / count
        held_out[item] = tuple(slices[int(step * (n + 0.5))] for n in range(count))
    return Split("slices", tuple(items), tuple(items), held_out)


def _rank(patient: str, seed: int) -> str:
    """A stable pseudo-random order of patients, the same on every machine for one seed."""
    return hashlib.sha256(f"{seed}/{patient}".encode()).hexdigest()
