"""The annotation a workflow carried an item on with (StageCompleted: a consensus merge, an adjudicator's choice) is
what an export takes for the item, not whichever reader handed in before; one handed in after it is taken again; a
database from before the columns migrates. On SQLite and a file store."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import sqlalchemy as sa

from radlab.annotation.v1 import annotation_service_pb2 as pb
from radlab.type.v1 import geometry_pb2, job_pb2, label_pb2
from radlab.workflow.v1 import events_pb2 as workflow_events
from radlab.workflow.v1 import workflow_service_pb2 as workflow_pb
from services.annotation import handlers, store
from services.annotation.handlers import annotations, classes, exports
from shared import objectstore
from shared.auth import Principal
from shared.db import Database
from shared.objectstore import EXPORTS_BUCKET, LABELS_BUCKET
from shared.volume_store import VolumeStore
from tests.integration.test_annotation_submitted_shapes import ADMIN, TENANT, deliver, item_with_classes

MANAGER = Principal("manager-1", "manager", TENANT)


def older_database(url: str) -> None:
    """Annotation's tables as they were before items recorded the annotation that carried them."""
    Database(url, "annotation", store.metadata).dispose()
    with sa.create_engine(f"{url}/annotation.sqlite").begin() as conn:
        conn.exec_driver_sql("ALTER TABLE items DROP COLUMN carried_annotation_id")
        conn.exec_driver_sql("ALTER TABLE items DROP COLUMN carried_at")
        conn.exec_driver_sql("DELETE FROM schema_migrations")


def drawn(ports, caller: Principal, item_id: str, value: int, rows: slice) -> str:
    """A one-slice annotation of `value` on the rows given, handed in; returns its id."""
    mask = np.zeros((64, 64), np.uint8)
    mask[rows, 10:30] = 1
    annotation_id, version = annotations.save_key_slices(ports, caller, pb.SaveKeySlicesRequest(item_id=item_id, key_slices=[
        label_pb2.SliceLabel(plane=geometry_pb2.PLANE_AXIAL, slice_index=1, label_value=value,
                             provenance=label_pb2.SLICE_PROVENANCE_DRAWN,
                             mask=label_pb2.SliceMask(rows=64, columns=64, encoding=label_pb2.MASK_ENCODING_RAW, data=mask.tobytes()))]))
    annotations.submit(ports, caller, annotation_id, version)
    return annotation_id


def exported(ports, dataset_id: str) -> list[dict]:
    export = exports.start_export(ports, ADMIN, pb.StartExportRequest(dataset_id=dataset_id, format=pb.LABEL_FORMAT_NIFTI))
    exports.run_export(ports, export.export_id)  # again, at once: the job is idempotent and its thread may lag
    done = exports.get_export(ports, ADMIN, export.export_id)
    assert done.job.state == job_pb2.JOB_STATE_SUCCEEDED, done.job.error
    with zipfile.ZipFile(io.BytesIO(ports.objects.get(EXPORTS_BUCKET, done.object_key))) as archive:
        return json.loads(archive.read("manifest.json"))["annotations"]


def test_an_export_takes_the_annotation_the_workflow_carried_the_item_on_with(tmp_path):
    url = f"sqlite:///{tmp_path / 'db'}"
    older_database(url)
    objects = objectstore.connect(f"file://{tmp_path / 'objects'}")
    for bucket in (LABELS_BUCKET, EXPORTS_BUCKET):
        objects.ensure_bucket(bucket)
    database = Database(url, "annotation", store.metadata, store.migrations)
    try:
        ports = handlers.Ports(database, objects, VolumeStore(objects))
        item_id, _ = item_with_classes(ports)
        with ports.db.read() as conn:
            dataset_id = conn.execute(sa.select(store.items.c.dataset_id).where(store.items.c.item_id == item_id)).scalar_one()
        value = classes.create_class(ports.db, ADMIN, pb.CreateLabelClassRequest(dataset_id=dataset_id, name="spleen")).value
        chosen = drawn(ports, ADMIN, item_id, value, slice(10, 30))
        later = drawn(ports, MANAGER, item_id, value, slice(40, 50))  # handed in last, not chosen
        assert [a["annotation_id"] for a in exported(ports, dataset_id)] == [later]  # no workflow has spoken yet

        deliver(ports, workflow_events.StageCompleted(
            item_id=item_id, dataset_id=dataset_id, stage_id="review", stage_kind=workflow_pb.STAGE_KIND_REVIEW,
            outcome=workflow_events.STAGE_OUTCOME_PASSED, next_stage_id="done", next_stage_kind=workflow_pb.STAGE_KIND_COMPLETE,
            annotation_id=chosen))
        assert [a["annotation_id"] for a in exported(ports, dataset_id)] == [chosen]
        corrected = drawn(ports, MANAGER, item_id, value, slice(12, 28))  # handed in after the workflow spoke
        assert [a["annotation_id"] for a in exported(ports, dataset_id)] == [corrected]
    finally:
        database.dispose()
