"""Training through a real `radlab up` (Ray started on this machine) on the spleen CT: a run on the item's submitted
labels registers a model with its metrics and lineage; the model pre-labels the item (an annotation by the model, every
slice PREDICTED) and, promoted, ranks two new unlabelled scans by its uncertainty; a registered TorchScript model and a registered ONNX model run in a workflow's model stage and their
labels land in annotation with provenance; a cancelled run ends CANCELLED; bad requests are refused with reasons.
"""

from __future__ import annotations

import io
import urllib.request

import grpc
import pytest
import torch

from radlab.annotation.v1 import annotation_service_pb2 as annotation
from radlab.client import Client
from radlab.tokens import issue_token, token_key
from radlab.training.v1 import training_service_pb2 as pb
from radlab.type.v1 import job_pb2
from radlab.workflow.v1 import workflow_service_pb2 as workflow
from shared import objectstore
from shared.stack import Stack
from tests.conftest import wait_until

TENANT = "hospital-a"
SPLEEN = "ivadomed_spleen/ct_scan"
SPLEEN_CT = f"{SPLEEN}/sub-spleen2/ct/sub-spleen2_ct.nii.gz"
SPLEEN_MASK = f"{SPLEEN}/derivatives/labels/sub-spleen2/ct/sub-spleen2_ct_seg-manual.nii.gz"
OTHER_CT = "totalsegmentator/tests/reference_files/example_ct_sm.nii.gz"
OTHER_MR = "totalsegmentator/tests/reference_files/example_mr_sm.nii.gz"
SHORT = {"max_epochs": "3", "steps_per_epoch": "4", "batch_size": "4"}  # the plumbing, not the model's quality


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    with Stack(home, env={"RADLAB_ANON_KEY": "", "RADLAB_PHI_KEY": ""}) as running:
        yield running, home


def client_for(stack, subject: str, role: str) -> Client:
    running, home = stack
    return Client(running.grpc_addr, issue_token(token_key(home, None), subject=subject, role=role, tenant=TENANT))


@pytest.fixture(scope="module")
def labelled(stack, data_dir):
    """A dataset whose one item (the spleen CT) has the manual spleen label submitted."""
    with client_for(stack, "admin-1", "admin") as admin:
        dataset = admin.create_dataset("spleen training").dataset_id
        admin.create_class(dataset, "spleen", value=1)
        admin.upload(data_dir / SPLEEN_CT, dataset)
        [item] = admin.wait_for_items(dataset, 1, timeout_s=120)
        done = admin.import_labels(item.item_id, data_dir / SPLEEN_MASK, mapping={"1": 1})
        admin.annotation.SubmitAnnotation(annotation.SubmitAnnotationRequest(annotation_id=done.annotation_id,
                                                                             version=done.version))
    return dataset, item.item_id


