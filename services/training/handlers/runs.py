"""Training runs: started by StartTrainingRun or TrainingRequested, run on the compute pool (Ray Train) by the run
worker under a claim another instance takes over if this process stops (the run then continues from its last
checkpoint), reported per epoch, cancelled on request; a finished run registers its model and emits ModelTrained, a
failed one TrainingFailed."""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from functools import partial

import sqlalchemy as sa

from radlab.quoting import shown
from radlab.training.v1 import events_pb2
from radlab.training.v1 import training_service_pb2 as pb
from radlab.type.v1 import job_pb2
from radlab.workflow.v1 import events_pb2 as workflow_events
from services.training import store
from services.training.domain import settings
from services.training.domain.split import DEFAULT_VALIDATION_FRACTION
from services.training.handlers.models import metric_rows, register_trained
from services.training.runner import RunSpec, train
from shared import paging
from shared.auth import Principal
from shared.compute import ComputeError
from shared.db import UnitOfWork
from shared.errors import FailedPrecondition, InvalidArgument, NotFound
from shared.events import Event
from shared.jobs import FINISHED, JobProgress
from shared.protos import timestamp

log = logging.getLogger(__name__)

DEFAULT_KIND = "monai.unet2d"
MIN_EXAMPLES = 1  # with one patient, the run validates on held-out slices of its items


def start_training_run(ports, caller: Principal, request: pb.StartTrainingRunRequest) -> pb.TrainingRun:
    """Queue a run on the dataset's items with submitted labels (or the ones named) and return it; poll get_run."""
    if not request.dataset_id:
        raise InvalidArgument("dataset_id is required")
    with ports.db.unit_of_work() as uow:
        examples = _examples(uow, caller.tenant, request.dataset_id, list(request.item_ids))
        run_id = _insert_run(uow, caller.tenant, request.dataset_id, "", request.model_kind, request.base_model_id,
                             list(request.label_values), examples, request.config, caller.subject, None,
                             ports.runs.claim())
        run = _run(_row(uow, run_id))
    ports.runs.submit(run_id, partial(_run_in_background, ports, run_id))
    return run


def on_training_requested(ports, consumer: str, event: Event) -> None:
    """The workflow's request (its examples resolved): a run, found again if the event is redelivered. A request that
    cannot run (unknown kind, too few examples) is a run FAILED at once, with TrainingFailed saying why."""
    requested: workflow_events.TrainingRequested = event.message
    tenant = event.envelope.tenant
    examples = [{"item_id": e.item_id, "volume_id": e.volume_id, "labels_key": e.labels.key,
                 "annotation_id": e.annotation_id, "annotation_version": e.annotation_version}
                for e in requested.examples if e.labels.key]
    config = pb.TrainingConfig(hyperparameters=dict(requested.hyperparameters))
    submit = None

    def record(uow: UnitOfWork) -> None:
        nonlocal submit
        if uow.execute(sa.select(store.runs.c.run_id).where(store.runs.c.source_event_id == event.id)).first():
            return
        try:
            _check_examples(examples, requested.dataset_id)
            run_id = _insert_run(uow, tenant, requested.dataset_id, requested.workflow_id, requested.model_kind,
                                 requested.base_model_id, list(requested.label_values), examples, config,
                                 "", event.id, ports.runs.claim())
            submit = run_id
        except (InvalidArgument, FailedPrecondition) as refused:
            run_id = _insert_run(uow, tenant, requested.dataset_id, requested.workflow_id, requested.model_kind or DEFAULT_KIND,
                                 requested.base_model_id, list(requested.label_values), examples, config,
                                 "", event.id, None, check=False)
            _end(uow, _row(uow, run_id), job_pb2.JOB_STATE_FAILED, str(refused))

    ports.db.apply_once(consumer, event.id, record)
    if submit:
        ports.runs.submit(submit, partial(_run_in_background, ports, submit))


def resume_abandoned_runs(ports) -> list[str]:
    """From startup on: take over the runs a stopped process left QUEUED or RUNNING (each continues from its last
    checkpoint); returns the ids taken now."""
    return ports.runs.watch(partial(_run_in_background, ports))


def get_run(ports, caller: Principal, run_id: str) -> pb.TrainingRun:
    if not run_id:
        raise InvalidArgument("run_id is required")
    with ports.db.read() as conn:
        return _run(_visible(conn, caller, run_id))


