"""Segmentation training and inference: MONAI U-Nets trained from scratch on finished labels, used to pre-label scans.

Volumes are [k, j, i] arrays. "monai.unet2d" (the default) sees slices along k: it suits thick-slice CT, trains on
the few slices an annotator keyed, and runs on CPUs; "monai.unet3d" sees 3D patches and needs fully labelled
volumes. Label values (any ints, not necessarily contiguous) become channels 1.. in the order of `label_values`,
channel 0 being the background; voxels holding other values count as background.
"""

from __future__ import annotations

import contextlib
import enum
import io
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from monai.inferers import sliding_window_inference
from monai.losses import DiceCELoss
from monai.networks.nets import UNet

from services.training.domain.loop import cpu_state, eta, model_device, read_saved, rng_fork, torch_threads, unwrapped
from services.training.domain.settings import ARCHITECTURES, KINDS, Preprocessing, Settings
from shared import agreement

MAX_ROTATION = math.radians(15.0)
MAX_SCALING = 0.15
CHECKPOINT_FORMAT = 1

SegmentationModel = Callable[[torch.Tensor], torch.Tensor]


def prepare(image: np.ndarray, preprocessing: Preprocessing) -> np.ndarray:
    """The network's input intensities for `image` (float32, same shape), as `Preprocessing` describes."""
    image = np.asarray(image, dtype=np.float32)
    if preprocessing.modality.upper() == "CT":
        low, high = preprocessing.window
        return (np.clip(image, low, high) - low) / np.float32(high - low)
    spread = float(image.std()) or 1.0
    return np.clip((image - float(image.mean())) / spread, -5.0, 5.0).astype(np.float32)


@dataclass(frozen=True)
class Example:
    """One labelled volume: image and uint16 labels [k, j, i], spacing (sk, sj, si) in mm, and the k slices whose
    labels are trustworthy (None: all of them), e.g. an annotator's key slices."""

    image: np.ndarray
    labels: np.ndarray
    spacing: tuple[float, float, float]
    slices: tuple[int, ...] | None = None

    def trusted(self) -> np.ndarray:
        """The k slices whose labels count, in order."""
        count = self.labels.shape[0]
        return np.arange(count) if self.slices is None else np.array(sorted(set(self.slices)), dtype=np.int64)

    def check(self, name: str) -> None:
        """Raise ValueError saying what is wrong with this example (`name` says which one it is)."""
        if self.image.ndim != 3 or self.image.shape != self.labels.shape:
            raise ValueError(f"{name}: image {self.image.shape} and labels {self.labels.shape} must be one 3D "
                             "[k, j, i] grid")
        outside = [int(s) for s in self.trusted() if not 0 <= s < self.labels.shape[0]]
        if outside:
            raise ValueError(f"{name}: slices {outside} are outside 0..{self.labels.shape[0] - 1}")


class StopReason(enum.Enum):
    """Why a run ended."""

    MAX_EPOCHS = "max_epochs"
    NO_IMPROVEMENT = "no_improvement"
    TIME_BUDGET = "time_budget"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class EpochReport:
    """One finished epoch (1-based): mean training loss, validation Dice per label value (empty without
    validation), its seconds, the estimated seconds left, and the checkpoint `fit(resume=…)` continues from."""

    epoch: int
    max_epochs: int
    loss: float
    dice: dict[int, float]
    seconds: float
    eta_s: float
    checkpoint: bytes


@dataclass(frozen=True)
class Trained:
    """A run's result: the best network state (by validation mean Dice; the last without validation), its
    validation Dice per label value, the epochs run and why it stopped."""

    kind: str
    label_values: tuple[int, ...]
    preprocessing: Preprocessing
    state: dict[str, torch.Tensor]
    dice: dict[int, float]
    epochs: int
    best_epoch: int
    stop_reason: StopReason

    def network(self) -> torch.nn.Module:
        """The trained network on CPU, in eval mode."""
        network = untrained(self.kind, len(self.label_values))
        network.load_state_dict(self.state)
        return network


