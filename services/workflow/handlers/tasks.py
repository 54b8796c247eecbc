"""Tasks as people see them: listing, claiming (never by two people), assigning, releasing, claims that time out,
review decisions, and where an item stands."""

from __future__ import annotations

import time

import sqlalchemy as sa

from radlab.quoting import shown
from radlab.workflow.v1 import events_pb2
from radlab.workflow.v1 import workflow_service_pb2 as pb
from services.workflow import store
from services.workflow.domain import routing
from services.workflow.handlers import progress
from shared import paging
from shared.auth import Principal
from shared.db import Database, UnitOfWork
from shared.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from shared.protos import timestamp

MANAGERS = ("admin", "manager")
CLAIM_CANDIDATES = 10  # open tasks fetched at a time for a claim of "the next one"


def list_tasks(db: Database, caller: Principal, request: pb.ListTasksRequest, after: int, limit: int):
    """One page of tasks: managers see every task of the tenant; others their own and those they may claim."""
    tasks = store.tasks
    query = sa.select(tasks).where(tasks.c.tenant == caller.tenant)
    for column, value in ((tasks.c.workflow_id, request.workflow_id), (tasks.c.dataset_id, request.dataset_id),
                          (tasks.c.stage_id, request.stage_id), (tasks.c.item_id, request.item_id),
                          (tasks.c.stage_kind, request.stage_kind), (tasks.c.state, request.state)):
        if value:
            query = query.where(column == value)
    if request.assignee:
        query = query.where(tasks.c.assignee == (caller.subject if request.assignee == "me" else request.assignee))
    if caller.role == "vendor":
        query = query.where(tasks.c.vendor_id == caller.vendor)
    elif caller.role not in MANAGERS:
        query = query.where((tasks.c.assignee == caller.subject) | (tasks.c.state == pb.TASK_STATE_UNASSIGNED))
    with db.unit_of_work() as uow:
        release_expired(uow, caller.tenant)
    with db.read() as conn:
        rows, next_after = paging.page_of(conn, query, tasks.c.seq, after, limit)
        if caller.role not in MANAGERS:
            seniority = _seniority(conn, caller)
            rows = [row for row in rows if row.assignee == caller.subject or not _refusal(conn, row, caller, seniority)]
        return [task_message(row) for row in rows], next_after


def get_task(db: Database, caller: Principal, task_id: str) -> pb.Task:
    with db.read() as conn:
        return task_message(_visible(conn, caller, task_id))


def claim(db: Database, caller: Principal, request: pb.ClaimTaskRequest) -> pb.Task:
    """Take a task: the one named, or the next open one the caller may work (in a workflow, optionally a stage): of the
    most uncertain item when the dataset's items were ranked, else the oldest."""
    if not request.task_id and not request.workflow_id:
        raise InvalidArgument("name the task to claim, or the workflow (and optionally the stage) to claim the next task of")
    # Claims change tasks by conditional updates only and skip rows other claimers hold, so on PostgreSQL they run
    # beside each other (one at a time per claimant: nobody ends up reading one item twice) and beside the service's
    # other units of work.
    with db.unit_of_work(only_with=f"claimant:{caller.tenant}:{caller.subject}") as uow:
        release_expired(uow, caller.tenant)
        if request.task_id:
            task = _visible(uow, caller, request.task_id)
            if task.state != pb.TASK_STATE_UNASSIGNED:
                holder = f" by {task.assignee}" if task.assignee and caller.role in MANAGERS else ""
                raise Conflict(f"task {task.task_id} is {pb.TaskState.Name(task.state).removeprefix('TASK_STATE_').lower()}"
                               f"{holder}; claim another")
            if reason := _refusal(uow, task, caller, _seniority(uow, caller)):
                raise PermissionDenied(f"task {task.task_id}: {reason}")
            if taken := _take(uow, task, caller.subject):
                return task_message(taken)
            raise Conflict(f"task {request.task_id} was just taken; claim another")
        tasks, priorities = store.tasks, store.item_priorities
        query = sa.select(tasks).join(priorities, priorities.c.item_id == tasks.c.item_id, isouter=True).where(
            tasks.c.tenant == caller.tenant, tasks.c.workflow_id == request.workflow_id,
            tasks.c.state == pb.TASK_STATE_UNASSIGNED)
        if request.stage_id:
            query = query.where(tasks.c.stage_id == request.stage_id)
        # The most uncertain items first (active learning's ranking), then the oldest tasks. Rows another claimer holds
        # are skipped, not waited for (PostgreSQL; SQLite runs one writer at a time).
        query = query.order_by(priorities.c.uncertainty.desc().nulls_last(), tasks.c.seq).limit(CLAIM_CANDIDATES)
        query = query.with_for_update(skip_locked=True, of=tasks)
        refused: set[str] = set()
        seniority = _seniority(uow, caller)
        while candidates := [row for row in uow.execute(query.where(tasks.c.task_id.not_in(refused))).all()]:
            for candidate in candidates:
                if _refusal(uow, candidate, caller, seniority):
                    refused.add(candidate.task_id)
                elif taken := _take(uow, candidate, caller.subject):
                    return task_message(taken)
    raise NotFound("no open task you may claim here")


