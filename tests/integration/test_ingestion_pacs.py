"""Scans straight from a PACS: Orthanc pushes by C-STORE, Radlab pulls over DICOMweb, a client stores by STOW-RS; each
arrives de-identified and built like an upload of the same files, and bad input is refused with a clear message."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pydicom
import pytest
import sqlalchemy as sa
from dicomweb_client.api import DICOMwebClient
from pynetdicom import AE
from pynetdicom.sop_class import RTStructureSetStorage, Verification

from radlab import cli
from radlab.annotation.v1 import events_pb2 as annotation_events
from radlab.ingestion.v1 import ingestion_service_pb2 as pb
from radlab.tokens import issue_token
from radlab.type.v1 import geometry_pb2
from services.ingestion import handlers, store
from services.ingestion.handlers import arrivals, uploads
from services.ingestion.sources import Source, parse_sources
from shared.auth import Principal
from shared.config import Settings
from shared.objectstore import QUARANTINE_BUCKET
from shared.runtime import Runtime
from shared.stack import free_port
from tests.conftest import wait_until
from tests.integration.test_ingestion_service import (
    annotation_fact, deliver, outbox, ports, requests, rows_text, zipped,  # noqa: F401 (ports: a fixture)
)

TENANT = "hospital-a"
KEY = "pacs-test-key-of-at-least-32-bytes-long!"
MANAGER = Principal("manager-1", "manager", TENANT)
MR = "dcm_qa_deident/In"  # one MR series; its first MR_SLICES slices keep the pushes small
MR_SLICES = 12
CT = "dcmqi/data/segmentations/ct-3slice"
MR_SHAPE, CT_SHAPE = (MR_SLICES, 256, 256), (3, 512, 512)  # [k, j, i]
STRUCTURE_SET = "rt_utils/tests/mock_data/rt.dcm"
PUSHED, PULLED, STORED, UPLOADED = "pacs-pushed", "pacs-pulled", "stow-stored", "uploaded"
MODALITY = "CT_SCANNER_1"  # a modality's own AE title, bound for the tests that send as a modality would


def originals(data_dir: Path) -> list[Path]:
    return sorted((data_dir / MR).glob("*.dcm"))[:MR_SLICES] + sorted((data_dir / CT).glob("*.dcm"))


@pytest.fixture(scope="module")
def radlab(tmp_path_factory, orthanc_url):
    """Ingestion and anonymization served in-process, with Orthanc's AE title and MODALITY bound as sources (a 0.5 s
    quiet period), their datasets announced; yields the runtime, whose settings name its SCP and STOW-RS ports."""
    orthanc_ae = _orthanc(orthanc_url, "/system")["DicomAet"]
    settings = Settings.from_env({
        "RADLAB_HOME": str(tmp_path_factory.mktemp("home")), "RADLAB_GRPC_ADDR": "127.0.0.1:0", "RADLAB_TOKEN_KEY": KEY,
        "RADLAB_DICOM_PORT": str(free_port()), "RADLAB_DICOMWEB_PORT": str(free_port()), "RADLAB_DICOM_QUIET_S": "0.5",
        "RADLAB_DICOM_SOURCES": f"{orthanc_ae}={TENANT}/{PUSHED}, {MODALITY}={TENANT}/{STORED}",
    })
    runtime = Runtime(["ingestion", "anonymization"], settings)
    runtime.start()
    for dataset in (PUSHED, PULLED, STORED, UPLOADED):
        deliver(ingestion_ports(runtime), annotation_fact(annotation_events.DatasetCreated(dataset_id=dataset, name=dataset)))
    try:
        yield runtime
    finally:
        runtime.stop(0)


def ingestion_ports(runtime: Runtime) -> handlers.Ports:
    [ingestion] = [service for service in runtime.services if service.name == "ingestion"]
    return ingestion.ports


def _orthanc(url: str, path: str, body=None, method: str | None = None):
    """Orthanc's REST API: JSON in (or DICOM bytes), JSON out."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method or ("POST" if data is not None else "GET"))
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = response.read()
    return json.loads(answer) if answer else None


@pytest.fixture
def in_orthanc(orthanc_url, data_dir):
    """The MR slices and the CT stored in Orthanc (by its REST API), removed again after the test: their Orthanc ids."""
    ids = [_orthanc(orthanc_url, "/instances", path.read_bytes())["ID"] for path in originals(data_dir)]
    yield ids
    for study in {_orthanc(orthanc_url, f"/instances/{instance}/study")["ID"] for instance in ids}:
        _orthanc(orthanc_url, f"/studies/{study}", method="DELETE")


