"""Wrapping a gRPC method handler of any arity in a context, for the server interceptors (auth, logs, metrics)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import grpc

Around = Callable[[grpc.ServicerContext], AbstractContextManager]


def wrap_handler(handler: grpc.RpcMethodHandler, around: Around) -> grpc.RpcMethodHandler:
    """A handler that runs the original behaviour inside `around(context)`, streamed responses included."""
    if handler.unary_unary or handler.stream_unary:
        original = handler.unary_unary or handler.stream_unary

        def single(request, context):
            with around(context):
                return original(request, context)

        factory = grpc.unary_unary_rpc_method_handler if handler.unary_unary else grpc.stream_unary_rpc_method_handler
        behaviour = single
    else:
        original = handler.unary_stream or handler.stream_stream

        def streamed(request, context):
            with around(context):
                yield from original(request, context)

        factory = grpc.unary_stream_rpc_method_handler if handler.unary_stream else grpc.stream_stream_rpc_method_handler
        behaviour = streamed
    return factory(
        behaviour,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
