"""A PACS's DIMSE side, for `radlab pacs query|move --dimse HOST:PORT`: its studies found by C-FIND and sent on by
C-MOVE to Radlab's C-STORE SCP (Study Root Query/Retrieve, pynetdicom)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

# What a study query returns besides the keys it matched on.
STUDY_FIELDS = ("StudyDate", "StudyDescription", "ModalitiesInStudy", "NumberOfStudyRelatedInstances", "PatientID")
_PENDING = (0xFF00, 0xFF01)
# A C-MOVE answer's counts of the instances sent, failed and sent with a warning (Moved's fields, in order).
_DONE_COUNTS = ("NumberOfCompletedSuboperations", "NumberOfFailedSuboperations", "NumberOfWarningSuboperations")


class DimseFailed(RuntimeError):
    """The PACS refused the association or the request, or did not answer; the message says which and why."""


@dataclass(frozen=True)
class Pacs:
    """Where a PACS's DIMSE side listens, its AE title, and the AE title Radlab calls it with (one it knows)."""

    host: str
    port: int
    called_ae: str
    calling_ae: str

    @classmethod
    def parse(cls, address: str, called_ae: str, calling_ae: str) -> Pacs:
        """`HOST:PORT` and the two AE titles; ValueError saying what is wrong."""
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"--dimse is HOST:PORT of the PACS's DICOM side (e.g. pacs.hospital:104), not {address!r}")
        for option, title in (("--called-ae", called_ae), ("--calling-ae", calling_ae)):
            if not 0 < len(title) <= 16 or "\\" in title or not title.isprintable():
                raise ValueError(f"{option} is an AE title of 1 to 16 printable characters, not {title!r}")
        return cls(host.strip("[]"), int(port), called_ae, calling_ae)

    def __str__(self) -> str:
        return f"{self.called_ae}@{self.host}:{self.port}"


def find_studies(pacs: Pacs, filters: Mapping[str, str]):
    """The studies matching `filters` (DICOM keywords → C-FIND matching values) as pydicom Datasets of STUDY_FIELDS."""
    from pydicom import Dataset
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind

    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = filters.get("StudyInstanceUID", "")
    for keyword in STUDY_FIELDS:
        setattr(identifier, keyword, "")
    for keyword, value in filters.items():
        setattr(identifier, keyword, value)
    found = []
    with _association(pacs, StudyRootQueryRetrieveInformationModelFind) as association:
        for status, answer in association.send_c_find(identifier, StudyRootQueryRetrieveInformationModelFind):
            code = _status(pacs, "C-FIND", status)
            if code in _PENDING and answer is not None:
                found.append(answer)
    return found


@dataclass(frozen=True)
class Moved:
    """What the PACS reported of one C-MOVE: instances sent, failed and sent with a warning."""

    completed: int
    failed: int
    warnings: int


def move_study(pacs: Pacs, study_uid: str, destination: str, progress: Callable[[int, int], None]) -> Moved:
    """Ask the PACS to C-STORE every instance of the study to the AE title `destination` (Radlab's SCP, which the PACS
    must know by that title); `progress(done, total)` on each pending answer. DimseFailed if it refuses or fails."""
    from pydicom import Dataset
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove

    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study_uid
    last = None
    with _association(pacs, StudyRootQueryRetrieveInformationModelMove) as association:
        for status, _answer in association.send_c_move(identifier, destination, StudyRootQueryRetrieveInformationModelMove):
            code = _status(pacs, f"C-MOVE of study {study_uid} to {destination}", status, partial_ok=True)
            last = status
            if code in _PENDING:
                done = sum(_count(status, counter) for counter in _DONE_COUNTS)
                progress(done, done + _count(status, "NumberOfRemainingSuboperations"))
    if last is None:
        raise DimseFailed(f"{pacs} ended the C-MOVE of study {study_uid} without a final answer")
    return Moved(*(_count(last, counter) for counter in _DONE_COUNTS))


def _count(status, counter: str) -> int:
    return int(status.get(counter, 0) or 0)


@contextmanager
def _association(pacs: Pacs, sop_class) -> Iterator:
    from pynetdicom import AE

    caller = AE(ae_title=pacs.calling_ae)
    caller.add_requested_context(sop_class)
    association = caller.associate(pacs.host, pacs.port, ae_title=pacs.called_ae)
    if not association.is_established:
        why = "rejected the association" if association.is_rejected else "did not answer"
        raise DimseFailed(f"{pacs} {why}, {_calling(pacs)}")
    try:
        yield association
    finally:
        association.release()


def _status(pacs: Pacs, what: str, status, partial_ok: bool = False) -> int:
    """The status code of an answer; a failure (or no answer: the association ended) raises DimseFailed."""
    if not status or "Status" not in status:
        raise DimseFailed(f"{pacs} ended the association during {what} without an answer, {_calling(pacs)}")
    code = int(status.Status)
    # 0xB000: sub-operations complete, one or more failed or warned — reported through the counts.
    if code == 0 or code in _PENDING or (partial_ok and code == 0xB000):
        return code
    comment = status.get("ErrorComment", "")
    raise DimseFailed(f"{pacs} answered {what} with status 0x{code:04X}{f' ({comment})' if comment else ''}, "
                      f"{_calling(pacs)}")


def _calling(pacs: Pacs) -> str:
    return (f"Radlab calling as {pacs.calling_ae} (a PACS answers only the AE titles it lists as modalities of the "
            "calling host: --calling-ae)")
