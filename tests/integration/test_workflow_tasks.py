"""Workflow's task engine on SQLite and PostgreSQL: items through annotate → review → complete, rejects back to their
annotator with the comment, claims that time out, round-robin and least-loaded assignment, reviews on stale versions
refused, 50 threads claiming from one pool of 1,000 tasks (each task claimed exactly once), and training requested
every N completed items.

Events are handed to the service's own handlers as the consumer would (same event map, same idempotence); what the
service emits is read from its outbox.
"""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from collections import Counter

import numpy as np
import pytest
import sqlalchemy as sa

from radlab.annotation.v1 import events_pb2 as annotation_events
from radlab.type.v1 import label_pb2
from radlab.workflow.v1 import events_pb2
from radlab.workflow.v1 import workflow_service_pb2 as pb
from services.workflow import handlers, store
from services.workflow.handlers import consensus, tasks, workflows
from services.workflow.handlers.stats import workflow_stats
from shared import agreement, objectstore
from shared.auth import Principal
from shared.db import Database
from shared.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from shared.events import Event, envelope_for, event_type
from shared.volume_store import VolumeStore

TENANT = "hospital-a"
MANAGER = Principal("manager-1", "manager", TENANT)
ALICE = Principal("alice", "annotator", TENANT)
BOB = Principal("bob", "annotator", TENANT)
RITA = Principal("rita", "reviewer", TENANT)
GROUP = "radlab.workflow"
LABEL_ARRAYS = tempfile.mkdtemp(prefix="radlab-workflow-test-")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    url = f"sqlite:///{tmp_path}" if request.param == "sqlite" else request.getfixturevalue("postgres_database_url")
    database = Database(url, "workflow", store.metadata)
    yield database
    database.dispose()


def deliver(db: Database, message) -> None:
    """Hand one event to the service's handler for its type, as the consumer does (label arrays, which only consensus
    stages read, in a folder of their own)."""
    event = Event(envelope_for(message, source="radlab.test", subject="s", tenant=TENANT), message)
    ports = handlers.Ports(db, VolumeStore(objectstore.connect(f"file://{LABEL_ARRAYS}")))
    handlers.event_handlers(ports, GROUP)[event_type(message)](event)


def emitted(db: Database, message_type) -> list:
    with db.read() as conn:
        rows = conn.execute(sa.select(db.outbox.c.payload).where(db.outbox.c.topic == event_type(message_type))
                            .order_by(db.outbox.c.seq)).scalars().all()
    return [message_type.FromString(payload) for payload in rows]


def dataset(db: Database, stages: list[pb.Stage] | None = None) -> tuple[str, str]:
    """A dataset (with its default workflow) and, with `stages`, a workflow of those stages that its items enter."""
    dataset_id = str(uuid.uuid4())
    deliver(db, annotation_events.DatasetCreated(dataset_id=dataset_id, name=dataset_id[:8], creator="manager-1"))
    if stages:
        return dataset_id, workflows.create_workflow(db, MANAGER, dataset_id, "custom", stages).workflow_id
    with db.read() as conn:
        return dataset_id, workflows.active(conn, TENANT, dataset_id).workflow_id


def add_item(db: Database, dataset_id: str) -> str:
    item_id = str(uuid.uuid4())
    deliver(db, annotation_events.ItemAdded(item_id=item_id, dataset_id=dataset_id, volume_id=f"v-{item_id}"))
    return item_id


def submit(db: Database, item_id: str, annotator: str, annotation_id: str, version: int) -> None:
    deliver(db, annotation_events.AnnotationSubmitted(item_id=item_id, annotation_id=annotation_id, version=version,
                                                      annotator=annotator))


def progress(db: Database, item_id: str) -> pb.GetItemProgressResponse:
    return tasks.item_progress(db, MANAGER, item_id)


