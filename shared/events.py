"""Events on the wire: the envelope, its CloudEvents-style `ce_*` headers, and payload decoding.

An event's type and topic are its payload message's full proto name; the record key is the subject.
The record value is the payload bytes and the envelope attributes travel as headers (binary mode), so
a Kafka tool sees the same attributes an embedded log does.
"""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from google.protobuf import descriptor_pool, message, message_factory
from google.protobuf.timestamp_pb2 import Timestamp

from radlab.type.v1.event_pb2 import EventEnvelope
from shared.bus.port import Record

_HEADER_SPEC = "ce_specversion"
_CONTENT_TYPE = "application/protobuf"


class UndecodableEvent(ValueError):
    """A record that is not a Radlab event, or whose payload does not parse as its declared type."""


@dataclass(frozen=True)
class Event:
    """A decoded event: its envelope and its payload message."""

    envelope: EventEnvelope
    message: message.Message

    @property
    def id(self) -> str:
        return self.envelope.id

    @property
    def type(self) -> str:
        return self.envelope.type


def event_type(msg: message.Message | type[message.Message]) -> str:
    """The type (and topic) of an event message: its full proto name."""
    return msg.DESCRIPTOR.full_name


def envelope_for(
    msg: message.Message, *, source: str, subject: str, tenant: str, trace_id: str = ""
) -> EventEnvelope:
    """Wrap `msg` in a new envelope with a fresh id and the current time."""
    when = Timestamp()
    when.FromDatetime(datetime.now(timezone.utc))
    return EventEnvelope(
        id=str(uuid.uuid4()),
        type=event_type(msg),
        source=source,
        time=when,
        subject=subject,
        tenant=tenant,
        trace_id=trace_id or uuid.uuid4().hex,
        payload=msg.SerializeToString(),
    )


def to_headers(envelope: EventEnvelope) -> dict[str, str]:
    """The envelope's attributes as `ce_*` record headers."""
    return {
        _HEADER_SPEC: "1.0",
        "ce_id": envelope.id,
        "ce_type": envelope.type,
        "ce_source": envelope.source,
        "ce_time": envelope.time.ToJsonString(),
        "ce_subject": envelope.subject,
        "ce_tenant": envelope.tenant,
        "ce_traceid": envelope.trace_id,
        "content-type": _CONTENT_TYPE,
    }


def from_record(record: Record) -> EventEnvelope:
    """Rebuild the envelope of a record read from the bus."""
    headers = record.headers
    missing = [name for name in ("ce_id", "ce_type", "ce_source") if not headers.get(name)]
    if missing:
        raise UndecodableEvent(f"record {record.topic}@{record.offset} lacks headers {', '.join(missing)}")
    when = Timestamp()
    if headers.get("ce_time"):
        try:
            when.FromJsonString(headers["ce_time"])
        except ValueError as error:
            raise UndecodableEvent(f"record {record.topic}@{record.offset} has a bad ce_time: {error}") from error
    return EventEnvelope(
        id=headers["ce_id"],
        type=headers["ce_type"],
        source=headers["ce_source"],
        time=when,
        subject=headers.get("ce_subject", record.key),
        tenant=headers.get("ce_tenant", ""),
        trace_id=headers.get("ce_traceid", ""),
        payload=record.value,
    )


def decode(envelope: EventEnvelope) -> Event:
    """Parse the payload as the message type the envelope names."""
    load_contracts()
    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(envelope.type)
    except KeyError as error:
        raise UndecodableEvent(f"unknown event type {envelope.type!r}") from error
    payload = message_factory.GetMessageClass(descriptor)()
    try:
        payload.ParseFromString(envelope.payload)
    except message.DecodeError as error:
        raise UndecodableEvent(f"payload of event {envelope.id} is not a valid {envelope.type}: {error}") from error
    return Event(envelope, payload)


_contracts_loaded = False


def load_contracts() -> None:
    """Import every generated `events_pb2` so the descriptor pool knows all event types."""
    global _contracts_loaded
    if _contracts_loaded:
        return
    import radlab

    for info in pkgutil.walk_packages(radlab.__path__, "radlab."):
        if info.name.endswith(".events_pb2"):
            importlib.import_module(info.name)
    _contracts_loaded = True
