"""The `radlab` command as a user runs it: in a subprocess, with RADLAB_HOME in a temporary folder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from radlab.tokens import DAY_S, issue_token, read_claims, token_key
from shared.auth import TokenVerifier
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
    principal = TokenVerifier(token_key(home, None)).verify(token)
    assert (principal.subject, principal.role, principal.tenant, principal.vendor) == ("alice", "annotator", "hospital-a", "")


def test_token_create_signs_with_radlab_token_key_when_set(home):
    """With RADLAB_TOKEN_KEY set the token verifies with that key and no key file is written."""
    key = "k" * 48
    done = radlab(home, "token", "create", "--role", "vendor", "--vendor", "acme-labs", RADLAB_TOKEN_KEY=key)
    assert done.returncode == 0, done.stderr
    principal = TokenVerifier(key).verify(done.stdout.strip())
    assert (principal.role, principal.vendor) == ("vendor", "acme-labs")
    assert not (home / "token.key").exists()


def refused_in_one_line(done: subprocess.CompletedProcess) -> str:
    """The one line a refused command printed on stderr, after checking it printed nothing else and failed."""
    assert done.returncode == 1 and done.stdout == "", (done.stdout, done.stderr)
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr, done.stderr
    return done.stderr


@pytest.mark.parametrize("ttl_days", ["-1", "0", "nan", "inf", "1e9", "91"])
def test_token_create_refuses_a_lifetime_that_is_not_above_0_and_within_the_maximum(home, ttl_days):
    """`--ttl-days -1` printed a token already expired without a word and `--ttl-days 1e9` one the server accepted:
    both are refused in one line that says the bounds, and no token is printed."""
    message = refused_in_one_line(radlab(home, "token", "create", "--role", "admin", "--ttl-days", ttl_days))
    assert "more than 0 and at most 90 days (RADLAB_TOKEN_MAX_TTL_DAYS)" in message


def test_token_create_follows_radlab_token_max_ttl_days(home):
    """With RADLAB_TOKEN_MAX_TTL_DAYS=7 a week's token is made and 8 days refused; a nonsense setting says what it wants."""
    made = radlab(home, "token", "create", "--role", "admin", "--ttl-days", "7", RADLAB_TOKEN_MAX_TTL_DAYS="7")
    assert made.returncode == 0, made.stderr
    claims = read_claims(made.stdout.strip())
    assert claims["exp"] - claims["iat"] == 7 * DAY_S
    longer = radlab(home, "token", "create", "--role", "admin", "--ttl-days", "8", RADLAB_TOKEN_MAX_TTL_DAYS="7")
    assert "at most 7 days" in refused_in_one_line(longer)
    nonsense = radlab(home, "token", "create", "--role", "admin", RADLAB_TOKEN_MAX_TTL_DAYS="1e9")
    assert "RADLAB_TOKEN_MAX_TTL_DAYS must be a number of days" in refused_in_one_line(nonsense)


@pytest.mark.parametrize(("option", "value"), [("--tenant", "../../x"), ("--tenant", "A/nifti"), ("--subject", "../x"),
                                               ("--tenant", "x" * 100000)])
def test_token_create_refuses_ids_that_could_escape_their_place_in_one_short_line(home, option, value):
    """A tenant (or subject) with separators, upper case or no end is refused, naming the option's claim, and the
    message quotes it cut short."""
    message = refused_in_one_line(radlab(home, "token", "create", "--role", "admin", option, value))
    assert option.removeprefix("--") in message and len(message) < 300


def test_token_create_says_the_tokens_id_and_how_to_revoke_it(home):
    """Besides the token on stdout, one line on stderr names its id (what `token revoke` takes) and its expiry."""
    done = radlab(home, "token", "create", "--role", "manager", "--ttl-days", "1")
    assert done.returncode == 0, done.stderr
    token_id = read_claims(done.stdout.strip())["jti"]
    assert f"radlab token revoke {token_id}" in done.stderr and done.stderr.count("\n") == 1


def test_token_revoke_of_something_that_is_not_a_token_is_a_one_line_error(home):
    """`token revoke` given text with dots that is no token says so before calling anyone."""
    admin = issue_token("k" * 48, subject="alice", role="admin", tenant="hospital-a")
    message = refused_in_one_line(radlab(home, "token", "revoke", "not.a.token", RADLAB_TOKEN=admin,
                                         RADLAB_URL=f"127.0.0.1:{closed_port()}"))
    assert "not a Radlab token" in message


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
