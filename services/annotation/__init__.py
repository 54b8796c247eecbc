"""Annotation: datasets, classes, items and versioned annotations; owns dataset sharing with vendors."""

from __future__ import annotations

from radlab.annotation.v1 import annotation_service_pb2_grpc as pb_grpc
from services.annotation import handlers, store
from services.annotation.server import AnnotationServicer
from shared.runtime import Adapters, Service


def bootstrap(adapters: Adapters) -> Service:
    """Wire annotation onto the process's adapters."""
    return Service.wire(
        "annotation", adapters, store.metadata,
        ports=lambda database: handlers.Ports(database, adapters.settings.token_max_ttl_s), servicer=AnnotationServicer,
        add_to_server=pb_grpc.add_AnnotationServiceServicer_to_server, event_handlers=handlers.event_handlers,
    )
