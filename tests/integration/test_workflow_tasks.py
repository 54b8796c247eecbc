"""Workflow's task engine on SQLite and PostgreSQL: items through annotate → review → complete, rejects back to their
annotator with the comment, claims that time out, round-robin and least-loaded assignment, reviews on stale versions
refused, 50 threads claiming from one pool of 1,000 tasks (each task claimed exactly once), training requested
every N completed items, and consensus on readers' boxes and polygons (matched IoU against the limit, boxes fused).

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
from radlab.type.v1 import geometry_pb2, label_pb2
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


def test_a_new_workflow_is_the_datasets_next_version_and_items_in_flight_keep_theirs(db):
    """The default workflow is version 1; CreateWorkflow on the dataset makes version 2, superseding it: new items enter
    version 2, an item already in version 1 stays there and goes on through version 1's stages."""
    dataset_id, first = dataset(db)
    early = add_item(db, dataset_id)
    second = workflows.create_workflow(db, MANAGER, dataset_id, "two readers", [
        pb.Stage(stage_id="read", kind=pb.STAGE_KIND_ANNOTATE), pb.Stage(stage_id="done", kind=pb.STAGE_KIND_COMPLETE)])
    late = add_item(db, dataset_id)
    listed = workflows.list_workflows(db, MANAGER, dataset_id, 0, 10)[0]
    assert [(w.workflow_id, w.version, w.supersedes, w.current) for w in listed] == [
        (first, 1, "", False), (second.workflow_id, 2, first, True)]
    assert workflows.get_workflow(db, MANAGER, second.workflow_id) == second == listed[1]
    assert (progress(db, early).workflow_id, progress(db, early).stage_id) == (first, "annotate")
    assert (progress(db, late).workflow_id, progress(db, late).stage_id) == (second.workflow_id, "read")
    claimed = tasks.claim(db, ALICE, pb.ClaimTaskRequest(workflow_id=first))
    assert claimed.item_id == early
    submit(db, early, "alice", "a-1", 1)
    assert progress(db, early).stage_id == "review"  # version 1's next stage, which version 2 does not have


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


def test_every_n_completed_items_request_training_on_all_of_them_with_the_stages_settings(db):
    stages = [pb.Stage(stage_id="annotate", kind=pb.STAGE_KIND_ANNOTATE,
                       assignment=pb.AssignmentSettings(policy=pb.ASSIGNMENT_POLICY_ROUND_ROBIN, assignees=["alice"])),
              pb.Stage(stage_id="model", kind=pb.STAGE_KIND_MODEL,
                       model=pb.ModelSettings(model_kind="monai.segresnet", train_every_completed_items=2,
                                              hyperparameters={"max_epochs": "8"})),
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
    assert dict(requests[-1].hyperparameters) == {"max_epochs": "8"}  # the stage's training settings travel with it
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


def box(value: int, slice_index: int, x0: float, y0: float, x1: float, y1: float) -> label_pb2.SliceBox:
    return label_pb2.SliceBox(plane=geometry_pb2.PLANE_AXIAL, slice_index=slice_index, label_value=value, x0=x0, y0=y0,
                              x1=x1, y1=y1)


def box_iou(a: label_pb2.SliceBox, b: label_pb2.SliceBox) -> float:
    overlap = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0)) * max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    area = (a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0)
    return overlap / (area - overlap)


def read_shapes(db: Database, drawn: dict[Principal, annotation_events.AnnotationSubmitted], min_iou: float) -> str:
    """An item read at a two-reader consensus stage with an IoU limit, whose readers drew only shapes (their label
    arrays empty, as annotation writes them); compared."""
    empty = f"{uuid.uuid4()}/empty"
    VolumeStore(objectstore.connect(f"file://{LABEL_ARRAYS}")).write("labels", empty, np.zeros((4, 64, 64), np.uint16),
                                                                     np.eye(4), {})
    settings = pb.ConsensusSettings(annotator_count=2, merge=pb.MERGE_METHOD_MAJORITY_VOTE,
                                    limits=[pb.MeasureLimit(measure=pb.AGREEMENT_MEASURE_IOU, limit=min_iou)])
    dataset_id, workflow_id = dataset(db, [pb.Stage(stage_id="read", kind=pb.STAGE_KIND_CONSENSUS, consensus=settings),
                                           pb.Stage(stage_id="adjudicate", kind=pb.STAGE_KIND_REVIEW),
                                           pb.Stage(stage_id="done", kind=pb.STAGE_KIND_COMPLETE)])
    item = add_item(db, dataset_id)
    for reader, shapes in drawn.items():
        tasks.claim(db, reader, pb.ClaimTaskRequest(workflow_id=workflow_id, stage_id="read"))
        shapes.MergeFrom(annotation_events.AnnotationSubmitted(
            item_id=item, annotation_id=f"a-{reader.subject}", version=1, annotator=reader.subject,
            labels=label_pb2.Mask(key=empty)))
        deliver(db, shapes)
    [finished] = [f for f in emitted(db, events_pb2.ReadersFinished) if f.item_id == item]
    deliver(db, finished)
    return item


