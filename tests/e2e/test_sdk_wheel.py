"""The SDK as a vendor installs it: the base wheel alone, in a fresh virtualenv, against a running `radlab up`.

The fresh virtualenv installs the wheel's four dependencies at the versions requirements.lock pins, from the
package index (pip's cache after the first run on a machine)."""

from __future__ import annotations

import email
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from shared.stack import Stack
from tests.conftest import REPO

SDK_REQUIREMENTS = {"grpcio", "grpcio-health-checking", "protobuf", "tqdm"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The base `radlab` wheel, built from this checkout."""
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir", str(out), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr
    [built] = out.glob("radlab-*.whl")
    return built


@pytest.fixture(scope="module")
def sdk(tmp_path_factory, wheel) -> Path:
    """The bin/ folder of a fresh virtualenv holding the base wheel and nothing of the server."""
    venv = tmp_path_factory.mktemp("sdk-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--constraint", str(REPO / "requirements.lock"), str(wheel)],
        capture_output=True, text=True, timeout=600,
    )
    assert install.returncode == 0, install.stderr
    return venv / "bin"


def run(sdk: Path, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """`radlab ARGS` from the fresh virtualenv, outside the checkout, with no RADLAB_* or PYTHON* settings but `env`."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith(("RADLAB_", "PYTHON"))}
    return subprocess.run([sdk / "radlab", *args], cwd=cwd, env=clean | env, capture_output=True, text=True, timeout=300)


def test_the_base_wheel_holds_the_sdk_alone(wheel):
    """No services/ or shared/ module, and only the SDK's four dependencies outside the extras."""
    info = "-".join(wheel.name.split("-")[:2]) + ".dist-info"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = email.message_from_bytes(archive.read(f"{info}/METADATA"))
    assert {name.split("/")[0] for name in names} == {"radlab", info}
    assert "radlab/ingestion/v1/ingestion_service_pb2.py" in names and "radlab/cli.py" in names
    required = {re.split(r"[<>=!~; \[]", line, maxsplit=1)[0] for line in metadata.get_all("Requires-Dist") if "extra ==" not in line}
    assert required == SDK_REQUIREMENTS


def test_the_sdk_alone_uploads_and_lists_datasets_against_radlab_up(sdk, tmp_path, data_dir):
    """Token, dataset, upload with --wait and listing, all from the fresh virtualenv; the server runs from the checkout."""
    with Stack(tmp_path / "home") as stack:
        env = {"RADLAB_URL": stack.grpc_addr, "RADLAB_HOME": str(stack.home)}
        made = run(sdk, "token", "create", "--role", "manager", "--subject", "vendor-bot", cwd=tmp_path, **env)
        assert made.returncode == 0, made.stderr
        env["RADLAB_TOKEN"] = made.stdout.strip()
        created = run(sdk, "datasets", "create", "sdk wheel", cwd=tmp_path, **env)
        assert created.returncode == 0, created.stderr
        dataset_id = json.loads(created.stdout)["datasetId"]
        folder = data_dir / "dcm_qa_ct" / "In" / "GE"
        uploaded = run(sdk, "upload", str(folder), "--dataset", dataset_id, "--wait", cwd=tmp_path, **env)
        assert uploaded.returncode == 0, uploaded.stderr
        assert "COMPLETED, 1 volume(s)" in uploaded.stdout
        listed = run(sdk, "datasets", "list", cwd=tmp_path, **env)
        assert listed.returncode == 0 and f"{dataset_id}  sdk wheel" in listed.stdout


@pytest.mark.parametrize("command", [("up",), ("serve", "ingestion"), ("anonymize", "a", "b"), ("volume", "a", "b.nii.gz"),
                                     ("interpolate", "a.nii.gz", "b.nii.gz", "--key-slices", "0,2")])
def test_server_commands_name_the_missing_extra_in_one_line(sdk, tmp_path, command):
    """The commands that run server code say which extra to install, in one line, with no traceback."""
    done = run(sdk, *command, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "pip install 'radlab[server]'" in done.stderr and "Traceback" not in done.stderr