def test_an_item_goes_through_annotate_review_reject_rework_and_complete(db):
    dataset_id, workflow_id = dataset(db)
    item = add_item(db, dataset_id)
    assert progress(db, item).stage_id == "annotate"
    with pytest.raises(PermissionDenied, match="reviewer does not work annotate tasks"):
        tasks.claim(db, RITA, pb.ClaimTaskRequest(task_id=progress(db, item).tasks[0].task_id))
    claimed = tasks.claim(db, ALICE, pb.ClaimTaskRequest(workflow_id=workflow_id))
    assert (claimed.item_id, claimed.assignee, claimed.state) == (item, "alice", pb.TASK_STATE_ASSIGNED)
    with pytest.raises(Conflict):
        tasks.claim(db, BOB, pb.ClaimTaskRequest(task_id=claimed.task_id))
    submit(db, item, "bob", "a-bob", 1)  # bob holds no task on it: nothing moves
    assert progress(db, item).stage_id == "annotate"
    submit(db, item, "alice", "a-1", 2)
    state = progress(db, item)
    assert (state.stage_id, state.annotation_id) == ("review", "a-1")
    review = tasks.claim(db, RITA, pb.ClaimTaskRequest(workflow_id=workflow_id, stage_id="review"))
    with pytest.raises(InvalidArgument, match="needs a comment"):
        tasks.submit_review(db, RITA, pb.SubmitReviewRequest(task_id=review.task_id, decision=pb.REVIEW_DECISION_REJECT,
                                                             annotation_version=2))
    tasks.submit_review(db, RITA, pb.SubmitReviewRequest(task_id=review.task_id, decision=pb.REVIEW_DECISION_REJECT,
                                                         comment="the spleen tip is missing", annotation_version=2))
    rework = [task for task in progress(db, item).tasks if task.rework_of_task_id == review.task_id]
    assert len(rework) == 1 and (rework[0].assignee, rework[0].comment, rework[0].stage_id) == (
        "alice", "the spleen tip is missing", "annotate")
    assert [t.assignee for t in tasks.list_tasks(db, ALICE, pb.ListTasksRequest(assignee="me"), 0, 100)[0]
            if t.state == pb.TASK_STATE_ASSIGNED] == ["alice"]
    submit(db, item, "alice", "a-1", 4)
    review = tasks.claim(db, RITA, pb.ClaimTaskRequest(workflow_id=workflow_id, stage_id="review"))
    tasks.submit_review(db, RITA, pb.SubmitReviewRequest(task_id=review.task_id, decision=pb.REVIEW_DECISION_ACCEPT,
                                                         annotation_version=4))
    assert progress(db, item).stage_id == "complete"
    [done] = emitted(db, events_pb2.ItemCompleted)
    assert (done.item_id, done.annotation_id, done.annotation_version) == (item, "a-1", 4)
    outcomes = [(s.stage_id, s.outcome, s.next_stage_id) for s in emitted(db, events_pb2.StageCompleted)]
    passed, rejected = events_pb2.STAGE_OUTCOME_PASSED, events_pb2.STAGE_OUTCOME_REJECTED
    assert outcomes == [("annotate", passed, "review"), ("review", rejected, "annotate"),
                        ("annotate", passed, "review"), ("review", passed, "complete")]
    assert {a.assignee for a in emitted(db, events_pb2.TaskAssigned)} == {"alice", "rita"}


def test_a_review_on_a_stale_version_is_refused_and_nobody_reviews_their_own_work(db):
    dataset_id, workflow_id = dataset(db)
    item = add_item(db, dataset_id)
    admin = Principal("admin-1", "admin", TENANT)
    tasks.claim(db, admin, pb.ClaimTaskRequest(workflow_id=workflow_id))
    submit(db, item, "admin-1", "a-1", 1)
    review_task = progress(db, item).tasks[-1]
    with pytest.raises(PermissionDenied, match="you annotated this item"):
        tasks.claim(db, admin, pb.ClaimTaskRequest(task_id=review_task.task_id))
    tasks.claim(db, RITA, pb.ClaimTaskRequest(task_id=review_task.task_id))
    deliver(db, annotation_events.AnnotationVersionSaved(item_id=item, annotation_id="a-1", version=2))  # rita edits
    with pytest.raises(Conflict, match="is at version 2, not 1"):
        tasks.submit_review(db, RITA, pb.SubmitReviewRequest(task_id=review_task.task_id, decision=pb.REVIEW_DECISION_ACCEPT,
                                                             annotation_version=1))
    accepted = tasks.submit_review(db, RITA, pb.SubmitReviewRequest(
        task_id=review_task.task_id, decision=pb.REVIEW_DECISION_ACCEPT, annotation_version=2))
    assert (accepted.review.reviewer, accepted.review.annotation_version) == ("rita", 2)


