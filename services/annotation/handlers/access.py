"""Who works on which item and where it stands, as workflow's events say: annotators and reviewers see the items of
their tasks, annotators only their own annotations (blind reading); listings filter by stage and task holder."""

from __future__ import annotations

import sqlalchemy as sa

from radlab.workflow.v1 import events_pb2 as workflow_events
from radlab.workflow.v1 import workflow_service_pb2 as workflow_pb
from services.annotation import store
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.events import Event

TASK_ROLES = ("annotator", "reviewer")  # roles that see an item only through a task on it


def on_task_assigned(uow: UnitOfWork, event: Event) -> None:
    assigned: workflow_events.TaskAssigned = event.message
    table = store.task_access
    key = (table.c.task_id == assigned.task_id) & (table.c.subject == assigned.assignee)
    if uow.execute(sa.select(table.c.task_id).where(key)).first() is None:
        uow.execute(table.insert().values(task_id=assigned.task_id, subject=assigned.assignee, tenant=event.envelope.tenant,
                                          item_id=assigned.item_id, stage_kind=assigned.stage_kind, open=True))


def on_task_released(uow: UnitOfWork, event: Event) -> None:
    released: workflow_events.TaskReleased = event.message
    table = store.task_access
    uow.execute(table.delete().where(table.c.task_id == released.task_id, table.c.subject == released.assignee))


def on_task_completed(uow: UnitOfWork, event: Event) -> None:
    done: workflow_events.TaskCompleted = event.message
    table = store.task_access
    uow.execute(table.update().where(table.c.task_id == done.task_id).values(open=False))


def on_task_created(uow: UnitOfWork, event: Event) -> None:
    created: workflow_events.TaskCreated = event.message
    _at_stage(uow, created.item_id, created.stage_id, created.stage_kind == workflow_pb.STAGE_KIND_COMPLETE, event)


def on_stage_completed(uow: UnitOfWork, event: Event) -> None:
    left: workflow_events.StageCompleted = event.message
    _at_stage(uow, left.item_id, left.next_stage_id, left.next_stage_kind == workflow_pb.STAGE_KIND_COMPLETE, event,
              carried=left.annotation_id)


def _at_stage(uow: UnitOfWork, item_id: str, stage_id: str, completed: bool, event: Event, carried: str = "") -> None:
    """The item is at `stage_id` as of the event's time (events about it arrive on several topics: the latest wins),
    carried there by annotation `carried` when the event names one."""
    at = event.envelope.time.seconds + event.envelope.time.nanos / 1e9
    items = store.items
    values = {"stage_id": stage_id, "completed": completed, "stage_at": at} | (
        {"carried_annotation_id": carried, "carried_at": at} if carried else {})
    uow.execute(items.update().where(items.c.item_id == item_id, items.c.stage_at <= at).values(**values))


def holders(conn, item_seqs) -> dict:
    """Who holds an open task on each of these items now (item id → sorted subjects)."""
    table = store.task_access
    found: dict[str, set[str]] = {}
    rows = conn.execute(sa.select(table.c.item_id, table.c.subject).where(table.c.item_id.in_(list(item_seqs)),
                                                                          table.c.open.is_(True))).all() if item_seqs else []
    for item_id, subject in rows:
        found.setdefault(item_id, set()).add(subject)
    return {item_id: sorted(subjects) for item_id, subjects in found.items()}


def held_by(tenant: str, subject: str):
    """The ids of the items `subject` holds an open task on, as a subquery (for listings)."""
    table = store.task_access
    return sa.select(table.c.item_id).where(table.c.tenant == tenant, table.c.subject == subject, table.c.open.is_(True))


def works_on(conn, caller: Principal, item_id: str) -> bool:
    """Whether the caller may see the item: always, unless their role sees items only through their tasks."""
    if caller.role not in TASK_ROLES:
        return True
    table = store.task_access
    return conn.execute(sa.select(table.c.task_id).where(
        table.c.tenant == caller.tenant, table.c.subject == caller.subject, table.c.item_id == item_id).limit(1)).first() is not None


def tasked_items(caller: Principal):
    """The item ids of the caller's tasks, as a subquery (for listings)."""
    table = store.task_access
    return sa.select(table.c.item_id).where(table.c.tenant == caller.tenant, table.c.subject == caller.subject)


def blind(caller: Principal) -> bool:
    """Annotators see only their own annotations; reviewers, managers and admins see every annotation of an item."""
    return caller.role == "annotator"
