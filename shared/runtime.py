"""Runs services: builds the adapters from settings, serves the services and runs their background work until SIGTERM.

Their gRPC APIs share one port and metrics another (on the same interface unless RADLAB_METRICS_HOST says otherwise),
and with `radlab up` the HTTP gateway a third (RADLAB_HTTP_ADDR);
each service's outbox relay, event consumer and dead-letter consumer run until SIGTERM, then each service's own
background work stops before its database closes. Every call is checked against the tokens revoked in the databases
of the process's services.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import grpc

import sqlalchemy as sa

from radlab import SERVICE_NAMES, SERVICES
from radlab.tokens import token_key
from shared import bus as bus_port
from shared import compute as compute_port
from shared import metrics, objectstore
from shared.auth import TokenVerifier
from shared.config import Settings
from shared.consumer import EventConsumer, Handler, consumer_group
from shared.db import Database, OutboxRelay
from shared.deadletters import DeadLetterConsumer, DeadLetterHandler
from shared.grpcserver import build_server
from shared.logs import configure
from shared.migrations import Migration
from shared.readiness import Readiness, Watched
from shared.revocation import DenyList
from shared.validation import RequestLimits

log = logging.getLogger(__name__)
P = TypeVar("P")

STOP_GRACE_S = 5.0
SIGNAL_CHECK_S = 0.5
WORKER_STOP_S = 10.0  # a relay or consumer notices the stop within one poll (well under a second)


class Adapters:
    """The ports of one process, built once from settings and shared by its services."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.bus = bus_port.connect(settings.bus_url)
        self.store = objectstore.connect(settings.store_url)

    def database(self, service: str, metadata: sa.MetaData, migrations: Sequence[Migration] = ()) -> Database:
        """The service's own database (SQLite file or PostgreSQL schema), its tables migrated."""
        return Database(self.settings.db_url, service, metadata, migrations)

    @functools.cached_property
    def compute(self) -> compute_port.Compute:
        """Ray, started on first use: only training needs it."""
        return compute_port.connect(self.settings.ray_url)


class Periodic:
    """Calls `work` every `interval_s` on a daemon thread until `stop()`; a failure is logged and tried again next time."""

    def __init__(self, name: str, interval_s: float, work: Callable[[], object]):
        self.name = name
        self.interval_s = interval_s
        self.work = work
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Let the current run finish, then end the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=WORKER_STOP_S)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.work()
            except Exception:
                log.exception("%s failed; tried again in %s s", self.name, self.interval_s)


@dataclass
class Service:
    """What a service's `bootstrap(adapters)` hands the runtime: `handlers` by event type, `dead_letter_handlers` by
    the topic whose dead letters they take, `stop`, which ends the service's own background threads, and the `ports`
    its servicer and handlers share."""

    name: str
    grpc_service_names: list[str]
    register: Callable[[grpc.Server], None]
    database: Database
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    dead_letter_handlers: Mapping[str, DeadLetterHandler] = field(default_factory=dict)
    stop: Callable[[], None] | None = None
    ports: object = None

    @classmethod
    def wire(
        cls,
        name: str,
        adapters: Adapters,
        metadata: sa.MetaData,
        *,
        ports: Callable[[Database], P],
        servicer: Callable[[P], object],
        add_to_server: Callable[[object, grpc.Server], None],
        event_handlers: Callable[[P, str], Mapping[str, Handler]],
        migrations: Sequence[Migration] = (),
        dead_letter_handlers: Callable[[P, str], Mapping[str, DeadLetterHandler]] | None = None,
    ) -> Service:
        """Every service's shape: its own database, one `Ports` bundle over it (the database and whatever else its
        handlers work with) shared by its servicer and its event handlers, handlers in group `radlab.<name>`."""
        database = adapters.database(name, metadata, migrations)
        bundle = ports(database)
        instance = servicer(bundle)
        group = consumer_group(name)
        return cls(
            name=name,
            grpc_service_names=[SERVICE_NAMES[name]],
            register=lambda server: add_to_server(instance, server),
            database=database,
            handlers=event_handlers(bundle, group),
            dead_letter_handlers=dead_letter_handlers(bundle, group) if dead_letter_handlers else {},
            ports=bundle,
        )


def bootstrap(name: str, adapters: Adapters) -> Service:
    """Wire service `name` (one of SERVICES) onto the adapters."""
    if name not in SERVICES:
        raise ValueError(f"unknown service {name!r}; choose one of {', '.join(SERVICES)}")
    return importlib.import_module(f"services.{name}").bootstrap(adapters)


