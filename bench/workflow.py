"""Workflow benchmark: consensus speed (3 readers × 10 classes, 512×512×300) and items through annotate → review → complete
on SQLite and PostgreSQL (events handed to the handlers), and on Kafka + PostgreSQL (events through the bus)."""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from scipy import ndimage

from bench.annotation import best_median, infra_server, postgres_database, verdict
from bench.ingestion import data_dir, percentiles, seconds
from radlab.annotation.v1 import events_pb2 as annotation_events
from radlab.workflow.v1 import workflow_service_pb2 as pb
from services.workflow import handlers, store
from services.workflow.domain import consensus as rules
from services.workflow.handlers import tasks, workflows
from services.workflow.handlers.consensus import DEFAULT_TOLERANCE_MM
from shared import bus as bus_port
from shared import objectstore
from shared.auth import Principal
from shared.consumer import EventConsumer
from shared.db import Database, OutboxRelay
from shared.errors import NotFound
from shared.events import Event, envelope_for, event_type, to_headers
from shared.grid import array_spacing
from shared.volume_store import VolumeStore
from shared.volumes import from_nifti

LABELS = "totalsegmentator/tests/reference_files/example_seg.nii.gz"  # 41 organs on a 122×101×30 grid
SLICES = 300
ROWS = COLUMNS = 512
CLASSES = 10  # the largest organs, renumbered 1 (largest) to 10
REPEATS = 3
AGREEMENT_GOAL_S = 2.0
ITEMS = 10_000  # RADLAB_BENCH_WORKFLOW_ITEMS overrides
ANNOTATORS = 8
REVIEWERS = 4
CLAIM_P99_GOAL_MS = 50.0
EMPTY_POOL_WAIT_S = 0.005  # a reviewer who found no review open waits this long before claiming again
TENANT = "bench"
CONSUMER = "radlab.workflow"


@dataclass(frozen=True)
class ConsensusSpeed:
    """Seconds per run of each consensus step on one volume, and how far the readers agree (mean Dice per class)."""

    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    class_voxels: list[int]
    agreement_s: list[float]
    staple_s: list[float]
    majority_s: list[float]
    scores_s: list[float]
    dice: dict[int, float]
    agreed: int


@dataclass(frozen=True)
class Throughput:
    """One database's run: items added (ItemAdded handled), then readers working until every item is complete; or why
    it was not measured."""

    database: str
    items: int = 0
    add_s: float = 0.0
    run_s: float = 0.0
    annotate_claims_s: list[float] = field(default_factory=list)
    review_claims_s: list[float] = field(default_factory=list)
    submits_s: list[float] = field(default_factory=list)
    reviews_s: list[float] = field(default_factory=list)
    empty_claims: int = 0
    completed: int = 0
    missing: str = ""

    @property
    def claims_s(self) -> list[float]:
        return self.annotate_claims_s + self.review_claims_s


@dataclass(frozen=True)
class WorkflowFigures:
    """What `measure` found, for `report` to print."""

    consensus: ConsensusSpeed
    throughputs: list[Throughput]
    annotators: int
    reviewers: int


# ---- 1: consensus ---------------------------------------------------------------------------------------------

def reader_labels(slices: int) -> tuple[dict[str, np.ndarray], tuple[float, float, float]]:
    """Three readers' label volumes on a `slices`×512×512 grid, and its spacing: TotalSegmentator's organs zoomed
    (nearest neighbour) to the grid, the largest 10 kept; the second reader's shifted a row, the third's grown a
    column either side."""
    data, affine = from_nifti(data_dir() / LABELS)
    shape = (slices, ROWS, COLUMNS)
    labels = ndimage.zoom(data, np.divide(shape, data.shape), order=0)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    renumber = np.zeros(sizes.size, np.uint8)
    renumber[np.argsort(-sizes, kind="stable")[:CLASSES]] = np.arange(1, CLASSES + 1)
    labels = renumber[labels]
    zoomed = affine @ np.diag([*np.divide(data.shape, shape)[::-1], 1.0])  # (i, j, k) columns scaled as the axes grew
    readers = {"reader-1": labels, "reader-2": np.roll(labels, 1, axis=1),
               "reader-3": ndimage.grey_dilation(labels, size=(1, 1, 3))}
    return readers, array_spacing(zoomed)