def assign(db: Database, caller: Principal, task_id: str, assignee: str) -> pb.Task:
    """A manager hands an open task to someone, or (empty assignee) back to the pool."""
    with db.unit_of_work() as uow:
        task = _visible(uow, caller, task_id, lock=True)
        if task.state not in progress.OPEN:
            raise FailedPrecondition(f"task {task_id} is {pb.TaskState.Name(task.state)}; only open tasks are assigned")
        if task.assignee:
            _release(uow, task, "reassigned by a manager")
        if assignee:
            task = _take(uow, progress.task_row(uow, task_id), assignee)
        return task_message(progress.task_row(uow, task_id))


def release(db: Database, caller: Principal, task_id: str) -> pb.Task:
    with db.unit_of_work() as uow:
        task = _visible(uow, caller, task_id, lock=True)
        if task.state != pb.TASK_STATE_ASSIGNED:
            raise FailedPrecondition(f"task {task_id} is not assigned")
        if task.assignee != caller.subject and caller.role not in MANAGERS:
            raise PermissionDenied(f"task {task_id} is someone else's")
        _release(uow, task, "released")
        return task_message(progress.task_row(uow, task_id))


def submit_review(db: Database, caller: Principal, request: pb.SubmitReviewRequest) -> pb.Task:
    """Accept (the item moves on) or reject with a comment (back to the annotate stage, to the same annotator)."""
    if request.decision not in (pb.REVIEW_DECISION_ACCEPT, pb.REVIEW_DECISION_REJECT):
        raise InvalidArgument("decision must be ACCEPT or REJECT")
    comment = request.comment.strip()
    if request.decision == pb.REVIEW_DECISION_REJECT and not comment:
        raise InvalidArgument("a rejection needs a comment saying what to fix")
    with db.unit_of_work() as uow:
        task = _visible(uow, caller, request.task_id, lock=True)
        if task.stage_kind != pb.STAGE_KIND_REVIEW or task.state != pb.TASK_STATE_ASSIGNED:
            raise FailedPrecondition(f"task {task.task_id} is not a review task in progress")
        if task.assignee != caller.subject and caller.role not in MANAGERS:
            raise PermissionDenied(f"task {task.task_id} is {task.assignee}'s to review")
        item = progress.item_row(uow, task.item_id)
        if request.chosen_annotation_id:
            item = _choose(uow, item, request)
        if request.annotation_version != item.annotation_version:
            raise Conflict(f"annotation {item.annotation_id} is at version {item.annotation_version}, not "
                           f"{request.annotation_version}; look at version {item.annotation_version} and decide again")
        review = pb.Review(decision=request.decision, comment=comment, reviewer=caller.subject,
                           annotation_version=item.annotation_version, create_time=timestamp(time.time()))
        progress.finish_task(uow, task, item.annotation_id, item.annotation_version, review)
        stages = progress.stages_for(uow, item)
        stage = routing.stage(stages, task.stage_id)
        if request.decision == pb.REVIEW_DECISION_ACCEPT:
            progress.leave(uow, item, stages, stage, events_pb2.STAGE_OUTCOME_PASSED)
        else:
            author = progress.annotated_by(uow, item)
            rework = progress.Rework(task.task_id, author.assignee) if author is not None else None
            progress.leave(uow, item, stages, stage, events_pb2.STAGE_OUTCOME_REJECTED, comment=comment, rework=rework)
        return task_message(progress.task_row(uow, task.task_id))


