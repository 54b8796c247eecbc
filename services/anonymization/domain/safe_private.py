"""Safe private attributes the Retain Safe Private Option keeps: rows of DICOM PS3.15 Table E.3.10-1."""

from __future__ import annotations

# Source: DICOM PS3.15 (Security and System Management Profiles), Annex E, section E.3.10
# "Retain Safe Private Option", Table E.3.10-1 "Safe Private Attributes" — transcribed by hand from the
# standard's text as (group, private creator, element within the block, VR, meaning). This is a PARTIAL
# transcription (the table has several hundred rows); a private attribute not listed here is removed,
# so a missing row costs information, never privacy. Matching is by creator AND element, never by tag alone,
# because the block offset (gggg,00xx) differs from file to file.
# Not generated like Table E.1-1 because no machine-readable copy of E.3.10-1 exists on this machine or in
# the pinned packages (checked 2026-11): innolitics/dicom-standard's JSON covers only E.1-1 (its one
# private row says "(GGGG,EEEE) where GGGG is odd": X, rtnSafePrivOpt C); dicom-anonymizer 2.1.0 ships only
# E.1-1's basic actions; pydicom's _private_dict is the private data dictionary (names and VRs, no safety
# judgement); gdcm's XML holds PS3.3/PS3.6, not PS3.15; the part15 DocBook XML (the one source with the
# table) is not here. Generating it needs part15.xml from dicom.nema.org added to data/
SAFE_PRIVATE_ROWS: tuple[tuple[int, str, int, str, str], ...] = (
    (0x0019, "SIEMENS MR HEADER", 0x0C, "IS", "B_value"),
    (0x0019, "SIEMENS MR HEADER", 0x0D, "CS", "Diffusion Directionality"),
    (0x0019, "SIEMENS MR HEADER", 0x0E, "FD", "Diffusion Gradient Direction"),
    (0x0019, "SIEMENS MR HEADER", 0x27, "FD", "B_matrix"),
    (0x0043, "GEMS_PARM_01", 0x39, "IS", "Slop_int_6... slop_int_9"),
    (0x0019, "GEMS_ACQU_01", 0x23, "DS", "Table Speed [mm/rotation]"),
    (0x0019, "GEMS_ACQU_01", 0x24, "DS", "Mid Scan Time [sec]"),
    (0x0019, "GEMS_ACQU_01", 0x27, "DS", "Rotation Speed [msec]"),
    (0x0043, "GEMS_PARM_01", 0x27, "SH", "Scan Pitch Ratio"),
    (0x2001, "Philips Imaging DD 001", 0x03, "FL", "Diffusion B-Factor"),
    (0x2001, "Philips Imaging DD 001", 0x04, "CS", "Diffusion Direction"),
    (0x2005, "Philips MR Imaging DD 001", 0x0D, "FL", "Scale Intercept"),
    (0x2005, "Philips MR Imaging DD 001", 0x0E, "FL", "Scale Slope"),
    (0x7053, "Philips PET Private Group", 0x00, "DS", "SUV Factor"),
    (0x7053, "Philips PET Private Group", 0x09, "DS", "Activity Concentration Scale Factor"),
    (0x0099, "NQHeader", 0x01, "UI", "Version"),
    (0x0099, "NQHeader", 0x04, "SS", "Return Code"),
    (0x0099, "NQHeader", 0x10, "FL", "MI"),
    (0x0099, "NQHeader", 0x20, "SH", "Units"),
    (0x0099, "NQHeader", 0x21, "FL", "ICV"),
    (0x0199, "NQLeft", 0x01, "FL", "Left Cortical White Matter"),
    (0x0199, "NQLeft", 0x02, "FL", "Left Cortical Gray Matter"),
    (0x0199, "NQLeft", 0x0B, "FL", "Left Hippocampus"),
    (0x0299, "NQRight", 0x01, "FL", "Right Cortical White Matter"),
    (0x0299, "NQRight", 0x02, "FL", "Right Cortical Gray Matter"),
    (0x0299, "NQRight", 0x0B, "FL", "Right Hippocampus"),
    (0x7E01, "HOLOGIC, Inc.", 0x12, "OB", "Codec Content"),
)


def safe_private_index(rows=SAFE_PRIVATE_ROWS) -> frozenset[tuple[int, str, int]]:
    """(group, creator, element byte) for each safe row, for lookup."""
    return frozenset((group, creator.strip(), element) for group, creator, element, _vr, _meaning in rows)