def test_a_claim_that_times_out_returns_to_the_pool_and_is_claimed_again(db):
    stages = [pb.Stage(stage_id="annotate", kind=pb.STAGE_KIND_ANNOTATE,
                       assignment=pb.AssignmentSettings(policy=pb.ASSIGNMENT_POLICY_CLAIM, claim_timeout_s=1)),
              pb.Stage(stage_id="done", kind=pb.STAGE_KIND_COMPLETE)]
    dataset_id, workflow_id = dataset(db, stages)
    item = add_item(db, dataset_id)
    first = tasks.claim(db, ALICE, pb.ClaimTaskRequest(workflow_id=workflow_id))
    assert first.HasField("claim_expire_time")
    with pytest.raises(NotFound):
        tasks.claim(db, BOB, pb.ClaimTaskRequest(workflow_id=workflow_id))
    time.sleep(1.2)
    again = tasks.claim(db, BOB, pb.ClaimTaskRequest(workflow_id=workflow_id))
    assert (again.task_id, again.assignee) == (first.task_id, "bob")
    assert [(r.assignee, r.reason) for r in emitted(db, events_pb2.TaskReleased)] == [("alice", "claim timed out")]
    submit(db, item, "alice", "a-late", 1)  # alice's late submission no longer carries the task
    assert progress(db, item).stage_id == "annotate"
    submit(db, item, "bob", "a-bob", 1)
    assert progress(db, item).stage_id == "done"


def test_round_robin_and_least_loaded_hand_out_tasks_as_they_appear(db):
    people = ["alice", "bob", "carol"]
    robin = [pb.Stage(stage_id="annotate", kind=pb.STAGE_KIND_ANNOTATE,
                      assignment=pb.AssignmentSettings(policy=pb.ASSIGNMENT_POLICY_ROUND_ROBIN, assignees=people)),
             pb.Stage(stage_id="done", kind=pb.STAGE_KIND_COMPLETE)]
    dataset_id, _ = dataset(db, robin)
    order = [progress(db, add_item(db, dataset_id)).tasks[0].assignee for _ in range(6)]
    assert order == people * 2
    least = [pb.Stage(stage_id="annotate", kind=pb.STAGE_KIND_ANNOTATE,
                      assignment=pb.AssignmentSettings(policy=pb.ASSIGNMENT_POLICY_LEAST_LOADED, assignees=people)),
             pb.Stage(stage_id="done", kind=pb.STAGE_KIND_COMPLETE)]
    dataset_id, _ = dataset(db, least)
    first = [add_item(db, dataset_id) for _ in range(3)]
    submit(db, first[1], "bob", "a", 1)  # bob finishes: he has the fewest open tasks now
    assert progress(db, add_item(db, dataset_id)).tasks[0].assignee == "bob"
    with pytest.raises(InvalidArgument, match="ROUND_ROBIN needs assignees"):
        dataset(db, [pb.Stage(stage_id="a", kind=pb.STAGE_KIND_ANNOTATE,
                              assignment=pb.AssignmentSettings(policy=pb.ASSIGNMENT_POLICY_ROUND_ROBIN)),
                     pb.Stage(stage_id="done", kind=pb.STAGE_KIND_COMPLETE)])


