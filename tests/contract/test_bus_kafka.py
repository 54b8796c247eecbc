"""The bus contract and delivery guarantees on a real Apache Kafka broker, plus Kafka's own partition hand-over."""

from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewPartitions

from shared import bus as bus_port
from shared.bus.kafka import KafkaBus
from shared.stack import free_port
from tests.conftest import REPO
from tests.contract.bus_contract import BusContract
from tests.contract.delivery_contract import DeliveryContract

# Short enough that a SIGKILLed member's partitions move within seconds, long enough (three
# heartbeats) that a busy two-core CI machine does not drop live members.
SESSION_TIMEOUT_MS = 3000


def with_session_timeout(kafka_url: str) -> str:
    """`kafka_url` with this suite's short session timeout."""
    return f"{kafka_url}{'&' if '?' in kafka_url else '?'}session_timeout_ms={SESSION_TIMEOUT_MS}"


class TestKafkaBus(BusContract):
    """BusContract on `kafka://`."""

    @pytest.fixture
    def bus_url(self, kafka_url) -> str:
        return with_session_timeout(kafka_url)


class TestKafkaDelivery(DeliveryContract):
    """DeliveryContract on `kafka://` + `postgresql://`: the pair that runs at scale."""

    @pytest.fixture
    def bus_url(self, kafka_url) -> str:
        return with_session_timeout(kafka_url)

    @pytest.fixture
    def db_url(self, postgres_database_url) -> str:
        return postgres_database_url


def test_a_url_without_a_broker_or_with_an_unknown_option_is_refused():
    """Configuration mistakes in the bus URL say what to write instead."""
    with pytest.raises(ValueError, match="kafka://host:9092"):
        KafkaBus.from_url("kafka://")
    with pytest.raises(ValueError, match="known: session_timeout_ms"):
        KafkaBus.from_url("kafka://127.0.0.1:19092?session_timeout=3")


def test_ping_fails_where_no_broker_listens():
    """The probe connects to a bootstrap server; none listening fails it within its timeout, naming each one tried."""
    port = free_port()
    started = time.monotonic()
    with pytest.raises(ConnectionError, match=f"no Kafka broker answers \\(127.0.0.1:{port}: "):
        KafkaBus.from_url(f"kafka://127.0.0.1:{port}").ping(1.0)
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize(("reply", "said"), [
    (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "accepts a connection but does not answer as a Kafka broker"),
    (b"", "timed out"),
])
def test_ping_fails_where_something_else_listens(reply, said):
    """A server that accepts the connection but is no Kafka broker (an HTTP server's answer, or silence until the
    probe's timeout) fails the probe, saying so; the real broker passes it (the bus contract's ping test)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(64)
            if reply:
                conn.sendall(reply)
            else:
                time.sleep(1.5)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    started = time.monotonic()
    try:
        with pytest.raises(ConnectionError, match=f"127.0.0.1:{port}: {said}"):
            KafkaBus.from_url(f"kafka://127.0.0.1:{port}").ping(1.0)
        assert time.monotonic() - started < 2.0
    finally:
        server.join(timeout=5)
        listener.close()


def test_a_member_that_stops_polling_loses_its_partitions_and_its_commit_fails(kafka_url):
    """A member stuck longer than max_poll_interval_ms is dropped from the group: another member gets its
    records, and the late commit raises CommitFailed instead of moving the new owner's offsets."""
    bus = bus_port.connect(f"{with_session_timeout(kafka_url)}&max_poll_interval_ms=1500")
    topic, group = f"radlab.test.v1.Stuck{uuid.uuid4().hex[:12]}", f"radlab.stuck-{uuid.uuid4().hex[:8]}"
    for n in range(3):
        bus.publish(topic, "study-1", bytes([n]))
    stuck = bus.subscribe(group, [topic])
    records = []
    deadline = time.monotonic() + 20
    while len(records) < 3 and time.monotonic() < deadline:
        records += stuck.poll(0.5, 100)
    successor = bus.subscribe(group, [topic])
    taken = []
    while len(taken) < 3 and time.monotonic() < deadline + 20:
        taken += successor.poll(0.5, 100)
    assert [r.value for r in taken] == [bytes([n]) for n in range(3)]
    with pytest.raises(bus_port.CommitFailed):
        stuck.commit(records)
    successor.commit(taken)
    assert successor.lag() == {topic: 0}
    stuck.close()
    successor.close()
    bus.close()


