"""Training's gRPC servicer: translates requests to handler calls and results to responses."""

from __future__ import annotations

from radlab.training.v1 import training_service_pb2_grpc as pb_grpc
from services.training import handlers


class TrainingServicer(pb_grpc.TrainingServiceServicer):
    """Every RPC answers UNIMPLEMENTED until its issue lands."""

    def __init__(self, ports: handlers.Ports):
        self.db = ports.db
