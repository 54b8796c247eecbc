"""Training runs over the embedded adapters and a local Ray: a run whose process stops mid-run is taken over by another
worker and continues from its last checkpoint, not from scratch; TrainingRequested starts one run however often it is
delivered, and one that cannot run ends FAILED with TrainingFailed saying why; detection and classification runs
register models whose predictions are announced as boxes and tag probabilities; an HTTP endpoint model (a real local
server) is checked when registered and labels items like any model.

The stop is played in process: the first process is told to stop during epoch 2, so its run ends there as a stopped
(or killed) process leaves it: RUNNING, its checkpoint stored, its claim no longer renewed. A SIGKILL's take-over is
tested on the shared job worker (test_interpolation_service) and does not differ here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
import sqlalchemy as sa

from radlab.annotation.v1 import events_pb2 as annotation_events
from radlab.training.v1 import training_service_pb2 as pb
from radlab.type.v1 import job_pb2, label_pb2
from radlab.workflow.v1 import events_pb2 as workflow_events
from services.training import handlers, store
from services.training.handlers import models, predictions, runs
from shared import events, jobs
from shared.auth import Principal
from shared.bus import connect as connect_bus
from shared.compute import connect as connect_compute
from shared.consumer import EventConsumer
from shared.db import Database
from shared.errors import InvalidArgument
from shared.objectstore import MODELS_BUCKET
from shared.objectstore.file import FileObjectStore
from shared.volume_store import VolumeStore
from shared.volumes import from_nifti, from_nifti_bytes, to_nifti_bytes
from tests.conftest import Clock, wait_until

TENANT, DATASET, ITEM, VOLUME = "hospital-a", "dataset-1", "item-1", "volume-1"
GROUP = "radlab.training"
MANAGER = Principal("manager-1", "manager", TENANT)
QUICK = {"max_epochs": "4", "steps_per_epoch": "3", "batch_size": "4", "patience": "0"}


@pytest.fixture(scope="module")
def compute():
    pool = connect_compute("local")
    yield pool
    pool.shutdown()


@pytest.fixture
def service(tmp_path, data_dir, compute):
    """Training's ports on a SQLite database, a file store holding the spleen CT and its label, a local bus with the
    service's consumer; the item and its submitted labels announced as annotation announces them."""
    db = Database(f"sqlite:///{tmp_path / 'db'}", "training", store.metadata)
    objects = FileObjectStore(tmp_path / "objects")
    volumes = VolumeStore(objects)
    folder = data_dir / "ivadomed_spleen" / "ct_scan"
    image, affine = from_nifti(folder / "sub-spleen2" / "ct" / "sub-spleen2_ct.nii.gz")
    mask, _ = from_nifti(folder / "derivatives" / "labels" / "sub-spleen2" / "ct" / "sub-spleen2_ct_seg-manual.nii.gz")
    volumes.write("volumes", VOLUME, image, affine, {"modality": "CT", "patient_pseudonym": "p-1"})
    volumes.write("labels", "labels-1", (mask > 0).astype(np.uint16), affine, {})
    clock = Clock()
    ports = handlers.Ports(db, objects, volumes, f"file://{tmp_path / 'objects'}", lambda: compute,
                           *handlers.job_workers(db, clock=clock))
    bus = connect_bus(f"local://{tmp_path / 'bus.sqlite'}")
    consumer = EventConsumer(bus, GROUP, handlers.event_handlers(ports, GROUP), poll_timeout_s=0.05)
    publish(bus, annotation_events.ItemAdded(item_id=ITEM, dataset_id=DATASET, volume_id=VOLUME, modality="CT"))
    publish(bus, annotation_events.AnnotationSubmitted(
        item_id=ITEM, dataset_id=DATASET, annotation_id="a-1", version=3,
        labels=label_pb2.Mask(bucket="labels", key="labels-1", label_values=[1])))
    consume(consumer)
    yield ports, bus, consumer, clock
    for worker in (ports.runs, ports.predictions, ports.rankings):
        worker.shutdown()
    consumer.subscription.close()
    bus.close()
    db.dispose()


def publish(bus, message) -> None:
    envelope = events.envelope_for(message, source="radlab.annotation", subject=ITEM, tenant=TENANT)
    bus.publish(envelope.type, envelope.subject, envelope.payload, events.to_headers(envelope))


