"""Workflow: workflow definitions, stages, tasks, reviews and consensus."""

from __future__ import annotations

from radlab.workflow.v1 import workflow_service_pb2_grpc as pb_grpc
from services.workflow import handlers, store
from services.workflow.server import WorkflowServicer
from shared.consumer import consumer_group
from shared.runtime import Adapters, Service

NAME = "workflow"


def bootstrap(adapters: Adapters) -> Service:
    """Wire workflow onto the process's adapters."""
    db = adapters.database(NAME, store.metadata)
    servicer = WorkflowServicer(db)
    return Service(
        name=NAME,
        grpc_service_names=["radlab.workflow.v1.WorkflowService"],
        register=lambda server: pb_grpc.add_WorkflowServiceServicer_to_server(servicer, server),
        database=db,
        handlers=handlers.event_handlers(db, consumer_group(NAME)),
    )
