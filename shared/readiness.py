"""Readiness: probes each service's database, the bus and the store, and keeps the process's gRPC health in step."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from grpc_health.v1 import health_pb2

from shared import metrics
from shared.grpcserver import HealthService

log = logging.getLogger(__name__)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
MAX_ERROR_CHARS = 300  # of a probe's error in the log line (a driver's message may run to many lines)


@dataclass(frozen=True)
class Watched:
    """A service whose health readiness sets: its gRPC service names and its own database's ping."""

    name: str
    grpc_service_names: Sequence[str]
    ping_database: Callable[[float], None]


@dataclass(eq=False)
class _Attempt:
    """One run of a ping: its thread, and the error it raised."""

    thread: threading.Thread | None = None
    error: str | None = None


@dataclass(eq=False)
class Probe:
    """One dependency's ping, each run on a thread of its own: a dependency that never answers holds up only its own
    probe, which counts it unreachable from `timeout_s` on and starts no second run until the first returns."""

    dependency: str  # database, bus or store
    owner: str  # the service whose database it is, or "" for the bus and the store every service shares
    ping: Callable[[float], None]
    error: str | None = None  # why it was unreachable at the last check; None while it answers
    _attempt: _Attempt | None = field(default=None, repr=False)

    @property
    def subject(self) -> str:
        return f"the {self.dependency} of {self.owner}" if self.owner else f"the {self.dependency}"

    def start(self, timeout_s: float) -> None:
        if self._attempt is not None and self._attempt.thread.is_alive():
            return  # the last run still waits for an answer
        attempt = _Attempt()
        attempt.thread = threading.Thread(
            name=f"readiness-{self.dependency}", daemon=True, target=self._run, args=(attempt, timeout_s)
        )
        self._attempt = attempt
        attempt.thread.start()

    def _run(self, attempt: _Attempt, timeout_s: float) -> None:
        try:
            self.ping(timeout_s)
        except Exception as error:
            first_line = (str(error).strip().splitlines() or [""])[0]
            attempt.error = f"{type(error).__name__}: {first_line}"[:MAX_ERROR_CHARS]

    def outcome(self, deadline: float, timeout_s: float) -> str | None:
        """Wait for the run until `deadline` (monotonic); None if it answered, else why not."""
        attempt = self._attempt
        attempt.thread.join(max(0.0, deadline - time.monotonic()))
        if attempt.thread.is_alive():
            return f"no answer within {timeout_s:g} s"
        return attempt.error


class Readiness:
    """Sets each service's health, and the process's overall "", NOT_SERVING while its database, the bus or the store
    fails its probe and SERVING once they answer again; logs each change of a dependency and sets
    `radlab_dependency_up`. One per process: `check()` runs every RADLAB_READINESS_PERIOD_S."""

    def __init__(
        self, health: HealthService, services: Sequence[Watched], ping_bus: Callable[[float], None],
        ping_store: Callable[[float], None], timeout_s: float,
    ):
        self.health = health
        self.services = list(services)
        self.timeout_s = timeout_s
        self._databases = {service.name: Probe("database", service.name, service.ping_database) for service in services}
        self._shared = [Probe("bus", "", ping_bus), Probe("store", "", ping_store)]
        self._reasons = {name: "" for service in services for name in service.grpc_service_names} | {"": ""}

    def check(self) -> None:
        """Probe every dependency at once (each within `timeout_s`), then set health, gauges and reasons."""
        probes = [*self._databases.values(), *self._shared]
        for probe in probes:
            probe.start(self.timeout_s)
        deadline = time.monotonic() + self.timeout_s
        for probe in probes:
            self._record(probe, probe.outcome(deadline, self.timeout_s))
        any_down = False
        for service in self.services:
            down = [probe for probe in (self._databases[service.name], *self._shared) if probe.error is not None]
            for probe in (self._databases[service.name], *self._shared):
                metrics.DEPENDENCY_UP.labels(service.name, probe.dependency).set(0 if probe.error else 1)
            reason = ", ".join(probe.dependency for probe in down) + " unreachable" if down else ""
            for name in service.grpc_service_names:
                self._set(name, reason)
            any_down |= bool(down)
        if any_down:
            unreachable = sorted({p.subject for p in probes if p.error is not None})
            self._set("", f"{', '.join(unreachable)} unreachable")
        else:
            self._set("", "")

    def _record(self, probe: Probe, error: str | None) -> None:
        was_down, probe.error = probe.error is not None, error
        if error is not None and not was_down:
            serving = [s.name for s in self.services if not probe.owner or s.name == probe.owner]
            log.warning("%s is unreachable (%s): %s not serving until it answers", probe.subject, error, ", ".join(serving))
        elif error is None and was_down:
            log.info("%s answers again", probe.subject)

    def _set(self, name: str, reason: str) -> None:
        """SERVING without a reason, else NOT_SERVING saying why (no effect once the server is shutting down); a
        health watcher hears of changes only."""
        if self._reasons.get(name) == reason:
            return
        self._reasons[name] = reason
        if reason:
            self.health.reasons[name] = reason
        else:
            self.health.reasons.pop(name, None)
        self.health.set(name, NOT_SERVING if reason else SERVING)
