"""Items through their workflow's stages: an item enters the first stage when annotation adds it, a stage's tasks are
made (and handed out by its policy), a submitted annotation finishes an annotate task, a review passes or sends the
item back, and COMPLETE announces the item done."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from radlab.annotation.v1 import events_pb2 as annotation_events
from radlab.training.v1 import events_pb2 as training_events
from radlab.type.v1 import geometry_pb2, label_pb2
from radlab.workflow.v1 import events_pb2
from radlab.workflow.v1 import workflow_service_pb2 as pb
from services.workflow import store
from services.workflow.domain import routing
from services.workflow.handlers import workflows
from shared.db import UnitOfWork
from shared.events import Event
from shared.objectstore import LABELS_BUCKET

OPEN = (pb.TASK_STATE_UNASSIGNED, pb.TASK_STATE_ASSIGNED)
CONSENSUS_AUTHOR = "radlab.consensus"  # the annotator annotation names on the merge of a reached consensus


@dataclass(frozen=True)
class Rework:
    """A rejected item's way back: the review task that rejected it, and the annotator who gets it again."""

    review_task_id: str
    annotator: str


class WorkflowNotYetKnown(RuntimeError):
    """An item arrived before its dataset's workflow (DatasetCreated travels another topic); retried."""


def on_item_added(uow: UnitOfWork, event: Event) -> None:
    added: annotation_events.ItemAdded = event.message
    tenant = event.envelope.tenant
    if uow.execute(sa.select(store.items.c.item_id).where(store.items.c.item_id == added.item_id)).first():
        return
    workflow = workflows.active(uow, tenant, added.dataset_id)
    if workflow is None:
        raise WorkflowNotYetKnown(f"dataset {added.dataset_id} has no workflow here yet; DatasetCreated is on its way")
    stages = workflows.stages_of(workflow)
    uow.execute(store.items.insert().values(
        item_id=added.item_id, tenant=tenant, dataset_id=added.dataset_id, volume_id=added.volume_id,
        workflow_id=workflow.workflow_id, stage_id=stages[0].stage_id, stage_kind=stages[0].kind, annotation_id="",
        annotation_version=0, entered_at=time.time(), tags=[], label_values=[],
    ))
    enter(uow, item_row(uow, added.item_id), stages, stages[0])


def on_annotation_submitted(uow: UnitOfWork, event: Event) -> None:
    """The submitter's open task on the item's current stage is done: at an annotate stage the item moves on with the
    annotation; at a consensus stage (the reader's boxes and polygons kept with the task), once every reader handed in,
    ReadersFinished has them compared; the merge annotation handed in for a reached consensus carries the item on."""
    submitted: annotation_events.AnnotationSubmitted = event.message
    _know(uow, submitted.item_id, submitted.annotation_id, submitted.version, submitted.version, submitted.labels.key,
          sorted(submitted.labels.label_values))
    item = item_row(uow, submitted.item_id)
    if item is None or item.stage_kind not in (pb.STAGE_KIND_ANNOTATE, pb.STAGE_KIND_CONSENSUS):
        return  # not in a workflow here, or submitted outside a stage that waits for one (a reviewer's own copy)
    stages = stages_for(uow, item)
    stage = routing.stage(stages, item.stage_id)
    if submitted.annotator == CONSENSUS_AUTHOR and stage.kind == pb.STAGE_KIND_CONSENSUS:
        _carry(uow, item, submitted)
        leave(uow, item_row(uow, item.item_id), stages, stage, events_pb2.STAGE_OUTCOME_PASSED)
        return
    tasks = store.tasks
    task = uow.execute(sa.select(tasks).where(
        tasks.c.item_id == item.item_id, tasks.c.stage_id == item.stage_id, tasks.c.state == pb.TASK_STATE_ASSIGNED,
        tasks.c.assignee == submitted.annotator,
    )).first()
    if task is None:
        return  # submitted without holding the task: the task stays for whoever holds it
    finish_task(uow, task, submitted.annotation_id, submitted.version, labels_key=submitted.labels.key)
    if stage.kind == pb.STAGE_KIND_ANNOTATE:
        _carry(uow, item, submitted)
        leave(uow, item_row(uow, item.item_id), stages, stage, events_pb2.STAGE_OUTCOME_PASSED)
        return
    if submitted.boxes or submitted.polygons:  # the reader's shapes, compared with the others' beside the label arrays
        drawn = annotation_events.AnnotationSubmitted(boxes=submitted.boxes, polygons=submitted.polygons)
        uow.execute(store.tasks.update().where(store.tasks.c.task_id == task.task_id).values(
            shapes=drawn.SerializeToString()))
    _when_every_reader_is_done(uow, item, stage)


