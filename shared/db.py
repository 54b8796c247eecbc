"""The database port: one database (SQLite file) or schema (PostgreSQL) per service, chosen by URL.

Every service's metadata carries two shared tables: `outbox` (events written in the same transaction
as the change that implies them, published later by `OutboxRelay`) and `processed_events` (the ids of
events a consumer has applied, recorded with the effects so a redelivered event is applied once).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from google.protobuf import message
from sqlalchemy.engine import Connection, Engine

from shared import events, metrics
from shared.bus import EventBus
from shared.logs import current_trace_id
from shared.migrations import Migration, migrate

log = logging.getLogger(__name__)
T = TypeVar("T")


def service_metadata() -> sa.MetaData:
    """A fresh MetaData holding the outbox and processed-events tables; a service adds its own tables."""
    metadata = sa.MetaData()
    sa.Table(
        "outbox",
        metadata,
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("published_at", sa.Float, nullable=True, index=True),
    )
    sa.Table(
        "processed_events",
        metadata,
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("processed_at", sa.Float, nullable=False),
    )
    return metadata


class Database:
    """A service's own tables on the database `url` names: `unit_of_work()` for changes (with their events),
    `read()` for queries, `apply_once()` for an event's effects."""

    def __init__(self, url: str, service: str, metadata: sa.MetaData, migrations: Sequence[Migration] = ()):
        self.service = service
        self.metadata = metadata
        self.engine = _engine(url, service)
        self.outbox = metadata.tables["outbox"]
        self.processed_events = metadata.tables["processed_events"]
        self._postgres = self.engine.dialect.name == "postgresql"
        # SQLite has one writer at a time: this process's units of work queue here for it, so a waiting writer
        # starts the moment the previous one commits instead of sleeping in SQLite's busy handler (whose growing
        # sleeps made claims' p99 a second under a dozen writers). Re-entrant: a unit of work opened inside
        # another on one thread still fails by SQLite's busy timeout, as it did, rather than hanging.
        self._writer = threading.RLock()
        if self._postgres:
            _create_schema_and_tables(self.engine, service, metadata, migrations)
        else:
            with self.engine.begin() as conn:  # BEGIN IMMEDIATE: one process migrates at a time
                migrate(conn, metadata, migrations)

    @contextmanager
    def unit_of_work(self, *, only_with: str = "") -> Iterator[UnitOfWork]:
        """One transaction: commits when the block ends normally, rolls back when it raises.

        `only_with` names a narrower lock for a unit of work whose every change is a conditional update (or under a
        row lock) that stays right beside concurrent ones, e.g. a claim ("claimant:alice"): on PostgreSQL it then
        runs one at a time only with those of the same name, beside the service's other units of work. (On SQLite
        every unit of work has the one writer lock anyway.)"""
        if not self._postgres:
            with self._writer, self.engine.begin() as conn:
                yield UnitOfWork(self, conn)
            return
        with self.engine.begin() as conn:
            if only_with:
                conn.execute(_ADVISORY_XACT_LOCK, {"key": _lock_key(f"unit-of-work:{only_with}", self.service)})
            else:
                # Units of work of one service run one at a time, as on SQLite (BEGIN IMMEDIATE): handlers
                # load, decide, then save without SELECT … FOR UPDATE, and READ COMMITTED alone would let
                # two of them read the same row and lose one's update. SERIALIZABLE would catch that, but
                # only by failing one transaction, and a `with` block cannot be re-run here to retry it.
                # The transaction-scoped advisory lock is released at commit or rollback, also when the
                # process dies (the server ends its session); each statement after it sees every
                # earlier unit of work committed. It also makes outbox `seq` order the commit order.
                conn.execute(_ADVISORY_XACT_LOCK, {"key": _lock_key("unit-of-work", self.service)})
            yield UnitOfWork(self, conn)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction: a consistent snapshot that neither waits for nor blocks writers."""
        with self.engine.connect() as conn:
            conn.execution_options(radlab_read_only=True)
            with conn.begin():
                if self._postgres:
                    # The first statement of the transaction, so it sets the transaction's own mode:
                    # one snapshot for every statement in the block, and writes refused.
                    conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield conn

    def apply_once(
        self, consumer: str, event_id: str, apply: Callable[[UnitOfWork], T], *, record: bool = True
    ) -> T | None:
        """Run `apply` in one unit of work and record `event_id` as processed by `consumer` in it; if it was
        processed already, change nothing and return None. With no `event_id` (work no event asked for) `apply`
        just runs in its unit of work.

        `record=False` is for the first units of work of an event applied in several (a long step between
        them): each runs only while the event is unprocessed, and the last one, with `record=True`, records it.
        """
        with self.unit_of_work() as uow:
            if event_id and uow.already_processed(consumer, event_id):
                return None
            result = apply(uow)
            if event_id and record:
                uow.mark_processed(consumer, event_id)
            return result

    def processed(self, consumer: str, event_id: str) -> bool:
        """Whether `consumer` has applied `event_id` (a read: for work done before the unit of work that applies it)."""
        with self.read() as conn:
            return _processed(self.processed_events, conn, consumer, event_id)

    def ping(self, timeout_s: float) -> None:
        """Return if the database answers within about `timeout_s`, else raise an error saying why (readiness)."""
        if self._postgres:
            # A pooled connection, checked first (pool_pre_ping), or a new one; a server that never answers is
            # bounded by the caller's wait (readiness runs each probe on a thread of its own).
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return
        # A connection of its own, not the pool's: an open handle would still read a file removed since.
        path = Path(self.engine.url.database)
        probe = sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, timeout=timeout_s)
        try:
            probe.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            probe.close()

    def dispose(self) -> None:
        self.engine.dispose()


class UnitOfWork:
    """The connection of one transaction, plus the outbox and idempotence records that ride with it."""

    def __init__(self, db: Database, conn: Connection):
        self.db = db
        self.conn = conn

    def execute(self, statement, parameters=None):
        return self.conn.execute(statement, parameters)

    def emit(self, msg: message.Message, *, subject: str, tenant: str) -> events.EventEnvelope:
        """Record the event `msg` in the outbox; it is published once this transaction commits."""
        envelope = events.envelope_for(
            msg, source=f"radlab.{self.db.service}", subject=subject, tenant=tenant, trace_id=current_trace_id()
        )
        self.conn.execute(
            self.db.outbox.insert().values(
                event_id=envelope.id,
                topic=envelope.type,
                key=envelope.subject,
                headers=json.dumps(events.to_headers(envelope)),
                payload=envelope.payload,
                created_at=time.time(),
            )
        )
        return envelope

    def already_processed(self, consumer: str, event_id: str) -> bool:
        return _processed(self.db.processed_events, self.conn, consumer, event_id)

    def mark_processed(self, consumer: str, event_id: str) -> None:
        self.conn.execute(
            self.db.processed_events.insert().values(consumer=consumer, event_id=event_id, processed_at=time.time())
        )


def idempotent(
    db: Database, consumer: str, apply: Callable[[UnitOfWork, events.Event], None]
) -> Callable[[events.Event], None]:
    """Wrap an event handler so its effects and the 'processed' mark commit together, once per event id."""

    def handle(event: events.Event) -> None:
        db.apply_once(consumer, event.id, lambda uow: apply(uow, event))

    handle.__name__ = getattr(apply, "__name__", "handle")
    return handle


class OutboxRelay:
    """Publishes committed outbox rows to the bus in order, then marks them published.

    A crash between publishing and marking republishes the row: delivery is at-least-once and
    consumers drop the duplicate by event id.
    """

    def __init__(self, db: Database, bus: EventBus, batch: int = 100):
        self.db = db
        self.bus = bus
        self.batch = batch

    def publish_pending(self) -> int:
        """Publish what is waiting now; returns how many rows went out."""
        if not self.db._postgres:
            return self._publish_batch()
        # Several relay processes may serve one service on PostgreSQL. One of them at a time publishes
        # (the others find the lock taken and go back to waiting), so no row goes out twice and rows go
        # out in `seq` order; per-row FOR UPDATE SKIP LOCKED would let a second relay publish later rows
        # before the first relay's earlier ones. The lock belongs to this transaction, which only holds
        # it: it is released when the batch is done, fails, or its process dies.
        with self.db.engine.begin() as turn:
            key = _lock_key("outbox-relay", self.db.service)
            if not turn.execute(_ADVISORY_XACT_TRY_LOCK, {"key": key}).scalar_one():
                # The replica publishing now reports the backlog; summed over replicas it is counted once.
                metrics.OUTBOX_PENDING.labels(self.db.service).set(0)
                return 0
            return self._publish_batch()

    def _publish_batch(self) -> int:
        """Publish up to `batch` rows and report the rows still waiting (`radlab_outbox_pending_records`), also when
        the bus fails midway; only a full batch costs a COUNT (a shorter one is everything waiting)."""
        outbox = self.db.outbox
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(outbox).where(outbox.c.published_at.is_(None)).order_by(outbox.c.seq).limit(self.batch)
            ).all()
            waiting = len(rows) if len(rows) < self.batch else _unpublished(outbox, conn)
        sent = 0
        try:
            for row in rows:
                self.bus.publish(row.topic, row.key, row.payload, json.loads(row.headers))
                with self.db.engine.begin() as conn:
                    conn.execute(outbox.update().where(outbox.c.seq == row.seq).values(published_at=time.time()))
                sent += 1
        finally:
            metrics.OUTBOX_PENDING.labels(self.db.service).set(waiting - sent)
        return sent

    def pending(self) -> int:
        with self.db.read() as conn:
            return _unpublished(self.db.outbox, conn)

    def run(self, stop: threading.Event, idle_s: float = 0.1) -> None:
        """Publish until `stop` is set; a bus error is logged and retried, never dropped."""
        while not stop.is_set():
            try:
                sent = self.publish_pending()
            except Exception:
                log.exception("outbox relay for %s failed; retrying", self.db.service)
                sent = 0
                stop.wait(1.0)
            if not sent:
                stop.wait(idle_s)


def _unpublished(outbox: sa.Table, conn: Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))).scalar_one()


def _processed(table: sa.Table, conn: Connection, consumer: str, event_id: str) -> bool:
    row = conn.execute(sa.select(table.c.event_id).where(table.c.consumer == consumer, table.c.event_id == event_id)).first()
    return row is not None


_ADVISORY_XACT_LOCK = sa.text("SELECT pg_advisory_xact_lock(:key)")
_ADVISORY_XACT_TRY_LOCK = sa.text("SELECT pg_try_advisory_xact_lock(:key)")
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _lock_key(purpose: str, service: str) -> int:
    """A PostgreSQL advisory-lock key (signed 64-bit) for one purpose of one service, the same in every process."""
    digest = hashlib.blake2b(f"radlab:{purpose}:{service}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _engine(url: str, service: str) -> Engine:
    if url.startswith("sqlite:///"):
        folder = Path(url.removeprefix("sqlite:///"))
        if folder.suffix in (".sqlite", ".db"):
            raise ValueError(f"RADLAB_DB={url!r} names a file; name a folder: each service keeps <folder>/<service>.sqlite")
        folder.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(f"sqlite:///{folder / service}.sqlite", connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith(("postgresql://", "postgresql+psycopg://")):
        return _postgres_engine(url, service)
    raise ValueError(
        f"unsupported database URL {url!r}: use sqlite:///folder or postgresql://user[:password]@host:port/database"
    )


def _postgres_engine(url: str, service: str) -> Engine:
    """An engine (psycopg 3) on which every table of the service's metadata is in the schema named `service`."""
    if not _SCHEMA_NAME.fullmatch(service):
        raise ValueError(
            f"service name {service!r} cannot name its PostgreSQL schema: use lower-case letters, digits and _ "
            "(not starting with a digit, at most 63 characters)"
        )
    parsed = sa.make_url(url).set(drivername="postgresql+psycopg")
    if parsed.password is None and os.environ.get("RADLAB_DB_PASSWORD"):
        parsed = parsed.set(password=os.environ["RADLAB_DB_PASSWORD"])
    # search_path (only the service's schema) for SQL written as text; lock_timeout bounds a wait for a
    # lock as SQLite's busy timeout does, so a unit of work opened inside another one of the same
    # service fails after 30 s instead of hanging.
    options = f"-c search_path={service} -c lock_timeout=30s"
    if "options" in parsed.query:
        options = f"{parsed.query['options']} {options}"
        parsed = parsed.difference_update_query(["options"])
    return sa.create_engine(
        parsed,
        # Whatever the server's default: under REPEATABLE READ a unit of work's snapshot would be taken
        # by its lock statement, before the wait, and miss what the previous holder committed.
        isolation_level="READ COMMITTED",
        pool_pre_ping=True,
        connect_args={"options": options},
        # Core statements and DDL name the schema themselves: tables declared without a schema
        # (every service's, and the shared outbox / processed_events) are created and used in it.
        execution_options={"schema_translate_map": {None: service}},
    )


def _create_schema_and_tables(engine: Engine, service: str, metadata: sa.MetaData, migrations: Sequence[Migration]) -> None:
    """Create the service's schema if missing, then migrate its tables, one process at a time."""
    with engine.begin() as conn:
        # Concurrent CREATE SCHEMA/TABLE IF NOT EXISTS can both pass the check and one then fails on
        # the catalog's unique index: replicas starting together take turns instead.
        conn.execute(_ADVISORY_XACT_LOCK, {"key": _lock_key("schema", service)})
        # Looked up first because CREATE SCHEMA IF NOT EXISTS still needs the CREATE privilege on the
        # database, which a role given a ready-made schema may lack.
        exists = conn.execute(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :name"), {"name": service}).first()
        if exists is None:
            conn.execute(sa.schema.CreateSchema(service))
        migrate(conn, metadata, migrations)


def _sqlite_begin(conn: Connection) -> None:
    # A unit of work takes the write lock when it starts: a deferred transaction that reads and then
    # writes fails at once (no busy wait) when another process wrote in between. Reads need no lock.
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("radlab_read_only") else "BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # transactions are begun by the "begin" listener
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