def finished_uploads(ingestion: handlers.Ports, dataset: str, count: int) -> list[pb.Upload]:
    """The dataset's uploads once `count` of them are COMPLETED or FAILED (and no more arrive meanwhile)."""
    def done():
        found = uploads.list_uploads(ingestion, MANAGER, dataset, 0, 0, 50)[0]
        finished = [upload for upload in found if upload.state in (pb.UPLOAD_STATE_COMPLETED, pb.UPLOAD_STATE_FAILED)]
        assert len(found) <= count, f"{len(found)} uploads in {dataset}, not {count}"
        return finished if len(finished) == count else None
    return wait_until(done, f"{count} finished upload(s) in {dataset}", timeout_s=120)


def volumes_of(ingestion: handlers.Ports, found: list[pb.Upload]) -> dict[tuple, tuple]:
    """Each built volume's voxels and affine, by shape (the MR and the CT differ in shape)."""
    built = {}
    for upload in found:
        assert upload.state == pb.UPLOAD_STATE_COMPLETED, upload.failure_reason
        for volume_id in upload.volume_ids:
            with ingestion.db.read() as conn:
                row = conn.execute(sa.select(store.volumes).where(store.volumes.c.volume_id == volume_id)).one()
            ref = geometry_pb2.VolumeRef.FromString(row.volume_ref)
            stored = ingestion.volumes.read(ref.bucket, ref.key_prefix)
            built[stored.array.shape] = (stored.array, stored.affine)
    return built


@pytest.fixture(scope="module")
def uploaded(radlab, data_dir):
    """The upload path's volumes of the same files: one zip upload into UPLOADED, built by the served runtime."""
    ingestion = ingestion_ports(radlab)
    files = {f"DOE^JOHN/{number:03d}.dcm": path.read_bytes() for number, path in enumerate(originals(data_dir))}
    uploads.upload(ingestion, MANAGER, requests(zipped(files), dataset=UPLOADED))
    built = volumes_of(ingestion, finished_uploads(ingestion, UPLOADED, 1))
    assert sorted(built) == [CT_SHAPE, MR_SHAPE]
    return built


def assert_same_volumes(built: dict, expected: dict) -> None:
    assert sorted(built) == sorted(expected)
    for shape, (array, affine) in built.items():
        assert np.array_equal(array, expected[shape][0]) and array.dtype == expected[shape][0].dtype
        assert np.allclose(affine, expected[shape][1], atol=1e-6)


def assert_no_phi(radlab: Runtime, data_dir: Path) -> None:
    """No original patient name, patient id, study or instance UID in any file Radlab keeps (objects, databases, the
    bus) outside quarantine, and nothing of a PACS's left in quarantine. Each is looked for as a whole token: the MR's
    patient id, 99000, also occurs inside timestamps and sizes."""
    values = set()
    for path in originals(data_dir):
        header = pydicom.dcmread(path, stop_before_pixels=True)
        values |= {str(header.PatientName), header.PatientID, header.StudyInstanceUID, header.SOPInstanceUID}
    quarantine = radlab.adapters.settings.home / "objects" / QUARANTINE_BUCKET
    kept = [path for path in radlab.adapters.settings.home.rglob("*") if path.is_file() and quarantine not in path.parents]
    assert len(kept) > 10
    tokens = {value: re.compile(rb"(?<![0-9A-Za-z.])" + re.escape(value.encode()) + rb"(?![0-9A-Za-z.])") for value in values if value}
    for path in kept:
        data = path.read_bytes()
        assert not [value for value, token in tokens.items() if token.search(data)], path
    assert [info.key for info in ingestion_ports(radlab).objects.list(QUARANTINE_BUCKET, "pacs/")] == []