def test_a_run_registers_a_model_that_pre_labels_the_item_and_ranks_new_ones(stack, labelled, data_dir, monkeypatch,
                                                                            capsys):
    dataset, item = labelled
    with client_for(stack, "manager-1", "manager") as manager:
        run = wait_until(lambda: _started(manager, dataset, SHORT), "the training service to know the submitted labels")
        seen = []
        run = manager.wait_for_run(run.run_id, progress=lambda found: seen.append(found.job.message), timeout_s=600)
        assert run.job.state == job_pb2.JOB_STATE_SUCCEEDED, run.job.error
        assert any(message.startswith("epoch 1 of 3") for message in seen)
        assert run.example_count == 1 and list(run.label_values) == [1]
        model = manager.training.GetModel(pb.GetModelRequest(model_id=run.model_id)).model
        assert (model.source, model.format, model.dataset_id, model.version) == (
            pb.MODEL_SOURCE_TRAINED, pb.MODEL_FORMAT_TORCHSCRIPT, dataset, 1)
        assert [label.value for label in model.labels] == [1] and model.preprocessing.dims == 2
        assert {(m.name, m.label_value) for m in model.metrics} == {
            ("dice", 1), ("dice", 0), ("hd95_mm", 1), ("assd_mm", 1), ("surface_dice", 1), ("volume_difference", 1)}

        prediction = manager.predict(model.model_id, item)
        assert prediction.job.state == job_pb2.JOB_STATE_SUCCEEDED, prediction.job.error
        by_model = wait_until(lambda: [a for a in _annotations(manager, item) if a.model_id == model.model_id],
                              "the model's annotation of the item")
        assert by_model[0].annotator == model.model_id

        from radlab.cli import main

        running, home = stack
        monkeypatch.setenv("RADLAB_URL", running.grpc_addr)
        monkeypatch.setenv("RADLAB_TOKEN", issue_token(token_key(home, None), subject="m", role="manager", tenant=TENANT))
        capsys.readouterr()
        assert main(["models", "list", "--dataset", dataset]) == 0 and main(["runs", "list", "--dataset", dataset]) == 0
        assert main(["predict", item, "--model", model.model_id]) == 0
        assert main(["train", dataset, "--epochs", "2", "--set", "steps_per_epoch=2", "batch_size=2", "--wait"]) == 0
        assert main(["models", "promote", model.model_id]) == 0 and main(["models", "compare", model.model_id]) == 0
        assert manager.training.GetModel(pb.GetModelRequest(model_id=model.model_id)).model.promoted
        with client_for(stack, "admin-1", "admin") as admin:
            for unlabelled in (OTHER_CT, OTHER_MR):
                admin.upload(data_dir / unlabelled, dataset)
            admin.wait_for_items(dataset, 3, timeout_s=120)
        ranking = wait_until(lambda: _ranked(manager, dataset), "a ranking of the two unlabelled items", timeout_s=300)
        assert ranking.job.state == job_pb2.JOB_STATE_SUCCEEDED, ranking.job.error
        assert len(ranking.items) == 2 and item not in {ranked.item_id for ranked in ranking.items}
        assert ranking.items[0].uncertainty >= ranking.items[1].uncertainty and 0 <= ranking.items[1].uncertainty <= 1
        assert main(["items", "next", dataset]) == 0
        printed = capsys.readouterr().out
        assert f"   1  {ranking.items[0].item_id}  uncertainty" in printed
        assert f"{model.model_id}  monai.unet2d on {dataset} v1  trained  mean Dice" in printed and "label 1 Dice" in printed
        assert f"{run.run_id}  succeeded" in printed and "an annotation by the model" in printed
        assert f"promoted {model.model_id}" in printed and "dice 1" in printed
        assert "1 item(s), monai.unet2d" in printed and "mean Dice" in printed.split("run ")[-1]


def test_registered_torchscript_and_onnx_models_pre_label_in_a_model_stage(stack, data_dir):
    """A thresholding 'model' (spleen-bright voxels), exported both ways, registered, and run by model stages."""
    running, home = stack
    objects = objectstore.connect(f"file://{home / 'objects'}")
    objects.ensure_bucket("uploads")
    for name, data in (("bright.pt", _torchscript()), ("bright.onnx", _onnx())):
        objects.put("uploads", name, data)
    with client_for(stack, "manager-1", "manager") as manager, client_for(stack, "admin-1", "admin") as admin:
        preprocessing = pb.Preprocessing(dims=2, window_low=-160, window_high=240, roi=[160, 160])
        for fmt, name in ((pb.MODEL_FORMAT_TORCHSCRIPT, "bright.pt"), (pb.MODEL_FORMAT_ONNX, "bright.onnx")):
            model = manager.training.RegisterModel(pb.RegisterModelRequest(
                name="bright", format=fmt, artifact_uri=f"s3://uploads/{name}", modality="CT",
                labels=[pb.ModelLabel(value=1, name="spleen")], preprocessing=preprocessing)).model
            dataset = admin.create_dataset(f"model stage {name}").dataset_id
            admin.create_class(dataset, "spleen", value=1)
            manager.wait_for_workflow(dataset)
            named = model.model_id if fmt == pb.MODEL_FORMAT_TORCHSCRIPT else ""  # the ONNX one: promoted instead
            if not named:
                promoted = manager.training.PromoteModel(pb.PromoteModelRequest(model_id=model.model_id, dataset_id=dataset))
                assert promoted.model.promoted
            manager.workflow.CreateWorkflow(workflow.CreateWorkflowRequest(dataset_id=dataset, name="pre-label", stages=[
                workflow.Stage(stage_id="model", kind=workflow.STAGE_KIND_MODEL, model=workflow.ModelSettings(model_id=named)),
                workflow.Stage(stage_id="annotate", kind=workflow.STAGE_KIND_ANNOTATE),
                workflow.Stage(stage_id="done", kind=workflow.STAGE_KIND_COMPLETE)]))
            admin.upload(data_dir / SPLEEN_CT, dataset)
            [item] = admin.wait_for_items(dataset, 1, timeout_s=120)
            wait_until(lambda: _stage(manager, item.item_id) == "annotate", f"the {name} model stage to pass the item on", timeout_s=180)
            [predicted] = wait_until(lambda: [a for a in _annotations(manager, item.item_id) if a.model_id], "the model's annotation")
            assert predicted.model_id == model.model_id
            labels = manager.annotation.GetAnnotation(annotation.GetAnnotationRequest(annotation_id=predicted.annotation_id))
            assert labels.annotation.model_id == model.model_id

        with pytest.raises(grpc.RpcError) as mismatched:
            manager.training.RegisterModel(pb.RegisterModelRequest(
                name="bright-3d", format=pb.MODEL_FORMAT_ONNX, artifact_uri="s3://uploads/bright.onnx", modality="CT",
                labels=[pb.ModelLabel(value=1)], preprocessing=pb.Preprocessing(dims=3, roi=[16, 64, 64])))
        assert mismatched.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "rank" in mismatched.value.details()


