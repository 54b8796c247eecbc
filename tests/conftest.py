"""Test-session rules: real data from RADLAB_DATA, and no silent skips where CI requires everything."""

from __future__ import annotations

import os
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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With RADLAB_REQUIRE_INFRA=1 a skip is a failure, except for tests marked `gpu`."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and _require_infra() and item.get_closest_marker("gpu") is None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, but RADLAB_REQUIRE_INFRA=1 allows skips only for GPU tests: {reason}"