def _when_every_reader_is_done(uow: UnitOfWork, item, stage: pb.Stage) -> None:
    """ReadersFinished once every reader of the item's round at a consensus stage has handed in."""
    round_tasks = readers_of(uow, item, stage.stage_id)
    if len(round_tasks) == routing.readers(stage) and all(t.state == pb.TASK_STATE_COMPLETED for t in round_tasks):
        uow.emit(events_pb2.ReadersFinished(workflow_id=item.workflow_id, dataset_id=item.dataset_id, item_id=item.item_id,
                                            stage_id=stage.stage_id), subject=item.item_id, tenant=item.tenant)


def _know(uow: UnitOfWork, item_id: str, annotation_id: str, version: int, submitted_version: int = 0,
          labels_key: str = "", label_values: list[int] | None = None) -> None:
    """Remember an annotation of the item: its latest version, and (when handed in) that version's label array."""
    known = store.item_annotations
    row = uow.execute(sa.select(known).where(known.c.annotation_id == annotation_id)).first()
    if row is None:
        uow.execute(known.insert().values(annotation_id=annotation_id, item_id=item_id, version=version,
                                          submitted_version=submitted_version, labels_key=labels_key,
                                          label_values=label_values or []))
        return
    values = {"version": max(row.version, version)}
    if submitted_version >= row.submitted_version and labels_key:
        values |= {"submitted_version": submitted_version, "labels_key": labels_key, "label_values": label_values or []}
    uow.execute(known.update().where(known.c.annotation_id == annotation_id).values(**values))


def _carry(uow: UnitOfWork, item, submitted) -> None:
    uow.execute(store.items.update().where(store.items.c.item_id == item.item_id).values(
        annotation_id=submitted.annotation_id, annotation_version=submitted.version,
        label_values=sorted(submitted.labels.label_values)))


def on_annotation_version_saved(uow: UnitOfWork, event: Event) -> None:
    """Track every annotation of an item and the carrying one's current version, so a review decides on what it saw
    and an adjudicator chooses among the item's annotations."""
    saved: annotation_events.AnnotationVersionSaved = event.message
    _know(uow, saved.item_id, saved.annotation_id, saved.version)
    uow.execute(store.items.update().where(store.items.c.item_id == saved.item_id,
                                           store.items.c.annotation_id == saved.annotation_id,
                                           store.items.c.annotation_version < saved.version)
                .values(annotation_version=saved.version))


