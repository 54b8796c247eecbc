"""Which engine de-identifies a DICOM instance: the byte-level one nearly always, the dataset engine for the rest."""

from __future__ import annotations

from services.anonymization.domain import byte_engine, dataset_engine, transcode
from services.anonymization.domain.outcome import Deidentified
from services.anonymization.domain.profile import Options, RuleTable
from shared.errors import InvalidArgument


def anonymize(
    data: bytes, table: RuleTable, key: bytes, tenant: str = "default", options: Options = Options(), scan: str = ""
) -> Deidentified:
    """De-identify one DICOM instance (Part 10, or without its preamble and file meta: the output is always
    Part 10); raise AnonymizationFailed (and produce nothing) when it cannot.

    `scan` names what the instance arrived with (an opaque id): instances of one scan with a blank Study or
    Series Instance UID, or no patient identity at all, get the same replacement, as they were grouped
    before; without it each such instance stands alone.

    An implicit VR little endian instance is first re-encoded as explicit VR little endian (`transcode`: the
    VRs pydicom reads it with), so its output is explicit VR too. Nearly every instance then goes through the
    byte-level engine (`byte_engine`); what it does not take (another encoding, anything unusual, anything wrong)
    goes through the dataset engine (`dataset_engine`), which also words every failure. Both apply the same steps
    and give the same output where both apply."""
    if not isinstance(key, bytes) or len(key) < 16:
        raise InvalidArgument("the anonymization key must be at least 16 bytes")
    data = transcode.to_explicit(data) or data
    fast = byte_engine.deidentify(data, table, key, tenant, options, scan)
    return fast if fast is not None else dataset_engine.deidentify_dataset(data, table, key, tenant, options, scan)
