"""Workflow definitions: created (a default one per new dataset), read and listed; the one a dataset's items follow.
A dataset's definitions are its versions, in the order they were created; none changes once created."""

from __future__ import annotations

import time
import uuid

import sqlalchemy as sa

from radlab.annotation.v1 import events_pb2 as annotation_events
from radlab.quoting import shown
from radlab.workflow.v1 import events_pb2
from radlab.workflow.v1 import workflow_service_pb2 as pb
from services.workflow import store
from services.workflow.domain import stages as rules
from shared import paging
from shared.auth import Principal
from shared.db import Database, UnitOfWork
from shared.errors import InvalidArgument, NotFound
from shared.events import Event
from shared.protos import timestamp


def create_workflow(db: Database, caller: Principal, dataset_id: str, name: str, stages: list[pb.Stage]) -> pb.Workflow:
    rules.validate(stages)
    if not name.strip():
        raise InvalidArgument("a workflow needs a name")
    with db.unit_of_work() as uow:
        known = store.known_datasets
        row = uow.execute(sa.select(known).where(known.c.dataset_id == dataset_id, known.c.tenant == caller.tenant)).first()
        if row is None:
            raise NotFound(f"dataset {shown(dataset_id)} not found (create it with CreateDataset first)")
        return _insert(uow, caller.tenant, dataset_id, name.strip(), stages, caller.subject)


def get_workflow(db: Database, caller: Principal, workflow_id: str) -> pb.Workflow:
    table = store.workflows
    with db.read() as conn:
        row = conn.execute(sa.select(table).where(table.c.workflow_id == workflow_id, table.c.tenant == caller.tenant)).first()
        if row is None:
            raise NotFound(f"workflow {shown(workflow_id)} not found")
        return _workflow(conn, row)


def list_workflows(db: Database, caller: Principal, dataset_id: str, after: int, limit: int) -> tuple[list[pb.Workflow], int | None]:
    table = store.workflows
    query = sa.select(table).where(table.c.tenant == caller.tenant)
    if dataset_id:
        query = query.where(table.c.dataset_id == dataset_id)
    with db.read() as conn:
        rows, next_after = paging.page_of(conn, query, table.c.seq, after, limit)
        read: dict[str, list[str]] = {}  # each dataset's workflows read once for the page
        return [_workflow(conn, row, read) for row in rows], next_after


def on_dataset_created(uow: UnitOfWork, event: Event) -> None:
    """Remember the dataset, and give it the default workflow so its items have somewhere to go."""
    created: annotation_events.DatasetCreated = event.message
    tenant = event.envelope.tenant
    uow.execute(store.known_datasets.insert().values(dataset_id=created.dataset_id, tenant=tenant, name=created.name))
    _insert(uow, tenant, created.dataset_id, rules.DEFAULT_NAME, rules.default_stages(), created.creator or "radlab")


def _insert(uow: UnitOfWork, tenant: str, dataset_id: str, name: str, stages: list[pb.Stage], creator: str) -> pb.Workflow:
    workflow_id = str(uuid.uuid4())
    uow.execute(
        store.workflows.insert().values(
            workflow_id=workflow_id, tenant=tenant, dataset_id=dataset_id, name=name,
            stages=pb.Workflow(stages=stages).SerializeToString(), creator=creator, created_at=time.time(),
        )
    )
    uow.emit(
        events_pb2.WorkflowCreated(workflow_id=workflow_id, dataset_id=dataset_id, name=name,
                                   stage_kinds=[stage.kind for stage in stages]),
        subject=dataset_id, tenant=tenant,
    )
    table = store.workflows
    return _workflow(uow, uow.execute(sa.select(table).where(table.c.workflow_id == workflow_id)).one())


def active(conn, tenant: str, dataset_id: str):
    """The workflow a dataset's new items enter: its most recently created one (None before DatasetCreated arrived)."""
    table = store.workflows
    return conn.execute(sa.select(table).where(table.c.tenant == tenant, table.c.dataset_id == dataset_id)
                        .order_by(table.c.seq.desc()).limit(1)).first()


def stages_of(row) -> list[pb.Stage]:
    return list(pb.Workflow.FromString(row.stages).stages)


def _workflow(conn, row, read: dict[str, list[str]] | None = None) -> pb.Workflow:
    """The workflow message of a row, its version from its dataset's workflows in creation order (`read`: the orders
    already read, by dataset id)."""
    workflow = pb.Workflow.FromString(row.stages)
    table = store.workflows
    read = {} if read is None else read
    if row.dataset_id not in read:
        read[row.dataset_id] = conn.execute(sa.select(table.c.workflow_id).where(
            table.c.tenant == row.tenant, table.c.dataset_id == row.dataset_id).order_by(table.c.seq)).scalars().all()
    order = read[row.dataset_id]
    workflow.version = order.index(row.workflow_id) + 1
    workflow.supersedes = order[workflow.version - 2] if workflow.version > 1 else ""
    workflow.current = order[-1] == row.workflow_id
    for stage in workflow.stages:
        if stage.webhook.secret:
            stage.webhook.secret = rules.REDACTED
    workflow.workflow_id = row.workflow_id
    workflow.dataset_id = row.dataset_id
    workflow.name = row.name
    workflow.creator = row.creator
    workflow.create_time.CopyFrom(timestamp(row.created_at))
    return workflow
