"""The Ray adapter of the compute port: Ray started on this machine, or a remote cluster via Ray client."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayError, RayTaskError, TaskCancelledError

from shared.compute.port import Compute, ComputeCancelled, ComputeError, ComputeTask


def _call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # The one remote function: `fn` travels as an argument, so builtins and callables that
    # `ray.remote` refuses to wrap (os.getpid, functools.partial) run too.
    return fn(*args, **kwargs)


_remote_call = ray.remote(_call)
_TERMINAL_COLOURS = re.compile(r"\x1b\[[0-9;]*m")


class RayTask(ComputeTask):
    """One Ray task, by its result's object reference."""

    def __init__(self, ref: ray.ObjectRef) -> None:
        self._ref = ref

    def result(self, timeout: float | None = None) -> Any:
        try:
            return ray.get(self._ref, timeout=timeout)
        except GetTimeoutError:
            raise TimeoutError(f"task still running after {timeout} s") from None
        except TaskCancelledError as err:
            raise ComputeCancelled(type(err).__name__, str(err)) from err
        except RayTaskError as err:
            # Ray's text of the error is the remote traceback, coloured for a terminal.
            traceback = _TERMINAL_COLOURS.sub("", str(err))
            raise ComputeError(type(err.cause).__name__, str(err.cause), traceback) from err
        except RayError as err:  # the worker or its node died, the result was lost, …
            raise ComputeError(type(err).__name__, str(err)) from err

    def done(self) -> bool:
        ready, _ = ray.wait([self._ref], timeout=0, fetch_local=False)
        return bool(ready)

    def cancel(self) -> None:
        # A finished task is left alone: force-cancelling one as it completes can crash the driver (a race in
        # Ray itself: "Tried to complete task that was not pending"). Without force, Ray interrupts a task only
        # between Python bytecodes: a task blocked in native code (a sleep, a CUDA kernel, a socket) would run
        # on. Force ends its worker process now.
        if not self.done():
            ray.cancel(self._ref, force=True)


class RayCompute(Compute):
    """Tasks on the Ray cluster this process is connected to."""

    def __init__(self, owns_connection: bool) -> None:
        self._owns_connection = owns_connection

    @classmethod
    def open(cls, address: str | None) -> RayCompute:
        """Start Ray on this machine with every CPU (`address` None) or connect to `ray://host:port`.

        A process talks to one Ray: if it is already connected, that connection is joined instead.
        """
        if ray.is_initialized():
            return cls(owns_connection=False)
        if address is None:
            ray.init(
                num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, ignore_reinit_error=True
            )
        else:
            ray.init(address=address)
        return cls(owns_connection=True)

    def submit(
        self, fn: Callable[..., Any], *args: Any, num_cpus: float = 1, num_gpus: float = 0, **kwargs: Any
    ) -> ComputeTask:
        ref = _remote_call.options(num_cpus=num_cpus, num_gpus=num_gpus).remote(fn, args, kwargs)
        return RayTask(ref)

    def resources(self) -> dict[str, float]:
        total = ray.cluster_resources()
        return {"CPU": float(total.get("CPU", 0)), "GPU": float(total.get("GPU", 0))}

    def shutdown(self) -> None:
        # A Ray this adapter only joined belongs to whoever started it.
        if self._owns_connection:
            ray.shutdown()
            self._owns_connection = False
