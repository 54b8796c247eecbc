"""The bus contract and delivery guarantees on the embedded `local://` SQLite log and SQLite databases."""

from __future__ import annotations

import sqlite3

import pytest

from shared.bus.local import LocalBus
from tests.contract.bus_contract import BusContract
from tests.contract.delivery_contract import DeliveryContract


class TestLocalBus(BusContract):
    """BusContract on `local://`."""

    @pytest.fixture
    def bus_url(self, tmp_path) -> str:
        return f"local://{tmp_path}/bus.sqlite?session_timeout_s=0.5"


class TestLocalDelivery(DeliveryContract):
    """DeliveryContract on `local://` + `sqlite://`."""

    @pytest.fixture
    def bus_url(self, tmp_path) -> str:
        return f"local://{tmp_path}/bus.sqlite?session_timeout_s=0.5"

    @pytest.fixture
    def db_url(self, tmp_path) -> str:
        return f"sqlite:///{tmp_path}/db"


def test_a_second_member_takes_over_when_the_first_stops_renewing(tmp_path):
    """Within a group only the lease holder reads; a standby takes the topic once the lease expires."""
    bus = LocalBus.from_url(f"local://{tmp_path}/bus.sqlite?session_timeout_s=0.3")
    bus.publish("t", "k", b"1")
    holder, standby = bus.subscribe("g", ["t"]), bus.subscribe("g", ["t"])
    assert len(holder.poll(0.1)) == 1
    assert standby.poll(0.1) == []
    assert len(standby.poll(1.0)) == 1  # holder stopped polling: its lease ran out, the record is redelivered
    bus.close()


def test_a_url_without_a_path_is_refused():
    """`local://` with no file is a configuration error that says what to write."""
    with pytest.raises(ValueError, match="local:///path/to/bus.sqlite"):
        LocalBus.from_url("local://")


def test_ping_fails_while_the_log_is_gone_and_answers_once_it_is_back(tmp_path):
    """The probe opens the log afresh, so a moved or deleted file fails it even though the bus's own handle still
    reads the old one."""
    bus = LocalBus.from_url(f"local://{tmp_path}/bus/bus.sqlite")
    (tmp_path / "bus").rename(tmp_path / "elsewhere")
    with pytest.raises(sqlite3.OperationalError, match="unable to open database file"):
        bus.ping(1.0)
    (tmp_path / "elsewhere").rename(tmp_path / "bus")
    bus.ping(1.0)
    bus.close()
