"""`make run`'s own parts, without the platform: a failing step is named with its cause (a refused RPC's code and
message, the loop's own reason, an unexpected error's type), the simulated readers' labels land on the item's voxels
whatever the item's orientation (the spleen's manual label onto its own grid and onto that grid flipped and
transposed), and their key slices are every n-th labelled slice with the first and the last."""

from __future__ import annotations

import sys

import grpc
import numpy as np
import pytest

from radlab.type.v1 import geometry_pb2
from shared.volumes import from_nifti
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))  # the loop's modules are scripts, imported by their own folder
import labeling_loop  # noqa: E402
from simulated_readers import LoopFailed, Reference, key_indices, on_item_grid  # noqa: E402

SPLEEN_MASK = "ivadomed_spleen/ct_scan/derivatives/labels/sub-spleen2/ct/sub-spleen2_ct_seg-manual.nii.gz"


class Refused(grpc.RpcError):
    def code(self):
        return grpc.StatusCode.FAILED_PRECONDITION

    def details(self):
        return "dataset d-1 is not known yet"


class Quiet:
    """A loop whose step() is the real one, without a platform behind it."""

    timings: list = []
    step = labeling_loop.Loop.step


@pytest.mark.parametrize(("cause", "said"), [
    (Refused(), "step 'upload' failed: FAILED_PRECONDITION: dataset d-1 is not known yet"),
    (LoopFailed("waited 120 s for a review task"), "step 'upload' failed: waited 120 s for a review task"),
    (KeyError("volume_ids"), "step 'upload' failed: KeyError: 'volume_ids'"),
])
def test_a_failing_step_is_named_with_its_cause(cause, said, capsys):
    with pytest.raises(labeling_loop.StepFailed) as failed:
        with Quiet().step(2, "upload"):
            raise cause
    assert str(failed.value) == said and failed.value.step == "upload" and failed.value.__cause__ is cause
    assert "── 2. upload ──" in capsys.readouterr().out


def test_a_reference_label_lands_on_the_items_voxels_in_any_orientation(data_dir):
    mask, affine = from_nifti(data_dir / SPLEEN_MASK)
    reference = Reference(data_dir / SPLEEN_MASK, 1, "manual")
    same = geometry_pb2.Geometry(shape=mask.shape, affine=affine.ravel())
    assert np.array_equal(on_item_grid(reference, same), mask > 0)
    # An item stored as turned[k, p, q] = mask[k, J - 1 - q, p]: its index (q, p, k) is the label's (p, J - 1 - q, k).
    rows = mask.shape[1]
    to_label = np.array([[0, 1, 0, 0], [-1, 0, 0, rows - 1], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=float)
    other = affine @ to_label
    shape = (mask.shape[0], mask.shape[2], mask.shape[1])
    turned = on_item_grid(reference, geometry_pb2.Geometry(shape=shape, affine=other.ravel()))
    assert np.array_equal(turned, np.transpose(mask > 0, (0, 2, 1))[:, :, ::-1])


def test_key_slices_are_every_nth_labelled_slice_with_the_first_and_the_last():
    mask = np.zeros((30, 4, 4), bool)
    mask[5:21, 1:3, 1:3] = True
    assert key_indices(mask, 3, 0) == [5, 8, 11, 14, 17, 20]
    assert key_indices(mask, 3, 1) == [5, 6, 9, 12, 15, 18, 20]
