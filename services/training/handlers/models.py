"""The model registry: a finished run's model (artifact in the models bucket, metrics, lineage), models registered from
outside (TorchScript or ONNX with their pre-processing, run once on a dummy batch before they are accepted), listing
and reading them, and promoting one per dataset (or rolling back to an older one)."""

from __future__ import annotations

import json
import time
import uuid

import sqlalchemy as sa

from radlab.quoting import shown
from radlab.training.v1 import events_pb2
from radlab.training.v1 import training_service_pb2 as pb
from radlab.type.v1 import job_pb2
from services.training import store
from services.training.domain import settings
from services.training.runner import PREDICTION_CPUS, check_artifact, check_endpoint
from shared import paging
from shared.auth import Principal
from shared.errors import InvalidArgument, NotFound
from shared.jobs import FINISHED
from shared.objectstore import MODELS_BUCKET, BucketNotFound, ObjectNotFound
from shared.protos import timestamp

FORMATS = {pb.MODEL_FORMAT_TORCHSCRIPT: "torchscript", pb.MODEL_FORMAT_ONNX: "onnx", pb.MODEL_FORMAT_TORCH_STATE: "torch_state",
           pb.MODEL_FORMAT_ENDPOINT: "endpoint"}
STORED_FORMATS = {name: value for value, name in FORMATS.items()}
REGISTRABLE = (pb.MODEL_FORMAT_TORCHSCRIPT, pb.MODEL_FORMAT_ONNX, pb.MODEL_FORMAT_ENDPOINT)
CODE_VERSION = "radlab-training/1"  # bumped when a change to the training code changes what a run produces


def register_trained(ports, run, result: dict, owner: str) -> None:
    """A finished run's model: its artifact stored, the model row and the run's end (SUCCEEDED) recorded with
    ModelTrained in one unit of work; nothing if the run was cancelled or taken over meanwhile."""
    model_id = str(uuid.uuid4())
    key = f"{run.tenant}/{model_id}/model.{result['format']}"
    ports.objects.ensure_bucket(MODELS_BUCKET)
    ports.objects.put(MODELS_BUCKET, key, result["model"], content_type="application/octet-stream")
    metrics = result["validation"] or metric_rows(result["metric"], {int(v): score for v, score in result["scores"].items()})
    fmt = STORED_FORMATS[result["format"]]
    now = time.time()
    with ports.db.unit_of_work() as uow:
        row = uow.execute(sa.select(store.runs).where(store.runs.c.run_id == run.run_id)).one()
        if row.state in FINISHED or row.claimed_by != owner:
            return
        name = f"{run.model_kind} on {run.dataset_id}"
        uow.execute(store.models.insert().values(
            model_id=model_id, tenant=run.tenant, name=name, version=_next_version(uow, run.tenant, name),
            model_kind=run.model_kind, source=pb.MODEL_SOURCE_TRAINED, format=fmt,
            run_id=run.run_id, dataset_id=run.dataset_id, modality=result["modality"],
            labels=json.dumps([{"value": value, "name": ""} for value in result["label_values"]]),
            metrics=json.dumps(metrics), preprocessing=json.dumps(result["preprocessing"]),
            lineage=json.dumps({"examples": json.loads(run.examples), "split": result["split"],
                                "hyperparameters": result["hyperparameters"], "epochs": result["epochs"],
                                "best_epoch": result["best_epoch"], "stop_reason": result["stop_reason"],
                                "code_version": CODE_VERSION}),
            bucket=MODELS_BUCKET, object_key=key, endpoint_url="", description="", creator=run.requester or "radlab.workflow",
            created_at=now,
        ))
        uow.execute(store.runs.update().where(store.runs.c.run_id == run.run_id).values(
            state=job_pb2.JOB_STATE_SUCCEEDED, percent_done=100.0,
            message=f"trained {result['epochs']} epochs ({result['stop_reason'].replace('_', ' ')}); best at epoch "
                    f"{result['best_epoch']}", label_values=json.dumps(result["label_values"]),
            metrics=json.dumps(metrics), split=json.dumps(result["split"]), model_id=model_id, updated_at=now,
            ended_at=now,
        ))
        uow.emit(events_pb2.ModelTrained(model_id=model_id, run_id=run.run_id, dataset_id=run.dataset_id,
                                         workflow_id=run.workflow_id, model_kind=run.model_kind,
                                         metrics=[pb.Metric(**metric) for metric in metrics]),
                 subject=run.run_id, tenant=run.tenant)


