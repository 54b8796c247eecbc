"""The interpolation service on the embedded adapters (local:// bus, file store, SQLite) with the MSD spleen CT and its manual mask.

Events are published on a real local bus as annotation publishes them and consumed by the service's own
consumer; SlicesInterpolated leaves through the outbox relay onto the same bus.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import grpc
import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

from radlab.annotation.v1 import events_pb2 as annotation_events
from radlab.interpolation.v1 import events_pb2
from radlab.interpolation.v1 import interpolation_service_pb2 as pb
from radlab.interpolation.v1 import interpolation_service_pb2_grpc as pb_grpc
from radlab.tokens import issue_token
from radlab.type.v1 import geometry_pb2, job_pb2, label_pb2
from services import interpolation
from services.interpolation import handlers, store
from shared import bus as bus_port
from shared import events, jobs
from shared.agreement import dice
from shared.auth import Principal
from shared.config import Settings
from shared.consumer import EventConsumer, consumer_group
from shared.db import Database, OutboxRelay
from shared.errors import RadlabError
from shared.objectstore.file import FileObjectStore
from shared.runtime import Adapters, Runtime
from shared.volume_store import VolumeStore
from shared.volumes import from_nifti
from tests.conftest import Clock, wait_until

TENANT = "hospital-a"
ITEM, DATASET, VOLUME, ANNOTATION = "item-1", "dataset-1", "volume-1", "annotation-1"
ANNOTATOR = Principal("annotator-1", "annotator", TENANT)
VENDOR = Principal("vendor-user", "vendor", TENANT, vendor="acme")
GROUP = consumer_group("interpolation")
# The spleen is drawn on slices 3..22 of 26 (5 mm apart); every 3rd slice plus the last are keys (k = 3).
KEYS = (3, 6, 9, 12, 15, 18, 21, 22)
ABSENT = 1  # a key slice saying "no spleen here", below the first drawn one
T = TypeVar("T")


@pytest.fixture(scope="module")
def spleen(data_dir):
    """(image [k, j, i] in HU, manual mask [k, j, i], affine) of the MSD spleen crop."""
    folder = data_dir / "ivadomed_spleen" / "ct_scan"
    image, affine = from_nifti(folder / "sub-spleen2" / "ct" / "sub-spleen2_ct.nii.gz")
    mask, _ = from_nifti(folder / "derivatives" / "labels" / "sub-spleen2" / "ct" / "sub-spleen2_ct_seg-manual.nii.gz")
    return image, mask, affine


@pytest.fixture
def service(tmp_path, spleen):
    """The service's ports (its worker on a `Clock`), a local bus with its consumer, and the spleen image stored as
    ingestion stores volumes."""
    db = Database(f"sqlite:///{tmp_path / 'db'}", "interpolation", store.metadata, store.migrations)
    volumes = VolumeStore(FileObjectStore(tmp_path / "objects"))
    image, _mask, affine = spleen
    volumes.write("volumes", VOLUME, image, affine, {"modality": "CT"})
    ports = handlers.Ports(db, volumes, handlers.job_worker(db, clock=Clock()))
    bus = bus_port.connect(f"local://{tmp_path / 'bus.sqlite'}")
    consumer = EventConsumer(bus, GROUP, handlers.event_handlers(ports, GROUP), poll_timeout_s=0.05)
    yield ports, bus, consumer
    ports.worker.shutdown()
    consumer.subscription.close()
    bus.close()
    db.dispose()


def publish(bus, message, subject: str) -> events.EventEnvelope:
    """Publish `message` on the bus exactly as annotation's outbox relay would."""
    envelope = events.envelope_for(message, source="radlab.annotation", subject=subject, tenant=TENANT)
    bus.publish(envelope.type, envelope.subject, envelope.payload, events.to_headers(envelope))
    return envelope


def consume(consumer: EventConsumer) -> None:
    """Let the service's consumer apply everything published so far."""
    while consumer.run_once():
        pass


def add_item(service) -> None:
    _ports, bus, consumer = service
    publish(bus, annotation_events.ItemAdded(item_id=ITEM, dataset_id=DATASET, volume_id=VOLUME, modality="CT"), ITEM)
    consume(consumer)