def test_fifty_claimers_take_each_of_a_thousand_tasks_exactly_once(db):
    dataset_id, workflow_id = dataset(db)
    with db.unit_of_work() as uow:  # the pool, made as ItemAdded makes it, in one go
        from services.workflow.handlers import progress as engine

        stages = workflows.stages_of(workflows.active(uow, TENANT, dataset_id))
        for _ in range(1000):
            item_id = str(uuid.uuid4())
            uow.execute(store.items.insert().values(
                item_id=item_id, tenant=TENANT, dataset_id=dataset_id, volume_id="v", workflow_id=workflow_id,
                stage_id="annotate", stage_kind=pb.STAGE_KIND_ANNOTATE, annotation_id="", annotation_version=0,
                entered_at=time.time()))
            engine.enter(uow, engine.item_row(uow, item_id), stages, stages[0])
    claims: Counter = Counter()
    failures: list[BaseException] = []

    def claimer(number: int) -> None:
        me = Principal(f"annotator-{number}", "annotator", TENANT)
        try:
            while True:
                try:
                    claims[tasks.claim(db, me, pb.ClaimTaskRequest(workflow_id=workflow_id)).task_id] += 1
                except NotFound:
                    return
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=claimer, args=(number,)) for number in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(claims) == 1000 and set(claims.values()) == {1}
    with db.read() as conn:
        holders = conn.execute(sa.select(store.tasks.c.assignee).where(store.tasks.c.workflow_id == workflow_id)).scalars().all()
    assert len(holders) == 1000 and "" not in holders


def test_every_n_completed_items_request_training_on_all_of_them(db):
    stages = [pb.Stage(stage_id="annotate", kind=pb.STAGE_KIND_ANNOTATE,
                       assignment=pb.AssignmentSettings(policy=pb.ASSIGNMENT_POLICY_ROUND_ROBIN, assignees=["alice"])),
              pb.Stage(stage_id="model", kind=pb.STAGE_KIND_MODEL,
                       model=pb.ModelSettings(model_kind="monai.segresnet", train_every_completed_items=2)),
              pb.Stage(stage_id="done", kind=pb.STAGE_KIND_COMPLETE)]
    dataset_id, workflow_id = dataset(db, stages)
    for number in range(5):
        item = add_item(db, dataset_id)
        deliver(db, annotation_events.AnnotationVersionSaved(item_id=item, annotation_id=f"a-{number}", version=1))
        deliver(db, annotation_events.AnnotationSubmitted(item_id=item, annotation_id=f"a-{number}", version=1, annotator="alice",
                                                          labels=label_pb2.Mask(key=f"labels/a-{number}/v1")))
    requests = emitted(db, events_pb2.TrainingRequested)
    assert [len(request.examples) for request in requests] == [2, 4]
    assert requests[-1].model_kind == "monai.segresnet" and requests[-1].workflow_id == workflow_id
    assert [e.labels.key for e in requests[-1].examples] == [f"labels/a-{n}/v1" for n in range(4)]


def test_a_manager_moves_an_item_by_hand_and_the_move_is_recorded(db):
    dataset_id, workflow_id = dataset(db)
    item = add_item(db, dataset_id)
    held = tasks.claim(db, ALICE, pb.ClaimTaskRequest(workflow_id=workflow_id))
    with pytest.raises(InvalidArgument, match="say why"):
        tasks.move_item(db, MANAGER, pb.MoveItemRequest(item_id=item, stage_id="review"))
    with pytest.raises(InvalidArgument, match="has no stage 'qa'; its stages are annotate, review, complete"):
        tasks.move_item(db, MANAGER, pb.MoveItemRequest(item_id=item, stage_id="qa", reason="x"))
    moved = tasks.move_item(db, MANAGER, pb.MoveItemRequest(item_id=item, stage_id="review", reason="already drawn elsewhere"))
    assert moved.stage_id == "review"
    states = {task.task_id: task.state for task in moved.tasks}
    assert states[held.task_id] == pb.TASK_STATE_CANCELLED and list(states.values()).count(pb.TASK_STATE_UNASSIGNED) == 1
    with db.read() as conn:
        [move] = conn.execute(sa.select(store.item_moves)).all()
    assert (move.from_stage_id, move.to_stage_id, move.moved_by, move.reason) == (
        "annotate", "review", "manager-1", "already drawn elsewhere")
    assert [(r.assignee, r.reason) for r in emitted(db, events_pb2.TaskReleased)] == [("alice", "the item was moved")]
    stats = {s.stage_id: s for s in workflow_stats(
        db, MANAGER, workflow_id).stages}
    assert (stats["annotate"].moved, stats["review"].items) == (1, 1)


