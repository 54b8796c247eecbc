"""Few-shot training benchmark: a 2D U-Net trained on CPU on every third slice, beside interpolation from the same keys.

Protocol (bench.interpolation's, so the figures sit beside its table): along the acquisition axis, every third
slice of the labelled range plus its last are keys; only the slices between them are scored (Dice per label
averaged over the labels present there, HD95, false-empty/present slices). Three predictions from the same keys:
- model: `segmentation.fit` from scratch on the key slices alone (no validation split: held-out slices are what is
  scored, and an annotator's keys are all there is, so the last epoch's network is used), then `predict`; its
  seconds are training plus prediction on this machine's CPUs;
- interpolation: Radlab's `fill` (IMAGE_GUIDED);
- combined: interpolation in the gaps where a label is drawn on both keys around it (a shape continuing through
  the gap is what interpolation measures best at), the model in the gaps where the label is drawn on one key only:
  the structure starts or ends inside the gap and only the image tells where. It has no parameter to tune.
The settings (epochs, learning rate, augmentation) were chosen on the spleen CT; the 41-organ CT is the untuned case.
Then the Ray path against the plain loop: the training service's own worker function (`runner.train`:
examples read from an object store, split, fit, exported) called directly and through the compute port's Ray Train
`TorchTrainer`, same data, settings and threads, same run: the time from the first epoch's end to the last's in each
(goal: Ray ≤ 10 % over the plain loop), and Ray's start-up (the local cluster, then its worker group up to that
first epoch, beyond the plain loop's) reported apart.
`python -m bench.training` runs it alone.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import torch

from bench.interpolation import Case, Score, held_out, key_slices, load_case, score
from services.interpolation.domain.fill import LabelKeys, Method, fill, gaps, keys_from_slices
from services.training.domain import segmentation
from services.training.domain.segmentation import Example
from services.training.domain.settings import Settings, fitting_roi
from services.training.runner import RunSpec, train
from shared import compute as compute_port
from shared import objectstore
from shared.compute import TrainingSession
from shared.volume_store import VolumeStore

K = 3
TUNED_ON, UNTUNED = "spleen CT", "41-organ CT"
# Chosen on the spleen alone; the roi is set per case to cover a whole slice (settings.fitting_roi).
SETTINGS = Settings(max_epochs=20, steps_per_epoch=20, batch_size=8, learning_rate=3e-3, time_budget_s=270)
GOAL_DICE, GOAL_SECONDS = 0.90, 300.0


@dataclass(frozen=True)
class FewShot:
    """One case: the three predictions' scores on the held-out slices, and how the training went."""

    model: Score
    interpolation: Score
    combined: Score
    train_s: float
    epochs: int
    stop_reason: str
    labels: int


def train_on_keys(case: Case, keys: list[int], settings: Settings) -> tuple[segmentation.Trained, float]:
    """The network trained on the key slices (slices along the acquisition axis), and the seconds it took."""
    image, labels = np.moveaxis(case.image, case.axis, 0), np.moveaxis(case.labels, case.axis, 0).astype(np.uint16)
    spacing = (case.spacing[case.axis], *(s for n, s in enumerate(case.spacing) if n != case.axis))
    values = sorted(set(np.unique(labels[keys]).tolist()) - {0})
    roi = fitting_roi(image.shape, 2)
    started = time.perf_counter()
    trained = segmentation.fit([Example(image, labels, spacing, tuple(keys))], [], values,
                               _with_roi(settings, roi), on_epoch=_progress)
    return trained, time.perf_counter() - started


def _with_roi(settings: Settings, roi: tuple[int, ...]) -> Settings:
    return Settings(**{**vars(settings), "roi": roi})


def _progress(report: segmentation.EpochReport) -> None:
    if report.epoch % 5 == 0 or report.epoch == report.max_epochs:
        print(f"    epoch {report.epoch}/{report.max_epochs}: loss {report.loss:.3f}, {report.seconds:.1f} s, "
              f"about {report.eta_s:.0f} s left", flush=True)


def predict_volume(trained: segmentation.Trained, case: Case) -> tuple[np.ndarray, float]:
    """The trained network's labels on the whole volume (in the case's own axes), and the seconds it took."""
    started = time.perf_counter()
    labels, _ = segmentation.predict(trained.network(), np.moveaxis(case.image, case.axis, 0), trained.preprocessing,
                                     trained.label_values)
    return np.moveaxis(labels, 0, case.axis).astype(case.labels.dtype), time.perf_counter() - started


def combine(interpolated: np.ndarray, predicted: np.ndarray, keys: dict[int, LabelKeys], axis: int) -> np.ndarray:
    """Interpolation's labels, except in each label's gaps drawn on one side only, where the model's voxels of that
    label replace interpolation's (never over another label's voxels)."""
    out = np.moveaxis(interpolated.copy(), axis, 0)
    model = np.moveaxis(predicted, axis, 0)
    for value, label_keys in keys.items():
        drawn = set(label_keys.drawn)
        for first, last in gaps(label_keys):
            if first in drawn and last in drawn:
                continue
            block, found = out[first + 1:last], model[first + 1:last] == value
            block[block == value] = 0
            block[found & (block == 0)] = value
    return np.moveaxis(out, 0, axis)