def save_key_slices(volumes: VolumeStore, bus, spleen, version: int = 1) -> tuple[annotation_events.KeySlicesSaved, events.EventEnvelope]:
    """Write the key slices' label array (only key slices drawn) and announce it with KeySlicesSaved, as annotation does."""
    _image, mask, affine = spleen
    drawn = np.zeros_like(mask)
    drawn[list(KEYS)] = mask[list(KEYS)]
    prefix = f"{TENANT}/{ITEM}/{ANNOTATION}/{version}/keys"
    volumes.write("labels", prefix, drawn, affine)
    saved = annotation_events.KeySlicesSaved(
        item_id=ITEM, dataset_id=DATASET, annotation_id=ANNOTATION, version=version, volume_id=VOLUME,
        plane=geometry_pb2.PLANE_AXIAL,
        key_slices=[annotation_events.LabelKeySlices(label_value=1, drawn_slice_indices=KEYS, absent_slice_indices=[ABSENT])],
        labels=label_pb2.Mask(bucket="labels", key=prefix, format=geometry_pb2.VOLUME_FORMAT_ZARR,
                              dtype=geometry_pb2.DATA_TYPE_UINT8, label_values=[1], volume_id=VOLUME),
    )
    return saved, publish(bus, saved, ITEM)


def announced(service) -> list[events_pb2.SlicesInterpolated]:
    """What the service published: its outbox relayed to the bus and read back by a fresh consumer group."""
    ports, bus, _consumer = service
    OutboxRelay(ports.db, bus).publish_pending()
    subscription = bus.subscribe("test.annotation", [events.event_type(events_pb2.SlicesInterpolated)])
    try:
        records = subscription.poll(0.5)
    finally:
        subscription.close()
    decoded = [events.decode(events.from_record(record)) for record in records]
    assert all(event.envelope.tenant == TENANT and event.envelope.subject == ITEM for event in decoded)
    return [event.message for event in decoded]


def held_out_dice(result: np.ndarray, truth: np.ndarray, slices) -> float:
    return dice(result[list(slices)] == 1, truth[list(slices)] == 1)


def test_key_slices_saved_becomes_an_image_guided_mask_in_the_labels_bucket(service, spleen):
    """KeySlicesSaved → filled array in `labels`, SlicesInterpolated listing only filled slices and the method chosen
    per label with its reason, keys byte-identical."""
    ports, bus, consumer = service
    _image, mask, _affine = spleen
    add_item(service)
    saved, _envelope = save_key_slices(ports.volumes, bus, spleen)
    consume(consumer)

    [done] = announced(service)
    assert (done.item_id, done.annotation_id, done.key_slice_version) == (ITEM, ANNOTATION, 1)
    assert done.method == pb.INTERPOLATION_METHOD_AUTOMATIC and done.plane == geometry_pb2.PLANE_AXIAL
    [chosen] = done.choices  # the spleen's six inner keys chose the image-guided filler, and it says so
    assert chosen.label_value == 1 and chosen.method == pb.INTERPOLATION_METHOD_IMAGE_GUIDED
    assert chosen.reason.startswith("best on ") and "predicted from their neighbours: image_guided 0.9" in chosen.reason
    assert done.labels.bucket == "labels" and done.labels.key.startswith(f"{TENANT}/{ITEM}/{ANNOTATION}/1/")
    assert done.labels.format == geometry_pb2.VOLUME_FORMAT_ZARR and list(done.labels.label_values) == [1]
    [filled] = done.filled_slices
    between = [s for s in range(KEYS[0] + 1, KEYS[-1]) if s not in KEYS]
    assert filled.label_value == 1 and list(filled.slice_indices) == between

    result = ports.volumes.read(done.labels.bucket, done.labels.key)
    keys = ports.volumes.read(saved.labels.bucket, saved.labels.key).array
    assert result.array.dtype == keys.dtype and result.array.shape == mask.shape
    assert result.array[list(KEYS)].tobytes() == keys[list(KEYS)].tobytes()  # drawn slices never overwritten
    assert not result.array[:KEYS[0]].any() and not result.array[KEYS[-1] + 1:].any()  # nothing beyond the outer keys
    assert held_out_dice(result.array, mask, between) > 0.95
    assert result.attributes["job_id"] == done.job_id

    job = handlers.get_job(ports, ANNOTATOR, done.job_id)
    assert job.job.state == job_pb2.JOB_STATE_SUCCEEDED and job.job.percent_done == 100.0
    assert job.requester == "" and job.labels == done.labels and list(job.choices) == list(done.choices)


def test_a_redelivered_key_slices_saved_makes_no_second_result(service, spleen):
    """The same envelope published twice (at-least-once delivery): one job, one result, one SlicesInterpolated."""
    ports, bus, consumer = service
    add_item(service)
    _saved, envelope = save_key_slices(ports.volumes, bus, spleen)
    consume(consumer)
    bus.publish(envelope.type, envelope.subject, envelope.payload, events.to_headers(envelope))
    consume(consumer)

    assert len(announced(service)) == 1
    with ports.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(store.jobs)).scalar_one() == 1
    written = {info.key.split("/interpolated-")[1].split("/")[0] for info in ports.volumes.objects.list("labels")
               if "/interpolated-" in info.key}
    assert len(written) == 1