def test_a_stage_with_a_minimum_seniority_is_worked_only_by_people_recorded_that_senior(db):
    stages = [pb.Stage(stage_id="annotate", kind=pb.STAGE_KIND_ANNOTATE, assignment=pb.AssignmentSettings(
                  min_seniority=pb.SENIORITY_RADIOLOGIST)),
              pb.Stage(stage_id="done", kind=pb.STAGE_KIND_COMPLETE)]
    dataset_id, workflow_id = dataset(db, stages)
    add_item(db, dataset_id)
    tasks.set_person(db, MANAGER, pb.Person(subject="alice", seniority=pb.SENIORITY_RADIOGRAPHER))
    tasks.set_person(db, MANAGER, pb.Person(subject="bob", seniority=pb.SENIORITY_SENIOR_RADIOLOGIST))
    with pytest.raises(NotFound):
        tasks.claim(db, ALICE, pb.ClaimTaskRequest(workflow_id=workflow_id))
    assert tasks.claim(db, BOB, pb.ClaimTaskRequest(workflow_id=workflow_id)).assignee == "bob"
    assert [(p.subject, p.seniority) for p in tasks.list_people(db, MANAGER)] == [
        ("alice", pb.SENIORITY_RADIOGRAPHER), ("bob", pb.SENIORITY_SENIOR_RADIOLOGIST)]


def test_a_vendor_sees_and_takes_only_tasks_of_stages_given_to_its_vendor(db):
    stages = [pb.Stage(stage_id="annotate", kind=pb.STAGE_KIND_ANNOTATE, assignment=pb.AssignmentSettings(vendor_id="acme")),
              pb.Stage(stage_id="review", kind=pb.STAGE_KIND_REVIEW),
              pb.Stage(stage_id="done", kind=pb.STAGE_KIND_COMPLETE)]
    dataset_id, workflow_id = dataset(db, stages)
    item = add_item(db, dataset_id)
    acme = Principal("acme-1", "vendor", TENANT, vendor="acme")
    globex = Principal("globex-1", "vendor", TENANT, vendor="globex")
    [task] = progress(db, item).tasks
    assert tasks.list_tasks(db, globex, pb.ListTasksRequest(), 0, 100)[0] == []
    for call in (lambda: tasks.get_task(db, globex, task.task_id),
                 lambda: tasks.claim(db, globex, pb.ClaimTaskRequest(task_id=task.task_id)),
                 lambda: tasks.claim(db, globex, pb.ClaimTaskRequest(workflow_id=workflow_id)),
                 lambda: tasks.release(db, globex, task.task_id),
                 lambda: tasks.item_progress(db, globex, item)):
        with pytest.raises(NotFound):
            call()
    with pytest.raises(PermissionDenied, match="given to vendor acme|worked by vendor acme"):
        tasks.claim(db, ALICE, pb.ClaimTaskRequest(task_id=task.task_id))
    assert tasks.claim(db, acme, pb.ClaimTaskRequest(workflow_id=workflow_id)).task_id == task.task_id
    assert [t.task_id for t in tasks.list_tasks(db, acme, pb.ListTasksRequest(), 0, 100)[0]] == [task.task_id]


def test_routes_send_an_item_on_by_its_tags_and_the_classes_its_annotation_holds(db):
    stages = [pb.Stage(stage_id="annotate", kind=pb.STAGE_KIND_ANNOTATE, next_stage_id="review", routes=[
                  pb.Route(stage_id="senior-review", tag="urgent"), pb.Route(stage_id="specialist", label_present=7)]),
              pb.Stage(stage_id="review", kind=pb.STAGE_KIND_REVIEW, next_stage_id="done"),
              pb.Stage(stage_id="senior-review", kind=pb.STAGE_KIND_REVIEW, next_stage_id="done"),
              pb.Stage(stage_id="specialist", kind=pb.STAGE_KIND_REVIEW, next_stage_id="done"),
              pb.Stage(stage_id="done", kind=pb.STAGE_KIND_COMPLETE)]
    dataset_id, workflow_id = dataset(db, stages)
    urgent, lesion, plain = (add_item(db, dataset_id) for _ in range(3))
    deliver(db, annotation_events.ItemUpdated(item_id=urgent, dataset_id=dataset_id, tags=["urgent", "chest"]))
    for item, labels in ((urgent, [1]), (lesion, [1, 7]), (plain, [1])):
        tasks.claim(db, ALICE, pb.ClaimTaskRequest(workflow_id=workflow_id))
        deliver(db, annotation_events.AnnotationSubmitted(item_id=item, annotation_id=item[:30] + "-ann", version=1, annotator="alice",
                                                          labels=label_pb2.Mask(key="k", label_values=labels)))
    assert [progress(db, item).stage_id for item in (urgent, lesion, plain)] == ["senior-review", "specialist", "review"]
    with pytest.raises(InvalidArgument, match="route 0 needs a stage_id and a condition"):
        dataset(db, [pb.Stage(stage_id="annotate", kind=pb.STAGE_KIND_ANNOTATE, routes=[pb.Route(stage_id="done")]),
                     pb.Stage(stage_id="done", kind=pb.STAGE_KIND_COMPLETE)])


