"""The ingestion service's handlers on a real SQLite database and file object store.

Uploads in (chunked, resumed, checked), archives unpacked safely, and de-identified scans (through the real
anonymization handlers) built into volumes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import struct
import tarfile
import threading
import time
import zipfile
from pathlib import Path
from typing import NamedTuple

import grpc
import nibabel as nib
import numpy as np
import pytest
import sqlalchemy as sa

from radlab.annotation.v1 import annotation_service_pb2 as annotation_pb
from radlab.annotation.v1 import events_pb2 as annotation_events
from radlab.anonymization.v1 import events_pb2 as anonymization_events
from radlab.ingestion.v1 import ingestion_service_pb2 as pb
from radlab.ingestion.v1 import ingestion_service_pb2_grpc as pb_grpc
from radlab.tokens import issue_token
from radlab.type.v1 import geometry_pb2
from services.annotation import handlers as annotation
from services.annotation import store as annotation_store
from services.annotation.handlers import classes, datasets, shapes
from services.anonymization import handlers as anonymization
from services.anonymization import store as anonymization_store
from services.anonymization.keys import Keys
from services.ingestion import handlers, limits, store
from services.ingestion.handlers import failures, queries, slices, uploads, volumes
from services.ingestion.domain.archive import Limits
from services.ingestion.domain.reader import parse_instance
from services.ingestion.domain.volume import Volume, build_volumes
from shared.auth import Principal
from shared.bus.local import LocalBus
from shared.bus.port import Record
from shared.config import Settings
from shared.consumer import EventConsumer, consumer_group
from shared.db import Database, OutboxRelay
from shared.deadletters import DeadLetter, DeadLetterConsumer
from shared.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from shared.events import Event, decode, envelope_for, from_record
from shared.objectstore.file import FileObjectStore
from shared.runtime import Runtime
from shared.volume_store import VolumeStore
from shared.volumes import from_nifti
from tests.bombs import nifti_bomb

TENANT = "hospital-a"
UPLOADER = Principal("uploader-1", "manager", TENANT)
DATASET = "dataset-1"
CONSUMER = consumer_group("ingestion")
MR = "dcm_qa_deident/In"
TILTED = "dcm_qa_ct/In/GE"
CHUNK = 16 << 10


@pytest.fixture
def ports(tmp_path) -> handlers.Ports:
    """Ingestion's handlers on a fresh database that has heard of DATASET (annotation's DatasetCreated, delivered)."""
    db = Database(f"sqlite:///{tmp_path / 'db'}", "ingestion", store.metadata)
    objects = FileObjectStore(tmp_path / "objects")
    ports = handlers.Ports(db, objects, VolumeStore(objects), Limits())
    deliver(ports, annotation_fact(annotation_events.DatasetCreated(dataset_id=DATASET, name="chest CT", creator="manager-1")))
    yield ports
    db.dispose()


def annotation_fact(message, tenant: str = TENANT) -> Event:
    """An event annotation published about DATASET (its subject), as the bus delivers it."""
    return Event(envelope_for(message, source="radlab.annotation", subject=message.dataset_id, tenant=tenant), message)


def deliver(ports: handlers.Ports, event: Event) -> None:
    handlers.event_handlers(ports, CONSUMER)[event.type](event)


def requests(data: bytes, *, name: str = "study.zip", sha256: str | None = None, resume: str = "", offset: int = 0,
             chunk: int = CHUNK, total: int | None = None, stop_after: int | None = None, dataset: str = DATASET):
    """An UploadFiles stream of `data[offset:]`; with `stop_after`, the stream breaks after that many chunks."""
    yield pb.UploadFilesRequest(metadata=pb.UploadMetadata(
        dataset_id=dataset, file_name=name, total_size=len(data) if total is None else total,
        sha256=hashlib.sha256(data).hexdigest() if sha256 is None else sha256, resume_upload_id=resume, offset=offset,
    ))
    for number, start in enumerate(range(offset, len(data), chunk)):
        if stop_after is not None and number == stop_after:
            raise ConnectionResetError("the network went away")
        yield pb.UploadFilesRequest(chunk=data[start:start + chunk])


def zipped(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def folder(data_dir: Path, name: str, limit: int | None = None) -> dict[str, bytes]:
    """A real series' files under names that carry PHI, as a careless uploader's would."""
    paths = sorted(path for path in (data_dir / name).iterdir() if path.is_file())[:limit]
    return {f"DOE^JOHN 1957-03-01/{Path(name).name}/{path.name}": path.read_bytes() for path in paths}


def outbox(db: Database, topic: str | None = None) -> list[Event]:
    with db.read() as conn:
        rows = conn.execute(sa.select(db.outbox).order_by(db.outbox.c.seq)).all()
    found = [decode(from_record(Record(row.topic, 0, row.seq, row.key, row.payload, json.loads(row.headers)))) for row in rows]
    return [event for event in found if topic is None or event.type == topic]


def keys_in(ports: handlers.Ports, bucket: str) -> list[str]:
    return [info.key for info in ports.objects.list(bucket)] if (ports.objects.root / bucket).exists() else []


def rows_text(db: Database) -> str:
    """Every row of every table, as text: what a PHI scan of the database would read."""
    with db.read() as conn:
        return "\n".join(str(row) for table in db.metadata.sorted_tables for row in conn.execute(sa.select(table)))


# ---- uploads -----------------------------------------------------------------------------------------------

def test_a_chunked_zip_becomes_one_opaque_quarantine_object_per_file(ports, data_dir, caplog):
    """No file name reaches a key, an event, a row or a log record: only the extension is kept."""
    files = folder(data_dir, MR, 5)
    data = zipped(files)
    with caplog.at_level(logging.DEBUG):
        response = uploads.upload(ports, UPLOADER, requests(data, name="DOE^JOHN 1957.zip"))
    assert caplog.records and not any("DOE" in str(record.__dict__) for record in caplog.records)
    assert response.state == pb.UPLOAD_STATE_UPLOADED and response.bytes_received == len(data) and response.file_count == 5
    [uploaded] = [event.message for event in outbox(ports.db, "radlab.ingestion.v1.ScanUploaded")]
    assert uploaded.scan_id == response.scan_id and uploaded.upload_id == response.upload_id
    assert uploaded.file_count == 5 and uploaded.byte_count == sum(map(len, files.values())) and uploaded.uploader == "uploader-1"
    assert sorted(uploaded.quarantine_keys) == keys_in(ports, "quarantine")  # the stream's parts are gone
    assert all(key.startswith(f"scans/{response.scan_id}/") and "DOE" not in key for key in uploaded.quarantine_keys)
    stored = sorted(ports.objects.get("quarantine", key) for key in uploaded.quarantine_keys)
    assert stored == sorted(files.values())
    upload = uploads.get_upload(ports, UPLOADER, response.upload_id)
    assert (upload.file_name, upload.state, upload.uploader, upload.dataset_id) == (".zip", pb.UPLOAD_STATE_UPLOADED, "uploader-1", DATASET)
    assert "DOE" not in rows_text(ports.db)
    assert all("DOE" not in event.message.SerializeToString().decode("latin-1") for event in outbox(ports.db))


def test_a_broken_stream_resumes_from_getuploads_offset_and_a_wrong_offset_is_refused(ports, data_dir):
    data = zipped(folder(data_dir, MR, 8), zipfile.ZIP_STORED)
    assert len(data) > 9 * CHUNK
    with pytest.raises(ConnectionResetError):
        uploads.upload(ports, UPLOADER, requests(data, stop_after=5))
    [receiving] = uploads.list_uploads(ports, UPLOADER, DATASET, pb.UPLOAD_STATE_RECEIVING, 0, 10)[0]
    assert receiving.bytes_received == 5 * CHUNK and receiving.sha256 == hashlib.sha256(data).hexdigest()
    for wrong in (0, 5 * CHUNK - 1, 5 * CHUNK + 1):
        with pytest.raises(FailedPrecondition, match=f"resume from offset {5 * CHUNK}"):
            uploads.upload(ports, UPLOADER, requests(data, resume=receiving.upload_id, offset=wrong))
    with pytest.raises(ConnectionResetError):  # a second break, after 3 more chunks
        uploads.upload(ports, UPLOADER, requests(data, resume=receiving.upload_id, offset=5 * CHUNK, stop_after=3))
    assert uploads.get_upload(ports, UPLOADER, receiving.upload_id).bytes_received == 8 * CHUNK
    done = uploads.upload(ports, UPLOADER, requests(data, resume=receiving.upload_id, offset=8 * CHUNK))
    assert done.state == pb.UPLOAD_STATE_UPLOADED and done.file_count == 8
    [uploaded] = [event.message for event in outbox(ports.db, "radlab.ingestion.v1.ScanUploaded")]
    assert sorted(ports.objects.get("quarantine", key) for key in uploaded.quarantine_keys) == sorted(folder(data_dir, MR, 8).values())
    with pytest.raises(FailedPrecondition, match="only a RECEIVING upload"):
        uploads.upload(ports, UPLOADER, requests(data, resume=receiving.upload_id, offset=len(data)))
    other_tenant = Principal("x", "admin", "hospital-b")
    with pytest.raises(NotFound):
        uploads.get_upload(ports, other_tenant, receiving.upload_id)


def test_an_upload_into_a_dataset_ingestion_has_not_heard_of_is_refused_before_anything_is_stored(ports, data_dir):
    """An unknown id, or another tenant's dataset: FAILED_PRECONDITION saying how to create it, and no upload row, part,
    quarantine object or event; once DatasetCreated arrives (a redelivery changes nothing) the same upload is taken."""
    data = zipped(folder(data_dir, MR, 2))
    stranger = Principal("uploader-2", "manager", "hospital-b")
    for caller, dataset in ((UPLOADER, "no-such-dataset"), (stranger, DATASET)):
        with pytest.raises(FailedPrecondition) as refused:
            uploads.upload(ports, caller, requests(data, dataset=dataset))
        assert str(refused.value) == (
            f"dataset {dataset} is not known: create it with `radlab datasets create` (or, if you just did, retry in a moment)"
        )
    assert keys_in(ports, "quarantine") == [] and outbox(ports.db) == []
    with ports.db.read() as conn:
        assert conn.execute(sa.select(store.uploads)).all() == []
    created = annotation_fact(annotation_events.DatasetCreated(dataset_id=DATASET, name="chest CT", creator="m"), "hospital-b")
    deliver(ports, created)
    deliver(ports, created)
    taken = uploads.upload(ports, stranger, requests(data))
    assert taken.state == pb.UPLOAD_STATE_UPLOADED and taken.file_count == 2
    assert uploads.get_upload(ports, stranger, taken.upload_id).dataset_id == DATASET
    with pytest.raises(FailedPrecondition, match="dataset no-such-dataset is not known"):
        uploads.upload(ports, UPLOADER, requests(data, dataset="no-such-dataset"))


def test_a_database_from_before_datasets_were_cached_gains_the_table_on_start(tmp_path):
    url = f"sqlite:///{tmp_path / 'db'}"
    older = sa.MetaData()
    for table in store.metadata.sorted_tables:
        if table.name != "datasets":
            table.to_metadata(older)
    Database(url, "ingestion", older).dispose()
    db = Database(url, "ingestion", store.metadata)
    try:
        objects = FileObjectStore(tmp_path / "objects")
        deliver(handlers.Ports(db, objects, VolumeStore(objects)), annotation_fact(annotation_events.DatasetCreated(dataset_id=DATASET)))
        with db.read() as conn:
            assert conn.execute(sa.select(store.datasets.table)).all() == [(TENANT, DATASET)]
    finally:
        db.dispose()


def test_a_wrong_sha256_fails_the_upload_and_leaves_nothing(ports, data_dir):
    data = zipped(folder(data_dir, MR, 3))
    response = uploads.upload(ports, UPLOADER, requests(data, sha256="0" * 64))
    assert response.state == pb.UPLOAD_STATE_FAILED and "SHA-256" in response.failure_reason and "upload it again" in response.failure_reason
    assert keys_in(ports, "quarantine") == []
    [failed] = [event.message for event in outbox(ports.db, "radlab.ingestion.v1.IngestFailed")]
    assert failed.upload_id == response.upload_id and failed.reason == response.failure_reason and not failed.scan_id
    assert outbox(ports.db, "radlab.ingestion.v1.ScanUploaded") == []
    assert uploads.get_upload(ports, UPLOADER, response.upload_id).failure_reason == response.failure_reason


def test_bad_metadata_and_overlong_streams_are_refused_before_anything_is_stored(ports, data_dir):
    data = zipped(folder(data_dir, MR, 2))
    with pytest.raises(InvalidArgument, match="sha256 must be"):
        uploads.upload(ports, UPLOADER, requests(data, sha256="abc"))
    with pytest.raises(InvalidArgument, match="starts at offset 0"):
        uploads.upload(ports, UPLOADER, requests(data, offset=10))
    with pytest.raises(InvalidArgument, match="starts with one UploadMetadata"):
        uploads.upload(ports, UPLOADER, iter([pb.UploadFilesRequest(chunk=b"x")]))
    with pytest.raises(InvalidArgument, match="more than the 100 bytes"):
        uploads.upload(ports, UPLOADER, requests(data, total=100))
    assert keys_in(ports, "quarantine") == []


def test_an_archive_with_good_and_bad_members_hands_on_the_good_ones(ports, data_dir):
    """DICOM (also without preamble) and NIfTI members go on; text, a nested archive and a DICOMDIR are skipped by position."""
    mr = folder(data_dir, MR, 2)
    nifti = (data_dir / "totalsegmentator/tests/reference_files/example_mr_sm.nii.gz").read_bytes()
    first = next(iter(mr.values()))
    members = mr | {
        "DOE JOHN/report.txt": b"Patient DOE^JOHN, born 1957\n" * 100, "nested.zip": zipped({"a.dcm": first}),
        "raw.dcm": first[132:], "mr.nii.gz": nifti,
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    response = uploads.upload(ports, UPLOADER, requests(buffer.getvalue(), name="DOE JOHN.tar.gz"))
    assert response.state == pb.UPLOAD_STATE_UPLOADED and response.file_count == 4
    assert list(response.skipped) == [
        "member 3 (.txt): not DICOM or NIfTI", "member 4 (.zip): an archive inside the archive; upload it on its own",
    ]
    assert uploads.get_upload(ports, UPLOADER, response.upload_id).file_name == ".tar.gz"
    stored = {ports.objects.get("quarantine", key) for key in keys_in(ports, "quarantine")}
    assert stored == {*mr.values(), first[132:], nifti}


@pytest.mark.parametrize("case", ["bomb", "traversal", "symlink", "not an image file", "only text"])
def test_a_refused_upload_is_failed_with_a_reason_and_nothing_half_written(ports, data_dir, case):
    first = next(iter(folder(data_dir, MR, 1).values()))
    if case == "bomb":
        data, expected = zipped({"a.dcm": first, "b.dcm": b"\0" * (50 << 20)}), "decompression bomb"
    elif case == "traversal":
        data, expected = zipped({"a.dcm": first, "../../b.dcm": first}), "climbs out"
    elif case == "symlink":
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            info = tarfile.TarInfo("a.dcm")
            info.size = len(first)
            archive.addfile(info, io.BytesIO(first))
            link = tarfile.TarInfo("b.dcm")
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/shadow"
            archive.addfile(link)
        data, expected = buffer.getvalue(), "is a link"
    elif case == "not an image file":
        data, expected = b"%PDF-1.4 DOE^JOHN" * 100, "not DICOM"
    else:
        data, expected = zipped({"notes.txt": b"nothing here" * 100}), "no DICOM or NIfTI file in the upload"
    response = uploads.upload(ports, UPLOADER, requests(data))
    assert response.state == pb.UPLOAD_STATE_FAILED and expected in response.failure_reason
    assert keys_in(ports, "quarantine") == []
    assert [event.message.reason for event in outbox(ports.db)] == [response.failure_reason]


def damaged(data: bytes, member: int) -> bytes:
    """The zip `data` with its `member`-th (0-based) member's stored bytes damaged: a stored member gets one byte flipped
    (its CRC fails), a deflated one an invalid first block (its data does not inflate)."""
    info = zipfile.ZipFile(io.BytesIO(data)).infolist()[member]
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    if info.compress_type == zipfile.ZIP_STORED:
        at = start + info.compress_size // 2
        byte = data[at] ^ 0xFF
    else:
        at, byte = start, 0xFF  # the first block's type becomes 3, which deflate reserves
    return data[:at] + bytes([byte]) + data[at + 1:]


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["bad crc", "bad deflate data"])
def test_a_zip_member_damaged_inside_fails_the_upload_at_once_naming_the_member(ports, data_dir, compression):
    """The zip's directory is sound, so the archive passes its checks; its second member's data turns out damaged while
    it is copied to quarantine. The upload is FAILED with a reason naming the member by position (not zlib's message,
    not its name), IngestFailed says so, the member copied before it is deleted, and a later stream is told why."""
    files = folder(data_dir, MR, 3)
    data = damaged(zipped(files, compression), 1)
    response = uploads.upload(ports, UPLOADER, requests(data, name="DOE^JOHN.zip"))
    assert response.state == pb.UPLOAD_STATE_FAILED
    assert response.failure_reason == (
        "member 2 (.dcm) is damaged (its data fails its checksum or does not unpack); create the archive again and upload it"
    )
    [failed] = [event.message for event in outbox(ports.db, "radlab.ingestion.v1.IngestFailed")]
    assert (failed.upload_id, failed.reason) == (response.upload_id, response.failure_reason)
    assert outbox(ports.db, "radlab.ingestion.v1.ScanUploaded") == [] and keys_in(ports, "quarantine") == []
    assert uploads.get_upload(ports, UPLOADER, response.upload_id).state == pb.UPLOAD_STATE_FAILED
    with pytest.raises(FailedPrecondition, match="is FAILED; only a RECEIVING upload"):
        uploads.upload(ports, UPLOADER, requests(data, resume=response.upload_id, offset=len(data)))


def test_only_its_uploader_resumes_an_upload(ports, data_dir):
    """Another user of the tenant, an admin too, is refused (PERMISSION_DENIED, naming no one, whatever offset it sends)
    and changes nothing; another tenant's user of the same name gets NOT_FOUND; the uploader finishes it."""
    data = zipped(folder(data_dir, MR, 8), zipfile.ZIP_STORED)
    with pytest.raises(ConnectionResetError):
        uploads.upload(ports, UPLOADER, requests(data, stop_after=5))
    [receiving] = uploads.list_uploads(ports, UPLOADER, DATASET, pb.UPLOAD_STATE_RECEIVING, 0, 10)[0]
    before = (rows_text(ports.db), keys_in(ports, "quarantine"), outbox(ports.db))
    for intruder in (Principal("uploader-2", "manager", TENANT), Principal("admin-1", "admin", TENANT)):
        for offset in (5 * CHUNK, 0):
            with pytest.raises(PermissionDenied) as refused:
                uploads.upload(ports, intruder, requests(data, resume=receiving.upload_id, offset=offset))
            assert str(refused.value) == (
                f"upload {receiving.upload_id} was started by another user and only they can resume it; start a new upload "
                "without resume_upload_id"
            )
    with pytest.raises(NotFound):
        uploads.upload(ports, Principal("uploader-1", "manager", "hospital-b"), requests(data, resume=receiving.upload_id, offset=5 * CHUNK))
    assert (rows_text(ports.db), keys_in(ports, "quarantine"), outbox(ports.db)) == before
    done = uploads.upload(ports, UPLOADER, requests(data, resume=receiving.upload_id, offset=5 * CHUNK))
    assert done.state == pb.UPLOAD_STATE_UPLOADED and uploads.get_upload(ports, UPLOADER, done.upload_id).uploader == "uploader-1"