def test_a_missing_label_array_fails_the_job_without_retrying_forever(service, spleen):
    """A KeySlicesSaved whose label array is gone: the job ends FAILED with a message, the event is not dead-lettered."""
    ports, bus, consumer = service
    add_item(service)
    saved, _envelope = save_key_slices(ports.volumes, bus, spleen)
    consume(consumer)
    gone = annotation_events.KeySlicesSaved()
    gone.CopyFrom(saved)
    gone.version, gone.labels.key = 2, f"{TENANT}/{ITEM}/{ANNOTATION}/2/keys"
    publish(bus, gone, ITEM)
    consume(consumer)

    assert len(announced(service)) == 1
    table = store.jobs
    with ports.db.read() as conn:
        row = conn.execute(sa.select(table).where(table.c.key_slice_version == 2)).one()
    assert row.state == job_pb2.JOB_STATE_FAILED and "save the key slices again" in row.error
    assert consumer.subscription.lag() == {topic: 0 for topic in consumer.subscription.lag()}


def test_start_interpolation_runs_a_job_whose_progress_reaches_succeeded(service, spleen):
    """StartInterpolation on the latest version: QUEUED/RUNNING with progress in the row while it works, then SUCCEEDED."""
    ports, bus, consumer = service
    add_item(service)
    save_key_slices(ports.volumes, bus, spleen)
    consume(consumer)
    request = pb.StartInterpolationRequest(item_id=ITEM, annotation_id=ANNOTATION, method=pb.INTERPOLATION_METHOD_SHAPE)
    job = handlers.start_interpolation(ports, ANNOTATOR, request)
    assert job.job.state in (job_pb2.JOB_STATE_QUEUED, job_pb2.JOB_STATE_RUNNING) and job.key_slice_version == 1
    seen = []

    def ended() -> pb.InterpolationJob | None:
        polled = handlers.get_job(ports, ANNOTATOR, job.job.id)
        seen.append(polled.job.percent_done)
        return polled if polled.job.state in (job_pb2.JOB_STATE_SUCCEEDED, job_pb2.JOB_STATE_FAILED) else None

    job = wait_until(ended, "the job to end", timeout_s=60, interval_s=0.005)  # often enough to see progress
    assert job.job.state == job_pb2.JOB_STATE_SUCCEEDED, job.job.error
    assert job.method == pb.INTERPOLATION_METHOD_SHAPE and job.requester == "annotator-1" and job.job.percent_done == 100.0
    assert seen == sorted(seen)  # progress never goes back
    results = announced(service)
    assert [r.job_id for r in results][-1] == job.job.id and results[-1].method == pb.INTERPOLATION_METHOD_SHAPE
    assert held_out_dice(ports.volumes.read("labels", job.labels.key).array, spleen[1],
                         [s for s in range(4, 22) if s not in KEYS]) > 0.9


def test_start_interpolation_refuses_what_it_cannot_run(service, spleen):
    """An unknown version, a label without key slices and another plane are INVALID_ARGUMENT / NOT_FOUND with reasons."""
    ports, bus, consumer = service
    add_item(service)
    save_key_slices(ports.volumes, bus, spleen)
    consume(consumer)
    cases = [
        (pb.StartInterpolationRequest(item_id=ITEM, annotation_id=ANNOTATION, key_slice_version=7), grpc.StatusCode.NOT_FOUND, "version 7"),
        (pb.StartInterpolationRequest(item_id=ITEM, annotation_id=ANNOTATION, label_values=[1, 5]), grpc.StatusCode.INVALID_ARGUMENT, "[5]"),
        (pb.StartInterpolationRequest(item_id=ITEM, annotation_id=ANNOTATION, plane=geometry_pb2.PLANE_CORONAL),
         grpc.StatusCode.INVALID_ARGUMENT, "PLANE_AXIAL plane only"),
        (pb.StartInterpolationRequest(item_id="item-9", annotation_id=ANNOTATION), grpc.StatusCode.NOT_FOUND, "item-9"),
    ]
    for request, code, words in cases:
        with pytest.raises(RadlabError) as refused:
            handlers.start_interpolation(ports, ANNOTATOR, request)
        assert refused.value.code is code and words in str(refused.value)


# ---- StartInterpolation jobs across process restarts and replicas -------------------------------------------

