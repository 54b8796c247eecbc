"""Runs services: builds the adapters from settings, serves their gRPC APIs on one port and metrics on
another, and runs each service's outbox relay and event consumer until SIGTERM."""

from __future__ import annotations

import functools
import importlib
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import grpc

from radlab import SERVICES
from shared import bus as bus_port
from shared import compute as compute_port
from shared import metrics, objectstore
from shared.auth import token_key
from shared.config import Settings
from shared.consumer import EventConsumer, Handler, consumer_group
from shared.db import Database, OutboxRelay
from shared.grpcserver import build_server
from shared.logs import configure

log = logging.getLogger(__name__)

STOP_GRACE_S = 5.0


class Adapters:
    """The ports of one process, built once from settings and shared by its services."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.bus = bus_port.connect(settings.bus_url)
        self.store = objectstore.connect(settings.store_url)

    def database(self, service: str, metadata) -> Database:
        """The service's own database (SQLite file or PostgreSQL schema) with its tables created."""
        return Database(self.settings.db_url, service, metadata)

    @functools.cached_property
    def compute(self) -> compute_port.Compute:
        """Ray, started on first use: only training needs it."""
        return compute_port.connect(self.settings.ray_url)


@dataclass
class Service:
    """What a service's `bootstrap(adapters)` hands the runtime."""

    name: str
    grpc_service_names: list[str]
    register: Callable[[grpc.Server], None]
    database: Database
    handlers: Mapping[str, Handler] = field(default_factory=dict)


def bootstrap(name: str, adapters: Adapters) -> Service:
    """Wire service `name` (one of SERVICES) onto the adapters."""
    if name not in SERVICES:
        raise ValueError(f"unknown service {name!r}; choose one of {', '.join(SERVICES)}")
    return importlib.import_module(f"services.{name}").bootstrap(adapters)


def serve(names: list[str], settings: Settings) -> None:
    """Serve the named services in this process until SIGTERM or SIGINT, then stop gracefully."""
    configure("+".join(names) if len(names) < len(SERVICES) else "radlab", settings.log_level)
    adapters = Adapters(settings)
    services = [bootstrap(name, adapters) for name in names]
    server, health, port = build_server(
        settings.grpc_addr,
        [service.register for service in services],
        [grpc_name for service in services for grpc_name in service.grpc_service_names],
        token_key(settings.home, settings.token_key),
    )
    metrics.serve(settings.metrics_port)
    stop = threading.Event()
    workers = _start_workers(services, adapters, stop)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    host = settings.grpc_addr.rsplit(":", 1)[0]
    ready = {"ready": True, "services": names, "grpc": f"{host}:{port}", "metrics_port": settings.metrics_port}
    print(json.dumps(ready), flush=True)
    log.info("serving", extra=ready)
    stop.wait()
    log.info("stopping", extra={"grace_s": STOP_GRACE_S})
    health.enter_graceful_shutdown()
    server.stop(STOP_GRACE_S).wait()
    for worker in workers:
        worker.join(timeout=STOP_GRACE_S)
    for service in services:
        service.database.dispose()
    adapters.bus.close()
    log.info("stopped")
    sys.stdout.flush()


def _start_workers(services: list[Service], adapters: Adapters, stop: threading.Event) -> list[threading.Thread]:
    workers = []
    for service in services:
        relay = OutboxRelay(service.database, adapters.bus)
        workers.append(threading.Thread(target=relay.run, args=(stop,), name=f"outbox-{service.name}", daemon=True))
        if service.handlers:
            consumer = EventConsumer(adapters.bus, consumer_group(service.name), service.handlers)
            workers.append(threading.Thread(target=consumer.run, args=(stop,), name=f"consumer-{service.name}", daemon=True))
    for worker in workers:
        worker.start()
    return workers


def main(name: str) -> None:
    """`python -m services.<name>`: serve one service configured by RADLAB_* variables."""
    serve([name], Settings.from_env())
