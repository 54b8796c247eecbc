"""The datasets annotation announced, cached per tenant: uploads go only into those."""

from __future__ import annotations

from radlab.annotation.v1 import events_pb2 as annotation_events
from services.ingestion import store
from shared.db import UnitOfWork
from shared.events import Event


def on_dataset_created(uow: UnitOfWork, event: Event) -> None:
    """Remember the dataset in its tenant, so uploads into it are taken."""
    created: annotation_events.DatasetCreated = event.message
    uow.execute(store.datasets.insert().values(tenant=event.envelope.tenant, dataset_id=created.dataset_id))