def enter(uow: UnitOfWork, item, stages: list[pb.Stage], stage: pb.Stage, *, rework: Rework | None = None,
          comment: str = "") -> None:
    """Put the item at `stage` and make what the stage needs: a task (for rework, straight back to its annotator), a
    review task (or a pass when the sample leaves it out), or, at COMPLETE, ItemCompleted."""
    now = time.time()
    uow.execute(store.items.update().where(store.items.c.item_id == item.item_id).values(
        stage_id=stage.stage_id, stage_kind=stage.kind, entered_at=now))
    item = item_row(uow, item.item_id)
    if stage.kind == pb.STAGE_KIND_COMPLETE:
        uow.emit(events_pb2.ItemCompleted(workflow_id=item.workflow_id, dataset_id=item.dataset_id, item_id=item.item_id,
                                          annotation_id=item.annotation_id, annotation_version=item.annotation_version),
                 subject=item.item_id, tenant=item.tenant)
        _request_training(uow, item, stages, stage)
        return
    if stage.kind == pb.STAGE_KIND_REVIEW and not routing.reviewed(item.item_id, stage.stage_id, stage.review.sample_fraction):
        leave(uow, item, stages, stage, events_pb2.STAGE_OUTCOME_PASSED)
        return
    if stage.kind == pb.STAGE_KIND_WEBHOOK:
        task = _make_task(uow, item, stage, None, comment, now, state=pb.TASK_STATE_WAITING)
        uow.emit(events_pb2.WebhookDue(task_id=task.task_id, item_id=item.item_id, delivery_id=task.delivery_id),
                 subject=item.item_id, tenant=item.tenant)
        return
    if stage.kind == pb.STAGE_KIND_MODEL and (model_id := _model_for(uow, item, stage)):
        _request_prediction(uow, item, stage, model_id, comment, now)
        return
    if stage.kind not in routing.HUMAN_STAGES:
        leave(uow, item, stages, stage, events_pb2.STAGE_OUTCOME_PASSED)  # model stage with no model yet: items pass on
        return
    people = routing.readers(stage)
    if stage.kind == pb.STAGE_KIND_CONSENSUS and stage.consensus.model_id:
        people -= 1
        _request_prediction(uow, item, stage, stage.consensus.model_id, comment, now)
    for _ in range(people):
        _make_task(uow, item, stage, rework, comment, now)


def _request_prediction(uow: UnitOfWork, item, stage: pb.Stage, model_id: str, comment: str, now: float) -> None:
    """A WAITING task for the model (its assignee, when it reads at a consensus stage), and PredictionRequested."""
    task = _make_task(uow, item, stage, None, comment, now, state=pb.TASK_STATE_WAITING,
                      assignee=model_id if stage.kind == pb.STAGE_KIND_CONSENSUS else "")
    uow.emit(events_pb2.PredictionRequested(model_id=model_id, item_id=item.item_id, volume_id=item.volume_id,
                                            dataset_id=item.dataset_id, workflow_id=item.workflow_id, task_id=task.task_id),
             subject=item.item_id, tenant=item.tenant)


def _make_task(uow: UnitOfWork, item, stage: pb.Stage, rework: Rework | None, comment: str, now: float, *,
               state: int = 0, assignee: str = ""):
    """A new task of the stage (assigned by its policy, or to a rework's annotator; WAITING for automatic stages, held
    by the model that reads at a consensus stage)."""
    assignee = assignee or (rework.annotator if rework is not None else _policy_assignee(uow, item, stage))
    task_id = str(uuid.uuid4())
    uow.execute(store.tasks.insert().values(
        task_id=task_id, tenant=item.tenant, workflow_id=item.workflow_id, dataset_id=item.dataset_id, item_id=item.item_id,
        stage_id=stage.stage_id, stage_kind=stage.kind,
        state=state or (pb.TASK_STATE_ASSIGNED if assignee else pb.TASK_STATE_UNASSIGNED),
        delivery_id=str(uuid.uuid4()) if stage.kind == pb.STAGE_KIND_WEBHOOK else "",
        assignee=assignee, vendor_id=stage.assignment.vendor_id,
        annotation_id=item.annotation_id if stage.kind == pb.STAGE_KIND_REVIEW or rework is not None else "",
        annotation_version=item.annotation_version if stage.kind == pb.STAGE_KIND_REVIEW else 0,
        rework_of_task_id=rework.review_task_id if rework is not None else "", comment=comment,
        claim_expires_at=claim_deadline(stage, now) if assignee else None, created_at=now, updated_at=now,
    ))
    task = task_row(uow, task_id)
    uow.emit(events_pb2.TaskCreated(task_id=task_id, workflow_id=item.workflow_id, dataset_id=item.dataset_id,
                                    item_id=item.item_id, stage_id=stage.stage_id, stage_kind=stage.kind, assignee=assignee),
             subject=item.item_id, tenant=item.tenant)
    if assignee:
        announce_assigned(uow, task)
    return task


def move(uow: UnitOfWork, item, stages: list[pb.Stage], target: pb.Stage) -> None:
    """The item leaves its stage by hand (MOVED) for `target`, entered as if it had arrived."""
    current = routing.stage(stages, item.stage_id)
    _exit(uow, item, current, events_pb2.STAGE_OUTCOME_MOVED, target)
    enter(uow, item, stages, target)