def test_readers_whose_boxes_and_polygons_agree_reach_consensus_on_their_fused_boxes_and_merged_polygons(db):
    """Slightly shifted boxes and polygons: each class's shape IoU is its matched IoUs over the larger count, the
    merge holds the boxes fused (mean corners, both readers: confidence 1) and the polygons merged (their common
    part), and each reader is scored against it."""
    square = [label_pb2.Point2(x=x, y=y) for x, y in ((10, 10), (30, 10), (30, 30), (10, 30))]
    shifted = [label_pb2.Point2(x=p.x + 2, y=p.y) for p in square]
    alice_boxes = [box(1, 2, 10, 10, 30, 30), box(1, 2, 40, 40, 56, 60), box(2, 3, 5, 5, 25, 25)]
    bob_boxes = [box(1, 2, 41, 40, 56, 59), box(1, 2, 11, 10, 31, 31), box(2, 3, 6, 6, 26, 26)]
    item = read_shapes(db, {
        ALICE: annotation_events.AnnotationSubmitted(boxes=alice_boxes, polygons=[
            label_pb2.Polygon(plane=geometry_pb2.PLANE_AXIAL, slice_index=1, label_value=3, vertices=square)]),
        BOB: annotation_events.AnnotationSubmitted(boxes=bob_boxes, polygons=[
            label_pb2.Polygon(plane=geometry_pb2.PLANE_AXIAL, slice_index=1, label_value=3, vertices=shifted),
            label_pb2.Polygon(plane=geometry_pb2.PLANE_AXIAL, slice_index=1, label_value=3, hole=True,
                              vertices=[label_pb2.Point2(x=x, y=y) for x, y in ((20, 20), (22, 20), (22, 22))])]),
    }, min_iou=0.7)
    [reached] = [r for r in emitted(db, events_pb2.ConsensusReached) if r.item_id == item]
    assert not [d for d in emitted(db, events_pb2.ConsensusDisputed) if d.item_id == item]
    pairs = [(alice_boxes[0], bob_boxes[1]), (alice_boxes[1], bob_boxes[0]), (alice_boxes[2], bob_boxes[2])]
    expected = sorted(((a.label_value, (a.x0 + b.x0) / 2, (a.y0 + b.y0) / 2, (a.x1 + b.x1) / 2, (a.y1 + b.y1) / 2, 1.0)
                       for a, b in pairs))
    fused = sorted((f.label_value, f.x0, f.y0, f.x1, f.y1, f.score) for f in reached.consensus_boxes)
    assert fused == expected  # halves of whole numbers: exact
    assert {(f.plane, f.slice_index) for f in reached.consensus_boxes if f.label_value == 1} == {(geometry_pb2.PLANE_AXIAL, 2)}

    result = consensus.get_result(db, MANAGER, item, "")
    verdicts = {verdict.label_value: verdict for verdict in result.classes}
    assert verdicts[1].shape_iou == pytest.approx((box_iou(*pairs[0]) + box_iou(*pairs[1])) / 2)
    assert verdicts[2].shape_iou == pytest.approx(box_iou(*pairs[2]))
    # the squares cover 21×21 pixel centres each (edges included), 19 columns of them shared; the hole is no instance
    assert verdicts[3].shape_iou == pytest.approx(19 * 21 / (2 * 21 * 21 - 19 * 21))
    assert all(verdict.agreed and not verdict.shortfalls for verdict in verdicts.values())
    assert {(n.reader, n.drawn, n.matched) for n in verdicts[1].shape_instances} == {("alice", 2, 2), ("bob", 2, 2)}
    assert result.agreement == pytest.approx(np.mean([v.shape_iou for v in verdicts.values()]))
    assert list(result.consensus_boxes) == list(reached.consensus_boxes)
    [outline] = reached.consensus_polygons  # the squares' common part, 12..30 × 10..30, traced within half a pixel
    assert (outline.label_value, outline.plane, outline.slice_index) == (3, geometry_pb2.PLANE_AXIAL, 1)
    xs, ys = [p.x for p in outline.vertices], [p.y for p in outline.vertices]
    assert max(abs(min(xs) - 12), abs(max(xs) - 30), abs(min(ys) - 10), abs(max(ys) - 30)) <= 0.5
    assert list(result.consensus_polygons) == list(reached.consensus_polygons)
    scores = {score.reader: score.shape_iou for score in result.reader_scores}
    assert scores.keys() == {"alice", "bob"} and min(scores.values()) > 0.9
    recorded = {stats.reader: stats for stats in consensus.reader_stats(db, MANAGER, "")}
    assert [(recorded[reader].shape_items, recorded[reader].mean_shape_iou) for reader in ("alice", "bob")] == [
        (1, pytest.approx(scores["alice"])), (1, pytest.approx(scores["bob"]))]


