"""Studies, series and volumes as the caller may see them."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from radlab.ingestion.v1 import ingestion_service_pb2 as pb
from radlab.quoting import shown
from radlab.type.v1 import geometry_pb2
from services.ingestion import store
from shared import paging
from shared.auth import Principal
from shared.errors import NotFound
from shared.protos import timestamp

if TYPE_CHECKING:
    from services.ingestion.handlers import Ports


def list_studies(ports: Ports, caller: Principal, request: pb.ListStudiesRequest, after: int, limit: int) -> tuple[list[pb.Study], int | None]:
    table = store.studies
    query = sa.select(table).where(table.c.tenant == caller.tenant)
    if request.dataset_id:
        query = query.where(table.c.dataset_id == request.dataset_id)
    if request.patient_pseudonym:
        query = query.where(table.c.patient_pseudonym == request.patient_pseudonym)
    if request.modality:
        query = query.where(table.c.modalities.contains(json.dumps(request.modality)))
    with ports.db.read() as conn:
        rows, next_after = paging.page_of(conn, query, table.c.seq, after, limit)
        return _studies(conn, rows), next_after


def get_study(ports: Ports, caller: Principal, study_id: str) -> pb.Study:
    return _one(ports, caller, store.studies.c.study_id, study_id, "study", _studies)


def _one(ports: Ports, caller: Principal, key, value: str, noun: str, describe: Callable[[Connection, list], list]):
    """The row of `key`'s table whose `key` is `value` in the caller's tenant, as `describe` makes pages of them."""
    table = key.table
    with ports.db.read() as conn:
        row = conn.execute(sa.select(table).where(table.c.tenant == caller.tenant, key == value)).first()
        if row is None:
            raise NotFound(f"{noun} {shown(value)} not found")
        return describe(conn, [row])[0]


def _studies(conn: Connection, rows) -> list[pb.Study]:
    """The studies of `rows`, their series counted in one query for the page."""
    counts = _counts(conn, store.series.c.study_id, [row.study_id for row in rows])
    return [pb.Study(
        study_id=row.study_id, dataset_id=row.dataset_id, study_instance_uid=row.study_instance_uid,
        patient_pseudonym=row.patient_pseudonym, study_date=row.study_date, description=row.description,
        modalities=json.loads(row.modalities), series_count=counts.get(row.study_id, 0), create_time=timestamp(row.created_at),
    ) for row in rows]


def _counts(conn: Connection, column, keys: list[str]) -> dict[str, int]:
    """How many rows of `column`'s table hold each of `keys` (absent: none)."""
    if not keys:
        return {}
    return dict(conn.execute(sa.select(column, sa.func.count()).where(column.in_(keys)).group_by(column)).all())


def list_series(ports: Ports, caller: Principal, request: pb.ListSeriesRequest, after: int, limit: int) -> tuple[list[pb.Series], int | None]:
    table = store.series
    query = sa.select(table).where(table.c.tenant == caller.tenant)
    if request.study_id:
        query = query.where(table.c.study_id == request.study_id)
    if request.dataset_id:
        query = query.where(table.c.dataset_id == request.dataset_id)
    with ports.db.read() as conn:
        rows, next_after = paging.page_of(conn, query, table.c.seq, after, limit)
        return _series_of(conn, rows), next_after


def get_series(ports: Ports, caller: Principal, series_id: str) -> pb.Series:
    return _one(ports, caller, store.series.c.series_id, series_id, "series", _series_of)


def _series_of(conn: Connection, rows) -> list[pb.Series]:
    """The series of `rows`, their instances counted and volumes listed in one query each for the page."""
    ids = [row.series_id for row in rows]
    instances = _counts(conn, store.instances.c.series_id, ids)
    volumes: dict[str, list[str]] = defaultdict(list)
    if ids:
        table = store.volumes
        for series_id, volume_id in conn.execute(
            sa.select(table.c.series_id, table.c.volume_id).where(table.c.series_id.in_(ids)).order_by(table.c.seq)
        ):
            volumes[series_id].append(volume_id)
    return [pb.Series(
        series_id=row.series_id, study_id=row.study_id, dataset_id=row.dataset_id, series_instance_uid=row.series_instance_uid,
        modality=row.modality, series_number=row.series_number, description=row.description, body_part=row.body_part,
        instance_count=instances.get(row.series_id, 0), volume_ids=volumes[row.series_id], create_time=timestamp(row.created_at),
    ) for row in rows]


def get_volume(ports: Ports, caller: Principal, volume_id: str) -> pb.Volume:
    row = visible_volume(ports, caller, volume_id)
    return pb.Volume(
        volume_ref=geometry_pb2.VolumeRef.FromString(row.volume_ref), series_id=row.series_id, study_id=row.study_id,
        dataset_id=row.dataset_id, modality=row.modality, min_value=row.min_value, max_value=row.max_value,
        create_time=timestamp(row.created_at),
    )


def visible_volume(ports: Ports, caller: Principal, volume_id: str):
    """The volume, if the caller may see it: its tenant's, and for vendors only in a dataset shared with them."""
    table = store.volumes
    with ports.db.read() as conn:
        row = conn.execute(sa.select(table).where(table.c.tenant == caller.tenant, table.c.volume_id == volume_id)).first() if volume_id else None
        if row is not None and not store.vendor_shares.visible(conn, caller, row.dataset_id):
            row = None
    if row is None:
        raise NotFound(f"volume {shown(volume_id)} not found")
    return row