def _request_training(uow: UnitOfWork, item, stages: list[pb.Stage], complete: pb.Stage) -> None:
    """Each time a model stage's `train_every_completed_items` more items of the workflow completed, TrainingRequested
    with every completed item and its final labels."""
    models = [stage for stage in stages if stage.kind == pb.STAGE_KIND_MODEL and stage.model.train_every_completed_items > 0]
    if not models:
        return
    items, known = store.items, store.item_annotations
    completed = uow.execute(sa.select(items.c.item_id, items.c.volume_id, items.c.annotation_id, items.c.annotation_version,
                                      known.c.labels_key).join(known, known.c.annotation_id == items.c.annotation_id, isouter=True)
                            .where(items.c.workflow_id == item.workflow_id, items.c.stage_id == complete.stage_id)
                            .order_by(items.c.entered_at)).all()
    for model in models:
        if len(completed) % model.model.train_every_completed_items:
            continue
        uow.emit(events_pb2.TrainingRequested(
            workflow_id=item.workflow_id, dataset_id=item.dataset_id, model_kind=model.model.model_kind,
            base_model_id=model.model.model_id, hyperparameters=dict(model.model.hyperparameters),
            examples=[events_pb2.TrainingExample(
                item_id=row.item_id, volume_id=row.volume_id, annotation_id=row.annotation_id,
                annotation_version=row.annotation_version,
                labels=label_pb2.Mask(bucket=LABELS_BUCKET, key=row.labels_key or "", format=geometry_pb2.VOLUME_FORMAT_ZARR,
                                      dtype=geometry_pb2.DATA_TYPE_UINT16, volume_id=row.volume_id),
            ) for row in completed],
        ), subject=item.dataset_id, tenant=item.tenant)


def leave(uow: UnitOfWork, item, stages: list[pb.Stage], stage: pb.Stage, outcome: int, *, comment: str = "",
          rework: Rework | None = None) -> None:
    """The item is done with `stage`: StageCompleted, then the next stage (the reject stage when sent back)."""
    if outcome == events_pb2.STAGE_OUTCOME_REJECTED:
        target = routing.reject_stage(stages, stage)
    elif outcome == events_pb2.STAGE_OUTCOME_DISPUTED:
        target = routing.disputed_stage(stages, stage)
    else:
        target = routing.passed_to(stages, stage, facts(uow, item))
    _exit(uow, item, stage, outcome, target)
    enter(uow, item, stages, target, rework=rework, comment=comment)


def facts(conn, item) -> routing.ItemFacts:
    """What the item's routes decide on: its tags, its annotation's label values, its last consensus agreement, its
    last prediction's confidence."""
    results = store.consensus_results
    row = conn.execute(sa.select(results.c.result).where(results.c.item_id == item.item_id)
                       .order_by(results.c.seq.desc()).limit(1)).first()
    agreement = pb.ConsensusResult.FromString(row.result).agreement if row is not None else None
    return routing.ItemFacts(frozenset(item.tags or ()), frozenset(item.label_values or ()), agreement, item.confidence)


def _model_for(conn, item, stage: pb.Stage) -> str:
    """The model a model stage pre-labels with: the one it names, else the one promoted for the dataset, else the
    newest trained for the workflow ("" none)."""
    if stage.model.model_id:
        return stage.model.model_id
    promoted = store.promoted_models
    chosen = conn.execute(sa.select(promoted.c.model_id).where(promoted.c.dataset_id == item.dataset_id)).scalar()
    if chosen:
        return chosen
    models = store.models
    return conn.execute(sa.select(models.c.model_id).where(models.c.workflow_id == item.workflow_id)
                        .order_by(models.c.trained_at.desc()).limit(1)).scalar() or ""


def on_model_trained(uow: UnitOfWork, event: Event) -> None:
    trained: training_events.ModelTrained = event.message
    models = store.models
    if uow.execute(sa.select(models.c.model_id).where(models.c.model_id == trained.model_id)).first() is None:
        uow.execute(models.insert().values(model_id=trained.model_id, workflow_id=trained.workflow_id,
                                           model_kind=trained.model_kind, trained_at=time.time()))