def consume(consumer: EventConsumer) -> None:
    while consumer.run_once():
        pass


def outbox(ports) -> list[str]:
    with ports.db.read() as conn:
        return [row.topic for row in conn.execute(store.metadata.tables["outbox"].select()).all()]


def test_a_stopped_run_is_taken_over_and_continues_from_its_checkpoint(service, monkeypatch):
    ports, _bus, _consumer, clock = service
    epochs: list[int] = []
    first_life = True
    reported = runs._on_epoch

    def on_epoch(ports_, progress, run_id, note, report):
        epochs.append(report["epoch"])
        if first_life and report["epoch"] == 2:
            ports_.stopping.set()  # the first process is told to stop (SIGTERM) during epoch 2
        return reported(ports_, progress, run_id, note, report)

    monkeypatch.setattr(runs, "_on_epoch", on_epoch)
    started = runs.start_training_run(ports, MANAGER, pb.StartTrainingRunRequest(
        dataset_id=DATASET, config=pb.TrainingConfig(hyperparameters=QUICK)))
    ports.runs.shutdown()  # waits for the first life to end
    with ports.db.read() as conn:
        left = runs._row(conn, started.run_id)
    assert left.state == job_pb2.JOB_STATE_RUNNING and ports.objects.exists(MODELS_BUCKET, f"checkpoints/{TENANT}/{started.run_id}")

    first_life = False
    ports.stopping.clear()
    clock.advance(jobs.CLAIM_S + 1)
    successor, _, _ = handlers.job_workers(ports.db, clock=clock)
    taken = successor.take_over_abandoned()
    assert taken == [started.run_id]
    runs.run_training(ports, started.run_id, owner=successor.owner)
    assert epochs == [1, 2, 3, 4]  # epochs 1-2 in the first life; the second resumed at 3
    run = runs.get_run(ports, MANAGER, started.run_id)
    assert run.job.state == job_pb2.JOB_STATE_SUCCEEDED and run.model_id
    assert "radlab.training.v1.ModelTrained" in outbox(ports)
    with ports.db.read() as conn:
        lineage = json.loads(conn.execute(store.models.select()).one().lineage)
    assert lineage["split"]["how"] == "slices" and lineage["examples"][0]["annotation_version"] == 3


def test_training_requested_starts_one_run_and_an_impossible_one_fails_saying_why(service, monkeypatch):
    ports, bus, consumer, _clock = service
    started = []
    monkeypatch.setattr(ports.runs, "submit", lambda run_id, job: started.append(run_id))
    example = workflow_events.TrainingExample(item_id=ITEM, volume_id=VOLUME, annotation_id="a-1", annotation_version=3,
                                              labels=label_pb2.Mask(bucket="labels", key="labels-1"))
    requested = workflow_events.TrainingRequested(workflow_id="w-1", dataset_id=DATASET, model_kind="monai.unet2d",
                                                  examples=[example])
    envelope = events.envelope_for(requested, source="radlab.workflow", subject=DATASET, tenant=TENANT)
    for _ in range(2):  # delivered twice
        bus.publish(envelope.type, envelope.subject, envelope.payload, events.to_headers(envelope))
    publish(bus, workflow_events.TrainingRequested(workflow_id="w-1", dataset_id=DATASET, model_kind="nnunet.3d",
                                                   examples=[example]))
    consume(consumer)
    assert len(started) == 1
    listed = runs.list_runs(ports, MANAGER, pb.ListTrainingRunsRequest(dataset_id=DATASET)).training_runs
    assert sorted(run.job.state for run in listed) == [job_pb2.JOB_STATE_QUEUED, job_pb2.JOB_STATE_FAILED]
    failed = next(run for run in listed if run.job.state == job_pb2.JOB_STATE_FAILED)
    assert "nnunet.3d" in failed.job.error and "monai.unet2d" in failed.job.error and failed.workflow_id == "w-1"
    assert outbox(ports).count("radlab.training.v1.TrainingFailed") == 1


@pytest.mark.parametrize("kind, metric, fmt", [("torchvision.retinanet", "average_precision", pb.MODEL_FORMAT_TORCH_STATE),
                                               ("monai.densenet2d", "auc", pb.MODEL_FORMAT_TORCH_STATE)])