def test_a_model_stage_asks_the_newest_model_waits_for_its_labels_and_routes_on_confidence(db):
    """The training service is played by the test (ModelTrained, PredictionsReady, PredictionFailed handed to workflow's
    handlers as training publishes them; test_training_pipeline runs real models): workflow's part alone."""
    from radlab.training.v1 import events_pb2 as training_events

    stages = [pb.Stage(stage_id="prelabel", kind=pb.STAGE_KIND_MODEL, next_stage_id="annotate",
                       routes=[pb.Route(stage_id="review", min_confidence=0.9)]),
              pb.Stage(stage_id="annotate", kind=pb.STAGE_KIND_ANNOTATE),
              pb.Stage(stage_id="review", kind=pb.STAGE_KIND_REVIEW),
              pb.Stage(stage_id="done", kind=pb.STAGE_KIND_COMPLETE)]
    dataset_id, workflow_id = dataset(db, stages)
    before = add_item(db, dataset_id)
    assert progress(db, before).stage_id == "annotate"  # no model yet: items pass on
    deliver(db, training_events.ModelTrained(model_id="model-1", workflow_id=workflow_id, model_kind="monai.segresnet"))
    deliver(db, training_events.ModelTrained(model_id="model-2", workflow_id=workflow_id, model_kind="monai.segresnet"))
    sure, unsure, broken = (add_item(db, dataset_id) for _ in range(3))
    asked = {request.item_id: request for request in emitted(db, events_pb2.PredictionRequested)}
    assert set(asked) == {sure, unsure, broken} and {request.model_id for request in asked.values()} == {"model-2"}
    assert progress(db, sure).stage_id == "prelabel"
    for item, confidence in ((sure, 0.95), (unsure, 0.4)):
        deliver(db, training_events.PredictionsReady(item_id=item, model_id="model-2", workflow_id=workflow_id,
                                                     task_id=asked[item].task_id, confidence=confidence))
    deliver(db, training_events.PredictionFailed(item_id=broken, model_id="model-2", workflow_id=workflow_id,
                                                 task_id=asked[broken].task_id, reason="out of memory"))
    assert [progress(db, item).stage_id for item in (sure, unsure, broken)] == ["review", "annotate", "annotate"]
    assert progress(db, broken).tasks[0].comment == "prediction failed: out of memory"


