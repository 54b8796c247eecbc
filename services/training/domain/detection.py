"""Detection training and inference: torchvision detectors trained from scratch to box labels on axial slices.

Volumes are [k, j, i] arrays; a detector sees one k slice at a time. A box is in pixel-edge coordinates of its slice,
x along columns (i) and y along rows (j), half-open: pixel (j, i) covers [i, i + 1) × [j, j + 1), so the box of
a label filling columns 3..5 has x0 = 3 and x1 = 6 (COCO's and torchvision's convention; width = x1 - x0). Label
values (any ints ≥ 1) become classes 1.. in the order of `label_values`; class 0 is torchvision's background.

The model is stored as its state dict with its kind, label values and pre-processing (`save`/`load`), not as
TorchScript: torchvision's detectors script only with their Python post-processing, and a state dict loads into
`untrained(...)` on any torchvision of the same major version.
"""

from __future__ import annotations

import io
import time
from functools import partial
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torchvision.models import resnet18
from torchvision.models.detection import RetinaNet
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.retinanet import RetinaNetHead
from torchvision.ops import box_iou
from torchvision.ops.feature_pyramid_network import LastLevelP6P7

from services.training.domain.loop import cpu_state, eta, model_device, read_saved, rng_fork, torch_threads, unwrapped
from services.training.domain.segmentation import StopReason, prepare
from services.training.domain.settings import DETECTION_KINDS as KINDS
from services.training.domain.settings import DETECTION_ROI as DEFAULT_ROI
from services.training.domain.settings import Preprocessing
from services.training.domain.settings import DetectionSettings as Settings

# RetinaNet only: on two CPU cores a from-scratch Faster R-CNN step (region sampling, RoIAlign, the region head) is
# four to five times slower than a RetinaNet step of the same trunk and pyramid.
# Slices are scaled to fit this [rows, columns] box before the network (keeping their aspect): a 512² CT slice at
# 0.7 mm halved keeps a kidney about 70 pixels across; thick-slice or small scans do with less (tests use 128).
# Anchor sides in pixels of the scaled slice, one per pyramid level: organs on a slice are 10–200 pixels.
ANCHOR_SIDES = ((16,), (32,), (64,), (128,), (256,))
ANCHOR_RATIOS = (0.5, 1.0, 2.0)
# The prepared slice is in [0, 1]; torchvision normalises each of its three (identical) channels with these.
IMAGE_MEAN, IMAGE_STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
PYRAMID_CHANNELS = 64
MATCH_IOU = 0.5
CANDIDATE_SCORE = 0.01  # the lowest score the network reports; `predict` keeps those above its own threshold
MAX_SCALING = 0.15
MAX_SHIFT = 0.1
CHECKPOINT_FORMAT = 1
MODEL_FORMAT = 1

DetectionModel = torch.nn.Module


@dataclass(frozen=True)
class Box:
    """A box of `label` (the label value) on one slice, from (x0, y0) to (x1, y1) in half-open pixel-edge
    coordinates (x: column i, y: row j); `score` is the detector's probability (1 for a drawn box)."""

    label: int
    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 1.0


def boxes_from_labels(labels: np.ndarray, label_values: Sequence[int]) -> dict[int, list[Box]]:
    """Per k slice holding any of `label_values`, one box per connected region (8-connected in the slice) of each
    label, ordered by label then by region; slices without any are left out. A label in several pieces on a slice
    (both lungs' lobes, a bowel loop cut twice) is several objects to a detector, as it is to a reader."""
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise ValueError(f"labels must be a 3D [k, j, i] array; got shape {labels.shape}")
    out: dict[int, list[Box]] = {}
    for k in np.nonzero(np.isin(labels, list(label_values)).any(axis=(1, 2)))[0]:
        found = []
        for value in label_values:
            regions, _ = ndimage.label(labels[k] == value, structure=np.ones((3, 3), dtype=bool))
            for rows, columns in ndimage.find_objects(regions):
                found.append(Box(int(value), columns.start, rows.start, columns.stop, rows.stop))
        out[int(k)] = found
    return out


