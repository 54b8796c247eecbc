"""Test-session rules: real data from RADLAB_DATA, and no silent skips where CI requires everything."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _require_infra() -> bool:
    return os.environ.get("RADLAB_REQUIRE_INFRA") == "1"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real-data folder (RADLAB_DATA, default ../shared/data); its absence fails, never skips."""
    path = Path(os.environ.get("RADLAB_DATA") or REPO.parent / "shared" / "data")
    if not path.is_dir():
        pytest.fail(f"real data not found at {path}: set RADLAB_DATA to the shared data folder")
    return path


def _server_url(name: str, request: pytest.FixtureRequest) -> str:
    """The URL of a real server for this test session: `RADLAB_TEST_<NAME>_URL` when `make infra-up`
    started it, else started here by scripts/infra.sh (and stopped when the session ends)."""
    configured = os.environ.get(f"RADLAB_TEST_{name.upper()}_URL")
    if configured:
        return configured
    script = str(REPO / "scripts" / "infra.sh")
    started = subprocess.run([script, "start", name], capture_output=True, text=True, timeout=1200)
    if started.returncode != 0:
        pytest.fail(f"could not start {name} (scripts/infra.sh start {name}):\n{started.stderr[-3000:]}")
    request.addfinalizer(lambda: subprocess.run([script, "stop", name], capture_output=True, timeout=120))
    return started.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def kafka_url(request) -> str:
    """A real Apache Kafka broker (KRaft), e.g. kafka://127.0.0.1:19092."""
    return _server_url("kafka", request)


@pytest.fixture(scope="session")
def minio_url(request) -> str:
    """A real MinIO server, e.g. s3://ACCESS:SECRET@127.0.0.1:19000."""
    return _server_url("minio", request)


@pytest.fixture(scope="session")
def postgres_url(request) -> str:
    """A real PostgreSQL cluster, e.g. postgresql://radlab@127.0.0.1:15432/radlab."""
    return _server_url("postgres", request)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With RADLAB_REQUIRE_INFRA=1 a skip is a failure, except for tests marked `gpu`."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and _require_infra() and item.get_closest_marker("gpu") is None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, but RADLAB_REQUIRE_INFRA=1 allows skips only for GPU tests: {reason}"
