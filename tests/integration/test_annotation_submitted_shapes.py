"""What annotation tells workflow of a handed-in annotation's shapes (AnnotationSubmitted's boxes and polygons), and a
consensus's fused boxes and merged polygons becoming shapes of the radlab.consensus annotation; on SQLite and a file store."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
import sqlalchemy as sa

from radlab.annotation.v1 import annotation_service_pb2 as pb
from radlab.annotation.v1 import events_pb2
from radlab.ingestion.v1 import events_pb2 as ingestion_events
from radlab.type.v1 import geometry_pb2, label_pb2
from radlab.workflow.v1 import events_pb2 as workflow_events
from services.annotation import handlers, store
from services.annotation.handlers import annotations, classes, datasets, shapes
from shared import objectstore
from shared.auth import Principal
from shared.db import Database
from shared.events import Event, envelope_for, event_type
from shared.objectstore import LABELS_BUCKET, VOLUMES_BUCKET
from shared.volume_store import VolumeStore

TENANT = "hospital-a"
ADMIN = Principal("admin-1", "admin", TENANT)
SHAPE = (4, 64, 64)  # [k, j, i]
AXIAL = geometry_pb2.PLANE_AXIAL


@pytest.fixture
def ports(tmp_path):
    objects = objectstore.connect(f"file://{tmp_path / 'objects'}")
    objects.ensure_bucket(LABELS_BUCKET)
    database = Database(f"sqlite:///{tmp_path / 'db'}", "annotation", store.metadata)
    yield handlers.Ports(database, objects, VolumeStore(objects))
    database.dispose()


def deliver(ports, message) -> None:
    event = Event(envelope_for(message, source="radlab.test", subject="s", tenant=TENANT), message)
    handlers.event_handlers(ports, "radlab.annotation")[event_type(message)](event)


def submitted(ports) -> list[events_pb2.AnnotationSubmitted]:
    with ports.db.read() as conn:
        rows = conn.execute(sa.select(ports.db.outbox.c.payload).where(
            ports.db.outbox.c.topic == event_type(events_pb2.AnnotationSubmitted)).order_by(ports.db.outbox.c.seq)).scalars()
        return [events_pb2.AnnotationSubmitted.FromString(payload) for payload in rows]


def item_with_classes(ports) -> tuple[str, dict[str, int]]:
    """An item on a 4×64×64 CT volume, in a dataset with a box, a polygon and an ellipse class (their values by kind)."""
    dataset_id = datasets.create_dataset(ports.db, ADMIN, "shapes", "").dataset_id
    volume_id = str(uuid.uuid4())
    ports.volumes.write(VOLUMES_BUCKET, volume_id, np.full(SHAPE, 40, np.int16), np.eye(4), {})
    geometry = geometry_pb2.Geometry(shape=SHAPE, affine=np.eye(4).ravel(), spacing=[1, 1, 1])
    deliver(ports, ingestion_events.VolumeReady(
        volume_id=volume_id, dataset_id=dataset_id, modality="CT",
        volume_ref=geometry_pb2.VolumeRef(volume_id=volume_id, bucket=VOLUMES_BUCKET, key_prefix=volume_id, geometry=geometry)))
    with ports.db.read() as conn:
        item_id = conn.execute(sa.select(store.items.c.item_id).where(store.items.c.volume_id == volume_id)).scalar_one()
    values = {kind: classes.create_class(ports.db, ADMIN, pb.CreateLabelClassRequest(
        dataset_id=dataset_id, name=kind, type=class_type)).value
        for kind, class_type in (("box", pb.LABEL_CLASS_TYPE_BOUNDING_BOX), ("polygon", pb.LABEL_CLASS_TYPE_POLYGON),
                                 ("ellipse", pb.LABEL_CLASS_TYPE_ELLIPSE))}
    return item_id, values


def ring(*points: tuple[float, float]) -> pb.Ring:
    return pb.Ring(vertices=[label_pb2.Point2(x=x, y=y) for x, y in points])


def test_a_handed_in_annotation_tells_its_boxes_and_polygons_with_their_holes_but_not_its_ellipses(ports):
    item_id, values = item_with_classes(ports)
    outer, hole = ring((5, 5), (40, 5), (40, 40), (5, 40)), ring((10, 10), (20, 10), (20, 20))
    saved = shapes.save_shapes(ports, ADMIN, pb.SaveShapesRequest(item_id=item_id, shapes=[
        pb.Shape(label_value=values["box"], plane=AXIAL, slice_index=2, box=pb.Box(x0=3, y0=4, x1=30.5, y1=20)),
        pb.Shape(label_value=values["polygon"], plane=AXIAL, slice_index=1,
                 polygon=pb.ShapePolygon(outer=outer, holes=[hole])),
        pb.Shape(label_value=values["ellipse"], plane=AXIAL, slice_index=1,
                 ellipse=pb.Ellipse(center_x=30, center_y=30, radius_x=5, radius_y=3)),
    ]))
    annotations.submit(ports, ADMIN, saved.annotation_id, saved.version)

    [handed_in] = submitted(ports)
    assert (handed_in.annotation_id, handed_in.version) == (saved.annotation_id, saved.version)
    assert list(handed_in.boxes) == [label_pb2.SliceBox(plane=AXIAL, slice_index=2, label_value=values["box"],
                                                        x0=3, y0=4, x1=30.5, y1=20)]
    assert [(p.label_value, p.plane, p.slice_index, p.hole, list(p.vertices)) for p in handed_in.polygons] == [
        (values["polygon"], AXIAL, 1, False, list(outer.vertices)), (values["polygon"], AXIAL, 1, True, list(hole.vertices))]


def test_a_reached_consensus_hands_in_its_fused_boxes_and_merged_polygons_as_shapes(ports):
    item_id, values = item_with_classes(ports)
    merged = f"{TENANT}/{item_id}/consensus/result-1"
    ports.volumes.write(LABELS_BUCKET, merged, np.zeros(SHAPE, np.uint16), np.eye(4), {})
    fused = [label_pb2.SliceBox(plane=AXIAL, slice_index=2, label_value=values["box"], x0=10.5, y0=10, x1=30.5, y1=30.5,
                                score=1.0),
             label_pb2.SliceBox(plane=AXIAL, slice_index=3, label_value=values["box"], x0=40, y0=40, x1=56, y1=60, score=0.5)]
    outline = label_pb2.Polygon(plane=AXIAL, slice_index=1, label_value=values["polygon"],
                                vertices=[label_pb2.Point2(x=x, y=y) for x, y in ((12, 10), (30, 10), (30, 30), (12, 30))])
    deliver(ports, workflow_events.ConsensusReached(
        consensus_result_id="result-1", item_id=item_id, consensus_boxes=fused, consensus_polygons=[outline],
        consensus_labels=label_pb2.Mask(bucket=LABELS_BUCKET, key=merged)))

    [handed_in] = submitted(ports)
    assert handed_in.annotator == "radlab.consensus"
    unscored = [label_pb2.SliceBox(plane=b.plane, slice_index=b.slice_index, label_value=b.label_value, x0=b.x0, y0=b.y0,
                                   x1=b.x1, y1=b.y1) for b in fused]  # shapes keep no confidence
    assert sorted(handed_in.boxes, key=lambda b: b.slice_index) == unscored
    [polygon] = handed_in.polygons
    assert (polygon.slice_index, polygon.label_value, list(polygon.vertices)) == (1, values["polygon"], list(outline.vertices))
    kept = annotations.get_annotation(ports, ADMIN, pb.GetAnnotationRequest(annotation_id=handed_in.annotation_id)).shapes
    assert {(s.slice_index, s.box.x0, s.box.y1, s.author) for s in kept if s.HasField("box")} == {
        (2, 10.5, 30.5, "radlab.consensus"), (3, 40, 60, "radlab.consensus")}
    assert [(s.slice_index, s.author) for s in kept if s.HasField("polygon")] == [(1, "radlab.consensus")]
