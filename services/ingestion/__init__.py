"""Ingestion: uploads, studies, series and instances (anonymized metadata only), volumes and slices."""

from __future__ import annotations

from radlab.ingestion.v1 import ingestion_service_pb2_grpc as pb_grpc
from services.ingestion import handlers, store
from services.ingestion.server import IngestionServicer
from shared.consumer import consumer_group
from shared.runtime import Adapters, Service

NAME = "ingestion"


def bootstrap(adapters: Adapters) -> Service:
    """Wire ingestion onto the process's adapters."""
    db = adapters.database(NAME, store.metadata)
    servicer = IngestionServicer(db)
    return Service(
        name=NAME,
        grpc_service_names=["radlab.ingestion.v1.IngestionService"],
        register=lambda server: pb_grpc.add_IngestionServiceServicer_to_server(servicer, server),
        database=db,
        handlers=handlers.event_handlers(db, consumer_group(NAME)),
    )
