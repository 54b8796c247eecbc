"""The anonymization service's handlers on a real SQLite database and file object store: a scan in, de-identified instances out."""

from __future__ import annotations

import gzip
import json
import re
import warnings
from io import BytesIO
from pathlib import Path

import grpc
import nibabel as nib
import numpy as np
import pydicom
import pytest
import sqlalchemy as sa
from PIL import Image
from prometheus_client import REGISTRY

from radlab.annotation.v1 import events_pb2 as annotation_events
from radlab.anonymization.v1 import anonymization_service_pb2 as pb
from radlab.anonymization.v1 import events_pb2
from radlab.ingestion.v1 import events_pb2 as ingestion_events
from services.anonymization import handlers, store
from services.anonymization.handlers import held, profiles, pseudonyms, reports
from services.anonymization.handlers.burned_in import HOLD, REDACT, BurnedInText
from services.anonymization.tesseract import Tesseract
from services.anonymization.keys import Keys
from services.anonymization.domain.engine import anonymize
from services.anonymization.rules_table import load_rule_table
from services.ingestion.domain.volume import Volume, build_volumes
from shared.auth import Principal
from shared.consumer import consumer_group
from shared.db import Database
from shared.errors import RadlabError
from shared.events import Event, envelope_for
from shared.objectstore.file import FileObjectStore
from tests.e2e.test_anonymization_pipeline import leaked
from tests.burned_in_corpus import cine
from tests.burned_in_corpus import corpus as burned_in_corpus
from tests.conftest import installed_tool
from tests.phi_corpus import PATIENT_ID, UID_CANARY, build_instance
from tests.unit.test_anonymization_engine import COMPRESSED_CT, bare, recompressed
from tests.unit.test_anonymization_nifti import CANARIES as NIFTI_CANARIES
from tests.unit.test_anonymization_nifti import MR as NIFTI_MR
from tests.unit.test_anonymization_nifti import with_phi

TENANT = "hospital-a"
ADMIN = Principal("admin-1", "admin", TENANT)
CONSUMER = consumer_group("anonymization")
REAL_FILES = 3


@pytest.fixture(scope="module")
def corpus(data_dir):
    """Two canary-seeded CT instances of one study, one canary-seeded US instance (held), three real MR files."""
    table = load_rule_table()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        built = [
            build_instance(table, study_uid=f"{UID_CANARY}.6.1", instance=1),
            build_instance(table, study_uid=f"{UID_CANARY}.6.1", instance=2, references=f"{UID_CANARY}.9.1"),
            build_instance(table, study_uid=f"{UID_CANARY}.6.2", instance=3, modality="US", burned_in=None),
        ]
    canaries = set().union(*(planted.canaries for _data, planted, _ds in built)) | {"CNRYFILENAME"}
    real = [path.read_bytes() for path in sorted((data_dir / "dcm_qa_deident" / "In").glob("*.dcm"))[:REAL_FILES]]
    return [data for data, _planted, _ds in built] + real, canaries


@pytest.fixture
def ports(tmp_path) -> handlers.Ports:
    db = Database(f"sqlite:///{tmp_path / 'db'}", "anonymization", store.metadata)
    keys = Keys.load(tmp_path / "home", {})
    yield handlers.Ports(db, FileObjectStore(tmp_path / "objects"), keys)
    db.dispose()


def quarantine(ports: handlers.Ports, files: list[bytes], scan: str) -> list[str]:
    """Put the files into quarantine under names that carry PHI, as a careless uploader's would."""
    ports.objects.ensure_bucket("quarantine")
    keys = []
    for number, data in enumerate(files, 1):
        key = f"{scan}/CNRYFILENAME {PATIENT_ID} {number}.dcm"
        ports.objects.put("quarantine", key, data)
        keys.append(key)
    return keys


def uploaded(keys: list[str], scan: str, dataset_id: str = "dataset-1") -> Event:
    message = ingestion_events.ScanUploaded(
        upload_id=f"upload-{scan}", scan_id=scan, dataset_id=dataset_id, quarantine_bucket="quarantine",
        quarantine_keys=keys, file_count=len(keys),
    )
    return Event(envelope_for(message, source="radlab.ingestion", subject=scan, tenant=TENANT), message)


def deliver(ports: handlers.Ports, event: Event) -> None:
    handlers.event_handlers(ports, CONSUMER)[event.type](event)


def dataset_created(dataset_id: str, tenant: str = TENANT) -> Event:
    """Annotation's DatasetCreated for `dataset_id` in `tenant`, as the bus delivers it."""
    message = annotation_events.DatasetCreated(dataset_id=dataset_id, name="chest CT", creator="manager-1")
    return Event(envelope_for(message, source="radlab.annotation", subject=dataset_id, tenant=tenant), message)