def leave_job(db: Database, job_id: str, state: int, claimed_by: str | None, claimed_until: float | None,
              source_event_id: str | None = None) -> None:
    """Write a StartInterpolation (or, with `source_event_id`, KeySlicesSaved) job row as a process would have left it."""
    now = time.time()
    with db.unit_of_work() as uow:
        uow.execute(store.jobs.insert().values(
            job_id=job_id, tenant=TENANT, item_id=ITEM, dataset_id=DATASET, annotation_id=ANNOTATION, key_slice_version=1,
            plane=geometry_pb2.PLANE_AXIAL, method=pb.INTERPOLATION_METHOD_SHAPE, label_values="[]", requester="annotator-1",
            source_event_id=source_event_id, state=state, percent_done=40.0 if state == job_pb2.JOB_STATE_RUNNING else 0.0,
            message="filling between the key slices", error="", result=None, method_used=pb.INTERPOLATION_METHOD_UNSPECIFIED,
            created_at=now - 300, updated_at=now - 200, claimed_by=claimed_by, claimed_until=claimed_until,
        ))


def job_row(db: Database, job_id: str):
    with db.read() as conn:
        return conn.execute(sa.select(store.jobs).where(store.jobs.c.job_id == job_id)).one()


def announced_jobs(db: Database) -> list[str]:
    """The job ids of the SlicesInterpolated events in the service's outbox, sorted."""
    with db.read() as conn:
        payloads = conn.execute(sa.select(db.outbox.c.payload).where(
            db.outbox.c.topic == events.event_type(events_pb2.SlicesInterpolated))).scalars().all()
    return sorted(events_pb2.SlicesInterpolated.FromString(payload).job_id for payload in payloads)


def test_jobs_a_stopped_process_left_finish_once_after_replicas_start_and_live_claims_are_kept(tmp_path, spleen):
    """Two instances bootstrap at once over the database a dead process left: its RUNNING job (claim lapsed) and its
    QUEUED job (claimed before claims existed) are taken over by one of them and finish, each with one
    SlicesInterpolated; a job claimed by a live instance and a KeySlicesSaved job (its event is redelivered) stay."""
    image, mask, affine = spleen
    adapters = Adapters(Settings.from_env({"RADLAB_HOME": str(tmp_path / "home")}))
    volumes = VolumeStore(adapters.store)
    volumes.write("volumes", VOLUME, image, affine)
    first = interpolation.bootstrap(adapters)
    consumer = EventConsumer(adapters.bus, GROUP, first.handlers, poll_timeout_s=0.05)
    replicas = []
    try:
        publish(adapters.bus, annotation_events.ItemAdded(item_id=ITEM, dataset_id=DATASET, volume_id=VOLUME), ITEM)
        save_key_slices(volumes, adapters.bus, spleen)
        consume(consumer)
        db, now = first.database, time.time()
        leave_job(db, "dead-running", job_pb2.JOB_STATE_RUNNING, "dead-process", now - 1)
        leave_job(db, "dead-queued", job_pb2.JOB_STATE_QUEUED, None, None)
        leave_job(db, "live-running", job_pb2.JOB_STATE_RUNNING, "live-process", now + jobs.CLAIM_S)
        leave_job(db, "event-running", job_pb2.JOB_STATE_RUNNING, None, None, source_event_id="event-1")

        with ThreadPoolExecutor(max_workers=2) as pool:
            replicas.extend(pool.map(lambda _: interpolation.bootstrap(adapters), range(2)))
        owners = {job_row(db, job_id).claimed_by for job_id in ("dead-running", "dead-queued")}
        assert len(owners) == 1 and owners.isdisjoint({None, "dead-process"})  # one replica took both

        def both_succeeded() -> bool:
            states = {job_row(db, j).state for j in ("dead-running", "dead-queued")}
            assert job_pb2.JOB_STATE_FAILED not in states
            return states == {job_pb2.JOB_STATE_SUCCEEDED}

        wait_until(both_succeeded, "both jobs taken over to succeed", timeout_s=60)

        for job_id in ("dead-running", "dead-queued"):
            row = job_row(db, job_id)
            assert row.percent_done == 100.0 and row.claimed_by in owners and row.method_used == pb.INTERPOLATION_METHOD_SHAPE
            result = volumes.read("labels", label_pb2.Mask.FromString(row.result).key).array
            assert held_out_dice(result, mask, [s for s in range(4, 22) if s not in KEYS]) > 0.9
        assert [job_id for job_id in announced_jobs(db) if job_id.startswith("dead-")] == ["dead-queued", "dead-running"]
        for job_id, claimed_by in (("live-running", "live-process"), ("event-running", None)):
            row = job_row(db, job_id)
            assert (row.state, row.percent_done, row.claimed_by) == (job_pb2.JOB_STATE_RUNNING, 40.0, claimed_by)
    finally:
        consumer.subscription.close()
        for service in (first, *replicas):
            service.database.dispose()
        adapters.bus.close()


