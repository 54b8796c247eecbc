"""Training's split: one patient's items never on both sides; fewer than three patients are split by slice, and say so."""

from __future__ import annotations

import pytest

from services.training.domain.split import split


def test_a_patients_items_stay_on_one_side():
    patients = {f"item-{n}": f"patient-{n % 7}" for n in range(40)}
    chosen = split(patients, {}, 0.2)
    assert chosen.how == "patients" and set(chosen.training) | set(chosen.validation) == set(patients)
    training = {patients[item] for item in chosen.training}
    validation = {patients[item] for item in chosen.validation}
    assert training and validation and not training & validation
    assert len(validation) == round(0.2 * 7)
    assert split(patients, {}, 0.2) == chosen  # the same split for the same seed, run after run


def test_items_without_a_pseudonym_count_as_patients_of_their_own():
    chosen = split({"a": "", "b": "", "c": "p"}, {}, 0.34)
    assert chosen.how == "patients" and len(chosen.validation) == 1 and len(chosen.training) == 2


@pytest.mark.parametrize("patients", [{"a": "p", "b": "p"}, {"a": "p", "b": "q"}, {"a": "", "b": ""}])
def test_fewer_than_three_patients_are_split_by_slice_spread_over_the_labelled_ones(patients):
    """One patient, or two (holding one out would train on the other alone): every item trains and validates."""
    chosen = split(patients, {"a": list(range(10, 30)), "b": [4, 5, 6]}, 0.2)
    assert chosen.how == "slices" and chosen.training == chosen.validation == ("a", "b")
    assert len(chosen.held_out_slices["a"]) == 4 and set(chosen.held_out_slices["a"]) <= set(range(10, 30))
    assert max(chosen.held_out_slices["a"]) - min(chosen.held_out_slices["a"]) >= 10  # spread, not one block
    assert len(chosen.held_out_slices["b"]) == 1


def test_what_cannot_be_split_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="at least 2 per item"):
        split({"a": "p"}, {"a": [3]}, 0.2)
    with pytest.raises(ValueError, match="between 0 and 1"):
        split({"a": "p", "b": "q"}, {}, 1.0)
    with pytest.raises(ValueError, match="no items"):
        split({}, {}, 0.2)
