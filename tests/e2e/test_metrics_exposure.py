"""Where `radlab serve` exposes its metrics: on gRPC's interface unless RADLAB_METRICS_HOST names another."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from shared.config import Settings
from shared.stack import Stack

# Linux routes all of 127.0.0.0/8 to the loopback device: a port bound to every interface (0.0.0.0) answers on
# 127.0.0.2 as it would on a pod's or host's network address, one bound to 127.0.0.1 does not.
ANOTHER_ADDRESS = "127.0.0.2"


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.mark.parametrize(
    ("env", "host"),
    [({}, "127.0.0.1"), ({"RADLAB_GRPC_ADDR": "0.0.0.0:50051"}, "0.0.0.0"), ({"RADLAB_GRPC_ADDR": "[::1]:50051"}, "::1"),
     ({"RADLAB_GRPC_ADDR": "127.0.0.1:50051", "RADLAB_METRICS_HOST": "0.0.0.0"}, "0.0.0.0")],
)
def test_metrics_listen_where_grpc_does_unless_told_otherwise(env, host):
    """The metrics interface defaults to the host of RADLAB_GRPC_ADDR; RADLAB_METRICS_HOST overrides it."""
    assert Settings.from_env(env).metrics_host == host


def test_served_metrics_are_not_reachable_from_other_interfaces_by_default(tmp_path):
    """gRPC on 127.0.0.1 used to come with metrics on 0.0.0.0: now /metrics answers on 127.0.0.1 only, and on every
    interface only when RADLAB_METRICS_HOST=0.0.0.0 asks for it (as the Helm chart does for Prometheus), which also
    shows that this machine reaches every-interface ports on ANOTHER_ADDRESS, so the first refusal means something."""
    with Stack(tmp_path / "home", ("serve", "workflow")) as stack:
        page = urllib.request.urlopen(f"http://127.0.0.1:{stack.metrics_port}/metrics", timeout=5).read().decode()
        assert "radlab_rpc_duration_seconds" in page
        assert not answers(ANOTHER_ADDRESS, stack.metrics_port)
    with Stack(tmp_path / "home", ("serve", "workflow"), env={"RADLAB_METRICS_HOST": "0.0.0.0"}) as stack:
        assert answers(ANOTHER_ADDRESS, stack.metrics_port)
