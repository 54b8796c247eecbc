"""The database and delivery contracts on PostgreSQL (one schema per service), and what only that adapter does."""

from __future__ import annotations

import threading
import uuid

import pytest
import sqlalchemy as sa

from radlab.annotation.v1 import events_pb2
from shared import bus as bus_port
from shared import events
from shared.db import Database, OutboxRelay
from tests.contract.db_contract import DatabaseContract, count, counter_value, counters_metadata
from tests.contract.delivery_contract import DeliveryContract, read_topic


@pytest.fixture
def open_database(postgres_database_url):
    """Open `Database(postgres_database_url, service, counters_metadata())`; every engine is disposed after the test."""
    opened: list[Database] = []

    def open_(service: str, url: str = postgres_database_url) -> Database:
        db = Database(url, service, counters_metadata())
        opened.append(db)
        return db

    yield open_
    for db in opened:
        db.dispose()


def tables_by_schema(db: Database) -> dict[str, set[str]]:
    """Every table of the database outside the system schemas, by schema, from information_schema."""
    query = sa.text(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
    )
    found: dict[str, set[str]] = {}
    with db.engine.connect() as conn:
        for schema, table in conn.execute(query):
            found.setdefault(schema, set()).add(table)
    return found


class TestPostgresDatabase(DatabaseContract):
    """DatabaseContract on `postgresql://` (one schema per service)."""

    @pytest.fixture
    def db_url(self, postgres_database_url) -> str:
        return postgres_database_url


class TestPostgresDelivery(DeliveryContract):
    """DeliveryContract on `local://` + `postgresql://`; the crash workers open their own connections."""

    @pytest.fixture
    def bus_url(self, tmp_path) -> str:
        return f"local://{tmp_path}/bus.sqlite?session_timeout_s=0.5"

    @pytest.fixture
    def db_url(self, postgres_database_url) -> str:
        return postgres_database_url


TABLES = {"outbox", "processed_events", "counters", "effects", "schema_migrations"}


def test_each_service_keeps_its_tables_and_sequences_in_its_own_schema(open_database):
    """All of a service's tables, the shared ones included, and their id sequences are in the schema named after it."""
    db = open_database("annotation")
    assert tables_by_schema(db) == {"annotation": TABLES}
    with db.engine.connect() as conn:
        sequences = conn.execute(
            sa.text("SELECT sequence_schema, sequence_name FROM information_schema.sequences")
        ).all()
    assert {tuple(row) for row in sequences} == {("annotation", "outbox_seq_seq"), ("annotation", "effects_seq_seq")}


def test_two_services_tables_of_the_same_name_do_not_collide(open_database):
    """Two services each get their own `counters`, `outbox` and outbox index; the same key goes in both."""
    ingestion, workflow = open_database("ingestion"), open_database("workflow")
    assert tables_by_schema(ingestion) == {"ingestion": TABLES, "workflow": TABLES}
    with ingestion.engine.connect() as conn:
        indexed = conn.execute(
            sa.text("SELECT schemaname FROM pg_indexes WHERE indexname = 'ix_outbox_published_at'")
        ).scalars().all()
    assert sorted(indexed) == ["ingestion", "workflow"]
    for db, value in ((ingestion, 1), (workflow, 2)):
        with db.unit_of_work() as uow:
            uow.execute(db.metadata.tables["counters"].insert().values(name="scans", value=value))
    with ingestion.unit_of_work() as uow:
        uow.emit(events_pb2.DatasetCreated(dataset_id="ds-1"), subject="ds-1", tenant="t1")
    assert (counter_value(ingestion, "scans"), counter_value(workflow, "scans")) == (1, 2)
    assert (count(ingestion, "outbox"), count(workflow, "outbox")) == (1, 0)


def test_sql_written_as_text_reads_the_services_own_schema(open_database):
    """A statement written as text, with no schema in it, names the service's own tables."""
    first, second = open_database("first"), open_database("second")
    with first.unit_of_work() as uow:
        uow.execute(sa.text("INSERT INTO counters (name, value) VALUES ('hits', 5)"))
    with first.read() as conn:
        assert conn.execute(sa.text("SELECT value FROM counters WHERE name = 'hits'")).scalar_one() == 5
    with second.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM counters")).scalar_one() == 0