@dataclass(frozen=True)
class Example:
    """One volume's image [k, j, i], its boxes per k slice, and the k slices whose boxes are trustworthy (None: all
    of them). A trusted slice with no boxes holds none of the labels: the detector learns from it what is not there.
    Boxes of labels a run does not train for are ignored (as segmentation counts their voxels as background)."""

    image: np.ndarray
    boxes: Mapping[int, Sequence[Box]]
    slices: tuple[int, ...] | None = None

    def trusted(self) -> np.ndarray:
        """The k slices whose boxes count, in order."""
        count = self.image.shape[0]
        return np.arange(count) if self.slices is None else np.array(sorted(set(self.slices)), dtype=np.int64)

    def check(self, name: str) -> None:
        """Raise ValueError saying what is wrong with this example (`name` says which one it is)."""
        if self.image.ndim != 3:
            raise ValueError(f"{name}: image {self.image.shape} must be a 3D [k, j, i] array")
        count, rows, columns = self.image.shape
        outside = sorted({int(s) for s in [*self.trusted(), *self.boxes] if not 0 <= s < count})
        if outside:
            raise ValueError(f"{name}: slices {outside} are outside 0..{count - 1}")
        for k, boxes in self.boxes.items():
            for box in boxes:
                if not (0 <= box.x0 < box.x1 <= columns and 0 <= box.y0 < box.y1 <= rows):
                    raise ValueError(f"{name}: box ({box.x0}, {box.y0})–({box.x1}, {box.y1}) on slice {k} is empty "
                                     f"or leaves the {columns}×{rows} slice")


@dataclass(frozen=True)
class EpochReport:
    """One finished epoch (1-based): mean training loss, validation average precision at IoU 0.5 per label value
    (empty without validation), its seconds, the estimated seconds left, and the checkpoint `fit(resume=…)`
    continues from."""

    epoch: int
    max_epochs: int
    loss: float
    average_precision: dict[int, float]
    seconds: float
    eta_s: float
    checkpoint: bytes


@dataclass(frozen=True)
class Trained:
    """A run's result: the best network state (by validation mean average precision; the last without
    validation), its validation average precision per label value, the epochs run and why it stopped."""

    kind: str
    label_values: tuple[int, ...]
    preprocessing: Preprocessing
    state: dict[str, torch.Tensor]
    average_precision: dict[int, float]
    epochs: int
    best_epoch: int
    stop_reason: StopReason

    def network(self) -> DetectionModel:
        """The trained network on CPU, in eval mode."""
        network = untrained(self.kind, len(self.label_values), self.preprocessing.roi)
        network.load_state_dict(self.state)
        return network


def untrained(kind: str, label_count: int, roi: Sequence[int] = DEFAULT_ROI, seed: int = 0) -> DetectionModel:
    """A freshly initialised detector of `kind` for `label_count` labels on slices scaled to fit `roi` (eval mode,
    CPU); seeded, so it is also a reproducible baseline.

    A RetinaNet on a ResNet-18 trunk with ordinary batch norm (torchvision's frozen one is for pretrained weights,
    which no run here has), a narrow feature pyramid (PYRAMID_CHANNELS, not torchvision's 256) and group-normed heads
    (as torchvision's RetinaNet v2): a training step of eight slices takes about a second on two CPU cores."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not a detection model kind; choose one of {', '.join(KINDS)}")
    sizes = {"min_size": min(roi), "max_size": max(roi), "image_mean": list(IMAGE_MEAN), "image_std": list(IMAGE_STD)}
    anchors = AnchorGenerator(ANCHOR_SIDES, (ANCHOR_RATIOS,) * len(ANCHOR_SIDES))
    with rng_fork(seed):
        trunk = resnet18(weights=None, norm_layer=torch.nn.BatchNorm2d)
        # pyramid P3..P7 (strides 8..128), group-normed heads as torchvision's RetinaNet v2
        backbone = BackboneWithFPN(trunk, {f"layer{n}": str(n - 2) for n in (2, 3, 4)}, [128, 256, 512],
                                   PYRAMID_CHANNELS, extra_blocks=LastLevelP6P7(PYRAMID_CHANNELS, PYRAMID_CHANNELS))
        head = RetinaNetHead(PYRAMID_CHANNELS, anchors.num_anchors_per_location()[0], label_count + 1,
                             norm_layer=partial(torch.nn.GroupNorm, 16))
        network = RetinaNet(backbone, num_classes=label_count + 1, anchor_generator=anchors, head=head,
                            score_thresh=CANDIDATE_SCORE, detections_per_img=100, **sizes)
    return network.eval()


def _as_input(prepared: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A prepared [j, i] slice as the 3-channel image torchvision's backbones take."""
    return torch.as_tensor(prepared, dtype=torch.float32)[None].expand(3, -1, -1)


