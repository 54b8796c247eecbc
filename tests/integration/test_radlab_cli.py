"""`radlab` against a deployment it cannot use: nothing listening, or a token it refuses, is one line saying what to do."""

from __future__ import annotations

import pytest

from radlab.cli import main
from shared.auth import issue_token
from shared.config import Settings
from shared.runtime import Runtime
from shared.stack import free_port

KEY = "radlab-cli-test-key-of-at-least-32-bytes"


@pytest.fixture(scope="module")
def address(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    settings = Settings.from_env({"RADLAB_HOME": str(home), "RADLAB_GRPC_ADDR": "127.0.0.1:0", "RADLAB_TOKEN_KEY": KEY})
    runtime = Runtime(["annotation"], settings)
    runtime.start()
    yield runtime.address
    runtime.stop(0)


def run(argv: list[str], url: str, token: str, monkeypatch, capsys) -> tuple[int, list[str]]:
    monkeypatch.setenv("RADLAB_URL", url)
    monkeypatch.setenv("RADLAB_TOKEN", token)
    code = main(argv)
    return code, capsys.readouterr().err.splitlines()


def test_a_server_that_is_not_running_is_named_with_how_to_start_one(tmp_path, monkeypatch, capsys):
    scan = tmp_path / "scan.dcm"
    scan.write_bytes(b"bytes")
    nobody = f"127.0.0.1:{free_port()}"
    code, lines = run(["upload", str(scan), "--dataset", "d"], nobody, "token", monkeypatch, capsys)
    assert code == 1 and lines[0].startswith("radlab: UNAVAILABLE") and len(lines) == 2
    assert f"running at {nobody} (RADLAB_URL, host:port)?" in lines[1] and "`radlab up`" in lines[1]


def test_a_token_of_another_deployment_is_refused_with_how_to_get_one(address, monkeypatch, capsys):
    foreign = issue_token(b"another-deployments-key-of-32-bytes!", subject="s", role="admin", tenant="default")
    code, lines = run(["datasets", "list"], address, foreign, monkeypatch, capsys)
    assert code == 1 and lines[0].startswith("radlab: UNAUTHENTICATED: invalid token") and len(lines) == 2
    assert "RADLAB_TOKEN" in lines[1] and "`radlab token create`" in lines[1]
    own = issue_token(KEY.encode(), subject="s", role="admin", tenant="default")
    assert run(["datasets", "list"], address, own, monkeypatch, capsys) == (0, [])


def test_a_path_that_cannot_be_uploaded_is_named_before_anything_is_sent(tmp_path, monkeypatch, capsys):
    """A missing path, an empty folder and a DICOMDIR that is not one: one line each, no server asked."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "DICOMDIR").write_text("not a DICOM file set")
    nobody = f"127.0.0.1:{free_port()}"
    for path, expected in ((tmp_path / "nowhere", "does not exist"), (tmp_path / "empty", "holds no files"),
                           (tmp_path / "media" / "DICOMDIR", "is not a readable DICOMDIR; upload the folder")):
        code, lines = run(["upload", str(path), "--dataset", "d"], nobody, "token", monkeypatch, capsys)
        assert code == 1 and len(lines) == 1 and lines[0].startswith("radlab: ") and expected in lines[0], lines
