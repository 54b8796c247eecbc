"""The behaviour every compute adapter must have; subclass `ComputeContract` and provide `compute`."""

from __future__ import annotations

import os
import time

import pytest

from shared.compute import Compute, ComputeCancelled, ComputeError, TrainingSession

# Generous: the first task on a fresh pool waits for a worker process to start.
RESULT_TIMEOUT_S = 60
SLEEP_S = 1.0


def sleep_then_return(item: tuple[float, int]) -> int:
    """Sleep `item[0]` seconds, then return `item[1]`: a task whose finishing order the test controls."""
    seconds, value = item
    time.sleep(seconds)
    return value


def fail(message: str) -> None:
    """Raise a ValueError carrying `message`, as a failing task does."""
    raise ValueError(message)


def sleep_then_fail(item: tuple[float, str]) -> None:
    """Sleep `item[0]` seconds, then fail with message `item[1]`: a failure whose timing the test controls."""
    seconds, message = item
    time.sleep(seconds)
    raise ValueError(message)


def count_epochs(config: dict, session: TrainingSession) -> dict:
    """A training loop that reports `config["epochs"]` epochs (a beat apart) unless told to stop; returns what it did."""
    import torch

    model = session.prepare_model(torch.nn.Linear(2, 1))
    for epoch in range(1, config["epochs"] + 1):
        if not session.report({"epoch": epoch, "rank": session.rank}):
            return {"stopped_after": epoch}
        time.sleep(0.3)
    return {"epochs": config["epochs"], "parameters": sum(p.numel() for p in model.parameters())}


def fail_training(config: dict, session: TrainingSession) -> None:
    raise ValueError(config["why"])


class ComputeContract:
    """Tests run against every adapter; a subclass supplies `compute`, ideally class-scoped (pools start slowly)."""

    @pytest.fixture
    def compute(self) -> Compute:
        raise NotImplementedError("a subclass provides the compute pool under test")

    def test_result_comes_back(self, compute: Compute) -> None:
        """A submitted function's return value comes back, keyword arguments passed through."""
        assert compute.submit(int, "ff", base=16).result(timeout=RESULT_TIMEOUT_S) == 255

    def test_task_runs_in_another_process(self, compute: Compute) -> None:
        """Tasks run in worker processes, not in the caller."""
        assert compute.submit(os.getpid).result(timeout=RESULT_TIMEOUT_S) != os.getpid()

    def test_done_reports_completion(self, compute: Compute) -> None:
        """`done` is false while a task runs and true once its result is ready."""
        task = compute.submit(sleep_then_return, (SLEEP_S, 1))
        assert not task.done()
        assert task.result(timeout=RESULT_TIMEOUT_S) == 1
        assert task.done()

    def test_exception_surfaces_as_compute_error(self, compute: Compute) -> None:
        """An exception raised in a task arrives as ComputeError with its type name, message and traceback."""
        task = compute.submit(fail, "series 1.2.3 has two slice sizes")
        with pytest.raises(ComputeError) as raised:
            task.result(timeout=RESULT_TIMEOUT_S)
        assert raised.value.error_type == "ValueError"
        assert raised.value.message == "series 1.2.3 has two slice sizes"
        assert "series 1.2.3 has two slice sizes" in str(raised.value)
        assert "fail" in raised.value.traceback

    def test_map_preserves_order(self, compute: Compute) -> None:
        """`map` returns results in the order of its items, even when later items finish first."""
        items = [(0.6, 0), (0.0, 1), (0.3, 2), (0.0, 3)]
        assert compute.map(sleep_then_return, items, num_cpus=0.25) == [0, 1, 2, 3]

    def test_map_raises_the_first_failure(self, compute: Compute) -> None:
        """When items fail, `map` raises the ComputeError of the first failing item in order, even when a later item
        failed sooner, and cancels the items still running."""
        items = [(0.3, "first bad item"), (0.0, "second bad item"), (30.0, "a slow item")]
        start = time.monotonic()
        with pytest.raises(ComputeError, match="first bad item"):
            compute.map(sleep_then_fail, items, num_cpus=0.25)
        assert time.monotonic() - start < 20, "map waited for the slow item instead of cancelling it"

    def test_map_runs_items_in_parallel(self, compute: Compute) -> None:
        """Two sleeps through `map` take about as long as one, not twice as long."""
        # Half a CPU each lets two tasks share even a one-CPU pool, so this never needs skipping.
        num_cpus = min(1.0, compute.resources()["CPU"] / 2)
        compute.map(sleep_then_return, [(0.1, 0), (0.1, 1)], num_cpus=num_cpus)  # start two workers first

        def wall_time(count: int) -> float:
            start = time.monotonic()
            compute.map(sleep_then_return, [(SLEEP_S, n) for n in range(count)], num_cpus=num_cpus)
            return time.monotonic() - start

        one, two = wall_time(1), wall_time(2)
        assert two < one + SLEEP_S / 2, f"one sleep took {one:.2f} s, two took {two:.2f} s"

    def test_timeout_raises_timeout_error(self, compute: Compute) -> None:
        """Waiting less than a task needs raises TimeoutError, and the task can still be cancelled."""
        task = compute.submit(sleep_then_return, (30.0, 1), num_cpus=0.25)
        with pytest.raises(TimeoutError):
            task.result(timeout=0.2)
        task.cancel()
        with pytest.raises(ComputeCancelled):
            task.result(timeout=RESULT_TIMEOUT_S)
        assert task.done()

    def test_resources_report_cpus(self, compute: Compute) -> None:
        """The pool reports at least one CPU, and a GPU count."""
        resources = compute.resources()
        assert resources["CPU"] >= 1
        assert resources["GPU"] >= 0

    def test_training_reports_come_back_in_order_and_a_stop_ends_the_loop(self, compute: Compute) -> None:
        """Rank 0's reports reach on_report in order and the loop's return value comes back; once on_report says
        stop, the loop's next report says so and its return value shows where it stopped."""
        seen: list[dict] = []
        result = compute.train(count_epochs, {"epochs": 3}, on_report=lambda metrics: seen.append(metrics) or True)
        assert result == {"epochs": 3, "parameters": 3}
        assert seen == [{"epoch": 1, "rank": 0}, {"epoch": 2, "rank": 0}, {"epoch": 3, "rank": 0}]
        stopped = compute.train(count_epochs, {"epochs": 100}, on_report=lambda metrics: metrics["epoch"] < 2)
        assert 2 <= stopped["stopped_after"] < 10

    def test_a_failing_training_loop_raises_its_own_error(self, compute: Compute) -> None:
        """The loop's exception type and message, not the framework's wrapping of them."""
        with pytest.raises(ComputeError) as raised:
            compute.train(fail_training, {"why": "only 1 item is labelled"})
        assert (raised.value.error_type, raised.value.message) == ("ValueError", "only 1 item is labelled")