def refusal(call) -> RadlabError:
    with pytest.raises(RadlabError) as refused:
        call()
    return refused.value


def outbox(ports: handlers.Ports) -> list[Event]:
    with ports.db.read() as conn:
        rows = conn.execute(sa.select(ports.db.outbox).order_by(ports.db.outbox.c.seq)).all()
    decoded = []
    for row in rows:
        message = {"radlab.anonymization.v1.ScanAnonymized": events_pb2.ScanAnonymized,
                   "radlab.anonymization.v1.AnonymizationFailed": events_pb2.AnonymizationFailed}[row.topic].FromString(row.payload)
        assert json.loads(row.headers)["ce_tenant"] == TENANT
        decoded.append(message)
    return decoded


def keys_in(ports: handlers.Ports, bucket: str) -> list[str]:
    return [info.key for info in ports.objects.list(bucket)]


def engine_counts() -> tuple[float, float]:
    """radlab_anonymized_instances_total for the byte-level and the dataset engine."""
    return tuple(REGISTRY.get_sample_value("radlab_anonymized_instances_total", {"engine": engine}) or 0.0 for engine in ("bytes", "dataset"))


def test_a_scan_is_anonymized_into_dicom_and_its_originals_leave_quarantine(ports, corpus, tmp_path):
    """5 instances written under replaced UIDs, the US one held in quarantine, ScanAnonymized in the outbox; nothing stored holds a canary."""
    files, canaries = corpus
    keys = quarantine(ports, files, "scan-1")
    event = uploaded(keys, "scan-1")
    before = engine_counts()
    deliver(ports, event)
    assert engine_counts() == (before[0] + len(files), before[1])  # every file through the byte-level engine

    [announced] = outbox(ports)
    assert isinstance(announced, events_pb2.ScanAnonymized)
    assert announced.instance_count == len(files) - 1 == len(announced.object_keys) and announced.held_count == 1
    assert sorted(announced.object_keys) == keys_in(ports, "dicom")
    assert all(key.startswith(f"{TENANT}/2.25.") and key.count("/2.25.") == 3 for key in announced.object_keys)
    assert len(set(announced.study_instance_uids)) == 2  # the canary CT study and the real MR study
    assert keys_in(ports, "quarantine") == [keys[2]]  # only the held US original stays

    for key in announced.object_keys:
        data = ports.objects.get("dicom", key)
        dataset = pydicom.dcmread(BytesIO(data))
        assert key == f"{TENANT}/{dataset.StudyInstanceUID}/{dataset.SeriesInstanceUID}/{dataset.SOPInstanceUID}.dcm"
        assert dataset.PatientIdentityRemoved == "YES"
        assert leaked(canaries, data) == []
    raw_db = b"".join(path.read_bytes() for path in (tmp_path / "db").iterdir())
    assert leaked(canaries, raw_db) == []
    assert all(leaked(canaries, message.SerializeToString()) == [] for message in outbox(ports))

    report = reports.get_report(ports, ADMIN, "scan-1")
    assert (report.instance_count, report.anonymized_count, report.held_count) == (len(files), len(files) - 1, 1)
    assert report.profile.retain_longitudinal_modified_dates and not report.profile.retain_device_identity
    counts = {count.action: count.count for count in report.action_counts}
    assert counts[pb.DEID_ACTION_REMOVED] > 100 and counts[pb.DEID_ACTION_UID_REPLACED] > 0
    assert [(c.reason, c.count) for c in report.hold_counts] == [(pb.HOLD_REASON_RISKY_IMAGE_TYPE, 1)]
    cleaned = {(entry.keyword, entry.action): entry for entry in report.attribute_actions}
    assert cleaned[("Allergies", pb.DEID_ACTION_CLEANED)].tag == "(0010,2110)"  # free text nobody vouches for: replaced
    assert ("StudyDescription", pb.DEID_ACTION_KEPT) in cleaned  # "HEAD W/O CONTRAST 3mm": vouched for
    assert {entry.action for entry in report.attribute_actions} == {pb.DEID_ACTION_KEPT, pb.DEID_ACTION_CLEANED}
    assert report.warnings == [f"file 3 of {len(files)}: held for review: modality US often burns text into the pixels "
                               "and Burned In Annotation is not NO; review before release"]


