"""`radlab` against a deployment it cannot use: nothing listening or a token it refuses is one line saying what to do;
the SDK waits a moment for a dataset ingestion has not heard of yet, then refuses it saying how to create one."""

from __future__ import annotations

import threading
import time

import grpc
import pytest
import sqlalchemy as sa

from radlab.annotation.v1 import events_pb2 as annotation_events
from radlab.cli import main
from radlab.client import Client
from radlab.ingestion.v1 import ingestion_service_pb2 as ingestion_pb
from radlab.tokens import issue_token
from services.ingestion import store
from services.ingestion import store as ingestion_store
from shared.config import Settings
from shared.events import Event, envelope_for
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


def test_an_upload_waits_for_a_dataset_created_a_moment_ago_and_one_never_created_is_refused(tmp_path, data_dir):
    """Ingestion hears of a dataset through annotation's DatasetCreated, after CreateDataset returned: here it arrives
    1 s after the upload starts (delivered to ingestion's handler by hand, so the delay is certain) and the SDK's upload
    waits for it; a dataset nobody created is refused after the SDK's retries, with how to create one."""
    settings = Settings.from_env({"RADLAB_HOME": str(tmp_path / "home"), "RADLAB_GRPC_ADDR": "127.0.0.1:0", "RADLAB_TOKEN_KEY": KEY})
    runtime = Runtime(["ingestion"], settings)
    runtime.start()
    [service] = runtime.services
    token = issue_token(KEY.encode(), subject="s", role="manager", tenant="default")
    scan = data_dir / "dcm_qa_deident/In/00001.dcm"
    created = annotation_events.DatasetCreated(dataset_id="chest-ct", name="chest CT", creator="s")
    event = Event(envelope_for(created, source="radlab.annotation", subject=created.dataset_id, tenant="default"), created)

    def announce() -> None:
        with service.database.unit_of_work() as uow:
            ingestion_store.datasets.on_dataset_created(uow, event)

    late = threading.Timer(1.0, announce)
    try:
        with Client(runtime.address, token) as client:
            started = time.monotonic()
            late.start()
            upload = client.upload(scan, "chest-ct")
            assert upload.state == ingestion_pb.UPLOAD_STATE_UPLOADED and upload.dataset_id == "chest-ct"
            assert time.monotonic() - started >= 1.0
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as refused:
                client.upload(scan, "no-such-dataset")
            assert time.monotonic() - started >= 6.0  # the SDK's attempts waited before giving up
        assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION and refused.value.details() == (
            "dataset no-such-dataset is not known: create it with `radlab datasets create` (or, if you just did, retry in a moment)"
        )
        with service.database.read() as conn:  # nothing was kept of the refused attempts
            assert conn.execute(sa.select(store.uploads.c.dataset_id)).scalars().all() == ["chest-ct"]
    finally:
        late.cancel()
        runtime.stop(0)
