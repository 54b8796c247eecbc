"""Every request checked at the edge, from its descriptor, by the interceptor that runs before each handler.

Numbers must be finite, enum fields hold a value their enum defines, strings and repeated fields stay within the
limits. What a field may hold follows from its type and name, so every RPC of every service is covered without a
list to keep in step: strings named like free text may be long and hold line breaks, every other string is an id,
a name or a token — short and printable on one line. The checks a type cannot tell (a window's width is positive,
a thumbnail is not too big) are the handlers'.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from shared.config import (
    DEFAULT_REQUEST_MAX_NAME_CHARS,
    DEFAULT_REQUEST_MAX_REPEATED,
    DEFAULT_REQUEST_MAX_TEXT_CHARS,
    Settings,
)
from shared.errors import InvalidArgument

# Strings a person writes: they may run long and hold line breaks.
FREE_TEXT = frozenset({"description", "comment", "reason", "message", "detail", "error", "failure_reason", "warnings"})
# Strings that locate something: one line, as long as free text (an object key alone may be 1 KiB).
LOCATION_SUFFIXES = ("_uri", "_url")
TIMESTAMP = "google.protobuf.Timestamp"
NANOS_PER_SECOND = 1_000_000_000
MIN_TIMESTAMP_S, MAX_TIMESTAMP_S = -62135596800, 253402300800  # 0001-01-01 and 10000-01-01, protobuf's own bounds
# Control characters (C0, DEL, C1), line and paragraph separators, and the bidirectional overrides that make one id
# look like another; free text keeps tab, line feed and carriage return.
_NOT_ON_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NOT_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

_FLOATS = (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT)
# The types whose values are checked one by one (integers, booleans and bytes need no check of their own).
_CHECKED_TYPES = frozenset({FieldDescriptor.TYPE_MESSAGE, FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_ENUM, *_FLOATS})


@dataclass(frozen=True)
class RequestLimits:
    """How long a string and how many entries of a repeated field a request may hold (RADLAB_REQUEST_MAX_*)."""

    max_name_chars: int = DEFAULT_REQUEST_MAX_NAME_CHARS
    max_text_chars: int = DEFAULT_REQUEST_MAX_TEXT_CHARS
    max_repeated: int = DEFAULT_REQUEST_MAX_REPEATED

    @classmethod
    def of(cls, settings: Settings) -> RequestLimits:
        return cls(settings.request_max_name_chars, settings.request_max_text_chars, settings.request_max_repeated)


def check(message: Message, limits: RequestLimits = RequestLimits()) -> None:
    """Refuse (InvalidArgument) a message, at any depth, holding a NaN or infinite number, an enum number its enum
    does not define, a string too long or with characters its kind may not hold, a repeated field too long, or a
    Timestamp that is no time.
    The refusal names the field, never its value."""
    _check_message(message, "", limits)


def _check_message(message: Message, path: str, limits: RequestLimits) -> None:
    for field, value in message.ListFields():
        where = f"{path}{field.name}"
        if not field.is_repeated:
            _check_value(field, value, where, limits)
            continue
        if len(value) > limits.max_repeated:
            raise InvalidArgument(f"{where} has {len(value)} entries; at most {limits.max_repeated} are allowed")
        if _is_map(field):
            key_field, value_field = field.message_type.fields
            for key in value:
                _check_value(key_field, key, f"{where} (a key)", limits)
                _check_value(value_field, value[key], f"{where} (a value)", limits)
        elif field.type in _CHECKED_TYPES:
            for index, item in enumerate(value):
                _check_value(field, item, f"{where}[{index}]", limits)


def _is_map(field: FieldDescriptor) -> bool:
    return field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry


def _check_value(field: FieldDescriptor, value, where: str, limits: RequestLimits) -> None:
    if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.full_name == TIMESTAMP:
        if not (0 <= value.nanos < NANOS_PER_SECOND and MIN_TIMESTAMP_S <= value.seconds < MAX_TIMESTAMP_S):
            raise InvalidArgument(f"{where} is not a time: nanos run 0 to 999999999, seconds from year 1 to 9999")
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        _check_message(value, f"{where}.", limits)
    elif field.type == FieldDescriptor.TYPE_STRING:
        _check_string(field.name, value, where, limits)
    elif field.type in _FLOATS:
        if not math.isfinite(value):
            raise InvalidArgument(f"{where} must be a finite number, not {value}")
    elif field.type == FieldDescriptor.TYPE_ENUM and value not in field.enum_type.values_by_number:
        raise InvalidArgument(f"{where} is {value}, which is not a {field.enum_type.name} value; use one of "
                              f"{', '.join(field.enum_type.values_by_name)}")



def _check_string(name: str, value: str, where: str, limits: RequestLimits) -> None:
    text = name in FREE_TEXT
    longest = limits.max_text_chars if text or name.endswith(LOCATION_SUFFIXES) else limits.max_name_chars
    if len(value) > longest:
        raise InvalidArgument(f"{where} is {len(value)} characters long; at most {longest} are allowed")
    odd = (_NOT_IN_TEXT if text else _NOT_ON_ONE_LINE).search(value)
    if odd:
        kind = "text" if text else "an id or a name"
        raise InvalidArgument(f"{where} holds the control character U+{ord(odd.group()):04X}, which {kind} may not hold")


class RequestValidation(grpc.ServerInterceptor):
    """Checks each request message (each message of a stream, as the handler reads it) before the handler sees it;
    bytes that are not a message of the method's type are refused as such. Placed after authentication, so a caller
    without a valid token learns nothing about what it sent."""

    def __init__(self, limits: RequestLimits = RequestLimits()):
        self._limits = limits

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler.request_deserializer is None:
            return handler
        return _checking(handler, self._limits)


class _Unreadable:
    """What a request that does not parse as the method's message becomes, to be refused inside the call."""


_FACTORIES = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def _checking(handler: grpc.RpcMethodHandler, limits: RequestLimits) -> grpc.RpcMethodHandler:
    """`handler` with each request checked before its behaviour reads it."""
    deserialize: Callable[[bytes], Message] = handler.request_deserializer
    behaviour = handler.unary_unary or handler.unary_stream or handler.stream_unary or handler.stream_stream

    def parse(data: bytes):
        # gRPC answers a deserializer's exception with INTERNAL; a caller's bad bytes are its own error.
        try:
            return deserialize(data)
        except DecodeError:
            return _Unreadable()

    def checked(request):
        if isinstance(request, _Unreadable):
            raise InvalidArgument("the request is not a valid message of this method's request type")
        check(request, limits)
        return request

    if handler.request_streaming:
        def validated(requests, context):
            return behaviour(map(checked, requests), context)
    else:
        def validated(request, context):
            return behaviour(checked(request), context)

    factory = _FACTORIES[handler.request_streaming, handler.response_streaming]
    return factory(validated, request_deserializer=parse, response_serializer=handler.response_serializer)
