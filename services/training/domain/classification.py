"""Classification training and inference: a small MONAI DenseNet trained from scratch to tag axial slices and items.

Volumes are [k, j, i] arrays. "monai.densenet2d" sees one k slice at a time, scaled (stretched) to the `roi`, and
gives an independent probability per tag (multi-label, sigmoid). An item's probability of a tag is the highest of its
slices' (an item holds a tag when some slice does: "contains a kidney", "shows a fracture"); a tag that holds for the
item as a whole (say "contrast-enhanced") holds on every slice and comes out the same.

Examples teach per slice. A slice with slice tags is known for every tag: it holds those and lacks the others. An
item's own tags say what its slices lack (a tag the item lacks is on none of them); what they hold is known only for
single-slice items (radiographs). Multi-slice items tagged only as a whole give no positive slices (no multiple-
instance training here): tag some of their slices.

The model is stored as its state dict with its kind, tags and pre-processing (`save`/`load`), as detection's is.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from monai.networks.nets import DenseNet
from scipy.stats import rankdata

from services.training.domain.loop import cpu_state, eta, model_device, read_saved, rng_fork, torch_threads, unwrapped
from services.training.domain.segmentation import StopReason, augment, prepare
from services.training.domain.settings import CLASSIFICATION_KINDS as KINDS
from services.training.domain.settings import Preprocessing
from services.training.domain.settings import ClassificationSettings as Settings

# A DenseNet small enough to train on CPUs in minutes (DenseNet-121 has 64 initial features, growth 32, blocks
# 6-12-24-16): about 36 k parameters.
ARCHITECTURE = {"init_features": 16, "growth_rate": 8, "block_config": (2, 4, 6, 4), "bn_size": 2}
THRESHOLD = 0.5
CHECKPOINT_FORMAT = 1
MODEL_FORMAT = 1


@dataclass(frozen=True)
class Example:
    """One volume's image [k, j, i] with its tags: `slice_tags` maps k slices to the tags each holds (a slice listed
    lacks every tag not in its set; slices not listed are unknown), `item_tags` the tags of the whole item (None:
    not given)."""

    image: np.ndarray
    slice_tags: Mapping[int, Collection[str]] | None = None
    item_tags: Collection[str] | None = None

    def targets(self, tags: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """What is known of each slice: targets and known, both [k, tags] (float32 0/1, bool), as the module's
        docstring says."""
        count = self.image.shape[0]
        target = np.zeros((count, len(tags)), dtype=np.float32)
        known = np.zeros((count, len(tags)), dtype=bool)
        if self.item_tags is not None:
            lacking = np.array([tag not in self.item_tags for tag in tags])
            known[:, lacking] = True
            if count == 1:
                known[0] = True
                target[0] = [tag in self.item_tags for tag in tags]
        for k, held in (self.slice_tags or {}).items():
            known[k] = True
            target[k] = [tag in held for tag in tags]
        return target, known

    def check(self, name: str, tags: Sequence[str]) -> None:
        """Raise ValueError saying what is wrong with this example (`name` says which one it is)."""
        if self.image.ndim != 3:
            raise ValueError(f"{name}: image {self.image.shape} must be a 3D [k, j, i] array")
        count = self.image.shape[0]
        outside = sorted(int(k) for k in (self.slice_tags or {}) if not 0 <= k < count)
        if outside:
            raise ValueError(f"{name}: slices {outside} are outside 0..{count - 1}")
        unknown = sorted(({t for held in (self.slice_tags or {}).values() for t in held} |
                          set(self.item_tags or ())) - set(tags))
        if unknown:
            raise ValueError(f"{name}: tags {unknown} are not among the run's tags {list(tags)}")
        if self.item_tags is not None:
            beyond = sorted({t for held in (self.slice_tags or {}).values() for t in held} - set(self.item_tags))
            if beyond:
                raise ValueError(f"{name}: slices are tagged {beyond} but the item is not; tag the item too or "
                                 "untag the slices")


@dataclass(frozen=True)
class EpochReport:
    """One finished epoch (1-based): mean training loss, validation AUC and accuracy at 0.5 per tag (empty without
    validation; AUC NaN for a tag whose validation slices are all of one kind), its seconds, the estimated seconds
    left, and the checkpoint `fit(resume=…)` continues from."""

    epoch: int
    max_epochs: int
    loss: float
    auc: dict[str, float]
    accuracy: dict[str, float]
    seconds: float
    eta_s: float
    checkpoint: bytes


@dataclass(frozen=True)
class Trained:
    """A run's result: the best network state (by validation mean AUC; the last without validation), its
    validation AUC and accuracy per tag, the epochs run and why it stopped."""

    kind: str
    tags: tuple[str, ...]
    preprocessing: Preprocessing
    state: dict[str, torch.Tensor]
    auc: dict[str, float]
    accuracy: dict[str, float]
    epochs: int
    best_epoch: int
    stop_reason: StopReason

    def network(self) -> torch.nn.Module:
        """The trained network on CPU, in eval mode."""
        network = untrained(self.kind, len(self.tags))
        network.load_state_dict(self.state)
        return network


def untrained(kind: str, tag_count: int, seed: int = 0) -> torch.nn.Module:
    """A freshly initialised network of `kind` giving one logit per tag for a [n, 1, *roi] batch (eval mode, CPU);
    seeded, so it is also a reproducible baseline."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not a classification model kind; choose one of {', '.join(KINDS)}")
    with rng_fork(seed):
        network = DenseNet(spatial_dims=2, in_channels=1, out_channels=tag_count, **ARCHITECTURE)
    return network.eval()


