"""The runtime on the embedded adapters: one Ports bundle per service, and a stop that ends every thread it started.

Service.wire hands the bundle to the servicer and the handlers. Runtime.stop ends every thread it or its services
started; each service's stop hook runs before that service's database closes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from radlab.workflow.v1 import workflow_service_pb2_grpc as pb_grpc
from services.workflow import store
from shared.config import Settings
from shared.db import Database
from shared.runtime import WORKER_STOP_S, Adapters, Runtime, Service


def test_wire_builds_one_ports_bundle_that_the_servicer_and_every_handler_share(tmp_path):
    """`Service.wire` makes the service's Ports once, over its own database, and hands that one bundle to the servicer,
    the event handlers and the dead-letter handlers (so what it holds, e.g. interpolation's job worker, is one)."""

    @dataclass(frozen=True)
    class Ports:
        db: Database

    built: list[Ports] = []
    given: dict[str, tuple] = {}

    def ports(database: Database) -> Ports:
        built.append(Ports(database))
        return built[-1]

    def handlers(kind: str):
        def wire_handlers(ports: Ports, consumer: str) -> dict:
            given[kind] = (ports, consumer)
            return {}

        return wire_handlers

    adapters = Adapters(Settings.from_env({"RADLAB_HOME": str(tmp_path / "home")}))
    service = Service.wire(
        "workflow", adapters, store.metadata, ports=ports, servicer=lambda ports: given.setdefault("servicer", (ports,)),
        add_to_server=pb_grpc.add_WorkflowServiceServicer_to_server,
        event_handlers=handlers("handlers"), dead_letter_handlers=handlers("dead letters"),
    )
    try:
        assert len(built) == 1 and service.ports is built[0] and service.ports.db is service.database
        assert given == {"servicer": (service.ports,), "handlers": (service.ports, "radlab.workflow"),
                         "dead letters": (service.ports, "radlab.workflow")}
    finally:
        service.database.dispose()
        adapters.bus.close()


def test_stop_ends_relays_consumers_and_each_services_background_threads_before_its_database_closes(tmp_path):
    """Ingestion (dead-letter consumer, upload-expiry sweep) and interpolation (job-claim watcher) served together."""
    settings = Settings.from_env({"RADLAB_HOME": str(tmp_path / "home"), "RADLAB_GRPC_ADDR": "127.0.0.1:0"})
    before = set(threading.enumerate())
    runtime = Runtime(["ingestion", "interpolation"], settings)
    order: list[str] = []
    for service in runtime.services:
        hook, dispose = service.stop, service.database.dispose
        service.stop = lambda name=service.name, hook=hook: (order.append(f"stop {name}"), hook())
        service.database.dispose = lambda name=service.name, dispose=dispose: (order.append(f"close {name}"), dispose())
    runtime.start()
    started = {thread.name for thread in set(threading.enumerate()) - before}
    assert started >= {
        "outbox-ingestion", "consumer-ingestion", "dead-letters-ingestion", "ingestion-upload-expiry",
        "outbox-interpolation", "consumer-interpolation", "interpolation-claims",
    }
    runtime.stop(0)
    assert order == ["stop ingestion", "stop interpolation", "close ingestion", "close interpolation"]
    for thread in set(threading.enumerate()) - before:
        thread.join(WORKER_STOP_S)  # a thread told to stop ends within one wait; the gRPC server's pool ends with it
    assert [thread.name for thread in threading.enumerate() if thread not in before and thread.is_alive()] == []
