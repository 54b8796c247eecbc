"""Label classes of a dataset: created by managers with a value, colour, type and coded concept; listed by value."""

from __future__ import annotations

import time
import uuid

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from radlab.annotation.v1 import annotation_service_pb2 as pb
from radlab.quoting import shown
from services.annotation import store
from services.annotation.domain import classes as rules
from services.annotation.domain.segmentation import Code, Segment
from services.annotation.handlers import audit, datasets
from shared import paging
from shared.auth import Principal
from shared.db import Database, UnitOfWork
from shared.errors import AlreadyExists


def create_class(db: Database, caller: Principal, request: pb.CreateLabelClassRequest) -> pb.LabelClass:
    name = rules.clean_name(request.name)
    category = _code(request.category) if request.HasField("category") else None
    concept = _code(request.concept) if request.HasField("concept") else None
    attributes = rules.clean_attributes([(a.name, a.kind, list(a.choices)) for a in request.attributes])
    with db.unit_of_work() as uow:
        datasets.visible(uow, caller, request.dataset_id)
        return _create(uow, caller, request.dataset_id, name, request.value, request.color, request.description,
                       request.type or pb.LABEL_CLASS_TYPE_SEGMENTATION_3D, category, concept, attributes)


def _create(uow: UnitOfWork, caller: Principal, dataset_id: str, name: str, value: int, color: str, description: str,
            class_type: int, category: Code | None, concept: Code | None, attributes: list[dict]) -> pb.LabelClass:
    table = store.label_classes
    rows = uow.execute(sa.select(table.c.name, table.c.value).where(table.c.dataset_id == dataset_id)).all()
    if any(row.name == name for row in rows):
        raise AlreadyExists(f"dataset {dataset_id} has a class named {shown(name)} already")
    value = rules.check_value(value, {row.value for row in rows})
    category, concept = rules.codes_for(name, category, concept)
    label_class_id = str(uuid.uuid4())
    uow.execute(table.insert().values(
        label_class_id=label_class_id, dataset_id=dataset_id, name=name, value=value, color=rules.color_for(color, value),
        description=description.strip(), class_type=class_type, category=list(_tuple(category)),
        concept=list(_tuple(concept)), attributes=attributes, created_at=time.time(),
    ))
    audit.record(uow, caller.tenant, caller.subject, "class.created", dataset_id=dataset_id, name=name, value=value)
    return _message(uow.execute(sa.select(table).where(table.c.label_class_id == label_class_id)).one())


def create_missing(uow: UnitOfWork, caller: Principal, dataset_id: str, segment: Segment) -> pb.LabelClass:
    """A class for an imported segment no class matches: its name, its value when free, its colour and codes."""
    table = store.label_classes
    taken = set(uow.execute(sa.select(table.c.value).where(table.c.dataset_id == dataset_id)).scalars())
    value = segment.value if segment.value not in taken else 0
    return _create(uow, caller, dataset_id, segment.name, value, segment.color, "", pb.LABEL_CLASS_TYPE_SEGMENTATION_3D,
                   segment.category, segment.type, [])


def list_classes(db: Database, caller: Principal, dataset_id: str, after: int, limit: int):
    table = store.label_classes
    with db.read() as conn:
        datasets.visible(conn, caller, dataset_id)
        rows, next_after = paging.page_of(conn, sa.select(table).where(table.c.dataset_id == dataset_id), table.c.value, after, limit)
    return [_message(row) for row in rows], next_after


def class_rows(conn: UnitOfWork | Connection, dataset_id: str) -> dict:
    """Every class row of the dataset, by value."""
    table = store.label_classes
    return {row.value: row for row in conn.execute(sa.select(table).where(table.c.dataset_id == dataset_id)).all()}


def dataset_classes(conn: UnitOfWork | Connection, dataset_id: str) -> dict[int, Segment]:
    """Every class of the dataset as the segment exports write, by value."""
    rows = class_rows(conn, dataset_id).values()
    return {row.value: Segment(value=row.value, name=row.name, color=row.color, category=Code(*row.category),
                               type=Code(*row.concept)) for row in rows}


def _message(row) -> pb.LabelClass:
    return pb.LabelClass(
        label_class_id=row.label_class_id, dataset_id=row.dataset_id, name=row.name, value=row.value, color=row.color,
        description=row.description, type=row.class_type, category=_concept(row.category), concept=_concept(row.concept),
        attributes=[pb.ClassAttribute(name=a["name"], kind=a["kind"], choices=a["choices"]) for a in row.attributes],
    )


def _code(concept: pb.CodedConcept) -> Code:
    return Code(concept.value.strip(), concept.scheme.strip(), concept.meaning.strip())


def _tuple(code: Code) -> tuple[str, str, str]:
    return code.value, code.scheme, code.meaning


def _concept(stored: list[str]) -> pb.CodedConcept:
    value, scheme, meaning = stored
    return pb.CodedConcept(value=value, scheme=scheme, meaning=meaning)
