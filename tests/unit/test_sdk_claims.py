"""`Client.claim_task` against scripted workflow and annotation stubs: a claim whose answer is lost is found among the
caller's tasks (never held unknowingly); a refusal is raised; the item is waited for until annotation lets the
claimant see it."""

from __future__ import annotations

import grpc
import pytest

from radlab import client as sdk
from radlab.annotation.v1 import annotation_service_pb2 as annotation_pb
from radlab.client import Client
from radlab.workflow.v1 import workflow_service_pb2 as pb
from tests.unit.test_sdk_upload_retries import Refused

Code = grpc.StatusCode


class ScriptedWorkflow:
    """ClaimTask assigns `task` to the caller, then answers `answer` (a status code: the answer lost, or a refusal)."""

    def __init__(self, answer: grpc.StatusCode | None, already_mine: list[pb.Task] = ()):
        self.answer, self.mine = answer, list(already_mine)
        self.task = pb.Task(task_id="t-new", item_id="item-1", state=pb.TASK_STATE_ASSIGNED, assignee="me")

    def ListTasks(self, request):
        assert (request.assignee, request.state) == ("me", pb.TASK_STATE_ASSIGNED)
        return pb.ListTasksResponse(tasks=self.mine)

    def ClaimTask(self, request):
        if self.answer is not Code.PERMISSION_DENIED:
            self.mine.append(self.task)
        if self.answer is not None:
            raise Refused(self.answer)
        return pb.ClaimTaskResponse(task=self.task)


class ScriptedAnnotation:
    """GetItem refuses the first `refusals` times (annotation has not heard of the claim yet)."""

    def __init__(self, refusals: int):
        self.refusals = refusals

    def GetItem(self, request):
        if self.refusals:
            self.refusals -= 1
            raise Refused(Code.PERMISSION_DENIED)
        return annotation_pb.GetItemResponse(item=annotation_pb.Item(item_id=request.item_id))


@pytest.fixture
def claim(monkeypatch):
    monkeypatch.setattr(sdk.time, "sleep", lambda _s: None)

    def run(workflow: ScriptedWorkflow, refusals: int = 0):
        with Client("127.0.0.1:9", "a-token") as client:  # never connects: every call goes to the stubs
            client.workflow, client.annotation = workflow, ScriptedAnnotation(refusals)
            return client.claim_task(workflow_id="w-1")

    return run


def test_a_claim_is_returned_once_annotation_lets_the_claimant_see_its_item(claim):
    assert claim(ScriptedWorkflow(None), refusals=3).task_id == "t-new"


def test_a_claim_whose_answer_was_lost_is_found_among_the_callers_tasks(claim):
    older = pb.Task(task_id="t-old", item_id="item-0", state=pb.TASK_STATE_ASSIGNED, assignee="me")
    assert claim(ScriptedWorkflow(Code.UNAVAILABLE, already_mine=[older])).task_id == "t-new"


def test_a_refused_claim_is_raised(claim):
    with pytest.raises(grpc.RpcError) as refused:
        claim(ScriptedWorkflow(Code.PERMISSION_DENIED))
    assert refused.value.code() is Code.PERMISSION_DENIED
