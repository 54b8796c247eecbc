"""Pure domain rules: dataset fields, workflow stage lists, and List RPC page tokens and sizes."""

from __future__ import annotations

import base64

import pytest

from radlab.workflow.v1 import workflow_service_pb2 as pb
from services.annotation.domain import datasets
from services.workflow.domain import stages
from shared import paging
from shared.errors import InvalidArgument

# ---- datasets -------------------------------------------------------------------------------------


def test_a_dataset_name_is_trimmed():
    """Surrounding whitespace is dropped; inner spaces and non-ASCII letters are kept."""
    assert datasets.clean_name("  Chest CT — Ärzte 2024 \t") == "Chest CT — Ärzte 2024"


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_an_empty_dataset_name_is_refused(name):
    """A blank name is refused, saying a name is needed."""
    with pytest.raises(InvalidArgument, match="a dataset needs a name"):
        datasets.clean_name(name)


def test_a_dataset_name_may_be_as_long_as_the_limit_but_no_longer():
    """MAX_NAME characters pass; one more is refused, with both lengths in the message."""
    assert datasets.clean_name("n" * datasets.MAX_NAME) == "n" * datasets.MAX_NAME
    with pytest.raises(InvalidArgument, match=f"{datasets.MAX_NAME + 1} characters long; the limit is {datasets.MAX_NAME}"):
        datasets.clean_name("n" * (datasets.MAX_NAME + 1))


@pytest.mark.parametrize("name", ["chest\x00CT", "chest\nCT", "chest\x1b[31mCT", "chest\u202eCT"])
def test_a_dataset_name_with_control_characters_is_refused(name):
    """NUL, newlines, escape sequences and bidi overrides inside a name are refused."""
    with pytest.raises(InvalidArgument, match="control characters"):
        datasets.clean_name(name)


def test_a_chosen_dataset_id_must_be_a_canonical_uuid_and_none_chosen_gets_a_new_one():
    """A canonical lower-case UUID is kept; upper case, braces, no hyphens or other text are refused saying the form;
    an empty id becomes a new UUID each time."""
    chosen = "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert datasets.chosen_dataset_id(chosen) == chosen
    for wrong in (chosen.upper(), "{" + chosen + "}", chosen.replace("-", ""), "ct-2024", "../x"):
        with pytest.raises(InvalidArgument, match="canonical form"):
            datasets.chosen_dataset_id(wrong)
    first, second = datasets.chosen_dataset_id(""), datasets.chosen_dataset_id("")
    assert first != second and datasets.chosen_dataset_id(first) == first


def test_a_description_is_trimmed_and_limited():
    """A description keeps its inner lines, loses surrounding whitespace, and may not pass MAX_DESCRIPTION."""
    assert datasets.clean_description("  line one\nline two  \n") == "line one\nline two"
    assert datasets.clean_description("") == ""
    assert datasets.clean_description("d" * datasets.MAX_DESCRIPTION) == "d" * datasets.MAX_DESCRIPTION
    with pytest.raises(InvalidArgument, match=f"description is {datasets.MAX_DESCRIPTION + 1} characters long"):
        datasets.clean_description("d" * (datasets.MAX_DESCRIPTION + 1))


@pytest.mark.parametrize("vendor_id", ["acme", "acme-labs", "labs.eu_2", "7seas", "a" * 63])
def test_valid_vendor_ids_pass_unchanged(vendor_id):
    """Lowercase letters, digits, '.', '_' and '-', starting with a letter or digit, up to 63 characters."""
    assert datasets.clean_vendor_id(vendor_id) == vendor_id


@pytest.mark.parametrize(
    "vendor_id", ["", "Acme", "acme-Labs", "-acme", ".acme", "acme labs", "acme/labs", "acmé", "a" * 64, "acme\n", " acme"]
)
def test_invalid_vendor_ids_are_refused(vendor_id):
    """Uppercase, a leading '-' or '.', spaces, slashes, non-ASCII, 64 characters or a trailing newline are refused."""
    with pytest.raises(InvalidArgument, match=r"vendor id .* is not valid: use lowercase letters"):
        datasets.clean_vendor_id(vendor_id)


def test_a_vendor_sees_only_datasets_shared_with_it():
    """Visibility is membership in the dataset's shared-with set."""
    assert datasets.visible_to_vendor({"acme", "globex"}, "acme")
    assert not datasets.visible_to_vendor({"globex"}, "acme")
    assert not datasets.visible_to_vendor(set(), "")