def test_a_promoted_model_is_used_ahead_of_the_newest_and_ranked_items_are_claimed_most_uncertain_first(db):
    """ModelPromoted and ItemsRanked handed to workflow's handlers as training publishes them."""
    from radlab.training.v1 import events_pb2 as training_events
    from radlab.training.v1 import training_service_pb2 as training_pb

    stages = [pb.Stage(stage_id="prelabel", kind=pb.STAGE_KIND_MODEL, next_stage_id="annotate"),
              pb.Stage(stage_id="annotate", kind=pb.STAGE_KIND_ANNOTATE),
              pb.Stage(stage_id="done", kind=pb.STAGE_KIND_COMPLETE)]
    dataset_id, workflow_id = dataset(db, stages)
    deliver(db, training_events.ModelTrained(model_id="newest", workflow_id=workflow_id, model_kind="monai.unet2d"))
    deliver(db, training_events.ModelPromoted(model_id="chosen", dataset_id=dataset_id))
    add_item(db, dataset_id)
    assert [request.model_id for request in emitted(db, events_pb2.PredictionRequested)] == ["chosen"]

    plain, workflow_id = dataset(db)
    items = [add_item(db, plain) for _ in range(4)]  # their tasks in this order
    uncertain_first = [items[2], items[0], items[3]]  # items[1] unranked: after every ranked one
    deliver(db, training_events.ItemsRanked(dataset_id=plain, model_id="chosen", items=[
        training_pb.RankedItem(item_id=item_id, uncertainty=score) for item_id, score in zip(uncertain_first, (0.9, 0.5, 0.1))]))
    claimed = [tasks.claim(db, ALICE, pb.ClaimTaskRequest(workflow_id=workflow_id)).item_id for _ in items]
    assert claimed == [*uncertain_first, items[1]]


def test_a_model_reads_beside_a_person_at_a_consensus_stage_and_is_scored_like_one(db):
    """The model's prediction (PredictionsReady, as training publishes it) is its reading: compared with the person's,
    merged, and the model scored beside the person in the reader statistics."""
    from radlab.training.v1 import events_pb2 as training_events

    volumes = VolumeStore(objectstore.connect(f"file://{LABEL_ARRAYS}"))
    person, model = np.zeros((6, 40, 40), dtype=np.uint16), np.zeros((6, 40, 40), dtype=np.uint16)
    person[1:5, 10:30, 10:30] = 1
    model[1:5, 11:30, 10:30] = 1  # one row short: they agree
    prefix = str(uuid.uuid4())
    for name, array in (("person", person), ("model", model)):
        volumes.write("labels", f"{prefix}/{name}", array, np.eye(4), {})
    settings = pb.ConsensusSettings(annotator_count=2, model_id="model-9", merge=pb.MERGE_METHOD_MAJORITY_VOTE,
                                     limits=[pb.MeasureLimit(measure=pb.AGREEMENT_MEASURE_DICE, limit=0.8)])
    dataset_id, workflow_id = dataset(db, [pb.Stage(stage_id="read", kind=pb.STAGE_KIND_CONSENSUS, consensus=settings),
                                           pb.Stage(stage_id="adjudicate", kind=pb.STAGE_KIND_REVIEW),
                                           pb.Stage(stage_id="done", kind=pb.STAGE_KIND_COMPLETE)])
    item = add_item(db, dataset_id)
    [asked] = [request for request in emitted(db, events_pb2.PredictionRequested) if request.item_id == item]
    assert asked.model_id == "model-9"
    readers = {task.assignee or "pool": task.state for task in progress(db, item).tasks}
    assert readers == {"model-9": pb.TASK_STATE_WAITING, "pool": pb.TASK_STATE_UNASSIGNED}
    tasks.claim(db, ALICE, pb.ClaimTaskRequest(workflow_id=workflow_id, stage_id="read"))
    deliver(db, annotation_events.AnnotationSubmitted(item_id=item, annotation_id="a-alice", version=1, annotator="alice",
                                                      labels=label_pb2.Mask(key=f"{prefix}/person", label_values=[1])))
    assert not [f for f in emitted(db, events_pb2.ReadersFinished) if f.item_id == item]  # the model has not read yet
    deliver(db, training_events.PredictionsReady(item_id=item, model_id="model-9", workflow_id=workflow_id,
                                                 task_id=asked.task_id, confidence=0.9,
                                                 labels=label_pb2.Mask(key=f"{prefix}/model", label_values=[1])))
    [finished] = [f for f in emitted(db, events_pb2.ReadersFinished) if f.item_id == item]
    deliver(db, finished)
    [reached] = [r for r in emitted(db, events_pb2.ConsensusReached) if r.item_id == item]
    result = consensus.get_result(db, MANAGER, item, "")
    scored = {score.reader for score in result.reader_scores}
    assert scored == {"alice", "model-9"} and reached.agreement > 0.9
    assert result.classes[0].dice == pytest.approx(agreement.dice(person == 1, model == 1))
