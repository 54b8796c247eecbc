"""`make run`'s simulated people: readers who draw key slices from a real reference label (interpolation fills the
rest), one of whom labels the wrong organ, and a senior radiologist who adjudicates; all through the public SDK."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import grpc
import numpy as np
from scipy import ndimage

from radlab.annotation.v1 import annotation_service_pb2 as annotation_pb
from radlab.client import Client
from radlab.type.v1 import geometry_pb2, label_pb2
from radlab.workflow.v1 import workflow_service_pb2 as workflow_pb
from shared.agreement import dice
from shared.grid import plane_axis
from shared.volumes import from_nifti

T = TypeVar("T")
REVERSE = np.eye(4)[[2, 1, 0, 3]]  # array index [k, j, i] ↔ the affine's (i, j, k)
SLICE_BYTES_PER_CALL = 2 << 20


class LoopFailed(RuntimeError):
    """A step of the loop could not go on; the message says what was waited for or refused."""


def wait_for(condition: Callable[[], T | None], what: str, timeout_s: float = 120.0, interval_s: float = 0.2) -> T:
    """`condition()` once it returns something true; LoopFailed naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        outcome = condition()
        if outcome:
            return outcome
        if time.monotonic() > deadline:
            raise LoopFailed(f"waited {timeout_s:.0f} s for {what}")
        time.sleep(interval_s)


@dataclass(frozen=True)
class Reference:
    """What a reader is driven by on one item: a label file's value (the organ), and where that label came from."""

    label_path: Path
    value: int
    source: str


def on_item_grid(reference: Reference, geometry: geometry_pb2.Geometry) -> np.ndarray:
    """The reference label's mask resampled (nearest neighbour) onto the item volume's [k, j, i] voxels."""
    labels, affine = from_nifti(reference.label_path)
    item_affine = np.asarray(geometry.affine, dtype=float).reshape(4, 4)
    to_label = REVERSE @ np.linalg.inv(affine) @ item_affine @ REVERSE
    mask = (labels == reference.value).astype(np.uint8)
    return ndimage.affine_transform(mask, to_label[:3, :3], offset=to_label[:3, 3], output_shape=tuple(geometry.shape[-3:]),
                                    order=0).astype(bool)


def key_indices(mask: np.ndarray, every: int, start: int) -> list[int]:
    """Axial key slices a reader draws: every `every`-th labelled slice from the `start`-th, and the first and last."""
    labelled = np.flatnonzero(mask.any(axis=(1, 2)))
    return sorted({int(labelled[0]), *labelled[start::every].tolist(), int(labelled[-1])})


def next_task(client: Client, workflow_id: str, stage_id: str) -> workflow_pb.Task | None:
    """The caller's next task of the stage, claimed; None when none is left for them."""
    try:
        return client.claim_task(workflow_id=workflow_id, stage_id=stage_id)
    except grpc.RpcError as error:
        if error.code() is grpc.StatusCode.NOT_FOUND:
            return None
        raise


@dataclass(frozen=True)
class Reading:
    """One reader's submitted annotation of an item, and how its interpolated slices compare with the reference."""

    reader: str
    item_id: str
    annotation_id: str
    keys: int
    filled: int
    filled_dice: float  # on the slices interpolation filled
    volume_dice: float  # on the whole label
    wrong_organ: bool


