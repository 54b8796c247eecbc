"""The compute contract on Ray started on this machine (`connect("local")`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.compute import Compute, connect
from tests.contract.compute_contract import ComputeContract


class TestLocalRay(ComputeContract):
    """Runs the contract on one local Ray, started once for the class (starting Ray takes seconds)."""

    @pytest.fixture(scope="class")
    @classmethod
    def compute(cls) -> Iterator[Compute]:
        compute = connect("local")
        yield compute
        compute.shutdown()


@pytest.mark.parametrize("url", ["ray", "kafka://localhost:9092", "local://x"])
def test_connect_rejects_other_urls(url: str) -> None:
    """Unsupported URLs raise ValueError naming the supported forms."""
    with pytest.raises(ValueError, match="ray://"):
        connect(url)
