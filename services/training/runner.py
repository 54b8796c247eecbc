"""What training runs on the compute pool (Ray workers): read a run's examples from the object store, split them, fit,
export the model; check and run a model. Plain functions of picklable arguments, so any worker can run them; torch
and MONAI load in the worker that runs one, never in the serving process that only names them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from services.training.domain.evaluation import Held, report
from services.training.domain.ranking import uncertainty
from services.training.domain.settings import Preprocessing, Settings
from services.training.domain.split import split
from shared import objectstore
from shared.compute import TrainingSession
from shared.grid import array_spacing
from shared.objectstore import LABELS_BUCKET, MODELS_BUCKET, VOLUMES_BUCKET, ObjectNotFound
from shared.volume_store import VolumeStore

PREDICTION_CPUS = 0.5  # a prediction's (or a model check's) share of the pool: it runs beside a run holding the rest


@dataclass(frozen=True)
class RunSpec:
    """A run as its workers need it: where the data is, what to learn and how."""

    store_url: str
    examples: list[dict[str, Any]]  # {item_id, volume_id, labels_key}
    label_values: list[int]
    hyperparameters: dict[str, str]
    validation_fraction: float
    checkpoint_key: str  # in the models bucket; read to resume, written every epoch


def train_segmentation(config: dict[str, RunSpec], session: TrainingSession) -> dict[str, Any] | None:
    """Fit a segmentation model on the run's examples (config["spec"]), reporting each epoch and keeping its
    checkpoint in the object store (a restarted run continues from it). Returns the TorchScript artifact, label
    values, pre-processing, the validation report (domain/evaluation.py) and split; None when the run was asked to
    stop."""
    from services.training.domain import artifacts, segmentation

    spec = config["spec"]
    objects = objectstore.connect(spec.store_url)
    volumes = VolumeStore(objects, cache_bytes=0)
    loaded = {example["item_id"]: _example(volumes, example) for example in spec.examples}
    modalities = sorted({modality for _, _, modality in loaded.values()})
    if len(modalities) > 1:
        raise ValueError(f"the examples mix modalities {modalities}; train one model per modality")
    patients = {item: patient for item, (_, patient, _) in loaded.items()}
    labelled = {item: [int(k) for k in np.flatnonzero(example.labels.reshape(example.labels.shape[0], -1).any(axis=1))]
                for item, (example, _, _) in loaded.items()}
    label_values = spec.label_values or sorted({int(value) for example, _, _ in loaded.values()
                                                for value in np.unique(example.labels) if value})
    if not label_values:
        raise ValueError("the examples' labels are all empty; nothing to learn")
    chosen = split(patients, labelled, spec.validation_fraction)
    training, validation = _sides(loaded, chosen)
    settings = Settings.from_hyperparameters({"modality": modalities[0] or "CT", **spec.hyperparameters})
    objects.ensure_bucket(MODELS_BUCKET)
    resume = _checkpoint(objects, spec.checkpoint_key)
    stopped = False

    def on_epoch(report: segmentation.EpochReport) -> bool:
        nonlocal stopped
        if session.rank == 0:
            objects.put(MODELS_BUCKET, spec.checkpoint_key, report.checkpoint)
        going_on = session.report({"epoch": report.epoch, "max_epochs": report.max_epochs, "loss": report.loss,
                                   "dice": {str(value): dice for value, dice in report.dice.items()},
                                   "eta_s": report.eta_s, "seconds": report.seconds})
        stopped = not going_on
        return going_on

    trained = segmentation.fit(training, validation, label_values, settings, on_epoch=on_epoch, resume=resume,
                               prepare_model=session.prepare_model)
    if stopped:
        return None
    network = trained.network()
    held = [Held(segmentation.predict(network, example.image, trained.preprocessing, label_values)[0], example.labels,
                 example.spacing, example.slices if chosen.how == "slices" else None) for example in validation]
    return {"model": artifacts.export(network, trained.preprocessing), "label_values": label_values,
            "preprocessing": trained.preprocessing.to_dict(), "validation": report(held, label_values),
            "dice": {str(value): dice for value, dice in trained.dice.items()}, "epochs": trained.epochs,
            "best_epoch": trained.best_epoch, "stop_reason": trained.stop_reason.value, "split": chosen.to_dict(),
            "modality": modalities[0], "hyperparameters": spec.hyperparameters}


def predict_volume(store_url: str, artifact: tuple[str, str, str], preprocessing: dict[str, Any], label_values: list[int],
                   volume_id: str, output_key: str, attributes: dict[str, Any]) -> float:
    """Run the model stored at `artifact` (bucket, key, format) on a volume, write its label array (uint16, on the
    volume's grid) to the labels bucket at `output_key`; returns the prediction's confidence."""
    from services.training.domain import artifacts, segmentation

    objects = objectstore.connect(store_url)
    volumes = VolumeStore(objects, cache_bytes=0)
    bucket, key, fmt = artifact
    model = artifacts.load(objects.get(bucket, key), fmt)
    image = volumes.read(VOLUMES_BUCKET, volume_id)
    labels, confidence = segmentation.predict(model, image.array, Preprocessing.from_dict(preprocessing),
                                              label_values)
    volumes.write(LABELS_BUCKET, output_key, labels.astype(np.uint16), image.affine, attributes | {"confidence": confidence})
    return confidence


def rank_volume(store_url: str, artifact: tuple[str, str, str], preprocessing: dict[str, Any], volume_id: str) -> float:
    """The model's uncertainty about a volume (domain/ranking.py)."""
    from services.training.domain import artifacts, segmentation

    objects = objectstore.connect(store_url)
    bucket, key, fmt = artifact
    model = artifacts.load(objects.get(bucket, key), fmt)
    image = VolumeStore(objects, cache_bytes=0).read(VOLUMES_BUCKET, volume_id)
    return uncertainty(segmentation.probabilities(model, image.array, Preprocessing.from_dict(preprocessing)))


def check_artifact(data: bytes, fmt: str, preprocessing: dict[str, Any], label_count: int) -> str:
    """Why a registered model does not fit its declared pre-processing and labels; empty when it does."""
    from services.training.domain import artifacts

    try:
        artifacts.check(data, Preprocessing.from_dict(preprocessing), label_count, fmt)
    except ValueError as error:
        return str(error)
    return ""


def _example(volumes: VolumeStore, example: dict[str, Any]):
    """The item's image and labels as a segmentation example, with its patient pseudonym and modality."""
    from services.training.domain import segmentation

    image = volumes.read(VOLUMES_BUCKET, example["volume_id"])
    labels = volumes.read(LABELS_BUCKET, example["labels_key"])
    if labels.array.shape != image.array.shape:
        raise ValueError(f"item {example['item_id']}: its labels {labels.array.shape} are not on its image's grid "
                         f"{image.array.shape}")
    attributes = volumes.info(VOLUMES_BUCKET, example["volume_id"]).attributes
    spacing = tuple(float(s) for s in array_spacing(image.affine))
    return (segmentation.Example(image.array, labels.array.astype(np.uint16), spacing),
            str(attributes.get("patient_pseudonym", "")), str(attributes.get("modality", "")))


def _sides(loaded: dict[str, tuple[Any, str, str]], chosen) -> tuple[list, list]:
    """The training and validation examples of a split (by slice: each item's held-out slices validate)."""
    from services.training.domain import segmentation

    if chosen.how == "patients":
        return [loaded[item][0] for item in chosen.training], [loaded[item][0] for item in chosen.validation]
    training, validation = [], []
    for item in chosen.training:
        example = loaded[item][0]
        held = set(chosen.held_out_slices[item])
        rest = tuple(k for k in range(example.labels.shape[0]) if k not in held)
        training.append(segmentation.Example(example.image, example.labels, example.spacing, rest))
        validation.append(segmentation.Example(example.image, example.labels, example.spacing, tuple(sorted(held))))
    return training, validation


def _checkpoint(objects, key: str) -> bytes | None:
    try:
        return objects.get(MODELS_BUCKET, key)
    except ObjectNotFound:
        return None

