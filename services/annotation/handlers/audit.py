"""The append-only audit log: every change is recorded in the unit of work that makes it, and read by admins and managers."""

from __future__ import annotations

import time
import uuid

import sqlalchemy as sa

from services.annotation import store
from shared import paging
from shared.auth import Principal
from shared.db import Database, UnitOfWork


def record(uow: UnitOfWork, tenant: str, actor: str, action: str, *, dataset_id: str = "", item_id: str = "",
           annotation_id: str = "", before_version: int = 0, after_version: int = 0, **detail) -> None:
    """Append one change to the log, in the caller's unit of work (so a change and its record land together)."""
    uow.execute(store.audit_log.insert().values(
        audit_event_id=str(uuid.uuid4()), tenant=tenant, at=time.time(), actor=actor, action=action,
        dataset_id=dataset_id, item_id=item_id, annotation_id=annotation_id, before_version=before_version,
        after_version=after_version, detail=detail,
    ))


def list_events(db: Database, caller: Principal, dataset_id: str, after: int, limit: int):
    """One page of the tenant's log (or one dataset's), oldest first, and where the next page starts."""
    table = store.audit_log
    query = sa.select(table).where(table.c.tenant == caller.tenant)
    if dataset_id:
        query = query.where(table.c.dataset_id == dataset_id)
    with db.read() as conn:
        return paging.page_of(conn, query, table.c.seq, after, limit)
