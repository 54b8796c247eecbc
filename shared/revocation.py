"""Token revocation as annotation announces it (TokenRevoked): every service's copy of the deny list, its handler, and
the in-memory view of it that the auth interceptor checks on every call."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

import sqlalchemy as sa

from radlab.annotation.v1 import events_pb2 as annotation_events
from shared.consumer import Handler
from shared.db import Database, UnitOfWork, idempotent
from shared.events import Event, event_type

log = logging.getLogger(__name__)

TABLE = "revoked_tokens"
# How stale a process's view of the deny list may be: a revocation a service has applied is refused by every call
# into the process at most this long after.
REFRESH_S = 1.0


class RevokedTokens:
    """The revoked tokens that have not yet expired, by tenant and token id, in the service's own `revoked_tokens`
    table (a copy of what annotation announced; each replica reads it through a DenyList)."""

    def __init__(self, metadata: sa.MetaData):
        self.table = sa.Table(
            TABLE,
            metadata,
            sa.Column("tenant", sa.String(63), primary_key=True),
            sa.Column("token_id", sa.String(64), primary_key=True),
            sa.Column("expires_at", sa.Float, nullable=False, index=True),
        )

    def on_token_revoked(self, uow: UnitOfWork, event: Event) -> None:
        revoked: annotation_events.TokenRevoked = event.message
        table = self.table
        expires_at = revoked.expire_time.seconds + revoked.expire_time.nanos / 1e9
        key = sa.and_(table.c.tenant == event.envelope.tenant, table.c.token_id == revoked.token_id)
        kept = uow.execute(sa.select(table.c.expires_at).where(key)).scalar()
        if kept is None:
            uow.execute(table.insert().values(tenant=event.envelope.tenant, token_id=revoked.token_id,
                                              expires_at=expires_at))
        elif kept < expires_at:
            uow.execute(table.update().where(key).values(expires_at=expires_at))
        # A token past its expiry is refused for that alone, so its revocation can go.
        uow.execute(table.delete().where(table.c.expires_at < time.time()))

    def event_handlers(self, db: Database, consumer: str) -> dict[str, Handler]:
        """TokenRevoked, applied once per event id."""
        return {event_type(annotation_events.TokenRevoked): idempotent(db, consumer, self.on_token_revoked)}


class DenyList:
    """The tokens revoked in the databases of this process's services, read again at most every `refresh_s`.

    Most calls cost a set lookup: the first call after the copy in memory turns `refresh_s` old reads the tables again,
    and calls arriving meanwhile wait for that one read rather than use the old copy. The first read happens here, so
    the process never serves a call before it knows what was revoked."""

    def __init__(self, databases: Iterable[Database], refresh_s: float = REFRESH_S):
        self._tables = [(db, _table(db)) for db in databases]
        self._refresh_s = refresh_s
        self._lock = threading.Lock()
        self._revoked: frozenset[tuple[str, str]] = frozenset()
        self._read_at = time.monotonic()
        self._read()

    def revoked(self, tenant: str, token_id: str) -> bool:
        """Whether the token `token_id` of `tenant` is revoked (as of at most `refresh_s` ago)."""
        if self._stale():
            with self._lock:
                if self._stale():  # not read meanwhile by the call this one waited for
                    started = time.monotonic()
                    try:
                        self._read()
                    except Exception:  # the database is away: keep the last copy, try again after refresh_s
                        log.exception("reading the revoked tokens failed; using the copy of %.0f s ago", started - self._read_at)
                    self._read_at = started
        return (tenant, token_id) in self._revoked

    def _stale(self) -> bool:
        return time.monotonic() - self._read_at >= self._refresh_s

    def _read(self) -> None:
        now = time.time()
        revoked = set()
        for db, table in self._tables:
            with db.read() as conn:
                rows = conn.execute(sa.select(table.c.tenant, table.c.token_id).where(table.c.expires_at > now))
                revoked.update((row.tenant, row.token_id) for row in rows)
        self._revoked = frozenset(revoked)


def _table(db: Database) -> sa.Table:
    table = db.metadata.tables.get(TABLE)
    if table is None:
        raise ValueError(
            f"{db.service} keeps no {TABLE} table, so it would serve revoked tokens: add RevokedTokens to its store"
        )
    return table