def metric_rows(name: str, scores: dict[int, float], loss: float | None = None) -> list[dict]:
    """Metrics as stored: a score (Dice, average precision, AUC) per label value, their mean (label 0), and the training
    loss when given."""
    rows = [{"name": name, "label_value": value, "value": score} for value, score in sorted(scores.items())]
    if scores:
        rows.append({"name": name, "label_value": 0, "value": sum(scores.values()) / len(scores)})
    if loss is not None:
        rows.append({"name": "loss", "label_value": 0, "value": loss})
    return rows


def register_model(ports, caller: Principal, request: pb.RegisterModelRequest) -> pb.Model:
    """A model trained elsewhere, accepted once it answered as declared: a TorchScript or ONNX artifact (copied from the
    object store into the models bucket) run on a batch shaped as its pre-processing declares, giving one output per
    label plus background; an endpoint asked to label a small volume, answering a label map on its grid."""
    if not request.name:
        raise InvalidArgument("name is required")
    fmt = FORMATS.get(request.format) if request.format in REGISTRABLE else None
    if fmt is None:
        raise InvalidArgument(f"format must be MODEL_FORMAT_TORCHSCRIPT, MODEL_FORMAT_ONNX or MODEL_FORMAT_ENDPOINT; got "
                              f"{pb.ModelFormat.Name(request.format)}")
    if not request.labels:
        raise InvalidArgument("labels are required: the label each output channel after background stands for, in order")
    values = [label.value for label in request.labels]
    if len(set(values)) != len(values) or min(values) < 1:
        raise InvalidArgument(f"label values {values} must be distinct and positive (0 is background)")
    model_id = str(uuid.uuid4())
    if fmt == "endpoint":
        if not request.artifact_uri.startswith(("http://", "https://")):
            raise InvalidArgument(f"an endpoint model's artifact_uri is its http(s) URL; got {request.artifact_uri!r}")
        preprocessing, bucket, key, url = {}, "", "", request.artifact_uri
        refusal = ports.compute().submit(check_endpoint, url, values, num_cpus=PREDICTION_CPUS).result()
    else:
        checked = preprocessing_from(request.preprocessing, request.modality)
        preprocessing, bucket, key, url = checked.to_dict(), MODELS_BUCKET, f"{caller.tenant}/{model_id}/model.{fmt}", ""
        data = _artifact(ports, request.artifact_uri)
        refusal = ports.compute().submit(check_artifact, data, fmt, preprocessing, len(values),
                                         num_cpus=PREDICTION_CPUS).result()
    if refusal:
        raise InvalidArgument(f"model {request.name!r} was not registered: {refusal}")
    if bucket:
        ports.objects.ensure_bucket(bucket)
        ports.objects.put(bucket, key, data, content_type="application/octet-stream")
    with ports.db.unit_of_work() as uow:
        uow.execute(store.models.insert().values(
            model_id=model_id, tenant=caller.tenant, name=request.name, version=_next_version(uow, caller.tenant, request.name),
            model_kind=request.model_kind or f"registered.{fmt}", source=pb.MODEL_SOURCE_REGISTERED, format=request.format,
            run_id="", dataset_id=request.dataset_id, modality=request.modality,
            labels=json.dumps([{"value": label.value, "name": label.name} for label in request.labels]),
            metrics=json.dumps([{"name": m.name, "label_value": m.label_value, "value": m.value} for m in request.metrics]),
            preprocessing=json.dumps(preprocessing), lineage=json.dumps({"artifact_uri": request.artifact_uri}),
            bucket=bucket, object_key=key, endpoint_url=url, description=request.description, creator=caller.subject,
            created_at=time.time(),
        ))
        return model_message(model_row(uow, caller.tenant, model_id))


def promote_model(ports, caller: Principal, request: pb.PromoteModelRequest) -> pb.Model:
    """Make the model the one its dataset's model stages use; ModelPromoted names the one it replaces."""
    if not request.model_id:
        raise InvalidArgument("model_id is required")
    with ports.db.unit_of_work() as uow:
        row = model_row(uow, caller.tenant, request.model_id)
        dataset_id = request.dataset_id or row.dataset_id
        if not dataset_id:
            raise InvalidArgument(f"model {shown(row.model_id)} belongs to no dataset; name the dataset_id it serves")
        table = store.promotions
        key = (table.c.tenant == caller.tenant) & (table.c.dataset_id == dataset_id)
        previous = uow.execute(sa.select(table.c.model_id).where(key)).scalar() or ""
        if previous != row.model_id:
            uow.execute(table.delete().where(key))
            uow.execute(table.insert().values(tenant=caller.tenant, dataset_id=dataset_id, model_id=row.model_id,
                                              promoted_by=caller.subject, promoted_at=time.time()))
            uow.emit(events_pb2.ModelPromoted(model_id=row.model_id, dataset_id=dataset_id, previous_model_id=previous,
                                              promoted_by=caller.subject), subject=dataset_id, tenant=caller.tenant)
        return model_message(row, promoted=_promoted(uow, caller.tenant))