# ---- workflow stages ------------------------------------------------------------------------------


def annotate(stage_id="annotate", **fields) -> pb.Stage:
    return pb.Stage(stage_id=stage_id, name=stage_id, kind=pb.STAGE_KIND_ANNOTATE, **fields)


def review(stage_id="review", **settings) -> pb.Stage:
    return pb.Stage(stage_id=stage_id, name=stage_id, kind=pb.STAGE_KIND_REVIEW, review=pb.ReviewSettings(**settings))


def consensus(stage_id="consensus", **settings) -> pb.Stage:
    values = {"annotator_count": 3, "agreement_threshold": 0.8} | settings
    return pb.Stage(stage_id=stage_id, name=stage_id, kind=pb.STAGE_KIND_CONSENSUS, consensus=pb.ConsensusSettings(**values))


def complete(stage_id="complete") -> pb.Stage:
    return pb.Stage(stage_id=stage_id, name=stage_id, kind=pb.STAGE_KIND_COMPLETE)


def test_the_default_workflow_is_valid_and_ends_complete():
    """annotate → review (rejects back to annotate) → complete passes validation."""
    default = stages.default_stages()
    stages.validate(default)
    assert [stage.stage_id for stage in default] == ["annotate", "review", "complete"]
    assert default[1].review.reject_stage_id == "annotate"


def test_a_workflow_with_every_kind_of_stage_is_valid():
    """Annotate, consensus (disputes to review), review sampling half, model, complete pass validation."""
    model = pb.Stage(stage_id="model", kind=pb.STAGE_KIND_MODEL, model=pb.ModelSettings(model_kind="monai.segresnet"))
    stages.validate(
        [model, annotate(), consensus(disputed_stage_id="review"), review(sample_fraction=0.5, reject_stage_id="annotate"), complete()]
    )


@pytest.mark.parametrize(
    ("stage_list", "message"),
    [
        ([complete()], "at least two stages"),
        ([annotate(""), complete()], "every stage needs a stage_id"),
        ([annotate(), review("annotate"), complete()], "repeated: annotate"),
        ([annotate(), review()], "the last stage must be COMPLETE"),
        ([pb.Stage(stage_id="triage"), annotate(), complete()], "stage triage has no kind"),
        ([annotate(), complete("done"), complete()], "stage done is COMPLETE but not last"),
        ([annotate(next_stage_id="qa"), complete()], "stage annotate points to unknown stage 'qa'"),
        ([annotate(), review(reject_stage_id="redo"), complete()], "stage review points to unknown stage 'redo'"),
        ([annotate(), consensus(disputed_stage_id="arbiter"), complete()], "stage consensus points to unknown stage 'arbiter'"),
        ([annotate(), review(sample_fraction=1.5), complete()], "stage review: sample_fraction must be between 0 and 1"),
        ([annotate(), review(sample_fraction=-0.1), complete()], "stage review: sample_fraction must be between 0 and 1"),
        ([annotate(), consensus(annotator_count=1), complete()], "STAGE_KIND_CONSENSUS stage consensus needs annotator_count"),
        ([annotate(), consensus(agreement_threshold=0.0), complete()], "stage consensus needs limits, or agreement_threshold"),
        ([annotate(), consensus(agreement_threshold=1.2), complete()], "stage consensus needs agreement_threshold in"),
    ],
    ids=[
        "one-stage", "no-id", "duplicate-id", "last-not-complete", "no-kind", "complete-not-last", "unknown-next",
        "unknown-reject", "unknown-disputed", "sample-above-1", "sample-negative", "one-annotator",
        "zero-threshold", "threshold-above-1",
    ],
)
def test_an_invalid_stage_list_is_refused_naming_the_problem(stage_list, message):
    """Each rule broken raises InvalidArgument whose message names the offending stage (or rule)."""
    with pytest.raises(InvalidArgument) as raised:
        stages.validate(stage_list)
    assert message in str(raised.value)


# ---- paging ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("position", [1, 50, 123_456_789])
def test_a_page_token_round_trips_its_position(position):
    """decode(encode(n)) == n, and the token is URL-safe text."""
    token = paging.encode(position)
    assert paging.decode(token) == position
    assert token.isascii() and not set(token) & set("+/ ")


def test_no_page_token_means_the_first_page():
    """An empty page_token starts at position 0."""
    assert paging.decode("") == 0


