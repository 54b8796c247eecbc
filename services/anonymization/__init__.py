"""Anonymization: de-identification profiles, the encrypted pseudonym map, the audit of what was removed."""

from __future__ import annotations

from radlab.anonymization.v1 import anonymization_service_pb2_grpc as pb_grpc
from services.anonymization import handlers, store
from services.anonymization.server import AnonymizationServicer
from shared.consumer import consumer_group
from shared.runtime import Adapters, Service

NAME = "anonymization"


def bootstrap(adapters: Adapters) -> Service:
    """Wire anonymization onto the process's adapters."""
    db = adapters.database(NAME, store.metadata)
    servicer = AnonymizationServicer(db)
    return Service(
        name=NAME,
        grpc_service_names=["radlab.anonymization.v1.AnonymizationService"],
        register=lambda server: pb_grpc.add_AnonymizationServiceServicer_to_server(servicer, server),
        database=db,
        handlers=handlers.event_handlers(db, consumer_group(NAME)),
    )