def test_readers_whose_boxes_disagree_are_disputed_naming_the_iou_shortfall(db):
    """Bob misses one of alice's boxes and draws one far from anything: on their slices those count 0, so the class's
    shape IoU is the one matched IoU over three instances, below the limit; the fusion keeps every box, a box one
    reader of two drew at half confidence."""
    alice_boxes = [box(1, 2, 10, 10, 30, 30), box(1, 2, 40, 40, 56, 60)]
    bob_boxes = [box(1, 2, 11, 10, 31, 31), box(1, 3, 40, 40, 60, 60)]
    item = read_shapes(db, {ALICE: annotation_events.AnnotationSubmitted(boxes=alice_boxes),
                            BOB: annotation_events.AnnotationSubmitted(boxes=bob_boxes)}, min_iou=0.7)
    [disputed] = [d for d in emitted(db, events_pb2.ConsensusDisputed) if d.item_id == item]
    assert not [r for r in emitted(db, events_pb2.ConsensusReached) if r.item_id == item]
    assert progress(db, item).stage_id == "adjudicate"
    assert sorted(f.score for f in disputed.consensus_boxes) == [0.5, 0.5, 1.0]

    [verdict] = consensus.get_result(db, MANAGER, item, "").classes
    iou = box_iou(alice_boxes[0], bob_boxes[0]) / 3
    assert verdict.shape_iou == pytest.approx(iou) and not verdict.agreed
    assert list(verdict.shortfalls) == [f"shapes: iou {iou:.3g} is below the minimum 0.7 by {0.7 - iou:.3g}"]
    assert {(n.reader, n.drawn, n.matched) for n in verdict.shape_instances} == {("alice", 2, 1), ("bob", 2, 1)}


@pytest.mark.parametrize("adapter", ["sqlite", "postgresql"])
def test_a_workflow_database_from_before_readers_shapes_gains_their_column_and_keeps_its_tasks(adapter, tmp_path, request):
    """Tables written before readers' shapes were kept (no `tasks.shapes`, no `reader_scores.shape_iou`, no migration
    recorded) are migrated when the service opens them."""
    url = f"sqlite:///{tmp_path}" if adapter == "sqlite" else request.getfixturevalue("postgres_database_url")
    older = Database(url, "workflow", store.metadata, store.migrations)
    item = add_item(older, dataset(older)[0])
    with older.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE tasks DROP COLUMN shapes")
        conn.exec_driver_sql("ALTER TABLE reader_scores DROP COLUMN shape_iou")
        conn.exec_driver_sql("DELETE FROM schema_migrations")
    older.dispose()
    db = Database(url, "workflow", store.metadata, store.migrations)
    try:
        assert "shapes" in {column["name"] for column in sa.inspect(db.engine).get_columns("tasks")}
        assert "shape_iou" in {column["name"] for column in sa.inspect(db.engine).get_columns("reader_scores")}
        assert [task.stage_id for task in progress(db, item).tasks] == ["annotate"]
    finally:
        db.dispose()