def _choose(uow: UnitOfWork, item, request: pb.SubmitReviewRequest):
    """An adjudicator's choice: the chosen annotation of the item (handed in at its latest version) carries it from
    now on, and ConsensusAdjudicated has the readers scored against it."""
    if request.decision != pb.REVIEW_DECISION_ACCEPT:
        raise InvalidArgument("chosen_annotation_id goes with ACCEPT: the chosen annotation becomes the item's")
    known = store.item_annotations
    chosen = uow.execute(sa.select(known).where(known.c.annotation_id == request.chosen_annotation_id,
                                                known.c.item_id == item.item_id)).first()
    if chosen is None:
        raise InvalidArgument(f"annotation {shown(request.chosen_annotation_id)} is no annotation of item {item.item_id}")
    if chosen.submitted_version != chosen.version:
        raise FailedPrecondition(f"annotation {chosen.annotation_id} changed since it was handed in (version "
                                 f"{chosen.version}); submit it, then choose it")
    uow.execute(store.items.update().where(store.items.c.item_id == item.item_id).values(
        annotation_id=chosen.annotation_id, annotation_version=chosen.version, label_values=chosen.label_values))
    results = store.consensus_results
    result = uow.execute(sa.select(results.c.consensus_result_id).where(results.c.item_id == item.item_id)
                         .order_by(results.c.seq.desc()).limit(1)).first()
    if result is not None:
        uow.emit(events_pb2.ConsensusAdjudicated(
            consensus_result_id=result.consensus_result_id, dataset_id=item.dataset_id, item_id=item.item_id,
            chosen_annotation_id=chosen.annotation_id, chosen_labels_key=chosen.labels_key), subject=item.item_id, tenant=item.tenant)
    return progress.item_row(uow, item.item_id)


def move_item(db: Database, caller: Principal, request: pb.MoveItemRequest) -> pb.GetItemProgressResponse:
    """A manager moves an item to a stage of its workflow: open tasks cancelled (their holders released), the move
    recorded, the stage entered as if the item had arrived."""
    reason = request.reason.strip()
    if not reason:
        raise InvalidArgument("say why the item moves (reason): the move is recorded")
    with db.unit_of_work() as uow:
        item = progress.item_row(uow, request.item_id)
        if item is None or item.tenant != caller.tenant:
            raise NotFound(f"item {shown(request.item_id)} is in no workflow here")
        stages = progress.stages_for(uow, item)
        if request.stage_id not in {stage.stage_id for stage in stages}:
            raise InvalidArgument(f"workflow {item.workflow_id} has no stage {shown(request.stage_id)}; its stages are "
                                  + ", ".join(stage.stage_id for stage in stages))
        tasks = store.tasks
        # Locked: a concurrent claim skips these rows (or, naming one, waits and finds it cancelled).
        for task in uow.execute(sa.select(tasks).where(tasks.c.item_id == item.item_id, tasks.c.state.in_(
                (pb.TASK_STATE_UNASSIGNED, pb.TASK_STATE_ASSIGNED, pb.TASK_STATE_WAITING))).with_for_update()).all():
            if task.assignee:
                _release(uow, task, "the item was moved")
            uow.execute(tasks.update().where(tasks.c.task_id == task.task_id).values(
                state=pb.TASK_STATE_CANCELLED, updated_at=time.time()))
        uow.execute(store.item_moves.insert().values(
            tenant=caller.tenant, item_id=item.item_id, from_stage_id=item.stage_id, to_stage_id=request.stage_id,
            moved_by=caller.subject, reason=reason, at=time.time()))
        progress.move(uow, item, stages, routing.stage(stages, request.stage_id))
    return item_progress(db, caller, request.item_id)


