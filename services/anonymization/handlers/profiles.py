"""Per-dataset de-identification profiles: the options the engine runs with, for datasets annotation announced."""

from __future__ import annotations

import time
from dataclasses import fields
from typing import TYPE_CHECKING

import sqlalchemy as sa
from google.protobuf import field_mask_pb2
from sqlalchemy.engine import Connection

from radlab.anonymization.v1 import anonymization_service_pb2 as pb
from radlab.quoting import shown
from services.anonymization import store
from services.anonymization.domain.profile import Options
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import InvalidArgument, NotFound
from shared.protos import timestamp

if TYPE_CHECKING:
    from services.anonymization.handlers import Ports

PROFILE_FLAGS = tuple(option.name for option in fields(Options))
# Every field UpdateProfile may set: the PS3.15 options, and what is done with text burned into the pixels.
PROFILE_FIELDS = (*PROFILE_FLAGS, "burned_in_text")


def get_profile(ports: Ports, caller: Principal, dataset_id: str) -> pb.Profile:
    if not dataset_id:
        raise InvalidArgument("dataset_id is required")
    with ports.db.read() as conn:
        _require_known_dataset(conn, caller.tenant, dataset_id)
        return profile_of(conn, caller.tenant, dataset_id)


def update_profile(ports: Ports, caller: Principal, profile: pb.Profile, mask: field_mask_pb2.FieldMask) -> pb.Profile:
    if not profile.dataset_id:
        raise InvalidArgument("profile.dataset_id is required")
    paths = list(mask.paths) or list(PROFILE_FIELDS)
    unknown = sorted(set(paths) - set(PROFILE_FIELDS))
    if unknown:
        raise InvalidArgument(f"update_mask names {', '.join(unknown)}; it may name only {', '.join(PROFILE_FIELDS)}")
    if "burned_in_text" in paths and profile.burned_in_text not in pb.BurnedInTextPolicy.values():
        raise InvalidArgument(f"profile.burned_in_text {profile.burned_in_text} is not a BurnedInTextPolicy; use one of "
                              f"{', '.join(pb.BurnedInTextPolicy.keys())}")
    table = store.profiles
    with ports.db.unit_of_work() as uow:
        _require_known_dataset(uow, caller.tenant, profile.dataset_id)
        current = profile_of(uow, caller.tenant, profile.dataset_id)
        values = {name: getattr(profile if name in paths else current, name) for name in PROFILE_FIELDS}
        values |= {"updated_by": caller.subject, "updated_at": time.time()}
        key = (table.c.tenant == caller.tenant) & (table.c.dataset_id == profile.dataset_id)
        if uow.execute(sa.select(table.c.dataset_id).where(key)).first():
            uow.execute(table.update().where(key).values(**values))
        else:
            uow.execute(table.insert().values(tenant=caller.tenant, dataset_id=profile.dataset_id, **values))
        return profile_of(uow, caller.tenant, profile.dataset_id)


def _require_known_dataset(conn: UnitOfWork | Connection, tenant: str, dataset_id: str) -> None:
    """A profile exists only for a dataset annotation announced (DatasetCreated) in the caller's tenant; any other id is
    NOT_FOUND, worded alike whether it does not exist or is another tenant's."""
    if not store.datasets.known(conn, tenant, dataset_id):
        # DatasetCreated reaches anonymization a moment after CreateDataset returns, and that moment cannot be told
        # from a wrong id: one NOT_FOUND for both, saying to retry for the first.
        raise NotFound(
            f"dataset {shown(dataset_id)} not found: check its id with `radlab datasets list` (one created a moment ago "
            "may not have reached anonymization yet: retry in a moment)"
        )


def profile_of(conn: UnitOfWork | Connection, tenant: str, dataset_id: str) -> pb.Profile:
    """The dataset's profile as stored, or the engine's defaults where none is."""
    table = store.profiles
    row = conn.execute(sa.select(table).where(table.c.tenant == tenant, table.c.dataset_id == dataset_id)).first()
    if row is None:
        return pb.Profile(dataset_id=dataset_id, **{flag: getattr(Options(), flag) for flag in PROFILE_FLAGS})
    return pb.Profile(
        dataset_id=dataset_id, updated_by=row.updated_by, update_time=timestamp(row.updated_at),
        **{name: getattr(row, name) for name in PROFILE_FIELDS},
    )


def options_of(profile: pb.Profile) -> Options:
    """The engine's options as `profile` sets them."""
    return Options(**{flag: getattr(profile, flag) for flag in PROFILE_FLAGS})
