"""Schema migrations of a service's own tables: named steps of Alembic operations, each applied once.

A new database gets the current tables straight from the metadata and records every step as done
(Alembic's "create_all, then stamp head"); an existing one runs, in order, the steps it has not
recorded, then creates the tables the metadata gained. A step names the table it alters: where that
table is not there yet (a database older than the table itself), the step is recorded without running,
since the table is then created as the metadata has it now. The caller holds the service's write lock,
so replicas starting together migrate once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.engine import Connection

# (name, the existing table the step alters, step): the name is recorded once the step ran (or was not needed);
# names never change once released.
Migration = tuple[str, str, Callable[[Operations], None]]

_versions = sa.Table(
    "schema_migrations",
    sa.MetaData(),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("applied_at", sa.Float, nullable=False),
)


def migrate(conn: Connection, metadata: sa.MetaData, steps: Sequence[Migration]) -> list[str]:
    """Bring the service's tables up to date; returns the names of the steps run now."""
    names = [name for name, _table, _step in steps]
    if len(set(names)) != len(names):
        raise ValueError(f"migration names repeat: {names}")
    inspector = sa.inspect(conn)
    fresh = not inspector.has_table(_versions.name) and not any(inspector.has_table(t) for t in metadata.tables)
    _versions.create(conn, checkfirst=True)
    if fresh:
        metadata.create_all(conn)
        _record(conn, names)
        return []
    done = set(conn.execute(sa.select(_versions.c.name)).scalars())
    operations = Operations(MigrationContext.configure(conn))
    ran = []
    for name, table, step in steps:
        if name not in done:
            if sa.inspect(conn).has_table(table):  # a fresh look: earlier steps may have changed the schema
                step(operations)
                ran.append(name)
            _record(conn, [name])
    metadata.create_all(conn)
    return ran


def _record(conn: Connection, names: list[str]) -> None:
    if names:
        conn.execute(_versions.insert(), [{"name": name, "applied_at": time.time()} for name in names])