def detections(model: DetectionModel, image: np.ndarray, preprocessing: Preprocessing,
               label_values: Sequence[int], slices: Sequence[int] | None = None) -> dict[int, list[Box]]:
    """Every candidate box the model reports (score ≥ CANDIDATE_SCORE) per k slice (all of them, or `slices`),
    with the original label values, most confident first."""
    prepared = prepare(image, preprocessing)
    chosen = range(image.shape[0]) if slices is None else [int(s) for s in slices]
    values = np.asarray([0, *label_values])
    device = model_device(model)
    out: dict[int, list[Box]] = {}
    with torch.no_grad():
        for start in range(0, len(chosen), 16):
            batch = list(chosen[start:start + 16])
            found = model([_as_input(prepared[k]).to(device) for k in batch])
            for k, result in zip(batch, found):
                corners = result["boxes"].cpu().numpy().astype(float)
                scores, classes = result["scores"].cpu().numpy(), result["labels"].cpu().numpy()
                order = np.argsort(-scores, kind="stable")
                out[k] = [Box(int(values[classes[n]]), *corners[n].tolist(), score=float(scores[n])) for n in order]
    return out


def confidence(candidates: Mapping[int, Sequence[Box]], score_threshold: float) -> float:
    """How sure a prediction is, in 0..1: the mean score of the boxes kept (score ≥ `score_threshold`); with none
    kept, one minus the best candidate's score (how sure the scan holds none of the labels; 1 with no candidates)."""
    scores = [box.score for boxes in candidates.values() for box in boxes]
    kept = [score for score in scores if score >= score_threshold]
    if kept:
        return float(np.mean(kept))
    return 1.0 - max(scores, default=0.0)


def predict(model: DetectionModel, image: np.ndarray, preprocessing: Preprocessing, label_values: Sequence[int],
            score_threshold: float = 0.5) -> tuple[dict[int, list[Box]], float]:
    """Boxes (score ≥ `score_threshold`, original label values, most confident first) per k slice that has any, and
    the confidence (see `confidence`) of `model` — a detector from `untrained`/`Trained.network`/`load` — on
    `image`."""
    model.eval()
    candidates = detections(model, image, preprocessing, label_values)
    kept = {k: [b for b in boxes if b.score >= score_threshold] for k, boxes in candidates.items()}
    return {k: boxes for k, boxes in kept.items() if boxes}, confidence(candidates, score_threshold)


def average_precision(found: Mapping[int, Sequence[Box]], truth: Mapping[int, Sequence[Box]],
                      label_values: Sequence[int], min_iou: float = MATCH_IOU) -> dict[int, float]:
    """Average precision per label value of scored boxes `found` against `truth`, both per slice key (PASCAL VOC
    2010+: boxes most confident first, each matched to the unmatched true box of its label on its slice that it
    overlaps most if IoU ≥ `min_iou`; the area under the precision–recall curve with precision made
    non-increasing). A label with no true box scores 1 when nothing is found of it, else 0 (as shared.agreement
    treats empty masks)."""
    out = {}
    for value in label_values:
        truths = {k: np.array([[b.x0, b.y0, b.x1, b.y1] for b in boxes if b.label == value], dtype=float).reshape(-1, 4)
                  for k, boxes in truth.items()}
        total = sum(len(t) for t in truths.values())
        ranked = sorted(((b.score, k, (b.x0, b.y0, b.x1, b.y1)) for k, boxes in found.items() for b in boxes
                         if b.label == value), key=lambda row: -row[0])
        if total == 0:
            out[int(value)] = 0.0 if ranked else 1.0
            continue
        taken = {k: np.zeros(len(t), dtype=bool) for k, t in truths.items()}
        hits = np.zeros(len(ranked), dtype=bool)
        for n, (_, k, corners) in enumerate(ranked):
            if k not in truths or not len(truths[k]):
                continue
            overlaps = box_iou(torch.tensor([corners], dtype=torch.float64),
                               torch.from_numpy(truths[k])).numpy()[0]
            overlaps[taken[k]] = -1.0
            best = int(overlaps.argmax())
            if overlaps[best] >= min_iou:
                taken[k][best], hits[n] = True, True
        out[int(value)] = _area_under(hits, total)
    return out


