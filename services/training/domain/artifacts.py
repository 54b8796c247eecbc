"""Model artifacts in one format for trained and registered models: TorchScript or ONNX bytes, loaded and checked alike.

A trained network is exported as TorchScript; a registered model may be TorchScript or ONNX. Either loads into a
callable taking a float32 batch [n, 1, *roi] and giving logits [n, labels + 1, *roi], which
`segmentation.predict` runs.
"""

from __future__ import annotations

import copy
import io

import numpy as np
import onnxruntime
import torch

from services.training.domain.segmentation import Preprocessing, SegmentationModel

FORMATS = ("torchscript", "onnx")
_AXES = {2: "j, i", 3: "k, j, i"}


def export(network: torch.nn.Module, preprocessing: Preprocessing) -> bytes:
    """TorchScript bytes of `network` (unwrapped from DistributedDataParallel if need be), traced in eval mode on CPU
    with a batch shaped as `preprocessing` declares."""
    network = copy.deepcopy(getattr(network, "module", network)).cpu().eval()
    with torch.no_grad():
        traced = torch.jit.trace(network, torch.zeros(1, 1, *preprocessing.roi))
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    return buffer.getvalue()


class OnnxModel:
    """An ONNX model run by onnxruntime on CPU, called like a torch module: float32 batch in, logits out. A model
    exported for a batch of one runs a larger batch one item at a time."""

    def __init__(self, data: bytes):
        try:
            self.session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
        except Exception as error:
            raise ValueError(f"these bytes are not an ONNX model onnxruntime can run: {str(error).strip()}") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ValueError(f"the ONNX model takes {len(inputs)} inputs ({', '.join(i.name for i in inputs)}); "
                             "a segmentation model takes one, the image batch")
        self.input = inputs[0]

    @property
    def rank(self) -> int:
        """The rank of the input it declares (4: 2D slices, 5: 3D patches)."""
        return len(self.input.shape)

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        array = batch.detach().cpu().numpy().astype(np.float32)
        if self.input.shape[0] == 1 and array.shape[0] > 1:
            return torch.cat([self(batch[n:n + 1]) for n in range(array.shape[0])])
        return torch.from_numpy(self.session.run(None, {self.input.name: array})[0])


def load(data: bytes, fmt: str) -> SegmentationModel:
    """A callable giving logits for a float32 batch, from TorchScript ("torchscript") or ONNX ("onnx") bytes."""
    if fmt == "onnx":
        return OnnxModel(data)
    if fmt != "torchscript":
        raise ValueError(f"model format {fmt!r} is not known; use one of {', '.join(FORMATS)}")
    try:
        module = torch.jit.load(io.BytesIO(data), map_location="cpu")
    except Exception as error:
        raise ValueError(f"these bytes are not a TorchScript model: {str(error).splitlines()[0]}") from None
    return module.eval()


def check(model: SegmentationModel | bytes, preprocessing: Preprocessing, label_count: int,
          fmt: str | None = None) -> None:
    """Run one dummy batch shaped as `preprocessing` declares ([1, 1 channel, *roi]); raise ValueError saying what
    to change when the model's inputs or outputs do not fit (rank, input channels, label_count + 1 outputs, size).
    `model` is a loaded model, or bytes in format `fmt`."""
    if isinstance(model, bytes):
        model = load(model, fmt or "")
    shape = (1, 1, *preprocessing.roi)
    dims = preprocessing.dims
    what = "the ONNX model" if isinstance(model, OnnxModel) else "the model"
    if isinstance(model, OnnxModel):
        _check_onnx_input(model, preprocessing)
    try:
        with torch.no_grad():
            output = model(torch.zeros(shape))
    except Exception as error:
        raise ValueError(f"{what} fails on a batch shaped {shape}, as its pre-processing declares (dims={dims}, roi="
                         f"{preprocessing.roi}): {str(error).strip().splitlines()[0]}; it must take [batch, 1 channel, "
                         f"{_AXES[dims]}] float32 inputs") from None
    if not isinstance(output, torch.Tensor):
        raise ValueError(f"{what} returns {type(output).__name__}; it must return one tensor of logits")
    if output.ndim != len(shape):
        raise ValueError(f"{what} returns outputs of rank {output.ndim} for inputs of rank {len(shape)} ({dims}D); "
                         f"it must return [batch, labels + 1, {_AXES[dims]}] logits")
    if output.shape[1] != label_count + 1:
        raise ValueError(f"{what} gives {output.shape[1]} output channels but {label_count} labels need "
                         f"{label_count + 1} (background first, then one per label in order)")
    if tuple(output.shape[2:]) != tuple(preprocessing.roi):
        raise ValueError(f"{what} turns a {preprocessing.roi} patch into {tuple(output.shape[2:])} outputs; a "
                         "segmentation model must keep its input's size")


def _check_onnx_input(model: OnnxModel, preprocessing: Preprocessing) -> None:
    dims, rank = preprocessing.dims, model.rank
    if rank != dims + 2:
        declared = f"{rank - 2}D" if rank - 2 in _AXES else "neither 2D nor 3D"
        raise ValueError(f"the ONNX model takes inputs of rank {rank} ({declared}) but its pre-processing says "
                         f"dims={dims} (inputs of rank {dims + 2}: batch, channel, {_AXES[dims]}); register it with "
                         f"dims={rank - 2} or export it for {dims}D inputs")
    channels = model.input.shape[1]
    if isinstance(channels, int) and channels != 1:
        raise ValueError(f"the ONNX model takes {channels} input channels; Radlab feeds one image channel")
    if model.input.type != "tensor(float)":
        raise ValueError(f"the ONNX model takes {model.input.type} inputs; export it to take float32 "
                         "(tensor(float))")
