"""Workflow's gRPC servicer: translates requests to handler calls and results to responses."""

from __future__ import annotations

from radlab.workflow.v1 import workflow_service_pb2 as pb
from radlab.workflow.v1 import workflow_service_pb2_grpc as pb_grpc
from services.workflow import handlers
from shared import paging
from shared.auth import current_principal


class WorkflowServicer(pb_grpc.WorkflowServiceServicer):
    """RPCs not overridden here answer UNIMPLEMENTED until their issue lands."""

    def __init__(self, ports: handlers.Ports):
        self.db = ports.db

    def CreateWorkflow(self, request, context):
        workflow = handlers.create_workflow(self.db, current_principal(), request.dataset_id, request.name, list(request.stages))
        return pb.CreateWorkflowResponse(workflow=workflow)

    def GetWorkflow(self, request, context):
        return pb.GetWorkflowResponse(workflow=handlers.get_workflow(self.db, current_principal(), request.workflow_id))

    def ListWorkflows(self, request, context):
        page, after = handlers.list_workflows(
            self.db, current_principal(), request.dataset_id,
            paging.decode(request.page_token), paging.page_size(request.page_size),
        )
        return pb.ListWorkflowsResponse(workflows=page, next_page_token=paging.encode(after) if after else "")