def _area_under(hits: np.ndarray, total: int) -> float:
    """All-point interpolated average precision of ranked hit/miss flags with `total` true boxes."""
    if not len(hits):
        return 0.0
    true_positives = np.cumsum(hits)
    recall = np.concatenate([[0.0], true_positives / total])
    precision = np.concatenate([[1.0], true_positives / np.arange(1, len(hits) + 1)])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(recall) * precision[1:]))


def validation_average_precision(model: DetectionModel, validation: Sequence[Example],
                                 preprocessing: Preprocessing, label_values: Sequence[int]) -> dict[int, float]:
    """Average precision at IoU 0.5 per label value over the trusted slices of every validation example, pooled."""
    found, truth = {}, {}
    for n, example in enumerate(validation):
        trusted = example.trusted()
        for k, boxes in detections(model, example.image, preprocessing, label_values, trusted).items():
            found[(n, k)] = boxes
        for k in trusted:
            truth[(n, int(k))] = list(example.boxes.get(int(k), ()))
    return average_precision(found, truth, label_values)


class Slices:
    """The prepared trusted slices of the training examples with their boxes as torchvision targets (classes 1..)."""

    def __init__(self, examples: Sequence[Example], preprocessing: Preprocessing, values: tuple[int, ...]):
        self.images, self.targets = [], []
        for example in examples:
            prepared = prepare(example.image, preprocessing)
            for k in example.trusted():
                boxes = [box for box in example.boxes.get(int(k), ()) if box.label in values]
                self.images.append(torch.from_numpy(np.ascontiguousarray(prepared[k])))
                self.targets.append({
                    "boxes": torch.tensor([[b.x0, b.y0, b.x1, b.y1] for b in boxes], dtype=torch.float32
                                          ).reshape(-1, 4),
                    "labels": torch.tensor([values.index(b.label) + 1 for b in boxes], dtype=torch.int64)})

    def draw(self, count: int, rng: np.random.Generator, augmented: bool) -> tuple[list[torch.Tensor], list[dict]]:
        """`count` slices drawn at random (with replacement), as 3-channel images and targets."""
        images, targets = [], []
        for n in rng.integers(len(self.images), size=count):
            image, target = self.images[n], self.targets[n]
            if augmented:
                image, target = augment(image, target, rng)
            images.append(_as_input(image))
            targets.append(target)
        return images, targets


def augment(image: torch.Tensor, target: dict, rng: np.random.Generator) -> tuple[torch.Tensor, dict]:
    """A slice scaled (±15 %) about its centre and shifted (±10 % of its sides), its intensities scaled (±10 %) and
    shifted (±0.1), its boxes moved alike and clipped to the slice (those left thinner than a pixel dropped). No
    flips or rotations: left and right are anatomy, and a rotated box is no longer the label's box."""
    rows, columns = image.shape
    scale = float(rng.uniform(1 - MAX_SCALING, 1 + MAX_SCALING))
    shift = rng.uniform(-MAX_SHIFT, MAX_SHIFT, 2) * 2  # in normalised units, whose span is 2
    theta = torch.tensor([[[1 / scale, 0.0, shift[0]], [0.0, 1 / scale, shift[1]]]], dtype=torch.float32)
    grid = F.affine_grid(theta, [1, 1, rows, columns], align_corners=False)
    moved = F.grid_sample(image[None, None], grid, mode="bilinear", align_corners=False)[0, 0]
    moved = moved * float(rng.uniform(0.9, 1.1)) + float(rng.uniform(-0.1, 0.1))
    boxes = target["boxes"].clone()
    sides = torch.tensor([columns, rows, columns, rows], dtype=torch.float32)
    normalised = boxes / sides * 2 - 1  # grid = theta · output, so output = (input - shift) · scale
    offsets = torch.tensor([shift[0], shift[1], shift[0], shift[1]], dtype=torch.float32)
    boxes = ((normalised - offsets) * scale + 1) / 2 * sides
    boxes = torch.minimum(torch.clamp(boxes, min=0), sides)
    keep = ((boxes[:, 2] - boxes[:, 0]) >= 1) & ((boxes[:, 3] - boxes[:, 1]) >= 1)
    return moved, {"boxes": boxes[keep], "labels": target["labels"][keep]}


@dataclass
class _Progress:
    """What a checkpoint carries between epochs besides the network and optimizer."""

    epoch: int = 0
    best_state: dict | None = None
    best_mean: float = -1.0
    best_scores: dict | None = None
    best_epoch: int = 0
    stale: int = 0