def test_orthanc_pushes_mr_and_ct_by_c_store_and_each_study_is_built_as_its_upload_is(radlab, in_orthanc, orthanc_url,
                                                                                       uploaded, data_dir):
    """Orthanc sends the MR and the CT study to Radlab's SCP (its modality `radlab` pointed at the test's port): after the
    quiet period each study is one upload, de-identified, its volume equal voxel for voxel to the upload path's."""
    ingestion = ingestion_ports(radlab)
    _orthanc(orthanc_url, "/modalities/radlab", {"AET": radlab.adapters.settings.dicom_ae_title, "Host": "127.0.0.1",
                                                 "Port": radlab.adapters.settings.dicom_port}, method="PUT")
    assert _orthanc(orthanc_url, "/modalities/radlab/echo", {}) == {}
    sent = _orthanc(orthanc_url, "/modalities/radlab/store", {"Resources": in_orthanc, "Synchronous": True})
    assert sent["InstancesCount"] == len(in_orthanc) and sent["FailedInstancesCount"] == 0
    pushed = finished_uploads(ingestion, PUSHED, 2)
    assert sorted(upload.file_count for upload in pushed) == [3, MR_SLICES]
    assert all(upload.uploader.startswith("pacs:") for upload in pushed)
    assert_same_volumes(volumes_of(ingestion, pushed), uploaded)
    assert_no_phi(radlab, data_dir)


def test_a_study_found_by_c_find_is_sent_by_c_move_and_built_as_its_upload_is(radlab, in_orthanc, orthanc_url, uploaded,
                                                                             data_dir, capsys):
    """`radlab pacs query --dimse` finds the CT study by C-FIND (Radlab calling as the modality Orthanc lists for this
    host); `radlab pacs move` has Orthanc send it by C-STORE to Radlab's SCP, where it becomes an upload of the dataset
    Orthanc's AE title is bound to, its volume equal voxel for voxel to the upload path's. An unknown calling AE title
    is refused with what to do."""
    ingestion, settings = ingestion_ports(radlab), radlab.adapters.settings
    system = _orthanc(orthanc_url, "/system")
    _orthanc(orthanc_url, "/modalities/radlab", {"AET": settings.dicom_ae_title, "Host": "127.0.0.1",
                                                 "Port": settings.dicom_port}, method="PUT")
    study = pydicom.dcmread(sorted((data_dir / CT).glob("*.dcm"))[0], stop_before_pixels=True).StudyInstanceUID
    dimse = ["--dimse", f"127.0.0.1:{system['DicomPort']}", "--called-ae", system["DicomAet"],
             "--calling-ae", settings.dicom_ae_title]
    before = {upload.upload_id for upload in uploads.list_uploads(ingestion, MANAGER, PUSHED, 0, 0, 50)[0]}

    assert cli.main(["pacs", "query", *dimse, "--study", study]) == 0
    listed = capsys.readouterr()
    assert listed.out.split()[:1] == [study] and "3 instance(s)" in listed.out and "1 study(ies) at" in listed.err
    assert cli.main(["pacs", "move", *dimse, "--study", study, "--destination", settings.dicom_ae_title]) == 0
    assert f"3 instance(s) sent to {settings.dicom_ae_title}" in capsys.readouterr().out
    moved = [upload for upload in finished_uploads(ingestion, PUSHED, len(before) + 1) if upload.upload_id not in before]
    assert [upload.file_count for upload in moved] == [3] and moved[0].uploader.startswith("pacs:")
    assert list(volumes_of(ingestion, moved)) == [CT_SHAPE]
    assert_same_volumes(volumes_of(ingestion, moved), {CT_SHAPE: uploaded[CT_SHAPE]})

    assert cli.main(["pacs", "query", *dimse[:4], "--calling-ae", "STRANGER", "--study", study]) == 1
    refused = capsys.readouterr().err
    assert refused.startswith(f"radlab: {system['DicomAet']}@127.0.0.1") and "STRANGER" in refused, refused


