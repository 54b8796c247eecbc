"""Ingestion: uploads, studies, series and instances (anonymized metadata only), volumes and slices."""

from __future__ import annotations

from radlab.ingestion.v1 import ingestion_service_pb2_grpc as pb_grpc
from services.ingestion import handlers, store
from services.ingestion.server import IngestionServicer
from shared.runtime import Adapters, Service


def bootstrap(adapters: Adapters) -> Service:
    """Wire ingestion onto the process's adapters."""
    return Service.wire(
        "ingestion", adapters, store.metadata, IngestionServicer, pb_grpc.add_IngestionServiceServicer_to_server, handlers.event_handlers
    )
