"""Training's handlers: what they work with (`Ports`), and which of them each event goes to."""

from __future__ import annotations

import json
from collections.abc import Callable
import threading
from dataclasses import dataclass, field

import sqlalchemy as sa

from radlab.annotation.v1 import events_pb2 as annotation_events
from radlab.workflow.v1 import events_pb2 as workflow_events
from services.training import store
from services.training.handlers.predictions import on_prediction_requested
from services.training.handlers.runs import on_training_requested
from shared.compute import Compute
from shared.consumer import Handler
from shared.db import Database, UnitOfWork, idempotent
from shared.events import Event, event_type
from shared.jobs import JobWorker
from shared.objectstore import ObjectStore
from shared.volume_store import VolumeStore


@dataclass(frozen=True)
class Ports:
    """What training's handlers work with: its database, the object store (model artifacts) and its URL (which the
    compute workers open themselves), the compute pool (Ray, started on first use), and one job worker each for runs,
    predictions and rankings."""

    db: Database
    objects: ObjectStore
    volumes: VolumeStore
    store_url: str
    compute: Callable[[], Compute]
    runs: JobWorker
    predictions: JobWorker
    rankings: JobWorker
    # Set when the process stops: a running run ends at its next epoch, still RUNNING, for the next process to take
    # over from its checkpoint (instead of holding the stop up for the rest of its training).
    stopping: threading.Event = field(default_factory=threading.Event)


def job_workers(db: Database, **options) -> tuple[JobWorker, JobWorker, JobWorker]:
    """The workers of training runs, predictions and rankings (neither of the others waits for a run to end)."""
    return (JobWorker(db, store.runs, name="training", id_column="run_id", **options),
            JobWorker(db, store.predictions, name="prediction", id_column="prediction_id", **options),
            JobWorker(db, store.rankings, name="ranking", id_column="ranking_id", **options))


def on_item_added(uow: UnitOfWork, event: Event) -> None:
    """Remember the item's dataset, volume and modality."""
    added: annotation_events.ItemAdded = event.message
    _upsert_item(uow, event.envelope.tenant, added.item_id, dataset_id=added.dataset_id, volume_id=added.volume_id,
                 modality=added.modality)


def on_annotation_submitted(uow: UnitOfWork, event: Event) -> None:
    """Remember the item's latest submitted labels: what a run trains on when its request names no examples. (Events of
    two topics may come in either order: a submission seen first makes the row, ItemAdded fills in the rest.)"""
    submitted: annotation_events.AnnotationSubmitted = event.message
    items = store.items
    key = (items.c.tenant == event.envelope.tenant) & (items.c.item_id == submitted.item_id)
    row = uow.execute(sa.select(items.c.submitted_at).where(key)).first()
    if not submitted.labels.key or (row is not None and (row.submitted_at or 0) > _seconds(event)):
        return
    _upsert_item(uow, event.envelope.tenant, submitted.item_id, dataset_id=submitted.dataset_id,
                 annotation_id=submitted.annotation_id, annotation_version=submitted.version,
                 labels_key=submitted.labels.key, label_values=json.dumps(sorted(submitted.labels.label_values)),
                 submitted_at=_seconds(event), **({"volume_id": submitted.labels.volume_id} if submitted.labels.volume_id else {}))


def _upsert_item(uow: UnitOfWork, tenant: str, item_id: str, **values) -> None:
    items = store.items
    key = (items.c.tenant == tenant) & (items.c.item_id == item_id)
    if uow.execute(sa.select(items.c.item_id).where(key)).first() is None:
        empty = dict(volume_id="", modality="", annotation_id="", annotation_version=0, labels_key="", label_values="[]",
                     submitted_at=None)
        uow.execute(items.insert().values(tenant=tenant, item_id=item_id, **(empty | values)))
    else:
        uow.execute(items.update().where(key).values(**values))


def event_handlers(ports: Ports, consumer: str) -> dict[str, Handler]:
    """ItemAdded and AnnotationSubmitted are cached, vendor shares and revoked tokens too; TrainingRequested starts a
    run, PredictionRequested a prediction (each found again on redelivery)."""
    cached = {annotation_events.ItemAdded: on_item_added, annotation_events.AnnotationSubmitted: on_annotation_submitted}
    return {
        **{event_type(message): idempotent(ports.db, consumer, apply) for message, apply in cached.items()},
        event_type(workflow_events.TrainingRequested): lambda event: on_training_requested(ports, consumer, event),
        event_type(workflow_events.PredictionRequested): lambda event: on_prediction_requested(ports, consumer, event),
        **store.vendor_shares.event_handlers(ports.db, consumer),
        **store.revoked_tokens.event_handlers(ports.db, consumer),
    }


def _seconds(event: Event) -> float:
    return event.envelope.time.ToMicroseconds() / 1e6