def list_runs(ports, caller: Principal, request: pb.ListTrainingRunsRequest) -> pb.ListTrainingRunsResponse:
    """The caller's tenant's runs, newest first, optionally of one dataset and state; paged."""
    table = store.runs
    after, size = paging.requested(request)
    query = sa.select(table).where(table.c.tenant == caller.tenant)
    if request.dataset_id:
        query = query.where(table.c.dataset_id == request.dataset_id)
    if request.state:
        query = query.where(table.c.state == request.state)
    with ports.db.read() as conn:
        rows, next_after = paging.page_of(conn, query, table.c.seq, after, size, newest_first=True)
    return pb.ListTrainingRunsResponse(training_runs=[_run(row) for row in rows],
                                       next_page_token=paging.next_token(next_after))


def cancel_run(ports, caller: Principal, run_id: str) -> pb.TrainingRun:
    """Stop a queued or running run: it ends CANCELLED at its next epoch (its workers freed); a finished run is
    refused."""
    if not run_id:
        raise InvalidArgument("run_id is required")
    with ports.db.unit_of_work() as uow:
        row = _visible(uow, caller, run_id)
        if row.state in FINISHED:
            raise FailedPrecondition(f"training run {shown(run_id)} has ended ({job_pb2.JobState.Name(row.state)}); "
                                     "there is nothing to cancel")
        _end(uow, row, job_pb2.JOB_STATE_CANCELLED, "", message=f"cancelled by {caller.subject}")
        return _run(_row(uow, run_id))


# ---- the run itself, on the run worker ---------------------------------------------------------------------------

def _run_in_background(ports, run_id: str) -> None:
    """A run on the worker thread: every failure ends in the run row (and TrainingFailed), none is lost."""
    try:
        run_training(ports, run_id, owner=ports.runs.owner)
    except Exception as error:
        log.exception("training run %s failed", run_id)
        with ports.db.unit_of_work() as uow:
            row = _row(uow, run_id)
            if row.state not in FINISHED and row.claimed_by == ports.runs.owner:
                _end(uow, row, job_pb2.JOB_STATE_FAILED, f"internal error ({type(error).__name__}); start the run again")


def run_training(ports, run_id: str, *, owner: str) -> None:
    """Train on the compute pool, reporting each epoch into the run row; then register the model (SUCCEEDED,
    ModelTrained), or end FAILED (TrainingFailed) with the reason, or stay CANCELLED."""
    with ports.db.read() as conn:
        row = _row(conn, run_id)
    if row.claimed_by != owner or row.state in FINISHED:
        return
    config = pb.TrainingConfig.FromString(row.config)
    progress = JobProgress(ports.db, store.runs, run_id, owner, id_column="run_id")
    progress.report(0.0, "starting the workers", state=job_pb2.JOB_STATE_RUNNING)
    compute = ports.compute()
    resources = compute.resources()
    cpus = resources["CPU"]
    gpus, note = gpu_plan(config, int(resources["GPU"]))
    if gpus is None:
        _fail(ports, run_id, owner, note)
        return
    if note:
        progress.report(0.0, note)
    hyperparameters = {"kind": row.model_kind, "threads": str(max(1, math.floor(cpus))), **_hyperparameters(config)}
    spec = RunSpec(store_url=ports.store_url, examples=json.loads(row.examples), label_values=json.loads(row.label_values),
                   hyperparameters=hyperparameters,
                   validation_fraction=config.validation_fraction or DEFAULT_VALIDATION_FRACTION,
                   checkpoint_key=f"checkpoints/{row.tenant}/{run_id}")
    started = time.monotonic()
    try:
        workers = max(1, gpus)
        result = compute.train(train, {"spec": spec}, workers=workers,
                               cpus_per_worker=max(1.0, (cpus - 0.5) / workers), gpus_per_worker=1 if gpus else 0,
                               on_report=partial(_on_epoch, ports, progress, run_id, note))
    except ComputeError as error:
        _fail(ports, run_id, owner, f"{error.message}" if error.error_type == "ValueError" else str(error))
        return
    if result is None:
        return  # cancelled: the row says so already
    log.info("training run %s trained in %.1f s", run_id, time.monotonic() - started)
    register_trained(ports, row, result, owner)


