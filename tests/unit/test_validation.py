"""Requests checked from their descriptors (shared/validation.py) and error messages kept short (shared/errors.py)."""

from __future__ import annotations

import math

import pytest

from radlab.anonymization.v1 import anonymization_service_pb2 as anonymization_pb
from radlab.annotation.v1 import annotation_service_pb2 as annotation_pb
from radlab.ingestion.v1 import ingestion_service_pb2 as ingestion_pb
from radlab.interpolation.v1 import interpolation_service_pb2 as interpolation_pb
from radlab.quoting import SHOWN_CHARS, shown
from radlab.training.v1 import training_service_pb2 as training_pb
from radlab.type.v1 import geometry_pb2, label_pb2
from radlab.workflow.v1 import workflow_service_pb2 as workflow_pb
from shared.config import Settings
from shared.errors import MAX_STATUS_BYTES, InvalidArgument, capped
from shared.validation import RequestLimits, check

LIMITS = RequestLimits(max_name_chars=16, max_text_chars=64, max_repeated=3)


def refusal(message, limits: RequestLimits = LIMITS) -> str:
    with pytest.raises(InvalidArgument) as refused:
        check(message, limits)
    return str(refused.value)


def test_a_request_within_every_limit_passes():
    check(ingestion_pb.GetSliceRequest(
        volume_id="a" * 16, plane=geometry_pb2.PLANE_AXIAL, position_mm=-12.5, format=ingestion_pb.SLICE_FORMAT_PNG,
        explicit_window=ingestion_pb.Window(center=40, width=400), colormap=ingestion_pb.COLORMAP_HOT,
    ), LIMITS)
    check(annotation_pb.CreateDatasetRequest(name="chest CT — ✓ 胸部", description="line one\nline two\ttabbed\r\n"), LIMITS)
    check(workflow_pb.CreateWorkflowRequest(stages=[workflow_pb.Stage(stage_id=str(n)) for n in range(3)]), LIMITS)


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_a_number_that_is_not_finite_is_refused_at_any_depth(number):
    assert refusal(ingestion_pb.GetSliceRequest(position_mm=number)) == f"position_mm must be a finite number, not {number}"
    window = refusal(ingestion_pb.GetSliceRequest(explicit_window=ingestion_pb.Window(center=40, width=number)))
    assert window.startswith("explicit_window.width must be a finite number")
    vertex = label_pb2.Point2(x=1, y=number)
    deep = interpolation_pb.InterpolateRequest(key_slices=[label_pb2.SliceLabel(polygons=[label_pb2.Polygon(vertices=[vertex])])])
    assert refusal(deep).startswith("key_slices[0].polygons[0].vertices[0].y must be a finite number")
    assert refusal(training_pb.RegisterModelRequest(metrics=[training_pb.Metric(value=number)])).startswith("metrics[0].value")


@pytest.mark.parametrize("seconds, nanos", [(0, -1), (0, 1_000_000_000), (253402300800, 0), (-62135596801, 0)])
def test_a_timestamp_that_is_no_time_is_refused_naming_the_field(seconds, nanos):
    request = annotation_pb.ListItemsRequest(dataset_id="d")
    request.create_after.seconds, request.create_after.nanos = seconds, nanos
    with pytest.raises(InvalidArgument, match="create_after is not a time"):
        check(request)
    request.create_after.seconds, request.create_after.nanos = 1_800_000_000, 999_999_999
    check(request)


def test_an_enum_number_the_enum_does_not_define_is_refused_naming_the_values():
    message = refusal(ingestion_pb.GetSliceRequest(format=7))
    assert message.startswith("format is 7, which is not a SliceFormat value; use one of SLICE_FORMAT_UNSPECIFIED,")
    assert refusal(ingestion_pb.GetSliceRequest(window_preset=-1)).startswith("window_preset is -1, which is not a WindowPreset")
    assert refusal(ingestion_pb.GetSliceRequest(colormap=5)).startswith("colormap is 5")
    assert refusal(ingestion_pb.GetSliceRequest(plane=2**31 - 1)).startswith("plane is 2147483647")
    stage = workflow_pb.Stage(kind=workflow_pb.STAGE_KIND_REVIEW, assignment=workflow_pb.AssignmentSettings(policy=42))
    assert refusal(workflow_pb.CreateWorkflowRequest(stages=[stage])).startswith("stages[0].assignment.policy is 42")