def test_a_nifti_declaring_more_than_the_voxel_budget_is_refused_at_upload_from_its_header(ports, data_dir):
    """A 1 MB .nii.gz declaring 1024³ voxels: alone, its upload is FAILED at once (IngestFailed, nothing in quarantine,
    nothing for anonymization to inflate); in an archive beside a real series it is skipped with the reason and the
    series goes on. A 4D NIfTI, which can never be one volume, is refused alike."""
    bomb = nifti_bomb()
    response = uploads.upload(ports, UPLOADER, requests(bomb, name="DOE^JOHN.nii.gz", chunk=1 << 20))
    assert response.state == pb.UPLOAD_STATE_FAILED and response.failure_reason == (
        "the NIfTI file is too large to build: 1024×1024×1024 is 1073741824 voxels, over the budget of 536870912 per volume "
        "(RADLAB_VOLUME_MAX_VOXELS); crop, downsample or split it"
    )
    assert [event.message.reason for event in outbox(ports.db, "radlab.ingestion.v1.IngestFailed")] == [response.failure_reason]
    assert keys_in(ports, "quarantine") == [] and outbox(ports.db, "radlab.ingestion.v1.ScanUploaded") == []

    series = folder(data_dir, MR, 2)
    four_d = nib.Nifti1Image(np.zeros((4, 4, 4, 3), np.int16), np.eye(4)).to_bytes()
    taken = uploads.upload(ports, UPLOADER, requests(zipped(series | {"a/bomb.nii.gz": bomb, "a/fmri.nii": four_d}), chunk=1 << 20))
    assert taken.state == pb.UPLOAD_STATE_UPLOADED and taken.file_count == 2
    assert list(taken.skipped) == [
        "member 3 (.nii.gz): a NIfTI file too large to build: 1024×1024×1024 is 1073741824 voxels, over the budget of "
        "536870912 per volume (RADLAB_VOLUME_MAX_VOXELS); crop, downsample or split it",
        "member 4 (.nii): a NIfTI file not one 3D volume (a volume is 3D; this image has shape (4, 4, 4, 3)); upload a 3D "
        ".nii or .nii.gz",
    ]