def consensus_speed(slices: int, repeats: int) -> ConsensusSpeed:
    """Each of agreement, STAPLE and majority merges, and reader scores (against the STAPLE merge) `repeats` times,
    interleaved."""
    readers, spacing = reader_labels(slices)
    classes = list(range(1, CLASSES + 1))
    merged = rules.merge(readers, "staple", classes, spacing=spacing)
    steps: dict[str, Callable[[], object]] = {
        "agreement": lambda: rules.agreement(readers, spacing, classes, DEFAULT_TOLERANCE_MM),
        "staple": lambda: rules.merge(readers, "staple", classes, spacing=spacing),
        "majority": lambda: rules.merge(readers, "majority", classes),
        "scores": lambda: rules.reader_scores(readers, merged, classes, spacing, DEFAULT_TOLERANCE_MM),
    }
    runs: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            runs[name].append(seconds(step))
    verdicts = rules.agreement(readers, spacing, classes, DEFAULT_TOLERANCE_MM)
    first = next(iter(readers.values()))
    return ConsensusSpeed(first.shape, spacing, np.bincount(first.ravel(), minlength=CLASSES + 1)[1:].tolist(),
                          runs["agreement"], runs["staple"], runs["majority"], runs["scores"],
                          {value: verdict.mean.dice for value, verdict in verdicts.items()},
                          sum(verdict.agreed for verdict in verdicts.values()))


# ---- 2: items through the workflow ----------------------------------------------------------------------------

class Handlers:
    """Events handed to workflow's own handlers as its consumer hands them (same map, same idempotence), no bus."""

    def __init__(self, db: Database, objects: Path):
        self.applied = handlers.event_handlers(handlers.Ports(db, VolumeStore(objectstore.connect(f"file://{objects}"))),
                                               CONSUMER)

    def deliver(self, message, subject: str) -> None:
        self.applied[event_type(message)](Event(envelope_for(message, source="radlab.annotation", subject=subject,
                                                             tenant=TENANT), message))


class BusHandlers:
    """Events published on a real bus as annotation's outbox relay publishes them; workflow's consumer (its group, its
    handlers) applies them on threads of its own, and its outbox relay publishes what it emits, as in `radlab serve`.
    The group first skips whatever earlier runs left on the topics."""

    def __init__(self, db: Database, objects: Path, bus_url: str):
        self.bus = bus_port.connect(bus_url)
        applied = handlers.event_handlers(handlers.Ports(db, VolumeStore(objectstore.connect(f"file://{objects}"))),
                                          CONSUMER)
        skipping = EventConsumer(self.bus, CONSUMER, {topic: lambda event: None for topic in applied}, poll_timeout_s=1.0,
                                 batch=1000)
        while skipping.run_once():
            pass
        skipping.subscription.close()
        self.consumer = EventConsumer(self.bus, CONSUMER, applied, poll_timeout_s=0.05, batch=500)
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.consumer.run, args=(self.stop,), daemon=True),
                        threading.Thread(target=OutboxRelay(db, self.bus).run, args=(self.stop,), daemon=True)]
        for thread in self.threads:
            thread.start()

    def deliver(self, message, subject: str) -> None:
        envelope = envelope_for(message, source="radlab.annotation", subject=subject, tenant=TENANT)
        self.bus.publish(envelope.type, envelope.subject, envelope.payload, to_headers(envelope))

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)
        self.bus.close()


@dataclass
class Reader:
    """What one simulated reader timed."""

    principal: Principal
    claims_s: list[float] = field(default_factory=list)
    work_s: list[float] = field(default_factory=list)  # handing in: AnnotationSubmitted handled, or SubmitReview
    empty_claims: int = 0


def annotate(db: Database, events: Handlers, workflow_id: str, reader: Reader) -> None:
    """Claim the next annotate task and hand an annotation in, until none is open."""
    while True:
        start = time.perf_counter()
        try:
            task = tasks.claim(db, reader.principal, pb.ClaimTaskRequest(workflow_id=workflow_id, stage_id="annotate"))
        except NotFound:
            return
        reader.claims_s.append(time.perf_counter() - start)
        submitted = annotation_events.AnnotationSubmitted(item_id=task.item_id, dataset_id=task.dataset_id,
                                                          annotation_id=str(uuid.uuid4()), version=1,
                                                          annotator=reader.principal.subject)
        reader.work_s.append(seconds(lambda: events.deliver(submitted, task.item_id)))


def review(db: Database, workflow_id: str, reader: Reader, left: list[int], lock: threading.Lock, stop: threading.Event) -> None:
    """Claim the next review task and accept it, until `left` (shared by the reviewers) reaches 0; an empty pool
    (annotators still working) is waited on."""
    while not stop.is_set():
        with lock:
            if left[0] == 0:
                return
        start = time.perf_counter()
        try:
            task = tasks.claim(db, reader.principal, pb.ClaimTaskRequest(workflow_id=workflow_id, stage_id="review"))
        except NotFound:
            reader.empty_claims += 1
            time.sleep(EMPTY_POOL_WAIT_S)
            continue
        reader.claims_s.append(time.perf_counter() - start)
        decision = pb.SubmitReviewRequest(task_id=task.task_id, decision=pb.REVIEW_DECISION_ACCEPT,
                                          annotation_version=task.annotation_version)
        reader.work_s.append(seconds(lambda: tasks.submit_review(db, reader.principal, decision)))
        with lock:
            left[0] -= 1


