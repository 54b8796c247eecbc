"""Workflow's handlers: what they work with (`Ports`), and which of them each event goes to."""

from __future__ import annotations

from dataclasses import dataclass

from radlab.annotation.v1 import events_pb2 as annotation_events
from radlab.training.v1 import events_pb2 as training_events
from radlab.workflow.v1 import events_pb2
from services.workflow import store
from services.workflow.handlers.consensus import on_consensus_adjudicated, on_readers_finished
from services.workflow.handlers.progress import (
    on_annotation_submitted, on_annotation_version_saved, on_item_added, on_item_updated, on_items_ranked,
    on_model_promoted, on_model_trained, on_prediction_ended,
)
from services.workflow.handlers.webhook_stage import on_webhook_due
from services.workflow.handlers.workflows import on_dataset_created
from shared.consumer import Handler
from shared.db import Database, idempotent
from shared.events import event_type
from shared.volume_store import VolumeStore


@dataclass(frozen=True)
class Ports:
    """What workflow's handlers work with: its database, and label arrays (`volumes`: consensus reads the readers'
    and writes the merge)."""

    db: Database
    volumes: VolumeStore


def event_handlers(ports: Ports, consumer: str) -> dict[str, Handler]:
    """DatasetCreated → a default workflow; ItemAdded → the first stage; AnnotationSubmitted → an annotate task done;
    AnnotationVersionSaved → the versions a review decides on; ItemUpdated → tags routes look at; ModelTrained and
    ModelPromoted → the model a model stage uses; ItemsRanked → the order open tasks are claimed in; PredictionsReady/Failed → a model task done; its own ReadersFinished → consensus,
    ConsensusAdjudicated → reader scores, WebhookDue → a delivery."""
    applied = {
        annotation_events.DatasetCreated: on_dataset_created,
        annotation_events.ItemAdded: on_item_added,
        annotation_events.AnnotationSubmitted: on_annotation_submitted,
        annotation_events.AnnotationVersionSaved: on_annotation_version_saved,
        annotation_events.ItemUpdated: on_item_updated,
        training_events.ModelTrained: on_model_trained,
        training_events.ModelPromoted: on_model_promoted,
        training_events.ItemsRanked: on_items_ranked,
        training_events.PredictionsReady: on_prediction_ended,
        training_events.PredictionFailed: on_prediction_ended,
    }
    return {
        **{event_type(message): idempotent(ports.db, consumer, apply) for message, apply in applied.items()},
        event_type(events_pb2.ReadersFinished): lambda event: on_readers_finished(ports, consumer, event),
        event_type(events_pb2.ConsensusAdjudicated): lambda event: on_consensus_adjudicated(ports, consumer, event),
        event_type(events_pb2.WebhookDue): lambda event: on_webhook_due(ports, consumer, event),
        **store.revoked_tokens.event_handlers(ports.db, consumer),
    }