def set_person(db: Database, caller: Principal, person: pb.Person) -> pb.Person:
    if not person.subject.strip():
        raise InvalidArgument("a person needs the subject their tokens carry")
    if person.seniority not in pb.Seniority.values():
        raise InvalidArgument("seniority is one of " + ", ".join(pb.Seniority.keys()))
    table = store.people
    key = (table.c.tenant == caller.tenant) & (table.c.subject == person.subject)
    values = dict(display_name=person.display_name.strip(), seniority=person.seniority, vendor_id=person.vendor_id)
    with db.unit_of_work() as uow:
        if uow.execute(sa.select(table.c.subject).where(key)).first() is None:
            uow.execute(table.insert().values(tenant=caller.tenant, subject=person.subject, **values))
        else:
            uow.execute(table.update().where(key).values(**values))
    return person


def list_people(db: Database, caller: Principal) -> list[pb.Person]:
    table = store.people
    with db.read() as conn:
        rows = conn.execute(sa.select(table).where(table.c.tenant == caller.tenant).order_by(table.c.subject)).all()
    return [pb.Person(subject=row.subject, display_name=row.display_name, seniority=row.seniority, vendor_id=row.vendor_id)
            for row in rows]


def item_progress(db: Database, caller: Principal, item_id: str) -> pb.GetItemProgressResponse:
    with db.read() as conn:
        item = progress.item_row(conn, item_id)
        if item is None or item.tenant != caller.tenant:
            raise NotFound(f"item {shown(item_id)} is in no workflow here")
        query = sa.select(store.tasks).where(store.tasks.c.item_id == item_id).order_by(store.tasks.c.seq)
        rows = conn.execute(query).all()
    if caller.role not in MANAGERS:
        mine = [row for row in rows if row.assignee == caller.subject or (caller.role == "vendor" and row.vendor_id == caller.vendor)]
        if not mine:
            raise NotFound(f"item {shown(item_id)} is in none of your tasks")
        rows = mine
    return pb.GetItemProgressResponse(item_id=item_id, workflow_id=item.workflow_id, stage_id=item.stage_id,
                                      stage_kind=item.stage_kind, annotation_id=item.annotation_id,
                                      tasks=[task_message(row) for row in rows])


def release_expired(uow: UnitOfWork, tenant: str) -> None:
    """Claims past their deadline go back to the pool (checked whenever tasks are listed or claimed)."""
    tasks = store.tasks
    expired = uow.execute(sa.select(tasks).where(tasks.c.tenant == tenant, tasks.c.state == pb.TASK_STATE_ASSIGNED,
                                                 tasks.c.claim_expires_at < time.time())).all()
    for task in expired:
        _release(uow, task, "claim timed out")


def task_message(row) -> pb.Task:
    task = pb.Task(
        task_id=row.task_id, workflow_id=row.workflow_id, dataset_id=row.dataset_id, item_id=row.item_id,
        stage_id=row.stage_id, stage_kind=row.stage_kind, state=row.state, assignee=row.assignee, vendor_id=row.vendor_id,
        annotation_id=row.annotation_id, annotation_version=row.annotation_version, rework_of_task_id=row.rework_of_task_id,
        comment=row.comment, create_time=timestamp(row.created_at), update_time=timestamp(row.updated_at),
    )
    if row.review:
        task.review.CopyFrom(pb.Review.FromString(row.review))
    if row.claim_expires_at:
        task.claim_expire_time.CopyFrom(timestamp(row.claim_expires_at))
    return task


