"""Readiness on pings the test controls: health names, reasons, the dependency gauge, log lines, a hung probe."""

from __future__ import annotations

import logging
import threading
import time

from grpc_health.v1 import health_pb2
from prometheus_client import REGISTRY

from shared.grpcserver import LIVENESS, HealthService
from shared.readiness import Readiness, Watched

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
ANNOTATION, WORKFLOW = "radlab.annotation.v1.AnnotationService", "radlab.workflow.v1.WorkflowService"


class Dependency:
    """A ping that answers until `fail(why)` or `hang()`, and again after `restore()`."""

    def __init__(self) -> None:
        self.error: Exception | None = None
        self.released = threading.Event()
        self.released.set()

    def ping(self, timeout_s: float) -> None:
        self.released.wait()
        if self.error is not None:
            raise self.error

    def fail(self, error: Exception) -> None:
        self.error = error

    def hang(self) -> None:
        self.released.clear()

    def restore(self) -> None:
        self.error = None
        self.released.set()


class CheckContext:
    """The slice of a gRPC servicer context HealthService.Check uses."""

    def __init__(self) -> None:
        self.trailers: tuple = ()

    def set_code(self, code) -> None:
        self.code = code

    def set_trailing_metadata(self, trailers) -> None:
        self.trailers = trailers


def check(health: HealthService, name: str) -> tuple[int, str]:
    """The status Check answers for `name`, and the reason in its trailer ("" without one)."""
    context = CheckContext()
    response = health.Check(health_pb2.HealthCheckRequest(service=name), context)
    return response.status, dict(context.trailers).get("radlab-not-serving-reason", "")


def dependency_up(service: str, dependency: str) -> float | None:
    return REGISTRY.get_sample_value("radlab_dependency_up", {"service": service, "dependency": dependency})


def serving(health: HealthService) -> HealthService:
    for name in (ANNOTATION, WORKFLOW, "", LIVENESS):
        health.set(name, SERVING)
    return health


def test_a_service_is_not_serving_while_its_database_or_a_shared_dependency_fails_and_serves_again_after(caplog):
    """Annotation's database down: annotation and "" NOT_SERVING saying why, workflow SERVING, liveness untouched,
    the gauge 0 for annotation's database only, one log line each way; the store down: every service."""
    health = serving(HealthService())
    annotation_db, workflow_db, bus, store = Dependency(), Dependency(), Dependency(), Dependency()
    readiness = Readiness(
        health, [Watched("annotation", [ANNOTATION], annotation_db.ping), Watched("workflow", [WORKFLOW], workflow_db.ping)],
        bus.ping, store.ping, timeout_s=1.0,
    )
    caplog.set_level(logging.INFO, logger="shared.readiness")
    readiness.check()
    assert {name: check(health, name) for name in (ANNOTATION, WORKFLOW, "")} == {
        ANNOTATION: (SERVING, ""), WORKFLOW: (SERVING, ""), "": (SERVING, "")}
    assert dependency_up("annotation", "database") == dependency_up("workflow", "store") == 1

    annotation_db.fail(ConnectionRefusedError("connection refused\nIs the server running on 127.0.0.1:5432?"))
    readiness.check()
    readiness.check()
    assert check(health, ANNOTATION) == (NOT_SERVING, "database unreachable")
    assert check(health, WORKFLOW) == (SERVING, "")
    assert check(health, "") == (NOT_SERVING, "the database of annotation unreachable")
    assert check(health, LIVENESS) == (SERVING, "")
    assert dependency_up("annotation", "database") == 0 and dependency_up("workflow", "database") == 1
    assert [record.getMessage() for record in caplog.records] == [
        "the database of annotation is unreachable (ConnectionRefusedError: connection refused): annotation not serving "
        "until it answers"]

    store.fail(OSError("no route to host"))
    readiness.check()
    assert check(health, WORKFLOW) == (NOT_SERVING, "store unreachable")
    assert check(health, ANNOTATION) == (NOT_SERVING, "database, store unreachable")
    assert check(health, "") == (NOT_SERVING, "the database of annotation, the store unreachable")
    assert dependency_up("workflow", "store") == 0

    caplog.clear()
    annotation_db.restore()
    store.restore()
    readiness.check()
    assert {name: check(health, name) for name in (ANNOTATION, WORKFLOW, "")} == {
        ANNOTATION: (SERVING, ""), WORKFLOW: (SERVING, ""), "": (SERVING, "")}
    assert dependency_up("annotation", "database") == dependency_up("workflow", "store") == 1
    assert sorted(record.getMessage() for record in caplog.records) == [
        "the database of annotation answers again", "the store answers again"]


def test_a_probe_that_never_answers_counts_as_unreachable_within_the_timeout_and_is_not_started_twice():
    """A hung bus holds the check up for the timeout only; while it hangs no second probe starts, and once it returns
    the next check sees the bus again."""
    health = serving(HealthService())
    bus = Dependency()
    readiness = Readiness(health, [Watched("workflow", [WORKFLOW], Dependency().ping)], bus.ping, Dependency().ping, 0.2)
    bus.hang()
    probes_before = threading.active_count()
    for _ in range(3):
        started = time.monotonic()
        readiness.check()
        assert time.monotonic() - started < 0.5
    assert check(health, WORKFLOW) == (NOT_SERVING, "bus unreachable")
    assert threading.active_count() <= probes_before + 1  # the one hung probe, not one per check
    bus.restore()
    time.sleep(0.05)
    readiness.check()
    assert check(health, WORKFLOW) == (SERVING, "")


def test_once_the_server_shuts_down_readiness_changes_nothing():
    """After enter_graceful_shutdown every name stays NOT_SERVING, whatever the probes say."""
    health = serving(HealthService())
    readiness = Readiness(health, [Watched("workflow", [WORKFLOW], Dependency().ping)], Dependency().ping,
                          Dependency().ping, 1.0)
    health.enter_graceful_shutdown()
    readiness.check()
    assert check(health, WORKFLOW)[0] == check(health, "")[0] == NOT_SERVING
