"""20 SIGKILLs of `radlab serve workflow` mid-run lose and double nothing.

The service runs as `radlab serve` runs it (embedded default: local:// bus and SQLite under a temporary RADLAB_HOME,
a fixed token key). The test plays annotation: it publishes DatasetCreated, then ItemAdded for 300 items in batches
spread over the run, and for each annotate task an annotator holds, AnnotationVersionSaved and AnnotationSubmitted —
each event once, as annotation's own outbox would. Annotators and reviewers (threads with SDK clients and their own
tokens) claim tasks over gRPC and reviewers decide; every tenth item is rejected once and comes back to its
annotator, who hands in version 2. Meanwhile the service process is SIGKILLed 20 times at random moments and
restarted at once; a call that fails on the way (UNAVAILABLE, or its answer lost) is retried, and what the caller
holds or has decided is read back from the service, as a person's client would after a reconnect.

At the end every item completed exactly once with the annotation version it was accepted at, every item has exactly
the tasks its path needs (one annotate and one review task; two of each for a rejected item), all of them
completed, each claimed by one person only and assigned once; every event the service emitted is on the bus (its
outbox drained), at most re-published under the same event id (at-least-once), never emitted twice with new ids;
every event the test published was applied (none dead-lettered, no consumer lag).
"""

from __future__ import annotations

import collections
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import grpc
import pytest
import sqlalchemy as sa

from radlab.annotation.v1 import events_pb2 as annotation_events
from radlab.client import Client
from radlab.tokens import issue_token
from radlab.workflow.v1 import events_pb2
from radlab.workflow.v1 import workflow_service_pb2 as pb
from services.workflow import store
from shared import bus as bus_port
from shared import events
from shared.consumer import consumer_group
from shared.db import Database, OutboxRelay
from shared.stack import Stack
from tests.conftest import wait_until

T = TypeVar("T")
TENANT = "hospital-a"
TOKEN_KEY = "crash-test-signing-key-0123456789-abcdefghijklmnop"
ITEMS = 300
KILLS = 20
BATCH_ITEMS = 12  # items in each batch of ItemAdded but the last (see feed_items)
REJECT_EVERY = 10  # every tenth item is rejected once and reworked
ANNOTATORS = 3
REVIEWERS = 2
RUN_DEADLINE_S = 170.0
RPC_TIMEOUT_S = 15.0
# A killed consumer's lease on its topics outlives it by the session timeout; 1 s lets the restarted one take over
# as soon as it is up (the default 10 s would idle the consumer for most of the run).
SESSION_TIMEOUT_S = 1
# What a call that died with the process (or whose answer never came) fails with; the caller retries it.
TRANSIENT = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
PUBLISHED_TOPICS = [events.event_type(message) for message in (
    annotation_events.DatasetCreated, annotation_events.ItemAdded, annotation_events.AnnotationVersionSaved,
    annotation_events.AnnotationSubmitted)]
EMITTED = (events_pb2.WorkflowCreated, events_pb2.TaskCreated, events_pb2.TaskAssigned, events_pb2.TaskReleased,
           events_pb2.TaskCompleted, events_pb2.StageCompleted, events_pb2.ItemCompleted)


def annotation_of(item_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"annotation/{item_id}"))


@dataclass
class Run:
    """What the test did and saw, shared by its threads."""

    home: Path
    stack: Stack
    bus: bus_port.EventBus
    dataset_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    workflow_id: str = ""
    items: list[str] = field(default_factory=list)
    rejected: set[str] = field(default_factory=set)
    published: list[str] = field(default_factory=list)  # ids of the events the test published
    claims: dict[str, list[str]] = field(default_factory=lambda: collections.defaultdict(list))  # task → claimants
    kills: int = 0
    kill_times: list[float] = field(default_factory=list)
    retries: collections.Counter = field(default_factory=collections.Counter)  # failed calls retried, by status
    recovered: collections.Counter = field(default_factory=collections.Counter)  # work whose answer was lost
    failures: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, message, subject: str) -> None:
        envelope = events.envelope_for(message, source="radlab.annotation", subject=subject, tenant=TENANT)
        self.bus.publish(envelope.type, envelope.subject, envelope.payload, events.to_headers(envelope))
        with self.lock:
            self.published.append(envelope.id)

    def fail(self, what: str) -> None:
        with self.lock:
            self.failures.append(what)
        self.done.set()