def test_upload_limits_and_ttl_are_settings_with_single_machine_defaults():
    settings = Settings.from_env({
        "RADLAB_UPLOAD_MAX_RATIO": "50", "RADLAB_UPLOAD_MAX_BYTES": "1000", "RADLAB_UPLOAD_TTL_S": "90",
        "RADLAB_VOLUME_MAX_VOXELS": "4096",
    })
    assert limits(settings) == Limits(max_total_bytes=1000, max_ratio=50.0, max_voxels=4096) and settings.upload_ttl_s == 90
    defaults = Settings.from_env({})
    assert limits(defaults) == Limits() and defaults.upload_ttl_s == 24 * 3600 and Limits().max_voxels == 1 << 29
    with pytest.raises(ValueError, match="RADLAB_UPLOAD_TTL_S must be"):
        Settings.from_env({"RADLAB_UPLOAD_TTL_S": "0"})
    with pytest.raises(ValueError, match="RADLAB_VOLUME_MAX_VOXELS must be a whole number above 0"):
        Settings.from_env({"RADLAB_VOLUME_MAX_VOXELS": "-1"})


def parts_of(ports: handlers.Ports, upload_id: str) -> list[str]:
    return [key for key in keys_in(ports, "quarantine") if key.startswith(f"uploads/{upload_id}/")]


