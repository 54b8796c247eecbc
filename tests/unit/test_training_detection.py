"""Training's detection core on CPU: kidney boxes on a real CT's held-out slices, boxes from labels, resuming, saving."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from services.training.domain import detection
from services.training.domain.detection import Box, Example, Settings
from services.training.domain.segmentation import StopReason
from shared.volumes import from_nifti

TOTALSEGMENTATOR = ("totalsegmentator/tests/reference_files/example_ct_sm.nii.gz",
                    "totalsegmentator/tests/reference_files/example_seg.nii.gz")
KIDNEYS = [2, 3]  # TotalSegmentator v2: kidney_right, kidney_left (2 lies at the patient's right, 3 at the left)
# Chosen on the spleen CT (ivadomed_spleen), where 150 steps lift the held-out spleen's AP from the mean box's 0.49 to
# 0.83–0.86 over three seeds; here they are only asserted with.
KIDNEY_SETTINGS = Settings(max_epochs=15, steps_per_epoch=10, roi=(128, 128), threads=2)


@pytest.fixture(scope="module")
def kidneys(data_dir) -> tuple[Example, Example]:
    """The 41-organ CT (30 slices of 101×122 at 3 mm) with each kidney's boxes: trained on the even slices, validated
    on the odd ones (each set holds both kidneys' upper and lower poles and slices with neither)."""
    image, _ = from_nifti(data_dir / TOTALSEGMENTATOR[0])
    labels, _ = from_nifti(data_dir / TOTALSEGMENTATOR[1])
    boxes = detection.boxes_from_labels(labels.astype(np.uint16), KIDNEYS)
    count = image.shape[0]
    return (Example(image, boxes, tuple(range(0, count, 2))), Example(image, boxes, tuple(range(1, count, 2))))


@pytest.fixture(scope="module")
def trained(kidneys) -> detection.Trained:
    train, _ = kidneys
    return detection.fit([train], [], KIDNEYS, KIDNEY_SETTINGS)


def test_a_short_run_finds_the_kidneys_better_than_the_mean_box_on_held_out_slices(kidneys, trained):
    """150 steps from scratch (under a minute on two idle cores) find each kidney on slices the run never saw
    better than the fixed baseline, each kidney's mean training box placed on every held-out slice, which is strong
    here (the right kidney barely moves: its mean box alone scores AP 0.89). Measured, mAP@0.5: baseline 0.63 (0.89
    and 0.36); detector 0.87 and 0.77 for seeds 0 and 1. The most confident box's IoU is about the baseline's
    (0.58–0.60 against 0.57): the gain is in ranking and recall, not in tighter boxes, so only mAP is asserted."""
    train, validation = kidneys
    truth = {int(k): list(validation.boxes.get(int(k), ())) for k in validation.trusted()}
    fixed = [detection.mean_box([train], value) for value in KIDNEYS]
    baseline = {int(k): fixed for k in validation.trusted()}
    found = detection.detections(trained.network(), validation.image, trained.preprocessing, KIDNEYS,
                                 validation.trusted())
    ap, ap_baseline = (detection.average_precision(f, truth, KIDNEYS) for f in (found, baseline))
    assert trained.epochs == 15 and trained.stop_reason is StopReason.MAX_EPOCHS
    assert np.mean(list(ap.values())) >= np.mean(list(ap_baseline.values())) + 0.08, (ap, ap_baseline)


def test_predictions_keep_the_label_values_and_survive_saving(kidneys, trained):
    """predict keeps boxes above the threshold with the original label values; save/load gives the same boxes."""
    _, validation = kidneys
    boxes, confidence = detection.predict(trained.network(), validation.image, trained.preprocessing, KIDNEYS)
    assert boxes and {box.label for found in boxes.values() for box in found} <= set(KIDNEYS)
    assert all(box.score >= 0.5 for found in boxes.values() for box in found) and 0.5 <= confidence <= 1
    loaded = detection.load(detection.save(trained))
    assert loaded.label_values == (2, 3) and loaded.preprocessing == trained.preprocessing
    again, _ = detection.predict(loaded.network(), validation.image, loaded.preprocessing, loaded.label_values)
    assert again == boxes
    with pytest.raises(ValueError, match="the detection model cannot be read"):
        detection.load(b"not a model")


def test_boxes_from_labels_give_one_half_open_box_per_region_of_each_label():
    labels = np.zeros((3, 8, 10), dtype=np.uint16)
    labels[0, 1:3, 2:5] = 5  # rows 1–2, columns 2–4
    labels[0, 5, 7] = 5  # a second region of 5: one pixel
    labels[0, 6, 8] = 5  # touching it corner to corner: the same region
    labels[0, 4:8, 0:2] = 9  # not asked for
    labels[2, 0:8, 9] = 7  # the whole last column
    assert detection.boxes_from_labels(labels, [5, 7]) == {
        0: [Box(5, 2, 1, 5, 3), Box(5, 7, 5, 9, 7)],
        2: [Box(7, 9, 0, 10, 8)]}


def square_volume() -> Example:
    """Six 64×64 slices: a bright square of label 5 and one of label 12, moving a little from slice to slice."""
    image = np.full((6, 64, 64), -500.0, dtype=np.float32)
    boxes = {}
    for k in range(6):
        image[k, 8 + k:28 + k, 10:30] = 50.0
        image[k, 36:56, 30 + k:46 + k] = 150.0
        boxes[k] = [Box(5, 10, 8 + k, 30, 28 + k), Box(12, 30 + k, 36, 46 + k, 56)]
    return Example(image, boxes)


def test_a_cancelled_run_resumes_at_the_next_epoch_and_ends_as_an_uninterrupted_one():
    """on_epoch returning False stops the run after that epoch; its checkpoint resumes at the next epoch, and the
    resumed run ends with the uninterrupted run's weights."""
    example = square_volume()
    settings = Settings(max_epochs=3, steps_per_epoch=2, batch_size=2, roi=(64, 64), threads=2)
    whole = detection.fit([example], [example], [5, 12], settings)
    reports = []

    def cancel(report: detection.EpochReport) -> bool:
        reports.append(report)
        return False

    stopped = detection.fit([example], [example], [5, 12], settings, on_epoch=cancel)
    assert stopped.stop_reason is StopReason.CANCELLED and stopped.epochs == 1
    resumed = detection.fit([example], [example], [5, 12], settings, on_epoch=reports.append,
                            resume=reports[-1].checkpoint)
    assert [r.epoch for r in reports] == [1, 2, 3] and reports[-1].eta_s == 0
    assert set(reports[-1].average_precision) == {5, 12}
    assert resumed.epochs == 3 and resumed.stop_reason is StopReason.MAX_EPOCHS
    assert all(torch.equal(whole.state[name], resumed.state[name]) for name in whole.state)
    with pytest.raises(ValueError, match=r"checkpoint is of a torchvision.retinanet model for labels \[5, 12\] on "
                                         r"roi \(64, 64\); this run trains a torchvision.retinanet model for labels "
                                         r"\[5\]"):
        detection.fit([example], [], [5], settings, resume=reports[0].checkpoint)


def test_average_precision_ranks_boxes_by_score():
    """VOC's all-point AP: one true box on each of two slices; a hit alone finds half (AP 0.5); a confident miss
    before two hits gives precisions 0, 1/2, 2/3 at recalls 0, 1/2, 1, made non-increasing: 2/3 at both steps."""
    truth = {0: [Box(1, 0, 0, 10, 10)], 1: [Box(1, 0, 0, 10, 10)]}
    hit, near, miss = Box(1, 0, 0, 10, 10, 0.9), Box(1, 1, 1, 10, 10, 0.8), Box(1, 20, 20, 30, 30, 0.95)
    assert detection.average_precision({0: [hit], 1: []}, truth, [1]) == {1: 0.5}
    assert detection.average_precision({0: [hit, miss], 1: [near]}, truth, [1]) == pytest.approx({1: 2 / 3})
    assert detection.average_precision({}, {0: []}, [1]) == {1: 1.0}
    assert detection.average_precision({0: [hit]}, {0: []}, [1]) == {1: 0.0}


def test_hyperparameters_override_settings_and_bad_ones_are_named():
    settings = Settings.from_hyperparameters({"roi": "128,160", "learning_rate": "2e-3"})
    assert settings.preprocessing.roi == (128, 160) and settings.learning_rate == 2e-3
    with pytest.raises(ValueError, match=r"hyperparameter steps_per_epoch='many' is not a whole number"):
        Settings.from_hyperparameters({"steps_per_epoch": "many"})
    with pytest.raises(ValueError, match=r"kind 'yolo' is not a detection model kind; choose one of "
                                         r"torchvision.retinanet"):
        Settings.from_hyperparameters({"kind": "yolo"})