def work(db: Database, events: Handlers, workflow_id: str, items: int, annotators: int,
         reviewers: int) -> tuple[float, list[Reader], list[Reader]]:
    """The readers in threads until every item is reviewed: (seconds, annotators, reviewers). A reader's error stops
    them all and is raised."""
    writers = [Reader(Principal(f"annotator-{number}", "annotator", TENANT)) for number in range(annotators)]
    checkers = [Reader(Principal(f"reviewer-{number}", "reviewer", TENANT)) for number in range(reviewers)]
    left, lock, stop, failures = [items], threading.Lock(), threading.Event(), []

    def guarded(job: Callable[[], None]) -> Callable[[], None]:
        def run_job() -> None:
            try:
                job()
            except BaseException as error:  # raised below, once every thread has ended
                failures.append(error)
                stop.set()
        return run_job

    threads = [threading.Thread(target=guarded(lambda reader=reader: annotate(db, events, workflow_id, reader)))
               for reader in writers]
    threads += [threading.Thread(target=guarded(lambda reader=reader: review(db, workflow_id, reader, left, lock, stop)))
                for reader in checkers]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return time.perf_counter() - start, writers, checkers


def throughput(database: str, url: str, items: int, annotators: int, reviewers: int, objects: Path,
               bus_url: str = "") -> Throughput:
    """A dataset (its default workflow: annotate → review → complete) with `items` items, then the readers; events
    handed to the handlers directly, or (`bus_url`) through that bus."""
    db = Database(url, "workflow", store.metadata)
    events = BusHandlers(db, objects, bus_url) if bus_url else Handlers(db, objects)
    try:
        dataset_id = str(uuid.uuid4())
        events.deliver(annotation_events.DatasetCreated(dataset_id=dataset_id, name="workflow bench", creator="bench"),
                       dataset_id)
        workflow_id = _wait_for_workflow(db, dataset_id)
        start = time.perf_counter()
        for _ in range(items):
            item_id = str(uuid.uuid4())
            events.deliver(annotation_events.ItemAdded(item_id=item_id, dataset_id=dataset_id, volume_id=f"volume-{item_id}"),
                           item_id)
        _wait_for_items(db, workflow_id, items)
        added_s = time.perf_counter() - start
        run_s, writers, checkers = work(db, events, workflow_id, items, annotators, reviewers)
        with db.read() as conn:
            completed = conn.execute(sa.select(sa.func.count()).select_from(store.items).where(
                store.items.c.workflow_id == workflow_id, store.items.c.stage_kind == pb.STAGE_KIND_COMPLETE)).scalar_one()
    finally:
        if isinstance(events, BusHandlers):
            events.close()
        db.dispose()
    return Throughput(database, items, added_s, run_s, [s for r in writers for s in r.claims_s],
                      [s for r in checkers for s in r.claims_s], [s for r in writers for s in r.work_s],
                      [s for r in checkers for s in r.work_s], sum(r.empty_claims for r in checkers), completed)


def throughputs(items: int, annotators: int, reviewers: int, postgres: bool, work_dir: Path) -> list[Throughput]:
    found = [throughput("SQLite", f"sqlite:///{work_dir / 'db'}", items, annotators, reviewers, work_dir / "objects")]
    if postgres:
        with postgres_database() as (url, missing):
            found.append(throughput("PostgreSQL", url, items, annotators, reviewers, work_dir / "objects") if url
                         else Throughput("PostgreSQL", missing=missing))
        with postgres_database() as (url, missing), infra_server("kafka") as (bus_url, no_bus):
            name = "Kafka + PostgreSQL"
            found.append(throughput(name, url, items, annotators, reviewers, work_dir / "objects", bus_url)
                         if url and bus_url else Throughput(name, missing=missing or no_bus))
    return found


def _wait_for_workflow(db: Database, dataset_id: str, timeout_s: float = 120.0) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        with db.read() as conn:
            found = workflows.active(conn, TENANT, dataset_id)
        if found is not None:
            return found.workflow_id
        if time.monotonic() > deadline:
            raise TimeoutError(f"no workflow for dataset {dataset_id} after {timeout_s:.0f} s")
        time.sleep(0.05)


