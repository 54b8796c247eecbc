"""Reading dead-letter topics: the records another consumer group gave up on, with the error it recorded.

A service that must react when others give up on its events (ingestion fails an upload whose ScanUploaded
anonymization dead-lettered) reads `<topic>.dlq` in its own consumer group. A dead letter is the original
record (value and `ce_*` headers) plus the `radlab_*` headers shared.consumer adds, so its event is decoded
as usual when it still decodes; a record dead-lettered for being undecodable is handed over with no event.
A handler that fails is retried with backoff until it succeeds or the consumer stops: a dead letter has
nowhere further to go, and offsets are committed only past the letters handled.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from shared import events, metrics
from shared.bus import EventBus, Record, dead_letter_topic
from shared.consumer import ATTEMPTS_HEADER, CONSUMER_HEADER, ERROR_HEADER, commit_and_report_lag
from shared.logs import reset_trace_id, set_trace_id

log = logging.getLogger(__name__)

_TYPE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,99}")


@dataclass(frozen=True)
class DeadLetter:
    """A record a consumer group gave up on: its event (None when it does not decode) and what the group recorded."""

    record: Record
    event: events.Event | None
    error: str  # "<exception type>: <message>"; the message may quote whatever the failing handler saw
    consumer: str  # the group that gave up
    attempts: int

    @classmethod
    def from_record(cls, record: Record) -> DeadLetter:
        try:
            event = events.decode(events.from_record(record))
        except events.UndecodableEvent:
            event = None
        attempts = record.headers.get(ATTEMPTS_HEADER, "")
        return cls(
            record=record, event=event, error=record.headers.get(ERROR_HEADER, ""),
            consumer=record.headers.get(CONSUMER_HEADER, ""), attempts=int(attempts) if attempts.isdigit() else 0,
        )

    @property
    def error_type(self) -> str:
        """The exception's type name alone ("" when the error names none): safe to show where its message is not."""
        name = self.error.split(":", 1)[0]
        return name if _TYPE_NAME.fullmatch(name) else ""


DeadLetterHandler = Callable[[DeadLetter], None]


class DeadLetterConsumer:
    """Hands each dead letter of the topics in `handlers` (keyed by the topic whose dead letters they take) to its
    handler, for consumer group `group`."""

    def __init__(
        self,
        bus: EventBus,
        group: str,
        handlers: Mapping[str, DeadLetterHandler],
        *,
        backoff_s: float = 0.05,
        max_backoff_s: float = 5.0,
        poll_timeout_s: float = 0.5,
        batch: int = 100,
    ):
        self.group = group
        self.handlers = {dead_letter_topic(topic): handler for topic, handler in handlers.items()}
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.poll_timeout_s = poll_timeout_s
        self.batch = batch
        self.subscription = bus.subscribe(group, self.handlers)

    def run(self, stop: threading.Event) -> None:
        """Poll and handle until `stop` is set, then leave the group."""
        try:
            while not stop.is_set():
                self.run_once(stop)
        finally:
            self.subscription.close()

    def run_once(self, stop: threading.Event) -> int:
        """One poll: handle its dead letters in order (a stop ends the batch early), commit those; returns how many."""
        handled = []
        for record in self.subscription.poll(self.poll_timeout_s, self.batch):
            if not self._apply(record, stop):
                break  # stopped: the rest of the batch is read again by the next member
            handled.append(record)
        commit_and_report_lag(self.subscription, self.group, handled)
        return len(handled)

    def _apply(self, record: Record, stop: threading.Event) -> bool:
        """Handle one dead letter, retrying until it is handled (True) or `stop` is set (False)."""
        letter = DeadLetter.from_record(record)
        token = set_trace_id(letter.event.envelope.trace_id if letter.event else "")
        delay = self.backoff_s
        try:
            while True:
                started = time.perf_counter()
                try:
                    self.handlers[record.topic](letter)
                except Exception:
                    log.exception("dead letter %s@%d not handled; retrying in %.2f s", record.topic, record.offset, delay)
                    metrics.EVENT_RETRIES.labels(self.group, record.topic).inc()
                    if stop.wait(delay):
                        return False
                    delay = min(delay * 2, self.max_backoff_s)
                    continue
                finally:
                    metrics.HANDLER_DURATION.labels(self.group, record.topic).observe(time.perf_counter() - started)
                metrics.EVENTS_HANDLED.labels(self.group, record.topic).inc()
                log.info("dead letter handled", extra={"topic": record.topic, "offset": record.offset, "consumer": self.group})
                return True
        finally:
            reset_trace_id(token)
