"""Delivery guarantees over a bus and a database: exactly-once effects under SIGKILL, outbox, retries,
dead letters. Every adapter pair (local + sqlite, Kafka + PostgreSQL) must pass it unchanged.

A subclass provides `bus_url` and `db_url` fixtures.
"""

from __future__ import annotations

import collections
import random
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa

from radlab.annotation.v1 import events_pb2
from shared import bus as bus_port
from shared import events
from shared.consumer import EventConsumer
from shared.db import Database, OutboxRelay
from tests.conftest import REPO
from tests.contract import crash_worker

CREATED = events.event_type(events_pb2.DatasetCreated)
SHARED = events.event_type(events_pb2.DatasetShared)


def publish_created(bus, tenant: str, count: int) -> list[str]:
    """Publish `count` DatasetCreated events of `tenant`; returns their event ids."""
    ids = []
    for n in range(count):
        envelope = events.envelope_for(
            events_pb2.DatasetCreated(dataset_id=f"ds-{n}", name=f"dataset {n}"),
            source="radlab.test", subject=f"ds-{n}", tenant=tenant,
        )
        bus.publish(envelope.type, envelope.subject, envelope.payload, events.to_headers(envelope))
        ids.append(envelope.id)
    return ids


def read_topic(bus, topic: str, tenant: str, expected: int, timeout_s: float = 30.0) -> list[tuple]:
    """(envelope, record) of every event of `tenant` on `topic`, read by a fresh group, until `expected` arrived."""
    subscription = bus.subscribe(f"reader-{uuid.uuid4().hex}", [topic])
    found: list[tuple] = []
    for _ in range(int(timeout_s / 0.5)):
        for record in subscription.poll(0.5, 500):
            envelope = events.from_record(record)
            if envelope.tenant == tenant:
                found.append((envelope, record))
        if len(found) >= expected:
            break
    subscription.close()
    return found


