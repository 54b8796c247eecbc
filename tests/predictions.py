"""The training service played by a test: a model's label array written to a `radlab up` home's store and its
PredictionsReady published on that home's local bus, as training does (tests of annotation and the viewer)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from radlab.training.v1 import events_pb2 as training_events
from radlab.type.v1 import label_pb2
from shared import bus as bus_port
from shared import events, objectstore
from shared.volume_store import VolumeStore


def publish_prediction(home: Path, tenant: str, item, dataset_id: str, mask: np.ndarray, affine: np.ndarray,
                       prediction_id: str, model_id: str) -> None:
    """`mask` (on the item's grid) as model `model_id`'s prediction for `item`, announced with confidence 0.93."""
    key = f"{tenant}/predictions/{item.item_id}"
    VolumeStore(objectstore.connect(f"file://{home}/objects")).write("labels", key, mask.astype(np.uint16), affine)
    ready = training_events.PredictionsReady(prediction_id=prediction_id, item_id=item.item_id, model_id=model_id,
                                             volume_id=item.volume_id, dataset_id=dataset_id, confidence=0.93,
                                             labels=label_pb2.Mask(bucket="labels", key=key))
    envelope = events.envelope_for(ready, source="radlab.training", subject=item.item_id, tenant=tenant)
    bus = bus_port.connect(f"local://{home / 'bus.sqlite'}")
    try:
        bus.publish(envelope.type, envelope.subject, envelope.payload, events.to_headers(envelope))
    finally:
        bus.close()
