"""The event bus port and its adapters, chosen by URL: `local://` (embedded SQLite log) or `kafka://`."""

from __future__ import annotations

from shared.bus.port import CommitFailed, EventBus, Record, Subscription

__all__ = ["CommitFailed", "EventBus", "Record", "Subscription", "connect", "dead_letter_topic"]


def connect(url: str) -> EventBus:
    """Open the bus named by `url`."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme == "local":
        from shared.bus.local import LocalBus

        return LocalBus.from_url(url)
    if scheme == "kafka":
        from shared.bus.kafka import KafkaBus

        return KafkaBus.from_url(url)
    raise ValueError(f"unsupported bus URL {url!r}: use local:///path/bus.sqlite (or kafka://host:port)")


def dead_letter_topic(topic: str) -> str:
    """Where records of `topic` that keep failing go, with their error."""
    return f"{topic}.dlq"
