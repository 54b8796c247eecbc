"""Interpolation: fills the slices between key slices and writes the masks to the labels bucket."""

from __future__ import annotations

from radlab.interpolation.v1 import interpolation_service_pb2_grpc as pb_grpc
from services.interpolation import handlers, store
from services.interpolation.server import InterpolationServicer
from shared.consumer import consumer_group
from shared.runtime import Adapters, Service

NAME = "interpolation"


def bootstrap(adapters: Adapters) -> Service:
    """Wire interpolation onto the process's adapters."""
    db = adapters.database(NAME, store.metadata)
    servicer = InterpolationServicer(db)
    return Service(
        name=NAME,
        grpc_service_names=["radlab.interpolation.v1.InterpolationService"],
        register=lambda server: pb_grpc.add_InterpolationServiceServicer_to_server(servicer, server),
        database=db,
        handlers=handlers.event_handlers(db, consumer_group(NAME)),
    )