def gpu_plan(config: pb.TrainingConfig, available: int) -> tuple[int | None, str]:
    """The GPUs a run trains on (0: CPU), and what to tell its owner about the choice; None when `require_gpu` cannot
    be met (the note says why)."""
    wanted = config.gpu_count or available
    if wanted <= available:
        return wanted, ""
    if config.require_gpu:
        return None, (f"the run asks for {wanted} GPU(s) and requires them, but the cluster has {available}; ask for "
                      f"at most {available}, or leave require_gpu off to train on what there is")
    if available:
        return available, f"asked for {wanted} GPU(s); the cluster has {available}: training on those"
    return 0, f"asked for {wanted} GPU(s); the cluster has none: training on CPU"


def _on_epoch(ports, progress: JobProgress, run_id: str, note: str, report: dict) -> bool:
    """An epoch's report into the run row; False (stop) once the run was cancelled or its claim lost, or this process is
    stopping (the run stays RUNNING: another process continues it from this epoch's checkpoint)."""
    if ports.stopping.is_set():
        return False
    with ports.db.read() as conn:
        if _row(conn, run_id).state == job_pb2.JOB_STATE_CANCELLED:
            return False
    scores = {int(value): score for value, score in report["scores"].items()}
    shown_scores = ", ".join(f"{value}: {score:.3f}" for value, score in sorted(scores.items()))
    message = (f"epoch {report['epoch']} of {report['max_epochs']}: loss {report['loss']:.4f}"
               + (f", validation {report['metric'].replace('_', ' ')} {shown_scores}" if scores else "")
               + f", about {report['eta_s']:.0f} s left" + (f" ({note})" if note else ""))
    metrics = metric_rows(report["metric"], scores, report["loss"])
    return progress.report(report["epoch"] / report["max_epochs"] * 0.95, message, metrics=json.dumps(metrics))


def _fail(ports, run_id: str, owner: str, reason: str) -> None:
    with ports.db.unit_of_work() as uow:
        row = _row(uow, run_id)
        if row.state not in FINISHED and row.claimed_by == owner:
            _end(uow, row, job_pb2.JOB_STATE_FAILED, reason)


def _end(uow: UnitOfWork, row, state: int, error: str, *, message: str = "") -> None:
    """End the run; FAILED emits TrainingFailed."""
    now = time.time()
    uow.execute(store.runs.update().where(store.runs.c.run_id == row.run_id).values(
        state=state, error=error, message=message or ("failed" if error else row.message), updated_at=now, ended_at=now))
    if state == job_pb2.JOB_STATE_FAILED:
        uow.emit(events_pb2.TrainingFailed(run_id=row.run_id, dataset_id=row.dataset_id, workflow_id=row.workflow_id,
                                           reason=error), subject=row.run_id, tenant=row.tenant)


# ---- rows ---------------------------------------------------------------------------------------------------------

def _examples(conn, tenant: str, dataset_id: str, item_ids: list[str]) -> list[dict]:
    """The items to train on, each with its latest submitted labels."""
    items = store.items
    query = sa.select(items).where(items.c.tenant == tenant, items.c.dataset_id == dataset_id)
    if item_ids:
        query = query.where(items.c.item_id.in_(item_ids))
    rows = conn.execute(query.order_by(items.c.item_id)).all()
    unknown = sorted(set(item_ids) - {row.item_id for row in rows})
    if unknown:
        raise NotFound(f"items {', '.join(map(shown, unknown))} are not in dataset {shown(dataset_id)}")
    unlabelled = [row.item_id for row in rows if not row.labels_key]
    if item_ids and unlabelled:
        raise FailedPrecondition(f"items {', '.join(map(shown, unlabelled))} have no submitted annotation to train on; "
                                 "submit one or leave them out")
    # Labels and items arrive on two topics in either order: an item whose image training has not heard of yet
    # (annotation's ItemAdded) cannot be trained on until it has.
    imageless = [row.item_id for row in rows if row.labels_key and not row.volume_id]
    if item_ids and imageless:
        raise FailedPrecondition(f"items {', '.join(map(shown, imageless))} have submitted labels but training has not "
                                 "heard of their images yet; try again in a moment")
    examples = [{"item_id": row.item_id, "volume_id": row.volume_id, "labels_key": row.labels_key,
                 "annotation_id": row.annotation_id, "annotation_version": row.annotation_version,
                 "label_values": json.loads(row.label_values)} for row in rows if row.labels_key and row.volume_id]
    _check_examples(examples, dataset_id)
    return examples


def _check_examples(examples: list[dict], dataset_id: str) -> None:
    if len(examples) < MIN_EXAMPLES:
        raise FailedPrecondition(f"dataset {shown(dataset_id)} has {len(examples)} item(s) with submitted labels; a run "
                                 f"needs at least {MIN_EXAMPLES}: submit annotations first")


