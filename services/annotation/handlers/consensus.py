"""A consensus stage's merge as an annotation of the item: handed in when the readers agreed (it then carries the
item on), left as a draft for the adjudicator to accept or edit when they did not."""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa

from radlab.annotation.v1 import annotation_service_pb2 as pb
from radlab.workflow.v1 import events_pb2 as workflow_events
from services.annotation import store
from services.annotation.domain.manifest import IMPORTED, Manifest, Origin
from services.annotation.handlers.annotations import mark_submitted, start_annotation
from services.annotation.handlers.labels import grid, new_version, put_slices, record_label_array, slice_prefix, stored_plane, version_row
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.events import Event

AUTHOR = "radlab.consensus"  # the annotator of merges; workflow knows the name


def on_consensus(ports, consumer: str, event: Event) -> None:
    """ConsensusReached or ConsensusDisputed: the merged labels become an annotation by radlab.consensus (stored
    before the unit of work that records it), submitted when the readers agreed."""
    outcome: workflow_events.ConsensusReached | workflow_events.ConsensusDisputed = event.message
    if ports.db.processed(consumer, event.id):
        return
    with ports.db.read() as conn:
        item = conn.execute(sa.select(store.items).where(store.items.c.item_id == outcome.item_id)).one()
    merged = ports.volumes.read(outcome.consensus_labels.bucket, outcome.consensus_labels.key).array
    prefix = slice_prefix(item.tenant, item.item_id)
    slices = [(int(value), int(k)) for value in np.unique(merged) if value
              for k in np.flatnonzero((merged == value).reshape(merged.shape[0], -1).any(axis=1))]
    contents = put_slices(ports.objects, prefix, [merged[k] == value for value, k in slices])
    plane = stored_plane(grid(item)[1])
    source = f"consensus {outcome.consensus_result_id}"
    manifest = Manifest(dict(zip(slices, contents)), {(plane, k, value): Origin(IMPORTED, source) for value, k in slices})
    reached = isinstance(outcome, workflow_events.ConsensusReached)

    def record(uow: UnitOfWork) -> None:
        head = start_annotation(uow, Principal(AUTHOR, "admin", item.tenant), item)
        version = new_version(uow, head, manifest, change=pb.ANNOTATION_CHANGE_LABELS_IMPORTED, author=AUTHOR, actor=AUTHOR,
                              new_key_slices=True, action="annotation.consensus_merged")
        if reached:
            row = version_row(uow, head.annotation_id, version)
            head = uow.execute(sa.select(store.annotations).where(store.annotations.c.annotation_id == head.annotation_id)).one()
            mark_submitted(uow, head, row, record_label_array(uow, row, outcome.consensus_labels.key, item.volume_id), AUTHOR)

    ports.db.apply_once(consumer, event.id, record)
