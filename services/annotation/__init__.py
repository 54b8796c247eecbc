"""Annotation: datasets, classes, items and versioned annotations; owns dataset sharing with vendors."""

from __future__ import annotations

from radlab.annotation.v1 import annotation_service_pb2_grpc as pb_grpc
from services.annotation import handlers, store
from services.annotation.server import AnnotationServicer
from shared.consumer import consumer_group
from shared.runtime import Adapters, Service

NAME = "annotation"


def bootstrap(adapters: Adapters) -> Service:
    """Wire annotation onto the process's adapters."""
    db = adapters.database(NAME, store.metadata)
    servicer = AnnotationServicer(db)
    return Service(
        name=NAME,
        grpc_service_names=["radlab.annotation.v1.AnnotationService"],
        register=lambda server: pb_grpc.add_AnnotationServiceServicer_to_server(servicer, server),
        database=db,
        handlers=handlers.event_handlers(db, consumer_group(NAME)),
    )