class BreakingProxy:
    """An HTTP proxy to the PACS that goes away after `instances` WADO-RS instance retrievals: every later request
    gets its connection closed unanswered, as a PACS that went down half-way."""

    def __init__(self, target: str, instances: int):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if "/instances/" in self.path:
                    proxy.retrievals += 1
                    if proxy.retrievals > instances:
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                request = urllib.request.Request(target + self.path, headers={"Accept": self.headers.get("Accept", "*/*")})
                with urllib.request.urlopen(request, timeout=60) as response:
                    body = response.read()
                    self.send_response(response.status)
                    self.send_header("Content-Type", response.headers["Content-Type"])
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def log_message(self, *_args):
                pass

        self.retrievals = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_pull_over_dicomweb_resumes_after_the_pacs_goes_away_and_builds_what_the_upload_path_builds(
        radlab, in_orthanc, orthanc_url, uploaded, data_dir, tmp_path, monkeypatch, capsys):
    """`radlab pacs query` finds the MR study by patient; `radlab pacs pull` through a PACS that goes away after 5
    instances fails saying how far it got, with nothing in the dataset; run again, it skips the 5 received, uploads the
    study and waits: one upload, built equal to the upload path's volume."""
    ingestion = ingestion_ports(radlab)
    token = issue_token(KEY, subject="manager-1", role="manager", tenant=TENANT)
    monkeypatch.setenv("RADLAB_URL", radlab.address)
    monkeypatch.setenv("RADLAB_TOKEN", token)
    mr = pydicom.dcmread(originals(data_dir)[0], stop_before_pixels=True)
    dicomweb = f"{orthanc_url}/dicom-web"
    assert cli.main(["pacs", "query", "--url", dicomweb, "--patient", mr.PatientID]) == 0
    listed = capsys.readouterr()
    assert mr.StudyInstanceUID in listed.out and f"{MR_SLICES} instance(s)" in listed.out

    proxy = BreakingProxy(orthanc_url, instances=5)
    pull = ["pacs", "pull", "--study", mr.StudyInstanceUID, "--dataset", PULLED, "--into", str(tmp_path / "pulls"), "--wait"]
    try:
        assert cli.main([*pull, "--url", f"{proxy.url}/dicom-web", "--attempts", "2"]) == 1
    finally:
        proxy.close()
    broken = capsys.readouterr().err
    assert f"stopped answering after 5 of {MR_SLICES} instance(s)" in broken and "run the same command again to resume" in broken
    assert uploads.list_uploads(ingestion, MANAGER, PULLED, 0, 0, 50)[0] == []

    assert cli.main([*pull, "--url", dicomweb]) == 0
    resumed = capsys.readouterr()
    assert f"resuming, 5 of {MR_SLICES} instance(s) already received" in resumed.err and "COMPLETED: 1 volume(s)" in resumed.out
    [pulled] = finished_uploads(ingestion, PULLED, 1)
    assert [path.name for path in (tmp_path / "pulls" / mr.StudyInstanceUID).iterdir()] == [".radlab-upload"]
    built = volumes_of(ingestion, [pulled])
    assert_same_volumes(built, {MR_SHAPE: uploaded[MR_SHAPE]})
    assert cli.main([*pull, "--url", dicomweb]) == 0  # pulled before: nothing fetched or uploaded again
    assert "pulled before" in capsys.readouterr().out and len(uploads.list_uploads(ingestion, MANAGER, PULLED, 0, 0, 50)[0]) == 1
    assert_no_phi(radlab, data_dir)


def test_pull_names_what_it_needs(capsys):
    assert cli.main(["pacs", "pull", "--url", "http://127.0.0.1:9/dicom-web", "--dataset", "d"]) == 1
    assert "name a study (--study UID), a patient (--patient ID) or a date range" in capsys.readouterr().err
    assert cli.main(["pacs", "query", "--url", "http://127.0.0.1:9/dicom-web", "--since", "2024-01-01"]) == 1
    assert "--since is a date as YYYYMMDD" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "said"), [
    (["query", "--study", "1.2"], "name the PACS: --url DICOMWEB_ROOT, or --dimse HOST:PORT --called-ae TITLE"),
    (["query", "--dimse", "127.0.0.1:9", "--study", "1.2"], "--dimse needs the PACS's AE title: --called-ae TITLE"),
    (["query", "--dimse", "pacs", "--called-ae", "PACS", "--study", "1.2"], "--dimse is HOST:PORT"),
    (["query", "--dimse", "127.0.0.1:9", "--called-ae", "A_TITLE_LONGER_THAN_16", "--study", "1.2"], "--called-ae is an AE title"),
    (["query", "--url", "http://127.0.0.1:9/dicom-web", "--dimse", "127.0.0.1:9", "--called-ae", "P", "--study", "1.2"],
     "not both"),
    (["move", "--study", "1.2"], "radlab pacs move asks a PACS's DICOM side"),
    (["pull", "--study", "1.2", "--dataset", "d"], "radlab pacs pull retrieves over DICOMweb"),
    (["query", "--dimse", "127.0.0.1:9", "--called-ae", "PACS", "--study", "1.2"], "PACS@127.0.0.1:9 did not answer"),
])
def test_dimse_queries_and_moves_name_what_they_need(argv, said, capsys):
    """Each missing or malformed part of a DIMSE query or move, and a PACS that does not answer, is one line saying so."""
    assert cli.main(["pacs", *argv]) == 1
    assert said in capsys.readouterr().err