def test_a_worker_renews_its_claims_and_gives_up_a_job_taken_over(service, spleen, monkeypatch):
    """While a job is held its claim is pushed forward every heartbeat; once another instance holds the claim,
    the heartbeat leaves it alone and the job, run by the old worker, changes nothing and announces nothing."""
    ports, bus, consumer = service
    clock = ports.worker.clock
    add_item(service)
    save_key_slices(ports.volumes, bus, spleen)
    consume(consumer)
    monkeypatch.setattr(jobs, "HEARTBEAT_S", 0.02)
    # "witness" is held beside "held": its claim is renewed in the same statement, so its renewal shows a heartbeat ran.
    for job_id in ("held", "witness"):
        claim = ports.worker.claim()
        leave_job(ports.db, job_id, job_pb2.JOB_STATE_RUNNING, claim["claimed_by"], claim["claimed_until"])
    release = threading.Event()
    for job_id in ("held", "witness"):
        ports.worker.submit(job_id, lambda: release.wait(30))
    try:
        clock.advance(1.0)
        wait_until(lambda: job_row(ports.db, "held").claimed_until == clock() + jobs.CLAIM_S, "the claim's renewal")
        other = clock() + jobs.CLAIM_S
        with ports.db.unit_of_work() as uow:
            uow.execute(store.jobs.update().where(store.jobs.c.job_id == "held").values(claimed_by="other", claimed_until=other))
        clock.advance(1.0)
        wait_until(lambda: job_row(ports.db, "witness").claimed_until == clock() + jobs.CLAIM_S, "a heartbeat after the take-over")
        row = job_row(ports.db, "held")
        assert (row.claimed_by, row.claimed_until) == ("other", other)
    finally:
        release.set()

    handlers.run_job(ports, "held", owner=ports.worker.owner)
    row = job_row(ports.db, "held")
    assert (row.state, row.percent_done, row.result, row.claimed_by) == (job_pb2.JOB_STATE_RUNNING, 40.0, None, "other")
    assert "held" not in announced_jobs(ports.db)


def test_a_claim_that_lapses_after_startup_is_taken_over_at_a_heartbeat(service, spleen, monkeypatch):
    """A restart quicker than CLAIM_S: the stopped process's claim is still fresh when the new one starts, so the job is
    left alone then, and taken over and finished (once) at the first heartbeat after the claim has lapsed."""
    ports, bus, consumer = service
    clock = ports.worker.clock
    add_item(service)
    save_key_slices(ports.volumes, bus, spleen)
    consume(consumer)
    monkeypatch.setattr(jobs, "HEARTBEAT_S", 0.05)
    lapses = clock() + 1.0
    leave_job(ports.db, "restarted", job_pb2.JOB_STATE_RUNNING, "previous-process", lapses)

    assert handlers.resume_abandoned_jobs(ports) == []
    assert job_row(ports.db, "restarted").claimed_by == "previous-process"
    clock.advance(2.0)

    def succeeded() -> bool:
        state = job_row(ports.db, "restarted").state
        assert state != job_pb2.JOB_STATE_FAILED
        return state == job_pb2.JOB_STATE_SUCCEEDED

    wait_until(succeeded, "the lapsed job to be taken over and succeed", timeout_s=60)
    assert job_row(ports.db, "restarted").claimed_by == ports.worker.owner
    assert announced_jobs(ports.db).count("restarted") == 1


def assert_opens_with_working_job_claims(url: str) -> None:
    """The interpolation database at `url`, opened as the service opens it, has claimable jobs."""
    db = Database(url, "interpolation", store.metadata, store.migrations)
    try:
        assert {"claimed_by", "claimed_until", "choices"} <= {c["name"] for c in sa.inspect(db.engine).get_columns("jobs")}
        leave_job(db, "old", job_pb2.JOB_STATE_QUEUED, None, None)
        assert handlers.job_worker(db).take_over_abandoned() == ["old"]
    finally:
        db.dispose()


def test_a_database_from_before_job_claims_gains_the_claim_columns(tmp_path):
    """A jobs table written before claims existed (no claim or choice columns, no migration recorded) is migrated on
    open."""
    url = f"sqlite:///{tmp_path / 'db'}"
    Database(url, "interpolation", store.metadata, store.migrations).dispose()
    with sa.create_engine(f"{url}/interpolation.sqlite").begin() as conn:
        conn.exec_driver_sql("ALTER TABLE jobs DROP COLUMN choices")
        conn.exec_driver_sql("ALTER TABLE jobs DROP COLUMN claimed_by")
        conn.exec_driver_sql("ALTER TABLE jobs DROP COLUMN claimed_until")
        conn.exec_driver_sql("DELETE FROM schema_migrations")
    assert_opens_with_working_job_claims(url)