def test_a_cancelled_run_ends_cancelled_and_bad_requests_say_why(stack, labelled):
    dataset, _ = labelled
    with client_for(stack, "manager-1", "manager") as manager:
        run = wait_until(lambda: _started(manager, dataset, {"max_epochs": "200"}), "the submitted labels known")
        wait_until(lambda: manager.training.GetTrainingRun(pb.GetTrainingRunRequest(run_id=run.run_id)).training_run
                   .job.message.startswith("epoch"), "the run's first epoch", timeout_s=300)
        running, _ = stack
        with urllib.request.urlopen(f"http://127.0.0.1:{running.metrics_port}/metrics") as response:
            scraped = response.read().decode()
        assert f'radlab_training_run_epoch{{run_id="{run.run_id}"}}' in scraped
        assert f'radlab_training_run_validation_dice{{label_value="1",run_id="{run.run_id}"}}' in scraped
        manager.training.CancelTrainingRun(pb.CancelTrainingRunRequest(run_id=run.run_id))
        ended = manager.wait_for_run(run.run_id, timeout_s=120)
        assert ended.job.state == job_pb2.JOB_STATE_CANCELLED and not ended.model_id
        with urllib.request.urlopen(f"http://127.0.0.1:{running.metrics_port}/metrics") as response:
            assert 'radlab_training_runs{state="cancelled"} 1.0' in response.read().decode()
        for request, code, words in (
            (dict(hyperparameters={"learning_rate": "fast"}), grpc.StatusCode.INVALID_ARGUMENT, "learning_rate"),
            (dict(model_kind="nnunet"), grpc.StatusCode.INVALID_ARGUMENT, "monai.unet2d"),
            (dict(label_values=[7]), grpc.StatusCode.FAILED_PRECONDITION, "[7]"),
        ):
            with pytest.raises(grpc.RpcError) as refused:
                manager.train(dataset, **request)
            assert refused.value.code() is code and words in refused.value.details()
        empty = manager.create_dataset("nothing labelled").dataset_id
        with pytest.raises(grpc.RpcError) as too_few:
            manager.train(empty)
        assert too_few.value.code() is grpc.StatusCode.FAILED_PRECONDITION and "at least 1" in too_few.value.details()


def _started(client: Client, dataset: str, hyperparameters: dict[str, str]):
    """A run, once the training service has learnt of the submitted labels."""
    try:
        return client.train(dataset, hyperparameters=hyperparameters)
    except grpc.RpcError as error:
        if error.code() is grpc.StatusCode.FAILED_PRECONDITION:
            return None
        raise


def _stage(client: Client, item: str) -> str | None:
    try:
        return client.workflow.GetItemProgress(workflow.GetItemProgressRequest(item_id=item)).stage_id
    except grpc.RpcError as error:
        if error.code() is grpc.StatusCode.NOT_FOUND:  # not in the workflow yet
            return None
        raise


def _ranked(client: Client, dataset: str):
    """The dataset's ranking by its promoted model, once training knows both new items."""
    try:
        ranking = client.rank(dataset)
    except grpc.RpcError as error:
        if error.code() is grpc.StatusCode.FAILED_PRECONDITION:
            return None
        raise
    return ranking if len(ranking.items) == 2 else None


def _annotations(client: Client, item: str):
    return client.annotation.GetItem(annotation.GetItemRequest(item_id=item)).item.annotations


class _Bright(torch.nn.Module):
    """Logits for background and one label: voxels brighter than soft tissue's middle in the [0, 1] window."""

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        foreground = (batch - 0.55) * 20.0
        return torch.cat([-foreground, foreground], dim=1)


def _torchscript() -> bytes:
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.trace(_Bright(), torch.zeros(1, 1, 160, 160)), buffer)
    return buffer.getvalue()


def _onnx() -> bytes:
    buffer = io.BytesIO()
    torch.onnx.export(_Bright(), (torch.zeros(1, 1, 160, 160),), buffer, input_names=["image"], output_names=["logits"],
                      dynamo=False)
    return buffer.getvalue()

