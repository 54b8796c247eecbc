"""Which values of an attribute kept "cleaned" (action C) are known to hold nothing identifying: the rest are replaced."""

from __future__ import annotations

import re
from functools import lru_cache

# Coded strings (CS) kept under C, by tag: the standard's enumerated/defined terms for that attribute. A CS value
# is only uppercase letters, digits, space and underscore, at most 16 characters, which still spells a surname or
# an MRN ("SMITH", "MRN0012345"): its shape vouches for nothing, only membership in the attribute's terms does.
DEFINED_TERMS = {
    0x04000565: frozenset({"COERCE", "CORRECT"}),  # Reason for the Attribute Modification (PS3.3 C.12.1.1.9)
}

# Words a descriptor may be made of: the words of the real series in data/ (their protocol, series and study
# descriptions, less the people and sites they name) and DICOM's defined terms for body parts (PS3.16 CID 4031 /
# Body Part Examined), modalities, views, patient positions, image types, scanning sequences and options.
VOCABULARY = frozenset("""
ABDOMEN ABD ACCELERATED ACQ ACQUISITION ADC ANGIO ANKLE AORTA AP APPLIED ARM ARTERIAL ASC ASCENDING AX AXIAL B0 BASELINE
BH BLADDER BODY BOLD BOLUS BONE BRAIN BREAST C CALIBRATION CALF CAROTID CARDIAC CERVICAL CHEST CINE CIRCLE CLAVICLE COCCYX
COLON COLONOSCOPY COMPRESSION CONTRAST COR CORONAL CR CSPINE CT CTA DAILY DE DELAYED DERIVED DESC DESCENDING DIFF DIFFUSION
DIR DIXON DOSE DTI DWI DX DYN DYNAMIC ECHO ELBOW EP EP2D EPI EPIRT ESOPHAGUS EXAMPLE EXTREMITY FACE FAST FAT FDG FEMUR
FIBULA FIESTA FINGER FLAIR FLUORO FOOT FOREARM FS FSE FUNCTIONAL GR GRADIENT GRE HAND HASTE HEAD HEART HEEL HELICAL HFS HIP
HIGH HUMERUS IAC IMAGE INFERIOR INPUT IR IRFSPGR ISO JAW JOINT KIDNEY KNEE L LAT LATERAL LEFT LEG LIVER LL LOCALIZER
LOSSLESS LOSSY LOW LSPINE LUMBAR LUNG MAP MEDIASTINUM MG MIP MOCO MONITOR MPR MPRAGE MR MRA MRI MT MULTIBAND NAVIGATOR NECK
NM NONCONTRAST OBLIQUE OFFSET ORBIT ORIGINAL OUT PA PANCREAS PATIENT PELVIS PERFUSION PET PHANTOM PHASE POINT PORTAL POST
POSTERIOR PRE PRIMARY PROSTATE PROTOCOL PT QA QC R RATIO RECON REFORMAT RESEARCH RIB RIGHT RL ROI ROT ROUTINE RT RTSTRUCT
SACRUM SAG SAGITTAL SAVEBYSLC SCAN SCOUT SE SECONDARY SEGMENTATION SELECTION SHOULDER SINGLE SINUS SKULL SL SLICE SLICES
SOFT SPECTRO SPGR SPINE SPIRAL SSFSE STANDARD STIR STRUCT SUPERIOR SURVEY SWI T T1 T1W T2 T2W T2STAR TEST TESTING THIGH
THORAX THYROID TIBIA TISSUE TOF TOPOGRAM TRA TRACE TRANSFORM TRANSVERSE TSE TSPINE UPPER US VALUE VENOUS VIEW VOLUME W WATER
O WB WHOLE WITH WITHOUT WO WRIST XA
""".split())
# A number with an optional unit: a slice thickness, a b-value, a time, a ratio; three digits before the point at most,
# so no year, phone group or ID fits.
_NUMBER_WITH_UNIT = re.compile(r"\d{1,3}(\.\d{1,4})?(MM|CM|M|MS|S|SEC|MIN|ML|MG|KV|KVP|MA|MAS|T|HZ|DEG|SL|D|X|%)?")
# A vocabulary word with a count glued on: DIR16, B1000, T2, P2.
_WORD_WITH_COUNT = re.compile(r"B\d{1,4}|(DIR|P|E|TE|TR|TI|FA|NEX|SL)\d{1,3}")
_SEPARATORS = re.compile(r"[\s_\-,:;()+^/=]+")
# Dates, times and phone numbers whose parts alone would each pass as small numbers.
_REFUSED = re.compile(r"\d{1,4}\s*[-/.]\s*\d{1,2}\s*[-/.]\s*\d{1,4}|\d{1,2}:\d{2}|\d{3,}\D{1,3}\d{3,}")


@lru_cache(maxsize=4096)
def vouched_text(text: str) -> bool:
    """Whether free text is made only of vocabulary words and numbers with units (and at most two numbers in a
    row, so no date or phone number split by spaces); anything else — a name, an ID, a date, an address — is not."""
    upper = text.strip().upper()
    if not upper or _REFUSED.search(upper):
        return False
    numbers_in_row = 0
    for token in _SEPARATORS.split(upper):
        if not token:
            continue
        if _NUMBER_WITH_UNIT.fullmatch(token):
            numbers_in_row += 1
            if numbers_in_row > 2:
                return False
            continue
        numbers_in_row = 0
        if token not in VOCABULARY and not _WORD_WITH_COUNT.fullmatch(token):
            return False
    return True


def vouched(tag: int, vr: str, values: list[str]) -> bool:
    """Whether every value of a C attribute is known to hold nothing identifying (an empty one holds nothing)."""
    if vr == "CS":
        terms = DEFINED_TERMS.get(tag, frozenset())
        return all(value.strip() in terms for value in values)
    return all(vouched_text(value) for value in values)