def test_an_upload_idle_past_its_ttl_expires_and_its_parts_are_deleted(ports, data_dir):
    """Expiry takes only uploads idle for the TTL (a part recorded since keeps its upload), deletes every object under the
    upload's prefix (also one whose stream broke before it was recorded), and a stream still running on it is refused."""
    data = zipped(folder(data_dir, MR, 4), zipfile.ZIP_STORED)
    with pytest.raises(ConnectionResetError):
        uploads.upload(ports, UPLOADER, requests(data, stop_after=2))
    [idle] = uploads.list_uploads(ports, UPLOADER, DATASET, pb.UPLOAD_STATE_RECEIVING, 0, 10)[0]
    ports.objects.put("quarantine", f"uploads/{idle.upload_id}/orphan", b"a part whose stream broke before it was recorded")
    with pytest.raises(ConnectionResetError):
        uploads.upload(ports, UPLOADER, requests(data, stop_after=1))
    [active] = [upload for upload in uploads.list_uploads(ports, UPLOADER, DATASET, pb.UPLOAD_STATE_RECEIVING, 0, 10)[0]
                if upload.upload_id != idle.upload_id]
    assert len(parts_of(ports, idle.upload_id)) == 2 and len(parts_of(ports, active.upload_id)) == 1

    # The sweep's clock, an hour after `active`'s last part: `idle`, whose last part came before, is idle for longer.
    with ports.db.read() as conn:
        last_part = conn.execute(sa.select(store.uploads.c.updated_at).where(store.uploads.c.upload_id == active.upload_id)).scalar_one()
    hour = 3600.0
    assert uploads.expire_uploads(ports, ttl_s=hour, now=last_part + hour) == [idle.upload_id]
    expired = uploads.get_upload(ports, UPLOADER, idle.upload_id)
    assert expired.state == pb.UPLOAD_STATE_EXPIRED and "upload the file again" in expired.failure_reason
    assert parts_of(ports, idle.upload_id) == [] and len(parts_of(ports, active.upload_id)) == 1
    assert uploads.expire_uploads(ports, ttl_s=hour, now=last_part + hour) == []
    with pytest.raises(FailedPrecondition, match="is EXPIRED"):
        uploads.upload(ports, UPLOADER, requests(data, resume=idle.upload_id, offset=idle.bytes_received))

    def expiring_midway():
        """The resumed stream of `active`: the sweep runs while its chunks arrive."""
        for number, request in enumerate(requests(data, resume=active.upload_id, offset=active.bytes_received)):
            if number == 2:
                assert uploads.expire_uploads(ports, ttl_s=1e-6) == [active.upload_id]
            yield request

    with pytest.raises(FailedPrecondition, match="is EXPIRED .*no bytes arrived"):
        uploads.upload(ports, UPLOADER, expiring_midway())
    assert parts_of(ports, active.upload_id) == []
    assert outbox(ports.db) == []


# ---- the service path: upload → anonymization → volumes -----------------------------------------------------

@pytest.fixture
def anonymizer(tmp_path, ports) -> anonymization.Ports:
    db = Database(f"sqlite:///{tmp_path / 'db'}", "anonymization", anonymization_store.metadata)
    yield anonymization.Ports(db, ports.objects, Keys.load(tmp_path / "home", {}))
    db.dispose()


def through_anonymization(ports: handlers.Ports, anonymizer: anonymization.Ports) -> list[Event]:
    """Deliver ingestion's ScanUploaded to the real anonymization handlers, then their ScanAnonymized back to ingestion."""
    anonymize = anonymization.event_handlers(anonymizer, consumer_group("anonymization"))
    for event in outbox(ports.db, "radlab.ingestion.v1.ScanUploaded"):
        anonymize[event.type](event)
    delivered = outbox(anonymizer.db)
    ingest = handlers.event_handlers(ports, CONSUMER)
    for event in delivered:
        ingest[event.type](event)
    return delivered