def on_model_promoted(uow: UnitOfWork, event: Event) -> None:
    promoted: training_events.ModelPromoted = event.message
    table = store.promoted_models
    uow.execute(table.delete().where(table.c.dataset_id == promoted.dataset_id))
    uow.execute(table.insert().values(dataset_id=promoted.dataset_id, model_id=promoted.model_id))


def on_items_ranked(uow: UnitOfWork, event: Event) -> None:
    """The dataset's latest ranking replaces its earlier one."""
    ranked: training_events.ItemsRanked = event.message
    table = store.item_priorities
    uow.execute(table.delete().where(table.c.dataset_id == ranked.dataset_id))
    if ranked.items:
        uow.execute(table.insert(), [{"item_id": item.item_id, "dataset_id": ranked.dataset_id,
                                      "uncertainty": item.uncertainty} for item in ranked.items])


def on_prediction_ended(uow: UnitOfWork, event: Event) -> None:
    """PredictionsReady (its confidence noted for routes) or PredictionFailed: the waiting model task is done and the
    item moves on (annotation turns a prediction into the model's annotation of the item); at a consensus stage the
    model's reading is in, and the readers may all be done."""
    ended = event.message
    task = task_row(uow, ended.task_id)
    if task is None or task.state != pb.TASK_STATE_WAITING:
        return
    item = item_row(uow, task.item_id)
    failed = isinstance(ended, training_events.PredictionFailed)
    if task.stage_kind == pb.STAGE_KIND_CONSENSUS:  # the model's reading: its labels, compared with the people's
        finish_task(uow, task, "", 0, labels_key="" if failed else ended.labels.key)
        if failed:
            uow.execute(store.tasks.update().where(store.tasks.c.task_id == task.task_id).values(
                comment=f"prediction failed: {ended.reason}"[:2000]))
        _when_every_reader_is_done(uow, item, routing.stage(stages_for(uow, item), task.stage_id))
        return
    if not failed:
        uow.execute(store.items.update().where(store.items.c.item_id == item.item_id).values(confidence=ended.confidence))
    finish_task(uow, task, item.annotation_id, item.annotation_version)
    if failed:
        uow.execute(store.tasks.update().where(store.tasks.c.task_id == task.task_id).values(
            comment=f"prediction failed: {ended.reason}"[:2000]))
    stages = stages_for(uow, item)
    leave(uow, item_row(uow, item.item_id), stages, routing.stage(stages, task.stage_id), events_pb2.STAGE_OUTCOME_PASSED)


def on_item_updated(uow: UnitOfWork, event: Event) -> None:
    updated: annotation_events.ItemUpdated = event.message
    uow.execute(store.items.update().where(store.items.c.item_id == updated.item_id).values(tags=list(updated.tags)))


def _exit(uow: UnitOfWork, item, stage: pb.Stage, outcome: int, target: pb.Stage) -> None:
    """Record that the item left `stage` (and how) for `target`: a stage exit row, and StageCompleted."""
    uow.execute(store.stage_exits.insert().values(
        tenant=item.tenant, workflow_id=item.workflow_id, item_id=item.item_id, stage_id=stage.stage_id, stage_kind=stage.kind,
        outcome=outcome, entered_at=item.entered_at, left_at=time.time()))
    uow.emit(events_pb2.StageCompleted(
        workflow_id=item.workflow_id, dataset_id=item.dataset_id, item_id=item.item_id, stage_id=stage.stage_id,
        stage_kind=stage.kind, outcome=outcome, next_stage_id=target.stage_id, next_stage_kind=target.kind,
        annotation_id=item.annotation_id,
    ), subject=item.item_id, tenant=item.tenant)


