"""The `radlab` command as a user runs it: in a subprocess, with RADLAB_HOME in a temporary folder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from radlab.tokens import issue_token, token_key
from shared.auth import verify_token
from tests.conftest import REPO


@pytest.fixture
def home(tmp_path):
    return tmp_path / "radlab-home"


def radlab(home, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run `radlab ARGS` with RADLAB_HOME=home, no RADLAB_* settings from the caller, plus `env`."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("RADLAB_")}
    return subprocess.run(
        [sys.executable, "-m", "radlab.cli", *args],
        cwd=REPO, env=clean | {"RADLAB_HOME": str(home)} | env, capture_output=True, text=True, timeout=60,
    )


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_token_create_prints_one_token_signed_with_the_homes_key(home):
    """`token create --role annotator` prints one line: a token the home's key verifies, for that role."""
    done = radlab(home, "token", "create", "--role", "annotator", "--subject", "alice", "--tenant", "hospital-a")
    assert done.returncode == 0, done.stderr
    [token] = done.stdout.splitlines()
    principal = verify_token(token_key(home, None), token)
    assert (principal.subject, principal.role, principal.tenant, principal.vendor) == ("alice", "annotator", "hospital-a", "")


def test_token_create_signs_with_radlab_token_key_when_set(home):
    """With RADLAB_TOKEN_KEY set the token verifies with that key and no key file is written."""
    key = "k" * 48
    done = radlab(home, "token", "create", "--role", "vendor", "--vendor", "acme-labs", RADLAB_TOKEN_KEY=key)
    assert done.returncode == 0, done.stderr
    principal = verify_token(key, done.stdout.strip())
    assert (principal.role, principal.vendor) == ("vendor", "acme-labs")
    assert not (home / "token.key").exists()


def test_a_vendor_token_without_a_vendor_is_a_one_line_error(home):
    """`token create --role vendor` without --vendor exits 1 with one line saying what is missing, no traceback."""
    done = radlab(home, "token", "create", "--role", "vendor")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().count("\n") == 0 and "--vendor" in done.stderr
    assert "Traceback" not in done.stderr


def test_health_with_nothing_listening_says_to_run_radlab_up(home):
    """`health` against a closed port exits non-zero and tells the user to start Radlab with `radlab up`."""
    token = issue_token("k" * 48, subject="alice", role="admin", tenant="hospital-a")
    done = radlab(home, "health", RADLAB_URL=f"127.0.0.1:{closed_port()}", RADLAB_TOKEN=token)
    assert done.returncode != 0
    assert "radlab up" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_datasets_list_without_a_token_says_to_set_radlab_token(home):
    """`datasets list` with no RADLAB_TOKEN exits 1 saying to set it, without a traceback."""
    done = radlab(home, "datasets", "list")
    assert done.returncode == 1
    assert "set RADLAB_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr


def test_bare_radlab_prints_usage(home):
    """`radlab` with no command prints usage listing the commands, and does not claim success."""
    done = radlab(home)
    assert done.returncode != 0
    assert done.stdout.startswith("usage: radlab")
    for command in ("up", "serve", "token", "health", "datasets"):
        assert command in done.stdout
    assert "Traceback" not in done.stderr