def poison_dicom_bucket(root: Path) -> None:
    """A file where the `dicom` bucket's folder goes: anonymization cannot write a single output (a store error that
    lasts, as a full or read-only disk would)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "dicom").write_bytes(b"")


def test_an_upload_whose_scanuploaded_anonymization_dead_lettered_fails(ports, anonymizer, tmp_path, data_dir):
    """On the embedded bus: anonymization's real handler fails on a store error until its consumer dead-letters the
    ScanUploaded; ingestion reads the dead letter and the upload is FAILED (IngestFailed, originals kept in quarantine for a
    replay), with no
    file name or path in the reason; redelivery and undecodable dead letters change nothing."""
    poison_dicom_bucket(ports.objects.root)
    bus = LocalBus(tmp_path / "bus.sqlite")
    response = uploads.upload(ports, UPLOADER, requests(zipped(folder(data_dir, MR, 2)), name="DOE^JOHN.zip"))
    assert OutboxRelay(ports.db, bus).publish_pending() == 1
    [original] = bus.subscribe("a reader", ["radlab.ingestion.v1.ScanUploaded"]).poll(2)
    elsewhere = Record(original.topic + ".dlq", 0, 1, original.key, original.value,
                       original.headers | {"radlab_error": "OSError: x", "radlab_consumer": "radlab.audit"})
    failures.on_scan_upload_dead_lettered(ports, CONSUMER, DeadLetter.from_record(elsewhere))  # another group gave up
    assert uploads.get_upload(ports, UPLOADER, response.upload_id).state == pb.UPLOAD_STATE_UPLOADED
    anonymize = EventConsumer(bus, consumer_group("anonymization"), anonymization.event_handlers(anonymizer, consumer_group("anonymization")),
                              max_attempts=3, backoff_s=0.001)
    assert anonymize.run_once() == 1
    letters = DeadLetterConsumer(bus, CONSUMER, handlers.dead_letter_handlers(ports, CONSUMER), poll_timeout_s=2)
    stop = threading.Event()
    assert letters.run_once(stop) == 1

    upload = uploads.get_upload(ports, UPLOADER, response.upload_id)
    assert upload.state == pb.UPLOAD_STATE_FAILED
    assert "3 times" in upload.failure_reason and "FileExistsError" in upload.failure_reason and response.scan_id in upload.failure_reason
    assert str(tmp_path) not in upload.failure_reason and "DOE" not in rows_text(ports.db)
    [failed] = [event.message for event in outbox(ports.db, "radlab.ingestion.v1.IngestFailed")]
    assert (failed.upload_id, failed.scan_id, failed.reason) == (response.upload_id, response.scan_id, upload.failure_reason)
    scan = DeadLetter.from_record(original).event.message
    assert sorted(keys_in(ports, "quarantine")) == sorted(scan.quarantine_keys) and len(scan.quarantine_keys) == 2  # kept for a replay

    before = (rows_text(ports.db), len(outbox(ports.db)))
    [record] = bus.subscribe("a reader", ["radlab.ingestion.v1.ScanUploaded.dlq"]).poll(2)
    bus.publish(record.topic, record.key, record.value, record.headers)  # dead-lettered twice (anonymization redelivered)
    bus.publish(record.topic, record.key, b"\xff not an event", {"radlab_error": "ValueError: x", "radlab_consumer": "radlab.anonymization"})
    assert letters.run_once(stop) == 2
    assert (rows_text(ports.db), len(outbox(ports.db))) == before


def test_an_upload_anonymization_refuses_is_failed_with_its_reason_and_one_ingestfailed(ports, anonymizer, data_dir):
    """A scan whose DICOM file is cut in half: anonymization fails it closed (AnonymizationFailed) and ingestion marks
    the upload FAILED with that reason and emits IngestFailed; a redelivered AnonymizationFailed changes nothing."""
    data = sorted((data_dir / MR).iterdir())[0].read_bytes()
    response = uploads.upload(ports, UPLOADER, requests(data[:len(data) // 2], name="DOE^JOHN.dcm"))
    delivered = through_anonymization(ports, anonymizer)
    assert [event.type for event in delivered] == ["radlab.anonymization.v1.AnonymizationFailed"]
    upload = uploads.get_upload(ports, UPLOADER, response.upload_id)
    assert upload.state == pb.UPLOAD_STATE_FAILED and "truncated" in upload.failure_reason and "DOE" not in upload.failure_reason
    [failed] = outbox(ports.db, "radlab.ingestion.v1.IngestFailed")
    assert (failed.message.upload_id, failed.message.scan_id, failed.message.reason) == (
        response.upload_id, delivered[0].message.scan_id, upload.failure_reason)
    handlers.event_handlers(ports, CONSUMER)[delivered[0].type](delivered[0])
    assert len(outbox(ports.db, "radlab.ingestion.v1.IngestFailed")) == 1


def test_a_served_runtime_fails_dead_lettered_uploads_expires_idle_ones_and_stops_its_threads(tmp_path, data_dir):
    """`radlab serve ingestion anonymization` in-process with a 0.5 s upload TTL: a gRPC upload anonymization cannot
    write becomes FAILED instead of waiting forever, a broken upload becomes EXPIRED, and Runtime.stop ends the dead-letter
    consumer and the expiry sweep before the databases close."""
    key = "ingestion-test-key-of-at-least-32-bytes!"
    home = tmp_path / "home"
    settings = Settings.from_env({
        "RADLAB_HOME": str(home), "RADLAB_GRPC_ADDR": "127.0.0.1:0", "RADLAB_TOKEN_KEY": key, "RADLAB_UPLOAD_TTL_S": "0.5",
    })
    poison_dicom_bucket(home / "objects")
    runtime = Runtime(["ingestion", "anonymization"], settings)
    runtime.start()
    ours = ("dead-letters-ingestion", "ingestion-upload-expiry")
    try:
        assert {thread.name for thread in threading.enumerate()} >= set(ours)
        token = [("authorization", f"Bearer {issue_token(key, subject='uploader-1', role='manager', tenant=TENANT)}")]
        data = next(iter(folder(data_dir, MR, 1).values()))
        [ingestion] = [service for service in runtime.services if service.name == "ingestion"]
        ports = ingestion.ports
        deliver(ports, annotation_fact(annotation_events.DatasetCreated(dataset_id=DATASET, name="chest CT")))
        with grpc.insecure_channel(runtime.address) as channel:
            stub = pb_grpc.IngestionServiceStub(channel)
            uploaded = stub.UploadFiles(requests(data, name="DOE^JOHN.dcm"), metadata=token, timeout=30)
            assert uploaded.state == pb.UPLOAD_STATE_UPLOADED
            with pytest.raises(ConnectionResetError):
                uploads.upload(ports, UPLOADER, requests(data, chunk=1024, stop_after=3))
            [broken] = [upload for upload in uploads.list_uploads(ports, UPLOADER, DATASET, 0, 0, 10)[0]
                        if upload.upload_id != uploaded.upload_id]
            deadline = time.monotonic() + 30
            while True:
                states = [stub.GetUpload(pb.GetUploadRequest(upload_id=upload_id), metadata=token, timeout=30).upload.state
                          for upload_id in (uploaded.upload_id, broken.upload_id)]
                if states == [pb.UPLOAD_STATE_FAILED, pb.UPLOAD_STATE_EXPIRED] or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert states == [pb.UPLOAD_STATE_FAILED, pb.UPLOAD_STATE_EXPIRED]
    finally:
        runtime.stop(0)
    assert not [thread.name for thread in threading.enumerate() if thread.name in ours]


def test_real_series_become_stored_volumes_equal_to_the_offline_build(ports, anonymizer, data_dir):
    """The tilted GE CT, the 2-slice CT of rt_utils and the 3-slice CT (with a DICOM-SEG beside it) in one zip: three volumes,
    voxels and affines equal to build_volumes on the original files, the tilt flagged and corrected; redelivery is a no-op."""
    files = folder(data_dir, TILTED) | folder(data_dir, "dcmqi/data/segmentations/ct-3slice")
    files |= {f"DOE^JOHN/{path.name}": path.read_bytes() for path in sorted((data_dir / "rt_utils/tests/mock_data").glob("ct_*.dcm"))}
    files["DOE^JOHN 1957-03-01/liver-seg.dcm"] = (data_dir / "dcmqi/data/segmentations/liver.dcm").read_bytes()
    response = uploads.upload(ports, UPLOADER, requests(zipped(files)))
    assert response.state == pb.UPLOAD_STATE_UPLOADED and response.file_count == 28 + 2 + 3 + 1
    [anonymized] = through_anonymization(ports, anonymizer)
    assert anonymized.type == "radlab.anonymization.v1.ScanAnonymized"
    ready = [event.message for event in outbox(ports.db, "radlab.ingestion.v1.VolumeReady")]
    assert sorted(len(message.volume_ref.geometry.issues) > 0 for message in ready) == [False, False, True]
    offline = {volume.data.shape: volume for volume in build_volumes([parse_instance(data) for data in files.values()])
               if isinstance(volume, Volume)}
    for message in ready:
        ref = message.volume_ref
        stored = ports.volumes.read(ref.bucket, ref.key_prefix)
        expected = offline[stored.array.shape]
        assert np.array_equal(stored.array, expected.data) and stored.array.dtype == expected.data.dtype
        assert np.allclose(stored.affine, expected.affine, atol=1e-6)
        assert list(ref.geometry.shape) == list(stored.array.shape) and np.allclose(ref.geometry.affine, stored.affine.ravel())
        assert message.modality == "CT" and message.dataset_id == DATASET and message.scan_id == response.scan_id
        volume = queries.get_volume(ports, UPLOADER, message.volume_id)
        assert (volume.min_value, volume.max_value) == (float(stored.array.min()), float(stored.array.max()))
    [tilted] = [message for message in ready if message.volume_ref.geometry.issues]
    kinds = {issue.kind: issue for issue in tilted.volume_ref.geometry.issues}
    assert geometry_pb2.GEOMETRY_ISSUE_KIND_GANTRY_TILT in kinds
    assert abs(kinds[geometry_pb2.GEOMETRY_ISSUE_KIND_GANTRY_TILT].value - 18.5) < 0.5
    assert all(issue.corrected and "resampled" in issue.message for issue in kinds.values())
    upload = uploads.get_upload(ports, UPLOADER, response.upload_id)
    assert upload.state == pb.UPLOAD_STATE_COMPLETED and sorted(upload.volume_ids) == sorted(m.volume_id for m in ready)
    studies, _ = queries.list_studies(ports, UPLOADER, pb.ListStudiesRequest(dataset_id=DATASET), 0, 50)
    assert len(studies) == len({m.study_id for m in ready}) and all(study.patient_pseudonym for study in studies)
    series, _ = queries.list_series(ports, UPLOADER, pb.ListSeriesRequest(dataset_id=DATASET), 0, 50)
    assert sorted(s.instance_count for s in series) == [2, 3, 28] and all(len(s.volume_ids) == 1 for s in series)
    before = (rows_text(ports.db), len(outbox(ports.db)))
    for event in outbox(anonymizer.db):  # at-least-once: the same event again
        handlers.event_handlers(ports, CONSUMER)[event.type](event)
    assert (rows_text(ports.db), len(outbox(ports.db))) == before


def test_4d_series_become_one_volume_each_with_slices_by_time_index(ports, anonymizer, data_dir):
    """GE's 128-file time series, a Siemens mosaic series and a United Imaging VFRAME diffusion series, de-identified on
    the way (the vendors' slicing facts kept as numbers): one [t, k, j, i] volume each, equal to the offline build of the
    original files, the fourth axis in the geometry and the attributes; slices and thumbnails take a time index, and
    one past the last point is refused saying how many there are."""
    files = folder(data_dir, "dcm_qa_stc/In/GE/TriggerTime/4_epi_ascending") | folder(data_dir, "dcm_qa_mosaic/In/ep2d_Asc_2")
    files |= folder(data_dir, "dcm_qa_stc/In/UIH/R002/12_dti_tra_dir16_PA_rot")
    uploads.upload(ports, UPLOADER, requests(zipped(files)))
    through_anonymization(ports, anonymizer)
    ready = {tuple(event.message.volume_ref.geometry.shape): event.message for event in outbox(ports.db, "radlab.ingestion.v1.VolumeReady")}
    offline = {volume.data.shape[1:]: volume for volume in build_volumes([parse_instance(data) for data in files.values()])}
    assert sorted(ready) == sorted(offline) == [(8, 64, 64), (20, 64, 64), (36, 64, 64)]
    for shape, message in ready.items():
        geometry, expected = message.volume_ref.geometry, offline[shape]
        # Times are shifted by de-identification; what the axis is and what ordered it are not.
        assert geometry.time_points == expected.data.shape[0]
        assert geometry.fourth_axis.split(":")[0] == expected.fourth.describe().split(":")[0]
        stored = ports.volumes.read("volumes", message.volume_ref.key_prefix, geometry.time_points - 1)
        assert np.array_equal(stored.array, expected.data[-1]) and np.allclose(stored.affine, expected.affine, atol=1e-4)
        info = ports.volumes.info("volumes", message.volume_ref.key_prefix)
        kept = {key: value for key, value in expected.fourth.as_dict().items() if key != "values"}
        assert info.time_points == geometry.time_points and info.attributes["fourth_axis"] | {"values": None} == kept | {"values": None}
        last = geometry.time_points - 1
        response = slices.get_slice(ports, UPLOADER, pb.GetSliceRequest(volume_id=message.volume_id, plane=geometry_pb2.PLANE_AXIAL,
                                                                         slice_index=3, time_index=last))
        raw = np.frombuffer(response.data, dtype=expected.data.dtype.newbyteorder("<")).reshape(tuple(response.shape))
        assert np.array_equal(raw, expected.data[last, 3]) and not np.array_equal(raw, expected.data[0, 3])
        with pytest.raises(InvalidArgument, match=f"outside the volume: its fourth axis has {last + 1} points"):
            slices.get_slice(ports, UPLOADER, pb.GetSliceRequest(volume_id=message.volume_id, plane=geometry_pb2.PLANE_AXIAL,
                                                                 slice_index=3, time_index=last + 1))
        thumbnail = slices.get_thumbnail(ports, UPLOADER, pb.GetThumbnailRequest(volume_id=message.volume_id, time_index=last))
        assert thumbnail.png.startswith(b"\x89PNG")
    assert [ready[shape].volume_ref.geometry.time_points for shape in sorted(ready)] == [16, 17, 6]


@pytest.mark.parametrize("name", ["dcm_qa_deident/In", "totalsegmentator/tests/reference_files/example_ct_dicom",
                                  "dcm_qa_stc/In/GE/RTIA/2_epiRT_ascending", "dcm_qa_mosaic/In/cmrr_Int_8", "dcm_qa_ts/In"])
def test_the_rest_of_datas_dicom_folders_come_out_of_the_service_as_built_offline(ports, anonymizer, data_dir, name):
    """With the two tests above, every DICOM folder of data/ through upload, de-identification and the volume builder:
    the stored volumes equal `radlab volume`'s build of the original files (test_ingestion_volume compares that with
    dcm2niix), voxel for voxel; the nine transfer syntaxes of dcm_qa_ts are nine volumes of identical voxels."""
    files = folder(data_dir, name)
    uploads.upload(ports, UPLOADER, requests(zipped(files)))
    through_anonymization(ports, anonymizer)
    ready = [event.message for event in outbox(ports.db, "radlab.ingestion.v1.VolumeReady")]
    offline = [volume for volume in build_volumes([parse_instance(data) for data in files.values()]) if isinstance(volume, Volume)]
    assert len(ready) == len(offline) == (9 if name == "dcm_qa_ts/In" else 1)
    assert not outbox(ports.db, "radlab.ingestion.v1.IngestFailed")
    for message in ready:
        geometry = message.volume_ref.geometry
        stored = [ports.volumes.read("volumes", message.volume_ref.key_prefix, time).array for time in range(max(geometry.time_points, 1))]
        assert any(np.array_equal(np.squeeze(np.stack(stored)), volume.data) and np.allclose(message.volume_ref.geometry.affine,
                   volume.affine.ravel(), atol=1e-4) for volume in offline)
    if name == "dcm_qa_ts/In":
        first = ports.volumes.read("volumes", ready[0].volume_ref.key_prefix).array
        assert all(np.array_equal(ports.volumes.read("volumes", message.volume_ref.key_prefix).array, first) for message in ready)


def test_the_same_series_uploaded_twice_is_one_volume_that_both_uploads_list(ports, anonymizer, data_dir):
    files = {f"x/{path.name}": path.read_bytes() for path in sorted((data_dir / "rt_utils/tests/mock_data").glob("ct_*.dcm"))}
    first = uploads.upload(ports, UPLOADER, requests(zipped(files)))
    second = uploads.upload(ports, UPLOADER, requests(zipped(files, zipfile.ZIP_STORED)))
    through_anonymization(ports, anonymizer)
    [ready] = [event.message for event in outbox(ports.db, "radlab.ingestion.v1.VolumeReady")]
    for response in (first, second):
        upload = uploads.get_upload(ports, UPLOADER, response.upload_id)
        assert upload.state == pb.UPLOAD_STATE_COMPLETED and list(upload.volume_ids) == [ready.volume_id]
        assert list(upload.study_ids) == [ready.study_id]


def test_a_refused_series_is_reported_and_the_rest_of_the_scan_goes_on(ports, data_dir):
    """Two copies of one slice (same position, different instances) cannot be stacked: IngestFailed for that series only."""
    mr = sorted((data_dir / MR).glob("*.dcm"))[:4]
    good = [path.read_bytes() for path in sorted((data_dir / "rt_utils/tests/mock_data").glob("ct_*.dcm"))]
    first = parse_instance(mr[0].read_bytes())
    twin = parse_instance(mr[0].read_bytes())
    twin.SOPInstanceUID = first.SOPInstanceUID + ".2"
    blobs = [path.read_bytes() for path in mr] + [_bytes(twin)] + good
    ports.objects.ensure_bucket("dicom")
    keys = []
    for number, data in enumerate(blobs):
        ports.objects.put("dicom", f"{TENANT}/k{number}.dcm", data)
        keys.append(f"{TENANT}/k{number}.dcm")
    volumes.on_scan_anonymized(ports, CONSUMER, anonymized_event(keys))
    [failed] = [event.message for event in outbox(ports.db, "radlab.ingestion.v1.IngestFailed")]
    assert failed.series_instance_uid == str(first.SeriesInstanceUID) and "repeat another slice's position" in failed.reason
    [ready] = [event.message for event in outbox(ports.db, "radlab.ingestion.v1.VolumeReady")]
    assert list(ready.volume_ref.geometry.shape) == [2, 512, 512]


def _bytes(dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer)
    return buffer.getvalue()


def anonymized_event(keys: list[str], scan: str = "scan-1") -> Event:
    message = anonymization_events.ScanAnonymized(
        scan_id=scan, upload_id="upload-1", dataset_id=DATASET, dicom_bucket="dicom", object_keys=keys, instance_count=len(keys),
    )
    return Event(envelope_for(message, source="radlab.anonymization", subject=scan, tenant=TENANT), message)


def test_a_jpeg_2000_series_with_blank_uids_builds_from_the_dicom_bucket(ports, data_dir):
    """TotalSegmentator's 20-slice lossless JPEG 2000 CT (Study and Series Instance UIDs blank) put straight into `dicom`,
    as anonymization would write it: one volume equal to the offline build."""
    paths = sorted((data_dir / "totalsegmentator/tests/reference_files/example_ct_dicom").iterdir())
    ports.objects.ensure_bucket("dicom")
    for number, path in enumerate(paths):
        ports.objects.put("dicom", f"{TENANT}/j2k/{number}.dcm", path.read_bytes())
    volumes.on_scan_anonymized(ports, CONSUMER, anonymized_event([f"{TENANT}/j2k/{number}.dcm" for number in range(len(paths))]))
    [ready] = [event.message for event in outbox(ports.db, "radlab.ingestion.v1.VolumeReady")]
    [offline] = build_volumes([parse_instance(path.read_bytes()) for path in paths])
    stored = ports.volumes.read("volumes", ready.volume_ref.key_prefix)
    assert stored.array.shape == (20, 512, 512) and np.array_equal(stored.array, offline.data)
    assert np.allclose(stored.affine, offline.affine, atol=1e-6)


def test_a_nifti_keeps_its_affine_exactly(ports, data_dir):
    """NIfTI objects (recognised by content, gzipped or not) become volumes with from_nifti's array and affine, bit for bit."""
    ports.objects.ensure_bucket("dicom")
    path = data_dir / "totalsegmentator/tests/reference_files/example_ct_sm.nii.gz"
    ports.objects.put("dicom", f"{TENANT}/scan-1/1.nii.gz", path.read_bytes())
    ports.objects.put("dicom", f"{TENANT}/scan-1/2.nii", gzip.decompress((data_dir / "sct_t2/t2/t2.nii.gz").read_bytes()))
    volumes.on_scan_anonymized(ports, CONSUMER, anonymized_event([f"{TENANT}/scan-1/1.nii.gz", f"{TENANT}/scan-1/2.nii"]))
    ready = [event.message for event in outbox(ports.db, "radlab.ingestion.v1.VolumeReady")]
    assert len(ready) == 2
    for message, source in zip(ready, (path, data_dir / "sct_t2/t2/t2.nii.gz")):
        array, affine = from_nifti(source)
        stored = ports.volumes.read("volumes", message.volume_ref.key_prefix)
        assert np.array_equal(stored.array, array) and stored.array.dtype == array.dtype
        assert np.array_equal(stored.affine, affine)
        assert np.array_equal(np.reshape(message.volume_ref.geometry.affine, (4, 4)), affine)
    assert len({message.study_id for message in ready}) == 2