def preprocessing_from(message: pb.Preprocessing, modality: str) -> settings.Preprocessing:
    """The domain's pre-processing of a request's (dims and roi required; the window for CT, the default if unset)."""
    if message.dims not in (2, 3):
        raise InvalidArgument(f"preprocessing.dims must be 2 (slices) or 3 (patches); got {message.dims}")
    window = (message.window_low, message.window_high) if message.window_low or message.window_high else settings.CT_WINDOW
    try:
        return settings.Preprocessing(dims=message.dims, modality=modality or "CT", window=window,
                                          roi=tuple(message.roi))
    except ValueError as error:
        raise InvalidArgument(f"preprocessing: {error}") from None


def get_model(ports, caller: Principal, model_id: str) -> pb.Model:
    if not model_id:
        raise InvalidArgument("model_id is required")
    with ports.db.read() as conn:
        return model_message(model_row(conn, caller.tenant, model_id), promoted=_promoted(conn, caller.tenant))


def list_models(ports, caller: Principal, request: pb.ListModelsRequest) -> pb.ListModelsResponse:
    """The tenant's models, newest first, optionally by dataset, kind and name; paged."""
    table = store.models
    after, size = paging.requested(request)
    query = sa.select(table).where(table.c.tenant == caller.tenant)
    for column, value in ((table.c.dataset_id, request.dataset_id), (table.c.model_kind, request.model_kind),
                          (table.c.name, request.name)):
        if value:
            query = query.where(column == value)
    with ports.db.read() as conn:
        rows, next_after = paging.page_of(conn, query, table.c.seq, after, size, newest_first=True)
        promoted = _promoted(conn, caller.tenant)
    return pb.ListModelsResponse(models=[model_message(row, promoted=promoted) for row in rows],
                                 next_page_token=paging.next_token(next_after))


def model_row(conn, tenant: str, model_id: str):
    row = conn.execute(sa.select(store.models).where(store.models.c.tenant == tenant,
                                                     store.models.c.model_id == model_id)).first()
    if row is None:
        raise NotFound(f"model {shown(model_id)} not found")
    return row


def model_message(row, promoted: set[str] = frozenset()) -> pb.Model:
    """The registry row as the API shows it; `promoted` holds the ids of the models promoted now."""
    preprocessing = json.loads(row.preprocessing) or {"dims": 0, "window": [0.0, 0.0], "roi": []}  # endpoints: none
    return pb.Model(
        model_id=row.model_id, name=row.name, version=row.version, model_kind=row.model_kind, source=row.source,
        format=row.format, run_id=row.run_id, dataset_id=row.dataset_id, modality=row.modality,
        labels=[pb.ModelLabel(**label) for label in json.loads(row.labels)],
        metrics=[pb.Metric(**metric) for metric in json.loads(row.metrics)], bucket=row.bucket,
        object_key=row.object_key, description=row.description, creator=row.creator,
        create_time=timestamp(row.created_at),
        preprocessing=pb.Preprocessing(dims=preprocessing["dims"], window_low=preprocessing["window"][0],
                                       window_high=preprocessing["window"][1], roi=preprocessing["roi"]),
        promoted=row.model_id in promoted, endpoint_url=row.endpoint_url,
    )


def _promoted(conn, tenant: str) -> set[str]:
    table = store.promotions
    return set(conn.execute(sa.select(table.c.model_id).where(table.c.tenant == tenant)).scalars())


def _next_version(conn, tenant: str, name: str) -> int:
    table = store.models
    latest = conn.execute(sa.select(sa.func.max(table.c.version)).where(table.c.tenant == tenant,
                                                                        table.c.name == name)).scalar()
    return (latest or 0) + 1


def _artifact(ports, uri: str) -> bytes:
    """The bytes at an s3://bucket/key URI of this deployment's object store."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        raise InvalidArgument(f"artifact_uri {uri!r} must be s3://bucket/key in Radlab's object store")
    try:
        return ports.objects.get(bucket, key)
    except (BucketNotFound, ObjectNotFound):
        raise NotFound(f"no object at {uri}: upload the model file there first") from None
