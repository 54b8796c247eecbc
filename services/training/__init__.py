"""Training: training runs on Ray, the model registry, and predictions that pre-label new items."""

from __future__ import annotations

from radlab.training.v1 import training_service_pb2_grpc as pb_grpc
from services.training import handlers, store
from services.training.server import TrainingServicer
from shared.runtime import Adapters, Service


def bootstrap(adapters: Adapters) -> Service:
    """Wire training onto the process's adapters."""
    return Service.wire(
        "training", adapters, store.metadata, ports=handlers.Ports, servicer=TrainingServicer,
        add_to_server=pb_grpc.add_TrainingServiceServicer_to_server, event_handlers=handlers.event_handlers,
    )
