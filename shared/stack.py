"""Starting and stopping `radlab up` as a child process: for `make run` and the end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path


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
        self.home.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "radlab.cli", *self.command, "--grpc-addr", self.grpc_addr, "--metrics-port", str(self.metrics_port)]
        with self.log.open("ab") as log:  # the child keeps its own copy of the handle
            self.process = subprocess.Popen(command, env=self.env, stdout=subprocess.PIPE, stderr=log, text=True)
        ready = threading.Event()
        lines: list[str] = []

        def watch() -> None:
            for line in self.process.stdout:
                lines.append(line)
                if line.startswith("{") and json.loads(line).get("ready"):
                    ready.set()

        threading.Thread(target=watch, daemon=True).start()
        deadline = time.monotonic() + timeout_s
        while not ready.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise StackFailed(f"radlab up did not start; its log is {self.log}:\n{self.log.read_text()[-3000:]}")

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM, then wait for the graceful stop; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired as error:
            self.process.kill()
            raise StackFailed(f"radlab up did not stop within {timeout_s:.0f} s of SIGTERM") from error