def untrained(kind: str, label_count: int, seed: int = 0) -> torch.nn.Module:
    """A freshly initialised network of `kind` for background plus `label_count` labels (eval mode, CPU); seeded,
    so it is also the reproducible baseline a trained model is compared with."""
    channels, strides = ARCHITECTURES[KINDS[kind]]
    with rng_fork(seed):
        network = UNet(spatial_dims=KINDS[kind], in_channels=1, out_channels=label_count + 1, channels=channels,
                       strides=strides, num_res_units=2)
    return network.eval()


def probabilities(model: SegmentationModel, image: np.ndarray, preprocessing: Preprocessing,
                  slices: Sequence[int] | None = None) -> np.ndarray:
    """Softmax probabilities [channel, k, j, i] (float32) of `model` on `image`, by sliding windows of the roi;
    2D models run slice by slice along k, and only on `slices` when given (the others stay all-background)."""
    prepared = torch.from_numpy(prepare(image, preprocessing))
    device = model_device(model)
    with torch.no_grad():
        if preprocessing.dims == 2:
            chosen = np.arange(image.shape[0]) if slices is None else np.asarray(slices, dtype=np.int64)
            logits = torch.cat([_windows(model, prepared[chosen[start:start + 32], None], preprocessing, device)
                                for start in range(0, len(chosen), 32)]).transpose(0, 1)
        else:
            chosen = np.arange(image.shape[0])
            logits = _windows(model, prepared[None, None], preprocessing, device)[0]
        found = torch.softmax(logits.float(), dim=0).cpu().numpy()
    out = np.zeros((found.shape[0], *image.shape), dtype=np.float32)
    out[0] = 1.0
    out[:, chosen] = found
    return out


def _windows(model: SegmentationModel, batch: torch.Tensor, preprocessing: Preprocessing,
             device: torch.device) -> torch.Tensor:
    with _fast_on_gpu(device):
        found = sliding_window_inference(_layout(batch.to(device), device), preprocessing.roi, sw_batch_size=8,
                                         predictor=model, overlap=0.25)
    return found.float()


def _fast_on_gpu(device: torch.device):
    """Mixed precision (bfloat16: no loss scaling needed) on a GPU; full precision on a CPU, where it would be slower."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _layout(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Channels-last on a GPU (faster convolutions with tensor cores); as is on a CPU."""
    if device.type != "cuda":
        return batch
    return batch.contiguous(memory_format=torch.channels_last if batch.ndim == 4 else torch.channels_last_3d)


def labels_from(found: np.ndarray, label_values: Sequence[int]) -> np.ndarray:
    """The uint16 label map [k, j, i] of probabilities [channel, k, j, i]: each voxel's most probable value."""
    return np.asarray([0, *label_values], dtype=np.uint16)[found.argmax(axis=0)]


def confidence(found: np.ndarray) -> float:
    """How sure a prediction is, in 0..1: the mean winning probability over the voxels predicted foreground; with
    none predicted, the mean background probability (how sure the scan holds none of the labels)."""
    winner = found.argmax(axis=0)
    foreground = winner > 0
    if not foreground.any():
        return float(found[0].mean())
    return float(found.max(axis=0)[foreground].mean())


def predict(model: SegmentationModel, image: np.ndarray, preprocessing: Preprocessing,
            label_values: Sequence[int]) -> tuple[np.ndarray, float]:
    """Labels (uint16 [k, j, i], the original label values) and confidence (see `confidence`) of `model` — a
    torch module (put in eval mode), TorchScript module or ONNX wrapper giving logits for a float32 batch — on
    `image`."""
    if isinstance(model, torch.nn.Module):
        model.eval()
    found = probabilities(model, image, preprocessing)
    if found.shape[0] != len(label_values) + 1:
        raise ValueError(f"the model gives {found.shape[0]} channels but {len(label_values)} labels need "
                         f"{len(label_values) + 1} (background first)")
    return labels_from(found, label_values), confidence(found)


def validation_dice(model: SegmentationModel, validation: Sequence[Example], preprocessing: Preprocessing,
                    label_values: Sequence[int]) -> dict[int, float]:
    """Dice per label value over the trusted slices of every validation example, pooled (shared.agreement)."""
    truth, found = [], []
    for example in validation:
        trusted = example.trusted()
        predicted = labels_from(probabilities(model, example.image, preprocessing, trusted), label_values)
        truth.append(example.labels[trusted].ravel())
        found.append(predicted[trusted].ravel())
    truth_all, found_all = np.concatenate(truth), np.concatenate(found)
    return {value: agreement.dice(found_all == value, truth_all == value) for value in label_values}


