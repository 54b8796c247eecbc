"""Dense 2-D optical flow (TV-L1, coarse to fine) for many slice pairs at once, so small slices cost little each.

The solver is the classic duality-based TV-L1 (Zach, Pock and Bischof 2007; Wedel et al. 2009): each warp
linearises the image around the current flow, then alternates a point-wise threshold on the data term with
a step of Chambolle's projection for the total variation. Every array carries the pair as its first axis and every
operation acts on all pairs together; nothing couples two pairs.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

MIN_SIZE = 16            # the coarsest pyramid level keeps at least this many pixels a side
TIME_STEP = 0.25         # Chambolle's step for two dimensions (stable at ≤ 1/4)


def tvl1(targets: np.ndarray, sources: np.ndarray, *, attachment: float, tightness: float, num_warp: int,
         num_iter: int) -> np.ndarray:
    """[pairs, 2, rows, cols] flow: pixel x of `targets[n]` looks like `sources[n]` at x + flow[n](x).

    `targets` and `sources` are [pairs, rows, cols] float32; `attachment` weighs the image match against
    smoothness, `tightness` couples the flow to its smoothed copy.
    """
    pyramid = [(np.asarray(targets, dtype=np.float32), np.asarray(sources, dtype=np.float32))]
    while min(pyramid[-1][0].shape[1:]) > 2 * MIN_SIZE:
        pyramid.append(tuple(_reduce(level) for level in pyramid[-1]))
    flow = np.zeros((len(targets), 2) + pyramid[-1][0].shape[1:], dtype=np.float32)
    for level_targets, level_sources in reversed(pyramid):
        flow = _solve(level_targets, level_sources, _resize(flow, level_targets.shape[1:]), attachment, tightness,
                      num_warp, num_iter)
    return flow


def _reduce(images: np.ndarray) -> np.ndarray:
    """Half the resolution, smoothed first so nothing aliases."""
    smooth = ndimage.gaussian_filter(images, (0, 2 / 3, 2 / 3))
    return ndimage.zoom(smooth, (1, 0.5, 0.5), order=1)


def _resize(flow: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Flow carried to a grid of `shape`, its vectors scaled with the grid."""
    if flow.shape[2:] == shape:
        return flow
    scale = [new / old for new, old in zip(shape, flow.shape[2:])]
    resized = ndimage.zoom(flow, (1, 1, *scale), order=1, mode="nearest")
    resized[:, 0] *= scale[0]
    resized[:, 1] *= scale[1]
    return resized


def _solve(targets: np.ndarray, sources: np.ndarray, flow: np.ndarray, attachment: float, tightness: float,
           num_warp: int, num_iter: int) -> np.ndarray:
    """Refine `flow` on one pyramid level (in-place arithmetic: these loops are the whole cost)."""
    pairs, rows, cols = targets.shape
    grid = np.mgrid[:pairs, :rows, :cols].astype(np.float32)
    threshold = attachment * tightness
    step = TIME_STEP / tightness
    flow = np.ascontiguousarray(flow.transpose(1, 0, 2, 3))       # [component, pairs, rows, cols]
    dual = np.zeros((2, 2) + targets.shape, dtype=np.float32)    # [component, derivative axis, pairs, rows, cols]
    derivative = np.zeros_like(dual)
    magnitude = np.empty_like(flow)
    divergence = np.empty_like(flow)
    for _ in range(num_warp):
        warped = ndimage.map_coordinates(sources, (grid[0], grid[1] + flow[0], grid[2] + flow[1]), order=1,
                                         mode="nearest")
        gradient = np.stack(np.gradient(warped, axis=(1, 2)))
        norm = (gradient ** 2).sum(axis=0)
        norm[norm == 0] = 1
        residual_at_zero = warped - targets - (gradient * flow).sum(axis=0)
        for _ in range(num_iter):
            residual = residual_at_zero + gradient[0] * flow[0] + gradient[1] * flow[1]
            # the data term's minimiser along the image gradient, clipped to ±threshold·gradient
            shift = np.clip(np.divide(residual, norm, out=residual), -threshold, threshold)
            data = flow - shift * gradient
            # one step of Chambolle's projection (more per threshold bought nothing on the benchmark)
            _divergence(dual, divergence)
            flow = np.add(data, np.multiply(divergence, tightness, out=divergence), out=flow)
            _forward_gradient(flow, derivative)
            np.hypot(derivative[:, 0], derivative[:, 1], out=magnitude)
            magnitude *= step
            magnitude += 1
            derivative *= step
            dual += derivative
            dual /= magnitude[:, None]
    return np.ascontiguousarray(flow.transpose(1, 0, 2, 3))


def _forward_gradient(flow: np.ndarray, out: np.ndarray) -> None:
    """Into `out` [component, axis, pairs, rows, cols]: forward differences of each flow component, zero at the far edge."""
    np.subtract(flow[:, :, 1:, :], flow[:, :, :-1, :], out=out[:, 0, :, :-1, :])
    np.subtract(flow[:, :, :, 1:], flow[:, :, :, :-1], out=out[:, 1, :, :, :-1])


def _divergence(dual: np.ndarray, out: np.ndarray) -> None:
    """Into `out` [component, pairs, rows, cols]: divergence of each component's dual field, minus the adjoint of
    `_forward_gradient` (the dual is zero on the far edge, where the gradient is)."""
    np.add(dual[:, 0], dual[:, 1], out=out)
    out[:, :, 1:, :] -= dual[:, 0, :, :-1, :]
    out[:, :, :, 1:] -= dual[:, 1, :, :, :-1]