def read(client: Client, reader: str, workflow_id: str, stage_id: str, references: dict[str, Reference],
         truth: dict[str, Reference], every: int, start: int, class_value: int) -> Reading | None:
    """Claim the reader's next task of the stage, draw its key slices from the item's reference, wait for
    interpolation to fill the slices between them, hand the annotation in; None when no task is left for the reader."""
    task = next_task(client, workflow_id, stage_id)
    if task is None:
        return None
    item = client.annotation.GetItem(annotation_pb.GetItemRequest(item_id=task.item_id)).item
    geometry = item.volume_ref.geometry
    if plane_axis(np.asarray(geometry.affine, dtype=float).reshape(4, 4), "axial") != 0:
        raise LoopFailed(f"item {item.item_id}'s slices are not axial; the simulated readers draw axial key slices")
    drawn = on_item_grid(references[item.item_id], geometry)
    keys = key_indices(drawn, every, start)
    saved = client.annotation.SaveKeySlices(annotation_pb.SaveKeySlicesRequest(item_id=item.item_id, key_slices=[
        label_pb2.SliceLabel(plane=geometry_pb2.PLANE_AXIAL, slice_index=k, label_value=class_value,
                             provenance=label_pb2.SLICE_PROVENANCE_DRAWN,
                             mask=label_pb2.SliceMask(rows=drawn.shape[1], columns=drawn.shape[2],
                                                      encoding=label_pb2.MASK_ENCODING_RAW,
                                                      data=drawn[k].astype(np.uint8).tobytes()))
        for k in keys]))
    between = [k for k in range(keys[0] + 1, keys[-1]) if k not in keys]

    def interpolated():
        current = client.annotation.GetAnnotation(annotation_pb.GetAnnotationRequest(annotation_id=saved.annotation_id))
        filled = {o.slice_index for o in current.slice_origins if o.provenance == label_pb2.SLICE_PROVENANCE_INTERPOLATED}
        return current if current.annotation.version > saved.version and set(between) <= filled else None

    current = wait_for(interpolated, f"interpolation between {reader}'s {len(keys)} key slices of item {item.item_id}")
    client.annotation.SubmitAnnotation(annotation_pb.SubmitAnnotationRequest(
        annotation_id=saved.annotation_id, version=current.annotation.version))
    result = mask_of(client, saved.annotation_id, geometry, class_value)
    wrong = references[item.item_id] != truth[item.item_id]
    reference = on_item_grid(truth[item.item_id], geometry) if wrong else drawn
    return Reading(reader, item.item_id, saved.annotation_id, len(keys), len(between),
                   dice(result[between], reference[between]), dice(result, reference), wrong)


def mask_of(client: Client, annotation_id: str, geometry: geometry_pb2.Geometry, value: int) -> np.ndarray:
    """An annotation's current mask of one label value on the item's [k, j, i] voxels."""
    shape = tuple(geometry.shape[-3:])
    mask = np.zeros(shape, dtype=bool)
    per_call = max(1, SLICE_BYTES_PER_CALL // (shape[1] * shape[2]))  # under gRPC's 4 MiB message limit
    for first in range(0, shape[0], per_call):
        found = client.annotation.GetAnnotation(annotation_pb.GetAnnotationRequest(
            annotation_id=annotation_id, plane=geometry_pb2.PLANE_AXIAL, slice_indices=range(first, min(shape[0], first + per_call))))
        for piece in found.slices:
            if piece.label_value == value and piece.mask.encoding == label_pb2.MASK_ENCODING_RAW:
                mask[piece.slice_index] = np.frombuffer(piece.mask.data, np.uint8).reshape(shape[1:]) > 0
    return mask


@dataclass(frozen=True)
class Decision:
    """The senior reader's verdict on one item at the review stage."""

    item_id: str
    consensus: workflow_pb.ConsensusResult
    chosen_reader: str  # "" when the readers' merge was accepted


def adjudicate(client: Client, workflow_id: str, stage_id: str, readings: dict[tuple[str, str], Reading]) -> Decision | None:
    """Claim the next review task: accept the readers' merge when they agreed, else pick the reader whose label the
    senior reader (driven by the reference) finds right; None when no review task is waiting."""
    task = next_task(client, workflow_id, stage_id)
    if task is None:
        return None
    result = client.workflow.GetConsensusResult(workflow_pb.GetConsensusResultRequest(item_id=task.item_id)).consensus_result
    chosen, annotation_id = "", client.workflow.GetItemProgress(
        workflow_pb.GetItemProgressRequest(item_id=task.item_id)).annotation_id
    if result.state == workflow_pb.CONSENSUS_STATE_DISPUTED:
        best = max((r for (reader, item), r in readings.items() if item == task.item_id), key=lambda r: r.volume_dice)
        chosen, annotation_id = best.reader, best.annotation_id
    version = client.annotation.GetAnnotation(annotation_pb.GetAnnotationRequest(annotation_id=annotation_id)).annotation.version
    client.workflow.SubmitReview(workflow_pb.SubmitReviewRequest(
        task_id=task.task_id, decision=workflow_pb.REVIEW_DECISION_ACCEPT, annotation_version=version,
        chosen_annotation_id=annotation_id if chosen else ""))
    return Decision(task.item_id, result, chosen)