def slices_of(image: np.ndarray, preprocessing: Preprocessing) -> torch.Tensor:
    """The network's input for every k slice of `image`: prepared intensities scaled to the roi, [k, 1, *roi]."""
    prepared = torch.from_numpy(prepare(image, preprocessing))[:, None]
    return F.interpolate(prepared, size=tuple(preprocessing.roi), mode="bilinear", align_corners=False)


def probabilities(model: torch.nn.Module, image: np.ndarray, preprocessing: Preprocessing) -> np.ndarray:
    """Each k slice's probability of each tag, [k, tags] float32."""
    batch = slices_of(image, preprocessing)
    device = model_device(model)
    with torch.no_grad():
        logits = torch.cat([model(batch[start:start + 32].to(device)) for start in range(0, len(batch), 32)])
    return torch.sigmoid(logits.float()).cpu().numpy()


def predict(model: torch.nn.Module, image: np.ndarray, preprocessing: Preprocessing, tags: Sequence[str]
            ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Per tag, the probability of each k slice (float32 [k]) and of the item (the highest slice's), of `model` — a
    network from `untrained`/`Trained.network`/`load` — on `image`."""
    model.eval()
    found = probabilities(model, image, preprocessing)
    if found.shape[1] != len(tags):
        raise ValueError(f"the model gives {found.shape[1]} tag probabilities but {len(tags)} tags were asked for")
    return ({tag: found[:, n] for n, tag in enumerate(tags)},
            {tag: float(found[:, n].max()) for n, tag in enumerate(tags)})


def confidence(item_probabilities: Mapping[str, float]) -> float:
    """How sure an item's tagging is, in 0..1: the mean over tags of the probability of the side chosen at 0.5
    (max(p, 1 - p)); 1 with no tags."""
    return float(np.mean([max(p, 1 - p) for p in item_probabilities.values()])) if item_probabilities else 1.0


def auc(scores: np.ndarray, truth: np.ndarray) -> float:
    """Area under the ROC curve of `scores` for boolean `truth` (Mann–Whitney U with tied scores counted half);
    NaN when `truth` is all of one kind."""
    scores, truth = np.asarray(scores, dtype=float), np.asarray(truth, dtype=bool)
    positives, negatives = int(truth.sum()), int((~truth).sum())
    if not positives or not negatives:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[truth].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def validation_scores(model: torch.nn.Module, validation: Sequence[Example], preprocessing: Preprocessing,
                      tags: Sequence[str]) -> tuple[dict[str, float], dict[str, float]]:
    """AUC and accuracy at 0.5 per tag over the known slices of every validation example, pooled."""
    found, target, known = [], [], []
    for example in validation:
        t, k = example.targets(tags)
        rows = k.any(axis=1)
        if rows.any():
            found.append(probabilities(model, example.image[rows], preprocessing))
            target.append(t[rows])
            known.append(k[rows])
    if not found:
        return {}, {}
    found_all, target_all, known_all = np.concatenate(found), np.concatenate(target) > 0.5, np.concatenate(known)
    aucs, accuracies = {}, {}
    for n, tag in enumerate(tags):
        rows = known_all[:, n]
        if rows.any():
            aucs[tag] = auc(found_all[rows, n], target_all[rows, n])
            accuracies[tag] = float(np.mean((found_all[rows, n] >= THRESHOLD) == target_all[rows, n]))
    return aucs, accuracies


class Slices:
    """The training examples' slices with anything known, scaled to the roi, with their targets and known masks."""

    def __init__(self, examples: Sequence[Example], preprocessing: Preprocessing, tags: Sequence[str]):
        images, targets, known = [], [], []
        for example in examples:
            t, k = example.targets(tags)
            rows = k.any(axis=1)
            if rows.any():
                images.append(slices_of(example.image[rows], preprocessing))
                targets.append(torch.from_numpy(t[rows]))
                known.append(torch.from_numpy(k[rows]))
        self.images, self.targets, self.known = torch.cat(images), torch.cat(targets), torch.cat(known)

    def draw(self, count: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`count` slices drawn at random (with replacement): images [count, 1, *roi], targets and known masks."""
        chosen = torch.from_numpy(rng.integers(len(self.images), size=count))
        return self.images[chosen], self.targets[chosen], self.known[chosen]


@dataclass
class _Progress:
    """What a checkpoint carries between epochs besides the network and optimizer."""

    epoch: int = 0
    best_state: dict | None = None
    best_mean: float = -1.0
    best_auc: dict | None = None
    best_accuracy: dict | None = None
    best_epoch: int = 0
    stale: int = 0


def fit(train: list[Example], validation: list[Example], tags: list[str], settings: Settings, *,
        on_epoch: Callable[[EpochReport], bool | None] | None = None, resume: bytes | None = None,
        prepare_model: Callable[[torch.nn.Module], torch.nn.Module] = lambda m: m) -> Trained:
    """Train a `settings.kind` network from scratch on what `train` says of its slices, for `tags`.

    As segmentation.fit: after each epoch `on_epoch` gets an EpochReport, and returning False cancels the run;
    `resume` takes a report's checkpoint and continues at the next epoch; `prepare_model` wraps the network (Ray
    Train's prepare_model); without validation examples the best network is the last and early stopping is off;
    `settings.threads` torch threads for the run's duration when set.
    """
    names = _check(train, validation, tags)
    preprocessing = settings.preprocessing
    with torch_threads(settings.threads):
        slices = Slices(train, preprocessing, names)
        network = untrained(settings.kind, len(names), settings.seed)
        rng, progress, saved = np.random.default_rng(settings.seed), _Progress(), None
        if resume is not None:
            saved = _load_checkpoint(resume, settings, names)
            network.load_state_dict(saved["model"])
            rng.bit_generator.state, progress = saved["rng"], _Progress(**saved["progress"])
        model = prepare_model(network.train())
        optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
        if saved is not None:
            optimizer.load_state_dict(saved["optimizer"])
        return _epochs(model, optimizer, slices, validation, names, settings, progress, rng, on_epoch)


def _epochs(model: torch.nn.Module, optimizer: torch.optim.Optimizer, slices: Slices, validation: list[Example],
            names: tuple[str, ...], settings: Settings, progress: _Progress, rng: np.random.Generator,
            on_epoch: Callable[[EpochReport], bool | None] | None) -> Trained:
    device = model_device(model)
    started, first, reason = time.perf_counter(), progress.epoch + 1, StopReason.MAX_EPOCHS
    for epoch in range(first, settings.max_epochs + 1):
        epoch_started = time.perf_counter()
        for group in optimizer.param_groups:  # the same polynomial decay as segmentation's runs
            group["lr"] = settings.learning_rate * (1 - (epoch - 1) / settings.max_epochs) ** 0.9
        losses = []
        for _ in range(settings.steps_per_epoch):
            images, targets, known = slices.draw(settings.batch_size, rng)
            if settings.augment:
                images, _ = augment(images, torch.zeros(images.shape, dtype=torch.long), rng)
            images, targets, known = images.to(device), targets.to(device), known.to(device).float()
            optimizer.zero_grad(set_to_none=True)
            each = F.binary_cross_entropy_with_logits(model(images), targets, reduction="none")
            loss = (each * known).sum() / known.sum().clamp(min=1.0)  # what is unknown of a slice teaches nothing
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        aucs, accuracies = validation_scores(model.eval(), validation, settings.preprocessing, names) \
            if validation else ({}, {})
        model.train()
        _keep_best(progress, unwrapped(model), aucs, accuracies, epoch)
        seconds = time.perf_counter() - epoch_started
        elapsed = time.perf_counter() - started
        per_epoch = elapsed / (epoch - first + 1)
        if on_epoch is not None:
            report = EpochReport(epoch, settings.max_epochs, float(np.mean(losses)), aucs, accuracies, seconds,
                                 eta(settings, epoch, per_epoch, elapsed),
                                 _checkpoint(model, optimizer, progress, rng, settings, names))
            if on_epoch(report) is False:
                reason = StopReason.CANCELLED
                break
        if validation and settings.patience and progress.stale >= settings.patience:
            reason = StopReason.NO_IMPROVEMENT
            break
        if settings.time_budget_s and epoch < settings.max_epochs and elapsed + per_epoch > settings.time_budget_s:
            reason = StopReason.TIME_BUDGET
            break
    return Trained(kind=settings.kind, tags=names, preprocessing=settings.preprocessing,
                   state=progress.best_state or cpu_state(unwrapped(model)), auc=progress.best_auc or {},
                   accuracy=progress.best_accuracy or {}, epochs=progress.epoch, best_epoch=progress.best_epoch,
                   stop_reason=reason)


def _keep_best(progress: _Progress, network: torch.nn.Module, aucs: dict[str, float], accuracies: dict[str, float],
               epoch: int) -> None:
    """Record the epoch; keep the network's state when its validation mean AUC (over tags that have one; else mean
    accuracy) is the best so far (without validation, always: the last network is the result)."""
    progress.epoch = epoch
    defined = [value for value in aucs.values() if not np.isnan(value)]
    mean = float(np.mean(defined)) if defined else float(np.mean(list(accuracies.values()))) if accuracies else 0.0
    if not accuracies or mean > progress.best_mean:
        progress.best_state, progress.best_mean = cpu_state(network), mean
        progress.best_auc, progress.best_accuracy = dict(aucs), dict(accuracies)
        progress.best_epoch, progress.stale = epoch, 0
    else:
        progress.stale += 1


def _checkpoint(model: torch.nn.Module, optimizer: torch.optim.Optimizer, progress: _Progress,
                rng: np.random.Generator, settings: Settings, names: tuple[str, ...]) -> bytes:
    """Everything `fit(resume=…)` needs, as bytes: network, optimizer, progress and the random generator's state."""
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, "kind": settings.kind, "tags": list(names),
                "model": cpu_state(unwrapped(model)), "optimizer": optimizer.state_dict(),
                "progress": vars(progress), "rng": rng.bit_generator.state}, buffer)
    return buffer.getvalue()


