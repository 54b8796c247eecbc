"""What training runs on the compute pool (Ray workers): read a run's examples from the object store, split them, fit,
export the model; check and run a model. Plain functions of picklable arguments, so any worker can run them; torch
and MONAI load in the worker that runs one, never in the serving process that only names them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from services.training.domain.evaluation import Held, report
from services.training.domain.ranking import uncertainty
from services.training.domain.settings import TASKS, Preprocessing, settings_for
from services.training.domain.split import split
from shared import objectstore
from shared.compute import TrainingSession
from shared.grid import PLANES, array_spacing, plane_axis
from shared.objectstore import LABELS_BUCKET, MODELS_BUCKET, VOLUMES_BUCKET, ObjectNotFound
from shared.volume_store import VolumeStore
from shared.volumes import from_nifti_bytes, to_nifti_bytes

ENDPOINT_TIMEOUT_S = 300.0  # an endpoint model's answer for one volume
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


def train(config: dict[str, RunSpec], session: TrainingSession) -> dict[str, Any] | None:
    """Fit a model of the run's kind (config["spec"]) on its examples, reporting each epoch and keeping its checkpoint
    in the object store (a restarted run continues from it). Returns the artifact (and its format), label values,
    pre-processing, the validation report and the split; None when the run was asked to stop."""
    spec = config["spec"]
    objects = objectstore.connect(spec.store_url)
    volumes = VolumeStore(objects, cache_bytes=0)
    loaded = {example["item_id"]: _example(volumes, example) for example in spec.examples}
    # A volume without a modality (a NIfTI upload) goes with the others; two known modalities are refused.
    modalities = sorted({modality for _, _, modality in loaded.values() if modality}) or [""]
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
    settings = settings_for(spec.hyperparameters["kind"], {"modality": modalities[0] or "CT", **spec.hyperparameters})
    objects.ensure_bucket(MODELS_BUCKET)
    resume = _checkpoint(objects, spec.checkpoint_key)
    stopped = False

    def on_epoch(epoch: int, max_epochs: int, loss: float, scores: dict, eta_s: float, seconds: float,
                 checkpoint: bytes) -> bool:
        nonlocal stopped
        if session.rank == 0:
            objects.put(MODELS_BUCKET, spec.checkpoint_key, checkpoint)
        going_on = session.report({"epoch": epoch, "max_epochs": max_epochs, "loss": loss, "metric": METRICS[task],
                                   "scores": {str(label): score for label, score in scores.items()}, "eta_s": eta_s,
                                   "seconds": seconds})
        stopped = not going_on
        return going_on

    task = TASKS[settings.kind]
    found = _FITS[task](training, validation, label_values, settings, on_epoch, resume, session, chosen.how == "slices")
    if stopped:
        return None
    return found | {"label_values": label_values, "split": chosen.to_dict(), "modality": modalities[0],
                    "hyperparameters": spec.hyperparameters, "metric": METRICS[task]}


def _fit_segmentation(training, validation, label_values, settings, on_epoch, resume, session, by_slice: bool) -> dict:
    """A U-Net; its validation report from shared/agreement.py measures; TorchScript."""
    from services.training.domain import artifacts, segmentation

    trained = segmentation.fit(training, validation, label_values, settings, resume=resume,
                               prepare_model=session.prepare_model,
                               on_epoch=lambda r: on_epoch(r.epoch, r.max_epochs, r.loss, r.dice, r.eta_s, r.seconds,
                                                           r.checkpoint))
    network = trained.network()
    held = [Held(segmentation.predict(network, example.image, trained.preprocessing, label_values)[0], example.labels,
                 example.spacing, example.slices if by_slice else None) for example in validation]
    return {"model": artifacts.export(network, trained.preprocessing), "format": "torchscript",
            "preprocessing": trained.preprocessing.to_dict(), "validation": report(held, label_values),
            "scores": {str(value): dice for value, dice in trained.dice.items()}, "epochs": trained.epochs,
            "best_epoch": trained.best_epoch, "stop_reason": trained.stop_reason.value}


def _fit_detection(training, validation, label_values, settings, on_epoch, resume, session, by_slice: bool) -> dict:
    """A detector on each label's boxes (one per connected region and slice, from the label arrays); average precision
    at IoU 0.5 on the held-out data; its state dict."""
    from services.training.domain import detection

    def boxed(example) -> detection.Example:
        return detection.Example(example.image, detection.boxes_from_labels(example.labels, label_values), example.slices)

    trained = detection.fit([boxed(e) for e in training], [boxed(e) for e in validation], label_values, settings,
                            resume=resume, prepare_model=session.prepare_model,
                            on_epoch=lambda r: on_epoch(r.epoch, r.max_epochs, r.loss, r.average_precision, r.eta_s,
                                                        r.seconds, r.checkpoint))
    return {"model": detection.save(trained), "format": "torch_state", "preprocessing": trained.preprocessing.to_dict(),
            "validation": _rows("average_precision", trained.average_precision),
            "scores": {str(value): score for value, score in trained.average_precision.items()},
            "epochs": trained.epochs, "best_epoch": trained.best_epoch, "stop_reason": trained.stop_reason.value}


def _fit_classification(training, validation, label_values, settings, on_epoch, resume, session, by_slice: bool) -> dict:
    """A slice classifier for the tags "which labels this slice holds" (a tag per label value, named by it); AUC and
    accuracy on the held-out data; its state dict."""
    from services.training.domain import classification

    def tagged(example) -> classification.Example:
        slices = example.slices if example.slices is not None else range(example.labels.shape[0])
        return classification.Example(example.image, {k: {str(v) for v in np.unique(example.labels[k]) if v in label_values}
                                                      for k in slices})

    tags = [str(value) for value in label_values]
    trained = classification.fit([tagged(e) for e in training], [tagged(e) for e in validation], tags, settings,
                                 resume=resume, prepare_model=session.prepare_model,
                                 on_epoch=lambda r: on_epoch(r.epoch, r.max_epochs, r.loss, r.auc, r.eta_s, r.seconds,
                                                             r.checkpoint))
    return {"model": classification.save(trained), "format": "torch_state",
            "preprocessing": trained.preprocessing.to_dict(),
            "validation": _rows("auc", trained.auc) + _rows("accuracy", trained.accuracy, mean=False),
            "scores": {tag: score for tag, score in trained.auc.items()}, "epochs": trained.epochs,
            "best_epoch": trained.best_epoch, "stop_reason": trained.stop_reason.value}


_FITS = {"segmentation": _fit_segmentation, "detection": _fit_detection, "classification": _fit_classification}
METRICS = {"segmentation": "dice", "detection": "average_precision", "classification": "auc"}


def _rows(name: str, scores: dict, mean: bool = True) -> list[dict]:
    """Metric rows {name, label_value, value} per label (a tag is named by its label value), and their mean (label 0)."""
    rows = [{"name": name, "label_value": int(label), "value": float(score)} for label, score in sorted(scores.items())]
    finite = [row["value"] for row in rows if np.isfinite(row["value"])]
    return rows + ([{"name": name, "label_value": 0, "value": float(np.mean(finite))}] if mean and finite else [])


def predict_volume(store_url: str, artifact: tuple[str, str, str], kind: str, preprocessing: dict[str, Any],
                   label_values: list[int], volume_id: str, output_key: str, attributes: dict[str, Any]) -> dict[str, Any]:
    """Run the model stored at `artifact` (bucket, key, format) on a volume: a segmentation's label array (uint16, on
    the volume's grid) goes to the labels bucket at `output_key`; a detector's boxes ((k, label, x0, y0, x1, y1,
    score) rows, on the `plane` whose slices are the volume's k) and a classifier's item probability per tag come back.
    Returns those with the confidence."""
    objects = objectstore.connect(store_url)
    volumes = VolumeStore(objects, cache_bytes=0)
    bucket, key, fmt = artifact
    image = volumes.read(VOLUMES_BUCKET, volume_id)
    if fmt == "endpoint":  # `key` is its URL
        labels, confidence = _ask_endpoint(key, image, label_values)
        volumes.write(LABELS_BUCKET, output_key, labels, image.affine, attributes | {"confidence": confidence})
        return {"confidence": confidence, "labels_key": output_key}
    data = objects.get(bucket, key)
    task = TASKS.get(kind, "segmentation")  # registered models segment
    if task == "detection":
        from services.training.domain import detection

        trained = detection.load(data)
        found, confidence = detection.predict(trained.network(), image.array, trained.preprocessing, label_values)
        plane = next(name for name in PLANES if plane_axis(image.affine, name) == 0)  # the slices the boxes are on
        return {"confidence": confidence, "labels_key": "", "plane": plane,
                "boxes": [(k, box.label, box.x0, box.y0, box.x1, box.y1, box.score) for k, boxes in sorted(found.items())
                          for box in boxes]}
    if task == "classification":
        from services.training.domain import classification

        trained = classification.load(data)
        _, items = classification.predict(trained.network(), image.array, trained.preprocessing, trained.tags)
        return {"confidence": classification.confidence(items), "labels_key": "", "tags": items}
    from services.training.domain import artifacts, segmentation

    labels, confidence = segmentation.predict(artifacts.load(data, fmt), image.array,
                                              Preprocessing.from_dict(preprocessing), label_values)
    volumes.write(LABELS_BUCKET, output_key, labels.astype(np.uint16), image.affine, attributes | {"confidence": confidence})
    return {"confidence": confidence, "labels_key": output_key}


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


def check_endpoint(url: str, label_values: list[int]) -> str:
    """Why an endpoint model cannot be used (it fails, or answers other than a label map of the volume it was sent with
    the declared labels); empty when it answers as it should. It is asked to label a small blank CT volume."""
    blank = _Volume(np.full((4, 32, 32), -1000, dtype=np.int16), np.diag([0.8, 0.8, 5.0, 1.0]))
    try:
        _ask_endpoint(url, blank, label_values)
    except ValueError as error:
        return str(error)
    return ""


@dataclass(frozen=True)
class _Volume:
    array: np.ndarray
    affine: np.ndarray

    @property
    def data(self) -> np.ndarray:
        return self.array


def _ask_endpoint(url: str, image, label_values: list[int]) -> tuple[np.ndarray, float]:
    """POST the volume to an endpoint model as NIfTI; its label map (uint16, checked: same grid, declared values) and
    confidence (its X-Radlab-Confidence header; 0, "unknown", without one)."""
    import requests

    try:
        answer = requests.post(url, data=to_nifti_bytes(_Volume(image.array, image.affine)), timeout=ENDPOINT_TIMEOUT_S,
                               headers={"Content-Type": "application/octet-stream",
                                        "X-Radlab-Labels": ",".join(map(str, label_values))})
    except requests.RequestException as error:
        raise ValueError(f"the endpoint {url} did not answer: {error}") from None
    if answer.status_code != 200:
        raise ValueError(f"the endpoint {url} answered HTTP {answer.status_code}: {answer.text[:200]}")
    try:
        labels, affine = from_nifti_bytes(answer.content)
    except ValueError as error:
        raise ValueError(f"the endpoint {url} answered something that is not a NIfTI label map: {error}") from None
    if labels.shape != image.array.shape or not np.allclose(affine, image.affine, atol=1e-3):
        raise ValueError(f"the endpoint {url} answered a label map of shape {labels.shape} on another grid; it must "
                         f"label the volume it is sent, shape {image.array.shape}, keeping its affine")
    unknown = sorted(set(np.unique(labels).astype(int).tolist()) - {0, *label_values})
    if unknown:
        raise ValueError(f"the endpoint {url} answered label values {unknown}, not among those declared {label_values}")
    try:
        confidence = float(answer.headers.get("X-Radlab-Confidence", 0.0))
    except ValueError:
        confidence = 0.0
    return labels.astype(np.uint16), min(max(confidence, 0.0), 1.0)


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

