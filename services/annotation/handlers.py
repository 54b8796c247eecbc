"""Annotation's command and event handlers: load, apply the domain rules, save, emit."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from radlab.annotation.v1 import events_pb2
from radlab.quoting import shown
from radlab.tokens import DAY_S, DEFAULT_MAX_TTL_DAYS
from services.annotation import store
from services.annotation.domain import datasets as rules
from services.annotation.domain.revocations import revoked_until
from shared import paging
from shared.auth import Principal
from shared.consumer import Handler
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


@dataclass(frozen=True)
class Ports:
    """What annotation's handlers work with: its database, and the longest a token may live (RADLAB_TOKEN_MAX_TTL_DAYS)."""

    db: Database
    token_max_ttl_s: float = DEFAULT_MAX_TTL_DAYS * DAY_S


def create_dataset(db: Database, caller: Principal, name: str, description: str) -> DatasetView:
    name, description = rules.clean_name(name), rules.clean_description(description)
    with db.unit_of_work() as uow:
        taken = uow.execute(
            sa.select(store.datasets.c.dataset_id).where(store.datasets.c.tenant == caller.tenant, store.datasets.c.name == name)
        ).first()
        if taken:
            raise AlreadyExists(f"a dataset named {shown(name)} already exists ({taken.dataset_id}); choose another name")
        dataset_id = str(uuid.uuid4())
        uow.execute(
            store.datasets.insert().values(
                dataset_id=dataset_id, tenant=caller.tenant, name=name, description=description,
                creator=caller.subject, created_at=time.time(),
            )
        )
        uow.emit(events_pb2.DatasetCreated(dataset_id=dataset_id, name=name, creator=caller.subject),
                 subject=dataset_id, tenant=caller.tenant)
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
        return _load(uow, caller, dataset_id)


def unshare_dataset(db: Database, caller: Principal, dataset_id: str, vendor_id: str) -> DatasetView:
    with db.unit_of_work() as uow:
        dataset = _load(uow, caller, dataset_id)
        if vendor_id in dataset.vendor_ids:
            links = store.dataset_vendors
            uow.execute(links.delete().where(links.c.dataset_id == dataset_id, links.c.vendor_id == vendor_id))
            uow.emit(events_pb2.DatasetUnshared(dataset_id=dataset_id, vendor_id=vendor_id), subject=dataset_id, tenant=caller.tenant)
        return _load(uow, caller, dataset_id)


def revoke_token(ports: Ports, caller: Principal, token_id: str, requested_expiry_s: float | None) -> float:
    """Announce that token `token_id` of the caller's tenant is revoked (TokenRevoked, which every service applies to
    its deny list, this one too); returns until when the services refuse it."""
    until = revoked_until(token_id, requested_expiry_s, time.time(), ports.token_max_ttl_s)
    with ports.db.unit_of_work() as uow:
        revoked = events_pb2.TokenRevoked(token_id=token_id, expire_time=timestamp(until), revoked_by=caller.subject)
        uow.emit(revoked, subject=token_id, tenant=caller.tenant)
    return until


def event_handlers(ports: Ports, consumer: str) -> dict[str, Handler]:
    """Revoked tokens now; VolumeReady, PredictionsReady and SlicesInterpolated come with their issues."""
    return store.revoked_tokens.event_handlers(ports.db, consumer)


def _load(uow: UnitOfWork | Connection, caller: Principal, dataset_id: str) -> DatasetView:
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
    return DatasetView(row.seq, row.dataset_id, row.name, row.description, row.creator, row.created_at, vendor_ids)