@pytest.mark.parametrize(
    "token",
    [
        "not a token",
        "%%%%",
        base64.urlsafe_b64encode(b"x12").decode(),
        base64.urlsafe_b64encode(b"p").decode(),
        base64.urlsafe_b64encode(b"pabc").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        base64.urlsafe_b64encode(b"p-5").decode(),
        base64.urlsafe_b64encode(b"p" + b"9" * 30).decode(),
    ],
    ids=["text", "not-base64", "wrong-prefix", "no-number", "not-a-number", "not-utf8", "negative", "beyond-int64"],
)
def test_a_forged_page_token_is_refused(token):
    """A token this server never issued (including negative or out-of-range positions) is InvalidArgument."""
    with pytest.raises(InvalidArgument, match="page_token is not one this server issued; start again without it"):
        paging.decode(token)


def test_page_size_defaults_caps_and_refuses_negative():
    """0 means DEFAULT_PAGE_SIZE, sizes above MAX_PAGE_SIZE are capped, a negative size is refused."""
    assert paging.page_size(0) == paging.DEFAULT_PAGE_SIZE
    assert paging.page_size(7) == 7
    assert paging.page_size(paging.MAX_PAGE_SIZE) == paging.MAX_PAGE_SIZE
    assert paging.page_size(paging.MAX_PAGE_SIZE + 1) == paging.MAX_PAGE_SIZE
    with pytest.raises(InvalidArgument, match="page_size must not be negative"):
        paging.page_size(-1)


def test_a_workflow_graph_with_an_unreachable_stage_or_a_cycle_without_exit_is_refused_naming_the_stage():
    wpb, validate, default_stages = pb, stages.validate, stages.default_stages
    annotate = wpb.Stage(stage_id="annotate", kind=wpb.STAGE_KIND_ANNOTATE)
    orphan = wpb.Stage(stage_id="second-look", kind=wpb.STAGE_KIND_REVIEW, next_stage_id="done")
    done = wpb.Stage(stage_id="done", kind=wpb.STAGE_KIND_COMPLETE)
    with pytest.raises(InvalidArgument, match="stage second-look is never reached"):
        validate([wpb.Stage(stage_id="annotate", kind=wpb.STAGE_KIND_ANNOTATE, next_stage_id="done"), orphan, done])
    loop = [wpb.Stage(stage_id="annotate", kind=wpb.STAGE_KIND_ANNOTATE, next_stage_id="review"),
            wpb.Stage(stage_id="review", kind=wpb.STAGE_KIND_REVIEW, next_stage_id="annotate"), done]
    with pytest.raises(InvalidArgument, match="stage annotate never leads to COMPLETE"):
        validate(loop)
    with pytest.raises(InvalidArgument, match="fewer|at least 2"):
        validate([wpb.Stage(stage_id="read", kind=wpb.STAGE_KIND_CONSENSUS, consensus=wpb.ConsensusSettings(
            annotator_count=1, agreement_threshold=0.8)), wpb.Stage(stage_id="r", kind=wpb.STAGE_KIND_REVIEW), done])
    with pytest.raises(InvalidArgument, match="stage read.*min_dice"):
        validate([wpb.Stage(stage_id="read", kind=wpb.STAGE_KIND_CONSENSUS, consensus=wpb.ConsensusSettings(
            annotator_count=2, limits=[wpb.MeasureLimit(measure=wpb.AGREEMENT_MEASURE_DICE, limit=1.5)])),
            wpb.Stage(stage_id="r", kind=wpb.STAGE_KIND_REVIEW), done])
    validate(default_stages())
    validate([annotate, done])


def test_a_route_holds_on_tags_classes_and_consensus_agreement():
    from services.workflow.domain.routing import ItemFacts, holds

    facts = ItemFacts(frozenset({"urgent"}), frozenset({3}), 0.72)
    assert holds(pb.Route(stage_id="x", tag="urgent"), facts) and not holds(pb.Route(stage_id="x", tag="chest"), facts)
    assert holds(pb.Route(stage_id="x", label_present=3), facts) and not holds(pb.Route(stage_id="x", label_present=4), facts)
    assert holds(pb.Route(stage_id="x", below_agreement=0.8), facts) and not holds(pb.Route(stage_id="x", min_agreement=0.8), facts)
    assert not holds(pb.Route(stage_id="x", min_agreement=0.1), ItemFacts())  # no consensus yet: no agreement to meet
