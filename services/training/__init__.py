"""Training: training runs on Ray, the model registry, and predictions that pre-label new items."""

from __future__ import annotations

from radlab.training.v1 import training_service_pb2_grpc as pb_grpc
from services.training import handlers, store
from services.training.server import TrainingServicer
from shared.consumer import consumer_group
from shared.runtime import Adapters, Service

NAME = "training"


def bootstrap(adapters: Adapters) -> Service:
    """Wire training onto the process's adapters."""
    db = adapters.database(NAME, store.metadata)
    servicer = TrainingServicer(db)
    return Service(
        name=NAME,
        grpc_service_names=["radlab.training.v1.TrainingService"],
        register=lambda server: pb_grpc.add_TrainingServiceServicer_to_server(servicer, server),
        database=db,
        handlers=handlers.event_handlers(db, consumer_group(NAME)),
    )