def _wait_for_items(db: Database, workflow_id: str, count: int, timeout_s: float = 1800.0) -> None:
    """Until every added item has entered the workflow (at once without a bus)."""
    deadline = time.monotonic() + timeout_s
    while True:
        with db.read() as conn:
            entered = conn.execute(sa.select(sa.func.count()).select_from(store.items)
                                   .where(store.items.c.workflow_id == workflow_id)).scalar_one()
        if entered >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{entered} of {count} items entered the workflow in {timeout_s:.0f} s")
        time.sleep(0.05)


# ---- the whole benchmark ------------------------------------------------------------------------------------

def measure(items: int = ITEMS, slices: int = SLICES, postgres: bool = True, repeats: int = REPEATS,
            annotators: int = ANNOTATORS, reviewers: int = REVIEWERS) -> WorkflowFigures:
    consensus = consensus_speed(slices, repeats)
    with tempfile.TemporaryDirectory() as folder:
        found = throughputs(items, annotators, reviewers, postgres, Path(folder))
    return WorkflowFigures(consensus, found, annotators, reviewers)


def report(figures: WorkflowFigures) -> None:
    speed = figures.consensus
    size = "×".join(map(str, speed.shape[::-1]))
    print(f"consensus (services.workflow.domain.consensus, in-process, {os.cpu_count()} CPUs): 3 readers × {CLASSES} classes on a "
          f"{size} label volume,")
    print("TotalSegmentator's example organs zoomed to that grid (the largest 10 kept); readers: the labels, the labels shifted")
    print(f"a row (j), the labels grown a column (i) either side; spacing {' × '.join(f'{s:.2f}' for s in speed.spacing_mm)} mm "
          f"(k × j × i), surface tolerance {DEFAULT_TOLERANCE_MM:.0f} mm; best (median) of {len(speed.agreement_s)} runs:")
    print(f"  agreement (pairwise Dice, IoU, surface Dice, HD95, ASSD)  {best_median(speed.agreement_s)}   "
          f"goal ≤ {AGREEMENT_GOAL_S:.0f} s: {verdict(min(speed.agreement_s) <= AGREEMENT_GOAL_S)}")
    print(f"  merge STAPLE                                            {best_median(speed.staple_s)}")
    print(f"  merge majority                                          {best_median(speed.majority_s)}")
    print(f"  reader_scores (each reader against the STAPLE merge)    {best_median(speed.scores_s)}")
    dice = speed.dice.values()
    print(f"  classes {min(speed.class_voxels) / 1e6:.2f}–{max(speed.class_voxels) / 1e6:.2f} M voxels; mean Dice per class "
          f"{min(dice):.3f}–{max(dice):.3f}; {speed.agreed} of {CLASSES} agreed (default limit Dice ≥ 0.8)")

    print(f"\nitems through annotate → review → complete (the default workflow), workflow's handlers in-process (no RPC, no "
          f"bus): {figures.annotators} annotator")
    print(f"threads claim the next annotate task and hand an AnnotationSubmitted to the handlers; {figures.reviewers} reviewer "
          "threads claim the next review")
    print("task and accept it (SubmitReview). Items are added first (ItemAdded handled one by one); items/s counts from the")
    print("readers' start to the last review. Claim latency: tasks.claim calls that got a task.")
    measured = [found for found in figures.throughputs if not found.missing]
    print(f"  {'database':18} {'items':>6} {'added/s':>8} {'run s':>6} {'items/s':>8} {'claim p50':>9} {'p99 ms':>7} {'':4} "
          f"{'annotate p99':>12} {'review p99':>10} {'submit p50/p99':>15} {'SubmitReview p50/p99':>20} {'empty claims':>12}")
    for found in measured:
        p50, p99 = percentiles(found.claims_s)
        submit, accept = percentiles(found.submits_s), percentiles(found.reviews_s)
        print(f"  {found.database:18} {found.completed:6d} {found.items / found.add_s:8.0f} {found.run_s:6.1f} "
              f"{found.completed / found.run_s:8.1f} {p50:9.1f} {p99:7.1f} {verdict(p99 < CLAIM_P99_GOAL_MS):4} "
              f"{percentiles(found.annotate_claims_s)[1]:12.1f} {percentiles(found.review_claims_s)[1]:10.1f} "
              f"{submit[0]:7.1f}/{submit[1]:<7.1f} {accept[0]:10.1f}/{accept[1]:<9.1f} {found.empty_claims:12d}")
    print(f"  goal claim p99 < {CLAIM_P99_GOAL_MS:.0f} ms; every item complete: "
          + ", ".join(f"{found.database} {verdict(found.completed == found.items)}" for found in measured))
    for found in figures.throughputs:
        if found.missing:
            print(f"  {found.database}: not measured: {found.missing}")


def run() -> None:
    report(measure(items=int(os.environ.get("RADLAB_BENCH_WORKFLOW_ITEMS", ITEMS))))


if __name__ == "__main__":
    run()
