"""A consumer process for the delivery tests: applies DatasetCreated events (one effect row each, plus a
follow-up DatasetShared event through the outbox) and kills itself with SIGKILL at an injected point.

    python -m tests.contract.crash_worker BUS_URL DB_URL GROUP TENANT MODE N

MODE: `after-commit` dies after the N-th event's transaction commits (effects and outbox row durable,
offset not committed, outbox not yet relayed); `mid-batch` dies just before applying the N-th event of
a batch whose earlier events are applied but not committed; `drain` applies and relays everything,
then exits 0 (so do the others if they run out of events first).
"""

from __future__ import annotations

import os
import signal
import sys
import time

import sqlalchemy as sa

from radlab.annotation.v1 import events_pb2
from shared import bus as bus_port
from shared.consumer import EventConsumer
from shared.db import Database, OutboxRelay, idempotent, service_metadata
from shared.events import event_type

SERVICE = "deliverytest"


def metadata() -> sa.MetaData:
    """The worker's tables: the shared outbox/processed tables plus one row per applied event."""
    meta = service_metadata()
    sa.Table(
        "effects",
        meta,
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("dataset_id", sa.String(64), nullable=False),
    )
    return meta


def main(bus_url: str, db_url: str, group: str, tenant: str, mode: str, n: int) -> int:
    bus = bus_port.connect(bus_url)
    db = Database(db_url, SERVICE, metadata())
    effects = db.metadata.tables["effects"]
    seen = 0

    def apply(uow, event) -> None:
        if event.envelope.tenant != tenant:
            return
        uow.execute(effects.insert().values(event_id=event.id, dataset_id=event.message.dataset_id))
        uow.emit(events_pb2.DatasetShared(dataset_id=event.message.dataset_id, vendor_id="v"), subject=event.message.dataset_id, tenant=tenant)

    applied = idempotent(db, group, apply)

    def handle(event) -> None:
        nonlocal seen
        seen += 1
        if mode == "mid-batch" and seen == n:
            os.kill(os.getpid(), signal.SIGKILL)
        applied(event)
        if mode == "after-commit" and seen == n:
            os.kill(os.getpid(), signal.SIGKILL)

    consumer = EventConsumer(bus, group, {event_type(events_pb2.DatasetCreated): handle}, poll_timeout_s=0.5, batch=10)
    relay = OutboxRelay(db, bus)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        consumer.run_once()
        relay.publish_pending()
        if not any(consumer.subscription.lag().values()) and not relay.pending():
            consumer.subscription.close()
            return 0
    return 1


if __name__ == "__main__":
    bus_url, db_url, group, tenant, mode, n = sys.argv[1:7]
    sys.exit(main(bus_url, db_url, group, tenant, mode, int(n)))