def test_redelivery_changes_nothing_and_a_crash_before_deletion_is_finished_by_it(ports, corpus):
    """The same event twice: one report, one ScanAnonymized; originals left after a crash between commit and deletion go on redelivery."""
    files, _canaries = corpus
    keys = quarantine(ports, files, "scan-2")
    event = uploaded(keys, "scan-2")
    deliver(ports, event)
    written = {key: ports.objects.head("dicom", key).sha256 for key in keys_in(ports, "dicom")}
    for key in keys:  # as if the process died after the commit, before deleting the originals
        ports.objects.put("quarantine", key, b"restored")
    with ports.db.unit_of_work() as uow:
        uow.execute(store.reports.update().values(originals_deleted_at=None))

    deliver(ports, event)
    deliver(ports, uploaded(keys, "scan-2"))  # the same scan announced again under a new event id

    assert len(outbox(ports)) == 1
    assert {key: ports.objects.head("dicom", key).sha256 for key in keys_in(ports, "dicom")} == written
    assert keys_in(ports, "quarantine") == [keys[2]]
    with ports.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(store.held_instances)).scalar_one() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(store.reports)).scalar_one() == 1


def test_one_truncated_file_fails_the_whole_scan_and_keeps_every_original(ports, corpus):
    """File 4 of 6 cut short → AnonymizationFailed naming its position (not its name), nothing in dicom, quarantine untouched."""
    files, _canaries = corpus
    broken = files[:3] + [files[3][: len(files[3]) // 2]] + files[4:]
    keys = quarantine(ports, broken, "scan-3")
    deliver(ports, uploaded(keys, "scan-3"))

    [failed] = outbox(ports)
    assert isinstance(failed, events_pb2.AnonymizationFailed)
    assert failed.reason.startswith(f"file 4 of {len(keys)}: ") and "truncated" in failed.reason
    assert "CNRY" not in failed.reason
    assert keys_in(ports, "dicom") == []
    assert keys_in(ports, "quarantine") == sorted(keys)
    with pytest.raises(RadlabError) as missing:
        reports.get_report(ports, ADMIN, "scan-3")
    assert missing.value.code is grpc.StatusCode.NOT_FOUND


def test_an_admin_looks_up_the_original_patient_id_and_the_row_keeps_only_ciphertext(ports, corpus):
    """LookupPseudonym returns the original ID with a reason, audits the call, refuses without a reason or across tenants."""
    files, _canaries = corpus
    deliver(ports, uploaded(quarantine(ports, files[:1], "scan-4"), "scan-4"))
    dataset = pydicom.dcmread(BytesIO(ports.objects.get("dicom", keys_in(ports, "dicom")[0])))
    request = pb.LookupPseudonymRequest(patient_pseudonym=dataset.PatientID, reason="patient asked for their data")

    assert pseudonyms.lookup_pseudonym(ports, ADMIN, request).patient_id == PATIENT_ID
    study = pb.LookupPseudonymRequest(study_instance_uid=dataset.StudyInstanceUID, reason="link to the PACS")
    assert pseudonyms.lookup_pseudonym(ports, ADMIN, study).study_instance_uid == f"{UID_CANARY}.6.1"
    with ports.db.read() as conn:
        rows = conn.execute(sa.select(store.pseudonyms)).all()
        audit = conn.execute(sa.select(store.lookups)).all()
    assert {row.kind for row in rows} == {"patient_id", "study_uid", "series_uid", "sop_uid"}
    assert all(PATIENT_ID.encode() not in row.ciphertext and UID_CANARY.encode() not in row.ciphertext for row in rows)
    assert [(row.subject, row.pseudonym, row.reason, row.found) for row in audit][0] == (
        "admin-1", dataset.PatientID, "patient asked for their data", True
    )
    with pytest.raises(RadlabError) as unexplained:
        pseudonyms.lookup_pseudonym(ports, ADMIN, pb.LookupPseudonymRequest(patient_pseudonym=dataset.PatientID))
    assert unexplained.value.code is grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(RadlabError) as elsewhere:
        pseudonyms.lookup_pseudonym(ports, Principal("admin-2", "admin", "hospital-b"), request)
    assert elsewhere.value.code is grpc.StatusCode.NOT_FOUND


def held_counted(reason: str) -> float:
    return REGISTRY.get_sample_value("radlab_held_instances_total", {"reason": reason}) or 0.0


def test_a_held_ultrasound_is_listed_and_released_into_dicom(ports, corpus):
    """The US instance is counted and listed PENDING; regions that are no rectangle, or given without RELEASE_REDACTED, are refused
    clearly; RELEASE writes it, emits ScanAnonymized and empties quarantine."""
    files, _canaries = corpus
    before = held_counted("risky_image_type")
    deliver(ports, uploaded(quarantine(ports, files, "scan-5"), "scan-5"))
    assert held_counted("risky_image_type") == before + 1  # the dashboard's holds panel
    [pending], _next = held.list_held(ports, ADMIN, "", "scan-5", pb.HOLD_STATE_PENDING, 0, 50)
    assert (pending.modality, pending.reason, pending.state) == ("US", pb.HOLD_REASON_RISKY_IMAGE_TYPE, pb.HOLD_STATE_PENDING)
    assert pending.sop_instance_uid.startswith("2.25.")

    for resolution, regions in ((pb.HOLD_RESOLUTION_RELEASE_REDACTED, [pb.PixelRegion(width=5)]),
                                (pb.HOLD_RESOLUTION_RELEASE_REDACTED, []), (pb.HOLD_RESOLUTION_RELEASE, [pb.PixelRegion(width=5, height=5)])):
        refused = refusal(lambda: held.release_held(ports, ADMIN, pending.held_instance_id, resolution, regions, ""))
        assert refused.code is grpc.StatusCode.INVALID_ARGUMENT and "region" in str(refused)

    released = held.release_held(ports, ADMIN, pending.held_instance_id, pb.HOLD_RESOLUTION_RELEASE, [], "no text in the pixels")
    assert (released.state, released.resolved_by) == (pb.HOLD_STATE_RELEASED, "admin-1")
    announced = outbox(ports)[-1]
    assert announced.released_held_instance_id == pending.held_instance_id and announced.held_count == 0
    [key] = announced.object_keys
    assert key.endswith(f"/{pending.sop_instance_uid}.dcm") and ports.objects.exists("dicom", key)
    assert keys_in(ports, "quarantine") == []
    with pytest.raises(RadlabError) as again:
        held.release_held(ports, ADMIN, pending.held_instance_id, pb.HOLD_RESOLUTION_RELEASE, [], "")
    assert again.value.code is grpc.StatusCode.FAILED_PRECONDITION


@pytest.fixture(scope="module")
def burned_in_images(data_dir) -> dict:
    return {image.name: image for image in burned_in_corpus(data_dir)}


def reading_ports(ports: handlers.Ports, policy: str) -> handlers.Ports:
    """`ports` reading burned-in text with the real Tesseract (installed through scripts/tools.sh when missing)."""
    return handlers.Ports(ports.db, ports.objects, ports.keys, BurnedInText(policy, Tesseract(installed_tool("tesseract"))))


def test_text_burned_into_an_unflagged_image_holds_it_and_a_reviewer_releases_it_redacted(ports, burned_in_images):
    """Under the hold policy a radiograph with the patient's name in a corner (nothing in its header says so) is held
    as TEXT_DETECTED, the regions in the detail; its preview shows them boxed in red; RELEASE_REDACTED with those
    regions writes it with them filled and Burned In Annotation NO; the CT slice beside it goes through unread."""
    ports = reading_ports(ports, HOLD)
    images = [burned_in_images["cr-radiograph"], burned_in_images["ct-axial"]]
    deliver(ports, uploaded(quarantine(ports, [image.data for image in images], "scan-text"), "scan-text"))
    [pending], _next = held.list_held(ports, ADMIN, "", "scan-text", pb.HOLD_STATE_PENDING, 0, 50)
    assert pending.reason == pb.HOLD_REASON_TEXT_DETECTED and "patient name" in pending.detail
    assert "MORALES" not in pending.detail.upper() and len(keys_in(ports, "dicom")) == 1
    regions = [pb.PixelRegion(x=int(x), y=int(y), width=int(width), height=int(height))
               for width, height, x, y in re.findall(r"(\d+)x(\d+) at \((\d+),(\d+)\)", pending.detail)]
    assert regions
    shown = held.preview_held(ports, ADMIN, pending.held_instance_id, 0)
    picture = np.asarray(Image.open(BytesIO(shown.png)))
    assert (shown.width, shown.height, shown.frame_count) == (1760, 1760, 1) and picture.shape == (1760, 1760, 3)
    edge = picture[regions[0].y, regions[0].x:regions[0].x + regions[0].width]  # the top of the first box, drawn red
    assert np.all(edge == (255, 0, 0))
    assert refusal(lambda: held.preview_held(ports, ADMIN, pending.held_instance_id, 1)).code is grpc.StatusCode.INVALID_ARGUMENT
    held.release_held(ports, ADMIN, pending.held_instance_id, pb.HOLD_RESOLUTION_RELEASE_REDACTED, regions, "name in a corner")
    [key] = outbox(ports)[-1].object_keys
    released = pydicom.dcmread(BytesIO(ports.objects.get("dicom", key)))
    assert released.BurnedInAnnotation == "NO"
    pixels = released.pixel_array
    for region in regions:
        assert np.all(pixels[region.y:region.y + region.height, region.x:region.x + region.width] == pixels.min())


def test_the_redact_policy_releases_every_image_with_its_identifying_text_filled(ports, burned_in_images):
    """Under the redact policy the whole burned-in corpus is released, none held; the report says which regions of
    which file were filled and why, never the text."""
    ports = reading_ports(ports, REDACT)
    images = list(burned_in_images.values())
    deliver(ports, uploaded(quarantine(ports, [image.data for image in images], "scan-redact"), "scan-redact"))
    report = reports.get_report(ports, ADMIN, "scan-redact")
    assert (report.anonymized_count, report.held_count) == (len(images), 0)
    redacted = {int(number) for number in re.findall(r"file (\d+) of \d+: burned-in text redacted", "\n".join(report.warnings))}
    # Every image with identity rendered in, and the Philips ultrasound whose own burned-in date is real.
    assert redacted >= {number for number, image in enumerate(images, 1) if any(text.identifying for text in image.texts)}
    assert not redacted & {number for number, image in enumerate(images, 1) if not image.read}
    assert all("MORALES" not in warning.upper() and "4821937" not in warning for warning in report.warnings)
    assert keys_in(ports, "quarantine") == []


def test_text_on_a_later_frame_of_a_cine_is_found_though_frame_0_is_clean(ports):
    """A real ultrasound cine whose frame 7 alone carries the patient's name and record number: held under the hold
    policy, and under a redact policy its regions are blanked in frame 7 (and every frame: regions are filled in all)."""
    image = cine(7)
    held_ports = reading_ports(ports, HOLD)
    deliver(held_ports, uploaded(quarantine(held_ports, [image.data], "scan-cine"), "scan-cine"))
    [pending], _next = held.list_held(held_ports, ADMIN, "", "scan-cine", pb.HOLD_STATE_PENDING, 0, 50)
    assert pending.reason == pb.HOLD_REASON_TEXT_DETECTED and "patient name" in pending.detail

    redacting = reading_ports(ports, REDACT)
    deliver(redacting, uploaded(quarantine(redacting, [image.data], "scan-cine-redact"), "scan-cine-redact"))
    [key] = outbox(redacting)[-1].object_keys
    written = pydicom.dcmread(BytesIO(redacting.objects.get("dicom", key)))
    frames = written.pixel_array
    assert written.BurnedInAnnotation == "NO" and frames.shape[0] == 12
    for text in image.texts:
        x, y, width, height = text.box
        assert np.all(frames[:, y:y + height, x:x + width] == frames.min()), text.text


class CountingReader:
    """The real Tesseract, counting the pages it is shown."""

    def __init__(self):
        self.tesseract, self.pages = Tesseract(installed_tool("tesseract")), 0

    def read(self, page: np.ndarray) -> list:
        self.pages += 1
        return self.tesseract.read(page)


def test_a_profile_chooses_its_own_burned_in_text_policy_over_the_deployments(ports, burned_in_images):
    """The deployment holds; a dataset whose profile says REDACT has the radiograph's text filled and released, one
    whose profile says OFF never has its pixels read (the radiograph released as is), and UNSPECIFIED holds."""
    reader = CountingReader()
    deployment = handlers.Ports(ports.db, ports.objects, ports.keys, BurnedInText(HOLD, reader))
    radiograph = burned_in_images["cr-radiograph"]
    for dataset_id, policy in (("dataset-redact", pb.BURNED_IN_TEXT_POLICY_REDACT), ("dataset-off", pb.BURNED_IN_TEXT_POLICY_OFF)):
        deliver(ports, dataset_created(dataset_id))
        mask = pb.UpdateProfileRequest(update_mask={"paths": ["burned_in_text"]}).update_mask
        chosen = profiles.update_profile(ports, ADMIN, pb.Profile(dataset_id=dataset_id, burned_in_text=policy), mask)
        assert chosen.burned_in_text == policy and chosen.retain_safe_private  # the other fields kept
    deliver(ports, dataset_created("dataset-default"))
    assert profiles.get_profile(ports, ADMIN, "dataset-default").burned_in_text == pb.BURNED_IN_TEXT_POLICY_UNSPECIFIED

    def upload(dataset_id: str) -> pb.AnonymizationReport:
        deliver(deployment, uploaded(quarantine(deployment, [radiograph.data], dataset_id), dataset_id, dataset_id))
        return reports.get_report(deployment, ADMIN, dataset_id)

    redacted = upload("dataset-redact")
    assert (redacted.anonymized_count, redacted.held_count) == (1, 0) and "burned-in text redacted" in "".join(redacted.warnings)
    read_before = reader.pages
    skipped = upload("dataset-off")
    assert (skipped.anonymized_count, skipped.held_count) == (1, 0) and reader.pages == read_before
    assert not any("burned-in" in warning for warning in skipped.warnings)
    defaulted = upload("dataset-default")
    assert (defaulted.anonymized_count, defaulted.held_count) == (0, 1) and reader.pages > read_before
    bad = pb.Profile(dataset_id="dataset-off", burned_in_text=7)
    mask = pb.UpdateProfileRequest(update_mask={"paths": ["burned_in_text"]}).update_mask
    assert refusal(lambda: profiles.update_profile(ports, ADMIN, bad, mask)).code is grpc.StatusCode.INVALID_ARGUMENT


def test_profiles_default_to_radlabs_options_and_update_by_field_mask(ports):
    """A new dataset gets the engine's defaults; UpdateProfile changes only the masked flags."""
    deliver(ports, dataset_created("dataset-9"))
    profile = profiles.get_profile(ports, ADMIN, "dataset-9")
    assert profile.retain_safe_private and not profile.retain_institution_identity
    change = pb.Profile(dataset_id="dataset-9", retain_institution_identity=True, retain_safe_private=False)
    mask = pb.UpdateProfileRequest(update_mask={"paths": ["retain_institution_identity"]}).update_mask
    updated = profiles.update_profile(ports, ADMIN, change, mask)
    assert updated.retain_institution_identity and updated.retain_safe_private and updated.updated_by == "admin-1"
    assert profiles.get_profile(ports, ADMIN, "dataset-9") == updated
    unknown = refusal(lambda: profiles.update_profile(ports, ADMIN, change, pb.UpdateProfileRequest(update_mask={"paths": ["name"]}).update_mask))
    assert unknown.code is grpc.StatusCode.INVALID_ARGUMENT


def test_a_profile_exists_only_for_a_dataset_announced_in_the_callers_tenant(ports):
    """Get and Update of an id never announced, and of another tenant's dataset, answer one NOT_FOUND, word for word,
    and write no row; an id set right after CreateDataset, before DatasetCreated arrives, is refused alike (with a
    hint to retry) and taken once it has."""

    def refusals(dataset: str) -> set[tuple[grpc.StatusCode, str]]:
        change = pb.Profile(dataset_id=dataset, retain_device_identity=True)
        errors = (refusal(lambda: profiles.get_profile(ports, ADMIN, dataset)),
                  refusal(lambda: profiles.update_profile(ports, ADMIN, change, pb.UpdateProfileRequest().update_mask)))
        return {(error.code, str(error)) for error in errors}

    [(code, message)] = refusals("dataset-b")
    assert code is grpc.StatusCode.NOT_FOUND and message.startswith("dataset 'dataset-b' not found: ") and "retry in a moment" in message
    deliver(ports, dataset_created("dataset-b", tenant="hospital-b"))
    assert refusals("dataset-b") == {(code, message)}
    [(code_of_long, long)] = refusals("x" * 100_000)
    assert code_of_long is grpc.StatusCode.NOT_FOUND and len(long) < len(message) + 100  # the id is not echoed whole
    with ports.db.read() as conn:
        assert conn.execute(sa.select(store.profiles)).all() == []

    deliver(ports, dataset_created("dataset-new"))
    change = pb.Profile(dataset_id="dataset-new", retain_device_identity=True)
    assert profiles.update_profile(ports, ADMIN, change, pb.UpdateProfileRequest().update_mask).retain_device_identity
    other_admin = Principal("admin-2", "admin", "hospital-b")
    assert refusal(lambda: profiles.get_profile(ports, other_admin, "dataset-new")).code is grpc.StatusCode.NOT_FOUND
    assert not profiles.get_profile(ports, other_admin, "dataset-b").retain_device_identity


def test_a_redelivered_dataset_created_is_applied_once(ports):
    """The same DatasetCreated twice (at-least-once delivery): one known dataset, and no error for the second."""
    event = dataset_created("dataset-1")
    deliver(ports, event)
    deliver(ports, event)
    with ports.db.read() as conn:
        assert conn.execute(sa.select(store.datasets.table)).all() == [(TENANT, "dataset-1")]
    assert profiles.get_profile(ports, ADMIN, "dataset-1").dataset_id == "dataset-1"


def test_a_database_from_before_datasets_were_cached_gains_the_table_and_keeps_its_profiles(tmp_path):
    """An anonymization database written before datasets were cached and before reports said what became of each
    cleaned attribute (a RADLAB_HOME from an older release), holding a profile and a report: opened as the service
    opens it, it gains the table and the column; the profile is served once DatasetCreated (read again from the
    topic's start by the new subscription) announces its dataset, and the old report reads with no attribute actions."""
    url = f"sqlite:///{tmp_path / 'db'}"
    older = sa.MetaData()
    for table in store.metadata.sorted_tables:
        if table.name != "datasets":
            table.to_metadata(older)
    Database(url, "anonymization", older).dispose()
    kept = {flag: flag == "retain_device_identity" for flag in profiles.PROFILE_FLAGS}
    with sa.create_engine(f"{url}/anonymization.sqlite").begin() as conn:
        conn.exec_driver_sql("ALTER TABLE reports DROP COLUMN attribute_actions")
        conn.exec_driver_sql("ALTER TABLE profiles DROP COLUMN burned_in_text")
        conn.execute(store.profiles.insert().values(tenant=TENANT, dataset_id="dataset-1", updated_by="admin-0", updated_at=1.0, **kept))
        conn.exec_driver_sql(
            "INSERT INTO reports (tenant, scan_id, upload_id, dataset_id, profile, instance_count, anonymized_count, "
            "held_count, dropped_count, action_counts, warnings, hold_counts, created_at) "
            f"VALUES ('{TENANT}', 'scan-old', 'upload-old', 'dataset-1', x'', 1, 1, 0, 0, '{{}}', '[]', '{{}}', 1.0)"
        )
    db = Database(url, "anonymization", store.metadata, store.migrations)
    try:
        ports = handlers.Ports(db, FileObjectStore(tmp_path / "objects"), Keys.load(tmp_path / "home", {}))
        assert refusal(lambda: profiles.get_profile(ports, ADMIN, "dataset-1")).code is grpc.StatusCode.NOT_FOUND
        deliver(ports, dataset_created("dataset-1"))
        profile = profiles.get_profile(ports, ADMIN, "dataset-1")
        assert profile.retain_device_identity and profile.updated_by == "admin-0"
        assert profile.burned_in_text == pb.BURNED_IN_TEXT_POLICY_UNSPECIFIED  # the deployment's default, as before
        old = reports.get_report(ports, ADMIN, "scan-old")
        assert old.anonymized_count == 1 and list(old.attribute_actions) == []
    finally:
        db.dispose()


def test_keys_are_created_once_private_and_reused(tmp_path):
    """Without RADLAB_ANON_KEY / RADLAB_PHI_KEY a key pair is made once (0600) in RADLAB_HOME; the environment wins."""
    first, second = Keys.load(tmp_path, {}), Keys.load(tmp_path, {})
    assert first == second and len(first.phi) == 32
    assert all((tmp_path / name).stat().st_mode & 0o777 == 0o600 for name in ("anon.key", "phi.key"))
    configured = Keys.load(tmp_path, {"RADLAB_ANON_KEY": "k" * 32, "RADLAB_PHI_KEY": "ab" * 32})
    assert configured.anon == b"k" * 32 and configured.phi == bytes.fromhex("ab" * 32)
    assert "k" * 32 not in repr(configured)
    with pytest.raises(ValueError, match="RADLAB_PHI_KEY"):
        Keys.load(tmp_path, {"RADLAB_PHI_KEY": "short"})
    assert Path(tmp_path / "anon.key").read_text() != ""


def test_a_nifti_scan_leaves_quarantine_without_its_free_text_and_extensions(ports, data_dir, tmp_path):
    """ScanUploaded with a .nii.gz (PHI in descrip, aux_file, an extension and the gzip name) → one .nii.gz in
    dicom under the scan id, listed in ScanAnonymized; no canary in any stored object, row or event; voxels and affine kept."""
    data, _image = with_phi(data_dir / NIFTI_MR)
    keys = quarantine(ports, [data], "scan-6")
    deliver(ports, uploaded(keys, "scan-6"))

    [announced] = outbox(ports)
    assert isinstance(announced, events_pb2.ScanAnonymized)
    assert list(announced.object_keys) == keys_in(ports, "dicom") == [f"{TENANT}/nifti/scan-6/1.nii.gz"]
    assert announced.instance_count == 1 and list(announced.study_instance_uids) == []
    assert keys_in(ports, "quarantine") == []
    stored = ports.objects.get("dicom", announced.object_keys[0])
    canaries = set(NIFTI_CANARIES) | {"CNRYFILENAME", PATIENT_ID}
    assert leaked(canaries, stored) == [] and leaked(canaries, gzip.decompress(stored)) == []
    assert leaked(canaries, b"".join(path.read_bytes() for path in (tmp_path / "db").iterdir())) == []
    after, real = nib.Nifti1Image.from_bytes(gzip.decompress(stored)), nib.load(data_dir / NIFTI_MR)
    assert np.array_equal(after.affine, real.affine) and after.dataobj.get_unscaled().tobytes() == real.dataobj.get_unscaled().tobytes()
    assert all(leaked(canaries, message.SerializeToString()) == [] for message in outbox(ports))
    counts = {count.action: count.count for count in reports.get_report(ports, ADMIN, "scan-6").action_counts}
    assert counts[pb.DEID_ACTION_REMOVED] == 2 and counts[pb.DEID_ACTION_EMPTIED] >= 3


def test_the_ct_with_blank_study_and_series_uids_becomes_one_series_under_valid_keys(ports, data_dir):
    """The real 20-slice JPEG 2000 CT has blank Study and Series Instance UIDs: 20 objects under
    tenant/study/series/sop keys with no empty segment, one study and series, the volume built from
    them equal to the original's, every original gone from quarantine."""
    files = sorted((data_dir / COMPRESSED_CT).iterdir())
    keys = quarantine(ports, [path.read_bytes() for path in files], "scan-7")
    deliver(ports, uploaded(keys, "scan-7"))

    [announced] = outbox(ports)
    assert isinstance(announced, events_pb2.ScanAnonymized), announced
    assert (announced.instance_count, announced.held_count) == (len(files), 0)
    [study] = announced.study_instance_uids
    segments = [key.split("/") for key in announced.object_keys]
    assert all(len(parts) == 4 and all(parts) and parts[1] == study for parts in segments)
    assert len({parts[2] for parts in segments}) == 1 and len({parts[3] for parts in segments}) == len(files)
    assert study.startswith("2.25.") and keys_in(ports, "quarantine") == []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outputs = [pydicom.dcmread(BytesIO(ports.objects.get("dicom", key))) for key in announced.object_keys]
        [before], [after] = build_volumes([pydicom.dcmread(path) for path in files]), build_volumes(outputs)
    assert isinstance(after, Volume) and np.array_equal(after.data, before.data) and np.array_equal(after.affine, before.affine)


def test_files_without_preamble_or_file_meta_are_anonymized_like_the_originals(ports, data_dir):
    """Real MR files sent without the preamble and 'DICM', or as bare datasets (implicit and explicit VR), as
    ingestion accepts them: the scan completes, each output is Part 10 under the key and with the elements
    the original file's output has."""
    paths = sorted((data_dir / "dcm_qa_deident" / "In").glob("*.dcm"))[:3]
    originals = [path.read_bytes() for path in paths]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stripped = [originals[0][132:], bare(originals[1], implicit=True), bare(originals[2], implicit=False)]
    before = engine_counts()
    deliver(ports, uploaded(quarantine(ports, stripped, "scan-8"), "scan-8"))
    assert engine_counts() == (before[0], before[1] + 3)  # no preamble: the dataset engine's

    [announced] = outbox(ports)
    assert isinstance(announced, events_pb2.ScanAnonymized), announced
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = [
            pydicom.dcmread(BytesIO(anonymize(data, load_rule_table(), ports.keys.anon, TENANT, scan="scan-8").data)) for data in originals
        ]
        for key, reference in zip(announced.object_keys, expected):
            assert key == f"{TENANT}/{reference.StudyInstanceUID}/{reference.SeriesInstanceUID}/{reference.SOPInstanceUID}.dcm"
            written = pydicom.dcmread(BytesIO(ports.objects.get("dicom", key)))  # not forced: Part 10
            assert written.file_meta.MediaStorageSOPInstanceUID == reference.SOPInstanceUID
            assert [(e.tag, e.value) for e in written if e.tag != 0x7FE00010] == [(e.tag, e.value) for e in reference if e.tag != 0x7FE00010]
            assert written.PixelData == reference.PixelData
    assert keys_in(ports, "quarantine") == []


def test_overlay_bits_hidden_in_compressed_pixels_are_held_with_their_own_reason(ports, data_dir):
    """A JPEG 2000 slice with bits set above Bits Stored is held as HIDDEN_OVERLAY_BITS, listed and counted so."""
    path = sorted((data_dir / COMPRESSED_CT).iterdir())[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = recompressed(path, pydicom.uid.JPEG2000Lossless, hidden=True)
    keys = quarantine(ports, [data], "scan-9")
    deliver(ports, uploaded(keys, "scan-9"))

    [pending], _next = held.list_held(ports, ADMIN, "", "scan-9", pb.HOLD_STATE_PENDING, 0, 50)
    assert pending.reason == pb.HOLD_REASON_HIDDEN_OVERLAY_BITS and "Bits Stored (12)" in pending.detail
    report = reports.get_report(ports, ADMIN, "scan-9")
    assert [(c.reason, c.count) for c in report.hold_counts] == [(pb.HOLD_REASON_HIDDEN_OVERLAY_BITS, 1)]
    assert keys_in(ports, "quarantine") == keys and keys_in(ports, "dicom") == []
