"""Labels machines made, as annotations of their items: a consensus stage's merge (handed in when the readers agreed,
a draft for the adjudicator when they did not) and a model's prediction (a draft annotators start from)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import numpy as np
import sqlalchemy as sa
from google.protobuf import json_format

from radlab.annotation.v1 import annotation_service_pb2 as pb
from radlab.training.v1 import events_pb2 as training_events
from radlab.type.v1 import label_pb2
from radlab.workflow.v1 import events_pb2 as workflow_events
from services.annotation import store
from services.annotation.domain.manifest import IMPORTED, PREDICTED, Manifest, Origin
from services.annotation.handlers.annotations import mark_submitted, start_annotation
from services.annotation.handlers.labels import grid, new_version, put_slices, record_label_array, slice_prefix, stored_plane, version_row
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.events import Event

CONSENSUS_AUTHOR = "radlab.consensus"  # the annotator of merges; workflow knows the name


def on_consensus(ports, consumer: str, event: Event) -> None:
    """ConsensusReached or ConsensusDisputed: the merged labels, fused boxes and merged polygons become an annotation
    by radlab.consensus, submitted when the readers agreed."""
    outcome: workflow_events.ConsensusReached | workflow_events.ConsensusDisputed = event.message
    reached = isinstance(outcome, workflow_events.ConsensusReached)
    _annotate(ports, consumer, event, outcome.item_id, outcome.consensus_labels, author=CONSENSUS_AUTHOR, model_id="",
              origin=Origin(IMPORTED, f"consensus {outcome.consensus_result_id}"), submit=reached,
              action="annotation.consensus_merged",
              shapes=_box_shapes(outcome.consensus_boxes, CONSENSUS_AUTHOR) | _polygon_shapes(outcome.consensus_polygons))


def _box_shapes(boxes: Iterable[label_pb2.SliceBox], author: str) -> dict[str, dict]:
    """Boxes (fused, or a detector's) as the manifest stores shapes, by new shape ids (unmeasured: their confidence is
    in the consensus result or the prediction)."""
    return _stored(pb.Shape(label_value=found.label_value, plane=found.plane, slice_index=found.slice_index,
                            box=pb.Box(x0=found.x0, y0=found.y0, x1=found.x1, y1=found.y1), author=author)
                   for found in boxes)


def _stored(shapes: Iterable[pb.Shape]) -> dict[str, dict]:
    """Shapes as the manifest stores them, each under a new shape id."""
    stored = {}
    for shape in shapes:
        shape.shape_id = str(uuid.uuid4())
        stored[shape.shape_id] = json_format.MessageToDict(shape, preserving_proto_field_name=True)
    return stored


def _polygon_shapes(polygons: Iterable[label_pb2.Polygon]) -> dict[str, dict]:
    """Merged polygons as the manifest stores shapes (outer rings: the merge traces each region's outline)."""
    return _stored(pb.Shape(label_value=found.label_value, plane=found.plane, slice_index=found.slice_index,
                            polygon=pb.ShapePolygon(outer=pb.Ring(vertices=found.vertices)), author=CONSENSUS_AUTHOR)
                   for found in polygons)


def on_predictions_ready(ports, consumer: str, event: Event) -> None:
    """A model's labels for an item: an annotation by that model, every slice PREDICTED (source: the model), its
    boxes when a detector's. (A classifier's tag probabilities stay with the prediction.)"""
    ready: training_events.PredictionsReady = event.message
    if not ready.labels.key and not ready.boxes:
        return
    _annotate(ports, consumer, event, ready.item_id, ready.labels, author=ready.model_id, model_id=ready.model_id,
              origin=Origin(PREDICTED, ready.model_id), submit=False, action="annotation.predicted",
              shapes=_box_shapes(ready.boxes, ready.model_id))


def _annotate(ports, consumer: str, event: Event, item_id: str, labels: label_pb2.Mask, *, author: str, model_id: str,
              origin: Origin, submit: bool, action: str, shapes: dict[str, dict] | None = None) -> None:
    """A new annotation of the item holding `labels` and `shapes` (slices stored before the unit of work that records
    them)."""
    if ports.db.processed(consumer, event.id):
        return
    with ports.db.read() as conn:
        item = conn.execute(sa.select(store.items).where(store.items.c.item_id == item_id)).first()
    if item is None:
        return  # labels for a bare volume, no item of annotation's
    slices, contents = [], []
    if labels.key:  # a detector's prediction holds boxes only
        array = ports.volumes.read(labels.bucket, labels.key).array
        slices = [(int(value), int(k)) for value in np.unique(array) if value
                  for k in np.flatnonzero((array == value).reshape(array.shape[0], -1).any(axis=1))]
        contents = put_slices(ports.objects, slice_prefix(item.tenant, item.item_id),
                              [array[k] == value for value, k in slices])
    plane = stored_plane(grid(item)[1])
    manifest = Manifest(dict(zip(slices, contents)), {(plane, k, value): origin for value, k in slices}, shapes or {})

    def record(uow: UnitOfWork) -> None:
        head = start_annotation(uow, Principal(author, "admin", item.tenant), item, model_id=model_id)
        version = new_version(uow, head, manifest, change=_change(origin), author=author, actor=author,
                              new_key_slices=True, action=action)
        if submit:
            row = version_row(uow, head.annotation_id, version)
            head = uow.execute(sa.select(store.annotations).where(store.annotations.c.annotation_id == head.annotation_id)).one()
            mark_submitted(uow, head, row, record_label_array(uow, row, labels.key, item.volume_id), author)

    ports.db.apply_once(consumer, event.id, record)


def _change(origin: Origin) -> int:
    return pb.ANNOTATION_CHANGE_PREDICTION_APPLIED if origin.provenance == PREDICTED else pb.ANNOTATION_CHANGE_LABELS_IMPORTED
