"""The poll loop of one consumer group: decode, apply with retries, dead-letter, then commit.

Offsets are committed only after every record of a batch has been applied (its effects durable) or
dead-lettered, so a crash anywhere before the commit redelivers the batch; handlers are idempotent
(`shared.db.idempotent`), so a redelivered event changes nothing twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from shared import events, metrics
from shared.bus import CommitFailed, EventBus, Record, dead_letter_topic
from shared.logs import reset_trace_id, set_trace_id

log = logging.getLogger(__name__)
# What a dead letter carries besides the record: the error, how often it was tried, the group that gave up.
ERROR_HEADER = "radlab_error"
ATTEMPTS_HEADER = "radlab_attempts"
CONSUMER_HEADER = "radlab_consumer"

Handler = Callable[[events.Event], None]


def consumer_group(service: str) -> str:
    """The consumer group of a service's handlers, e.g. `radlab.workflow`."""
    return f"radlab.{service}"


def commit_and_report_lag(subscription, group: str, records: list[Record]) -> None:
    """After a poll: commit the records handled (a failed commit only means they are read again) and export the lag."""
    if records:
        try:
            subscription.commit(records)
        except CommitFailed as error:
            log.warning("offsets of %s not committed: %s", group, error)
    for topic, lag in subscription.lag().items():
        metrics.CONSUMER_LAG.labels(group, topic).set(lag)


class EventConsumer:
    """Applies each event type's handler to the records of its topic, for consumer group `group`."""

    def __init__(
        self,
        bus: EventBus,
        group: str,
        handlers: Mapping[str, Handler],
        *,
        max_attempts: int = 5,
        backoff_s: float = 0.05,
        max_backoff_s: float = 2.0,
        poll_timeout_s: float = 0.5,
        batch: int = 100,
    ):
        self.bus = bus
        self.group = group
        self.handlers = dict(handlers)
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.poll_timeout_s = poll_timeout_s
        self.batch = batch
        self.subscription = bus.subscribe(group, self.handlers)

    def run(self, stop: threading.Event) -> None:
        """Poll and apply until `stop` is set, then leave the group."""
        try:
            while not stop.is_set():
                self.run_once()
        finally:
            self.subscription.close()

    def run_once(self) -> int:
        """One poll: apply every record it returns, then commit them; returns how many."""
        records = self.subscription.poll(self.poll_timeout_s, self.batch)
        for record in records:
            self._apply(record)
        commit_and_report_lag(self.subscription, self.group, records)
        return len(records)

    def _apply(self, record: Record) -> None:
        try:
            event = events.decode(events.from_record(record))
        except events.UndecodableEvent as error:
            self._dead_letter(record, error, attempts=1)
            return
        token = set_trace_id(event.envelope.trace_id)
        started = time.perf_counter()
        try:
            handler = self.handlers[event.type]
            delay = self.backoff_s
            for attempt in range(1, self.max_attempts + 1):
                try:
                    handler(event)
                    metrics.EVENTS_HANDLED.labels(self.group, event.type).inc()
                    log.info(
                        "event handled",
                        extra={"event_id": event.id, "event_type": event.type, "consumer": self.group, "attempts": attempt},
                    )
                    return
                except Exception as error:
                    if attempt == self.max_attempts:
                        log.exception("event %s (%s) failed %d times; dead-lettered", event.id, event.type, attempt)
                        self._dead_letter(record, error, attempts=attempt)
                        metrics.EVENTS_FAILED.labels(self.group, event.type).inc()
                        return
                    log.warning("event %s (%s) failed (attempt %d): %s", event.id, event.type, attempt, error)
                    metrics.EVENT_RETRIES.labels(self.group, event.type).inc()
                    time.sleep(delay)
                    delay = min(delay * 2, self.max_backoff_s)
        finally:
            metrics.HANDLER_DURATION.labels(self.group, record.topic).observe(time.perf_counter() - started)
            reset_trace_id(token)

    def _dead_letter(self, record: Record, error: Exception, attempts: int) -> None:
        headers = dict(record.headers)
        headers.update(
            {
                ERROR_HEADER: f"{type(error).__name__}: {error}"[:2000],
                ATTEMPTS_HEADER: str(attempts),
                CONSUMER_HEADER: self.group,
                "radlab_original_topic": record.topic,
                "radlab_original_offset": str(record.offset),
            }
        )
        self.bus.publish(dead_letter_topic(record.topic), record.key, record.value, headers)
