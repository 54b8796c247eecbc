"""A SIGKILL of `radlab serve training` mid-run: the next process takes the run over once its claim lapses and continues
it from the last checkpoint (epochs after the kill continue the count instead of starting again), and it registers
its model once.

The service runs as `radlab serve` runs it (embedded default under a temporary RADLAB_HOME: local:// bus, file store,
SQLite, Ray started by the service, which dies with it); the item and its submitted labels are announced on its bus
as annotation announces them.
"""

from __future__ import annotations

import numpy as np
import pytest

from radlab.annotation.v1 import events_pb2 as annotation_events
from radlab.client import Client
from radlab.tokens import issue_token
from radlab.training.v1 import training_service_pb2 as pb
from radlab.type.v1 import job_pb2, label_pb2
from shared import bus as bus_port
from shared import events
from shared.jobs import CLAIM_S, HEARTBEAT_S
from shared.objectstore.file import FileObjectStore
from shared.stack import Stack
from shared.volume_store import VolumeStore
from shared.volumes import from_nifti
from tests.conftest import wait_until

TENANT, DATASET, ITEM = "hospital-a", "dataset-1", "item-1"
TOKEN_KEY = "training-crash-test-key-0123456789abcdef"
EPOCHS = 6


@pytest.fixture
def home(tmp_path, data_dir):
    """A RADLAB_HOME whose store holds the spleen CT and its label, and whose bus announces the item and the labels."""
    home = tmp_path / "home"
    volumes = VolumeStore(FileObjectStore(home / "objects"))
    folder = data_dir / "ivadomed_spleen" / "ct_scan"
    image, affine = from_nifti(folder / "sub-spleen2" / "ct" / "sub-spleen2_ct.nii.gz")
    mask, _ = from_nifti(folder / "derivatives" / "labels" / "sub-spleen2" / "ct" / "sub-spleen2_ct_seg-manual.nii.gz")
    volumes.write("volumes", "volume-1", image, affine, {"modality": "CT", "patient_pseudonym": "p-1"})
    volumes.write("labels", "labels-1", (mask > 0).astype(np.uint16), affine, {})
    bus = bus_port.connect(f"local://{home / 'bus.sqlite'}")
    for message in (annotation_events.ItemAdded(item_id=ITEM, dataset_id=DATASET, volume_id="volume-1", modality="CT"),
                    annotation_events.AnnotationSubmitted(item_id=ITEM, dataset_id=DATASET, annotation_id="a-1", version=1,
                                                          labels=label_pb2.Mask(bucket="labels", key="labels-1",
                                                                                label_values=[1]))):
        envelope = events.envelope_for(message, source="radlab.annotation", subject=ITEM, tenant=TENANT)
        bus.publish(envelope.type, envelope.subject, envelope.payload, events.to_headers(envelope))
    bus.close()
    return home


def test_a_killed_training_service_run_is_continued_from_its_checkpoint(home):
    token = issue_token(TOKEN_KEY, subject="manager-1", role="manager", tenant=TENANT)
    first = Stack(home, command=("serve", "training"), env={"RADLAB_TOKEN_KEY": TOKEN_KEY})
    first.start()
    try:
        with Client(first.grpc_addr, token) as client:
            run = wait_until(lambda: _started(client), "the service to know the submitted labels", timeout_s=60)
            wait_until(lambda: _epoch(client, run.run_id) >= 2, "two epochs done", timeout_s=240, interval_s=0.2)
    finally:
        first.process.kill()  # SIGKILL: no stop, no last words
        first.process.wait()
    second = Stack(home, command=("serve", "training"), env={"RADLAB_TOKEN_KEY": TOKEN_KEY})
    second.start()
    try:
        with Client(second.grpc_addr, token) as client:
            seen = []

            def ended():
                found = client.training.GetTrainingRun(pb.GetTrainingRunRequest(run_id=run.run_id)).training_run
                seen.append(found.job.message)
                return found if found.job.state not in (job_pb2.JOB_STATE_QUEUED, job_pb2.JOB_STATE_RUNNING) else None

            done = wait_until(ended, "the run taken over and finished", timeout_s=CLAIM_S + HEARTBEAT_S + 300,
                              interval_s=0.2)
            assert done.job.state == job_pb2.JOB_STATE_SUCCEEDED, done.job.error
            taken_over = next(n for n, message in enumerate(seen) if not message.startswith("epoch "))
            resumed = [int(message.split()[1]) for message in seen[taken_over:] if message.startswith("epoch ")]
            assert resumed and resumed[0] >= 3 and resumed[-1] == EPOCHS  # continued, not started again
            assert [model.run_id for model in client.training.ListModels(pb.ListModelsRequest()).models] == [run.run_id]
    finally:
        second.stop()


def _started(client: Client):
    import grpc

    try:
        return client.train(DATASET, hyperparameters={"max_epochs": str(EPOCHS), "steps_per_epoch": "20",
                                                      "batch_size": "8", "patience": "0"})
    except grpc.RpcError as error:
        if error.code() is grpc.StatusCode.FAILED_PRECONDITION:
            return None
        raise


def _epoch(client: Client, run_id: str) -> int:
    message = client.training.GetTrainingRun(pb.GetTrainingRunRequest(run_id=run_id)).training_run.job.message
    return int(message.split()[1]) if message.startswith("epoch ") else 0
