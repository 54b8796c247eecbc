"""The CI rule: with RADLAB_REQUIRE_INFRA=1 a skipped test fails the run, unless it is a GPU test."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO

SAMPLE = '''
import pytest

def test_needs_a_server():
    pytest.skip("server not running")

@pytest.mark.gpu
def test_needs_a_gpu():
    pytest.skip("no CUDA device")
'''


def run_sample(tmp_path, require_infra: bool) -> subprocess.CompletedProcess:
    sample = tmp_path / "test_sample.py"
    sample.write_text(SAMPLE)
    env = {key: value for key, value in os.environ.items() if key != "RADLAB_REQUIRE_INFRA"}
    if require_infra:
        env["RADLAB_REQUIRE_INFRA"] = "1"
    command = [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider",
               "-c", str(REPO / "pyproject.toml"), "--rootdir", str(REPO), str(sample)]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_a_skip_fails_when_infrastructure_is_required(tmp_path):
    """Under RADLAB_REQUIRE_INFRA=1 the skipped server test fails; the GPU test may still skip."""
    result = run_sample(tmp_path, require_infra=True)
    assert result.returncode == 1, result.stdout
    assert "1 failed, 1 skipped" in result.stdout
    assert "allows skips only for GPU tests: " in result.stdout and "server not running" in result.stdout


def test_skips_are_skips_on_a_developer_machine(tmp_path):
    """Without the variable both tests just skip."""
    result = run_sample(tmp_path, require_infra=False)
    assert result.returncode == 0, result.stdout
    assert "2 skipped" in result.stdout
