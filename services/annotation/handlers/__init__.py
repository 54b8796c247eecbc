"""Annotation's handlers: what they work with (`Ports`), and which of them each event goes to."""

from __future__ import annotations

from dataclasses import dataclass

from radlab.annotation.v1 import events_pb2
from radlab.ingestion.v1 import events_pb2 as ingestion_events
from radlab.interpolation.v1 import events_pb2 as interpolation_events
from radlab.tokens import DAY_S, DEFAULT_MAX_TTL_DAYS
from radlab.training.v1 import events_pb2 as training_events
from radlab.workflow.v1 import events_pb2 as workflow_events
from services.annotation import store
from services.annotation.handlers.access import (
    on_stage_completed, on_task_assigned, on_task_completed, on_task_created, on_task_released,
)
from services.annotation.handlers.machine_labels import on_consensus, on_predictions_ready
from services.annotation.handlers.annotations import on_annotation_version_saved, on_slices_interpolated
from services.annotation.handlers.items import on_volume_ready
from shared.consumer import Handler
from shared.db import Database, idempotent
from shared.events import event_type
from shared.objectstore import ObjectStore
from shared.volume_store import VolumeStore


@dataclass(frozen=True)
class Ports:
    """What annotation's handlers work with: its database, the object store (`objects`: slice masks, exports), label
    arrays (`volumes`), and the longest a token may live (RADLAB_TOKEN_MAX_TTL_DAYS)."""

    db: Database
    objects: ObjectStore
    volumes: VolumeStore
    token_max_ttl_s: float = DEFAULT_MAX_TTL_DAYS * DAY_S


def event_handlers(ports: Ports, consumer: str) -> dict[str, Handler]:
    """VolumeReady → an item; its own AnnotationVersionSaved → the label array and KeySlicesSaved; SlicesInterpolated →
    a new version while current; TaskAssigned/Released/Completed/Created and StageCompleted → who sees which item, and
    where it stands; ConsensusReached/Disputed → the
    merge as an annotation; PredictionsReady → the model's annotation; revoked tokens."""
    return {
        event_type(ingestion_events.VolumeReady): idempotent(ports.db, consumer, on_volume_ready),
        event_type(events_pb2.AnnotationVersionSaved): lambda event: on_annotation_version_saved(ports, consumer, event),
        event_type(interpolation_events.SlicesInterpolated): lambda event: on_slices_interpolated(ports, consumer, event),
        event_type(workflow_events.TaskAssigned): idempotent(ports.db, consumer, on_task_assigned),
        event_type(workflow_events.TaskReleased): idempotent(ports.db, consumer, on_task_released),
        event_type(workflow_events.TaskCompleted): idempotent(ports.db, consumer, on_task_completed),
        event_type(workflow_events.TaskCreated): idempotent(ports.db, consumer, on_task_created),
        event_type(workflow_events.StageCompleted): idempotent(ports.db, consumer, on_stage_completed),
        event_type(workflow_events.ConsensusReached): lambda event: on_consensus(ports, consumer, event),
        event_type(workflow_events.ConsensusDisputed): lambda event: on_consensus(ports, consumer, event),
        event_type(training_events.PredictionsReady): lambda event: on_predictions_ready(ports, consumer, event),
        **store.revoked_tokens.event_handlers(ports.db, consumer),
    }