def test_vendors_see_volumes_only_of_datasets_shared_with_them(ports, data_dir):
    ports.objects.ensure_bucket("dicom")
    ports.objects.put("dicom", f"{TENANT}/a.nii.gz", (data_dir / "totalsegmentator/tests/reference_files/example_mr_sm.nii.gz").read_bytes())
    volumes.on_scan_anonymized(ports, CONSUMER, anonymized_event([f"{TENANT}/a.nii.gz"]))
    [ready] = [event.message for event in outbox(ports.db, "radlab.ingestion.v1.VolumeReady")]
    vendor = Principal("v-1", "vendor", TENANT, "acme")
    with pytest.raises(NotFound):
        queries.get_volume(ports, vendor, ready.volume_id)

    shared = annotation_fact(annotation_events.DatasetShared(dataset_id=DATASET, vendor_id="acme"))
    deliver(ports, shared)
    deliver(ports, shared)
    assert queries.get_volume(ports, vendor, ready.volume_id).volume_ref.volume_id == ready.volume_id
    with pytest.raises(NotFound):
        queries.get_volume(ports, Principal("v-2", "vendor", TENANT, "other"), ready.volume_id)
    with pytest.raises(NotFound):
        queries.get_volume(ports, Principal("v-1", "vendor", "hospital-b", "acme"), ready.volume_id)
    unshared = annotation_fact(annotation_events.DatasetUnshared(dataset_id=DATASET, vendor_id="acme"))
    deliver(ports, unshared)
    with pytest.raises(NotFound):
        queries.get_volume(ports, vendor, ready.volume_id)