def association(radlab, calling: str, *contexts):
    ae = AE(ae_title=calling)
    for context in contexts:
        ae.add_requested_context(context)
    settings = radlab.adapters.settings
    return ae.associate("127.0.0.1", settings.dicom_port, ae_title=settings.dicom_ae_title)


def test_the_scp_echoes_to_a_bound_ae_and_refuses_unknown_ones_and_non_images(radlab, data_dir, caplog):
    """C-ECHO works for a bound AE title; an association from an AE title not bound is rejected (calling AE title not
    recognised), and logged; an RT structure set is refused by its C-STORE status with the reason in Error Comment,
    and nothing of it is stored."""
    ingestion = ingestion_ports(radlab)
    bound = association(radlab, MODALITY, Verification, RTStructureSetStorage)
    try:
        assert bound.is_established
        assert bound.send_c_echo().Status == 0
        status = bound.send_c_store(pydicom.dcmread(data_dir / STRUCTURE_SET))
        assert status.Status == arrivals.SOP_CLASS_NOT_SUPPORTED
        assert status.ErrorComment == f"dataset {STORED} takes images; RT Structure Set Storage is not one"[:64]
    finally:
        bound.release()
    with ingestion.db.read() as conn:
        assert conn.execute(sa.select(store.pacs_arrivals)).all() == []
    assert [info.key for info in ingestion.objects.list(QUARANTINE_BUCKET, "pacs/")] == []

    with caplog.at_level(logging.WARNING):
        stranger = association(radlab, "STRANGER", Verification)
        assert stranger.is_rejected and not stranger.is_established
        wait_until(lambda: "calling AE title not bound" in caplog.text, "the refused association in the log")
    assert uploads.list_uploads(ingestion, MANAGER, STORED, 0, 0, 50)[0] == []


def stow(radlab, body: bytes, content_type: str, token: str | None = None, source: str = MODALITY):
    """POST a STOW-RS body; returns (HTTP status, response body)."""
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    url = f"http://127.0.0.1:{radlab.adapters.settings.dicomweb_port}/dicomweb/{source}/studies"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_stow_rs_stores_a_study_into_the_bound_dataset_and_refuses_bodies_that_are_not_multipart(radlab, data_dir,
                                                                                                  uploaded):
    """dicomweb-client stores the CT by STOW-RS with a manager's token: one upload, built equal to the upload path's
    volume. A body that is not multipart/related, one with no token, another tenant's token, an unknown source and a
    body cut short are refused whole with a message saying what to send; a structure set is refused in the receipt's
    Failed SOP Sequence with its reason; none stores anything."""
    ingestion = ingestion_ports(radlab)
    token = issue_token(KEY, subject="manager-1", role="manager", tenant=TENANT)
    ct = [pydicom.dcmread(path) for path in sorted((data_dir / CT).glob("*.dcm"))]
    one = (data_dir / CT / "01.dcm").read_bytes()
    status, body = stow(radlab, one, "application/dicom", token)
    assert status == 415 and b"takes a multipart/related body of application/dicom parts, not application/dicom" in body
    assert stow(radlab, one, 'multipart/related; type="application/dicom"; boundary=x')[0] == 401
    elsewhere = issue_token(KEY, subject="manager-2", role="manager", tenant="hospital-b")
    assert stow(radlab, one, 'multipart/related; type="application/dicom"; boundary=x', elsewhere)[0] == 403
    status, body = stow(radlab, one, 'multipart/related; type="application/dicom"; boundary=x', token, source="NOBODY")
    assert status == 404 and b"no source 'NOBODY' is bound" in body
    status, body = stow(radlab, b"--x\r\nContent-Type: application/dicom\r\n\r\n" + one[:500],
                        'multipart/related; type="application/dicom"; boundary=x', token)
    assert status == 400 and b"ends inside a part" in body
    structure_set = (data_dir / STRUCTURE_SET).read_bytes()
    status, body = stow(radlab, b"--x\r\nContent-Type: application/dicom\r\n\r\n" + structure_set + b"\r\n--x--\r\n",
                        'multipart/related; type="application/dicom"; boundary=x', token)
    [failed] = json.loads(body)["00081198"]["Value"]
    assert status == 409 and failed["00081197"]["Value"] == [arrivals.SOP_CLASS_NOT_SUPPORTED]
    assert failed["00000902"]["Value"] == [f"dataset {STORED} takes images; RT Structure Set Storage is not one"]
    with ingestion.db.read() as conn:
        assert conn.execute(sa.select(store.pacs_arrivals)).all() == []

    client = DICOMwebClient(f"http://127.0.0.1:{radlab.adapters.settings.dicomweb_port}/dicomweb/{MODALITY}",
                            headers={"Authorization": f"Bearer {token}"})
    receipt = client.store_instances(ct)
    assert sorted(item.ReferencedSOPInstanceUID for item in receipt.ReferencedSOPSequence) == sorted(d.SOPInstanceUID for d in ct)
    [stored] = finished_uploads(ingestion, STORED, 1)
    assert stored.file_count == 3 and stored.uploader == f"pacs:{MODALITY}"
    assert_same_volumes(volumes_of(ingestion, [stored]), {CT_SHAPE: uploaded[CT_SHAPE]})


