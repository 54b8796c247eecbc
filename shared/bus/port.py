"""The event bus port: an append-only, keyed, partitioned log with consumer groups."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Record:
    """One message as read from the bus; `offset` orders records within (topic, partition)."""

    topic: str
    partition: int
    offset: int
    key: str
    value: bytes
    headers: dict[str, str] = field(default_factory=dict)


class EventBus(abc.ABC):
    """Publishes records and opens group subscriptions; one instance may be shared by threads."""

    @abc.abstractmethod
    def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None) -> None:
        """Append a record durably; records with one key keep their order for every consumer."""

    @abc.abstractmethod
    def subscribe(self, group: str, topics: Iterable[str]) -> Subscription:
        """Join consumer group `group` on `topics`; reading starts after the group's committed offsets."""

    @abc.abstractmethod
    def ping(self, timeout_s: float) -> None:
        """Return if the bus answers within about `timeout_s`, else raise an error saying why (readiness)."""

    def close(self) -> None:
        """Release connections; the default adapter holds none."""


class Subscription(abc.ABC):
    """One member of a consumer group. Not thread-safe: one poll loop owns it."""

    @abc.abstractmethod
    def poll(self, timeout_s: float, max_records: int = 100) -> list[Record]:
        """Records after the last position read (not the last committed), waiting up to `timeout_s`."""

    @abc.abstractmethod
    def commit(self, records: Sequence[Record]) -> None:
        """Mark `records` (and everything before them in their partitions) done for the group."""

    @abc.abstractmethod
    def lag(self) -> dict[str, int]:
        """Records published but not yet committed by this group, per topic."""

    @abc.abstractmethod
    def close(self) -> None:
        """Leave the group; uncommitted records are delivered again to the next member."""


class CommitFailed(RuntimeError):
    """The group gave this member's partition to another member; its uncommitted records will be redelivered."""
