"""Anonymization: de-identification profiles, the encrypted pseudonym map, the audit of what was removed."""

from __future__ import annotations

from radlab.anonymization.v1 import anonymization_service_pb2_grpc as pb_grpc
from services.anonymization import handlers, store
from services.anonymization.server import AnonymizationServicer
from shared.runtime import Adapters, Service


def bootstrap(adapters: Adapters) -> Service:
    """Wire anonymization onto the process's adapters."""
    return Service.wire(
        "anonymization", adapters, store.metadata, AnonymizationServicer, pb_grpc.add_AnonymizationServiceServicer_to_server, handlers.event_handlers
    )