def test_a_member_polling_without_waiting_takes_the_partitions_added_to_its_topic(kafka_url):
    """Partitions added to a subscribed topic make the group's only member (its leader) rejoin through a metadata
    change alone; polls that return before the rejoin completes must still see it through. kafka-python 3.0.12 alone
    leaves such a member in "rebalancing" with no partitions for good (the hang seen in the chart's process test)."""
    bus = KafkaBus.from_url(with_session_timeout(kafka_url))
    topic, group = f"radlab.test.v1.Grown{uuid.uuid4().hex[:12]}", f"radlab.grown-{uuid.uuid4().hex[:8]}"
    member = bus.subscribe(group, [topic])
    deadline = time.monotonic() + 30
    while not member.partitions() and time.monotonic() < deadline:
        member.poll(0.2, 100)
    before = len(member.partitions())
    assert before >= 1
    bus._admin_client().create_partitions({topic: NewPartitions(total_count=before + 2)})
    deadline = time.monotonic() + 30
    while len(member.partitions()) < before + 2 and time.monotonic() < deadline:
        member.poll(0, 100)
    assert member.partitions() == {(topic, partition) for partition in range(before + 2)}
    member.close()
    bus.close()


def hold_partitions(bus_url: str, group: str, topic: str) -> None:
    """The member the hand-over test kills: reports its partitions until records come, reads until a second
    passes without any, commits the first half (in partition, offset order), reports what it saw and
    committed, then holds its partitions until killed."""
    bus = bus_port.connect(bus_url)
    member = bus.subscribe(group, [topic])
    held: list[int] = []
    records: list = []
    quiet_since = time.monotonic()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        batch = member.poll(0.2, 100)
        now = sorted(partition for _, partition in member.partitions())
        if now != held:
            held = now
            print(json.dumps({"held": held}), flush=True)
        if batch:
            records += batch
            quiet_since = time.monotonic()
        elif records and time.monotonic() - quiet_since > 1.0:
            records.sort(key=lambda r: (r.partition, r.offset))
            half = records[: len(records) // 2]
            member.commit(half)
            seen = [[r.partition, r.offset] for r in records]
            print(json.dumps({"seen": seen, "committed": [[r.partition, r.offset] for r in half]}), flush=True)
            time.sleep(600)  # heartbeats go on in the background: the partitions stay this member's
    sys.exit(1)


def test_a_killed_member_s_partitions_move_to_the_other_member_and_nothing_is_lost(kafka_url):
    """Two members share a 4-partition topic; one is SIGKILLed holding uncommitted records: the other
    takes its partitions within the session timeout, gets exactly the uncommitted records again, and no
    record committed by one member is delivered to the other."""
    bus_url = with_session_timeout(kafka_url)
    topic, group = f"radlab.test.v1.Handover{uuid.uuid4().hex[:12]}", f"radlab.handover-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=KafkaBus.from_url(kafka_url).bootstrap_servers)
    admin.create_topics({topic: {"num_partitions": 4}})
    admin.wait_for_topics([topic])
    admin.close()
    every_partition = [0, 1, 2, 3]

    bus = bus_port.connect(bus_url)
    survivor = bus.subscribe(group, [topic])
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.contract.test_bus_kafka", bus_url, group, topic],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )
    reports: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [reports.put(json.loads(line)) for line in worker.stdout], daemon=True).start()
    try:
        # Both members in the group, each with some of the partitions.
        worker_held: list[int] = []
        deadline = time.monotonic() + 60
        while True:
            assert survivor.poll(0.2, 100) == []
            while not reports.empty():
                worker_held = reports.get()["held"]
            mine = sorted(partition for _, partition in survivor.partitions())
            if mine and worker_held and sorted(mine + worker_held) == every_partition:
                break
            assert time.monotonic() < deadline, f"the group never split the partitions (mine {mine}, worker's {worker_held})"

        published = 40
        for n in range(published):
            bus.publish(topic, f"study-{n}", str(n).encode())

        survivor_seen: list[tuple[int, int]] = []

        def consume() -> None:
            records = survivor.poll(0.2, 100)
            survivor_seen.extend((r.partition, r.offset) for r in records)
            if records:
                survivor.commit(records)

        report: dict = {}
        deadline = time.monotonic() + 60
        while "seen" not in report:
            consume()
            while not reports.empty():
                report = reports.get()
            assert time.monotonic() < deadline, "the worker never got records from its partitions"
        worker_seen = {tuple(pair) for pair in report["seen"]}
        worker_committed = {tuple(pair) for pair in report["committed"]}
        assert worker_committed and worker_committed < worker_seen, "the worker should hold committed and uncommitted records"

        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        killed_at = time.monotonic()
        before_kill = len(survivor_seen)
        while survivor.lag()[topic] or sorted(p for _, p in survivor.partitions()) != every_partition:
            consume()
            assert time.monotonic() - killed_at < 30, "the survivor never took over the killed member's partitions"
        took_over_s = time.monotonic() - killed_at
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        survivor.close()
        bus.close()

    everything = set(survivor_seen) | worker_seen
    assert len(everything) == published, "a record was never delivered"
    assert set(survivor_seen[before_kill:]) == worker_seen - worker_committed, "redelivered should be exactly the uncommitted"
    assert not worker_committed & set(survivor_seen), "a record committed by one member was delivered to the other"
    assert took_over_s < SESSION_TIMEOUT_MS / 1000 + 10


if __name__ == "__main__":
    hold_partitions(*sys.argv[1:4])
