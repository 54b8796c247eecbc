"""Ingestion's gRPC servicer: translates requests to handler calls and results to responses."""

from __future__ import annotations

from radlab.ingestion.v1 import ingestion_service_pb2_grpc as pb_grpc
from shared.db import Database


class IngestionServicer(pb_grpc.IngestionServiceServicer):
    """Every RPC answers UNIMPLEMENTED until its issue lands."""

    def __init__(self, db: Database):
        self.db = db
