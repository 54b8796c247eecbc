"""The database port: one database (SQLite file) or schema (PostgreSQL) per service, chosen by URL.

Every service's metadata carries two shared tables: `outbox` (events written in the same transaction
as the change that implies them, published later by `OutboxRelay`) and `processed_events` (the ids of
events a consumer has applied, recorded with the effects so a redelivered event is applied once).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from google.protobuf import message
from sqlalchemy.engine import Connection, Engine

from shared import events
from shared.bus import EventBus
from shared.logs import current_trace_id

log = logging.getLogger(__name__)


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
    """A service's own tables on the database `url` names; `unit_of_work()` is its only way in."""

    def __init__(self, url: str, service: str, metadata: sa.MetaData):
        self.service = service
        self.metadata = metadata
        self.engine = _engine(url, service)
        self.outbox = metadata.tables["outbox"]
        self.processed = metadata.tables["processed_events"]
        metadata.create_all(self.engine)

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """One transaction: commits when the block ends normally, rolls back when it raises."""
        with self.engine.begin() as conn:
            yield UnitOfWork(self, conn)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction: a consistent snapshot that neither waits for nor blocks writers."""
        with self.engine.connect() as conn:
            conn.execution_options(radlab_read_only=True)
            with conn.begin():
                yield conn

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
        processed = self.db.processed
        row = self.conn.execute(
            sa.select(processed.c.event_id).where(processed.c.consumer == consumer, processed.c.event_id == event_id)
        ).first()
        return row is not None

    def mark_processed(self, consumer: str, event_id: str) -> None:
        self.conn.execute(
            self.db.processed.insert().values(consumer=consumer, event_id=event_id, processed_at=time.time())
        )


def idempotent(
    db: Database, consumer: str, apply: Callable[[UnitOfWork, events.Event], None]
) -> Callable[[events.Event], None]:
    """Wrap an event handler so its effects and the 'processed' mark commit together, once per event id."""

    def handle(event: events.Event) -> None:
        with db.unit_of_work() as uow:
            if uow.already_processed(consumer, event.id):
                return
            apply(uow, event)
            uow.mark_processed(consumer, event.id)

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
        outbox = self.db.outbox
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(outbox).where(outbox.c.published_at.is_(None)).order_by(outbox.c.seq).limit(self.batch)
            ).all()
        for row in rows:
            self.bus.publish(row.topic, row.key, row.payload, json.loads(row.headers))
            with self.db.engine.begin() as conn:
                conn.execute(outbox.update().where(outbox.c.seq == row.seq).values(published_at=time.time()))
        return len(rows)

    def pending(self) -> int:
        outbox = self.db.outbox
        with self.db.read() as conn:
            return conn.execute(
                sa.select(sa.func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            ).scalar_one()

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
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///folder (or postgresql://…)")


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
