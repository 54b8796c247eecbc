"""What every training loop shares (segmentation, detection, classification): torch's threads for a run, seeded
initialisation, CPU copies of a network's state, the network inside a data-parallel wrapper and its device, the time
left, and reading back what `torch.save` wrote (checkpoints, saved models)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """torch's intra-op thread count set to `count` (0: unchanged) for the block."""
    before = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def rng_fork(seed: int) -> Iterator[None]:
    """torch's global generator seeded with `seed` for the block, and restored after it."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def cpu_state(network: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the network's state on the CPU."""
    return {name: tensor.detach().cpu().clone() for name, tensor in network.state_dict().items()}


def unwrapped(model: torch.nn.Module) -> torch.nn.Module:
    """The network inside a DistributedDataParallel (or similar) wrapper."""
    return getattr(model, "module", model)


def eta(settings, epoch: int, per_epoch: float, elapsed: float) -> float:
    """Seconds left at this pace: the remaining epochs, or what is left of `settings.time_budget_s` if that is sooner."""
    left = (settings.max_epochs - epoch) * per_epoch
    return min(left, max(settings.time_budget_s - elapsed, 0.0)) if settings.time_budget_s else left


def model_device(model) -> torch.device:
    """Where a model's parameters are (CPU for a callable without any, e.g. an ONNX session)."""
    parameter = next(model.parameters(), None) if isinstance(model, torch.nn.Module) else None
    return parameter.device if parameter is not None else torch.device("cpu")


def read_saved(data: bytes, what: str, remedy: str) -> dict:
    """The dict `torch.save` wrote (plain tensors and values only); ValueError naming `what` and the `remedy`."""
    try:
        saved = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{what} cannot be read ({error}); {remedy}") from None
    if not isinstance(saved, dict):
        raise ValueError(f"{what} is not one this version wrote; {remedy}")
    return saved
