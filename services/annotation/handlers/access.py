"""Who works on which item, as workflow's events say: annotators and reviewers see the items of their tasks, and
annotators only their own annotations (blind reading)."""

from __future__ import annotations

import sqlalchemy as sa

from radlab.workflow.v1 import events_pb2 as workflow_events
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
                                          item_id=assigned.item_id, stage_kind=assigned.stage_kind))


def on_task_released(uow: UnitOfWork, event: Event) -> None:
    released: workflow_events.TaskReleased = event.message
    table = store.task_access
    uow.execute(table.delete().where(table.c.task_id == released.task_id, table.c.subject == released.assignee))


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
