"""The encrypted pseudonym map: pseudonyms remembered as they are issued, looked up again only with an audited reason."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import sqlalchemy as sa

from radlab.anonymization.v1 import anonymization_service_pb2 as pb
from radlab.quoting import shown
from services.anonymization import store
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    from services.anonymization.domain.outcome import Report
    from services.anonymization.handlers import Ports

# The engine's entry kinds → the pseudonym map's kinds (and the LookupPseudonym field of each).
KINDS = {"PatientID": "patient_id", "StudyInstanceUID": "study_uid", "SeriesInstanceUID": "series_uid", "SOPInstanceUID": "sop_uid"}
LOOKUP_FIELDS = {
    "patient_pseudonym": ("patient_id", "patient_id"),
    "study_instance_uid": ("study_uid", "study_instance_uid"),
    "series_instance_uid": ("series_uid", "series_instance_uid"),
    "sop_instance_uid": ("sop_uid", "sop_instance_uid"),
}


def pseudonym_pairs(report: Report) -> dict[tuple[str, str], str]:
    """The engine's pseudonym entries of one instance as (kind, pseudonym) → original."""
    return {(KINDS[entry.kind], entry.pseudonym): entry.original for entry in report.pseudonyms}


def remember_pseudonyms(ports: Ports, uow: UnitOfWork, tenant: str, pairs: dict[tuple[str, str], str]) -> None:
    """Seal the original behind each (kind, pseudonym) not yet in the tenant's map."""
    table = store.pseudonyms
    for (kind, pseudonym), original in pairs.items():
        known = uow.execute(
            sa.select(table.c.pseudonym).where(table.c.tenant == tenant, table.c.kind == kind, table.c.pseudonym == pseudonym)
        ).first()
        if known is None:
            nonce, sealed = ports.keys.seal(original, _pseudonym_identity(tenant, kind, pseudonym))
            uow.execute(
                table.insert().values(tenant=tenant, kind=kind, pseudonym=pseudonym, nonce=nonce, ciphertext=sealed, created_at=time.time())
            )


def _pseudonym_identity(tenant: str, kind: str, pseudonym: str) -> str:
    return f"{tenant}\0{kind}\0{pseudonym}"


def lookup_pseudonym(ports: Ports, caller: Principal, request: pb.LookupPseudonymRequest) -> pb.LookupPseudonymResponse:
    """The original behind a pseudonym of the caller's tenant; every call is audited with its reason."""
    which = request.WhichOneof("pseudonym")
    if which is None or not getattr(request, which):
        raise InvalidArgument("name what to look up: patient_pseudonym, study_instance_uid, series_instance_uid or sop_instance_uid")
    if not request.reason.strip():
        raise InvalidArgument("a reason is required for re-identification; it is recorded in the audit log")
    kind, field_name = LOOKUP_FIELDS[which]
    pseudonym = getattr(request, which).strip()
    table = store.pseudonyms
    with ports.db.unit_of_work() as uow:
        row = uow.execute(
            sa.select(table).where(table.c.tenant == caller.tenant, table.c.kind == kind, table.c.pseudonym == pseudonym)
        ).first()
        uow.execute(store.lookups.insert().values(
            tenant=caller.tenant, subject=caller.subject, kind=kind, pseudonym=pseudonym[:64],
            reason=request.reason.strip(), found=row is not None, at=time.time(),
        ))
    if row is None:
        raise NotFound(f"no {kind.replace('_', ' ')} {shown(pseudonym)} was issued in your tenant")
    original = ports.keys.open(row.nonce, row.ciphertext, _pseudonym_identity(caller.tenant, kind, pseudonym))
    return pb.LookupPseudonymResponse(**{field_name: original})