def test_detection_and_classification_runs_register_models_whose_predictions_are_announced(service, kind, metric, fmt):
    """Boxes from the label arrays train a detector, "which labels this slice holds" a slice classifier (settings cut
    to a smoke run: the models' quality is test_training_detection's and _classification's); their predictions travel
    as boxes or tag probabilities."""
    ports, _bus, _consumer, _clock = service
    tiny = {"max_epochs": "1", "steps_per_epoch": "2", "batch_size": "2", "roi": "64,64"}
    started = runs.start_training_run(ports, MANAGER, pb.StartTrainingRunRequest(
        dataset_id=DATASET, model_kind=kind, config=pb.TrainingConfig(hyperparameters=tiny)))
    run = wait_until(lambda: (found := runs.get_run(ports, MANAGER, started.run_id)).job.state in jobs.FINISHED and found,
                     f"the {kind} run", timeout_s=300)
    assert run.job.state == job_pb2.JOB_STATE_SUCCEEDED, run.job.error
    assert {m.name for m in run.metrics} >= {metric}
    model = models.get_model(ports, MANAGER, run.model_id)
    assert (model.format, model.model_kind) == (fmt, kind)
    prediction = predictions.start_prediction(ports, MANAGER, pb.StartPredictionRequest(model_id=model.model_id,
                                                                                        item_id=ITEM))
    ended = wait_until(lambda: (found := predictions.get_prediction(ports, MANAGER, prediction.prediction_id))
                       .job.state in jobs.FINISHED and found, "the prediction", timeout_s=120)
    assert ended.job.state == job_pb2.JOB_STATE_SUCCEEDED, ended.job.error
    assert not ended.labels.key
    if kind == "monai.densenet2d":
        assert list(ended.tag_probabilities) == ["1"] and 0 <= ended.tag_probabilities["1"] <= 1
    assert all(box.label_value == 1 and box.x0 < box.x1 and box.plane for box in ended.boxes)
    assert "radlab.training.v1.PredictionsReady" in outbox(ports)


class _Endpoint:
    """A real HTTP model endpoint on loopback, as an MLOps team would run one: it labels voxels brighter than 100 HU
    (and says how sure it is); under /wrong it answers a label map of another shape."""

    def __init__(self):
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                image, affine = from_nifti_bytes(self.rfile.read(int(self.headers["Content-Length"])))
                labels = (image > 100).astype(np.uint8)
                if self.path == "/wrong":
                    labels = labels[:1]
                body = to_nifti_bytes(_Labels(labels, affine))
                self.send_response(200)
                self.send_header("X-Radlab-Confidence", "0.8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@dataclass(frozen=True)
class _Labels:
    data: np.ndarray
    affine: np.ndarray


def test_an_endpoint_model_is_checked_when_registered_and_labels_items_like_any_model(service):
    ports, _bus, _consumer, _clock = service
    endpoint = _Endpoint()
    try:
        registered = models.register_model(ports, MANAGER, pb.RegisterModelRequest(
            name="bright", format=pb.MODEL_FORMAT_ENDPOINT, artifact_uri=endpoint.url, modality="CT",
            labels=[pb.ModelLabel(value=1, name="bright")]))
        assert registered.endpoint_url == endpoint.url and not registered.object_key
        with pytest.raises(InvalidArgument, match="shape"):
            models.register_model(ports, MANAGER, pb.RegisterModelRequest(
                name="broken", format=pb.MODEL_FORMAT_ENDPOINT, artifact_uri=f"{endpoint.url}/wrong",
                labels=[pb.ModelLabel(value=1)]))
        started = predictions.start_prediction(ports, MANAGER, pb.StartPredictionRequest(
            model_id=registered.model_id, item_id=ITEM))
        ended = wait_until(lambda: (found := predictions.get_prediction(ports, MANAGER, started.prediction_id))
                           .job.state in jobs.FINISHED and found, "the endpoint's prediction", timeout_s=120)
    finally:
        endpoint.close()
    assert ended.job.state == job_pb2.JOB_STATE_SUCCEEDED, ended.job.error
    image = ports.volumes.read("volumes", VOLUME).array
    labelled = ports.volumes.read(ended.labels.bucket, ended.labels.key).array
    assert np.array_equal(labelled, (image > 100).astype(np.uint16))
    with ports.db.read() as conn:
        assert conn.execute(sa.select(store.predictions.c.confidence)).scalar() == pytest.approx(0.8)