def _load_checkpoint(data: bytes, settings: Settings, names: tuple[str, ...]) -> dict:
    saved = read_saved(data, "the checkpoint to resume from", "start the run afresh")
    if saved.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"the checkpoint is in format {saved.get('format')}; this version resumes format "
                         f"{CHECKPOINT_FORMAT} only; start the run afresh")
    if saved["kind"] != settings.kind or tuple(saved["tags"]) != names:
        raise ValueError(f"the checkpoint is of a {saved['kind']} model for tags {saved['tags']}; this run trains a "
                         f"{settings.kind} model for tags {list(names)}; resume with the same ones")
    return saved


def save(trained: Trained) -> bytes:
    """The trained classifier as bytes for the model registry: its state dict with its kind, tags, pre-processing
    and validation figures (torch.save of plain tensors and values, read back by `load`)."""
    buffer = io.BytesIO()
    torch.save({"format": MODEL_FORMAT, "kind": trained.kind, "tags": list(trained.tags),
                "preprocessing": trained.preprocessing.to_dict(), "state": trained.state, "auc": dict(trained.auc),
                "accuracy": dict(trained.accuracy), "epochs": trained.epochs, "best_epoch": trained.best_epoch,
                "stop_reason": trained.stop_reason.value}, buffer)
    return buffer.getvalue()


