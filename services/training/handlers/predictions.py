"""Predictions: a model run on an item's volume (StartPrediction, or PredictionRequested from a model stage) as a task
on the compute pool; the label array goes to the labels bucket and PredictionsReady tells annotation (a new annotation
by the model, every slice PREDICTED) and the waiting workflow task, with the prediction's confidence. A failure is
PredictionFailed, so nobody waits forever."""

from __future__ import annotations

import json
import logging
import time
import uuid
from functools import partial

import sqlalchemy as sa

from radlab.quoting import shown
from radlab.training.v1 import events_pb2
from radlab.training.v1 import training_service_pb2 as pb
from radlab.type.v1 import geometry_pb2, job_pb2, label_pb2
from radlab.workflow.v1 import events_pb2 as workflow_events
from services.training import store
from services.training.handlers.models import FORMATS, model_row
from services.training.runner import PREDICTION_CPUS, predict_volume
from shared.auth import Principal
from shared import slice_masks
from shared.compute import ComputeError
from shared.db import UnitOfWork
from shared.errors import InvalidArgument, NotFound
from shared.events import Event
from shared.jobs import FINISHED
from shared.objectstore import LABELS_BUCKET
from shared.protos import timestamp

log = logging.getLogger(__name__)


def start_prediction(ports, caller: Principal, request: pb.StartPredictionRequest) -> pb.Prediction:
    """Queue the model on an item (the result becomes an annotation of it) or a bare volume; poll get_prediction."""
    if not request.model_id:
        raise InvalidArgument("model_id is required")
    with ports.db.unit_of_work() as uow:
        model_row(uow, caller.tenant, request.model_id)
        item_id, volume_id, dataset_id = "", request.volume_id, ""
        if request.item_id:
            item = uow.execute(sa.select(store.items).where(store.items.c.tenant == caller.tenant,
                                                            store.items.c.item_id == request.item_id)).first()
            if item is None or not store.vendor_shares.visible(uow, caller, item.dataset_id):
                raise NotFound(f"item {shown(request.item_id)} not found")
            item_id, volume_id, dataset_id = item.item_id, item.volume_id, item.dataset_id
        elif not volume_id:
            raise InvalidArgument("item_id or volume_id is required")
        elif caller.vendor_id:
            raise InvalidArgument("vendor accounts predict on items of datasets shared with them; give item_id")
        prediction_id = _insert(uow, caller.tenant, request.model_id, item_id, volume_id, dataset_id, "", "",
                                caller.subject, None, ports.predictions.claim())
        prediction = _prediction(_row(uow, prediction_id))
    ports.predictions.submit(prediction_id, partial(_run_in_background, ports, prediction_id))
    return prediction


def on_prediction_requested(ports, consumer: str, event: Event) -> None:
    """A model stage's request: a prediction, found again if the event is redelivered."""
    requested: workflow_events.PredictionRequested = event.message
    submit = None

    def record(uow: UnitOfWork) -> None:
        nonlocal submit
        table = store.predictions
        if uow.execute(sa.select(table.c.prediction_id).where(table.c.source_event_id == event.id)).first():
            return
        submit = _insert(uow, event.envelope.tenant, requested.model_id, requested.item_id, requested.volume_id,
                         requested.dataset_id, requested.workflow_id, requested.task_id, "", event.id,
                         ports.predictions.claim())

    ports.db.apply_once(consumer, event.id, record)
    if submit:
        ports.predictions.submit(submit, partial(_run_in_background, ports, submit))


def resume_abandoned_predictions(ports) -> list[str]:
    """From startup on: take over the predictions a stopped process left unfinished; returns the ids taken now."""
    return ports.predictions.watch(partial(_run_in_background, ports))


def get_prediction(ports, caller: Principal, prediction_id: str) -> pb.Prediction:
    if not prediction_id:
        raise InvalidArgument("prediction_id is required")
    table = store.predictions
    with ports.db.read() as conn:
        row = conn.execute(sa.select(table).where(table.c.tenant == caller.tenant,
                                                  table.c.prediction_id == prediction_id)).first()
        if row is None or (row.dataset_id and not store.vendor_shares.visible(conn, caller, row.dataset_id)):
            raise NotFound(f"prediction {shown(prediction_id)} not found")
    return _prediction(row)


def _run_in_background(ports, prediction_id: str) -> None:
    try:
        run_prediction(ports, prediction_id, owner=ports.predictions.owner)
    except Exception as error:
        log.exception("prediction %s failed", prediction_id)
        _end(ports, prediction_id, ports.predictions.owner, error=f"internal error ({type(error).__name__}); ask again")


