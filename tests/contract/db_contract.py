"""The database port contract: every adapter (SQLite folder, PostgreSQL) must pass this suite unchanged.

A subclass provides one fixture, `db_url`: a URL naming a database the tests may write to. Every test
uses its own service name (`t_<hex>`), so its file (SQLite) or schema (PostgreSQL) never collides with
another test's, and disposes every engine it opened.
"""

from __future__ import annotations

import threading
import uuid

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from radlab.annotation.v1 import events_pb2
from shared import bus as bus_port
from shared import events
from shared.db import Database, OutboxRelay, UnitOfWork, idempotent, service_metadata


def counters_metadata() -> sa.MetaData:
    """A service's metadata (outbox, processed events) plus `counters(name, value)` and `effects(consumer, event_id)`."""
    metadata = service_metadata()
    sa.Table(
        "counters",
        metadata,
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("value", sa.Integer, nullable=False),
    )
    sa.Table(
        "effects",
        metadata,
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
    )
    return metadata


def count(db: Database, table: str) -> int:
    """Rows in `table`, read outside any unit of work (what another process would see)."""
    with db.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(db.metadata.tables[table])).scalar_one()


def counter_value(db: Database, name: str) -> int | None:
    counters = db.metadata.tables["counters"]
    with db.engine.connect() as conn:
        return conn.execute(sa.select(counters.c.value).where(counters.c.name == name)).scalar_one_or_none()


def outbox_pending(service: str) -> float | None:
    """What `radlab_outbox_pending_records` says of `service` now."""
    return REGISTRY.get_sample_value("radlab_outbox_pending_records", {"service": service})


class UnreachableBus(bus_port.EventBus):
    """A bus whose broker cannot be reached: every publish fails."""

    def publish(self, topic, key, value, headers=None) -> None:
        raise ConnectionError("no broker answers")

    def subscribe(self, group, topics):
        raise ConnectionError("no broker answers")

    def ping(self, timeout_s: float) -> None:
        raise ConnectionError("no broker answers")


def dataset_created(tenant: str = "t1") -> events.Event:
    """A decoded DatasetCreated event with a fresh id, as a consumer would be handed it."""
    msg = events_pb2.DatasetCreated(dataset_id="ds-1", name="chest CT", creator="alice")
    return events.Event(events.envelope_for(msg, source="radlab.annotation", subject="ds-1", tenant=tenant), msg)


