"""Datasets: creating, listing and sharing them with vendors, and who may see one; token revocation."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from radlab.annotation.v1 import events_pb2
from radlab.quoting import shown
from services.annotation import store
from services.annotation.handlers import audit
from services.annotation.domain import datasets as rules
from services.annotation.domain.revocations import revoked_until
from shared import paging
from shared.auth import Principal
from shared.db import Database, UnitOfWork
from shared.errors import AlreadyExists, NotFound
from shared.protos import timestamp


@dataclass(frozen=True)
class DatasetView:
    """A dataset as its caller may see it (vendors do not see whom else it is shared with)."""

    seq: int
    dataset_id: str
    name: str
    description: str
    creator: str
    created_at: float
    vendor_ids: tuple[str, ...]
    item_count: int


def create_dataset(db: Database, caller: Principal, name: str, description: str, dataset_id: str = "") -> DatasetView:
    """A new dataset, under the id the caller chose or a new one."""
    name, description = rules.clean_name(name), rules.clean_description(description)
    dataset_id = rules.chosen_dataset_id(dataset_id)
    with db.unit_of_work() as uow:
        taken = uow.execute(
            sa.select(store.datasets.c.dataset_id).where(store.datasets.c.tenant == caller.tenant, store.datasets.c.name == name)
        ).first()
        if taken:
            raise AlreadyExists(f"a dataset named {shown(name)} already exists ({taken.dataset_id}); choose another name")
        if uow.execute(sa.select(store.datasets.c.dataset_id).where(store.datasets.c.dataset_id == dataset_id)).first():
            raise AlreadyExists(f"dataset id {dataset_id} is taken; choose another, or leave it empty and Radlab picks one")
        uow.execute(
            store.datasets.insert().values(
                dataset_id=dataset_id, tenant=caller.tenant, name=name, description=description,
                creator=caller.subject, created_at=time.time(),
            )
        )
        uow.emit(events_pb2.DatasetCreated(dataset_id=dataset_id, name=name, creator=caller.subject),
                 subject=dataset_id, tenant=caller.tenant)
        audit.record(uow, caller.tenant, caller.subject, "dataset.created", dataset_id=dataset_id, name=name)
        return _load(uow, caller, dataset_id)


def get_dataset(db: Database, caller: Principal, dataset_id: str) -> DatasetView:
    with db.read() as conn:
        return _load(conn, caller, dataset_id)


def list_datasets(db: Database, caller: Principal, after: int, limit: int) -> tuple[list[DatasetView], int | None]:
    """One page of the caller's datasets in creation order, and the position the next page starts after."""
    table = store.datasets
    query = sa.select(table.c.dataset_id, table.c.seq).where(table.c.tenant == caller.tenant)
    if caller.role == "vendor":
        shared = sa.select(store.dataset_vendors.c.dataset_id).where(store.dataset_vendors.c.vendor_id == caller.vendor)
        query = query.where(table.c.dataset_id.in_(shared))
    with db.read() as conn:
        rows, next_after = paging.page_of(conn, query, table.c.seq, after, limit)
        return [_load(conn, caller, row.dataset_id) for row in rows], next_after


def share_dataset(db: Database, caller: Principal, dataset_id: str, vendor_id: str) -> DatasetView:
    vendor_id = rules.clean_vendor_id(vendor_id)
    with db.unit_of_work() as uow:
        dataset = _load(uow, caller, dataset_id)
        if vendor_id not in dataset.vendor_ids:
            uow.execute(
                store.dataset_vendors.insert().values(
                    dataset_id=dataset_id, vendor_id=vendor_id, shared_by=caller.subject, shared_at=time.time()
                )
            )
            uow.emit(events_pb2.DatasetShared(dataset_id=dataset_id, vendor_id=vendor_id), subject=dataset_id, tenant=caller.tenant)
            audit.record(uow, caller.tenant, caller.subject, "dataset.shared", dataset_id=dataset_id, vendor_id=vendor_id)
        return _load(uow, caller, dataset_id)


def unshare_dataset(db: Database, caller: Principal, dataset_id: str, vendor_id: str) -> DatasetView:
    with db.unit_of_work() as uow:
        dataset = _load(uow, caller, dataset_id)
        if vendor_id in dataset.vendor_ids:
            links = store.dataset_vendors
            uow.execute(links.delete().where(links.c.dataset_id == dataset_id, links.c.vendor_id == vendor_id))
            uow.emit(events_pb2.DatasetUnshared(dataset_id=dataset_id, vendor_id=vendor_id), subject=dataset_id, tenant=caller.tenant)
            audit.record(uow, caller.tenant, caller.subject, "dataset.unshared", dataset_id=dataset_id, vendor_id=vendor_id)
        return _load(uow, caller, dataset_id)


def revoke_token(db: Database, token_max_ttl_s: float, caller: Principal, token_id: str, requested_expiry_s: float | None) -> float:
    """Announce that token `token_id` of the caller's tenant is revoked (TokenRevoked, which every service applies to
    its deny list, this one too); returns until when the services refuse it."""
    until = revoked_until(token_id, requested_expiry_s, time.time(), token_max_ttl_s)
    with db.unit_of_work() as uow:
        revoked = events_pb2.TokenRevoked(token_id=token_id, expire_time=timestamp(until), revoked_by=caller.subject)
        uow.emit(revoked, subject=token_id, tenant=caller.tenant)
        audit.record(uow, caller.tenant, caller.subject, "token.revoked", token_id=token_id)
    return until


def visible(conn: UnitOfWork | Connection, caller: Principal, dataset_id: str) -> DatasetView:
    """The dataset if the caller may see it (its tenant; for vendors, shared with theirs), else NotFound; its item
    count is not counted (0)."""
    return _load(conn, caller, dataset_id, count_items=False)


def _load(uow: UnitOfWork | Connection, caller: Principal, dataset_id: str, *, count_items: bool = True) -> DatasetView:
    table = store.datasets
    row = uow.execute(sa.select(table).where(table.c.dataset_id == dataset_id, table.c.tenant == caller.tenant)).first()
    vendors = set(
        uow.execute(
            sa.select(store.dataset_vendors.c.vendor_id).where(store.dataset_vendors.c.dataset_id == dataset_id)
        ).scalars()
    ) if row else set()
    if row is None or (caller.role == "vendor" and not rules.visible_to_vendor(vendors, caller.vendor)):
        raise NotFound(f"dataset {shown(dataset_id)} not found")
    vendor_ids = () if caller.role == "vendor" else tuple(sorted(vendors))
    count = uow.execute(sa.select(sa.func.count()).select_from(store.items).where(
        store.items.c.dataset_id == dataset_id)).scalar() if count_items else 0
    return DatasetView(row.seq, row.dataset_id, row.name, row.description, row.creator, row.created_at, vendor_ids, count)