def test_instances_wait_unseen_until_their_study_is_quiet_then_become_one_upload(ports, data_dir):  # noqa: F811
    """Arrivals are kept in quarantine, named by digests only, with no upload, study or event until the study has
    received nothing for the quiet period; an instance sent twice is one; then one UPLOADED upload and its ScanUploaded."""
    source = Source(MODALITY, "hospital-a", "dataset-1")
    files = sorted((data_dir / CT).glob("*.dcm"))
    for path in [*files, files[0]]:
        arrivals.receive(ports, source, path.read_bytes())
    arrived = time.time()
    assert arrivals.hand_on_quiet_studies(ports, 30.0, now=arrived + 29) == []
    assert uploads.list_uploads(ports, MANAGER, "dataset-1", 0, 0, 50)[0] == [] and outbox(ports.db) == []
    assert pydicom.dcmread(files[0]).StudyInstanceUID not in rows_text(ports.db)
    [upload_id] = arrivals.hand_on_quiet_studies(ports, 30.0, now=arrived + 31)
    upload = uploads.get_upload(ports, Principal("x", "manager", "hospital-a"), upload_id)
    assert (upload.state, upload.file_count) == (pb.UPLOAD_STATE_UPLOADED, 3)
    [uploaded_event] = outbox(ports.db, "radlab.ingestion.v1.ScanUploaded")
    assert sorted(uploaded_event.message.quarantine_keys) == sorted(info.key for info in ports.objects.list(QUARANTINE_BUCKET, "pacs/"))
    assert arrivals.hand_on_quiet_studies(ports, 30.0, now=arrived + 60) == []


def test_sources_are_ae_titles_bound_to_a_tenant_and_a_dataset():
    assert parse_sources("PACS1=hospital-a/ds-1, CT_2=hospital-b/ds-2") == {
        "PACS1": Source("PACS1", "hospital-a", "ds-1"), "CT_2": Source("CT_2", "hospital-b", "ds-2")}
    assert parse_sources("") == {}
    for wrong in ("PACS1=hospital-a", "A_TITLE_LONGER_THAN_16=t/d", "PACS1=t/d PACS1=t/e"):
        with pytest.raises(ValueError, match="RADLAB_DICOM_SOURCES"):
            parse_sources(wrong)
    with pytest.raises(ValueError, match="RADLAB_DICOM_PORT must be a TCP port"):
        Settings.from_env({"RADLAB_DICOM_PORT": "70000"})
    assert (Settings.from_env({}).dicom_port, Settings.from_env({"RADLAB_DICOM_PORT": "0"}).dicom_port) == (11112, 0)


def test_an_entrance_whose_port_is_taken_stops_the_start_naming_its_setting(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        for setting, other in (("RADLAB_DICOM_PORT", "RADLAB_DICOMWEB_PORT"), ("RADLAB_DICOMWEB_PORT", "RADLAB_DICOM_PORT")):
            settings = Settings.from_env({"RADLAB_HOME": str(tmp_path), "RADLAB_GRPC_ADDR": "127.0.0.1:0", "RADLAB_TOKEN_KEY": KEY,
                                          "RADLAB_DICOM_SOURCES": f"{MODALITY}={TENANT}/{STORED}",
                                          setting: str(taken.getsockname()[1]), other: "0"})
            with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{taken.getsockname()[1]} .*set {setting} to a free port"):
                Runtime(["ingestion"], settings)
