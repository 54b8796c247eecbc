"""The PHI scan: a canary-seeded scan through `radlab up`, then every stored object, row, bus record and log line searched for canaries.

The scan goes into a dataset created through annotation, whose profile is set once anonymization has heard of it.

The upload RPC belongs to ingestion's issue, so the test does ingestion's part itself: it puts the files
into the stack's quarantine bucket and publishes ScanUploaded on the stack's bus, as ingestion will.
Quarantine keys are opaque (upload id and position), as ingestion must name them: ScanUploaded carries
them on the bus, so a key made from a file name would put that name in the bus log.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
import warnings
from io import BytesIO
from pathlib import Path

import grpc
import pydicom
import pytest

from radlab.anonymization.v1 import anonymization_service_pb2 as pb
from radlab.anonymization.v1 import anonymization_service_pb2_grpc as pb_grpc
from radlab.anonymization.v1 import events_pb2
from radlab.client import Client
from radlab.ingestion.v1 import events_pb2 as ingestion_events
from radlab.tokens import issue_token, token_key
from shared import bus as bus_port
from shared import objectstore
from shared.events import envelope_for, event_type, to_headers
from services.anonymization.rules_table import load_rule_table
from shared.stack import Stack
from tests.conftest import wait_until
from tests.phi_corpus import PATIENT_ID, UID_CANARY, build_instance

TENANT = "hospital-a"
WAIT_S = 30


@pytest.fixture(scope="module")
def corpus(data_dir):
    """Three canary-seeded CT instances (one study, references between them) and four real MR files."""
    table = load_rule_table()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        built = [
            build_instance(table, study_uid=f"{UID_CANARY}.6.1", instance=n, references=f"{UID_CANARY}.9.1" if n > 1 else None)
            for n in (1, 2, 3)
        ]
    canaries = set().union(*(planted.canaries for _data, planted, _ds in built))
    real = [path.read_bytes() for path in sorted((data_dir / "dcm_qa_deident" / "In").glob("*.dcm"))[:4]]
    return [data for data, _planted, _ds in built] + real, canaries


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, corpus):
    """`radlab up` on a fresh RADLAB_HOME; a dataset created and its profile set (and the refusals of two profiles it
    may not set); one scan into it uploaded as ingestion will, and its ScanAnonymized read back."""
    files, _canaries = corpus
    home = tmp_path_factory.mktemp("home")
    with Stack(home, env={"RADLAB_ANON_KEY": "", "RADLAB_PHI_KEY": ""}) as stack:
        dataset_id, refusals = _dataset_with_profile(stack, home)
        store = objectstore.connect(f"file://{home}/objects")
        store.ensure_bucket("quarantine")
        upload_id, scan_id = str(uuid.uuid4()), str(uuid.uuid4())
        keys = [f"{upload_id}/{number:05d}" for number in range(1, len(files) + 1)]
        for key, data in zip(keys, files):
            store.put("quarantine", key, data)
        message = ingestion_events.ScanUploaded(
            upload_id=upload_id, scan_id=scan_id, dataset_id=dataset_id, quarantine_bucket="quarantine",
            quarantine_keys=keys, file_count=len(keys), byte_count=sum(map(len, files)), uploader="uploader-1",
        )
        envelope = envelope_for(message, source="radlab.ingestion", subject=scan_id, tenant=TENANT)
        bus = bus_port.connect(f"local://{home}/bus.sqlite")
        bus.publish(envelope.type, scan_id, envelope.payload, to_headers(envelope))
        announced = _wait_for_scan_anonymized(bus, scan_id)
        admin = issue_token(token_key(home, None), subject="admin-1", role="admin", tenant=TENANT)
        with grpc.insecure_channel(stack.grpc_addr) as channel:
            client = pb_grpc.AnonymizationServiceStub(channel)
            auth = [("authorization", f"Bearer {admin}")]
            report = client.GetAnonymizationReport(pb.GetAnonymizationReportRequest(scan_id=scan_id), metadata=auth).report
            first = pydicom.dcmread(BytesIO(store.get("dicom", announced.object_keys[0])))
            looked_up = client.LookupPseudonym(
                pb.LookupPseudonymRequest(patient_pseudonym=first.PatientID, reason="e2e re-identification check"), metadata=auth
            )
        bus.close()
    yield home, store, keys, announced, report, looked_up, refusals


def _dataset_with_profile(stack: Stack, home: Path) -> tuple[str, dict[str, grpc.RpcError]]:
    """A dataset created through annotation, its profile set to drop patient characteristics once DatasetCreated reached
    anonymization (NOT_FOUND until then); and what another tenant's admin got setting the profile of an id that does
    not exist and of this dataset, by the id asked for."""
    key = token_key(home, None)
    with Client(stack.grpc_addr, issue_token(key, subject="admin-1", role="admin", tenant=TENANT)) as admin, \
            Client(stack.grpc_addr, issue_token(key, subject="admin-2", role="admin", tenant="hospital-b")) as stranger:
        dataset_id = admin.create_dataset("anonymization e2e").dataset_id

        def update(client: Client, dataset: str):
            request = pb.UpdateProfileRequest(
                profile=pb.Profile(dataset_id=dataset, retain_patient_characteristics=False),
                update_mask={"paths": ["retain_patient_characteristics"]},
            )
            try:
                return client.anonymization.UpdateProfile(request).profile
            except grpc.RpcError as error:
                if error.code() is not grpc.StatusCode.NOT_FOUND:
                    raise
                return error

        wait_until(lambda: isinstance(update(admin, dataset_id), pb.Profile), "anonymization to hear of the new dataset")
        return dataset_id, {asked: update(stranger, asked) for asked in (str(uuid.uuid4()), dataset_id)}


def _wait_for_scan_anonymized(bus, scan_id: str) -> events_pb2.ScanAnonymized:
    subscription = bus.subscribe(f"e2e-watch-{uuid.uuid4().hex[:8]}", [event_type(events_pb2.ScanAnonymized)])
    deadline = time.monotonic() + WAIT_S
    try:
        while time.monotonic() < deadline:
            for record in subscription.poll(0.5):
                if record.key == scan_id:
                    return events_pb2.ScanAnonymized.FromString(record.value)
    finally:
        subscription.close()
    pytest.fail(f"no ScanAnonymized for scan {scan_id} within {WAIT_S} s")


def test_the_scan_is_anonymized_through_the_bus(pipeline, corpus):
    """Every file comes out under replaced UIDs, quarantine is emptied, the report and LookupPseudonym answer over gRPC."""
    files, _canaries = corpus
    home, store, keys, announced, report, looked_up, _refusals = pipeline
    assert announced.instance_count == len(files) == len(announced.object_keys) and announced.held_count == 0
    assert sorted(announced.object_keys) == [info.key for info in store.list("dicom")]
    assert [info.key for info in store.list("quarantine")] == []
    assert report.anonymized_count == len(files) and report.held_count == 0
    assert looked_up.patient_id == PATIENT_ID


def test_the_scan_used_its_datasets_profile_and_other_profiles_are_not_found(pipeline):
    """The profile set over gRPC governed the scan; an id that does not exist and another tenant's dataset got one
    NOT_FOUND, word for word the same but for the id, with a hint to retry a dataset created a moment ago."""
    report, refusals = pipeline[4], pipeline[6]
    assert not report.profile.retain_patient_characteristics and report.profile.retain_safe_private
    assert all(isinstance(error, grpc.RpcError) and error.code() is grpc.StatusCode.NOT_FOUND for error in refusals.values())
    [message] = {error.details().replace(asked, "ID") for asked, error in refusals.items()}
    assert message.startswith("dataset 'ID' not found: ") and "retry in a moment" in message


def test_no_canary_is_left_in_any_object_row_bus_record_or_log_line(pipeline, corpus):
    """Tag walk and raw bytes of every object outside quarantine, every row of every service database, the bus, the log."""
    _files, canaries = corpus
    home, store, _keys, _announced, _report, _looked_up, _refusals = pipeline
    assert len(canaries) > 1000
    leaks: dict[str, list[str]] = {}

    def scan(where: str, text: bytes | str) -> None:
        raw = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
        found = leaked(canaries, raw)
        if found:
            leaks[where] = found[:5]

    objects = home / "objects"
    buckets = sorted(path.name for path in objects.iterdir() if path.is_dir() and not path.name.startswith("."))
    assert "dicom" in buckets
    scanned = 0
    for bucket in buckets:
        if bucket == "quarantine":
            continue
        for info in store.list(bucket):
            data = store.get(bucket, info.key)
            scan(f"{bucket}/{info.key} (bytes)", data)
            scan(f"{bucket}/{info.key} (key)", info.key)
            if info.key.endswith(".dcm"):
                dataset = pydicom.dcmread(BytesIO(data))
                scan(f"{bucket}/{info.key} (tags)", "\n".join([*_tag_texts(dataset.file_meta), *_tag_texts(dataset)]))
            scanned += 1
    assert scanned >= 7
    for sidecar in (objects / ".radlab").rglob("*"):
        if sidecar.is_file() and "quarantine" not in sidecar.relative_to(objects / ".radlab").parts:
            scan(str(sidecar.relative_to(home)), sidecar.read_bytes())

    databases = sorted((home / "db").glob("*.sqlite"))
    assert {path.stem for path in databases} >= {"anonymization", "annotation", "workflow"}
    for path in [*databases, home / "bus.sqlite"]:
        rows = 0
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                for row in conn.execute(f'SELECT * FROM "{table}"'):
                    rows += 1
                    for value in row:
                        scan(f"{path.name}:{table}", value if isinstance(value, (bytes, str)) else str(value))
        conn.close()
        if path.stem in ("anonymization", "bus"):
            assert rows > 0, path
    log = (home / "radlab-up.log").read_bytes()
    assert b'"scan anonymized"' in log  # the log the scan reads is the one the service wrote to
    scan("radlab-up.log", log)
    assert leaks == {}


def leaked(canaries: set[str], raw: bytes) -> list[str]:
    """The canaries found in `raw`. An all-digit canary (a date, a DS) counts only where no digit touches it:
    inside a longer number it is a coincidence, e.g. part of a 39-digit 2.25 UID, not the value. (A leaked DT
    starts with a date canary followed by digits; its time canary, which has a '.', still catches it.)"""
    found = []
    for canary in canaries:
        needle = canary.encode()
        start = raw.find(needle)
        while start != -1:
            touching = raw[start - 1:start].isdigit() or raw[start + len(needle):start + len(needle) + 1].isdigit()
            if not (canary.isdigit() and touching):
                found.append(canary)
                break
            start = raw.find(needle, start + 1)
    return sorted(found)


def _tag_texts(dataset: pydicom.Dataset):
    for element in dataset:
        if element.VR == "SQ":
            for item in element.value:
                yield from _tag_texts(item)
        elif isinstance(element.value, (bytes, bytearray)):
            yield element.value.decode("latin-1")
        else:
            yield str(element.value)


def test_the_key_files_are_private(pipeline):
    """With no key in the environment the stack made its keys in RADLAB_HOME, readable by its owner only."""
    home = pipeline[0]
    assert all((Path(home) / name).stat().st_mode & 0o777 == 0o600 for name in ("anon.key", "phi.key"))
