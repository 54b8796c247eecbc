"""The vendor-share cache's one table name, `vendor_shares`, on ingestion databases from earlier releases too.

Those named the table `dataset_vendors`; opening one renames it and keeps its rows, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from services.ingestion import store
from shared.auth import Principal
from shared.db import Database

SHARED = [("hospital-a", "dataset-1", "acme"), ("hospital-a", "dataset-2", "globex")]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db'}"
    return request.getfixturevalue("postgres_database_url")


def earlier_release_metadata() -> sa.MetaData:
    """Ingestion's tables as the release before the rename had them: the cache named `dataset_vendors`."""
    earlier = sa.MetaData()
    for table in store.metadata.tables.values():
        table.to_metadata(earlier, name="dataset_vendors" if table.name == "vendor_shares" else None)
    return earlier


def test_an_older_ingestion_database_keeps_its_vendor_shares_under_the_one_name(db_url):
    """Rows cached in `dataset_vendors` are in `vendor_shares` after the upgrade, and vendors see what they saw; the
    table is then as a new database has it, and opening again changes nothing."""
    older = Database(db_url, "ingestion", earlier_release_metadata())
    with older.unit_of_work() as uow:
        uow.execute(older.metadata.tables["dataset_vendors"].insert(),
                    [dict(tenant=t, dataset_id=d, vendor_id=v) for t, d, v in SHARED])
    older.dispose()
    fresh = Database(db_url, "fresh", store.metadata, store.migrations)
    new_primary_key = sa.inspect(fresh.engine).get_pk_constraint("vendor_shares")
    fresh.dispose()

    for _ in range(2):
        db = Database(db_url, "ingestion", store.metadata, store.migrations)
        try:
            inspector = sa.inspect(db.engine)
            assert not inspector.has_table("dataset_vendors")
            assert inspector.get_pk_constraint("vendor_shares") == new_primary_key
            table = store.vendor_shares.table
            with db.read() as conn:
                rows = conn.execute(sa.select(table.c.tenant, table.c.dataset_id, table.c.vendor_id)).all()
                assert sorted(tuple(row) for row in rows) == SHARED
                acme = Principal("acme-user", "vendor", "hospital-a", vendor="acme")
                assert store.vendor_shares.visible(conn, acme, "dataset-1")
                assert not store.vendor_shares.visible(conn, acme, "dataset-2")
                assert conn.execute(sa.text("SELECT name FROM schema_migrations")).scalars().all() == ["vendor-shares-renamed"]
        finally:
            db.dispose()
