"""Readiness against real servers: a served service is NOT_SERVING while its PostgreSQL, its MinIO or its bus is gone,
and SERVING again once each is back.

The PostgreSQL and MinIO here are private to this test (their own ports and data dir; scripts/infra/*.sh `halt` stops
one keeping its data, `start` brings it back), so the session's servers (RADLAB_TEST_*_URL) stay up for the other
tests. The bus is the embedded SQLite log, its folder moved away and back: a private Kafka takes 10-20 s to start, twice
per test, past this test's budget; the Kafka adapter's probe (a broker accepting a connection) is covered by
tests/contract/test_bus_kafka.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from radlab import SERVICE_NAMES
from shared.stack import Stack, free_port
from tests.conftest import REPO, wait_until

PERIOD_S = 0.5  # RADLAB_READINESS_PERIOD_S: the test waits a few periods for each change
WAIT_S = 15.0


class PrivateServer:
    """One of scripts/infra/*.sh's servers on a port and in a data dir of this test's own."""

    def __init__(self, name: str, infra_dir: Path, port_variable: str):
        self.name = name
        self.env = os.environ | {"RADLAB_INFRA_DIR": str(infra_dir), port_variable: str(free_port())}

    def run(self, verb: str) -> str:
        done = subprocess.run([str(REPO / "scripts" / "infra" / f"{self.name}.sh"), verb], env=self.env,
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.fail(f"scripts/infra/{self.name}.sh {verb} failed:\n{done.stderr[-3000:]}")
        return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


@pytest.fixture
def private_servers():
    """A private PostgreSQL and MinIO: their URLs, and the servers to halt and start."""
    # Not under pytest's tmp_path: the `postgres` user that runs the cluster cannot enter pytest's private folders.
    infra_dir = Path(tempfile.mkdtemp(prefix="radlab-readiness-"))
    servers = {name: PrivateServer(name, infra_dir, variable)
               for name, variable in (("postgres", "RADLAB_POSTGRES_PORT"), ("minio", "RADLAB_MINIO_PORT"))}
    try:
        urls = {name: server.run("start") for name, server in servers.items()}
        yield urls, servers
    finally:
        for server in servers.values():
            server.run("stop")
        shutil.rmtree(infra_dir, ignore_errors=True)


def annotation_health(address: str) -> tuple[str, str]:
    """Annotation's status and why (the reason trailer), as Kubernetes' probe and `radlab health` ask for it."""
    with grpc.insecure_channel(address) as channel:
        response, call = health_pb2_grpc.HealthStub(channel).Check.with_call(
            health_pb2.HealthCheckRequest(service=SERVICE_NAMES["annotation"]), timeout=5)
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    return status, dict(call.trailing_metadata() or ()).get("radlab-not-serving-reason", "")


def dependency_up(metrics_port: int) -> dict[str, float]:
    """`radlab_dependency_up` of annotation, by dependency, from the process's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {sample.labels["dependency"]: sample.value for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name == "radlab_dependency_up" and sample.labels["service"] == "annotation"}


def test_health_follows_the_database_the_store_and_the_bus(tmp_path, private_servers):
    """For each of PostgreSQL (halted), MinIO (halted) and the bus (its folder moved away): NOT_SERVING naming it
    within a few periods, in the health check, `radlab health`, the gauge and one log line, then SERVING again once
    it is back; the overall "" (the chart's readiness probe) follows, the liveness name never moves."""
    urls, servers = private_servers
    bus_dir = tmp_path / "bus"
    env = {"RADLAB_DB": urls["postgres"], "RADLAB_STORE": urls["minio"], "RADLAB_BUS": f"local://{bus_dir}/bus.sqlite",
           "RADLAB_READINESS_PERIOD_S": str(PERIOD_S), "RADLAB_READINESS_TIMEOUT_S": "1"}
    outages: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        ("database", lambda: servers["postgres"].run("halt"), lambda: servers["postgres"].run("start")),
        ("store", lambda: servers["minio"].run("halt"), lambda: servers["minio"].run("start")),
        ("bus", lambda: bus_dir.rename(tmp_path / "bus-away"), lambda: (tmp_path / "bus-away").rename(bus_dir)),
    ]
    with Stack(tmp_path / "home", ("serve", "annotation"), env) as stack:
        assert annotation_health(stack.grpc_addr) == ("SERVING", "")
        assert dependency_up(stack.metrics_port) == {"database": 1, "bus": 1, "store": 1}
        for dependency, take_away, bring_back in outages:
            take_away()
            wait_until(lambda: annotation_health(stack.grpc_addr) == ("NOT_SERVING", f"{dependency} unreachable"),
                       f"annotation NOT_SERVING once its {dependency} is gone", WAIT_S, PERIOD_S / 2)
            assert dependency_up(stack.metrics_port)[dependency] == 0
            with grpc.insecure_channel(stack.grpc_addr) as channel:
                health = health_pb2_grpc.HealthStub(channel)
                overall = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status
                alive = health.Check(health_pb2.HealthCheckRequest(service="liveness"), timeout=5).status
            assert (overall, alive) == (health_pb2.HealthCheckResponse.NOT_SERVING, health_pb2.HealthCheckResponse.SERVING)
            if dependency == "database":
                cli = subprocess.run([sys.executable, "-m", "radlab.cli", "health"], capture_output=True, text=True,
                                     env=os.environ | {"RADLAB_URL": stack.grpc_addr, "RADLAB_TOKEN": "health-is-open"},
                                     timeout=60)
                assert cli.returncode == 1 and "annotation     NOT_SERVING (database unreachable)" in cli.stdout, cli.stdout
            bring_back()
            wait_until(lambda: annotation_health(stack.grpc_addr) == ("SERVING", ""),
                       f"annotation SERVING once its {dependency} is back", WAIT_S, PERIOD_S / 2)
            assert dependency_up(stack.metrics_port)[dependency] == 1
    transitions = [json.loads(line)["message"] for line in stack.log.read_text().splitlines()
                   if line.startswith("{") and json.loads(line).get("logger") == "shared.readiness"]
    assert [message.split(" (")[0].split(" answers")[0] for message in transitions] == [
        "the database of annotation is unreachable", "the database of annotation",
        "the store is unreachable", "the store", "the bus is unreachable", "the bus"], transitions
