"""The event bus contract: every adapter (local SQLite log, Kafka) must pass this suite unchanged.

A subclass provides one fixture, `bus_url`: a URL naming a fresh, empty bus (or one whose earlier
contents the tests can ignore: every test uses its own topics and groups).
"""

from __future__ import annotations

import uuid

import pytest

from shared import bus as bus_port
from shared.bus import EventBus


def _poll_all(subscription, expected: int, timeout_s: float = 20.0) -> list:
    records = []
    for _ in range(int(timeout_s / 0.5)):
        records += subscription.poll(0.5, 100)
        if len(records) >= expected:
            break
    return records


class BusContract:
    """Publishing, ordering, consumer groups, commits, redelivery and lag."""

    @pytest.fixture
    def bus_url(self) -> str:
        raise NotImplementedError("an adapter's suite provides bus_url")

    @pytest.fixture
    def bus(self, bus_url) -> EventBus:
        bus = bus_port.connect(bus_url)
        yield bus
        bus.close()

    @pytest.fixture
    def topic(self) -> str:
        return f"radlab.test.v1.Topic{uuid.uuid4().hex[:12]}"

    def test_ping_answers_while_the_bus_does(self, bus):
        """Readiness's probe returns (within its timeout) while the bus serves."""
        bus.ping(2.0)

    def test_records_round_trip_with_key_and_headers(self, bus, topic):
        """A published record comes back with its key, value and headers intact."""
        bus.publish(topic, "study-1", b"\x00\x01payload", {"ce_id": "e1", "ce_type": topic})
        subscription = bus.subscribe(f"g-{uuid.uuid4().hex}", [topic])
        [record] = _poll_all(subscription, 1)
        assert (record.topic, record.key, record.value) == (topic, "study-1", b"\x00\x01payload")
        assert record.headers["ce_id"] == "e1" and record.headers["ce_type"] == topic
        subscription.close()

    def test_order_is_kept_per_key(self, bus, topic):
        """Records with one key arrive in the order they were published, whatever else interleaves."""
        for n in range(30):
            bus.publish(topic, f"key-{n % 3}", str(n).encode())
        subscription = bus.subscribe(f"g-{uuid.uuid4().hex}", [topic])
        records = _poll_all(subscription, 30)
        assert len(records) == 30
        for key in ("key-0", "key-1", "key-2"):
            values = [int(r.value) for r in records if r.key == key]
            assert values == sorted(values) and len(values) == 10
        subscription.close()

    def test_each_group_sees_every_record(self, bus, topic):
        """Two consumer groups each receive the whole topic."""
        for n in range(5):
            bus.publish(topic, "k", bytes([n]))
        first = bus.subscribe(f"a-{uuid.uuid4().hex}", [topic])
        second = bus.subscribe(f"b-{uuid.uuid4().hex}", [topic])
        assert len(_poll_all(first, 5)) == 5
        assert len(_poll_all(second, 5)) == 5
        first.close()
        second.close()

    def test_committed_offsets_survive_and_uncommitted_are_redelivered(self, bus, topic):
        """After a member leaves, the next member of the group starts after the last commit."""
        group = f"g-{uuid.uuid4().hex}"
        for n in range(6):
            bus.publish(topic, "k", bytes([n]))
        member = bus.subscribe(group, [topic])
        records = _poll_all(member, 6)
        member.commit(records[:4])
        member.close()
        successor = bus.subscribe(group, [topic])
        again = _poll_all(successor, 2)
        assert [r.value for r in again] == [bytes([4]), bytes([5])]
        successor.commit(again)
        successor.close()

    def test_lag_counts_uncommitted_records(self, bus, topic):
        """Lag is what the group has not committed yet."""
        group = f"g-{uuid.uuid4().hex}"
        for n in range(5):
            bus.publish(topic, "k", bytes([n]))
        member = bus.subscribe(group, [topic])
        records = _poll_all(member, 5)
        assert member.lag()[topic] == 5
        member.commit(records[:3])
        assert member.lag()[topic] == 2
        member.close()

    def test_poll_waits_then_returns_empty(self, bus, topic):
        """Polling an empty topic returns nothing after about the timeout, without error."""
        member = bus.subscribe(f"g-{uuid.uuid4().hex}", [topic])
        assert member.poll(0.3, 10) == []
        member.close()

    def test_dead_letter_topic_is_named_after_its_topic(self):
        """Dead letters of a topic go to `<topic>.dlq`."""
        assert bus_port.dead_letter_topic("radlab.ingestion.v1.VolumeReady") == "radlab.ingestion.v1.VolumeReady.dlq"