def fit(train: list[Example], validation: list[Example], label_values: list[int], settings: Settings, *,
        on_epoch: Callable[[EpochReport], bool | None] | None = None, resume: bytes | None = None,
        prepare_model: Callable[[torch.nn.Module], torch.nn.Module] = lambda m: m) -> Trained:
    """Train a `settings.kind` detector from scratch on `train`'s trusted slices for `label_values`.

    As segmentation.fit: after each epoch `on_epoch` gets an EpochReport, and returning False cancels the run;
    `resume` takes a report's checkpoint and continues at the next epoch; `prepare_model` wraps the network (Ray
    Train's prepare_model); without validation examples the best network is the last and early stopping is off;
    `settings.threads` torch threads for the run's duration when set.
    """
    values = _check(train, validation, label_values)
    preprocessing = settings.preprocessing
    with torch_threads(settings.threads):
        slices = Slices(train, preprocessing, values)
        network = untrained(settings.kind, len(values), preprocessing.roi, settings.seed)
        rng, progress, saved = np.random.default_rng(settings.seed), _Progress(), None
        if resume is not None:
            saved = _load_checkpoint(resume, settings, values)
            network.load_state_dict(saved["model"])
            rng.bit_generator.state, progress = saved["rng"], _Progress(**saved["progress"])
        model = prepare_model(network.train())
        optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
        if saved is not None:
            optimizer.load_state_dict(saved["optimizer"])
        return _epochs(model, optimizer, slices, validation, values, settings, progress, rng, on_epoch)


def _epochs(model: torch.nn.Module, optimizer: torch.optim.Optimizer, slices: Slices, validation: list[Example],
            values: tuple[int, ...], settings: Settings, progress: _Progress, rng: np.random.Generator,
            on_epoch: Callable[[EpochReport], bool | None] | None) -> Trained:
    device = model_device(model)
    started, first, reason = time.perf_counter(), progress.epoch + 1, StopReason.MAX_EPOCHS
    for epoch in range(first, settings.max_epochs + 1):
        epoch_started = time.perf_counter()
        for group in optimizer.param_groups:  # the same polynomial decay as segmentation's runs
            group["lr"] = settings.learning_rate * (1 - (epoch - 1) / settings.max_epochs) ** 0.9
        losses = []
        for _ in range(settings.steps_per_epoch):
            images, targets = slices.draw(settings.batch_size, rng, settings.augment)
            images = [image.to(device) for image in images]
            targets = [{key: value.to(device) for key, value in target.items()} for target in targets]
            optimizer.zero_grad(set_to_none=True)
            loss = sum(model(images, targets).values())
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        scores = validation_average_precision(model.eval(), validation, settings.preprocessing, values) \
            if validation else {}
        model.train()
        _keep_best(progress, unwrapped(model), scores, epoch)
        seconds = time.perf_counter() - epoch_started
        elapsed = time.perf_counter() - started
        per_epoch = elapsed / (epoch - first + 1)
        if on_epoch is not None:
            report = EpochReport(epoch, settings.max_epochs, float(np.mean(losses)), scores, seconds,
                                 eta(settings, epoch, per_epoch, elapsed),
                                 _checkpoint(model, optimizer, progress, rng, settings, values))
            if on_epoch(report) is False:
                reason = StopReason.CANCELLED
                break
        if validation and settings.patience and progress.stale >= settings.patience:
            reason = StopReason.NO_IMPROVEMENT
            break
        if settings.time_budget_s and epoch < settings.max_epochs and elapsed + per_epoch > settings.time_budget_s:
            reason = StopReason.TIME_BUDGET
            break
    return Trained(kind=settings.kind, label_values=values, preprocessing=settings.preprocessing,
                   state=progress.best_state or cpu_state(unwrapped(model)),
                   average_precision=progress.best_scores or {}, epochs=progress.epoch,
                   best_epoch=progress.best_epoch, stop_reason=reason)


def _keep_best(progress: _Progress, network: torch.nn.Module, scores: dict[int, float], epoch: int) -> None:
    """Record the epoch; keep the network's state when its validation mean average precision is the best so far
    (without validation, always: the last network is the result)."""
    progress.epoch = epoch
    mean = float(np.mean(list(scores.values()))) if scores else 0.0
    if not scores or mean > progress.best_mean:
        progress.best_state, progress.best_mean, progress.best_scores = cpu_state(network), mean, dict(scores)
        progress.best_epoch, progress.stale = epoch, 0
    else:
        progress.stale += 1