def test_ids_and_names_are_short_and_free_text_long_and_neither_is_echoed():
    assert refusal(ingestion_pb.GetVolumeRequest(volume_id="v" * 17)) == "volume_id is 17 characters long; at most 16 are allowed"
    huge = refusal(ingestion_pb.GetVolumeRequest(volume_id="v" * 100_000), RequestLimits())
    assert huge == "volume_id is 100000 characters long; at most 256 are allowed"
    check(annotation_pb.CreateDatasetRequest(description="d" * 64), LIMITS)  # free text: the text limit
    assert refusal(annotation_pb.CreateDatasetRequest(description="d" * 65)).startswith("description is 65 characters")
    check(training_pb.RegisterModelRequest(artifact_uri="s3://models/" + "k" * 52), LIMITS)  # a location: as long as text
    assert refusal(workflow_pb.SubmitReviewRequest(comment="c" * 65)).startswith("comment is 65")


@pytest.mark.parametrize("character", ["\x00", "\n", "\r", "\x1b", "\x7f", "\x85", "\u2028", "\u202e", "\u2066"])
def test_an_id_or_name_holding_a_control_character_is_refused(character):
    message = refusal(annotation_pb.ShareDatasetRequest(dataset_id="d-1", vendor_id=f"acme{character}"))
    assert message == f"vendor_id holds the control character U+{ord(character):04X}, which an id or a name may not hold"


def test_free_text_keeps_line_breaks_and_tabs_but_not_other_control_characters():
    check(workflow_pb.SubmitReviewRequest(comment="fix slice 12:\n\tthe liver\r\n"), LIMITS)
    assert refusal(workflow_pb.SubmitReviewRequest(comment="bell\x07")).endswith("which text may not hold")
    check(workflow_pb.SubmitReviewRequest(comment="שלום \u202bmixed\u202c"), LIMITS)  # bidi marks belong in text


def test_repeated_and_map_fields_are_bounded_and_their_entries_checked():
    assert refusal(training_pb.StartTrainingRunRequest(item_ids=["i"] * 4)) == "item_ids has 4 entries; at most 3 are allowed"
    assert refusal(training_pb.StartTrainingRunRequest(item_ids=["ok", "x" * 17])).startswith("item_ids[1] is 17 characters")
    many = {f"k{n}": n for n in range(4)}
    assert refusal(annotation_pb.ImportLabelsRequest(label_mapping=many)).startswith("label_mapping has 4 entries")
    assert refusal(annotation_pb.ImportLabelsRequest(label_mapping={"liver\x00": 1})).startswith("label_mapping (a key) holds")
    config = training_pb.TrainingConfig(hyperparameters={"lr": "1e-3\n"})
    assert refusal(training_pb.StartTrainingRunRequest(config=config)).startswith("config.hyperparameters (a value) holds")
    check(annotation_pb.GetAnnotationRequest(slice_indices=list(range(3))), LIMITS)
    assert refusal(annotation_pb.GetAnnotationRequest(slice_indices=list(range(4)))).startswith("slice_indices has 4")


def test_a_oneof_is_checked_on_whichever_member_is_set():
    assert refusal(anonymization_pb.LookupPseudonymRequest(sop_instance_uid="1.2\x00")).startswith("sop_instance_uid holds")
    assert refusal(ingestion_pb.GetThumbnailRequest(series_id="s" * 17)).startswith("series_id is 17")


def test_the_limits_are_settings_with_single_machine_defaults():
    defaults = RequestLimits.of(Settings.from_env({}))
    assert defaults == RequestLimits() == RequestLimits(256, 64 << 10, 10_000)
    tuned = Settings.from_env({"RADLAB_REQUEST_MAX_NAME_CHARS": "64", "RADLAB_REQUEST_MAX_TEXT_CHARS": "1000",
                               "RADLAB_REQUEST_MAX_REPEATED": "50"})
    assert RequestLimits.of(tuned) == RequestLimits(64, 1000, 50)
    for bad in ("0", "-1", "1e3", "lots", "²"):
        with pytest.raises(ValueError, match="RADLAB_REQUEST_MAX_REPEATED must be a whole number above 0"):
            Settings.from_env({"RADLAB_REQUEST_MAX_REPEATED": bad})


def test_shown_quotes_a_callers_value_shortened_and_printable():
    assert shown("volume-1") == "'volume-1'"
    long = shown("v" * 100_000)
    assert long == "'" + "v" * SHOWN_CHARS + "…'"
    assert shown("a\x00b\n\u202e") == "'a\\x00b\\n\\u202e'"
    assert shown("x" * 40, limit=8) == "'xxxxxxxx…'"


def test_capped_keeps_a_message_within_its_bytes_at_a_character_boundary():
    assert capped("volume 'v' not found") == "volume 'v' not found"
    for message in ("x" * 5000, "é" * 5000, "😀" * 5000):
        cut = capped(message)
        assert len(cut.encode()) <= MAX_STATUS_BYTES and cut.endswith("…") and message.startswith(cut[:-1])