class Person:
    """Someone working through the SDK: every call retried while the service is down or its answer is lost."""

    def __init__(self, run: Run, subject: str, role: str):
        self.run = run
        self.subject = subject
        self.role = role
        self.token = issue_token(TOKEN_KEY, subject=subject, role=role, tenant=TENANT)
        self.client = Client(run.stack.grpc_addr, self.token)

    def call(self, rpc: Callable[[Client], T], deadline_s: float = 60.0) -> T:
        """`rpc(client)`, again after a transport failure; a fresh channel each time, so a restarted service is
        reached at once rather than after the channel's reconnect backoff."""
        give_up = time.monotonic() + deadline_s
        while True:
            try:
                return rpc(self.client)
            except grpc.RpcError as error:
                if error.code() not in TRANSIENT or time.monotonic() > give_up:
                    raise
                with self.run.lock:
                    self.run.retries[error.code().name] += 1
            self.client.close()
            time.sleep(0.1)
            self.client = Client(self.run.stack.grpc_addr, self.token)

    def my_tasks(self, kind: int) -> list[pb.Task]:
        """The tasks this person holds of a kind, claims whose answer was lost among them."""
        held = self.call(lambda c: c.list_tasks(workflow_id=self.run.workflow_id, assignee="me",
                                                state=pb.TASK_STATE_ASSIGNED, stage_kind=kind))
        with self.run.lock:
            for task in held:
                if not task.rework_of_task_id and task.task_id not in self.run.claims:
                    self.run.claims[task.task_id].append(self.subject)
                    self.run.recovered["claims"] += 1
        return held

    def claim_next(self, stage_id: str) -> pb.Task | None:
        """The next open task of the stage, or None when there is none. A claim whose answer was lost is not known
        here; it shows up in `my_tasks` (claims never time out in the default workflow)."""
        request = pb.ClaimTaskRequest(workflow_id=self.run.workflow_id, stage_id=stage_id)
        try:
            task = self.call(lambda c: c.workflow.ClaimTask(request, timeout=RPC_TIMEOUT_S)).task
        except grpc.RpcError as error:
            if error.code() is grpc.StatusCode.NOT_FOUND:
                return None
            raise
        with self.run.lock:
            self.run.claims[task.task_id].append(self.subject)
        return task


def annotate(run: Run, person: Person) -> None:
    """Claim annotate tasks and hand in each one held (version 1, or 2 for rework), each exactly once."""
    handed_in: set[str] = set()
    while not run.done.is_set():
        claimed = person.claim_next("annotate")
        for task in person.my_tasks(pb.STAGE_KIND_ANNOTATE):
            if task.task_id in handed_in:
                continue  # its AnnotationSubmitted is on the bus; the service applies it when it gets there
            version = 2 if task.rework_of_task_id else 1
            annotation_id = annotation_of(task.item_id)
            run.publish(annotation_events.AnnotationVersionSaved(
                item_id=task.item_id, dataset_id=run.dataset_id, annotation_id=annotation_id, version=version,
                parent_version=version - 1, author=person.subject), task.item_id)
            run.publish(annotation_events.AnnotationSubmitted(
                item_id=task.item_id, dataset_id=run.dataset_id, annotation_id=annotation_id, version=version,
                annotator=person.subject), task.item_id)
            handed_in.add(task.task_id)
        if claimed is None:
            time.sleep(0.1)


def review(run: Run, person: Person) -> None:
    """Claim review tasks and decide each one held: a rejected-once item's first version is rejected, the rest
    accepted, always on the version the task shows."""
    while not run.done.is_set():
        claimed = person.claim_next("review")
        held = {task.task_id: task for task in person.my_tasks(pb.STAGE_KIND_REVIEW)}
        if claimed is not None:
            held.setdefault(claimed.task_id, claimed)
        for task in held.values():
            decide(run, person, task)
        if claimed is None:
            time.sleep(0.1)