def test_slices_and_thumbnails_come_from_the_stored_volume(ports, data_dir):
    """RAW slices of every plane equal the stored array's, by index and by mm; PNGs are windowed; bad requests say why."""
    ports.objects.ensure_bucket("dicom")
    ports.objects.put("dicom", f"{TENANT}/ct.nii.gz", (data_dir / "totalsegmentator/tests/reference_files/example_ct_sm.nii.gz").read_bytes())
    volumes.on_scan_anonymized(ports, CONSUMER, anonymized_event([f"{TENANT}/ct.nii.gz"]))
    [ready] = [event.message for event in outbox(ports.db, "radlab.ingestion.v1.VolumeReady")]
    stored = ports.volumes.read("volumes", ready.volume_ref.key_prefix)
    for plane in (geometry_pb2.PLANE_AXIAL, geometry_pb2.PLANE_CORONAL, geometry_pb2.PLANE_SAGITTAL):
        response = slices.get_slice(ports, UPLOADER, pb.GetSliceRequest(volume_id=ready.volume_id, plane=plane, slice_index=7))
        axis = {geometry_pb2.PLANE_AXIAL: 0, geometry_pb2.PLANE_CORONAL: 1, geometry_pb2.PLANE_SAGITTAL: 2}[plane]  # an RAS-aligned NIfTI
        expected = np.take(stored.array, 7, axis=axis)
        raw = np.frombuffer(response.data, dtype=stored.array.dtype.newbyteorder("<")).reshape(tuple(response.shape))
        assert np.array_equal(raw, expected) and response.dtype == ready.volume_ref.dtype
        by_mm = slices.get_slice(ports, UPLOADER, pb.GetSliceRequest(volume_id=ready.volume_id, plane=plane, position_mm=response.position_mm))
        assert by_mm.slice_index == 7 and by_mm.data == response.data
    png = slices.get_slice(ports, UPLOADER, pb.GetSliceRequest(
        volume_id=ready.volume_id, plane=geometry_pb2.PLANE_AXIAL, slice_index=15, format=pb.SLICE_FORMAT_PNG,
        window_preset=pb.WINDOW_PRESET_CT_BONE, colormap=pb.COLORMAP_HOT,
    ))
    assert png.data.startswith(b"\x89PNG") and (png.applied_window.center, png.applied_window.width) == (400, 1800)
    with pytest.raises(InvalidArgument, match="does not exist"):
        slices.get_slice(ports, UPLOADER, pb.GetSliceRequest(volume_id=ready.volume_id, plane=geometry_pb2.PLANE_AXIAL, slice_index=999))
    with pytest.raises(InvalidArgument, match="plane is required"):
        slices.get_slice(ports, UPLOADER, pb.GetSliceRequest(volume_id=ready.volume_id, slice_index=1))
    for target in ({"volume_id": ready.volume_id}, {"study_id": ready.study_id}, {"series_id": ready.series_id}):
        thumbnail = slices.get_thumbnail(ports, UPLOADER, pb.GetThumbnailRequest(max_size=64, **target))
        assert thumbnail.png.startswith(b"\x89PNG") and max(thumbnail.width, thumbnail.height) == 64
    with pytest.raises(NotFound):
        slices.get_thumbnail(ports, Principal("v-1", "vendor", TENANT, "acme"), pb.GetThumbnailRequest(study_id=ready.study_id))