def _checkpoint(model: torch.nn.Module, optimizer: torch.optim.Optimizer, progress: _Progress,
                rng: np.random.Generator, settings: Settings, values: tuple[int, ...]) -> bytes:
    """Everything `fit(resume=…)` needs, as bytes: network, optimizer, progress and the random generator's state."""
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, "kind": settings.kind, "label_values": list(values),
                "roi": list(settings.roi), "model": cpu_state(unwrapped(model)),
                "optimizer": optimizer.state_dict(), "progress": vars(progress), "rng": rng.bit_generator.state},
               buffer)
    return buffer.getvalue()


def _load_checkpoint(data: bytes, settings: Settings, values: tuple[int, ...]) -> dict:
    saved = read_saved(data, "the checkpoint to resume from", "start the run afresh")
    if saved.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"the checkpoint is in format {saved.get('format')}; this version resumes format "
                         f"{CHECKPOINT_FORMAT} only; start the run afresh")
    if saved["kind"] != settings.kind or tuple(saved["label_values"]) != values or \
            tuple(saved["roi"]) != tuple(settings.roi):
        raise ValueError(f"the checkpoint is of a {saved['kind']} model for labels {saved['label_values']} on roi "
                         f"{tuple(saved['roi'])}; this run trains a {settings.kind} model for labels {list(values)} "
                         f"on roi {tuple(settings.roi)}; resume with the same ones")
    return saved


def save(trained: Trained) -> bytes:
    """The trained detector as bytes for the model registry: its state dict with its kind, label values,
    pre-processing and validation figures (torch.save of plain tensors and values, read back by `load`)."""
    buffer = io.BytesIO()
    torch.save({"format": MODEL_FORMAT, "kind": trained.kind, "label_values": list(trained.label_values),
                "preprocessing": trained.preprocessing.to_dict(), "state": trained.state,
                "average_precision": {str(k): v for k, v in trained.average_precision.items()},
                "epochs": trained.epochs, "best_epoch": trained.best_epoch,
                "stop_reason": trained.stop_reason.value}, buffer)
    return buffer.getvalue()


def load(data: bytes) -> Trained:
    """A detector saved by `save`; `.network()` gives the model `predict` runs, with its `.preprocessing` and
    `.label_values`. Bytes that are not such a model raise ValueError."""
    saved = read_saved(data, "the detection model", "register a model saved by this version")
    if saved.get("format") != MODEL_FORMAT:
        raise ValueError(f"the detection model is in format {saved.get('format')}; this version reads format "
                         f"{MODEL_FORMAT}")
    trained = Trained(kind=saved["kind"], label_values=tuple(int(v) for v in saved["label_values"]),
                      preprocessing=Preprocessing.from_dict(saved["preprocessing"]), state=saved["state"],
                      average_precision={int(k): float(v) for k, v in saved["average_precision"].items()},
                      epochs=int(saved["epochs"]), best_epoch=int(saved["best_epoch"]),
                      stop_reason=StopReason(saved["stop_reason"]))
    try:
        trained.network()
    except (RuntimeError, ValueError) as error:
        raise ValueError(f"the detection model's weights do not fit a {trained.kind} network: {error}") from None
    return trained


def _check(train: list[Example], validation: list[Example], label_values: list[int]) -> tuple[int, ...]:
    """The label values as a tuple, once the run's inputs are known to be usable; ValueError says what is not."""
    if not train:
        raise ValueError("training needs at least one example with boxes")
    values = tuple(int(v) for v in label_values)
    if not values or len(set(values)) != len(values) or min(values) < 1:
        raise ValueError(f"label values {list(label_values)} must be distinct values ≥ 1 (0 is the background)")
    for name, examples in (("training", train), ("validation", validation)):
        for n, example in enumerate(examples):
            example.check(f"{name} example {n}")
    if not any(box.label in values for example in train for k in example.trusted()
               for box in example.boxes.get(int(k), ())):
        raise ValueError(f"no trusted slice of the training examples has a box of the labels {list(values)}")
    return values


def mean_box(examples: Sequence[Example], label: int) -> Box | None:
    """The mean of `label`'s boxes over the examples' trusted slices (None without any): the fixed-box baseline a
    detector has to beat, placed on every slice."""
    corners = [(b.x0, b.y0, b.x1, b.y1) for e in examples for k in e.trusted() for b in e.boxes.get(int(k), ())
               if b.label == label]
    return Box(label, *np.mean(corners, axis=0).tolist()) if corners else None