def decide(run: Run, person: Person, task: pb.Task) -> None:
    reject = task.item_id in run.rejected and task.annotation_version == 1
    request = pb.SubmitReviewRequest(
        task_id=task.task_id, annotation_version=task.annotation_version,
        decision=pb.REVIEW_DECISION_REJECT if reject else pb.REVIEW_DECISION_ACCEPT,
        comment="the spleen tip is missing" if reject else "")
    try:
        person.call(lambda c: c.workflow.SubmitReview(request, timeout=RPC_TIMEOUT_S))
    except grpc.RpcError as error:
        if error.code() is not grpc.StatusCode.FAILED_PRECONDITION:
            raise
        # The decision may have been made by a call whose answer was lost: then the task says so.
        asked = pb.GetTaskRequest(task_id=task.task_id)
        after = person.call(lambda c: c.workflow.GetTask(asked, timeout=RPC_TIMEOUT_S)).task
        if not (after.state == pb.TASK_STATE_COMPLETED and after.review.reviewer == person.subject
                and after.review.decision == request.decision):
            raise
        with run.lock:
            run.recovered["reviews"] += 1


def working(run: Run, work: Callable[[Run, Person], None], person: Person) -> Callable[[], None]:
    def thread() -> None:
        try:
            work(run, person)
        except BaseException as error:  # reported by the test
            run.fail(f"{person.subject}: {type(error).__name__}: {error}")
        finally:
            person.client.close()

    return thread


def feed_items(run: Run) -> None:
    """ItemAdded in KILLS batches, one now and one after each restart but the last; the last batch is the largest,
    so the last kill, like every other, finds items in flight."""
    sizes = [BATCH_ITEMS] * (KILLS - 1) + [ITEMS - BATCH_ITEMS * (KILLS - 1)]
    try:
        start = 0
        for batch, size in enumerate(sizes):
            while run.kills < batch and not run.done.is_set():
                time.sleep(0.05)
            for number in range(start, start + size):
                item_id = run.items[number]
                run.publish(annotation_events.ItemAdded(item_id=item_id, dataset_id=run.dataset_id,
                                                        volume_id=f"volume-{number}"), item_id)
            start += size
    except BaseException as error:
        run.fail(f"feeding items: {type(error).__name__}: {error}")


def kill_and_restart(run: Run, rng: random.Random) -> None:
    """SIGKILL the service at a random moment after it is up, and start it again at once; KILLS times."""
    try:
        for _ in range(KILLS):
            if run.done.wait(rng.uniform(0.3, 2.5)):
                return
            run.stack.process.kill()
            run.stack.process.wait()
            run.kill_times.append(time.monotonic())
            run.kills += 1
            run.stack.start()
    except BaseException as error:
        run.fail(f"restarting the service: {type(error).__name__}: {error}")


class Observer:
    """Everything the service emitted, as a consumer of its topics reads it (re-publications included)."""

    def __init__(self, bus: bus_port.EventBus):
        self.subscription = bus.subscribe(f"crash-test-{uuid.uuid4().hex}", [events.event_type(m) for m in EMITTED])
        self.records: list[events.Event] = []

    def read(self) -> None:
        while batch := self.subscription.poll(0.0, 1000):
            self.records.extend(events.decode(events.from_record(record)) for record in batch)

    def distinct(self, message_type) -> list[events.Event]:
        """One per event id, in order."""
        seen: dict[str, events.Event] = {}
        for event in self.records:
            if event.type == events.event_type(message_type):
                seen.setdefault(event.id, event)
        return list(seen.values())

    def completed_items(self) -> set[str]:
        return {event.message.item_id for event in self.distinct(events_pb2.ItemCompleted)}


@pytest.fixture
def run(tmp_path):
    home = tmp_path / "home"
    bus_url = f"local://{home / 'bus.sqlite'}"
    env = {"RADLAB_TOKEN_KEY": TOKEN_KEY, "RADLAB_BUS": f"{bus_url}?session_timeout_s={SESSION_TIMEOUT_S}"}
    stack = Stack(home, command=("serve", "workflow"), env=env)
    stack.start()
    bus = bus_port.connect(bus_url)
    state = Run(home=home, stack=stack, bus=bus)
    yield state
    state.done.set()
    if stack.process.poll() is None:
        stack.process.kill()
        stack.process.wait()
    bus.close()


