"""The database contract on the embedded `sqlite:///folder` adapter, and what only that adapter does."""

from __future__ import annotations

import sqlite3

import pytest

from shared.db import Database, service_metadata
from tests.contract.db_contract import DatabaseContract


class TestSqliteDatabase(DatabaseContract):
    """DatabaseContract on `sqlite:///folder` (one file per service)."""

    @pytest.fixture
    def db_url(self, tmp_path) -> str:
        return f"sqlite:///{tmp_path}/db"


def test_each_service_keeps_its_own_file_in_the_folder(tmp_path):
    """`sqlite:///folder` keeps service `s` in `folder/s.sqlite`, creating the folder if needed."""
    db = Database(f"sqlite:///{tmp_path}/state/db", "annotation", service_metadata())
    db.dispose()
    assert [path.name for path in (tmp_path / "state" / "db").iterdir() if path.suffix == ".sqlite"] == ["annotation.sqlite"]


@pytest.mark.parametrize("name", ["radlab.sqlite", "radlab.db"])
def test_a_url_naming_a_file_is_refused_with_what_to_write_instead(tmp_path, name):
    """A sqlite URL naming a file says it wants a folder, and creates nothing."""
    with pytest.raises(ValueError, match=r"names a file; name a folder: each service keeps <folder>/<service>\.sqlite"):
        Database(f"sqlite:///{tmp_path}/{name}", "annotation", service_metadata())
    assert list(tmp_path.iterdir()) == []


def test_an_unsupported_url_is_refused_with_the_urls_that_work():
    """A database URL of an unknown scheme names the schemes to use."""
    with pytest.raises(ValueError, match=r"unsupported database URL 'mysql://db/radlab': use sqlite:///folder"):
        Database("mysql://db/radlab", "annotation", service_metadata())


def test_ping_fails_while_the_file_is_gone_and_answers_once_it_is_back(tmp_path):
    """The probe opens the service's file afresh: the pool's open connections would still read a file moved away."""
    db = Database(f"sqlite:///{tmp_path}/db", "annotation", service_metadata())
    (tmp_path / "db").rename(tmp_path / "elsewhere")
    with pytest.raises(sqlite3.OperationalError, match="unable to open database file"):
        db.ping(1.0)
    (tmp_path / "elsewhere").rename(tmp_path / "db")
    db.ping(1.0)
    db.dispose()
