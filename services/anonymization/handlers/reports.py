"""Anonymization reports: what the pass did to each scan, as the caller may see them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import sqlalchemy as sa
from pydicom.datadict import tag_for_keyword
from sqlalchemy.engine import Connection

from radlab.anonymization.v1 import anonymization_service_pb2 as pb
from radlab.quoting import shown
from services.anonymization import store
from shared import paging
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import NotFound
from shared.protos import timestamp

if TYPE_CHECKING:
    from services.anonymization.handlers import Ports


def get_report(ports: Ports, caller: Principal, scan_id: str) -> pb.AnonymizationReport:
    with ports.db.read() as conn:
        row = report_row(conn, caller.tenant, scan_id) if scan_id else None
    if row is None:
        raise NotFound(f"no anonymization report for scan {shown(scan_id)}")
    return _report(row)


def list_reports(ports: Ports, caller: Principal, dataset_id: str, before: int, limit: int) -> tuple[list[pb.AnonymizationReport], int | None]:
    """One page of reports, newest first; `before` is the position the page starts before (0: from the newest)."""
    table = store.reports
    query = sa.select(table).where(table.c.tenant == caller.tenant)
    if dataset_id:
        query = query.where(table.c.dataset_id == dataset_id)
    with ports.db.read() as conn:
        rows, next_before = paging.page_of(conn, query, table.c.seq, before, limit, newest_first=True)
    return [_report(row) for row in rows], next_before


def report_row(conn: UnitOfWork | Connection, tenant: str, scan_id: str):
    """The scan's report row, or None: only a scan the pass de-identified has one."""
    table = store.reports
    return conn.execute(sa.select(table).where(table.c.tenant == tenant, table.c.scan_id == scan_id)).first()


def _report(row) -> pb.AnonymizationReport:
    return pb.AnonymizationReport(
        scan_id=row.scan_id, dataset_id=row.dataset_id, profile=pb.Profile.FromString(row.profile),
        instance_count=row.instance_count, anonymized_count=row.anonymized_count, held_count=row.held_count,
        dropped_count=row.dropped_count,
        action_counts=[pb.ActionCount(action=pb.DeidAction.Value(name), count=count) for name, count in json.loads(row.action_counts).items()],
        hold_counts=[pb.HoldCount(reason=pb.HoldReason.Value(name), count=count) for name, count in json.loads(row.hold_counts).items()],
        warnings=json.loads(row.warnings), create_time=timestamp(row.created_at),
        attribute_actions=[
            pb.AttributeAction(tag=_tag(keyword), keyword=keyword, action=pb.DeidAction.Value(action), instance_count=count)
            for keyword, action, count in json.loads(row.attribute_actions or "[]")
        ],
    )


def _tag(keyword: str) -> str:
    tag = tag_for_keyword(keyword)
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})" if tag is not None else ""
