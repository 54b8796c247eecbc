"""Items and folders: an item per volume ingestion announces (VolumeReady → ItemAdded); listing with filters and
paging; folders, tags and free metadata."""

from __future__ import annotations

import time
import uuid

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from radlab.annotation.v1 import annotation_service_pb2 as pb
from radlab.annotation.v1 import events_pb2
from radlab.ingestion.v1 import events_pb2 as ingestion_events
from radlab.quoting import shown
from radlab.type.v1 import geometry_pb2
from services.annotation import store
from services.annotation.domain import items as rules
from services.annotation.handlers import access, audit, datasets
from services.annotation.handlers.labels import annotations_of
from shared import paging
from shared.auth import Principal
from shared.db import Database, UnitOfWork
from shared.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from shared.events import Event
from shared.protos import timestamp

UPDATABLE = {"folder_id", "tags", "metadata"}


def on_volume_ready(uow: UnitOfWork, event: Event) -> None:
    """A built volume becomes an item of its dataset, announced by ItemAdded (once per volume, however often delivered).

    A volume that supersedes an earlier part of its series moves that part's item onto it (the item keeps its id,
    ItemAdded says where it now points) while nobody has annotated the item; an annotated item keeps its annotations
    on the earlier geometry, and the whole volume becomes a new item whose metadata and audit record say so."""
    ready: ingestion_events.VolumeReady = event.message
    table = store.items
    tenant = event.envelope.tenant
    if uow.execute(sa.select(table.c.item_id).where(table.c.volume_id == ready.volume_id)).first():
        return
    earlier = uow.execute(sa.select(table).where(table.c.tenant == tenant, table.c.volume_id.in_(list(ready.supersedes_volume_ids)))
                          .order_by(table.c.seq.desc())).first() if ready.supersedes_volume_ids else None
    annotated = earlier is not None and uow.execute(sa.select(store.annotations.c.annotation_id).where(
        store.annotations.c.tenant == tenant, store.annotations.c.item_id == earlier.item_id).limit(1)).first() is not None
    if earlier is not None and not annotated:
        uow.execute(table.update().where(table.c.item_id == earlier.item_id).values(
            volume_id=ready.volume_id, volume_ref=ready.volume_ref.SerializeToString()))
        uow.emit(events_pb2.ItemAdded(item_id=earlier.item_id, dataset_id=ready.dataset_id, volume_id=ready.volume_id,
                                      study_id=ready.study_id, series_id=ready.series_id, modality=ready.modality),
                 subject=earlier.item_id, tenant=tenant)
        audit.record(uow, tenant, "radlab.ingestion", "item.volume_extended", dataset_id=ready.dataset_id,
                     item_id=earlier.item_id, volume_id=ready.volume_id, previous_volume_id=earlier.volume_id,
                     shape=list(ready.volume_ref.geometry.shape))
        return
    item_id = str(uuid.uuid4())
    name = rules.display_name(ready.series_description, ready.modality, ready.series_id)
    metadata = {"supersedes_item": earlier.item_id, "note": (
        f"the whole series; item {earlier.item_id} holds an earlier part of it and keeps its annotations on that geometry")
    } if earlier is not None else {}
    uow.execute(table.insert().values(
        item_id=item_id, tenant=event.envelope.tenant, dataset_id=ready.dataset_id, volume_id=ready.volume_id,
        study_id=ready.study_id, series_id=ready.series_id, modality=ready.modality, body_part=ready.body_part.upper(),
        display_name=name,
        search_text=f"{name}\n{ready.series_description}".lower(), series_description=ready.series_description,
        folder_id="", item_metadata=metadata, volume_ref=ready.volume_ref.SerializeToString(), created_at=time.time(),
        stage_id="", completed=False, stage_at=0.0,
    ))
    uow.emit(events_pb2.ItemAdded(item_id=item_id, dataset_id=ready.dataset_id, volume_id=ready.volume_id,
                                  study_id=ready.study_id, series_id=ready.series_id, modality=ready.modality),
             subject=item_id, tenant=event.envelope.tenant)
    audit.record(uow, event.envelope.tenant, "radlab.ingestion", "item.added", dataset_id=ready.dataset_id, item_id=item_id,
                 volume_id=ready.volume_id)