def test_a_radiograph_is_a_one_slice_volume_shown_in_its_own_voi_window(ports):
    """A MONOCHROME1 CR (pydicom-data) becomes a 1-slice volume whose default window is its VOI window, as the thumbnail uses."""
    from pydicom.data import get_testdata_file

    radiograph = Path(get_testdata_file("RG1_UNCI.dcm")).read_bytes()
    [offline] = build_volumes([parse_instance(radiograph)])
    ports.objects.ensure_bucket("dicom")
    ports.objects.put("dicom", f"{TENANT}/cr.dcm", radiograph)
    volumes.on_scan_anonymized(ports, CONSUMER, anonymized_event([f"{TENANT}/cr.dcm"]))
    [ready] = [event.message for event in outbox(ports.db, "radlab.ingestion.v1.VolumeReady")]
    assert ready.modality == "CR" and list(ready.volume_ref.geometry.shape) == [1, 1955, 1841]
    attributes = ports.volumes.info("volumes", ready.volume_ref.key_prefix).attributes
    assert attributes["default_window"] == list(offline.window)
    png = slices.get_slice(ports, UPLOADER, pb.GetSliceRequest(
        volume_id=ready.volume_id, plane=geometry_pb2.PLANE_AXIAL, slice_index=0, format=pb.SLICE_FORMAT_PNG,
    ))
    assert (png.applied_window.center, png.applied_window.width) == offline.window


# ---- a series in several arrivals ------------------------------------------------------------------------------
# As a PACS sends it, instance by instance: ingestion rebuilds it whole as parts arrive and annotation keeps one item
# for it (annotation's real handlers on their own SQLite database).

PARTS_OF = MR
FILES = 30  # the MR's first files (by name): a 30-slice series
ANNOTATION_ADMIN = Principal("admin-1", "admin", TENANT)


class Annotator(NamedTuple):
    ports: annotation.Ports
    dataset_id: str


@pytest.fixture
def annotator(tmp_path, ports):
    """Annotation's handlers on their own database and the same object store, with a dataset created through annotation
    and its DatasetCreated delivered to ingestion."""
    database = Database(f"sqlite:///{tmp_path / 'annotation-db'}", "annotation", annotation_store.metadata)
    dataset_id = datasets.create_dataset(database, ANNOTATION_ADMIN, "chest CT", "").dataset_id
    for event in outbox(database, "radlab.annotation.v1.DatasetCreated"):
        deliver(ports, event)
    yield Annotator(annotation.Ports(database, ports.objects, VolumeStore(ports.objects)), dataset_id)
    database.dispose()


def parts(data_dir, count: int) -> list[dict[str, bytes]]:
    paths = sorted(path for path in (data_dir / PARTS_OF).iterdir() if path.is_file())[:FILES]
    return [{f"part/{path.name}": path.read_bytes() for path in chunk} for chunk in np.array_split(paths, count)]


def arrive(ports, anonymizer, annotator, files: dict[str, bytes]) -> list:
    """One arrival through upload and de-identification; the VolumeReady events it adds."""
    before = len(outbox(ports.db, "radlab.ingestion.v1.VolumeReady"))
    uploads.upload(ports, UPLOADER, requests(zipped(files), dataset=annotator.dataset_id))
    through_anonymization(ports, anonymizer)
    return outbox(ports.db, "radlab.ingestion.v1.VolumeReady")[before:]


def to_annotation(annotator, events: list[Event]) -> None:
    handle = annotation.event_handlers(annotator.ports, "radlab.annotation")
    for event in events:
        handle[event.type](event)


def items(annotator) -> list:
    with annotator.ports.db.read() as conn:
        return conn.execute(sa.select(annotation_store.items).order_by(annotation_store.items.c.seq)).all()


def test_a_series_in_three_arrivals_ends_as_one_whole_volume_on_one_item(ports, anonymizer, annotator, data_dir):
    """Each arrival rebuilds the series from every part so far; its VolumeReady names the parts it contains; the one
    item follows, keeping its id, and the last volume equals the whole series built at once."""
    whole = [volume for volume in build_volumes([parse_instance(data) for files in parts(data_dir, 1) for data in files.values()])]
    seen, item_ids = [], set()
    for number, files in enumerate(parts(data_dir, 3), start=1):
        [ready] = arrive(ports, anonymizer, annotator, files)
        assert list(ready.message.supersedes_volume_ids) == seen
        seen.append(ready.message.volume_id)
        to_annotation(annotator, [ready])
        [item] = items(annotator)
        item_ids.add(item.item_id)
        assert item.volume_id == ready.message.volume_id
    assert len(item_ids) == 1
    final = ports.volumes.read("volumes", seen[-1])
    assert np.array_equal(final.array, whole[0].data) and np.allclose(final.affine, whole[0].affine, atol=1e-6)
    assert len(final.array) == FILES
    added = outbox(annotator.ports.db, "radlab.annotation.v1.ItemAdded")
    assert [event.message.volume_id for event in added] == seen and {event.message.item_id for event in added} == item_ids


def test_an_item_annotated_on_an_earlier_part_keeps_its_annotation_and_the_whole_series_is_a_new_item(
        ports, anonymizer, annotator, data_dir):
    first, second = parts(data_dir, 2)
    to_annotation(annotator, arrive(ports, anonymizer, annotator, first))
    [item] = items(annotator)
    value = classes.create_class(annotator.ports.db, ANNOTATION_ADMIN, annotation_pb.CreateLabelClassRequest(
        dataset_id=annotator.dataset_id, name="lesion", type=annotation_pb.LABEL_CLASS_TYPE_BOUNDING_BOX)).value
    shapes.save_shapes(annotator.ports, ANNOTATION_ADMIN, annotation_pb.SaveShapesRequest(item_id=item.item_id, shapes=[annotation_pb.Shape(
        label_value=value, plane=geometry_pb2.PLANE_AXIAL, slice_index=2, box=annotation_pb.Box(x0=3, y0=4, x1=10, y1=10))]))
    [ready] = arrive(ports, anonymizer, annotator, second)
    assert list(ready.message.supersedes_volume_ids) == [item.volume_id]
    to_annotation(annotator, [ready])
    kept, whole = items(annotator)
    assert (kept.item_id, kept.volume_id) == (item.item_id, item.volume_id)
    assert whole.volume_id == ready.message.volume_id and whole.item_metadata["supersedes_item"] == item.item_id
    assert "keeps its annotations" in whole.item_metadata["note"]
    upload = uploads.list_uploads(ports, UPLOADER, annotator.dataset_id, pb.UPLOAD_STATE_COMPLETED, 0, 10)[0]
    assert len(upload) == 2
