"""Active learning: a dataset's items without submitted labels ranked by a model's uncertainty (each item a task on the
compute pool), most uncertain first; ItemsRanked lets the workflow offer their tasks in that order."""

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
from radlab.type.v1 import job_pb2
from services.training import store
from services.training.domain.settings import TASKS
from services.training.handlers.models import FORMATS, model_row
from services.training.runner import PREDICTION_CPUS, rank_volume
from shared.auth import Principal
from shared.compute import ComputeError
from shared.errors import FailedPrecondition, InvalidArgument, NotFound
from shared.jobs import FINISHED, JobProgress
from shared.protos import timestamp

log = logging.getLogger(__name__)


def start_ranking(ports, caller: Principal, request: pb.StartRankingRequest) -> pb.Ranking:
    """Queue a ranking of the dataset's unlabelled items by the model named (or the one promoted for the dataset)."""
    if not request.dataset_id:
        raise InvalidArgument("dataset_id is required")
    with ports.db.unit_of_work() as uow:
        model_id = request.model_id or uow.execute(sa.select(store.promotions.c.model_id).where(
            store.promotions.c.tenant == caller.tenant, store.promotions.c.dataset_id == request.dataset_id)).scalar()
        if not model_id:
            raise FailedPrecondition(f"dataset {shown(request.dataset_id)} has no promoted model; name model_id or "
                                     "promote one (radlab models promote)")
        model = model_row(uow, caller.tenant, model_id)
        if model.format == pb.MODEL_FORMAT_ENDPOINT or TASKS.get(model.model_kind, "segmentation") != "segmentation":
            raise FailedPrecondition(f"model {shown(model_id)} is not a segmentation model Radlab runs; ranking "
                                     "measures the uncertainty of a segmentation's voxel probabilities")
        items = store.items
        unlabelled = uow.execute(sa.select(items.c.item_id, items.c.volume_id).where(
            items.c.tenant == caller.tenant, items.c.dataset_id == request.dataset_id, items.c.labels_key == "",
            items.c.volume_id != "").order_by(items.c.item_id)).all()
        if not unlabelled:
            raise FailedPrecondition(f"dataset {shown(request.dataset_id)} has no items without submitted labels to rank")
        ranking_id = str(uuid.uuid4())
        now = time.time()
        uow.execute(store.rankings.insert().values(
            ranking_id=ranking_id, tenant=caller.tenant, dataset_id=request.dataset_id, model_id=model_id,
            items=json.dumps([[row.item_id, row.volume_id] for row in unlabelled]), requester=caller.subject,
            state=job_pb2.JOB_STATE_QUEUED, percent_done=0.0, message="queued", error="", created_at=now, updated_at=now,
            ended_at=None, **ports.rankings.claim()))
        ranking = _ranking(_row(uow, ranking_id))
    ports.rankings.submit(ranking_id, partial(_run_in_background, ports, ranking_id))
    return ranking


def resume_abandoned_rankings(ports) -> list[str]:
    """From startup on: take over the rankings a stopped process left unfinished."""
    return ports.rankings.watch(partial(_run_in_background, ports))


def get_ranking(ports, caller: Principal, request: pb.GetRankingRequest) -> pb.Ranking:
    """A ranking by id, or the dataset's latest finished one."""
    table = store.rankings
    query = sa.select(table).where(table.c.tenant == caller.tenant)
    if request.ranking_id:
        query = query.where(table.c.ranking_id == request.ranking_id)
    elif request.dataset_id:
        query = query.where(table.c.dataset_id == request.dataset_id, table.c.state == job_pb2.JOB_STATE_SUCCEEDED)
    else:
        raise InvalidArgument("ranking_id or dataset_id is required")
    with ports.db.read() as conn:
        row = conn.execute(query.order_by(table.c.seq.desc()).limit(1)).first()
        if row is None or not store.vendor_shares.visible(conn, caller, row.dataset_id):
            raise NotFound(f"no ranking {shown(request.ranking_id)}" if request.ranking_id
                           else f"dataset {shown(request.dataset_id)} has no finished ranking")
    return _ranking(row)


def _run_in_background(ports, ranking_id: str) -> None:
    try:
        run_ranking(ports, ranking_id, owner=ports.rankings.owner)
    except Exception as error:
        log.exception("ranking %s failed", ranking_id)
        JobProgress(ports.db, store.rankings, ranking_id, ports.rankings.owner, id_column="ranking_id").report(
            1.0, "failed", state=job_pb2.JOB_STATE_FAILED, error=f"internal error ({type(error).__name__}); rank again")


def run_ranking(ports, ranking_id: str, *, owner: str) -> None:
    """Each item's uncertainty on the compute pool, then the ranking (SUCCEEDED, ItemsRanked) in one unit of work."""
    with ports.db.read() as conn:
        row = _row(conn, ranking_id)
        if row.claimed_by != owner or row.state in FINISHED:
            return
        model = model_row(conn, row.tenant, row.model_id)
    progress = JobProgress(ports.db, store.rankings, ranking_id, owner, id_column="ranking_id")
    progress.report(0.0, "running the model on each item", state=job_pb2.JOB_STATE_RUNNING)
    items = json.loads(row.items)
    compute = ports.compute()
    artifact = (model.bucket, model.object_key, FORMATS[model.format])
    tasks = [compute.submit(rank_volume, ports.store_url, artifact, json.loads(model.preprocessing), volume_id,
                            num_cpus=PREDICTION_CPUS) for _, volume_id in items]
    scores = []
    try:
        for n, ((item_id, _), task) in enumerate(zip(items, tasks), 1):
            scores.append((item_id, task.result()))
            progress.report(n / len(items) * 0.99, f"{n} of {len(items)} items")
    except ComputeError as error:
        for task in tasks:
            task.cancel()
        progress.report(1.0, "failed", state=job_pb2.JOB_STATE_FAILED, error=f"the model could not rank the items: {error}")
        return
    ranked = sorted(scores, key=lambda pair: (-pair[1], pair[0]))
    now = time.time()
    with ports.db.unit_of_work() as uow:
        if _row(uow, ranking_id).claimed_by != owner:
            return
        uow.execute(store.rankings.update().where(store.rankings.c.ranking_id == ranking_id).values(
            items=json.dumps(ranked), state=job_pb2.JOB_STATE_SUCCEEDED, percent_done=100.0,
            message=f"ranked {len(ranked)} items", updated_at=now, ended_at=now))
        uow.emit(events_pb2.ItemsRanked(ranking_id=ranking_id, dataset_id=row.dataset_id, model_id=row.model_id,
                                        items=[pb.RankedItem(item_id=item, uncertainty=score) for item, score in ranked]),
                 subject=row.dataset_id, tenant=row.tenant)


def _row(conn, ranking_id: str):
    return conn.execute(sa.select(store.rankings).where(store.rankings.c.ranking_id == ranking_id)).one()


def _ranking(row) -> pb.Ranking:
    ranking = pb.Ranking(
        ranking_id=row.ranking_id,
        job=job_pb2.Job(id=row.ranking_id, state=row.state, percent_done=row.percent_done, message=row.message,
                        error=row.error, create_time=timestamp(row.created_at), update_time=timestamp(row.updated_at)),
        dataset_id=row.dataset_id, model_id=row.model_id, create_time=timestamp(row.created_at),
    )
    if row.state == job_pb2.JOB_STATE_SUCCEEDED:
        ranking.items.extend(pb.RankedItem(item_id=item, uncertainty=score) for item, score in json.loads(row.items))
    return ranking