def test_read_is_one_snapshot_that_refuses_writes_and_does_not_wait(open_database):
    """`read()` neither waits for an open unit of work nor sees what commits during it, and cannot write."""
    db = open_database("reader")
    counters = db.metadata.tables["counters"]
    hits = sa.select(counters.c.value).where(counters.c.name == "hits")
    with db.unit_of_work() as uow:
        uow.execute(counters.insert().values(name="hits", value=1))
    with db.read() as conn:
        assert conn.execute(hits).scalar_one() == 1
        with db.unit_of_work() as uow:
            uow.execute(counters.update().values(value=2))
            with db.read() as during:  # the unit of work holds its lock and a row lock: no wait
                assert during.execute(hits).scalar_one() == 1
        assert conn.execute(hits).scalar_one() == 1, "a read saw a commit made after it began"
    with db.read() as conn:
        assert conn.execute(hits).scalar_one() == 2
        with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"):
            conn.execute(counters.update().values(value=3))
    assert counter_value(db, "hits") == 2


def test_units_of_work_of_different_services_do_not_wait_for_each_other(open_database):
    """Units of work are serialized per service: one open in service A does not hold up service B."""
    first, second = open_database("alpha"), open_database("beta")
    with first.unit_of_work() as outer:
        outer.execute(first.metadata.tables["counters"].insert().values(name="a", value=1))
        with second.unit_of_work() as inner:
            inner.execute(second.metadata.tables["counters"].insert().values(name="b", value=1))
    assert (counter_value(first, "a"), counter_value(second, "b")) == (1, 1)


def test_replicas_opening_a_new_service_at_once_all_start(open_database):
    """Eight engines creating the same new schema and tables at the same moment all succeed."""
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def open_replica() -> None:
        try:
            start.wait()
            open_database("replicated")
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=open_replica) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert tables_by_schema(open_database("replicated")) == {"replicated": TABLES}


def test_several_relays_publish_each_outbox_event_once_and_in_order(open_database, tmp_path):
    """Three relays, each with its own engine as a process has, put every event on the bus once, in commit order."""
    tenant = f"t-{uuid.uuid4().hex}"
    writer = open_database("relayed")
    subjects = [f"ds-{n}" for n in range(60)]
    for subject in subjects:
        with writer.unit_of_work() as uow:
            uow.emit(events_pb2.DatasetShared(dataset_id=subject), subject=subject, tenant=tenant)
    bus = bus_port.connect(f"local://{tmp_path}/bus.sqlite")
    relays = [OutboxRelay(open_database("relayed"), bus, batch=5) for _ in range(3)]
    errors: list[BaseException] = []
    sent = [0, 0, 0]
    start = threading.Barrier(3)

    def drain(index: int) -> None:
        try:
            start.wait()
            while relays[index].pending():
                sent[index] += relays[index].publish_pending()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=drain, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(sent) == 60 and relays[0].pending() == 0
    found = read_topic(bus, events.event_type(events_pb2.DatasetShared), tenant, expected=60)
    bus.close()
    assert [envelope.subject for envelope, _ in found] == subjects


def test_the_password_comes_from_the_url_or_else_radlab_db_password(open_database, postgres_database_url, monkeypatch):
    """`postgresql+psycopg://` works too; a URL's own password wins over RADLAB_DB_PASSWORD."""
    monkeypatch.setenv("RADLAB_DB_PASSWORD", "from-env")
    plain = open_database("secret", postgres_database_url)
    assert plain.engine.url.password == "from-env"
    with_password = sa.make_url(postgres_database_url).set(drivername="postgresql+psycopg", password="from-url")
    explicit = open_database("secret", with_password.render_as_string(hide_password=False))
    assert explicit.engine.url.password == "from-url"
    with explicit.unit_of_work() as uow:  # the test cluster trusts loopback, so either password connects
        uow.execute(explicit.metadata.tables["counters"].insert().values(name="n", value=1))


def test_a_service_name_that_cannot_name_a_schema_is_refused(postgres_database_url):
    """A service name PostgreSQL would need quoted is refused with what a name may hold."""
    with pytest.raises(ValueError, match="cannot name its PostgreSQL schema: use lower-case letters, digits and _"):
        Database(postgres_database_url, "Annotation-Service", counters_metadata())