def test_a_database_from_before_jobs_existed_gets_the_jobs_table_whole(tmp_path):
    """An interpolation database written before the jobs table existed (a RADLAB_HOME from an older release): the
    claims step is not run on a missing table; the table is created with its claim columns and jobs work."""
    url = f"sqlite:///{tmp_path / 'db'}"
    older = sa.MetaData()
    for table in store.metadata.tables.values():
        if table.name != "jobs":
            table.to_metadata(older)
    Database(url, "interpolation", older).dispose()
    assert_opens_with_working_job_claims(url)


# ---- Interpolate: one label, one gap ------------------------------------------------------------------------

def raw(mask2d: np.ndarray) -> label_pb2.SliceMask:
    rows, columns = mask2d.shape
    return label_pb2.SliceMask(rows=rows, columns=columns, encoding=label_pb2.MASK_ENCODING_RAW,
                               data=(mask2d != 0).astype(np.uint8).tobytes())


def png(mask2d: np.ndarray) -> label_pb2.SliceMask:
    buffer = io.BytesIO()
    Image.fromarray(((mask2d != 0) * 255).astype(np.uint8), mode="L").save(buffer, format="PNG")
    rows, columns = mask2d.shape
    return label_pb2.SliceMask(rows=rows, columns=columns, encoding=label_pb2.MASK_ENCODING_PNG, data=buffer.getvalue())


def drawn(index: int, mask: label_pb2.SliceMask) -> label_pb2.SliceLabel:
    return label_pb2.SliceLabel(slice_index=index, provenance=label_pb2.SLICE_PROVENANCE_DRAWN, mask=mask)


def absent(index: int) -> label_pb2.SliceLabel:
    return label_pb2.SliceLabel(slice_index=index, provenance=label_pb2.SLICE_PROVENANCE_ABSENT)


def returned(response: pb.InterpolateResponse) -> dict[int, np.ndarray]:
    masks = {}
    for label in response.slices:
        assert label.provenance == label_pb2.SLICE_PROVENANCE_INTERPOLATED and label.label_value == 1
        assert label.mask.encoding == label_pb2.MASK_ENCODING_RAW
        masks[label.slice_index] = np.frombuffer(label.mask.data, np.uint8).reshape(label.mask.rows, label.mask.columns) != 0
    return masks


def test_interpolate_fills_one_gap_from_raw_and_png_key_masks(service, spleen):
    """Axial key slices 9 (RAW) and 12 (PNG) → slices 10 and 11, chosen image-guided (fast) since the volume is stored
    and two keys that overlap well leave nothing to validate."""
    ports, _bus, _consumer = service
    _image, mask, _affine = spleen
    add_item(service)
    request = pb.InterpolateRequest(item_id=ITEM, plane=geometry_pb2.PLANE_AXIAL, label_value=1,
                                    key_slices=[drawn(9, raw(mask[9])), drawn(12, png(mask[12]))])
    response = handlers.interpolate(ports, ANNOTATOR, request)

    assert response.method == pb.INTERPOLATION_METHOD_AUTOMATIC
    [chosen] = response.choices
    assert chosen.method == pb.INTERPOLATION_METHOD_IMAGE_GUIDED_FAST and "no inner key slice to validate on" in chosen.reason
    masks = returned(response)
    assert sorted(masks) == [10, 11] and masks[10].shape == mask.shape[1:]
    assert dice(np.stack([masks[10], masks[11]]), mask[10:12] == 1) > 0.9
    assert all(not label.polygons for label in response.slices)