def evaluate(name: str, settings: Settings = SETTINGS) -> FewShot:
    """Model, interpolation and the two combined, from every K-th key slice of case `name`."""
    case = load_case(name)
    keys = key_slices(case.labels, case.axis, K)
    scored = held_out(case.labels, case.axis, keys)
    trained, train_s = train_on_keys(case, keys, settings)
    predicted, predict_s = predict_volume(trained, case)
    given = np.zeros_like(case.labels)
    np.moveaxis(given, case.axis, 0)[keys] = np.moveaxis(case.labels, case.axis, 0)[keys]
    label_keys = keys_from_slices(given, keys, case.axis)
    started = time.perf_counter()
    interpolated = fill(given, label_keys, axis=case.axis, method=Method.IMAGE_GUIDED, image=case.image,
                        spacing=case.spacing).labels
    fill_s = time.perf_counter() - started
    combined = combine(interpolated, predicted, label_keys, case.axis)
    return FewShot(model=score(case.labels, predicted, case.axis, scored, case.spacing, train_s + predict_s),
                   interpolation=score(case.labels, interpolated, case.axis, scored, case.spacing, fill_s),
                   combined=score(case.labels, combined, case.axis, scored, case.spacing,
                                  train_s + predict_s + fill_s),
                   train_s=train_s, epochs=trained.epochs, stop_reason=trained.stop_reason.value,
                   labels=len(trained.label_values))


OVERHEAD_SETTINGS = {"kind": "monai.unet2d", "max_epochs": "6", "steps_per_epoch": "20", "batch_size": "8",
                     "patience": "0"}
OVERHEAD_GOAL = 0.10


class _DirectSession(TrainingSession):
    """The plain loop's session: rank 0 of one, its reports timed."""

    rank, world_size = 0, 1

    def __init__(self, reports: list[float]):
        self.reports = reports

    def prepare_model(self, module):
        return module

    def report(self, metrics: dict) -> bool:
        self.reports.append(time.perf_counter())
        return True


def ray_overhead() -> tuple[float, float, float, float]:
    """(plain loop s, Ray s, Ray's start-up s, Ray's cluster start s) for the same run of the service's worker function."""
    case = load_case(TUNED_ON)
    with tempfile.TemporaryDirectory(prefix="radlab-bench-training-") as folder:
        store_url = f"file://{folder}"
        volumes = VolumeStore(objectstore.connect(store_url))
        affine = np.diag([*reversed(case.spacing), 1.0])
        image, labels = np.moveaxis(case.image, case.axis, 0), np.moveaxis(case.labels, case.axis, 0)
        volumes.write("volumes", "v-1", image, affine, {"modality": "CT", "patient_pseudonym": "p-1"})
        volumes.write("labels", "l-1", (labels > 0).astype(np.uint16), affine, {})
        threads = str(torch.get_num_threads())
        spec = lambda key: RunSpec(store_url, [{"item_id": "i-1", "volume_id": "v-1", "labels_key": "l-1"}], [1],  # noqa: E731
                                   OVERHEAD_SETTINGS | {"threads": threads}, 0.2, key)
        plain: list[float] = []
        started = time.perf_counter()
        train({"spec": spec("plain")}, _DirectSession(plain))
        plain_first = plain[0] - started
        began = time.perf_counter()
        pool = compute_port.connect("local")
        cluster_s = time.perf_counter() - began
        seen: list[float] = []
        started = time.perf_counter()
        pool.train(train, {"spec": spec("ray")}, cpus_per_worker=float(len(os.sched_getaffinity(0))),
                   on_report=lambda metrics: seen.append(time.perf_counter()) or True)
        pool.shutdown()
    ray_first = seen[0] - started
    return plain[-1] - plain[0], seen[-1] - seen[0], cluster_s + max(0.0, ray_first - plain_first), cluster_s


def run() -> None:
    """Print held-out Dice, HD95, false-empty/present slices and seconds per case and prediction, with the goal."""
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; every {K}rd slice a key; settings "
          f"{SETTINGS.max_epochs} epochs × {SETTINGS.steps_per_epoch} batches of {SETTINGS.batch_size}, learning "
          f"rate {SETTINGS.learning_rate}, augmentation {'on' if SETTINGS.augment else 'off'}, chosen on the "
          f"{TUNED_ON}", flush=True)
    for name in (TUNED_ON, UNTUNED):
        case = load_case(name)
        print(f"\n{name} ({'settings chosen here' if name == TUNED_ON else 'untuned: settings from the spleen'}): "
              f"{case.labels.shape} [k, j, i], axis {case.axis}", flush=True)
        result = evaluate(name)
        print(f"  trained {result.epochs} epochs for {result.labels} label values in {result.train_s:.0f} s "
              f"(stopped: {result.stop_reason})")
        print(f"  {'prediction':<14} {'Dice':>6} {'HD95 mm':>8} {'f-empty':>8} {'f-present':>9} {'s':>7}")
        for label, found in (("model", result.model), ("interpolation", result.interpolation),
                             ("combined", result.combined)):
            print(f"  {label:<14} {found.dice:6.3f} {found.hd95:8.2f} {found.false_empty:8d} {found.false_present:9d} "
                  f"{found.seconds:7.1f}", flush=True)
        if name == TUNED_ON:
            met = result.model.dice >= GOAL_DICE and result.model.seconds <= GOAL_SECONDS
            print(f"  goal: model Dice ≥ {GOAL_DICE} within {GOAL_SECONDS:.0f} s: {'met' if met else 'not met'}")
    plain_s, ray_s, startup_s, cluster_s = ray_overhead()
    overhead = ray_s / plain_s - 1
    print(f"\nRay path vs plain loop ({TUNED_ON}, {OVERHEAD_SETTINGS['max_epochs']} epochs, the service's worker "
          f"function): plain {plain_s:.1f} s, Ray {ray_s:.1f} s from the first epoch's end to the last: overhead "
          f"{overhead:+.1%} (goal ≤ {OVERHEAD_GOAL:.0%}: {'met' if overhead <= OVERHEAD_GOAL else 'not met'}); Ray's "
          f"start-up apart: {startup_s:.1f} s (the local cluster {cluster_s:.1f} s)", flush=True)


if __name__ == "__main__":
    run()
    sys.exit(0)