class DatabaseContract:
    """Units of work, the outbox, idempotent consumers and per-service isolation on one database URL."""

    @pytest.fixture
    def db_url(self) -> str:
        raise NotImplementedError("an adapter's suite provides db_url")

    @pytest.fixture
    def open_database(self, db_url):
        """Open `Database(db_url, service, counters_metadata())`; every engine opened is disposed after the test."""
        opened: list[Database] = []

        def open_(service: str) -> Database:
            db = Database(db_url, service, counters_metadata())
            opened.append(db)
            return db

        yield open_
        for db in opened:
            db.dispose()

    @pytest.fixture
    def service(self) -> str:
        return f"t_{uuid.uuid4().hex[:12]}"

    @pytest.fixture
    def db(self, open_database, service) -> Database:
        return open_database(service)

    @pytest.fixture
    def relay_bus(self, tmp_path):
        """The bus the outbox relay publishes to; the embedded log will do for every database adapter."""
        bus = bus_port.connect(f"local://{tmp_path}/relay-bus.sqlite")
        yield bus
        bus.close()

    def test_a_unit_of_work_commits_when_its_block_ends(self, db, open_database, service):
        """Rows and outbox events written in a block that ends normally are there for a fresh engine."""
        counters = db.metadata.tables["counters"]
        with db.unit_of_work() as uow:
            uow.execute(counters.insert().values(name="scans", value=7))
            uow.emit(events_pb2.DatasetCreated(dataset_id="ds-1"), subject="ds-1", tenant="t1")
        reopened = open_database(service)
        assert counter_value(reopened, "scans") == 7
        assert count(reopened, "outbox") == 1

    def test_a_unit_of_work_rolls_back_rows_and_outbox_when_its_block_raises(self, db):
        """An exception in the block undoes its table rows and its outbox rows, and propagates."""
        counters = db.metadata.tables["counters"]
        with pytest.raises(RuntimeError, match="handler failed"):
            with db.unit_of_work() as uow:
                uow.execute(counters.insert().values(name="scans", value=1))
                uow.emit(events_pb2.DatasetCreated(dataset_id="ds-1"), subject="ds-1", tenant="t1")
                raise RuntimeError("handler failed")
        assert count(db, "counters") == 0
        assert count(db, "outbox") == 0

    def test_an_outbox_event_of_a_rolled_back_unit_of_work_is_never_relayed(self, db, relay_bus):
        """The relay sees nothing from a rolled-back unit of work, and exactly the event of a committed one."""
        relay = OutboxRelay(db, relay_bus)
        with pytest.raises(RuntimeError):
            with db.unit_of_work() as uow:
                uow.emit(events_pb2.DatasetCreated(dataset_id="rolled-back"), subject="rolled-back", tenant="t1")
                raise RuntimeError("abort")
        assert relay.pending() == 0
        assert relay.publish_pending() == 0
        with db.unit_of_work() as uow:
            uow.emit(events_pb2.DatasetCreated(dataset_id="kept"), subject="kept", tenant="t1")
        assert relay.pending() == 1
        assert relay.publish_pending() == 1 and relay.pending() == 0

    def test_the_relay_reports_the_events_waiting_in_its_outbox(self, db, relay_bus):
        """`radlab_outbox_pending_records{service}` counts what the relay found unpublished: it rises while the bus
        refuses every publish (the rows stay), falls to 0 once they go out, and counts beyond one batch."""
        for index in range(3):
            with db.unit_of_work() as uow:
                uow.emit(events_pb2.DatasetCreated(dataset_id=f"ds-{index}"), subject=f"ds-{index}", tenant="t1")
        with pytest.raises(ConnectionError):
            OutboxRelay(db, UnreachableBus()).publish_pending()
        assert outbox_pending(db.service) == 3
        with db.unit_of_work() as uow:
            uow.emit(events_pb2.DatasetCreated(dataset_id="ds-3"), subject="ds-3", tenant="t1")
        with pytest.raises(ConnectionError):
            OutboxRelay(db, UnreachableBus(), batch=2).publish_pending()
        assert outbox_pending(db.service) == 4
        relay = OutboxRelay(db, relay_bus, batch=3)
        assert relay.publish_pending() == 3 and outbox_pending(db.service) == 1
        assert relay.publish_pending() == 1 and outbox_pending(db.service) == 0

    def test_ping_answers_while_the_database_does(self, db):
        """Readiness's probe returns (within its timeout) while the database serves."""
        db.ping(2.0)

    def test_idempotent_applies_an_event_once_per_consumer(self, db):
        """The same event handed twice is applied once; a second consumer applies it once too."""
        effects = db.metadata.tables["effects"]

        def record_effect(consumer: str):
            def apply(uow: UnitOfWork, event: events.Event) -> None:
                uow.execute(effects.insert().values(consumer=consumer, event_id=event.id))

            return apply

        annotation = idempotent(db, "radlab.annotation", record_effect("radlab.annotation"))
        workflow = idempotent(db, "radlab.workflow", record_effect("radlab.workflow"))
        event = dataset_created()
        annotation(event)
        annotation(event)
        workflow(event)
        workflow(event)
        with db.engine.connect() as conn:
            rows = conn.execute(sa.select(effects.c.consumer, effects.c.event_id).order_by(effects.c.consumer)).all()
        assert [tuple(row) for row in rows] == [("radlab.annotation", event.id), ("radlab.workflow", event.id)]
        other = dataset_created()
        annotation(other)
        assert count(db, "effects") == 3, "a different event id was taken for a duplicate"

    def test_a_failed_apply_leaves_no_mark_so_the_redelivery_applies_it(self, db):
        """Effects and the 'processed' mark commit together: a handler that raises leaves neither behind."""
        effects = db.metadata.tables["effects"]
        attempts = []

        def apply(uow: UnitOfWork, event: events.Event) -> None:
            attempts.append(event.id)
            uow.execute(effects.insert().values(consumer="radlab.workflow", event_id=event.id))
            if len(attempts) == 1:
                raise ConnectionError("store briefly unavailable")

        handle = idempotent(db, "radlab.workflow", apply)
        event = dataset_created()
        with pytest.raises(ConnectionError):
            handle(event)
        assert count(db, "effects") == 0 and count(db, "processed_events") == 0
        handle(event)
        handle(event)
        assert len(attempts) == 2
        assert count(db, "effects") == 1 and count(db, "processed_events") == 1

    def test_apply_once_returns_what_it_applied_and_none_once_the_event_is_processed(self, db):
        """The first delivery's effects and result; a redelivery changes nothing. With no event id it always applies."""
        effects = db.metadata.tables["effects"]

        def apply(uow: UnitOfWork) -> int:
            return uow.execute(effects.insert().values(consumer="radlab.workflow", event_id="e-1")).inserted_primary_key[0]

        assert db.apply_once("radlab.workflow", "e-1", apply) == 1
        assert db.apply_once("radlab.workflow", "e-1", apply) is None
        assert db.processed("radlab.workflow", "e-1") and not db.processed("radlab.annotation", "e-1")
        assert [db.apply_once("", "", apply) for _ in range(2)] == [2, 3]
        assert count(db, "effects") == 3 and count(db, "processed_events") == 1

    def test_an_event_applied_in_several_units_of_work_is_recorded_by_the_last(self, db):
        """`record=False` applies while the event is unprocessed and leaves it so; once a later unit of work records
        it, a redelivery's first step finds it processed and applies nothing."""
        effects = db.metadata.tables["effects"]

        def step(uow: UnitOfWork) -> str:
            uow.execute(effects.insert().values(consumer="radlab.interpolation", event_id="e-1"))
            return "queued"

        assert db.apply_once("radlab.interpolation", "e-1", step, record=False) == "queued"
        assert db.apply_once("radlab.interpolation", "e-1", step, record=False) == "queued"  # a redelivery, before the end
        assert not db.processed("radlab.interpolation", "e-1")
        assert db.apply_once("radlab.interpolation", "e-1", lambda uow: "done") == "done"
        assert db.apply_once("radlab.interpolation", "e-1", step, record=False) is None
        assert count(db, "effects") == 2 and count(db, "processed_events") == 1

    def test_two_services_on_one_url_have_separate_tables(self, open_database, service):
        """A row in service A's `counters` is not in service B's `counters`, and the other way round."""
        first, second = open_database(f"{service}_a"), open_database(f"{service}_b")
        with first.unit_of_work() as uow:
            uow.execute(first.metadata.tables["counters"].insert().values(name="only-in-a", value=1))
        assert count(second, "counters") == 0
        with second.unit_of_work() as uow:
            uow.execute(second.metadata.tables["counters"].insert().values(name="only-in-b", value=2))
        assert (counter_value(first, "only-in-a"), counter_value(first, "only-in-b")) == (1, None)
        assert (counter_value(second, "only-in-b"), counter_value(second, "only-in-a")) == (2, None)

    def test_concurrent_read_modify_write_units_of_work_lose_no_update(self, db):
        """4 threads × 25 units of work, each reading a counter then writing it plus one, end at exactly 100.

        Handlers load, decide, then save (no SELECT … FOR UPDATE), so the adapter itself must serialize
        such units of work, without 'database is locked' or serialization errors reaching the caller.
        """
        counters = db.metadata.tables["counters"]
        with db.unit_of_work() as uow:
            uow.execute(counters.insert().values(name="hits", value=0))
        errors: list[BaseException] = []
        start = threading.Barrier(4)

        def increment_25_times() -> None:
            try:
                start.wait()
                for _ in range(25):
                    with db.unit_of_work() as uow:
                        value = uow.execute(sa.select(counters.c.value).where(counters.c.name == "hits")).scalar_one()
                        uow.execute(counters.update().where(counters.c.name == "hits").values(value=value + 1))
            except BaseException as error:  # reported below with the count
                errors.append(error)

        threads = [threading.Thread(target=increment_25_times) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads), "a unit of work hung"
        assert errors == []
        assert counter_value(db, "hits") == 100

    def test_a_new_database_is_created_whole_and_stamped_without_running_steps(self, db_url):
        """On an empty database every table comes from the metadata and every step is recorded, none run."""
        service = f"t_{uuid.uuid4().hex[:10]}"

        def must_not_run(_operations):
            raise AssertionError("a step ran on a fresh database")

        db = Database(db_url, service, _noted_metadata(), [("0001_note", "counters", must_not_run)])
        try:
            with db.unit_of_work() as uow:
                uow.execute(db.metadata.tables["counters"].insert().values(name="a", value=1, note="fresh"))
            assert _recorded_steps(db) == ["0001_note"]
        finally:
            db.dispose()

    def test_an_older_database_runs_each_new_step_once_and_keeps_its_rows(self, db_url):
        """A database made before a step runs it on the next start, keeps its data, and never runs it again."""
        service = f"t_{uuid.uuid4().hex[:10]}"
        old = Database(db_url, service, counters_metadata())
        with old.unit_of_work() as uow:
            uow.execute(old.metadata.tables["counters"].insert().values(name="kept", value=7))
        old.dispose()
        runs = []

        def add_note(operations):
            runs.append(1)
            operations.add_column("counters", sa.Column("note", sa.String(50), nullable=True))

        for _ in range(2):
            db = Database(db_url, service, _noted_metadata(), [("0001_note", "counters", add_note)])
            counters = db.metadata.tables["counters"]
            with db.unit_of_work() as uow:
                uow.execute(counters.update().where(counters.c.name == "kept").values(note="migrated"))
                assert uow.execute(sa.select(counters.c.value, counters.c.note)).all() == [(7, "migrated")]
            assert _recorded_steps(db) == ["0001_note"]
            db.dispose()
        assert len(runs) == 1

    def test_a_step_on_a_table_the_database_does_not_have_yet_is_recorded_not_run(self, db_url):
        """A database older than the table a step alters: the table is created as the metadata has it now (the step's
        change included), the step is recorded without running, and the older tables keep their rows."""
        service = f"t_{uuid.uuid4().hex[:10]}"
        old = Database(db_url, service, counters_metadata())
        with old.unit_of_work() as uow:
            uow.execute(old.metadata.tables["counters"].insert().values(name="kept", value=7))
        old.dispose()

        def must_not_run(_operations):
            raise AssertionError("a step ran on a table the database did not have")

        metadata = counters_metadata()
        sa.Table("claims", metadata, sa.Column("job", sa.String(36), primary_key=True), sa.Column("owner", sa.String(36)))
        db = Database(db_url, service, metadata, [("0001_claim_owner", "claims", must_not_run)])
        try:
            with db.unit_of_work() as uow:
                uow.execute(metadata.tables["claims"].insert().values(job="j", owner="me"))
            assert counter_value(db, "kept") == 7 and _recorded_steps(db) == ["0001_claim_owner"]
        finally:
            db.dispose()

    def test_replicas_starting_together_migrate_once(self, db_url):
        """Four processes' worth of starts at the same moment: the pending step runs exactly once."""
        service = f"t_{uuid.uuid4().hex[:10]}"
        Database(db_url, service, counters_metadata()).dispose()
        runs, errors, guard = [], [], threading.Lock()

        def add_note(operations):
            with guard:
                runs.append(1)
            operations.add_column("counters", sa.Column("note", sa.String(50), nullable=True))

        def start():
            try:
                Database(db_url, service, _noted_metadata(), [("0001_note", "counters", add_note)]).dispose()
            except Exception as error:  # collected: the assertion below names it
                errors.append(error)

        threads = [threading.Thread(target=start) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [] and len(runs) == 1


def _noted_metadata() -> sa.MetaData:
    """counters_metadata() one release later: `counters` gained a nullable `note` column."""
    metadata = counters_metadata()
    metadata.tables["counters"].append_column(sa.Column("note", sa.String(50), nullable=True))
    return metadata


def _recorded_steps(db: Database) -> list[str]:
    with db.read() as conn:
        return list(conn.execute(sa.text("SELECT name FROM schema_migrations ORDER BY name")).scalars())
