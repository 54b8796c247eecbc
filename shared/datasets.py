"""The datasets annotation announced (DatasetCreated), cached per tenant by a service that takes work into a dataset:
the table, the event's handler, and the lookup each service's own rule (refuse, or not found) is built on."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from radlab.annotation.v1 import events_pb2 as annotation_events
from shared.consumer import Handler
from shared.db import Database, UnitOfWork, idempotent
from shared.events import Event, event_type


class KnownDatasets:
    """The (tenant, dataset id) pairs announced so far, in the service's own `datasets` table. A service that adds it
    after a release needs no migration step: shared.migrations creates the table, and the service's new subscription
    reads DatasetCreated from the topic's start, so datasets created before the upgrade are learnt too."""

    def __init__(self, metadata: sa.MetaData):
        self.table = sa.Table(
            "datasets",
            metadata,
            sa.Column("tenant", sa.String(100), primary_key=True),
            sa.Column("dataset_id", sa.String(36), primary_key=True),
        )

    def on_dataset_created(self, uow: UnitOfWork, event: Event) -> None:
        created: annotation_events.DatasetCreated = event.message
        uow.execute(self.table.insert().values(tenant=event.envelope.tenant, dataset_id=created.dataset_id))

    def event_handlers(self, db: Database, consumer: str) -> dict[str, Handler]:
        """DatasetCreated, applied once per event id."""
        return {event_type(annotation_events.DatasetCreated): idempotent(db, consumer, self.on_dataset_created)}

    def known(self, conn: UnitOfWork | Connection, tenant: str, dataset_id: str) -> bool:
        """Whether annotation announced `dataset_id` in `tenant` (a dataset created a moment ago may not be here yet)."""
        table = self.table
        key = (table.c.tenant == tenant) & (table.c.dataset_id == dataset_id)
        return conn.execute(sa.select(table.c.dataset_id).where(key)).first() is not None
