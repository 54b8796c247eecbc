"""The automatic method's choice per label on the benchmark's real labelled volumes: what it picks, why, and that
each label is filled with the method it was given."""

from __future__ import annotations

import numpy as np
import pytest

from bench import interpolation as bench
from services.interpolation.domain import choice
from services.interpolation.domain.fill import LabelKeys, Method, fill, keys_from_slices, weigh
from shared.errors import InvalidArgument


def keyed(name: str, k: int):
    """A benchmark case, its keys every k-th slice and its labels on those keys only."""
    case = bench.load_case(name)
    keys = bench.key_slices(case.labels, case.axis, k)
    return case, keys, bench.given_keys(case, keys)


def test_the_spleen_with_its_image_chooses_the_image_guided_filler_on_its_own_keys():
    """Keys every 3rd slice: the spleen's six inner keys, predicted from their neighbours, rank the image-guided
    filler first; the fill uses it and keeps issue 6's accuracy (held-out Dice ≥ 0.975; 0.978 measured)."""
    case, keys, given = keyed("spleen CT", 3)
    out = fill(given, keys_from_slices(given, keys, case.axis), axis=case.axis, image=case.image, spacing=case.spacing)

    assert out.method is Method.AUTOMATIC
    made = out.choices[1]
    assert made.method == choice.IMAGE_GUIDED and made.reason.startswith("best on 6 inner key slice(s)")
    scores = made.validation.dice()
    assert max(scores, key=scores.get) == choice.IMAGE_GUIDED and scores[choice.NEAREST_KEY] < 0.8
    held = bench.held_out(case.labels, case.axis, keys)
    assert bench.score(case.labels, out.labels, case.axis, held, case.spacing, 0.0, hd95=False).dice >= 0.975


def test_each_label_of_the_41_organ_ct_is_filled_by_the_method_chosen_for_it():
    """Without the image the organs' own keys choose different methods (shape for most, copying for some); every
    label's filled pixels come from its own method's filling, and `fill` gives exactly the weighing's composition."""
    case, keys, given = keyed("41-organ CT", 3)
    label_keys = keys_from_slices(given, keys, case.axis)
    weighing = weigh(given, label_keys, axis=case.axis, spacing=case.spacing)
    choices = weighing.decide(choice.DEFAULT)
    composed, filled = weighing.compose(choices)

    assert {made.method for made in choices.values()} >= {choice.SHAPE, choice.NEAREST_KEY}
    for value, made in choices.items():
        if made.method != choice.BLEND:
            own = weighing.result(made.method) == value
            assert ((composed == value) <= (own | (weighing.volume == value))).all(), value
    out = fill(given, label_keys, axis=case.axis, spacing=case.spacing)
    assert np.array_equal(out.labels, np.moveaxis(composed, 0, case.axis)) and out.filled == filled
    assert {value: made.method for value, made in out.choices.items()} == {v: m.method for v, m in choices.items()}


def test_settings_steer_the_choice_on_real_keys():
    """A large bonus for copying copies every validated label; without the blend no label is blended."""
    case, keys, given = keyed("41-organ CT", 3)
    weighing = weigh(given, keys_from_slices(given, keys, case.axis), axis=case.axis, spacing=case.spacing)
    copied = weighing.decide(choice.Settings(copy_bonus=1.0))
    validated = [value for value, made in copied.items() if made.validation.keys]
    assert validated and all(copied[value].method == choice.NEAREST_KEY for value in validated)
    assert "(+1.00: the real gap is half as wide)" in copied[validated[0]].reason
    assert all(made.method != choice.BLEND for made in weighing.decide(choice.Settings(blend=False)).values())


def test_rootlets_nobody_could_predict_are_copied_and_ones_on_a_single_key_say_so():
    """Nerve rootlets (a few pixels each) with keys every 6th slice: label 6's one inner key was predicted by no
    candidate, so it is copied, the simplest; label 7, drawn on one key only, has nothing to validate and is copied
    up to halfway (the default), or shrunk to nothing there."""
    case, keys, given = keyed("rootlets", 6)
    out = fill(given, keys_from_slices(given, keys, case.axis), axis=case.axis, image=case.image, spacing=case.spacing)

    assert out.choices[6].method == choice.NEAREST_KEY
    assert out.choices[6].reason == "no candidate predicted any of its 1 inner key slice(s): copied, the simplest"
    assert out.choices[7] == choice.Choice(choice.NEAREST_KEY, "drawn on one key slice only: nothing to validate, copied "
                                                               "up to halfway to the next key", out.choices[7].validation)
    shrunk = fill(given, keys_from_slices(given, keys, case.axis), axis=case.axis, image=case.image, spacing=case.spacing,
                  settings=choice.Settings(one_key_copy=False))
    assert shrunk.choices[7].method == choice.IMAGE_GUIDED and "shrinks to nothing halfway" in shrunk.choices[7].reason


def test_a_rootlet_on_two_keys_is_copied_as_its_keys_barely_overlap_and_its_gap_dwarfs_it():
    """Label 5 drawn on two keys four slices apart, nothing inside to validate: its keys overlap less than a minimum
    overlap asks, and the gap (4 mm) is wider than the rootlet (about 3 mm): either way no outline is carried
    across; it is copied to the nearer half of the gap."""
    case = bench.load_case("rootlets")
    labels = np.moveaxis(case.labels, case.axis, 0)
    given = np.zeros_like(labels)
    given[[40, 44]] = np.where(labels[[40, 44]] == 5, 5, 0)
    keys = {5: LabelKeys(drawn=(40, 44), absent=())}
    image = np.moveaxis(case.image, case.axis, 0)
    by_overlap = fill(given, keys, image=image, settings=choice.Settings(min_overlap=0.3, max_gap_ratio=np.inf))
    by_gap = fill(given, keys, image=image)

    assert by_overlap.choices[5].method == choice.NEAREST_KEY and by_overlap.choices[5].overlap < 0.3
    assert by_overlap.choices[5].reason.startswith("no inner key slice to validate on; consecutive keys overlap")
    assert by_gap.choices[5].method == choice.NEAREST_KEY
    assert by_gap.choices[5].reason.startswith("no inner key slice to validate on; its gaps are 1.")
    assert "× its width (> 0.5): too thin to carry an outline across, copied" in by_gap.choices[5].reason
    for out in (by_overlap, by_gap):
        assert np.array_equal(out.labels[41] == 5, given[40] == 5) and np.array_equal(out.labels[43] == 5, given[44] == 5)
    shrunk = fill(given, keys, image=image, settings=choice.Settings(max_gap_ratio=np.inf))
    assert shrunk.choices[5].method == choice.IMAGE_GUIDED and "interpolated" in shrunk.choices[5].reason


def test_a_method_asked_for_is_used_for_every_label_and_the_blend_only_chosen():
    case, keys, given = keyed("spleen CT", 6)
    label_keys = keys_from_slices(given, keys, case.axis)
    out = fill(given, label_keys, axis=case.axis, method=Method.NEAREST_KEY, spacing=case.spacing)
    assert out.method is Method.NEAREST_KEY and out.choices[1] == choice.Choice(choice.NEAREST_KEY, "asked for")
    with pytest.raises(InvalidArgument, match="chosen per label by the automatic method"):
        fill(given, label_keys, axis=case.axis, method=Method.BLEND)