def test_twenty_sigkills_mid_run_lose_and_double_nothing(run):
    seed = random.randrange(2**32)  # of the kill moments (the moments themselves also depend on the machine)
    rng = random.Random(seed)
    started = time.monotonic()
    run.items = [str(uuid.uuid4()) for _ in range(ITEMS)]
    run.rejected = set(run.items[::REJECT_EVERY])
    manager = Person(run, "manager-1", "manager")
    observer = Observer(run.bus)

    run.publish(annotation_events.DatasetCreated(dataset_id=run.dataset_id, name="crashes", creator="manager-1"),
                run.dataset_id)
    workflows = pb.ListWorkflowsRequest(dataset_id=run.dataset_id)
    run.workflow_id = wait_until(lambda: manager.call(lambda c: c.workflow.ListWorkflows(
        workflows, timeout=RPC_TIMEOUT_S)).workflows, "the default workflow")[0].workflow_id

    people = [Person(run, f"annotator-{n}", "annotator") for n in range(ANNOTATORS)]
    people += [Person(run, f"reviewer-{n}", "reviewer") for n in range(REVIEWERS)]
    threads = [threading.Thread(target=working(run, annotate if p.role == "annotator" else review, p), name=p.subject)
               for p in people]
    threads += [threading.Thread(target=feed_items, args=(run,), name="items"),
                threading.Thread(target=kill_and_restart, args=(run, rng), name="killer")]
    for thread in threads:
        thread.start()

    deadline = started + RUN_DEADLINE_S
    all_completed_at = None
    while not run.done.is_set() and time.monotonic() < deadline:
        observer.read()
        if all_completed_at is None and len(observer.completed_items()) >= ITEMS:
            all_completed_at = time.monotonic()
        if all_completed_at is not None and run.kills == KILLS:
            break
        time.sleep(0.2)
    finished = time.monotonic()
    run.done.set()
    for thread in threads:
        thread.join(60)
    context = f"(seed {seed}, {run.kills} kills, retries {dict(run.retries)}; service log:\n{_log_tail(run)})"
    assert run.failures == [], f"{run.failures} {context}"
    completed = observer.completed_items()
    assert run.kills == KILLS, context
    missing = [(number, item_id) for number, item_id in enumerate(run.items) if item_id not in completed]
    assert missing == [], f"{len(missing)} of {ITEMS} items never completed within {RUN_DEADLINE_S:.0f} s {context}"
    assert run.kill_times[-1] < all_completed_at, f"the last kill came after every item had completed {context}"

    # Where every item stands, and its tasks, as the service reports it (while it still runs).
    by_item = {}
    for item_id in run.items:
        by_item[item_id] = manager.call(lambda c, item_id=item_id: c.workflow.GetItemProgress(
            pb.GetItemProgressRequest(item_id=item_id), timeout=RPC_TIMEOUT_S))
    database = Database(f"sqlite:///{run.home / 'db'}", "workflow", store.metadata)  # the service's own, read here
    try:
        annotation_tasks = wait_until(lambda: _drained(run, database), "the outbox relayed and every event applied", 60)
        manager.client.close()
        assert run.stack.stop() == 0, "the service did not stop cleanly on SIGTERM"
        with database.read() as conn:
            outbox = conn.execute(sa.select(database.outbox.c.event_id, database.outbox.c.topic,
                                            database.outbox.c.published_at)).all()
            processed = set(conn.execute(sa.select(database.processed_events.c.event_id).where(
                database.processed_events.c.consumer == consumer_group("workflow"))).scalars())
    finally:
        database.dispose()
    observer.read()

    # Each item: COMPLETE, with exactly the tasks its path needs, all completed, reviews as decided.
    for number, item_id in enumerate(run.items):
        progress = by_item[item_id]
        rounds = 2 if item_id in run.rejected else 1
        kinds = [task.stage_kind for task in progress.tasks]
        assert progress.stage_kind == pb.STAGE_KIND_COMPLETE, f"item {number} is at {progress.stage_id}"
        assert (kinds.count(pb.STAGE_KIND_ANNOTATE), kinds.count(pb.STAGE_KIND_REVIEW), len(kinds)) == (
            rounds, rounds, 2 * rounds), f"item {number} has tasks {[pb.StageKind.Name(k) for k in kinds]} {context}"
        assert all(task.state == pb.TASK_STATE_COMPLETED for task in progress.tasks), f"item {number}: {progress.tasks}"
        decisions = [task.review.decision for task in progress.tasks if task.stage_kind == pb.STAGE_KIND_REVIEW]
        assert decisions == [pb.REVIEW_DECISION_REJECT] * (rounds - 1) + [pb.REVIEW_DECISION_ACCEPT], f"item {number}"
        annotators = {task.assignee for task in progress.tasks if task.stage_kind == pb.STAGE_KIND_ANNOTATE}
        assert len(annotators) == 1, f"item {number}'s rework went to someone else: {annotators}"
    assert annotation_tasks == ITEMS + len(run.rejected)

    # Completed exactly once each, at the version accepted; nothing emitted twice under new ids.
    completions = collections.Counter(event.message.item_id for event in observer.distinct(events_pb2.ItemCompleted))
    assert set(completions) == set(run.items) and set(completions.values()) == {1}, (
        f"completed more than once: {[item for item, n in completions.items() if n > 1]} {context}")
    for event in observer.distinct(events_pb2.ItemCompleted):
        expected = 2 if event.message.item_id in run.rejected else 1
        assert (event.message.annotation_id, event.message.annotation_version) == (
            annotation_of(event.message.item_id), expected)
    all_tasks = {task.task_id: task for progress in by_item.values() for task in progress.tasks}
    for message_type in (events_pb2.TaskCreated, events_pb2.TaskAssigned, events_pb2.TaskCompleted):
        per_task = collections.Counter(event.message.task_id for event in observer.distinct(message_type))
        assert set(per_task) == set(all_tasks) and set(per_task.values()) == {1}, (
            f"{message_type.DESCRIPTOR.name} per task: {collections.Counter(per_task.values())}, "
            f"{len(set(all_tasks) - set(per_task))} tasks without one {context}")
    assert observer.distinct(events_pb2.TaskReleased) == []
    for event in observer.distinct(events_pb2.TaskAssigned):
        assert event.message.assignee == all_tasks[event.message.task_id].assignee
    stage_passes = collections.Counter(event.message.item_id for event in observer.distinct(events_pb2.StageCompleted))
    assert stage_passes == {item: 4 if item in run.rejected else 2 for item in run.items}
    assert len(observer.distinct(events_pb2.WorkflowCreated)) == 1

    # No task held by two people: each claim the service granted went to one person, the one it shows.
    for task_id, claimants in run.claims.items():
        assert len(claimants) == 1, f"task {task_id} was granted to {claimants}"
        assert all_tasks[task_id].assignee == claimants[0]

    # The outbox went out whole: every row it holds is published and on the bus; nothing else from workflow is.
    assert [row.event_id for row in outbox if row.published_at is None] == []
    observed_topics = {events.event_type(message) for message in EMITTED}
    on_bus = {event.id for event in observer.records}
    assert {row.event_id for row in outbox if row.topic in observed_topics} == on_bus
    assert set(run.published) <= processed, f"{len(set(run.published) - processed)} published events never applied"

    # Nothing dead-lettered; the consumer group is at the end of every topic it reads.
    letters = run.bus.subscribe(f"crash-test-dlq-{uuid.uuid4().hex}",
                                [bus_port.dead_letter_topic(topic) for topic in PUBLISHED_TOPICS])
    assert letters.poll(0.2, 100) == []
    letters.close()
    assert set(run.bus.subscribe(consumer_group("workflow"), PUBLISHED_TOPICS).lag().values()) == {0}

    republished = len(observer.records) - len(on_bus)
    print(f"\n{ITEMS} items through {KILLS} SIGKILLs in {finished - started:.1f} s (seed {seed}); {len(run.published)} "
          f"events published, {len(on_bus)} emitted ({republished} re-published under their own id); "
          f"retried calls {dict(run.retries)}; answers lost to a kill, read back: {dict(run.recovered)}")


def _log_tail(run: Run, chars: int = 4000) -> str:
    """The end of the service's log (all its runs), without the line per handled event."""
    lines = run.stack.log.read_text(errors="replace").splitlines()
    return "\n".join(line for line in lines if '"event handled"' not in line)[-chars:]


def _drained(run: Run, database: Database) -> int | None:
    """The number of annotate tasks once the service's outbox is empty and its consumer has applied everything;
    None before."""
    if OutboxRelay(database, run.bus).pending():
        return None
    if any(run.bus.subscribe(consumer_group("workflow"), PUBLISHED_TOPICS).lag().values()):
        return None
    with database.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(store.tasks).where(
            store.tasks.c.stage_kind == pb.STAGE_KIND_ANNOTATE)).scalar_one()