def test_interpolate_along_the_coronal_plane_uses_the_rows_axis(service, spleen):
    """Coronal key slices fix j (from the affine: j runs along A/P); masks are k rows × i columns."""
    ports, _bus, _consumer = service
    _image, mask, _affine = spleen
    add_item(service)
    rows = np.nonzero(mask.any(axis=(0, 2)))[0]
    first = int(rows[len(rows) // 3])
    request = pb.InterpolateRequest(item_id=ITEM, plane=geometry_pb2.PLANE_CORONAL, label_value=1,
                                    method=pb.INTERPOLATION_METHOD_SHAPE,
                                    key_slices=[drawn(first, raw(mask[:, first])), drawn(first + 4, raw(mask[:, first + 4]))])
    masks = returned(handlers.interpolate(ports, ANNOTATOR, request))

    assert sorted(masks) == [first + 1, first + 2, first + 3] and masks[first + 1].shape == (mask.shape[0], mask.shape[2])
    assert dice(np.stack([masks[s] for s in sorted(masks)], axis=1), mask[:, first + 1:first + 4] == 1) > 0.85


def test_interpolate_toward_an_absent_key_slice_ends_the_structure_inside_the_gap(service, spleen):
    """Drawn at 20, absent at 24: what is filled shrinks toward 24 and nothing is put on the absent key."""
    ports, _bus, _consumer = service
    _image, mask, _affine = spleen
    add_item(service)
    request = pb.InterpolateRequest(item_id=ITEM, plane=geometry_pb2.PLANE_AXIAL, label_value=1,
                                    method=pb.INTERPOLATION_METHOD_SHAPE, key_slices=[drawn(20, raw(mask[20])), absent(24)])
    masks = returned(handlers.interpolate(ports, ANNOTATOR, request))

    assert masks and set(masks) <= {21, 22, 23}
    areas = [int(masks[s].sum()) if s in masks else 0 for s in (21, 22, 23)]
    assert int((mask[20] == 1).sum()) > areas[0] and areas == sorted(areas, reverse=True)


def test_interpolate_takes_polygon_key_slices_and_returns_polygons(service, spleen):
    """Key slices as outlines (from the domain's own `outline`) → filled masks plus their polygons, on the filled slices."""
    from services.interpolation.domain.polygons import outline

    ports, _bus, _consumer = service
    _image, mask, _affine = spleen
    add_item(service)

    def as_polygons(index: int) -> label_pb2.SliceLabel:
        polygons = [label_pb2.Polygon(hole=c.hole, vertices=[label_pb2.Point2(x=x, y=y) for x, y in c.vertices])
                    for c in outline(mask[index] == 1)]
        return label_pb2.SliceLabel(slice_index=index, provenance=label_pb2.SLICE_PROVENANCE_DRAWN, polygons=polygons)

    request = pb.InterpolateRequest(item_id=ITEM, plane=geometry_pb2.PLANE_AXIAL, label_value=1, include_polygons=True,
                                    method=pb.INTERPOLATION_METHOD_SHAPE, key_slices=[as_polygons(12), as_polygons(15)])
    response = handlers.interpolate(ports, ANNOTATOR, request)

    masks = returned(response)
    assert sorted(masks) == [13, 14] and dice(np.stack([masks[13], masks[14]]), mask[13:15] == 1) > 0.85
    for label in response.slices:
        assert label.polygons and all(p.slice_index == label.slice_index and p.label_value == 1 and len(p.vertices) >= 3
                                      for p in label.polygons)


def test_interpolate_refuses_bad_requests_with_reasons(service, spleen):
    """Wrong mask size, key slices on one side only, no drawn key, a RAW mask of the wrong length, an unknown item."""
    ports, _bus, _consumer = service
    _image, mask, _affine = spleen
    add_item(service)
    good = drawn(9, raw(mask[9]))

    def refused(key_slices, item=ITEM) -> RadlabError:
        request = pb.InterpolateRequest(item_id=item, plane=geometry_pb2.PLANE_AXIAL, label_value=1, key_slices=key_slices)
        with pytest.raises(RadlabError) as error:
            handlers.interpolate(ports, ANNOTATOR, request)
        return error.value

    small = refused([good, drawn(12, raw(mask[12][:100, :100]))])
    assert small.code is grpc.StatusCode.INVALID_ARGUMENT and "100×100" in str(small) and "166×164" in str(small)
    one_side = refused([good])
    assert one_side.code is grpc.StatusCode.INVALID_ARGUMENT and "each side" in str(one_side)
    adjacent = refused([good, drawn(10, raw(mask[10]))])
    assert adjacent.code is grpc.StatusCode.INVALID_ARGUMENT and "no slice between" in str(adjacent)
    nothing = refused([absent(9), absent(12)])
    assert nothing.code is grpc.StatusCode.INVALID_ARGUMENT and "draw it" in str(nothing)
    short = label_pb2.SliceMask(rows=166, columns=164, encoding=label_pb2.MASK_ENCODING_RAW, data=b"\x01" * 10)
    assert "not 10" in str(refused([good, drawn(12, short)]))
    outside = refused([good, drawn(40, raw(mask[9]))])
    assert outside.code is grpc.StatusCode.INVALID_ARGUMENT and "0 to 25" in str(outside)
    assert refused([good, drawn(12, raw(mask[12]))], item="item-9").code is grpc.StatusCode.NOT_FOUND


def test_a_vendor_reaches_an_item_only_while_its_dataset_is_shared_with_it(service, spleen):
    """Not shared → NOT_FOUND (as if it did not exist); DatasetShared → allowed; DatasetUnshared → NOT_FOUND again."""
    ports, bus, consumer = service
    _image, mask, _affine = spleen
    add_item(service)
    save_key_slices(ports.volumes, bus, spleen)
    consume(consumer)
    request = pb.InterpolateRequest(item_id=ITEM, plane=geometry_pb2.PLANE_AXIAL, label_value=1, method=pb.INTERPOLATION_METHOD_SHAPE,
                                    key_slices=[drawn(9, raw(mask[9])), drawn(12, raw(mask[12]))])
    [done] = announced(service)

    def outcome(call) -> grpc.StatusCode:
        try:
            call()
        except RadlabError as error:
            return error.code
        return grpc.StatusCode.OK

    calls = (lambda: handlers.interpolate(ports, VENDOR, request), lambda: handlers.get_job(ports, VENDOR, done.job_id))
    assert [outcome(call) for call in calls] == [grpc.StatusCode.NOT_FOUND] * 2
    publish(bus, annotation_events.DatasetShared(dataset_id=DATASET, vendor_id="acme"), DATASET)
    consume(consumer)
    assert [outcome(call) for call in calls] == [grpc.StatusCode.OK] * 2
    publish(bus, annotation_events.DatasetUnshared(dataset_id=DATASET, vendor_id="acme"), DATASET)
    consume(consumer)
    assert [outcome(call) for call in calls] == [grpc.StatusCode.NOT_FOUND] * 2
    other_tenant = Principal("annotator-2", "annotator", "hospital-b")
    assert outcome(lambda: handlers.interpolate(ports, other_tenant, request)) is grpc.StatusCode.NOT_FOUND


def found(call: Callable[[], T]) -> T | None:
    """`call()`'s answer, or None while it is NOT_FOUND: the service has not consumed the event that makes it known."""
    try:
        return call()
    except grpc.RpcError as error:
        assert error.code() is grpc.StatusCode.NOT_FOUND, error.details()
        return None


def test_the_rpcs_answer_through_a_served_runtime(tmp_path, spleen):
    """`radlab serve interpolation` in-process: events on its bus, then Interpolate, StartInterpolation and
    GetInterpolationJob over gRPC with a bearer token; a bad request comes back INVALID_ARGUMENT with its reason."""
    key = "interpolation-test-key-of-at-least-32-bytes"
    settings = Settings.from_env({"RADLAB_HOME": str(tmp_path / "home"), "RADLAB_GRPC_ADDR": "127.0.0.1:0", "RADLAB_TOKEN_KEY": key})
    image, mask, affine = spleen
    runtime = Runtime(["interpolation"], settings)
    runtime.start()
    try:
        volumes = VolumeStore(runtime.adapters.store)
        volumes.write("volumes", VOLUME, image, affine)
        publish(runtime.adapters.bus, annotation_events.ItemAdded(item_id=ITEM, dataset_id=DATASET, volume_id=VOLUME), ITEM)
        token = [("authorization", f"Bearer {issue_token(key, subject='annotator-1', role='annotator', tenant=TENANT)}")]
        request = pb.InterpolateRequest(item_id=ITEM, plane=geometry_pb2.PLANE_AXIAL, label_value=1,
                                        key_slices=[drawn(9, raw(mask[9])), drawn(12, png(mask[12]))])
        with grpc.insecure_channel(runtime.address) as channel:
            stub = pb_grpc.InterpolationServiceStub(channel)
            response = wait_until(lambda: found(lambda: stub.Interpolate(request, metadata=token, timeout=30)),
                                  "the consumer to cache ItemAdded")
            assert sorted(returned(response)) == [10, 11]

            save_key_slices(volumes, runtime.adapters.bus, spleen)
            start = pb.StartInterpolationRequest(item_id=ITEM, annotation_id=ANNOTATION, method=pb.INTERPOLATION_METHOD_SHAPE)
            job = wait_until(lambda: found(lambda: stub.StartInterpolation(start, metadata=token, timeout=30)),
                             "the consumer to cache KeySlicesSaved").interpolation_job

            def succeeded() -> pb.InterpolationJob | None:
                polled = stub.GetInterpolationJob(pb.GetInterpolationJobRequest(job_id=job.job.id), metadata=token,
                                                  timeout=30).interpolation_job
                assert polled.job.state != job_pb2.JOB_STATE_FAILED, polled.job.error
                return polled if polled.job.state == job_pb2.JOB_STATE_SUCCEEDED else None

            job = wait_until(succeeded, "the job to succeed")
            assert job.labels.key.endswith(job.job.id)

            with pytest.raises(grpc.RpcError) as bad:
                stub.Interpolate(pb.InterpolateRequest(item_id=ITEM, plane=geometry_pb2.PLANE_AXIAL, label_value=1,
                                                       key_slices=[drawn(9, raw(mask[9]))]), metadata=token, timeout=30)
            assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT and "each side" in bad.value.details()
    finally:
        runtime.stop(0)
