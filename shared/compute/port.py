"""The compute port: run Python functions as tasks on a pool of worker processes (one machine or a cluster)."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable
from typing import Any


class ComputeError(Exception):
    """A task raised; carries the remote exception's type name, message and traceback as text."""

    def __init__(self, error_type: str, message: str, traceback: str = "") -> None:
        super().__init__(error_type, message, traceback)
        self.error_type = error_type
        self.message = message
        self.traceback = traceback

    def __str__(self) -> str:
        return f"{self.error_type}: {self.message}"


class ComputeCancelled(ComputeError):
    """The task was cancelled before it finished."""


class ComputeTask(abc.ABC):
    """A handle on one submitted task."""

    @abc.abstractmethod
    def result(self, timeout: float | None = None) -> Any:
        """The task's return value, waiting up to `timeout` seconds (None: no limit).

        Raises ComputeError if the task raised, TimeoutError if it is still running at the timeout.
        """

    @abc.abstractmethod
    def done(self) -> bool:
        """Whether the task has finished, successfully or not."""

    @abc.abstractmethod
    def cancel(self) -> None:
        """Stop the task if it has not finished; its `result` then raises ComputeCancelled."""


class TrainingSession(abc.ABC):
    """What a training loop sees on its worker: its rank, the model wrapper for data-parallel training, and the
    channel its reports travel back on."""

    rank: int
    world_size: int

    @abc.abstractmethod
    def prepare_model(self, module: Any) -> Any:
        """The torch module placed on this worker's device and wrapped for data-parallel training when world_size > 1."""

    @abc.abstractmethod
    def report(self, metrics: dict[str, Any]) -> bool:
        """Send rank 0's `metrics` to whoever started the run (other ranks' reports are dropped); False once they
        asked the run to stop, so the loop ends early."""


class Compute(abc.ABC):
    """Runs functions in worker processes; `fn` and its arguments must be picklable."""

    @abc.abstractmethod
    def submit(
        self, fn: Callable[..., Any], *args: Any, num_cpus: float = 1, num_gpus: float = 0, **kwargs: Any
    ) -> ComputeTask:
        """Start `fn(*args, **kwargs)` on a worker holding `num_cpus` CPUs and `num_gpus` GPUs (fractions allowed)."""

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any], *, num_cpus: float = 1) -> list[Any]:
        """`[fn(item) for item in items]`, one task per item, run in parallel as far as CPUs allow.

        Raises the ComputeError of the first failed item in order, cancelling the tasks still running.
        """
        tasks = [self.submit(fn, item, num_cpus=num_cpus) for item in items]
        try:
            return [task.result() for task in tasks]
        except BaseException:
            for task in tasks:
                task.cancel()
            raise

    @abc.abstractmethod
    def train(
        self, loop: Callable[[dict[str, Any], TrainingSession], Any], config: dict[str, Any], *,
        workers: int = 1, cpus_per_worker: float = 1, gpus_per_worker: float = 0,
        on_report: Callable[[dict[str, Any]], bool] = lambda metrics: True,
    ) -> Any:
        """Run `loop(config, session)` on `workers` data-parallel torch workers; returns rank 0's return value.

        Each report of rank 0 reaches `on_report` here, in order, while the run goes on; once `on_report` returns
        False the loop's next `session.report` returns False. Raises ComputeError if a worker raised or died.
        """

    @abc.abstractmethod
    def resources(self) -> dict[str, float]:
        """The pool's total resources: at least "CPU" and "GPU" counts."""

    @abc.abstractmethod
    def shutdown(self) -> None:
        """Release the pool (stopping it if this process started it)."""