class Runtime:
    """The named services on one gRPC server, with their outbox relays, event consumers and readiness: each
    service's health follows whether its database, the bus and the store answer."""

    def __init__(self, names: list[str], settings: Settings):
        self.names = names
        self.adapters = Adapters(settings)
        self.services = [bootstrap(name, self.adapters) for name in names]
        self.tokens = TokenVerifier(
            [token_key(settings.home, settings.token_key), *settings.token_previous_keys], settings.token_max_ttl_s,
            DenyList(service.database for service in self.services).revoked,
        )
        self.server, self.health, self.port = build_server(
            settings.grpc_addr,
            [service.register for service in self.services],
            [grpc_name for service in self.services for grpc_name in service.grpc_service_names],
            self.tokens,
            request_limits=RequestLimits.of(settings),
        )
        self.address = f"{settings.grpc_addr.rsplit(':', 1)[0]}:{self.port}"
        self.readiness = Readiness(
            self.health,
            [Watched(service.name, service.grpc_service_names, service.database.ping) for service in self.services],
            self.adapters.bus.ping, self.adapters.store.ping, settings.readiness_timeout_s,
        )
        self._readiness = Periodic("readiness", settings.readiness_period_s, self.readiness.check)
        self._stop_consuming = threading.Event()
        self._stop_relaying = threading.Event()
        self._consumers: list[threading.Thread] = []
        self._relays: list[threading.Thread] = []

    def start(self) -> None:
        bus = self.adapters.bus
        for service in self.services:
            group = consumer_group(service.name)
            relay = OutboxRelay(service.database, bus)
            self._relays.append(self._thread(f"outbox-{service.name}", relay.run, self._stop_relaying))
            if service.handlers:
                consumer = EventConsumer(bus, group, service.handlers)
                self._consumers.append(self._thread(f"consumer-{service.name}", consumer.run, self._stop_consuming))
            if service.dead_letter_handlers:
                letters = DeadLetterConsumer(bus, group, service.dead_letter_handlers)
                self._consumers.append(self._thread(f"dead-letters-{service.name}", letters.run, self._stop_consuming))
        for worker in self._consumers + self._relays:
            worker.start()
        self.readiness.check()  # ready only once its dependencies have answered
        self._readiness.start()
        self.server.start()

    @staticmethod
    def _thread(name: str, run: Callable[[threading.Event], None], stop: threading.Event) -> threading.Thread:
        return threading.Thread(target=run, args=(stop,), name=name, daemon=True)

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Refuse new calls, let calls in flight finish within `grace_s`, stop consuming, stop each service's own
        background work (the outbox relays run meanwhile: what it emits goes out now, or from the outbox at the next
        start), then stop the relays and close the databases."""
        self._readiness.stop()
        self.health.enter_graceful_shutdown()
        self.server.stop(grace_s).wait()
        self._stop_consuming.set()
        for worker in self._consumers:
            worker.join(timeout=WORKER_STOP_S)
        for service in self.services:
            if service.stop is not None:
                try:
                    service.stop()
                except Exception:
                    log.exception("stopping %s's background work failed", service.name)
        self._stop_relaying.set()
        for worker in self._relays:
            worker.join(timeout=WORKER_STOP_S)
        for service in self.services:
            service.database.dispose()
        self.adapters.bus.close()


def stop_signal() -> threading.Event:
    """An event SIGTERM and SIGINT set from now on (call from the main thread, before starting anything)."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def wait_for(stop: threading.Event) -> None:
    """Return once `stop` is set."""
    # Timed waits: a signal that reaches another thread only flags the main thread, whose handler runs when it next
    # runs Python code; in an untimed wait that never came, and SIGTERM went unheard (`radlab serve` never stopped).
    while not stop.wait(SIGNAL_CHECK_S):
        pass


def serve(names: list[str], settings: Settings, *, gateway: bool = False) -> None:
    """Serve the named services in this process until SIGTERM or SIGINT, then stop gracefully; with `gateway`, the HTTP
    gateway too (RADLAB_HTTP_ADDR), forwarding to this process's own gRPC address."""
    configure("+".join(names) if len(names) < len(SERVICES) else "radlab", settings.log_level)
    runtime = Runtime(names, settings)
    metrics.serve(settings.metrics_host, settings.metrics_port)
    http = None
    if gateway:
        from services.gateway.server import Gateway  # server code beside the services, only when asked for

        http = Gateway(settings.http_addr, dict.fromkeys(SERVICES, runtime.address), runtime.tokens, settings.viewer_dir)
    stop = stop_signal()
    runtime.start()
    metrics_address = f"{settings.metrics_host}:{settings.metrics_port}"
    ready = {"ready": True, "services": names, "grpc": runtime.address, "metrics": metrics_address}
    if http is not None:
        http.start()
        ready["http"] = http.url
        log.info("HTTP gateway on %s: REST under /api/v1, OpenAPI at %s/docs, the viewer at %s/viewer/", http.url, http.url, http.url)
    print(json.dumps(ready), flush=True)
    log.info("serving", extra=ready)
    wait_for(stop)
    log.info("stopping", extra={"grace_s": STOP_GRACE_S})
    if http is not None:
        http.stop()
    runtime.stop()
    log.info("stopped")


def main(name: str) -> None:
    """`python -m services.<name>`: serve one service configured by RADLAB_* variables."""
    serve([name], Settings.from_env())
