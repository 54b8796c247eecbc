"""Interpolation: fills the slices between key slices and writes the masks to the labels bucket."""

from __future__ import annotations

from radlab.interpolation.v1 import interpolation_service_pb2_grpc as pb_grpc
from services.interpolation import handlers, store
from services.interpolation.server import InterpolationServicer
from shared.runtime import Adapters, Service


def bootstrap(adapters: Adapters) -> Service:
    """Wire interpolation onto the process's adapters."""
    return Service.wire(
        "interpolation", adapters, store.metadata, InterpolationServicer, pb_grpc.add_InterpolationServiceServicer_to_server, handlers.event_handlers
    )
