"""Active learning's measure: how unsure a model is of an item, from its predicted probabilities."""

from __future__ import annotations

import numpy as np

LIKELY = 0.05  # a voxel counts when some label (not background) has at least this probability there


def uncertainty(probabilities: np.ndarray, likely: float = LIKELY) -> float:
    """The mean normalised entropy (0: sure, 1: every class equally likely) of `probabilities` [class, …] over the
    voxels where some label is at least `likely`; 0 where no label is likely anywhere. Counting only those voxels
    keeps a large, surely-empty background from hiding doubt about the structures themselves."""
    classes = probabilities.shape[0]
    if classes < 2:
        raise ValueError("probabilities need background and at least one label")
    region = probabilities[1:].max(axis=0) >= likely
    if not region.any():
        return 0.0
    chosen = np.clip(probabilities[:, region], 1e-12, 1.0)
    entropy = -(chosen * np.log(chosen)).sum(axis=0) / np.log(classes)
    return float(np.clip(entropy.mean(), 0.0, 1.0))
