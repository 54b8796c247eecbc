"""The worker that runs a service's long jobs (interpolations, training runs, predictions), each under a claim in its
job row that replicas respect.

A job is claimed by one worker (`claimed_by`, a random id per process) until `claimed_until`; the worker
renews its claims every HEARTBEAT_S while it holds jobs, queued or running. A process that stops renewing
(it died, or was restarted) loses its claims CLAIM_S later, and a watching worker, in this process or a
replica, takes its QUEUED and RUNNING jobs over: at once when it starts, else at its next heartbeat. A
claim is taken by an UPDATE conditional on the row's claim having lapsed, inside a unit of work, so of
several replicas exactly one gets each job. A service may leave some jobs unclaimed (`claimable`): interpolation's
KeySlicesSaved jobs, which the bus redelivers to the consumer group until they have finished.

A job table has the columns seq, job id (named by `id_column`), state (radlab.type.v1.JobState), percent_done,
message, updated_at, claimed_by and claimed_until.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import sqlalchemy as sa

from radlab.type.v1 import job_pb2
from shared.db import Database

log = logging.getLogger(__name__)

CLAIM_S = 30.0  # a claim not renewed for this long is a stopped process's: a watching worker takes the job over
HEARTBEAT_S = 5.0  # between two renewals of a worker's claims (and two looks for lapsed ones)
PROGRESS_STEP = 5.0  # percent between two progress writes to a job row
UNFINISHED = (job_pb2.JOB_STATE_QUEUED, job_pb2.JOB_STATE_RUNNING)
FINISHED = (job_pb2.JOB_STATE_SUCCEEDED, job_pb2.JOB_STATE_FAILED, job_pb2.JOB_STATE_CANCELLED)


class JobWorker:
    """Runs claimed jobs one at a time (each already uses the machine's cores) and keeps their claims alive."""

    def __init__(self, db: Database, table: sa.Table, *, name: str, id_column: str = "job_id",
                 claimable: sa.ColumnElement[bool] | None = None, workers: int = 1, clock: Callable[[], float] = time.time):
        self.db = db
        self.table = table
        self.name = name  # in thread names and logs, e.g. "interpolation"
        self._id = table.c[id_column]
        self._claimable = claimable if claimable is not None else sa.true()
        self.clock = clock  # what claims are timed by (a test moves it on instead of waiting for claims to lapse)
        self.owner = str(uuid.uuid4())
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{name}-job")
        self._lock = threading.Lock()
        self._held: set[str] = set()
        self._adopt: Callable[[str], None] | None = None
        self._beating = False
        self._stop = threading.Event()

    def claim(self) -> dict[str, object]:
        """The claim columns of a job this worker is about to run (for the row that creates it)."""
        return dict(claimed_by=self.owner, claimed_until=self.clock() + CLAIM_S)

    def submit(self, job_id: str, run: Callable[[], None]) -> None:
        """Run `run` (the claimed job `job_id`) on the worker thread, renewing its claim until it returns."""
        with self._lock:
            self._held.add(job_id)
        self._start_beating()
        self._executor.submit(self._run, job_id, run)

    def watch(self, run: Callable[[str], None]) -> list[str]:
        """Take over the jobs whose claims have lapsed, now and at every heartbeat from now on, running each with
        `run(job_id)`; returns the ids taken now."""
        with self._lock:
            self._adopt = run
        taken = self._take_over(run)
        self._start_beating()
        return taken

    def take_over_abandoned(self) -> list[str]:
        """Claim every claimable job still QUEUED or RUNNING whose claim has lapsed (back to QUEUED at 0%); returns their
        ids, oldest first."""
        table = self.table
        now = self.clock()
        # Not this worker's own jobs: one whose renewal came late is still running here.
        abandoned = (table.c.state.in_(UNFINISHED) & self._claimable
                     & (table.c.claimed_until.is_(None) | (table.c.claimed_until < now))
                     & (table.c.claimed_by.is_(None) | (table.c.claimed_by != self.owner)))
        with self.db.read() as conn:  # most heartbeats find nothing: no write lock for them
            if conn.execute(sa.select(self._id).where(abandoned).limit(1)).first() is None:
                return []
        taken = []
        with self.db.unit_of_work() as uow:
            for job_id in uow.execute(sa.select(self._id).where(abandoned).order_by(table.c.seq)).scalars().all():
                # Conditional on the claim having lapsed still: whoever updates the row first owns the job.
                updated = uow.execute(table.update().where(self._id == job_id, abandoned).values(
                    state=job_pb2.JOB_STATE_QUEUED, percent_done=0.0, message="queued again: the process running it stopped",
                    updated_at=now, **self.claim(),
                ))
                if updated.rowcount == 1:
                    taken.append(job_id)
        if taken:
            log.info("%s jobs taken over", self.name, extra={"jobs": taken, "owner": self.owner})
        return taken

    def shutdown(self) -> None:
        """Wait for the jobs submitted so far (their claims renewed meanwhile), then stop renewing and watching."""
        self._executor.shutdown(wait=True)
        self._stop.set()

    def _take_over(self, run: Callable[[str], None]) -> list[str]:
        taken = self.take_over_abandoned()
        for job_id in taken:
            self.submit(job_id, partial(run, job_id))
        return taken

    def _run(self, job_id: str, run: Callable[[], None]) -> None:
        try:
            run()
        finally:
            with self._lock:
                self._held.discard(job_id)

    def _start_beating(self) -> None:
        with self._lock:
            if self._beating:
                return
            self._beating = True
        threading.Thread(target=self._beat, name=f"{self.name}-claims", daemon=True).start()

    def _beat(self) -> None:
        """Every HEARTBEAT_S renew the held claims and, when watching, take over lapsed ones; ends once neither is left
        to do (the next submit starts it again) or at shutdown."""
        while not self._stop.wait(HEARTBEAT_S):
            with self._lock:
                held, adopt = sorted(self._held), self._adopt
                if not held and adopt is None:
                    self._beating = False
                    return
            try:
                if held:
                    self._renew(held)
                if adopt is not None:
                    self._take_over(adopt)
            except Exception:
                log.exception("%s job claims: renewal or take-over failed; retried in %s s", self.name, HEARTBEAT_S)

    def _renew(self, held: list[str]) -> None:
        table = self.table
        with self.db.unit_of_work() as uow:
            renewed = uow.execute(table.update().where(self._id.in_(held), table.c.claimed_by == self.owner)
                                  .values(claimed_until=self.clock() + CLAIM_S)).rowcount
        if renewed < len(held):
            log.warning("%s job claims lost to another instance", self.name, extra={"held": held, "renewed": renewed})


class JobProgress:
    """A job's progress, written to its row in its own small unit of work every PROGRESS_STEP percent (only while
    `owner`, when given, holds the job's claim)."""

    def __init__(self, db: Database, table: sa.Table, job_id: str, owner: str = "", *, id_column: str = "job_id"):
        self.db = db
        self.table = table
        self.job_id = job_id
        self.owner = owner
        self.percent = 0.0
        self._id = table.c[id_column]
        self._written = -PROGRESS_STEP

    def report(self, done: float, message: str, *, state: int | None = None, error: str = "", **values: object) -> bool:
        """Note `done` (0 to 1) and `message`, with `state`/`error` and any other columns' `values` written at once;
        False when another worker holds the job's claim now (the caller should stop)."""
        self.percent = round(100.0 * min(max(done, 0.0), 1.0), 1)
        if state is None and not values and self.percent - self._written < PROGRESS_STEP:
            return True
        self._written = self.percent
        values |= dict(percent_done=self.percent, message=message, updated_at=time.time())
        if state is not None:
            values |= dict(state=state, error=error)
        table = self.table
        mine = (self._id == self.job_id) & (table.c.claimed_by == self.owner if self.owner else sa.true())
        with self.db.unit_of_work() as uow:
            return uow.execute(table.update().where(mine).values(**values)).rowcount == 1
