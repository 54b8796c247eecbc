"""Every image series and NIfTI in data/ through a real `radlab up`, from SDK upload to slices.

SDK upload (file, folder, zip, tar.gz, DICOMDIR) → anonymization → volumes equal to the offline build, a
broken upload resumed (by its uploader only), a damaged archive failed at once, slices and thumbnails over gRPC.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import time
import zipfile
from pathlib import Path

import grpc
import numpy as np
import pytest
from pydicom.fileset import FileSet

from radlab.annotation.v1 import annotation_service_pb2 as annotation_pb
from radlab.client import Client, UploadFailed
from radlab.ingestion.v1 import ingestion_service_pb2 as pb
from radlab.tokens import issue_token, token_key
from radlab.type.v1 import geometry_pb2
from services.ingestion.domain.reader import parse_instance
from services.ingestion.domain.volume import Volume, build_volumes
from shared import objectstore
from shared.stack import Stack
from shared.volume_store import VolumeStore
from shared.volumes import from_nifti
from tests.conftest import wait_until
from tests.integration.test_ingestion_service import damaged

TENANT = "hospital-a"
WAIT_S = 60
REFERENCE = "totalsegmentator/tests/reference_files"
# Every DICOM image series in data/, with how it is uploaded, and the slices each volume must have.
SERIES = {
    "mr-folder": ("dcm_qa_deident/In", "folder", [196]),
    "tilted-zip": ("dcm_qa_ct/In/GE", "zip", None),  # resampled onto an equidistant grid: its own slice count
    "j2k-tar-gz": (f"{REFERENCE}/example_ct_dicom", "tar.gz", [20]),
    "dcmqi-dicomdir": ("dcmqi/data/segmentations", "dicomdir", [3]),  # 3 CT slices and two DICOM-SEG (labels, not images)
    "rt-utils-folder": ("rt_utils/tests/mock_data", "folder", [2]),  # 2 CT slices and three RTSTRUCTs (no pixels)
}
NIFTIS = (f"{REFERENCE}/example_ct_sm.nii.gz", f"{REFERENCE}/example_mr_sm.nii.gz", "sct_t2/t2/t2.nii.gz")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    with Stack(home, env={"RADLAB_ANON_KEY": "", "RADLAB_PHI_KEY": ""}) as running:
        yield running, home


@pytest.fixture(scope="module")
def admin(stack) -> Client:
    running, home = stack
    token = issue_token(token_key(home, None), subject="admin-1", role="admin", tenant=TENANT)
    with Client(running.grpc_addr, token) as client:
        yield client


@pytest.fixture(scope="module")
def dataset(admin) -> str:
    return admin.create_dataset("ingestion e2e").dataset_id


def packed(data_dir: Path, folder: str, how: str, out: Path) -> Path:
    """The series' folder as the uploader sends it: the folder itself, a zip, a tar.gz, or a DICOMDIR written by pydicom."""
    source = data_dir / folder
    files = sorted(path for path in source.rglob("*") if path.is_file() and not path.name.startswith("LICENSE"))
    if how == "folder":
        return source
    if how == "zip":
        with zipfile.ZipFile(out / "study.zip", "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, f"study/{path.name}")
        return out / "study.zip"
    if how == "tar.gz":
        with tarfile.open(out / "study.tar.gz", "w:gz") as archive:
            for path in files:
                archive.add(path, f"study/{path.name}")
        return out / "study.tar.gz"
    media = FileSet()
    for path in files:
        media.add(path)
    media.write(out / "media")
    return out / "media" / "DICOMDIR"


@pytest.fixture(scope="module")
def uploads(admin, dataset, data_dir, tmp_path_factory) -> dict[str, pb.Upload]:
    """Every series and NIfTI uploaded through the SDK, each waited for until its volumes are built."""
    started = {}
    progress: dict[str, list[tuple[int, int]]] = {}
    for name, (folder, how, _slices) in SERIES.items():
        out = tmp_path_factory.mktemp(name)
        progress[name] = []
        started[name] = admin.upload(packed(data_dir, folder, how, out), dataset, progress=lambda *a, n=name: progress[n].append(a))
    for path in NIFTIS:
        started[path] = admin.upload(data_dir / path, dataset)
    assert all(points[-1][0] == points[-1][1] for points in progress.values())
    done = {}
    for name, upload in started.items():
        try:
            done[name] = admin.wait_for_upload(upload.upload_id, timeout_s=WAIT_S)
        except TimeoutError:  # reported per upload by the tests, so one stuck scan does not hide the others
            done[name] = admin.ingestion.GetUpload(pb.GetUploadRequest(upload_id=upload.upload_id)).upload
    return done


def stored_volumes(home: Path) -> VolumeStore:
    return VolumeStore(objectstore.connect(f"file://{home}/objects"))


@pytest.mark.parametrize("name", SERIES)
def test_every_series_becomes_a_volume_equal_to_the_offline_build(stack, admin, uploads, data_dir, name):
    """Voxels and affine equal build_volumes on the original files (anonymization leaves pixels and geometry alone)."""
    _running, home = stack
    folder, _how, slices = SERIES[name]
    upload = uploads[name]
    assert (pb.UploadState.Name(upload.state), upload.failure_reason) == ("UPLOAD_STATE_COMPLETED", "")
    offline = [volume for volume in build_volumes([
        dataset for dataset in (parse_instance(path.read_bytes()) for path in sorted((data_dir / folder).rglob("*")) if path.is_file())
        if dataset is not None and dataset.get("Modality") != "SEG"
    ]) if isinstance(volume, Volume)]
    assert len(upload.volume_ids) == len(offline) == 1
    got = admin.ingestion.GetVolume(pb.GetVolumeRequest(volume_id=upload.volume_ids[0])).volume
    stored = stored_volumes(home).read(got.volume_ref.bucket, got.volume_ref.key_prefix)
    assert slices is None or [stored.array.shape[0]] == slices
    assert np.array_equal(stored.array, offline[0].data) and stored.array.dtype == offline[0].data.dtype
    assert np.allclose(stored.affine, offline[0].affine, atol=1e-6)
    assert np.allclose(np.reshape(got.volume_ref.geometry.affine, (4, 4)), offline[0].affine, atol=1e-6)
    assert got.modality in ("CT", "MR") and got.dataset_id == upload.dataset_id
    tilt = geometry_pb2.GEOMETRY_ISSUE_KIND_GANTRY_TILT in {issue.kind for issue in got.volume_ref.geometry.issues}
    assert tilt == (name == "tilted-zip")


def test_niftis_keep_their_affine_exactly(stack, admin, uploads, data_dir):
    _running, home = stack
    volumes = stored_volumes(home)
    for path in NIFTIS:
        [volume_id] = uploads[path].volume_ids
        ref = admin.ingestion.GetVolume(pb.GetVolumeRequest(volume_id=volume_id)).volume.volume_ref
        array, affine = from_nifti(data_dir / path)
        stored = volumes.read(ref.bucket, ref.key_prefix)
        assert np.array_equal(stored.array, array) and np.array_equal(stored.affine, affine)
        assert np.array_equal(np.reshape(ref.geometry.affine, (4, 4)), affine)


def test_studies_and_series_are_listed_page_by_page(admin, dataset, uploads):
    studies, token = [], ""
    while True:
        page = admin.ingestion.ListStudies(pb.ListStudiesRequest(dataset_id=dataset, page_size=2, page_token=token))
        studies += page.studies
        token = page.next_page_token
        if not token:
            break
    volume_studies = {study for upload in uploads.values() for study in upload.study_ids}
    assert {study.study_id for study in studies} == volume_studies and len(studies) == len(volume_studies)
    series = admin.ingestion.ListSeries(pb.ListSeriesRequest(dataset_id=dataset, page_size=100)).series
    assert sum(len(s.volume_ids) for s in series) == sum(len(upload.volume_ids) for upload in uploads.values())
    mr = admin.ingestion.GetSeries(pb.GetSeriesRequest(series_id=next(s.series_id for s in series if s.instance_count == 196)))
    assert mr.series.modality == "MR"


BROKEN_CHUNK = 256 << 10


def broken_upload(client: Client, dataset: str, data: bytes) -> pb.Upload:
    """An UploadFiles stream of `data` whose cable is pulled after 3 chunks; returns the upload once it has kept them."""

    def stream():
        yield pb.UploadFilesRequest(metadata=pb.UploadMetadata(
            dataset_id=dataset, file_name="study.zip", total_size=len(data), sha256=hashlib.sha256(data).hexdigest(),
        ))
        for number, start in enumerate(range(0, len(data), BROKEN_CHUNK)):
            if number == 3:
                # The cable is pulled a while after the 3 chunks went out: a cancelled call drops the chunks its
                # handler had not read, and the server records a stream's bytes only when it ends, so there is no
                # state to poll for before the cut.
                time.sleep(0.5)
                raise ConnectionResetError("cable pulled")
            yield pb.UploadFilesRequest(chunk=data[start:start + BROKEN_CHUNK])

    with pytest.raises(grpc.RpcError):
        client.ingestion.UploadFiles(stream())
    sha256 = hashlib.sha256(data).hexdigest()

    def kept() -> list[pb.Upload]:
        receiving = client.ingestion.ListUploads(pb.ListUploadsRequest(dataset_id=dataset, state=pb.UPLOAD_STATE_RECEIVING)).uploads
        return [upload for upload in receiving if upload.sha256 == sha256 and upload.bytes_received]

    return wait_until(kept, "the broken upload to keep the bytes it received", timeout_s=10)[0]


def test_a_broken_upload_is_resumed_by_the_sdk_from_the_servers_offset(admin, dataset, uploads, data_dir, tmp_path):
    """A stream cut after 3 chunks keeps its bytes; `Client.upload` of the same file finds the upload and sends only the rest."""
    path = packed(data_dir, "dcm_qa_deident/In", "zip", tmp_path)
    receiving = broken_upload(admin, dataset, path.read_bytes())
    sent: list[int] = []
    upload = admin.upload(path, dataset, progress=lambda done, total: sent.append(done), chunk_size=BROKEN_CHUNK)
    assert upload.upload_id == receiving.upload_id and sent[0] == receiving.bytes_received > 0
    assert admin.wait_for_upload(upload.upload_id).state == pb.UPLOAD_STATE_COMPLETED


def test_another_users_broken_upload_of_the_same_file_is_theirs_alone(stack, admin, dataset, uploads, data_dir, tmp_path):
    """A manager's `Client.upload` of the very file an admin's broken upload holds part of: the SDK finds that upload,
    is refused resuming it, and makes one of its own; the admin's keeps its bytes and its uploader resumes it."""
    running, home = stack
    path = tmp_path / "study.zip"
    files = sorted((data_dir / "dcm_qa_deident/In").iterdir())[:12]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for file in files:
            archive.write(file, f"shared/{file.name}")
    theirs = broken_upload(admin, dataset, path.read_bytes())
    token = issue_token(token_key(home, None), subject="manager-2", role="manager", tenant=TENANT)
    with Client(running.grpc_addr, token) as manager:
        mine = manager.upload(path, dataset)
    assert mine.upload_id != theirs.upload_id and mine.uploader == "manager-2" and mine.state == pb.UPLOAD_STATE_UPLOADED
    kept = admin.ingestion.GetUpload(pb.GetUploadRequest(upload_id=theirs.upload_id)).upload
    assert (kept.state, kept.bytes_received, kept.uploader) == (pb.UPLOAD_STATE_RECEIVING, theirs.bytes_received, "admin-1")
    assert admin.upload(path, dataset).upload_id == theirs.upload_id
    for upload_id in (mine.upload_id, theirs.upload_id):
        assert admin.wait_for_upload(upload_id).state == pb.UPLOAD_STATE_COMPLETED


def test_a_wrong_checksum_and_an_unsafe_archive_fail_with_reasons(admin, dataset, uploads, data_dir, tmp_path):
    """Both fail with reasons. It runs after `uploads`, so ingestion knows the dataset (raw streams get no SDK retries)."""
    first = next((data_dir / "dcm_qa_deident/In").iterdir()).read_bytes()
    response = admin.ingestion.UploadFiles(iter([
        pb.UploadFilesRequest(metadata=pb.UploadMetadata(dataset_id=dataset, file_name="a.dcm", total_size=len(first), sha256="0" * 64)),
        pb.UploadFilesRequest(chunk=first),
    ]))
    assert response.state == pb.UPLOAD_STATE_FAILED and "SHA-256" in response.failure_reason
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as archive:
        archive.writestr("ok.dcm", first)
        archive.writestr("../../../home/evil.dcm", first)
    with pytest.raises(UploadFailed, match="climbs out of the archive"):
        admin.upload(tmp_path / "evil.zip", dataset)


def test_a_damaged_zip_member_fails_the_upload_at_once_and_the_sdk_does_not_retry(admin, dataset, uploads, data_dir, tmp_path,
                                                                                  monkeypatch):
    """A zip whose second member's deflate data is damaged: one stream, UploadFailed naming the member, the upload FAILED
    (not RECEIVING for a day)."""
    files = sorted((data_dir / "dcm_qa_deident/In").iterdir())[:3]
    with zipfile.ZipFile(tmp_path / "study.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for file in files:
            archive.write(file, f"study/{file.name}")
    data = damaged((tmp_path / "study.zip").read_bytes(), 1)
    (tmp_path / "damaged.zip").write_bytes(data)
    counted = CountedStreams(admin.ingestion)
    monkeypatch.setattr(admin, "ingestion", counted)
    with pytest.raises(UploadFailed, match=r"failed: member 2 \(\.dcm\) is damaged .*create the archive again"):
        admin.upload(tmp_path / "damaged.zip", dataset)
    assert counted.streams == 1
    failed = admin.ingestion.ListUploads(pb.ListUploadsRequest(dataset_id=dataset, state=pb.UPLOAD_STATE_FAILED)).uploads
    [upload] = [upload for upload in failed if upload.sha256 == hashlib.sha256(data).hexdigest()]
    assert "member 2 (.dcm) is damaged" in upload.failure_reason


class CountedStreams:
    """An ingestion stub that counts UploadFiles streams and passes every call on."""

    def __init__(self, stub):
        self.stub, self.streams = stub, 0

    def UploadFiles(self, requests, **kwargs):
        self.streams += 1
        return self.stub.UploadFiles(requests, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.stub, name)


def test_slices_and_thumbnails_over_grpc_and_vendors_only_when_shared(stack, admin, dataset, uploads):
    running, home = stack
    volume_id = uploads["mr-folder"].volume_ids[0]
    ref = admin.ingestion.GetVolume(pb.GetVolumeRequest(volume_id=volume_id)).volume.volume_ref
    stored = stored_volumes(home).read(ref.bucket, ref.key_prefix).array
    for plane in (geometry_pb2.PLANE_AXIAL, geometry_pb2.PLANE_CORONAL, geometry_pb2.PLANE_SAGITTAL):
        raw = admin.ingestion.GetSlice(pb.GetSliceRequest(volume_id=volume_id, plane=plane, slice_index=100))
        pixels = np.frombuffer(raw.data, dtype=stored.dtype.newbyteorder("<")).reshape(tuple(raw.shape))
        assert any(np.array_equal(pixels, np.take(stored, 100, axis=axis)) for axis in range(3) if stored.shape[axis] > 100)
        png = admin.ingestion.GetSlice(pb.GetSliceRequest(
            volume_id=volume_id, plane=plane, position_mm=raw.position_mm, format=pb.SLICE_FORMAT_PNG,
            window_preset=pb.WINDOW_PRESET_MR_AUTO,
        ))
        assert png.slice_index == 100 and png.data.startswith(b"\x89PNG") and png.applied_window.width > 0
    thumbnail = admin.ingestion.GetThumbnail(pb.GetThumbnailRequest(study_id=uploads["mr-folder"].study_ids[0]))
    assert thumbnail.png.startswith(b"\x89PNG") and max(thumbnail.width, thumbnail.height) == 128
    vendor_token = issue_token(token_key(home, None), subject="v-1", role="vendor", tenant=TENANT, vendor="acme")
    with Client(running.grpc_addr, vendor_token) as vendor:
        request = pb.GetSliceRequest(volume_id=volume_id, plane=geometry_pb2.PLANE_AXIAL, slice_index=0)
        with pytest.raises(grpc.RpcError) as refused:
            vendor.ingestion.GetSlice(request)
        assert refused.value.code() is grpc.StatusCode.NOT_FOUND
        admin.annotation.ShareDataset(annotation_pb.ShareDatasetRequest(dataset_id=dataset, vendor_id="acme"))

        def shown() -> bool:
            try:
                response = vendor.ingestion.GetSlice(request)
            except grpc.RpcError as error:
                assert error.code() is grpc.StatusCode.NOT_FOUND, error.details()
                return False
            assert response.shape
            return True

        wait_until(shown, "ingestion to learn of the share from annotation's DatasetShared", timeout_s=15, interval_s=0.2)


def test_the_cli_uploads_with_a_progress_bar_and_waits(stack, admin, dataset, data_dir, tmp_path):
    import subprocess
    import sys

    running, home = stack
    shutil.copy(data_dir / NIFTIS[1], tmp_path / "mr.nii.gz")
    env = running.env | {"RADLAB_URL": running.grpc_addr,
                         "RADLAB_TOKEN": issue_token(token_key(home, None), subject="admin-1", role="admin", tenant=TENANT)}
    done = subprocess.run([sys.executable, "-m", "radlab.cli", "upload", str(tmp_path / "mr.nii.gz"), "--dataset", dataset, "--wait"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "uploading: 100%" in done.stderr and "COMPLETED, 1 volume(s)" in done.stdout