def _insert_run(uow: UnitOfWork, tenant: str, dataset_id: str, workflow_id: str, model_kind: str, base_model_id: str,
                label_values: list[int], examples: list[dict], config: pb.TrainingConfig, requester: str,
                source_event_id: str | None, claim: dict | None, *, check: bool = True) -> str:
    model_kind = model_kind or DEFAULT_KIND
    if check:
        label_values = _checked(model_kind, base_model_id, label_values, examples, config)
    run_id = str(uuid.uuid4())
    now = time.time()
    uow.execute(store.runs.insert().values(
        run_id=run_id, tenant=tenant, dataset_id=dataset_id, workflow_id=workflow_id, model_kind=model_kind,
        base_model_id=base_model_id, label_values=json.dumps(label_values),
        examples=json.dumps([{key: e[key] for key in ("item_id", "volume_id", "labels_key", "annotation_id",
                                                      "annotation_version")} for e in examples]),
        config=config.SerializeToString(), requester=requester, source_event_id=source_event_id, metrics="[]",
        split="{}", model_id="", state=job_pb2.JOB_STATE_QUEUED, percent_done=0.0, message="queued", error="",
        created_at=now, updated_at=now, ended_at=None, **(claim or {}),
    ))
    return run_id


def _checked(model_kind: str, base_model_id: str, label_values: list[int], examples: list[dict],
             config: pb.TrainingConfig) -> list[int]:
    """The run's label values, once its kind, settings and labels are known to be usable."""
    if base_model_id:
        raise InvalidArgument("fine-tuning from a base model is not supported yet; leave base_model_id empty")
    if not 0 <= config.validation_fraction < 1:
        raise InvalidArgument(f"validation_fraction must be at least 0 and below 1; got {config.validation_fraction:g}")
    if config.gpu_count and config.gpu_count < 0:
        raise InvalidArgument(f"gpu_count must not be negative; got {config.gpu_count}")
    try:
        settings.settings_for(model_kind, _hyperparameters(config))
    except ValueError as error:
        raise InvalidArgument(str(error)) from None
    present = sorted({value for e in examples for value in e.get("label_values", ())})
    if not label_values:
        if examples and "label_values" in examples[0]:
            if not present:
                raise FailedPrecondition("the items' submitted labels are all empty; nothing to learn")
            return present
        return []  # the workflow's examples: every value present, found by the run
    missing = sorted(set(label_values) - set(present)) if examples and "label_values" in examples[0] else []
    if missing:
        raise FailedPrecondition(f"labels {missing} appear in none of the items' submitted annotations (they hold "
                                 f"{present}); annotate them first or leave them out")
    return sorted(set(label_values))


def _hyperparameters(config: pb.TrainingConfig) -> dict[str, str]:
    """The run's hyper-parameters as text, `max_epochs` from its own field when set."""
    return dict(config.hyperparameters) | ({"max_epochs": str(config.max_epochs)} if config.max_epochs else {})


def _row(conn, run_id: str):
    return conn.execute(sa.select(store.runs).where(store.runs.c.run_id == run_id)).one()


def _visible(conn, caller: Principal, run_id: str):
    row = conn.execute(sa.select(store.runs).where(store.runs.c.tenant == caller.tenant,
                                                   store.runs.c.run_id == run_id)).first()
    if row is None:
        raise NotFound(f"training run {shown(run_id)} not found")
    return row


def _run(row) -> pb.TrainingRun:
    config = pb.TrainingConfig.FromString(row.config)
    run = pb.TrainingRun(
        run_id=row.run_id,
        job=job_pb2.Job(id=row.run_id, state=row.state, percent_done=row.percent_done, message=row.message,
                        error=row.error, create_time=timestamp(row.created_at), update_time=timestamp(row.updated_at)),
        dataset_id=row.dataset_id, workflow_id=row.workflow_id, model_kind=row.model_kind,
        base_model_id=row.base_model_id, label_values=json.loads(row.label_values),
        example_count=len(json.loads(row.examples)), config=config,
        metrics=[pb.Metric(**metric) for metric in json.loads(row.metrics)], model_id=row.model_id,
        requester=row.requester, create_time=timestamp(row.created_at),
    )
    if row.ended_at:
        run.end_time.CopyFrom(timestamp(row.ended_at))
    return run

