"""Workflow's gRPC servicer: translates requests to handler calls and results to responses."""

from __future__ import annotations

from radlab.workflow.v1 import workflow_service_pb2 as pb
from radlab.workflow.v1 import workflow_service_pb2_grpc as pb_grpc
from services.workflow.handlers import Ports, consensus, stats, tasks, webhook_stage, workflows
from shared import paging
from shared.auth import current_principal


class WorkflowServicer(pb_grpc.WorkflowServiceServicer):
    """RPCs not overridden here answer UNIMPLEMENTED until their issue lands."""

    def __init__(self, ports: Ports):
        self.db = ports.db

    def CreateWorkflow(self, request, context):
        workflow = workflows.create_workflow(self.db, current_principal(), request.dataset_id, request.name, list(request.stages))
        return pb.CreateWorkflowResponse(workflow=workflow)

    def GetWorkflow(self, request, context):
        return pb.GetWorkflowResponse(workflow=workflows.get_workflow(self.db, current_principal(), request.workflow_id))

    def ListWorkflows(self, request, context):
        page, after = workflows.list_workflows(self.db, current_principal(), request.dataset_id, *paging.requested(request))
        return pb.ListWorkflowsResponse(workflows=page, next_page_token=paging.next_token(after))

    def ListTasks(self, request, context):
        page, after = tasks.list_tasks(self.db, current_principal(), request, *paging.requested(request))
        return pb.ListTasksResponse(tasks=page, next_page_token=paging.next_token(after))

    def GetTask(self, request, context):
        return pb.GetTaskResponse(task=tasks.get_task(self.db, current_principal(), request.task_id))

    def ClaimTask(self, request, context):
        return pb.ClaimTaskResponse(task=tasks.claim(self.db, current_principal(), request))

    def AssignTask(self, request, context):
        return pb.AssignTaskResponse(task=tasks.assign(self.db, current_principal(), request.task_id, request.assignee))

    def ReleaseTask(self, request, context):
        return pb.ReleaseTaskResponse(task=tasks.release(self.db, current_principal(), request.task_id))

    def SubmitReview(self, request, context):
        return pb.SubmitReviewResponse(task=tasks.submit_review(self.db, current_principal(), request))

    def GetConsensusResult(self, request, context):
        result = consensus.get_result(self.db, current_principal(), request.item_id, request.stage_id)
        return pb.GetConsensusResultResponse(consensus_result=result)

    def ListReaderStats(self, request, context):
        return pb.ListReaderStatsResponse(readers=consensus.reader_stats(self.db, current_principal(), request.dataset_id))

    def AnswerWebhook(self, request, context):
        return pb.AnswerWebhookResponse(task=webhook_stage.answer(self.db, current_principal(), request.body, request.signature))

    def GetWorkflowStats(self, request, context):
        return stats.workflow_stats(self.db, current_principal(), request.workflow_id)

    def MoveItem(self, request, context):
        return pb.MoveItemResponse(progress=tasks.move_item(self.db, current_principal(), request))

    def SetPerson(self, request, context):
        return pb.SetPersonResponse(person=tasks.set_person(self.db, current_principal(), request.person))

    def ListPeople(self, request, context):
        return pb.ListPeopleResponse(people=tasks.list_people(self.db, current_principal()))

    def GetItemProgress(self, request, context):
        return tasks.item_progress(self.db, current_principal(), request.item_id)

