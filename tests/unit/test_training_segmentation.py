"""Training's segmentation core on CPU: a short real run on the spleen CT, resuming, artifacts, hyperparameters."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from services.training.domain import artifacts, segmentation
from services.training.domain.segmentation import Example, Preprocessing, Settings, StopReason
from shared.grid import array_spacing
from shared.volumes import from_nifti

SPLEEN = ("ivadomed_spleen/ct_scan/sub-spleen2/ct/sub-spleen2_ct.nii.gz",
          "ivadomed_spleen/ct_scan/derivatives/labels/sub-spleen2/ct/sub-spleen2_ct_seg-manual.nii.gz")
SPLEEN_SETTINGS = Settings(max_epochs=4, steps_per_epoch=15, roi=(160, 160), threads=2)


@pytest.fixture(scope="module")
def spleen(data_dir) -> tuple[Example, Example]:
    """The spleen CT: trained on the even slices of the spleen's range, validated on the odd ones."""
    image, affine = from_nifti(data_dir / SPLEEN[0])
    labels, _ = from_nifti(data_dir / SPLEEN[1])
    labels = labels.astype(np.uint16)
    present = np.nonzero(labels.any(axis=(1, 2)))[0]
    spacing = array_spacing(affine)
    even, odd = tuple(present[::2].tolist()), tuple(present[1::2].tolist())
    return Example(image, labels, spacing, even), Example(image, labels, spacing, odd)


@pytest.fixture(scope="module")
def trained(spleen) -> segmentation.Trained:
    train, validation = spleen
    return segmentation.fit([train], [validation], [1], SPLEEN_SETTINGS)


def test_a_short_run_beats_the_untrained_network_on_held_out_slices(spleen, trained):
    """A minute of CPU training lifts the spleen's Dice on slices it never saw well clear of the untrained
    baseline; the result keeps the best epoch's validation Dice."""
    _, validation = spleen
    baseline = segmentation.validation_dice(segmentation.untrained("monai.unet2d", 1), [validation],
                                            SPLEEN_SETTINGS.preprocessing, [1])
    assert trained.epochs == 4 and trained.stop_reason is StopReason.MAX_EPOCHS
    assert trained.dice[1] >= baseline[1] + 0.5, (trained.dice, baseline)
    assert trained.dice == segmentation.validation_dice(trained.network(), [validation], trained.preprocessing, [1])


def square_volume(values=(5, 12)) -> Example:
    """Eight 32×32 slices: a bright square of each label value on a dark background."""
    image = np.full((8, 32, 32), -500.0, dtype=np.float32)
    labels = np.zeros(image.shape, dtype=np.uint16)
    for n, value in enumerate(values):
        labels[:, 4 + 14 * n:14 + 14 * n, 6:20] = value
        image[labels == value] = 50.0 + 100 * n
    return Example(image, labels, (2.0, 1.0, 1.0))


def test_a_cancelled_run_resumes_at_the_next_epoch_and_ends_as_an_uninterrupted_one():
    """on_epoch returning False stops the run after that epoch; its checkpoint resumes at the next epoch, and
    (model, optimizer and random generator restored) the resumed run ends with the uninterrupted run's weights."""
    example = square_volume()
    settings = Settings(max_epochs=3, steps_per_epoch=2, batch_size=2, roi=(32, 32), threads=2)
    whole = segmentation.fit([example], [example], [5, 12], settings)
    reports = []

    def cancel(report: segmentation.EpochReport) -> bool:
        reports.append(report)
        return False

    stopped = segmentation.fit([example], [example], [5, 12], settings, on_epoch=cancel)
    assert stopped.stop_reason is StopReason.CANCELLED and stopped.epochs == 1
    resumed = segmentation.fit([example], [example], [5, 12], settings, on_epoch=reports.append,
                               resume=reports[-1].checkpoint)
    assert [r.epoch for r in reports] == [1, 2, 3] and reports[-1].eta_s == 0
    assert resumed.epochs == 3 and resumed.stop_reason is StopReason.MAX_EPOCHS
    assert all(torch.equal(whole.state[name], resumed.state[name]) for name in whole.state)


def test_a_checkpoint_of_another_run_is_refused():
    example = square_volume()
    settings = Settings(max_epochs=1, steps_per_epoch=1, batch_size=1, roi=(32, 32))
    reports = []
    segmentation.fit([example], [], [5, 12], settings, on_epoch=reports.append)
    with pytest.raises(ValueError, match=r"checkpoint is of a monai.unet2d model for labels \[5, 12\]; this run "
                                         r"trains a monai.unet2d model for labels \[5\]"):
        segmentation.fit([example], [], [5], settings, resume=reports[0].checkpoint)


def test_predictions_give_back_the_original_label_values():
    """Channels map back to the (non-contiguous) label values; confidence is a probability."""
    example = square_volume()
    network = segmentation.untrained("monai.unet2d", 2)
    labels, confidence = segmentation.predict(network, example.image, Preprocessing(roi=(32, 32)), [5, 12])
    assert labels.dtype == np.uint16 and labels.shape == example.image.shape
    assert set(np.unique(labels).tolist()) <= {0, 5, 12} and 0 <= confidence <= 1


def test_a_3d_run_needs_fully_labelled_volumes_and_trains_on_them():
    example = square_volume()
    settings = Settings(kind="monai.unet3d", max_epochs=1, steps_per_epoch=1, batch_size=1, roi=(8, 32, 32))
    with pytest.raises(ValueError, match="trains on fully labelled volumes: use monai.unet2d for key slices"):
        segmentation.fit([Example(example.image, example.labels, example.spacing, (0, 4))], [], [5, 12], settings)
    result = segmentation.fit([example], [], [5, 12], settings)
    assert result.epochs == 1 and result.preprocessing.dims == 3


