"""Vendor sharing as annotation announces it (DatasetShared / DatasetUnshared), cached by a service that serves a
dataset's contents: the table, the two events' handlers, and the check every vendor read passes."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from radlab.annotation.v1 import events_pb2 as annotation_events
from shared.auth import Principal
from shared.consumer import Handler
from shared.db import Database, UnitOfWork, idempotent
from shared.events import Event, event_type


class VendorShares:
    """Which vendors each dataset is shared with, in the service's own `vendor_shares` table (annotation's own
    `dataset_vendors` is where shares are decided; this is a copy of what it announced)."""

    def __init__(self, metadata: sa.MetaData):
        self.table = sa.Table(
            "vendor_shares",
            metadata,
            sa.Column("tenant", sa.String(100), primary_key=True),
            sa.Column("dataset_id", sa.String(100), primary_key=True),
            sa.Column("vendor_id", sa.String(100), primary_key=True),
        )

    def _key(self, tenant: str, dataset_id: str, vendor_id: str) -> sa.ColumnElement[bool]:
        table = self.table
        return sa.and_(table.c.tenant == tenant, table.c.dataset_id == dataset_id, table.c.vendor_id == vendor_id)

    def on_dataset_shared(self, uow: UnitOfWork, event: Event) -> None:
        shared: annotation_events.DatasetShared = event.message
        key = self._key(event.envelope.tenant, shared.dataset_id, shared.vendor_id)
        if uow.execute(sa.select(self.table.c.vendor_id).where(key)).first() is None:
            uow.execute(self.table.insert().values(tenant=event.envelope.tenant, dataset_id=shared.dataset_id, vendor_id=shared.vendor_id))

    def on_dataset_unshared(self, uow: UnitOfWork, event: Event) -> None:
        unshared: annotation_events.DatasetUnshared = event.message
        uow.execute(self.table.delete().where(self._key(event.envelope.tenant, unshared.dataset_id, unshared.vendor_id)))

    def event_handlers(self, db: Database, consumer: str) -> dict[str, Handler]:
        """DatasetShared and DatasetUnshared, each applied once per event id."""
        return {
            event_type(annotation_events.DatasetShared): idempotent(db, consumer, self.on_dataset_shared),
            event_type(annotation_events.DatasetUnshared): idempotent(db, consumer, self.on_dataset_unshared),
        }

    def visible(self, conn: UnitOfWork | Connection, caller: Principal, dataset_id: str) -> bool:
        """Whether the caller may see the dataset's contents: anyone of its tenant but a vendor, whom it must be shared with."""
        if caller.role != "vendor":
            return True
        key = self._key(caller.tenant, dataset_id, caller.vendor)
        return conn.execute(sa.select(self.table.c.vendor_id).where(key)).first() is not None
