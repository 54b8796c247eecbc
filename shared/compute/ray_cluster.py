"""The Ray adapter of the compute port: Ray started on this machine, or a remote cluster via Ray client."""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
from traceback import format_exception
from collections.abc import Callable
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayError, RayTaskError, TaskCancelledError

from shared.compute.port import Compute, ComputeCancelled, ComputeError, ComputeTask, TrainingSession

log = logging.getLogger(__name__)

REPORT_POLL_S = 0.5  # how often the driver collects a training run's reports


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


@ray.remote(num_cpus=0)
class _Channel:
    """Between a training run's rank 0 and the process that started it: reports one way, a stop and the loop's
    return value the other."""

    def __init__(self) -> None:
        self._reports: list[dict[str, Any]] = []
        self._stopped = False
        self._result: Any = None
        self._failure: tuple[str, str, str] | None = None

    def put(self, metrics: dict[str, Any]) -> bool:
        self._reports.append(metrics)
        return not self._stopped

    def take(self) -> list[dict[str, Any]]:
        reports, self._reports = self._reports, []
        return reports

    def stop(self) -> None:
        self._stopped = True

    def stopped(self) -> bool:
        return self._stopped

    def finish(self, result: Any) -> None:
        self._result = result

    def result(self) -> Any:
        return self._result

    def fail(self, error_type: str, message: str, traceback: str) -> None:
        self._failure = self._failure or (error_type, message, traceback)

    def failure(self) -> tuple[str, str, str] | None:
        return self._failure


class _RaySession(TrainingSession):
    """A Ray Train worker's view of its run."""

    def __init__(self, channel: Any) -> None:
        from ray import train

        context = train.get_context()
        self.rank = context.get_world_rank()
        self.world_size = context.get_world_size()
        self._channel = channel

    def prepare_model(self, module: Any) -> Any:
        from ray.train.torch import prepare_model

        return prepare_model(module)

    def report(self, metrics: dict[str, Any]) -> bool:
        if self.rank == 0:
            return ray.get(self._channel.put.remote(metrics))
        return not ray.get(self._channel.stopped.remote())


def _train_worker(config: dict[str, Any]) -> None:
    # What Ray Train runs on every worker: the caller's loop with a session; rank 0's result goes back by the channel.
    channel = config["channel"]
    session = _RaySession(channel)
    try:
        result = config["loop"](config["config"], session)
    except Exception as error:  # the loop's own error, not Ray Train's wrapping of it, reaches the caller
        ray.get(channel.fail.remote(type(error).__name__, str(error), "".join(format_exception(error))))
        raise
    if session.rank == 0:
        ray.get(channel.finish.remote(result))


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
            # Ray's own metrics agent (Radlab exports its own metrics) took ~15 % of a 2-core machine from training
            # (bench.training's Ray-path overhead: +18 % with it, -1 % without); usage reports have no network here.
            # Set before the cluster starts, so its processes inherit them.
            os.environ.setdefault("RAY_enable_metrics_collection", "0")
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            try:
                ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
            except Exception as error:  # a local node that did not come up in time (a raylet lost at start): once more
                log.warning("the local Ray node did not start; starting it again", extra={"error": str(error)[:300]})
                ray.shutdown()
                ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
        else:
            ray.init(address=address)
        return cls(owns_connection=True)

    def submit(
        self, fn: Callable[..., Any], *args: Any, num_cpus: float = 1, num_gpus: float = 0, **kwargs: Any
    ) -> ComputeTask:
        ref = _remote_call.options(num_cpus=num_cpus, num_gpus=num_gpus).remote(fn, args, kwargs)
        return RayTask(ref)

    def train(
        self, loop: Callable[[dict[str, Any], TrainingSession], Any], config: dict[str, Any], *,
        workers: int = 1, cpus_per_worker: float = 1, gpus_per_worker: float = 0,
        on_report: Callable[[dict[str, Any]], bool] = lambda metrics: True,
    ) -> Any:
        """Ray Train's TorchTrainer (torch's process group set up across the workers), started on a thread while this
        one hands rank 0's reports to `on_report`."""
        from ray.train import RunConfig, ScalingConfig
        from ray.train.torch import TorchTrainer

        channel = _Channel.remote()
        resources = {"CPU": cpus_per_worker} | ({"GPU": gpus_per_worker} if gpus_per_worker else {})
        with tempfile.TemporaryDirectory(prefix="radlab-train-") as storage:  # Ray Train's own files; nothing we keep
            trainer = TorchTrainer(
                _train_worker, train_loop_config={"loop": loop, "config": config, "channel": channel},
                scaling_config=ScalingConfig(num_workers=workers, use_gpu=gpus_per_worker > 0, resources_per_worker=resources),
                run_config=RunConfig(storage_path=storage, name="run"),
            )
            failure: list[BaseException] = []
            fitted = threading.Thread(target=_fit, args=(trainer, failure), name="ray-train", daemon=True)
            fitted.start()
            while fitted.is_alive():
                fitted.join(REPORT_POLL_S)
                for metrics in ray.get(channel.take.remote()):
                    if not on_report(metrics):
                        ray.get(channel.stop.remote())
        if (raised := ray.get(channel.failure.remote())) is not None:
            ray.kill(channel)
            raise ComputeError(*raised)
        if failure:
            error = failure[0]
            cause = getattr(error, "__cause__", None) or error
            raise ComputeError(type(cause).__name__, _TERMINAL_COLOURS.sub("", str(cause))) from error
        result = ray.get(channel.result.remote())
        ray.kill(channel)
        return result

    def resources(self) -> dict[str, float]:
        total = ray.cluster_resources()
        return {"CPU": float(total.get("CPU", 0)), "GPU": float(total.get("GPU", 0))}

    def shutdown(self) -> None:
        # A Ray this adapter only joined belongs to whoever started it.
        if self._owns_connection:
            ray.shutdown()
            self._owns_connection = False


def _fit(trainer: Any, failure: list[BaseException]) -> None:
    try:
        trainer.fit()
    except BaseException as error:  # handed to the thread that waits on the run
        failure.append(error)