class DeliveryContract:
    """At-least-once delivery with idempotent handlers gives every event's effect exactly once."""

    @pytest.fixture
    def bus_url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def db_url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def bus(self, bus_url):
        bus = bus_port.connect(bus_url)
        yield bus
        bus.close()

    def run_worker(self, bus_url: str, db_url: str, group: str, tenant: str, mode: str, n: int) -> int:
        command = [sys.executable, "-m", "tests.contract.crash_worker", bus_url, db_url, group, tenant, mode, str(n)]
        return subprocess.run(command, cwd=REPO, timeout=180).returncode

    def test_sigkill_at_injected_points_leaves_every_effect_exactly_once(self, bus, bus_url, db_url):
        """20 SIGKILLs (after the handler's commit, before the offset commit; mid-batch) and restarts:
        each event applied once, and each outbox event written before a crash published after it."""
        tenant, group = f"t-{uuid.uuid4().hex}", f"radlab.deliverytest-{uuid.uuid4().hex[:8]}"
        published = publish_created(bus, tenant, 150)
        rng = random.Random(7)
        kills = 0
        for _ in range(20):
            mode = rng.choice(["after-commit", "mid-batch"])
            code = self.run_worker(bus_url, db_url, group, tenant, mode, rng.randint(1, 5))
            assert code in (0, -9), f"worker failed with exit code {code}"
            kills += code == -9
        assert kills == 20, "every run should have been killed: there were events left each time"
        assert self.run_worker(bus_url, db_url, group, tenant, "drain", 0) == 0

        db = Database(db_url, crash_worker.SERVICE, crash_worker.metadata())
        with db.engine.connect() as conn:
            effects = conn.execute(sa.select(db.metadata.tables["effects"].c.event_id)).scalars().all()
        db.dispose()
        counts = collections.Counter(effects)
        assert set(counts) == set(published)
        assert max(counts.values()) == 1, "an event's effect was applied twice"

        follow_ups = read_topic(bus, SHARED, tenant, expected=150)
        distinct = {envelope.id for envelope, _ in follow_ups}
        assert len(distinct) == 150, "an outbox event was lost across a crash"

    def _consumer(self, bus, db_url, handler, attempts=3):
        group = f"radlab.test-{uuid.uuid4().hex[:8]}"
        return EventConsumer(bus, group, {CREATED: handler}, max_attempts=attempts, backoff_s=0.01, poll_timeout_s=0.5), group

    def test_a_poison_message_is_dead_lettered_and_the_consumer_goes_on(self, bus, db_url):
        """A payload that cannot be decoded, and one whose handler always fails, both land in the DLQ
        with their error; the good events around them are applied."""
        tenant = f"t-{uuid.uuid4().hex}"
        bad = events.envelope_for(events_pb2.DatasetCreated(dataset_id="x"), source="radlab.test", subject="x", tenant=tenant)
        headers = events.to_headers(bad)
        bus.publish(CREATED, "x", b"\xff\xff\xff not protobuf", headers)
        publish_created(bus, tenant, 3)
        applied = []

        def handler(event):
            if event.envelope.tenant != tenant:
                return
            if event.message.dataset_id == "ds-1":
                raise RuntimeError("cannot apply ds-1")
            applied.append(event.message.dataset_id)

        consumer, group = self._consumer(bus, db_url, handler)
        for _ in range(40):
            consumer.run_once()
            if not any(consumer.subscription.lag().values()):
                break
        consumer.subscription.close()
        assert sorted(applied) == ["ds-0", "ds-2"]  # ordered per key only: the shared topic may have several partitions
        dead = read_topic(bus, bus_port.dead_letter_topic(CREATED), tenant, expected=2)
        errors = {envelope.subject: record.headers for envelope, record in dead}
        assert set(errors) == {"x", "ds-1"}
        assert "not a valid" in errors["x"]["radlab_error"]
        assert "cannot apply ds-1" in errors["ds-1"]["radlab_error"] and errors["ds-1"]["radlab_attempts"] == "3"
        assert errors["ds-1"]["radlab_consumer"] == group

    def test_a_failing_handler_is_retried_with_backoff_until_it_succeeds(self, bus, db_url):
        """Two failures then success: applied once, nothing dead-lettered."""
        tenant = f"t-{uuid.uuid4().hex}"
        publish_created(bus, tenant, 1)
        calls = []

        def flaky(event):
            if event.envelope.tenant != tenant:
                return
            calls.append(event.id)
            if len(calls) < 3:
                raise ConnectionError("store briefly unavailable")

        consumer, _ = self._consumer(bus, db_url, flaky, attempts=5)
        for _ in range(20):
            consumer.run_once()
            if calls and not any(consumer.subscription.lag().values()):
                break
        consumer.subscription.close()
        assert len(calls) == 3 and len(set(calls)) == 1
        assert read_topic(bus, bus_port.dead_letter_topic(CREATED), tenant, expected=1, timeout_s=1.5) == []

    def test_an_outbox_event_is_published_only_after_its_transaction_commits(self, bus, db_url):
        """A rolled-back unit of work leaves nothing to publish; a committed one is relayed once."""
        tenant = f"t-{uuid.uuid4().hex}"
        db = Database(db_url, crash_worker.SERVICE, crash_worker.metadata())
        relay = OutboxRelay(db, bus)
        relay.publish_pending()  # anything an earlier test left
        with pytest.raises(RuntimeError):
            with db.unit_of_work() as uow:
                uow.emit(events_pb2.DatasetShared(dataset_id="rolled-back"), subject="rolled-back", tenant=tenant)
                raise RuntimeError("abort the transaction")
        with db.unit_of_work() as uow:
            uow.emit(events_pb2.DatasetShared(dataset_id="kept"), subject="kept", tenant=tenant)
        assert relay.pending() == 1
        assert relay.publish_pending() == 1 and relay.publish_pending() == 0
        db.dispose()
        found = read_topic(bus, SHARED, tenant, expected=1)
        assert [envelope.subject for envelope, _ in found] == ["kept"]
