"""Radlab's processes as children, for `make run`, tests and benchmarks: `radlab up`, or replicas of each service."""

from __future__ import annotations

import collections
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from radlab.client import Client
from shared.bus.kafka import KafkaBus
from shared.consumer import consumer_group


JOBS = Path(__file__).resolve().parents[1] / "deploy" / "images" / "jobs.py"  # the chart's install Jobs' entry point


class StackFailed(RuntimeError):
    """`radlab up` did not become ready, or did not stop cleanly."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Stack:
    """`radlab up` (or `radlab serve SERVICE`) on `home` with free ports; `with Stack(home) as stack:` waits until it serves."""

    def __init__(self, home: Path, command: tuple[str, ...] = ("up",), env: dict | None = None):
        self.home = home
        self.command = list(command)
        self.grpc_addr = f"127.0.0.1:{free_port()}"
        self.metrics_port = free_port()
        # `radlab up` serves the HTTP gateway too: on a free port unless the caller chose one.
        self.http_addr = (env or {}).get("RADLAB_HTTP_ADDR") or f"127.0.0.1:{free_port()}"
        self.env = dict(os.environ) | (env or {}) | {"RADLAB_HOME": str(home), "RADLAB_HTTP_ADDR": self.http_addr}
        self.process: subprocess.Popen | None = None
        self.log = home / "radlab-up.log"

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def start(self, timeout_s: float = 60.0) -> None:
        self.launch()
        self.wait_ready(timeout_s)

    def launch(self) -> None:
        """Start the process without waiting; `wait_ready` then waits until it serves (so several start at once)."""
        self.home.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "radlab.cli", *self.command, "--grpc-addr", self.grpc_addr, "--metrics-port", str(self.metrics_port)]
        with self.log.open("ab") as log:  # the child keeps its own copy of the handle
            self.process = subprocess.Popen(command, env=self.env, stdout=subprocess.PIPE, stderr=log, text=True)
        self._ready = threading.Event()
        process, ready = self.process, self._ready

        def watch() -> None:
            for line in process.stdout:
                if line.startswith("{") and json.loads(line).get("ready"):
                    ready.set()

        threading.Thread(target=watch, daemon=True).start()

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not self._ready.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise StackFailed(f"radlab {' '.join(self.command)} did not start; its log is {self.log}:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL, as when a pod's node dies: nothing is flushed, committed or handed over."""
        self.process.kill()
        self.process.wait()

    def events_handled(self) -> collections.Counter:
        """Events this process's consumers have handled so far, by (consumer group, event type), from its metrics."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        return collections.Counter({
            (sample.labels["consumer"], sample.labels["type"]): int(sample.value)
            for family in text_string_to_metric_families(text) if family.name == "radlab_events_handled"
            for sample in family.samples if sample.name == "radlab_events_handled_total"
        })

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM, then wait for the graceful stop; returns the exit code."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.wait_stopped(timeout_s)

    def wait_stopped(self, timeout_s: float = 30.0) -> int:
        """Wait for a process sent SIGTERM to stop (a second SIGTERM while it stops would end it at once); its exit code."""
        if self.process is None:
            return 0
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired as error:
            self.process.kill()
            raise StackFailed(f"radlab {' '.join(self.command)} did not stop within {timeout_s:.0f} s of SIGTERM") from error


class Replicas:
    """`count` processes of each service (`radlab serve SERVICE`), as the Helm chart runs a Deployment of `count` pods,
    all on the RADLAB_BUS, RADLAB_STORE and RADLAB_DB of `env`: each service one consumer group whose partitions its
    processes share. Every process has its own home, ports and log under `base`, and on Kafka its own client id
    (`radlab-<service>-<n>-<run>`), so the group's members can be told apart."""

    def __init__(self, base: Path, services: Sequence[str], count: int, env: Mapping[str, str]):
        self.env = dict(env)
        run = uuid.uuid4().hex[:6]  # a member left in a group by an earlier run is not taken for one of these
        self.client_ids = {name: [f"radlab-{name}-{n}-{run}" for n in range(count)] for name in services}
        self.processes = {
            name: [Stack(base / f"{name}-{n}", ("serve", name), env=self.env | _client_id(env, client_id))
                   for n, client_id in enumerate(ids)]
            for name, ids in self.client_ids.items()
        }

    def __enter__(self) -> Replicas:
        self.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def start(self, timeout_s: float = 120.0) -> None:
        """Start every process at once (as a rollout does), then wait until each serves."""
        every = [stack for stacks in self.processes.values() for stack in stacks]
        try:
            for stack in every:
                stack.launch()
            for stack in every:
                stack.wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> dict[str, list[int]]:
        """SIGTERM to every process still running, at once, then wait for each; exit codes by service."""
        for stacks in self.processes.values():
            for stack in stacks:
                if stack.process is not None and stack.process.poll() is None:
                    stack.process.send_signal(signal.SIGTERM)
        return {name: [stack.wait_stopped() for stack in stacks] for name, stacks in self.processes.items()}

    def install(self, partitions: int, timeout_s: float = 120.0) -> str:
        """The chart's install Jobs, all at once, before any service starts: deploy/images/jobs.py creates the topics
        with `partitions` (adding partitions to those with fewer) on a Kafka bus and migrates each service's schema on
        PostgreSQL; their output."""
        jobs = [["migrate", name] for name in self.processes] if self.env.get("RADLAB_DB", "").startswith("postgresql") else []
        if self.env.get("RADLAB_BUS", "").startswith("kafka://"):
            jobs.append(["topics", "--partitions", str(partitions), "--replication-factor", "1"])
        running = [subprocess.Popen([sys.executable, str(JOBS), *job], env=dict(os.environ) | self.env, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for job in jobs]
        outputs = []
        for job, process in zip(jobs, running):
            output = process.communicate(timeout=timeout_s)[0]
            if process.returncode != 0:
                raise StackFailed(f"jobs.py {' '.join(job)} failed:\n{output[-3000:]}")
            outputs.append(output)
        return "".join(outputs)

    def wait_for_partitions(self, timeout_s: float = 60.0) -> dict[str, dict[str, set[tuple[str, int]]]]:
        """On Kafka: wait until each service's consumer group is stable with exactly this run's processes of it as
        members, each holding partitions; the partitions by group and member client id."""
        bus = KafkaBus.from_url(self.env["RADLAB_BUS"])
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                held = {consumer_group(name): bus.group_members(consumer_group(name)) for name in self.processes}
                if all(set(held[consumer_group(name)]) == set(ids) and all(held[consumer_group(name)].values())
                       for name, ids in self.client_ids.items()):
                    return held
                if time.monotonic() > deadline:
                    raise StackFailed(f"consumer groups not shared by every replica after {timeout_s:.0f} s: {held}")
                time.sleep(0.5)
        finally:
            bus.close()

    def addresses(self) -> dict[str, str]:
        """Each service's gRPC address: its first process (the others consume events all the same)."""
        return {name: stacks[0].grpc_addr for name, stacks in self.processes.items()}

    def events_handled(self) -> dict[tuple[str, int], collections.Counter]:
        """Events each running process has handled, by (service, replica number); see `Stack.events_handled`."""
        return {(name, n): stack.events_handled() for name, stacks in self.processes.items()
                for n, stack in enumerate(stacks) if stack.process.poll() is None}


def _client_id(env: Mapping[str, str], client_id: str) -> dict[str, str]:
    """RADLAB_BUS with `client_id` added when it is a Kafka URL; nothing otherwise."""
    bus = env.get("RADLAB_BUS", "")
    if not bus.startswith("kafka://"):
        return {}
    return {"RADLAB_BUS": f"{bus}{'&' if '?' in bus else '?'}client_id={client_id}"}


@contextmanager
def routed_client(addresses: Mapping[str, str], token: str) -> Iterator[Client]:
    """One SDK client whose stub for each service reaches that service's own address (as a client behind an ingress that
    routes by gRPC service would); `addresses` names annotation, whose channel is the client's own. Closes them all."""
    clients = {name: Client(address, token) for name, address in addresses.items()}
    client = clients["annotation"]
    for name, each in clients.items():
        setattr(client, name, getattr(each, name))
    try:
        yield client
    finally:
        for each in clients.values():
            each.close()
