"""The Kafka bus (`kafka://host:port[,host2:port2][?session_timeout_ms=…]`), on kafka-python.

Records are keyed by subject (one key, one partition, one order) and published with acks=all by an
idempotent producer, waiting for the ack. A subscription is one member of a Kafka consumer group:
auto-commit is off and `commit` stores exactly the offsets after the records it is given, so a
member that dies redelivers what it had not committed to whoever takes its partitions, within the
session timeout. Topics are created on first use (publish or subscribe) with the cluster's default
partition count and replication factor, so a group may subscribe before anything is published.
"""

from __future__ import annotations

import socket
import struct
import threading
import weakref
from collections.abc import Iterable, Sequence
from urllib.parse import parse_qs, urlparse

import kafka.errors
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from shared.bus.port import CommitFailed, EventBus, Record, Subscription

# Kafka's own defaults; tests pass shorter ones in the URL so a killed member's partitions move fast.
_DEFAULT_SESSION_TIMEOUT_MS = 45_000
_DEFAULT_MAX_POLL_INTERVAL_MS = 300_000
_OPTIONS = ("session_timeout_ms", "heartbeat_interval_ms", "max_poll_interval_ms", "client_id")
_PUBLISH_TIMEOUT_S = 60.0
# The readiness probe's request: ApiVersions (key 18) v0, which every broker answers (an UNSUPPORTED_VERSION error
# still comes in v0's form); its header's correlation id comes back first in the answer.
_PROBE_CORRELATION_ID = 0x52414442
_PROBE_CLIENT_ID = b"radlab-probe"
_PROBE_HEADER = struct.pack(">hhih", 18, 0, _PROBE_CORRELATION_ID, len(_PROBE_CLIENT_ID)) + _PROBE_CLIENT_ID
_PROBE_REQUEST = struct.pack(">i", len(_PROBE_HEADER)) + _PROBE_HEADER

# The errors kafka-python raises when a commit comes from a member the group no longer counts on.
_LOST_MEMBERSHIP = (
    kafka.errors.CommitFailedError,
    kafka.errors.RebalanceInProgressError,
    kafka.errors.IllegalGenerationError,
    kafka.errors.UnknownMemberIdError,
    kafka.errors.FencedInstanceIdError,
)