def _take(uow: UnitOfWork, task, assignee: str):
    """Give an open task to `assignee` if it is still unassigned (one conditional update: never two holders)."""
    tasks = store.tasks
    stage = routing.stage(progress.stages_for(uow, task), task.stage_id)
    now = time.time()
    taken = uow.execute(tasks.update().where(tasks.c.task_id == task.task_id, tasks.c.state == pb.TASK_STATE_UNASSIGNED)
                        .values(state=pb.TASK_STATE_ASSIGNED, assignee=assignee, updated_at=now,
                                claim_expires_at=progress.claim_deadline(stage, now)))
    if taken.rowcount != 1:
        return None
    row = progress.task_row(uow, task.task_id)
    progress.announce_assigned(uow, row)
    return row


def _release(uow: UnitOfWork, task, reason: str) -> None:
    """Give the task back to the pool if its holder still has it (a conditional update: claims run concurrently)."""
    tasks = store.tasks
    released = uow.execute(tasks.update().where(
        tasks.c.task_id == task.task_id, tasks.c.state == pb.TASK_STATE_ASSIGNED, tasks.c.assignee == task.assignee,
    ).values(state=pb.TASK_STATE_UNASSIGNED, assignee="", claim_expires_at=None, updated_at=time.time()))
    if released.rowcount != 1:
        return
    uow.emit(events_pb2.TaskReleased(task_id=task.task_id, workflow_id=task.workflow_id, dataset_id=task.dataset_id,
                                     item_id=task.item_id, assignee=task.assignee, reason=reason),
             subject=task.item_id, tenant=task.tenant)


def _visible(conn, caller: Principal, task_id: str, *, lock: bool = False):
    """The task, if the caller's tenant (and vendor) has it; `lock` holds its row to the end of the unit of work, so a
    concurrent claim cannot take it in between."""
    if lock:
        tasks = store.tasks
        conn.execute(sa.select(tasks.c.task_id).where(tasks.c.task_id == task_id).with_for_update())
    task = progress.task_row(conn, task_id)
    if task is None or task.tenant != caller.tenant or (caller.role == "vendor" and task.vendor_id != caller.vendor):
        raise NotFound(f"task {shown(task_id)} not found")
    return task


def _seniority(conn, caller: Principal) -> int:
    """The caller's recorded seniority (SENIORITY_UNSPECIFIED when not recorded)."""
    people = store.people
    return conn.execute(sa.select(people.c.seniority).where(people.c.tenant == caller.tenant,
                                                            people.c.subject == caller.subject)).scalar() or 0


def _refusal(conn, task, caller: Principal, seniority: int) -> str:
    """Why the caller (recorded at `seniority`) may not take this task (its stage's rules; a reviewer never reviews
    their own annotation, nor an item they read in its consensus)."""
    item = progress.item_row(conn, task.item_id)
    reason = routing.refusal(routing.stage(progress.stages_for(conn, item), task.stage_id), caller, seniority)
    if not reason and task.stage_kind == pb.STAGE_KIND_REVIEW:
        author = progress.annotated_by(conn, item)
        if author is not None and author.assignee == caller.subject:
            reason = "you annotated this item; someone else reviews it"
    if not reason and task.stage_kind == pb.STAGE_KIND_CONSENSUS and any(
            other.assignee == caller.subject for other in progress.readers_of(conn, item, task.stage_id)):
        reason = "you read this item already; its readers are independent"
    if not reason and task.stage_kind == pb.STAGE_KIND_REVIEW and caller.subject in _consensus_readers(conn, item):
        reason = "you read this item in its consensus; someone else adjudicates it"
    return reason


def _consensus_readers(conn, item) -> set[str]:
    tasks = store.tasks
    return set(conn.execute(sa.select(tasks.c.assignee).where(
        tasks.c.item_id == item.item_id, tasks.c.stage_kind == pb.STAGE_KIND_CONSENSUS,
        tasks.c.state == pb.TASK_STATE_COMPLETED)).scalars())
