"""Workflow: workflow definitions, stages, tasks, reviews, consensus, webhook stages and their statistics."""

from __future__ import annotations

from radlab.workflow.v1 import workflow_service_pb2_grpc as pb_grpc
from services.workflow import handlers, store
from services.workflow.handlers import stats
from services.workflow.server import WorkflowServicer
from shared.runtime import Adapters, Service
from shared.volume_store import VolumeStore


def bootstrap(adapters: Adapters) -> Service:
    """Wire workflow onto the process's adapters."""
    volumes = VolumeStore(adapters.store)
    service = Service.wire(
        "workflow", adapters, store.metadata, ports=lambda database: handlers.Ports(database, volumes),
        servicer=WorkflowServicer,
        add_to_server=pb_grpc.add_WorkflowServiceServicer_to_server, event_handlers=handlers.event_handlers,
        migrations=store.migrations,
    )
    stats.METRICS.databases.add(service.database)
    service.stop = lambda: stats.METRICS.databases.discard(service.database)  # before its database closes
    return service