class KafkaBus(EventBus):
    """A producer and an admin client shared by threads (both are thread-safe), opened on first use."""

    def __init__(
        self,
        bootstrap_servers: list[str],
        *,
        session_timeout_ms: int = _DEFAULT_SESSION_TIMEOUT_MS,
        heartbeat_interval_ms: int | None = None,
        max_poll_interval_ms: int = _DEFAULT_MAX_POLL_INTERVAL_MS,
        client_id: str = "radlab",
    ):
        self.bootstrap_servers = bootstrap_servers
        self.session_timeout_ms = session_timeout_ms
        # A third of the session timeout (Kafka's advice), at most Kafka's default of 3 s.
        self.heartbeat_interval_ms = heartbeat_interval_ms or min(3000, max(100, session_timeout_ms // 3))
        self.max_poll_interval_ms = max_poll_interval_ms
        self.client_id = client_id
        self._lock = threading.Lock()
        self._producer: KafkaProducer | None = None
        self._admin: KafkaAdminClient | None = None
        self._known_topics: set[str] = set()
        self._subscriptions: weakref.WeakSet[_KafkaSubscription] = weakref.WeakSet()

    @classmethod
    def from_url(cls, url: str) -> KafkaBus:
        """`kafka://host:port[,host2:port2][?session_timeout_ms=…&heartbeat_interval_ms=…&max_poll_interval_ms=…&client_id=…]`;
        a host without a port means 9092, and the timeouts default to Kafka's own."""
        parsed = urlparse(url)
        if not parsed.netloc:
            raise ValueError(f"bus URL {url!r} names no broker; use kafka://host:9092")
        servers = [server if ":" in server else f"{server}:9092" for server in parsed.netloc.split(",") if server]
        options = {name: values[-1] for name, values in parse_qs(parsed.query).items()}
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise ValueError(f"bus URL {url!r} has unknown options {', '.join(unknown)}; known: {', '.join(_OPTIONS)}")
        settings: dict = {}
        for name, value in options.items():
            if name == "client_id":
                settings[name] = value
            elif value.isdigit():
                settings[name] = int(value)
            else:
                raise ValueError(f"bus URL {url!r}: {name}={value!r} is not a whole number of milliseconds")
        return cls(servers, **settings)

    def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None) -> None:
        self._ensure_topics([topic])
        future = self._producer_client().send(
            topic,
            value=value,
            key=key.encode(),
            headers=[(name, text.encode()) for name, text in (headers or {}).items()],
        )
        # Durable before return: the broker has the record on every in-sync replica (acks=all).
        future.get(timeout=_PUBLISH_TIMEOUT_S)

    def subscribe(self, group: str, topics: Iterable[str]) -> Subscription:
        names = sorted(set(topics))
        # A group that subscribes before anything is published must still get its partitions now;
        # otherwise it would see the topic only at its next metadata refresh, minutes later.
        self._ensure_topics(names)
        subscription = _KafkaSubscription(self, group, names)
        self._subscriptions.add(subscription)
        return subscription

    def ping(self, timeout_s: float) -> None:
        # A broker that answers a Kafka request (ApiVersions over a socket of its own): bounded by `timeout_s`, where a
        # request through kafka-python would wait out its client's reconnect back-off.
        errors = []
        for server in self.bootstrap_servers:
            host, _, port = server.rpartition(":")
            try:
                with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s) as conn:
                    conn.settimeout(timeout_s)
                    conn.sendall(_PROBE_REQUEST)
                    answer = b""
                    while len(answer) < 8 and (chunk := conn.recv(8 - len(answer))):
                        answer += chunk
                if len(answer) == 8 and struct.unpack(">i", answer[4:])[0] == _PROBE_CORRELATION_ID:
                    return
                errors.append(f"{server}: accepts a connection but does not answer as a Kafka broker")
            except OSError as error:
                errors.append(f"{server}: {error}")
        raise ConnectionError(f"no Kafka broker answers ({'; '.join(errors)})")

    def close(self) -> None:
        for subscription in list(self._subscriptions):
            subscription.close()
        with self._lock:
            if self._producer is not None:
                self._producer.close()
                self._producer = None
            if self._admin is not None:
                self._admin.close()
                self._admin = None

    def _producer_client(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                # Idempotence is kafka-python's default wherever the broker supports it; it keeps
                # retried sends from duplicating or reordering records of one key.
                self._producer = KafkaProducer(
                    bootstrap_servers=self.bootstrap_servers, client_id=self.client_id, acks="all", linger_ms=0
                )
            return self._producer

    def _admin_client(self) -> KafkaAdminClient:
        if self._admin is None:
            self._admin = KafkaAdminClient(bootstrap_servers=self.bootstrap_servers, client_id=self.client_id)
        return self._admin

    def _ensure_topics(self, topics: list[str]) -> None:
        """Create the topics this process has not seen yet (with the cluster's defaults) and wait for their leaders."""
        with self._lock:
            missing = [topic for topic in topics if topic not in self._known_topics]
            if not missing:
                return
            admin = self._admin_client()
            result = admin.create_topics(missing, raise_errors=False)
            for topic in result["topics"]:
                error = kafka.errors.for_code(topic["error_code"])
                if error not in (kafka.errors.NoError, kafka.errors.TopicAlreadyExistsError):
                    raise error(f"cannot create topic {topic['name']}: {topic.get('error_message') or error.__name__}")
            admin.wait_for_topics(missing, timeout_ms=30_000)
            self._known_topics.update(missing)

    def group_members(self, group: str) -> dict[str, set[tuple[str, int]]]:
        """The (topic, partition) pairs the group gives each member now, by the member's client id; empty while the
        group is rebalancing (Kafka-specific; for tests and operators)."""
        with self._lock:
            described = self._admin_client().describe_groups([group]).get(group) or {}
        if described.get("group_state") != "Stable":
            return {}
        members: dict[str, set[tuple[str, int]]] = {}
        for member in described.get("members", []):
            # kafka-python decodes a consumer's assignment into a dict; one it could not decode (none yet) stays text.
            assignment = member.get("member_assignment")
            assigned = assignment.get("assigned_partitions") or [] if isinstance(assignment, dict) else []
            members.setdefault(member["client_id"], set()).update(
                (each["topic"], partition) for each in assigned for partition in each["partitions"])
        return members

    def _committed(self, group: str, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        """The group's committed offset of each partition that has one."""
        with self._lock:
            offsets = self._admin_client().list_group_offsets({group: partitions}).get(group, {})
        return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


class _KafkaSubscription(Subscription):
    def __init__(self, bus: KafkaBus, group: str, topics: list[str]):
        self._bus = bus
        self._group = group
        self._topics = topics
        self._closed = False
        self._consumer = KafkaConsumer(
            bootstrap_servers=bus.bootstrap_servers,
            client_id=bus.client_id,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=bus.session_timeout_ms,
            heartbeat_interval_ms=bus.heartbeat_interval_ms,
            max_poll_interval_ms=bus.max_poll_interval_ms,
        )
        self._consumer.subscribe(topics)

    def poll(self, timeout_s: float, max_records: int = 100) -> list[Record]:
        self._resume_pending_join()
        batches = self._consumer.poll(timeout_ms=max(0, int(timeout_s * 1000)), max_records=max_records)
        return [
            Record(
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                key=message.key.decode("utf-8", "replace") if message.key is not None else "",
                value=message.value if message.value is not None else b"",
                headers={name: (raw or b"").decode("utf-8", "replace") for name, raw in message.headers or []},
            )
            for tp in sorted(batches)
            for message in batches[tp]
        ]

    def _resume_pending_join(self) -> None:
        """A join left in flight by a poll that timed out is awaited again by the next one only while kafka-python
        (3.0.12) still thinks a rejoin is needed; when the join came from a metadata change alone (partitions added to a
        subscribed topic, or a topic the leader first assigned without metadata), the leader marks that change seen
        before its SyncGroup returns, the join is never awaited, and the member sits in "rebalancing" with no partitions
        and no heartbeats for good. Java counts a pending join as a reason to rejoin (rejoinNeededOrPending); so do we."""
        coordinator = self._consumer._coordinator
        if getattr(coordinator, "_join_task", None) is not None:
            coordinator.request_rejoin()

    def commit(self, records: Sequence[Record]) -> None:
        offsets: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
        if not offsets:
            return
        # Kafka's classic protocol checks the member's generation, not which partitions it holds: a
        # member must not commit for partitions a rebalance gave away, or it could move another
        # member's offsets.
        held = self._consumer.assignment()
        lost = sorted(tp for tp in offsets if tp not in held)
        mine = {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in offsets.items() if tp in held}
        try:
            if mine:
                self._consumer.commit(mine)
        except _LOST_MEMBERSHIP as error:
            raise CommitFailed(
                f"group {self._group} is rebalancing or moved partitions of {', '.join(sorted({tp.topic for tp in offsets}))} "
                f"to another member; their uncommitted records will be redelivered ({error})"
            ) from error
        if lost:
            raise CommitFailed(
                f"group {self._group} moved {', '.join(f'{tp.topic}[{tp.partition}]' for tp in lost)} to another member; "
                "their uncommitted records will be redelivered"
            )

    def lag(self) -> dict[str, int]:
        partitions = [
            TopicPartition(topic, partition)
            for topic in self._topics
            for partition in sorted(self._consumer.partitions_for_topic(topic))
        ]
        if not partitions:
            return {topic: 0 for topic in self._topics}
        ends = self._consumer.end_offsets(partitions)
        committed = self._bus._committed(self._group, partitions)
        uncommitted = [tp for tp in partitions if tp not in committed]
        starts = self._consumer.beginning_offsets(uncommitted) if uncommitted else {}
        lag = {topic: 0 for topic in self._topics}
        for tp in partitions:
            lag[tp.topic] += max(0, ends[tp] - committed.get(tp, starts.get(tp, 0)))
        return lag

    def partitions(self) -> set[tuple[str, int]]:
        """The (topic, partition) pairs the group gives this member now (Kafka-specific; for tests and operators)."""
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Leaves the group at once (no wait for the session timeout); nothing is committed here.
        self._consumer.close(autocommit=False)
