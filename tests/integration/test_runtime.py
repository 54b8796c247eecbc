"""The runtime on the embedded adapters: Runtime.stop ends every thread it or its services started.

Each service's stop hook runs before that service's database closes.
"""

from __future__ import annotations

import threading

from shared.config import Settings
from shared.runtime import WORKER_STOP_S, Runtime


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
