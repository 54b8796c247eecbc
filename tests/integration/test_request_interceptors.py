"""The interceptors every server runs, on a loopback server: checked requests, capped messages, INTERNAL with a trace id.

shared/validation.py refuses a request before its handler sees it; shared/grpcserver.py caps every message and turns
a failure nobody expected into INTERNAL naming the trace id."""

from __future__ import annotations

import logging
import math
from concurrent import futures

import grpc
import pytest

from radlab.ingestion.v1 import ingestion_service_pb2 as ingestion_pb
from shared.errors import MAX_STATUS_BYTES, InvalidArgument
from shared.grpcserver import TRACE_HEADER, ObservabilityInterceptor
from shared.validation import RequestLimits, RequestValidation

LIMITS = RequestLimits(max_name_chars=16, max_text_chars=64, max_repeated=3)


class Slices(grpc.GenericRpcHandler):
    """GetSlice answering with what the handler saw; `fail` makes it raise as a library would."""

    def __init__(self):
        self.seen: list[ingestion_pb.GetSliceRequest] = []

    def service(self, handler_call_details):
        if not handler_call_details.method.endswith("/GetSlice"):
            return None

        def get_slice(request, context):
            self.seen.append(request)
            if request.volume_id == "boom":
                raise ZeroDivisionError("float division by zero in a library, with its own words")
            if request.volume_id == "long":
                raise InvalidArgument("x" * 10_000)
            return ingestion_pb.GetSliceResponse(slice_index=1)

        return grpc.unary_unary_rpc_method_handler(
            get_slice, request_deserializer=ingestion_pb.GetSliceRequest.FromString,
            response_serializer=ingestion_pb.GetSliceResponse.SerializeToString,
        )


@pytest.fixture
def served():
    handler = Slices()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2),
        interceptors=[ObservabilityInterceptor(), RequestValidation(LIMITS)],
    )
    server.add_generic_rpc_handlers([handler])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield handler, channel
    server.stop(0)


def get_slice(channel, payload, metadata=()):
    call = channel.unary_unary(
        "/radlab.ingestion.v1.IngestionService/GetSlice",
        request_serializer=lambda message: message if isinstance(message, bytes) else message.SerializeToString(),
        response_deserializer=ingestion_pb.GetSliceResponse.FromString,
    )
    try:
        call(payload, metadata=metadata, timeout=10)
    except grpc.RpcError as error:
        return error.code(), error.details()
    return grpc.StatusCode.OK, ""


def test_an_invalid_request_is_refused_before_the_handler_sees_it(served):
    handler, channel = served
    assert get_slice(channel, ingestion_pb.GetSliceRequest(volume_id="v", position_mm=math.nan)) == (
        grpc.StatusCode.INVALID_ARGUMENT, "position_mm must be a finite number, not nan",
    )
    assert get_slice(channel, b"\xff\xff\xff") == (
        grpc.StatusCode.INVALID_ARGUMENT, "the request is not a valid message of this method's request type",
    )
    assert handler.seen == []
    assert get_slice(channel, ingestion_pb.GetSliceRequest(volume_id="v", position_mm=3.0)) == (grpc.StatusCode.OK, "")
    assert len(handler.seen) == 1


def test_an_unexpected_exception_is_internal_naming_the_trace_id_and_logged_in_full(served, caplog):
    _, channel = served
    with caplog.at_level(logging.ERROR, logger="shared.grpcserver"):
        code, details = get_slice(channel, ingestion_pb.GetSliceRequest(volume_id="boom"), [(TRACE_HEADER, "trace-42")])
    assert (code, details) == (grpc.StatusCode.INTERNAL, "internal error; trace id trace-42")
    [record] = [record for record in caplog.records if record.exc_info]
    assert "GetSlice" in record.getMessage() and "in a library, with its own words" in str(record.exc_info[1])


def test_a_trace_id_that_does_not_look_like_one_is_replaced(served):
    _, channel = served
    code, details = get_slice(channel, ingestion_pb.GetSliceRequest(volume_id="boom"), [(TRACE_HEADER, "x" * 65)])
    trace = details.removeprefix("internal error; trace id ")
    assert code is grpc.StatusCode.INTERNAL and trace != details and 0 < len(trace) <= 64 and "x" * 65 not in details


def test_a_long_error_message_is_capped(served):
    _, channel = served
    code, details = get_slice(channel, ingestion_pb.GetSliceRequest(volume_id="long"))
    assert code is grpc.StatusCode.INVALID_ARGUMENT and len(details.encode()) <= MAX_STATUS_BYTES and details.endswith("…")