def run_prediction(ports, prediction_id: str, *, owner: str) -> None:
    """Run the model on the compute pool; SUCCEEDED with PredictionsReady, or FAILED with PredictionFailed."""
    with ports.db.unit_of_work() as uow:
        row = _row(uow, prediction_id)
        if row.claimed_by != owner or row.state in FINISHED:
            return
        model = uow.execute(sa.select(store.models).where(store.models.c.tenant == row.tenant,
                                                          store.models.c.model_id == row.model_id)).first()
        uow.execute(store.predictions.update().where(store.predictions.c.prediction_id == prediction_id).values(
            state=job_pb2.JOB_STATE_RUNNING, percent_done=10.0, message="running the model", updated_at=time.time()))
    if model is None:
        _end(ports, prediction_id, owner, error=f"model {shown(row.model_id)} is not in the registry")
        return
    key = f"predictions/{row.tenant}/{row.item_id or row.volume_id}/{prediction_id}"
    label_values = [label["value"] for label in json.loads(model.labels)]
    try:
        found = ports.compute().submit(
            predict_volume, ports.store_url, (model.bucket, model.object_key or model.endpoint_url, FORMATS[model.format]),
            model.model_kind,
            json.loads(model.preprocessing), label_values, row.volume_id, key,
            {"item_id": row.item_id, "model_id": row.model_id, "prediction_id": prediction_id},
            num_cpus=PREDICTION_CPUS,
        ).result()
    except ComputeError as error:
        _end(ports, prediction_id, owner, error=f"the model could not run on volume {row.volume_id}: {error}")
        return
    labels = label_pb2.Mask()
    if found["labels_key"]:
        labels = label_pb2.Mask(bucket=LABELS_BUCKET, key=found["labels_key"], format=geometry_pb2.VOLUME_FORMAT_ZARR,
                                dtype=geometry_pb2.DATA_TYPE_UINT16, label_values=label_values, volume_id=row.volume_id)
    plane = slice_masks.PLANE_ENUMS.get(found.get("plane", ""), 0)
    boxes = [label_pb2.SliceBox(plane=plane, slice_index=k, label_value=label, x0=x0, y0=y0, x1=x1, y1=y1, score=score)
             for k, label, x0, y0, x1, y1, score in found.get("boxes", ())]
    _end(ports, prediction_id, owner, labels=labels, confidence=found["confidence"], boxes=boxes,
         tags=found.get("tags", {}))


def _end(ports, prediction_id: str, owner: str, *, error: str = "", labels: label_pb2.Mask | None = None,
         confidence: float = 0.0, boxes: list[label_pb2.SliceBox] = (), tags: dict[str, float] | None = None) -> None:
    """SUCCEEDED with PredictionsReady (labels given: a label array, boxes or tag probabilities) or FAILED with
    PredictionFailed, while `owner` holds it."""
    now = time.time()
    with ports.db.unit_of_work() as uow:
        row = _row(uow, prediction_id)
        if row.claimed_by != owner or row.state in FINISHED:
            return
        values = dict(percent_done=100.0, updated_at=now, ended_at=now)
        facts = dict(prediction_id=prediction_id, item_id=row.item_id, model_id=row.model_id, volume_id=row.volume_id,
                     dataset_id=row.dataset_id, workflow_id=row.workflow_id, task_id=row.task_id)
        if labels is None:
            values |= dict(state=job_pb2.JOB_STATE_FAILED, message="failed", error=error)
            message = events_pb2.PredictionFailed(**facts, reason=error)
        else:
            message = events_pb2.PredictionsReady(**facts, labels=labels, confidence=confidence, boxes=boxes,
                                                  tag_probabilities=tags or {})
            values |= dict(state=job_pb2.JOB_STATE_SUCCEEDED, message=f"predicted; confidence {confidence:.3f}",
                           result=message.SerializeToString(), confidence=confidence)
        uow.execute(store.predictions.update().where(store.predictions.c.prediction_id == prediction_id).values(**values))
        uow.emit(message, subject=row.item_id or row.volume_id, tenant=row.tenant)


def _insert(uow: UnitOfWork, tenant: str, model_id: str, item_id: str, volume_id: str, dataset_id: str,
            workflow_id: str, task_id: str, requester: str, source_event_id: str | None, claim: dict) -> str:
    prediction_id = str(uuid.uuid4())
    now = time.time()
    uow.execute(store.predictions.insert().values(
        prediction_id=prediction_id, tenant=tenant, model_id=model_id, item_id=item_id, volume_id=volume_id,
        dataset_id=dataset_id, workflow_id=workflow_id, task_id=task_id, requester=requester,
        source_event_id=source_event_id, result=None, confidence=None, state=job_pb2.JOB_STATE_QUEUED,
        percent_done=0.0, message="queued", error="", created_at=now, updated_at=now, ended_at=None, **claim,
    ))
    return prediction_id


def _row(conn, prediction_id: str):
    return conn.execute(sa.select(store.predictions).where(store.predictions.c.prediction_id == prediction_id)).one()


def _prediction(row) -> pb.Prediction:
    prediction = pb.Prediction(
        prediction_id=row.prediction_id,
        job=job_pb2.Job(id=row.prediction_id, state=row.state, percent_done=row.percent_done, message=row.message,
                        error=row.error, create_time=timestamp(row.created_at), update_time=timestamp(row.updated_at)),
        model_id=row.model_id, item_id=row.item_id, volume_id=row.volume_id, requester=row.requester,
        create_time=timestamp(row.created_at),
    )
    if row.result:  # the PredictionsReady it announced
        ready = events_pb2.PredictionsReady.FromString(row.result)
        prediction.labels.CopyFrom(ready.labels)
        prediction.boxes.extend(ready.boxes)
        prediction.tag_probabilities.update(ready.tag_probabilities)
    return prediction
