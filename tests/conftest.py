"""Test-session rules: real data from RADLAB_DATA, no silent skips where CI requires everything, waits that poll."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa

from shared import config

REPO = Path(__file__).resolve().parent.parent
T = TypeVar("T")


class Clock:
    """A job worker's clock, moved on by the test: a claim lapses when the test says, not CLAIM_S later."""

    def __init__(self):
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def wait_until(condition: Callable[[], T], what: str, timeout_s: float = 30.0, interval_s: float = 0.05) -> T:
    """Call `condition` until it returns something true, and return that; fail the test, saying what it waited
    for, once `timeout_s` have passed. An assertion in `condition` ends the wait at once."""
    deadline = time.monotonic() + timeout_s
    while True:
        outcome = condition()
        if outcome:
            return outcome
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout_s} s for {what}")
        time.sleep(interval_s)


def installed_tool(name: str) -> str:
    """The path of a tool scripts/tools.sh provides (installing it when missing); failing to get it fails the test."""
    found = subprocess.run([str(REPO / "scripts" / "tools.sh"), name], capture_output=True, text=True, timeout=600)
    if found.returncode != 0:
        pytest.fail(f"scripts/tools.sh {name} could not provide {name}:\n{found.stderr[-3000:]}")
    return found.stdout.strip().splitlines()[-1]


def _require_infra() -> bool:
    return os.environ.get("RADLAB_REQUIRE_INFRA") == "1"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real-data folder (RADLAB_DATA, default the repository's data/); its absence fails, never skips."""
    path = config.data_dir()
    if not path.is_dir():
        pytest.fail(f"real data not found at {path}: set RADLAB_DATA to a copy of the repository's data/ folder")
    return path


def _server_url(name: str, request: pytest.FixtureRequest) -> str:
    """The URL of a real server for this test session: `RADLAB_TEST_<NAME>_URL` when `make infra-up`
    started it, else started here by scripts/infra.sh and stopped when the session ends — unless it was
    already running, started by another run (a `make test` beside this one) that will stop it itself."""
    configured = os.environ.get(f"RADLAB_TEST_{name.upper()}_URL")
    if configured:
        return configured
    script = str(REPO / "scripts" / "infra.sh")
    started = subprocess.run([script, "start", name], capture_output=True, text=True, timeout=1200)
    if started.returncode != 0:
        pytest.fail(f"could not start {name} (scripts/infra.sh start {name}):\n{started.stderr[-3000:]}")
    if "already running" not in started.stderr:
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


@pytest.fixture(scope="session")
def orthanc_url(request) -> str:
    """A real PACS: Orthanc with its DICOMweb plugin (under /dicom-web/), e.g. http://127.0.0.1:18042."""
    return _server_url("orthanc", request)


def _admin_engine(url: sa.URL) -> sa.Engine:
    """An autocommit engine on the cluster of `url`, for CREATE / DROP DATABASE."""
    if url.password is None and os.environ.get("RADLAB_DB_PASSWORD"):
        url = url.set(password=os.environ["RADLAB_DB_PASSWORD"])
    return sa.create_engine(url.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")


@pytest.fixture
def postgres_database_url(postgres_url) -> str:
    """A new empty database on the session's cluster, dropped after the test: what tmp_path is to SQLite.

    The delivery contract counts every row of its worker's fixed `deliverytest` schema, so a database
    shared across tests (or across runs on a long-lived cluster) would carry earlier runs' rows.
    """
    base = sa.make_url(postgres_url)
    name = f"radlab_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(base)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With RADLAB_REQUIRE_INFRA=1 a skip is a failure, except for tests marked `gpu`."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and _require_infra() and item.get_closest_marker("gpu") is None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, but RADLAB_REQUIRE_INFRA=1 allows skips only for GPU tests: {reason}"