def test_a_trained_model_predicts_the_same_through_torchscript(spleen, trained):
    _, validation = spleen
    network = trained.network()
    data = artifacts.export(network, trained.preprocessing)
    loaded = artifacts.load(data, "torchscript")
    artifacts.check(data, trained.preprocessing, 1, fmt="torchscript")
    expected, expected_confidence = segmentation.predict(network, validation.image, trained.preprocessing, [1])
    found, found_confidence = segmentation.predict(loaded, validation.image, trained.preprocessing, [1])
    assert np.array_equal(found, expected) and found_confidence == pytest.approx(expected_confidence, abs=1e-5)


def threshold_onnx(dims: int = 2, outputs: int = 2, batch: int | str = "n") -> bytes:
    """A 1×1 convolution as ONNX: channel 1's logit rises with intensity above 0.5, channel 0's falls."""
    weight = np.array([-1.0, 1.0] + [0.0] * (outputs - 2), dtype=np.float32).reshape(outputs, 1, *[1] * dims)
    bias = np.array([0.5, -0.5] + [0.0] * (outputs - 2), dtype=np.float32)
    spatial = ["d", "h", "w"][-dims:]
    graph = helper.make_graph(
        [helper.make_node("Conv", ["image", "weight", "bias"], ["logits"])], "threshold",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 1, *spatial])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, outputs, *spatial])],
        [numpy_helper.from_array(weight, "weight"), numpy_helper.from_array(bias, "bias")])
    # IR version 9: the onnx package writes a newer one than onnxruntime 1.31 reads (≤ 13).
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    onnx.checker.check_model(model)
    return model.SerializeToString()


@pytest.mark.parametrize("batch", ["n", 1])
def test_an_onnx_model_loads_and_predicts(batch):
    """A registered ONNX model runs through predict like a trained one (a batch-of-one export, one item at a time)."""
    example = square_volume(values=(5,))
    preprocessing = Preprocessing(window=(-500.0, 500.0), roi=(32, 32))
    model = artifacts.load(threshold_onnx(batch=batch), "onnx")
    artifacts.check(model, preprocessing, 1)
    labels, confidence = segmentation.predict(model, example.image, preprocessing, [5])
    assert np.array_equal(labels, example.labels) and 0.5 < confidence <= 1


def test_check_refuses_a_model_of_the_wrong_rank_or_channels():
    preprocessing = Preprocessing(roi=(32, 32))
    with pytest.raises(ValueError, match=r"the ONNX model takes inputs of rank 5 \(3D\) but its pre-processing says "
                                         r"dims=2 .*register it with dims=3"):
        artifacts.check(threshold_onnx(dims=3), preprocessing, 1, fmt="onnx")
    with pytest.raises(ValueError, match=r"gives 2 output channels but 2 labels need 3 \(background first"):
        artifacts.check(threshold_onnx(), preprocessing, 2, fmt="onnx")
    three_d = artifacts.export(segmentation.untrained("monai.unet3d", 1), Preprocessing(dims=3, roi=(8, 32, 32)))
    with pytest.raises(ValueError, match=r"the model (fails on a batch shaped \(1, 1, 32, 32\)|returns outputs of "
                                         r"rank)"):
        artifacts.check(three_d, preprocessing, 1, fmt="torchscript")
    with pytest.raises(ValueError, match="model format 'pt' is not known; use one of torchscript, onnx"):
        artifacts.load(b"", "pt")


def test_hyperparameters_override_settings_and_bad_ones_are_named():
    settings = Settings.from_hyperparameters({"learning_rate": "1e-3", "roi": "160, 160", "augment": "false",
                                              "window": "-100,200", "max_epochs": "7"})
    assert settings.learning_rate == 1e-3 and settings.augment is False and settings.max_epochs == 7
    assert settings.preprocessing == Preprocessing(dims=2, window=(-100.0, 200.0), roi=(160, 160))
    with pytest.raises(ValueError, match=r"hyperparameter learning_rate='fast' is not a number"):
        Settings.from_hyperparameters({"learning_rate": "fast"})
    with pytest.raises(ValueError, match=r"hyperparameter max_epochs must be ≥ 1; got 0"):
        Settings.from_hyperparameters({"max_epochs": "0"})
    with pytest.raises(ValueError, match=r"unknown hyperparameter 'epochs'; known: kind, max_epochs"):
        Settings.from_hyperparameters({"epochs": "5"})
    with pytest.raises(ValueError, match=r"roi \(100, 100\) must be 2 sides, each a multiple of 16"):
        Settings.from_hyperparameters({"roi": "100,100"})
    with pytest.raises(ValueError, match=r"roi \(160, 160\) must be 3 sides"):
        Settings.from_hyperparameters({"kind": "monai.unet3d", "roi": "160,160"})
    with pytest.raises(ValueError, match=r"kind 'nnunet' is not a model kind; choose one of monai.unet2d"):
        Settings.from_hyperparameters({"kind": "nnunet"})


def test_pre_processing_round_trips_through_json_fields():
    preprocessing = Preprocessing(dims=3, modality="MR", window=(0.0, 1.0), roi=(16, 64, 64))
    assert Preprocessing.from_dict(preprocessing.to_dict()) == preprocessing
    with pytest.raises(ValueError, match="pre-processing lacks 'roi'"):
        Preprocessing.from_dict({"dims": 2, "modality": "CT", "window": [0, 1]})
    prepared = segmentation.prepare(np.array([[[-1000.0, 40.0, 3000.0]]]), Preprocessing())
    assert prepared.dtype == np.float32 and prepared.tolist() == [[[0.0, 0.5, 1.0]]]
