"""Where de-identified files go in the `dicom` bucket: keys that carry nothing of the originals."""

from __future__ import annotations

from services.anonymization.domain.outcome import Deidentified


def nifti_key(tenant: str, scan_id: str, number: int) -> str:
    """NIfTI has no UIDs: its output is named for the scan (an opaque id) and the file's position in it."""
    return f"{tenant}/nifti/{scan_id}/{number}.nii.gz"


def dicom_key(tenant: str, result: Deidentified) -> str:
    """Made of replaced UIDs only; the engine gives every output all three (a blank one gets a derived UID)."""
    identity = result.identity
    return f"{tenant}/{identity.study_uid}/{identity.series_uid}/{identity.instance_uid}.dcm"
