"""How many GPUs a run trains on: what it asks for when there are enough, else what there is (saying so), or a
refusal that says what to change when it requires them."""

from __future__ import annotations

from radlab.training.v1 import training_service_pb2 as pb
from services.training.handlers.runs import gpu_plan


def test_the_default_is_every_gpu_there_is_and_none_means_cpu():
    assert gpu_plan(pb.TrainingConfig(), 4) == (4, "")
    assert gpu_plan(pb.TrainingConfig(), 0) == (0, "")


def test_asking_for_more_than_there_is_falls_back_and_says_so():
    assert gpu_plan(pb.TrainingConfig(gpu_count=2), 8) == (2, "")
    gpus, note = gpu_plan(pb.TrainingConfig(gpu_count=2), 0)
    assert gpus == 0 and "training on CPU" in note
    gpus, note = gpu_plan(pb.TrainingConfig(gpu_count=4), 1)
    assert gpus == 1 and "has 1" in note


def test_require_gpu_refuses_what_the_cluster_cannot_give():
    gpus, note = gpu_plan(pb.TrainingConfig(gpu_count=1, require_gpu=True), 0)
    assert gpus is None and "requires them" in note and "has 0" in note