def load(data: bytes) -> Trained:
    """A classifier saved by `save`; `.network()` gives the model `predict` runs, with its `.preprocessing` and
    `.tags`. Bytes that are not such a model raise ValueError."""
    saved = read_saved(data, "the classification model", "register a model saved by this version")
    if saved.get("format") != MODEL_FORMAT:
        raise ValueError(f"the classification model is in format {saved.get('format')}; this version reads format "
                         f"{MODEL_FORMAT}")
    trained = Trained(kind=saved["kind"], tags=tuple(saved["tags"]),
                      preprocessing=Preprocessing.from_dict(saved["preprocessing"]), state=saved["state"],
                      auc={str(k): float(v) for k, v in saved["auc"].items()},
                      accuracy={str(k): float(v) for k, v in saved["accuracy"].items()},
                      epochs=int(saved["epochs"]), best_epoch=int(saved["best_epoch"]),
                      stop_reason=StopReason(saved["stop_reason"]))
    try:
        trained.network()
    except (RuntimeError, ValueError) as error:
        raise ValueError(f"the classification model's weights do not fit a {trained.kind} network: {error}") from None
    return trained


def _check(train: list[Example], validation: list[Example], tags: list[str]) -> tuple[str, ...]:
    """The tags as a tuple, once the run's inputs are known to be usable; ValueError says what is not."""
    if not train:
        raise ValueError("training needs at least one tagged example")
    names = tuple(str(t) for t in tags)
    if not names or len(set(names)) != len(names) or not all(names):
        raise ValueError(f"tags {list(tags)} must be distinct, non-empty names")
    for name, examples in (("training", train), ("validation", validation)):
        for n, example in enumerate(examples):
            example.check(f"{name} example {n}", names)
    known = [example.targets(names) for example in train]
    if not any(k.any() for _, k in known):
        raise ValueError("no slice of the training examples is known to hold or lack any tag: tag some slices")
    held = sorted({names[n] for t, k in known for n in np.nonzero((t * k).any(axis=0))[0]})
    if not held:
        raise ValueError(f"no training slice is known to hold any of the tags {list(names)}: tag some slices that "
                         "show them")
    return names