def visible_item(conn: UnitOfWork | Connection, caller: Principal, item_id: str):
    """The item's row if the caller may see its dataset, else NotFound."""
    row = conn.execute(sa.select(store.items).where(store.items.c.item_id == item_id, store.items.c.tenant == caller.tenant)).first()
    if row is None:
        raise NotFound(f"item {shown(item_id)} not found")
    try:
        datasets.visible(conn, caller, row.dataset_id)
    except NotFound:
        raise NotFound(f"item {shown(item_id)} not found") from None
    if not access.works_on(conn, caller, item_id):
        raise PermissionDenied(f"item {shown(item_id)} is in none of your tasks; claim its task first (radlab tasks claim)")
    return row


def volume_ref(row) -> geometry_pb2.VolumeRef:
    return geometry_pb2.VolumeRef.FromString(row.volume_ref)


def list_items(db: Database, caller: Principal, request: pb.ListItemsRequest, after: int, limit: int):
    """One page of a dataset's items matching every filter given, in creation order (or newest first)."""
    table = store.items
    query = sa.select(table).where(table.c.dataset_id == request.dataset_id)
    if caller.role in access.TASK_ROLES:
        query = query.where(table.c.item_id.in_(access.tasked_items(caller)))
    if request.folder_id:
        query = query.where(table.c.folder_id == request.folder_id)
    if request.modality:
        query = query.where(table.c.modality == request.modality.upper())
    if request.body_part:
        query = query.where(table.c.body_part == request.body_part.upper())
    if request.text:
        query = query.where(table.c.search_text.contains(request.text.lower(), autoescape=True))
    if request.tag:
        tags = store.item_tags
        query = query.where(table.c.seq.in_(sa.select(tags.c.item_seq).where(tags.c.dataset_id == request.dataset_id,
                                                                               tags.c.tag == request.tag)))
    if request.label_value:
        labels = store.item_labels
        query = query.where(table.c.seq.in_(sa.select(labels.c.item_seq).where(
            labels.c.dataset_id == request.dataset_id, labels.c.label_value == request.label_value)))
    if request.stage_id:
        query = query.where(table.c.stage_id == request.stage_id)
    if request.filter_completed:
        query = query.where(table.c.completed.is_(request.completed))
    if request.assignee:
        query = query.where(table.c.item_id.in_(access.held_by(caller.tenant, request.assignee)))
    if request.HasField("create_after"):
        query = query.where(table.c.created_at >= request.create_after.ToNanoseconds() / 1e9)
    if request.HasField("create_before"):
        query = query.where(table.c.created_at < request.create_before.ToNanoseconds() / 1e9)
    with db.read() as conn:
        datasets.visible(conn, caller, request.dataset_id)
        rows, next_after = paging.page_of(conn, query, table.c.seq, after, limit, newest_first=request.newest_first)
        tags, labels = values_by_item(conn, store.item_tags.c.tag, rows), values_by_item(conn, store.item_labels.c.label_value, rows)
        held = access.holders(conn, [row.item_id for row in rows])
        return [_item(row, tags.get(row.seq, []), labels.get(row.seq, []), held.get(row.item_id, [])) for row in rows], next_after


def get_item(db: Database, caller: Principal, item_id: str) -> pb.Item:
    with db.read() as conn:
        return item_message(conn, caller, visible_item(conn, caller, item_id))


def update_item(db: Database, caller: Principal, item: pb.Item, paths: list[str]) -> pb.Item:
    unknown = set(paths) - UPDATABLE
    if not paths or unknown:
        raise InvalidArgument(f"update_mask must list some of {', '.join(sorted(UPDATABLE))}"
                              + (f"; {', '.join(sorted(unknown))} cannot change" if unknown else ""))
    with db.unit_of_work() as uow:
        row = visible_item(uow, caller, item.item_id)
        values, before, after = {}, {}, {}
        if "folder_id" in paths:
            if item.folder_id:
                _folder(uow, row.dataset_id, item.folder_id)
            values["folder_id"] = item.folder_id
            before["folder_id"], after["folder_id"] = row.folder_id, item.folder_id
        if "metadata" in paths:
            values["item_metadata"] = rules.clean_metadata(dict(item.metadata))
            before["metadata"], after["metadata"] = row.item_metadata, values["item_metadata"]
        if values:
            uow.execute(store.items.update().where(store.items.c.seq == row.seq).values(**values))
        if "tags" in paths:
            tags = rules.clean_tags(list(item.tags))
            before["tags"], after["tags"] = values_by_item(uow, store.item_tags.c.tag, [row]).get(row.seq, []), tags
            uow.execute(store.item_tags.delete().where(store.item_tags.c.item_seq == row.seq))
            if tags:
                uow.execute(store.item_tags.insert(), [dict(item_seq=row.seq, tag=tag, dataset_id=row.dataset_id) for tag in tags])
        audit.record(uow, caller.tenant, caller.subject, "item.updated", dataset_id=row.dataset_id, item_id=row.item_id,
                     before=before, after=after)
        now = values_by_item(uow, store.item_tags.c.tag, [row]).get(row.seq, [])
        folder = values.get("folder_id", row.folder_id)
        uow.emit(events_pb2.ItemUpdated(item_id=row.item_id, dataset_id=row.dataset_id, tags=now, folder_id=folder),
                 subject=row.item_id, tenant=caller.tenant)
        return item_message(uow, caller, visible_item(uow, caller, item.item_id))


