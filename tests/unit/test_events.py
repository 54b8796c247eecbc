"""Events on the wire: envelope ↔ `ce_*` headers ↔ bus record ↔ decoded payload, and what is refused."""

from __future__ import annotations

import pytest

from radlab.annotation.v1 import events_pb2 as annotation_events
from radlab.ingestion.v1 import events_pb2 as ingestion_events
from shared import events
from shared.bus.port import Record
from shared.events import UndecodableEvent


def as_record(envelope, headers: dict[str, str] | None = None, offset: int = 7) -> Record:
    """The record a bus hands a consumer for `envelope` (its headers replaceable to forge bad records)."""
    headers = events.to_headers(envelope) if headers is None else headers
    return Record(envelope.type, 0, offset, envelope.subject, envelope.payload, headers)


@pytest.fixture
def created():
    msg = annotation_events.DatasetCreated(dataset_id="ds-42", name="chest CT", creator="alice")
    envelope = events.envelope_for(msg, source="radlab.annotation", subject="ds-42", tenant="hospital-a", trace_id="trace-1")
    return msg, envelope


def test_event_type_is_the_full_proto_name():
    """An event's type (and topic) is its message's full proto name, from a class or an instance."""
    assert events.event_type(annotation_events.DatasetCreated) == "radlab.annotation.v1.DatasetCreated"
    assert events.event_type(ingestion_events.VolumeReady()) == "radlab.ingestion.v1.VolumeReady"


def test_envelope_survives_headers_record_and_decoding(created):
    """envelope → to_headers → Record → from_record → decode keeps every attribute and the payload."""
    msg, envelope = created
    back = events.from_record(as_record(envelope))
    assert (back.id, back.type, back.source, back.subject, back.tenant, back.trace_id) == (
        envelope.id, "radlab.annotation.v1.DatasetCreated", "radlab.annotation", "ds-42", "hospital-a", "trace-1"
    )
    assert back.time == envelope.time and back.time.seconds > 0
    assert back == envelope
    event = events.decode(back)
    assert isinstance(event.message, annotation_events.DatasetCreated)
    assert event.message == msg
    assert (event.id, event.type) == (envelope.id, envelope.type)


def test_each_envelope_gets_a_fresh_id_and_a_trace_id():
    """Two envelopes of one message differ in id; a missing trace id is filled in."""
    msg = annotation_events.DatasetCreated(dataset_id="ds-1")
    first = events.envelope_for(msg, source="radlab.annotation", subject="ds-1", tenant="t")
    second = events.envelope_for(msg, source="radlab.annotation", subject="ds-1", tenant="t")
    assert first.id != second.id
    assert first.trace_id and first.trace_id != second.trace_id


def test_the_record_key_stands_in_for_a_missing_subject_header(created):
    """Only ce_id, ce_type and ce_source are required; the subject falls back to the record key."""
    _, envelope = created
    headers = {name: value for name, value in events.to_headers(envelope).items() if name in ("ce_id", "ce_type", "ce_source")}
    back = events.from_record(as_record(envelope, headers))
    assert (back.subject, back.tenant, back.trace_id) == ("ds-42", "", "")


@pytest.mark.parametrize("dropped", ["ce_id", "ce_type", "ce_source"])
def test_a_record_missing_a_required_header_is_undecodable(created, dropped):
    """A record without ce_id, ce_type or ce_source is refused, naming the header and the record."""
    _, envelope = created
    headers = events.to_headers(envelope)
    del headers[dropped]
    with pytest.raises(UndecodableEvent, match=rf"radlab\.annotation\.v1\.DatasetCreated@7 lacks headers {dropped}$"):
        events.from_record(as_record(envelope, headers))


def test_a_record_without_any_headers_names_every_missing_one(created):
    """A plain record (no CloudEvents headers at all) lists all three missing headers."""
    _, envelope = created
    with pytest.raises(UndecodableEvent, match="lacks headers ce_id, ce_type, ce_source"):
        events.from_record(as_record(envelope, {}))


def test_a_record_with_an_unparsable_time_is_undecodable(created):
    """A malformed ce_time is an UndecodableEvent (dead-lettered), not a ValueError that stops the consumer."""
    _, envelope = created
    headers = events.to_headers(envelope) | {"ce_time": "yesterday"}
    with pytest.raises(UndecodableEvent, match="ce_time"):
        events.from_record(as_record(envelope, headers))


def test_an_unknown_event_type_is_undecodable(created):
    """A type no generated contract declares is refused, naming the type."""
    _, envelope = created
    headers = events.to_headers(envelope) | {"ce_type": "radlab.nowhere.v1.SomethingHappened"}
    with pytest.raises(UndecodableEvent, match=r"unknown event type 'radlab\.nowhere\.v1\.SomethingHappened'"):
        events.decode(events.from_record(as_record(envelope, headers)))


def test_an_unparsable_payload_is_undecodable(created):
    """Bytes that are not a valid message of the declared type are refused, naming the event and type."""
    _, envelope = created
    envelope.payload = b"\xff\xff\xff not protobuf"
    with pytest.raises(UndecodableEvent, match=rf"payload of event {envelope.id} is not a valid radlab\.annotation\.v1\.DatasetCreated"):
        events.decode(events.from_record(as_record(envelope)))
