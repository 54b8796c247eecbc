"""Anonymization's gRPC servicer: translates requests to handler calls and results to responses."""

from __future__ import annotations

from radlab.anonymization.v1 import anonymization_service_pb2_grpc as pb_grpc
from shared.db import Database


class AnonymizationServicer(pb_grpc.AnonymizationServiceServicer):
    """Every RPC answers UNIMPLEMENTED until its issue lands."""

    def __init__(self, db: Database):
        self.db = db
