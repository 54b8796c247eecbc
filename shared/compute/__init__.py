"""The compute port and its adapter, chosen by URL: `local` (Ray on this machine) or `ray://host:port`."""

from __future__ import annotations

from shared.compute.port import Compute, ComputeCancelled, ComputeError, ComputeTask, TrainingSession

__all__ = ["Compute", "ComputeCancelled", "ComputeError", "ComputeTask", "TrainingSession", "connect"]


def connect(url: str) -> Compute:
    """Open the compute pool named by `url`: `local` or empty (Ray on this machine) or `ray://host:port`."""
    local = url in ("", "local")
    if not local and not url.startswith("ray://"):
        raise ValueError(
            f"unsupported compute URL {url!r}: use 'local' (Ray on this machine) or ray://host:10001 (a Ray cluster)"
        )
    # Ray comes with the `training` extra, so it is imported only when a pool is opened.
    from shared.compute.ray_cluster import RayCompute

    return RayCompute.open(None if local else url)
