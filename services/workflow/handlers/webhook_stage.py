"""Webhook stages: the item's payload delivered (signed, retried) outside any transaction, then the item moves on, or
waits for the receiver's signed answer (pass, or reject with a comment back to a labelling stage)."""

from __future__ import annotations

import json
import time

import sqlalchemy as sa

from radlab.workflow.v1 import events_pb2
from radlab.workflow.v1 import workflow_service_pb2 as pb
from services.workflow import store
from services.workflow import webhooks as delivery
from services.workflow.domain import routing
from services.workflow.domain import webhooks as protocol
from services.workflow.handlers import progress
from services.workflow.handlers.tasks import task_message
from shared.auth import Principal
from shared.db import Database, UnitOfWork
from shared.errors import FailedPrecondition, NotFound
from shared.events import Event

ANSWER_RPC = "radlab.workflow.v1.WorkflowService/AnswerWebhook"  # where a waiting stage's receiver answers
ATTEMPTS_PER_DELIVERY = 3  # then the event is retried by the consumer (and dead-lettered in the end)


class Undelivered(RuntimeError):
    """The receiver did not take the payload; the event is retried."""


def on_webhook_due(ports, consumer: str, event: Event) -> None:
    due: events_pb2.WebhookDue = event.message
    if ports.db.processed(consumer, event.id):
        return
    with ports.db.read() as conn:
        task = progress.task_row(conn, due.task_id)
        item = progress.item_row(conn, due.item_id)
        stage = routing.stage(progress.stages_for(conn, item), task.stage_id)
    settings = stage.webhook
    body = protocol.payload(
        delivery_id=due.delivery_id, workflow_id=task.workflow_id, stage_id=task.stage_id, task_id=task.task_id,
        item_id=task.item_id, dataset_id=task.dataset_id, annotation_id=item.annotation_id or None,
        annotation_version=item.annotation_version or None, callback_url=ANSWER_RPC if settings.wait_for_answer else None,
        now=time.time(),
    )
    sent = delivery.deliver(settings.url, settings.secret.encode(), body, due.delivery_id, attempts=ATTEMPTS_PER_DELIVERY)
    if not sent.delivered:
        raise Undelivered(f"webhook stage {stage.stage_id}: {sent.error}")

    def record(uow: UnitOfWork) -> None:
        current = progress.task_row(uow, due.task_id)
        if current.state != pb.TASK_STATE_WAITING:
            return
        note = f"delivered to {settings.url} (HTTP {sent.status}, {sent.attempts} attempt(s))"
        uow.execute(store.tasks.update().where(store.tasks.c.task_id == due.task_id).values(comment=note, updated_at=time.time()))
        if not settings.wait_for_answer:
            _finish(uow, current, stage, events_pb2.STAGE_OUTCOME_PASSED, "")

    ports.db.apply_once(consumer, event.id, record)


def answer(db: Database, caller: Principal, body: bytes, signature: str) -> pb.Task:
    """A receiver's signed answer for a waiting webhook task: checked against its stage's secret, once per delivery id."""
    try:
        claimed = json.loads(body)
        task_id = claimed["task_id"] if isinstance(claimed, dict) else ""
    except (ValueError, KeyError):
        task_id = ""
    with db.unit_of_work() as uow:
        task = progress.task_row(uow, task_id) if isinstance(task_id, str) and task_id else None
        if task is None or task.tenant != caller.tenant or task.stage_kind != pb.STAGE_KIND_WEBHOOK:
            raise NotFound("the answer names no webhook task here: send the JSON the receiver signed, with its task_id")
        item = progress.item_row(uow, task.item_id)
        stages = progress.stages_for(uow, item)
        stage = routing.stage(stages, task.stage_id)
        answers = store.webhook_answers
        message = protocol.verify(stage.webhook.secret.encode(), body, signature, time.time(), seen=lambda delivery_id: bool(
            uow.execute(sa.select(answers.c.delivery_id).where(answers.c.delivery_id == delivery_id)).first()))
        if task.state != pb.TASK_STATE_WAITING or not stage.webhook.wait_for_answer:
            raise FailedPrecondition(f"task {task.task_id} waits for no answer (it is {pb.TaskState.Name(task.state)})")
        outcome = message.get("outcome")
        if outcome not in ("pass", "reject"):
            raise protocol.WebhookRefused('the answer\'s "outcome" is "pass" or "reject"')
        uow.execute(answers.insert().values(delivery_id=message["delivery_id"], task_id=task.task_id, at=time.time()))
        comment = str(message.get("comment") or "")[:2000]
        rejected = outcome == "reject"
        _finish(uow, task, stage, events_pb2.STAGE_OUTCOME_REJECTED if rejected else events_pb2.STAGE_OUTCOME_PASSED, comment)
        return task_message(progress.task_row(uow, task.task_id))


def _finish(uow: UnitOfWork, task, stage, outcome: int, comment: str) -> None:
    """The webhook task is done; the item moves on, or (rejected) back to whoever annotated it, with the comment."""
    item = progress.item_row(uow, task.item_id)
    progress.finish_task(uow, task, item.annotation_id, item.annotation_version)
    author = progress.annotated_by(uow, item) if outcome == events_pb2.STAGE_OUTCOME_REJECTED else None
    rework = progress.Rework(task.task_id, author.assignee) if author is not None else None
    progress.leave(uow, item, progress.stages_for(uow, item), stage, outcome, comment=comment, rework=rework)