def finish_task(uow: UnitOfWork, task, annotation_id: str, annotation_version: int, review: pb.Review | None = None,
                labels_key: str = "") -> None:
    uow.execute(store.tasks.update().where(store.tasks.c.task_id == task.task_id).values(
        state=pb.TASK_STATE_COMPLETED, annotation_id=annotation_id, annotation_version=annotation_version, labels_key=labels_key,
        review=review.SerializeToString() if review is not None else None, claim_expires_at=None, updated_at=time.time()))
    uow.emit(events_pb2.TaskCompleted(
        task_id=task.task_id, workflow_id=task.workflow_id, dataset_id=task.dataset_id, item_id=task.item_id,
        stage_id=task.stage_id, stage_kind=task.stage_kind, assignee=task.assignee, annotation_id=annotation_id,
        annotation_version=annotation_version,
    ), subject=task.item_id, tenant=task.tenant)


def announce_assigned(uow: UnitOfWork, task) -> None:
    uow.emit(events_pb2.TaskAssigned(
        task_id=task.task_id, workflow_id=task.workflow_id, dataset_id=task.dataset_id, item_id=task.item_id,
        stage_id=task.stage_id, stage_kind=task.stage_kind, assignee=task.assignee, vendor_id=task.vendor_id,
        annotation_id=task.annotation_id,
    ), subject=task.item_id, tenant=task.tenant)


def claim_deadline(stage: pb.Stage, now: float) -> float | None:
    return now + stage.assignment.claim_timeout_s if stage.assignment.claim_timeout_s else None


def _policy_assignee(uow: UnitOfWork, item, stage: pb.Stage) -> str:
    """Who a new task of the stage goes to by its policy (round-robin turn, fewest open tasks) among those not yet
    reading the item at the stage; "" for the pool."""
    if stage.assignment.policy not in routing.DIRECT_POLICIES or not stage.assignment.assignees:
        return ""
    workflow_id = item.workflow_id
    tasks, turns = store.tasks, store.turns
    counts = dict(uow.execute(sa.select(tasks.c.assignee, sa.func.count()).where(
        tasks.c.workflow_id == workflow_id, tasks.c.state.in_(OPEN), tasks.c.assignee.in_(list(stage.assignment.assignees)),
    ).group_by(tasks.c.assignee)).all())
    key = (turns.c.workflow_id == workflow_id) & (turns.c.stage_id == stage.stage_id)
    turn = uow.execute(sa.select(turns.c.next_index).where(key)).scalar() or 0
    reading = set(uow.execute(sa.select(tasks.c.assignee).where(
        tasks.c.item_id == item.item_id, tasks.c.stage_id == stage.stage_id, tasks.c.created_at >= item.entered_at)).scalars())
    assignee, following = routing.pick_assignee(stage, counts, turn, exclude=reading)
    if uow.execute(sa.select(turns.c.next_index).where(key)).first() is None:
        uow.execute(turns.insert().values(workflow_id=workflow_id, stage_id=stage.stage_id, next_index=following))
    else:
        uow.execute(turns.update().where(key).values(next_index=following))
    return assignee


def readers_of(conn, item, stage_id: str) -> list:
    """The consensus tasks of the item's current round at the stage (made since it entered it), oldest first."""
    tasks = store.tasks
    return conn.execute(sa.select(tasks).where(
        tasks.c.item_id == item.item_id, tasks.c.stage_id == stage_id, tasks.c.created_at >= item.entered_at,
        tasks.c.state != pb.TASK_STATE_CANCELLED).order_by(tasks.c.seq)).all()


def annotated_by(conn, item):
    """The annotate task that produced the item's carrying annotation (its assignee gets rework)."""
    tasks = store.tasks
    return conn.execute(sa.select(tasks).where(
        tasks.c.item_id == item.item_id, tasks.c.stage_kind == pb.STAGE_KIND_ANNOTATE, tasks.c.state == pb.TASK_STATE_COMPLETED,
        tasks.c.annotation_id == item.annotation_id,
    ).order_by(tasks.c.seq.desc()).limit(1)).first()


def item_row(conn, item_id: str):
    return conn.execute(sa.select(store.items).where(store.items.c.item_id == item_id)).first()


def task_row(conn, task_id: str):
    return conn.execute(sa.select(store.tasks).where(store.tasks.c.task_id == task_id)).first()


def stages_for(conn, item) -> list[pb.Stage]:
    row = conn.execute(sa.select(store.workflows).where(store.workflows.c.workflow_id == item.workflow_id)).one()
    return workflows.stages_of(row)