def create_folder(db: Database, caller: Principal, dataset_id: str, name: str, parent_folder_id: str) -> pb.Folder:
    name = rules.clean_folder_name(name)
    table = store.folders
    with db.unit_of_work() as uow:
        datasets.visible(uow, caller, dataset_id)
        if parent_folder_id:
            _folder(uow, dataset_id, parent_folder_id)
        if uow.execute(sa.select(table.c.folder_id).where(table.c.dataset_id == dataset_id, table.c.name == name,
                                                          table.c.parent_folder_id == parent_folder_id)).first():
            raise AlreadyExists(f"a folder named {shown(name)} is there already")
        folder_id = str(uuid.uuid4())
        uow.execute(table.insert().values(folder_id=folder_id, dataset_id=dataset_id, name=name,
                                          parent_folder_id=parent_folder_id, created_at=time.time()))
        audit.record(uow, caller.tenant, caller.subject, "folder.created", dataset_id=dataset_id, folder_id=folder_id, name=name)
        return _folder_message(_folder(uow, dataset_id, folder_id))


def list_folders(db: Database, caller: Principal, dataset_id: str, after: int, limit: int):
    table = store.folders
    with db.read() as conn:
        datasets.visible(conn, caller, dataset_id)
        rows, next_after = paging.page_of(conn, sa.select(table).where(table.c.dataset_id == dataset_id), table.c.seq, after, limit)
    return [_folder_message(row) for row in rows], next_after


def item_message(conn, caller: Principal, row) -> pb.Item:
    """The item with its tags, the label values present and the annotations the caller may see."""
    tags, labels = values_by_item(conn, store.item_tags.c.tag, [row]), values_by_item(conn, store.item_labels.c.label_value, [row])
    item = _item(row, tags.get(row.seq, []), labels.get(row.seq, []), access.holders(conn, [row.item_id]).get(row.item_id, []))
    item.annotations.extend(annotations_of(conn, caller, row.item_id))
    return item


def _item(row, tags: list[str], label_values: list[int], assignees: list[str]) -> pb.Item:
    return pb.Item(
        item_id=row.item_id, dataset_id=row.dataset_id, volume_id=row.volume_id, volume_ref=volume_ref(row),
        study_id=row.study_id, series_id=row.series_id, modality=row.modality, display_name=row.display_name,
        folder_id=row.folder_id, tags=tags, create_time=timestamp(row.created_at),
        series_description=row.series_description, metadata=row.item_metadata, label_values=label_values,
        body_part=row.body_part, stage_id=row.stage_id, completed=row.completed, assignees=assignees,
    )


def values_by_item(conn, column: sa.Column, rows) -> dict[int, list]:
    """`column`'s sorted distinct values per item of `rows`, in one query (tags or label values)."""
    found: dict[int, set] = {}
    if rows:
        seq = column.table.c.item_seq
        for item_seq, value in conn.execute(sa.select(seq, column).where(seq.in_([row.seq for row in rows]))):
            found.setdefault(item_seq, set()).add(value)
    return {item_seq: sorted(values) for item_seq, values in found.items()}


def _folder(conn, dataset_id: str, folder_id: str):
    row = conn.execute(sa.select(store.folders).where(store.folders.c.folder_id == folder_id,
                                                      store.folders.c.dataset_id == dataset_id)).first()
    if row is None:
        raise NotFound(f"folder {shown(folder_id)} not found in dataset {dataset_id}")
    return row


def _folder_message(row) -> pb.Folder:
    return pb.Folder(folder_id=row.folder_id, dataset_id=row.dataset_id, name=row.name,
                     parent_folder_id=row.parent_folder_id, create_time=timestamp(row.created_at))