class Patches:
    """Training patches drawn from the prepared examples' trusted slices, biased to the foreground: with
    probability `foreground_fraction` a patch is centred (± a quarter roi) on a voxel of a label chosen uniformly
    among those present, so small and rare labels are seen as often as large ones; otherwise anywhere."""

    def __init__(self, images: list[np.ndarray], channels: list[np.ndarray], trusted: list[np.ndarray],
                 roi: tuple[int, ...], foreground_fraction: float):
        self.images, self.channels, self.roi = images, channels, roi
        self.foreground_fraction = foreground_fraction
        self.slices = np.concatenate([np.stack([np.full(len(t), e), t], axis=1) for e, t in enumerate(trusted)])
        self.by_label = _voxels_by_label(channels, trusted)

    def draw(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """`count` image patches and their channel maps, each [count, 1, *roi]."""
        pairs = [self._patch(rng) for _ in range(count)]
        return np.stack([p[0] for p in pairs])[:, None], np.stack([p[1] for p in pairs])[:, None]

    def _patch(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if self.by_label and rng.random() < self.foreground_fraction:
            voxels = self.by_label[rng.integers(len(self.by_label))]
            e, k, j, i = voxels[rng.integers(len(voxels))]
            jitter = [int(rng.integers(-(side // 4), side // 4 + 1)) for side in self.roi]
        else:
            e, k = self.slices[rng.integers(len(self.slices))]
            j, i = (int(rng.integers(side)) for side in self.images[e].shape[1:])
            jitter = [0] * len(self.roi)
        centre = (j, i) if len(self.roi) == 2 else (k, j, i)
        centre = tuple(int(c) + d for c, d in zip(centre, jitter))
        image, channels = (self.images[e][k], self.channels[e][k]) if len(self.roi) == 2 else \
            (self.images[e], self.channels[e])
        return _crop(image, centre, self.roi), _crop(channels, centre, self.roi)


def _voxels_by_label(channels: list[np.ndarray], trusted: list[np.ndarray]) -> list[np.ndarray]:
    """Per channel present on some trusted slice: its voxels as rows (example, k, j, i)."""
    rows, values = [], []
    for e, (volume, slices) in enumerate(zip(channels, trusted)):
        t, j, i = np.nonzero(volume[slices])
        rows.append(np.stack([np.full(len(t), e), slices[t], j, i], axis=1).astype(np.int32))
        values.append(volume[slices][t, j, i])
    rows_all, values_all = np.concatenate(rows), np.concatenate(values)
    return [rows_all[values_all == value] for value in np.unique(values_all)]


def _crop(array: np.ndarray, centre: Sequence[int], roi: Sequence[int]) -> np.ndarray:
    """The `roi`-sized block of `array` centred on `centre`, zero beyond its edges."""
    out = np.zeros(tuple(roi), dtype=array.dtype)
    start = [c - r // 2 for c, r in zip(centre, roi)]
    source = tuple(slice(max(s, 0), min(s + r, n)) for s, r, n in zip(start, roi, array.shape))
    if all(part.start < part.stop for part in source):
        out[tuple(slice(part.start - s, part.stop - s) for part, s in zip(source, start))] = array[source]
    return out


def augment(images: torch.Tensor, channels: torch.Tensor, rng: np.random.Generator
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Each patch rotated in-plane (±15°) and scaled (±15 %), its intensities scaled (±10 %) and shifted (±0.1).
    No flips: left and right are anatomy (kidney_left is not kidney_right)."""
    count, dims = images.shape[0], images.ndim - 2
    angle = torch.from_numpy(rng.uniform(-MAX_ROTATION, MAX_ROTATION, count)).float()
    scale = torch.from_numpy(rng.uniform(1 - MAX_SCALING, 1 + MAX_SCALING, count)).float()
    theta = torch.zeros(count, dims, dims + 1)
    theta[:, 0, 0], theta[:, 0, 1] = torch.cos(angle) / scale, -torch.sin(angle) / scale
    theta[:, 1, 0], theta[:, 1, 1] = torch.sin(angle) / scale, torch.cos(angle) / scale
    if dims == 3:  # grid x, y are i, j (in-plane); z (k) is left alone
        theta[:, 2, 2] = 1.0
    grid = F.affine_grid(theta.to(images.device), list(images.shape), align_corners=False)
    images = F.grid_sample(images, grid, mode="bilinear", align_corners=False)
    channels = F.grid_sample(channels.float(), grid, mode="nearest", align_corners=False).long()
    gain = torch.from_numpy(rng.uniform(0.9, 1.1, count)).float().to(images.device)
    shift = torch.from_numpy(rng.uniform(-0.1, 0.1, count)).float().to(images.device)
    shape = (count, *[1] * (dims + 1))
    return images * gain.view(shape) + shift.view(shape), channels


@dataclass
class _Progress:
    """What a checkpoint carries between epochs besides the network and optimizer."""

    epoch: int = 0
    best_state: dict | None = None
    best_mean: float = -1.0
    best_dice: dict | None = None
    best_epoch: int = 0
    stale: int = 0


def fit(train: list[Example], validation: list[Example], label_values: list[int], settings: Settings, *,
        on_epoch: Callable[[EpochReport], bool | None] | None = None, resume: bytes | None = None,
        prepare_model: Callable[[torch.nn.Module], torch.nn.Module] = lambda m: m) -> Trained:
    """Train a `settings.kind` network from scratch on `train`'s trusted slices for `label_values`.

    After each epoch `on_epoch` gets an EpochReport; returning False cancels the run. `resume` takes a report's
    checkpoint and continues at the next epoch. `prepare_model` wraps the network (Ray Train's prepare_model moves
    it to its device and into DistributedDataParallel); states are saved from the unwrapped `.module`. Without
    validation examples the best network is the last and early stopping is off. Uses `settings.threads` torch
    threads for the run's duration when set.
    """
    values = _check(train, validation, label_values, settings)
    preprocessing = settings.preprocessing
    with torch_threads(settings.threads):
        patches = Patches([prepare(e.image, preprocessing) for e in train],
                          [_channels(e.labels, values) for e in train], [e.trusted() for e in train],
                          preprocessing.roi, settings.foreground_fraction)
        network = untrained(settings.kind, len(values), settings.seed)
        rng, progress, saved = np.random.default_rng(settings.seed), _Progress(), None
        if resume is not None:
            saved = _load_checkpoint(resume, settings, values)
            network.load_state_dict(saved["model"])
            rng.bit_generator.state, progress = saved["rng"], _Progress(**saved["progress"])
        model = prepare_model(network.train())
        if model_device(model).type == "cuda":  # channels-last weights to match `_layout`'s batches
            model = model.to(memory_format=torch.channels_last if KINDS[settings.kind] == 2 else torch.channels_last_3d)
        optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
        if saved is not None:
            optimizer.load_state_dict(saved["optimizer"])
        return _epochs(model, optimizer, patches, validation, values, settings, progress, rng, on_epoch)


def _epochs(model: torch.nn.Module, optimizer: torch.optim.Optimizer, patches: Patches, validation: list[Example],
            values: tuple[int, ...], settings: Settings, progress: _Progress, rng: np.random.Generator,
            on_epoch: Callable[[EpochReport], bool | None] | None) -> Trained:
    loss_function = DiceCELoss(to_onehot_y=True, softmax=True, batch=True)
    device = model_device(model)
    started, first, reason = time.perf_counter(), progress.epoch + 1, StopReason.MAX_EPOCHS
    for epoch in range(first, settings.max_epochs + 1):
        epoch_started = time.perf_counter()
        for group in optimizer.param_groups:  # polynomial decay over the planned epochs (nnU-Net's schedule)
            group["lr"] = settings.learning_rate * (1 - (epoch - 1) / settings.max_epochs) ** 0.9
        loss = _train_epoch(model, optimizer, loss_function, patches, settings, rng, device)
        dice = validation_dice(model.eval(), validation, settings.preprocessing, values) if validation else {}
        model.train()
        _keep_best(progress, unwrapped(model), dice, epoch)
        seconds = time.perf_counter() - epoch_started
        elapsed = time.perf_counter() - started
        per_epoch = elapsed / (epoch - first + 1)
        left = eta(settings, epoch, per_epoch, elapsed)
        if on_epoch is not None:
            report = EpochReport(epoch, settings.max_epochs, loss, dice, seconds, left,
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
                   state=progress.best_state or cpu_state(unwrapped(model)), dice=progress.best_dice or {},
                   epochs=progress.epoch, best_epoch=progress.best_epoch, stop_reason=reason)


def _train_epoch(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss_function: torch.nn.Module,
                 patches: Patches, settings: Settings, rng: np.random.Generator, device: torch.device) -> float:
    """One epoch of `settings.steps_per_epoch` batches; the mean loss."""
    losses = []
    for _ in range(settings.steps_per_epoch):
        images, channels = (torch.from_numpy(a).to(device) for a in patches.draw(settings.batch_size, rng))
        channels = channels.long()
        if settings.augment:
            images, channels = augment(images, channels, rng)
        optimizer.zero_grad(set_to_none=True)
        with _fast_on_gpu(device):
            loss = loss_function(model(_layout(images, device)), channels)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return float(np.mean(losses))


def _keep_best(progress: _Progress, network: torch.nn.Module, dice: dict[int, float], epoch: int) -> None:
    """Record the epoch; keep the network's state when its validation mean Dice is the best so far (without
    validation, always: the last network is the result)."""
    progress.epoch = epoch
    mean = float(np.mean(list(dice.values()))) if dice else 0.0
    if not dice or mean > progress.best_mean:
        progress.best_state, progress.best_mean, progress.best_dice = cpu_state(network), mean, dict(dice)
        progress.best_epoch, progress.stale = epoch, 0
    else:
        progress.stale += 1


def _checkpoint(model: torch.nn.Module, optimizer: torch.optim.Optimizer, progress: _Progress,
                rng: np.random.Generator, settings: Settings, values: tuple[int, ...]) -> bytes:
    """Everything `fit(resume=…)` needs, as bytes: network, optimizer, progress and the random generator's state."""
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, "kind": settings.kind, "label_values": list(values),
                "model": cpu_state(unwrapped(model)), "optimizer": optimizer.state_dict(),
                "progress": vars(progress), "rng": rng.bit_generator.state},
               buffer)
    return buffer.getvalue()


def _load_checkpoint(data: bytes, settings: Settings, values: tuple[int, ...]) -> dict:
    saved = read_saved(data, "the checkpoint to resume from", "start the run afresh")
    if saved.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"the checkpoint is in format {saved.get('format')}; this version resumes format "
                         f"{CHECKPOINT_FORMAT} only; start the run afresh")
    if saved["kind"] != settings.kind or tuple(saved["label_values"]) != values:
        raise ValueError(f"the checkpoint is of a {saved['kind']} model for labels {saved['label_values']}; this "
                         f"run trains a {settings.kind} model for labels {list(values)}; resume with the same ones")
    return saved


def _channels(labels: np.ndarray, values: tuple[int, ...]) -> np.ndarray:
    """Label values → channels 1.. in the order of `values`; any other value → 0 (background)."""
    table = np.zeros(int(labels.max(initial=0)) + 1, dtype=np.uint8 if len(values) < 255 else np.int64)
    for channel, value in enumerate(values, start=1):
        if value < len(table):
            table[value] = channel
    return table[labels]


def _check(train: list[Example], validation: list[Example], label_values: list[int],
           settings: Settings) -> tuple[int, ...]:
    """The label values as a tuple, once the run's inputs are known to be usable; ValueError says what is not."""
    if not train:
        raise ValueError("training needs at least one labelled example")
    values = tuple(int(v) for v in label_values)
    if not values or len(set(values)) != len(values) or min(values) < 1:
        raise ValueError(f"label values {list(label_values)} must be distinct values ≥ 1 (0 is the background)")
    for name, examples in (("training", train), ("validation", validation)):
        for n, example in enumerate(examples):
            example.check(f"{name} example {n}")
            if KINDS[settings.kind] == 3 and example.slices is not None:
                raise ValueError(f"{name} example {n} has labels on some slices only; {settings.kind} trains on "
                                 "fully labelled volumes: use monai.unet2d for key slices")
    if not any(np.isin(e.labels[e.trusted()], values).any() for e in train):
        raise ValueError(f"no trusted slice of the training examples holds any of the labels {list(values)}")
    return values
