"""What the profile does to one element, decided from its tag and VR alone (the rules both engines apply), and the values it writes."""

from __future__ import annotations

import copy
import hashlib
from functools import lru_cache
from io import BytesIO

from pydicom.datadict import dictionary_has_tag, keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import data_element_generator
from pydicom.filewriter import write_dataset
from pydicom.sequence import Sequence

from services.anonymization.domain.outcome import HoldKind
from services.anonymization.domain import vendor_geometry
from services.anonymization.domain.safe_private import safe_private_index
from services.anonymization.domain.profile import (
    COLUMN_DESCRIPTORS,
    COLUMN_DEVICE,
    COLUMN_MODIFIED_DATES,
    COLUMN_PATIENT_CHARACTERISTICS,
    Options,
    RuleTable,
)

BURNS_IN_TEXT = frozenset({"US", "SC", "XA", "RF", "ES", "XC", "OT"})
TEXT_VRS = frozenset({"SH", "LO", "ST", "LT", "UT", "UC", "AE", "CS", "UR"})
DATE_VRS = frozenset({"DA", "DT", "TM"})
# The VRs an unlisted attribute is read for (shifted, replaced, emptied, searched for names, capped).
READ_WHEN_UNLISTED = frozenset({"SQ", "UI", "PN", "AS"}) | DATE_VRS | TEXT_VRS
# Values never searched for names nor collected as identifying: numbers and UIDs (UIDs are replaced instead).
NOT_IDENTIFYING_VRS = frozenset({"UI", "US", "SS", "UL", "SL", "FL", "FD"})
ENGINE_NAME = "RADLAB_ANON_1"
IMPLEMENTATION_CLASS_UID = "2.25." + str(int.from_bytes(hashlib.sha256(ENGINE_NAME.encode()).digest()[:16], "big"))
DUMMY = {
    "PN": "ANONYMOUS", "LO": "ANONYMIZED", "SH": "ANONYMIZED", "LT": "ANONYMIZED", "ST": "ANONYMIZED",
    "UT": "ANONYMIZED", "UC": "ANONYMIZED", "CS": "ANONYMIZED", "AE": "ANONYMIZED", "UR": "urn:radlab:anonymized",
    "DA": "19000101", "DT": "19000101000000", "TM": "000000", "AS": "000D", "DS": "0", "IS": "0",
    "FL": 0.0, "FD": 0.0, "SS": 0, "US": 0, "SL": 0, "UL": 0, "SV": 0, "UV": 0, "AT": 0,
    "OB": b"\x00\x00", "OW": b"\x00\x00", "UN": b"\x00\x00", "OF": b"\x00" * 4, "OL": b"\x00" * 4,
    "OD": b"\x00" * 8, "OV": b"\x00" * 8,
}
PIXEL_DATA = 0x7FE00010
# Unlisted attributes that describe content the table replaces: they go with it. Document Title
# (0042,0010) names the Encapsulated Document (0042,0011), typically by the source file's name.
DESCRIBES_CONTENT = {0x00420011: (0x00420010,)}

# The steps. Value-dependent ones carry what to do when the value names someone.
KEEP, REMOVE, EMPTY, DUMMY_VALUE, UIDS, SHIFT, AGE = "keep", "remove", "empty", "dummy", "uids", "shift", "age"
RECURSE = "recurse"  # (RECURSE, action counted): clean every item
# (…, step): unlisted text, kept unless it repeats an identifying value, then `step` (a dummy keeps a required
# attribute such as Manufacturer present and valid; a coded string is removed, as a dummy would not be a defined term)
REPLACE_IF_NAMED = "replace if named"
# (…, step, keyword): kept as cleaned (C) when domain/vouched.py vouches for it and it names no one, else `step`
KEEP_IF_VOUCHED = "keep if vouched"

_RESOLVED = {"X/Z": "Z", "X/D": "D", "Z/D": "D", "X/Z/D": "D"}


def dummy_value(vr: str):
    """The valid dummy a D action writes for `vr`."""
    return DUMMY.get(vr[:2], b"\x00\x00" if vr.startswith("O") else "ANONYMIZED")


class Plan:
    """Table E.1-1 under one set of options, as steps per (tag, VR) of a public attribute, remembered once decided."""

    def __init__(self, table: RuleTable, options: Options):
        self.table, self.options = table, options
        self.columns = options.columns()
        # Retain Safe Private: (group, creator, element) kept (PS3.15's rows, and the vendor geometry that is cleaned
        # to its numbers); (group, element) a cheap first test before the creator.
        self.safe_private = safe_private_index() | vendor_geometry.PRIVATE_ROWS if options.retain_safe_private else frozenset()
        self.safe_private_elements = frozenset((group, element) for group, _creator, element in self.safe_private)
        self._steps: dict[tuple[int, str], tuple] = {}
        self._collects: dict[tuple[int, str], bool] = {}

    def action(self, tag: int) -> tuple[str | None, str | None]:
        rule = self.table.rule(tag)
        return (None, None) if rule is None else rule.action(self.columns)

    def collects(self, tag: int, vr: str) -> bool:
        """Whether the value is one the profile removes or replaces (or a name): free text repeating it is cleaned too."""
        found = self._collects.get((tag, vr))
        if found is None:
            action = self.action(tag)[0]
            found = self._collects[(tag, vr)] = vr == "PN" or (action not in (None, "K", "C") and vr not in NOT_IDENTIFYING_VRS)
        return found

    def public(self, tag: int, vr: str) -> tuple:
        """The step for a public attribute (not a group length, curve or overlay)."""
        step = self._steps.get((tag, vr))
        if step is None:
            step = self._steps[(tag, vr)] = self._decide(tag, vr)
        return step

    def _decide(self, tag: int, vr: str) -> tuple:
        action, column = self.action(tag)
        known = dictionary_has_tag(tag)
        if action is None:
            if vr == "SQ":
                return (RECURSE, "K")
            if not known:
                return (REMOVE,)  # a public tag no dictionary knows may hold anything
            if vr not in READ_WHEN_UNLISTED:
                return (KEEP,)
            if vr in TEXT_VRS:
                return (REPLACE_IF_NAMED, (REMOVE,) if vr == "CS" else (DUMMY_VALUE,))
            if vr == "UI":
                return (UIDS,)
            if vr in DATE_VRS:
                return (SHIFT,) if self.options.retain_longitudinal_modified_dates else (KEEP,)
            if vr == "PN":
                return (EMPTY,)
            return (AGE,)
        if action == "X":
            return (REMOVE,)
        if action == "K":
            return {"SQ": (RECURSE, "K"), "AS": (AGE,), "UI": (UIDS,)}.get(vr, (KEEP,))
        if action == "C":
            if vr == "SQ":
                return (RECURSE, "C")
            if column == COLUMN_MODIFIED_DATES and vr in DATE_VRS:
                return (SHIFT,)
            basic = self._basic(self.table.rule(tag).basic, vr)
            if column in (COLUMN_DESCRIPTORS, COLUMN_PATIENT_CHARACTERISTICS, COLUMN_DEVICE) and vr in TEXT_VRS:
                return (KEEP_IF_VOUCHED, basic, keyword_for_tag(tag))  # binary values (Maker Note…) cannot be read: never kept
            return basic
        return self._basic(action, vr)

    @staticmethod
    def _basic(action: str, vr: str) -> tuple:
        if action == "X/Z/U*":
            return (RECURSE, "U") if vr == "SQ" else (UIDS,)
        resolved = _RESOLVED.get(action, action)
        if resolved == "X":
            return (REMOVE,)
        if resolved == "U" or (resolved == "D" and vr == "UI"):
            return (UIDS,)
        if vr == "SQ" and action.startswith("X/"):
            return (REMOVE,)  # emptied, a Type 3 sequence is invalid (dciodvfy); Z is for the Type 2 ones, rarer
        if resolved == "Z" or vr == "SQ":
            return (EMPTY,)
        return (DUMMY_VALUE,)


_PLANS: dict[tuple[int, Options], Plan] = {}


def plan_for(table: RuleTable, options: Options) -> Plan:
    """The plan for `table` under `options`, made once per process."""
    plan = _PLANS.get((id(table), options))
    if plan is None or plan.table is not table:
        plan = _PLANS[(id(table), options)] = Plan(table, options)
    return plan


def identifying_tokens(value: str, vr: str) -> list[str]:
    """What free text must not repeat from an identifying value: the value, and for a name each of its parts."""
    candidates = [value]
    if vr == "PN":
        candidates += value.replace("=", "^").split("^")
    tokens = []
    for candidate in candidates:
        text = candidate.strip().upper()
        if len(text) >= 3 and not (text.isdigit() and len(text) < 4):
            tokens.append(text)
    return tokens


def capped_age(value: str) -> str | None:
    """090Y for an age over 89 (PS3.15 Retain Patient Characteristics; HIPAA's 90-and-over rule), else None."""
    value = value.strip().upper()
    if len(value) == 4 and value[:3].isdigit() and value[3] == "Y" and int(value[:3]) > 89:
        return "090Y"
    return None


def burned_in(burned_in_annotation: str, modality: str) -> tuple[HoldKind, str] | None:
    """Why the instance's pixels may carry text (Burned In Annotation, or a modality that often burns it in), or None."""
    burned, modality = burned_in_annotation.strip().upper(), modality.strip().upper()
    if burned == "YES":
        return HoldKind.BURNED_IN_ANNOTATION, "Burned In Annotation is YES: the pixels carry text; review and clean them before release"
    if modality in BURNS_IN_TEXT and burned != "NO":
        return (
            HoldKind.RISKY_IMAGE_TYPE,
            f"modality {modality} often burns text into the pixels and Burned In Annotation is not NO; review before release",
        )
    return None


@lru_cache(maxsize=4096)
def time_partner(tag: int) -> int | None:
    """For a public …Date attribute, its …Time partner's tag (the pair is shifted as one instant); else None."""
    keyword = keyword_for_tag(tag)
    if not keyword.endswith("Date"):
        return None
    return tag_for_keyword(keyword[:-4] + "Time")


@lru_cache(maxsize=64)
def markers(options: Options, edition: str, rows: int) -> Dataset:
    """PatientIdentityRemoved, DeidentificationMethod, its code sequence (CID 7050) and the longitudinal flag."""
    found = Dataset()
    found.PatientIdentityRemoved = "YES"
    found.DeidentificationMethod = [
        "RADLAB " + ENGINE_NAME, f"PS3.15 {edition} E.1-1 BASIC PROFILE ({rows} ROWS)",
    ] + [meaning[:64] for _code, meaning in options.method_codes()[1:]]
    items = []
    for code, meaning in options.method_codes():
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code, "DCM", meaning
        items.append(item)
    found.DeidentificationMethodCodeSequence = Sequence(items)
    found.LongitudinalTemporalInformationModified = "MODIFIED" if options.retain_longitudinal_modified_dates else "REMOVED"
    return found


@lru_cache(maxsize=64)
def encoded_markers(options: Options, edition: str, rows: int) -> bytes:
    """The markers encoded once as explicit VR little endian (ASCII text: the same bytes in every character set)."""
    stream = DicomBytesIO()
    stream.is_implicit_VR, stream.is_little_endian = False, True
    write_dataset(stream, copy.deepcopy(markers(options, edition, rows)))
    return stream.getvalue()


@lru_cache(maxsize=64)
def raw_markers(options: Options, edition: str, rows: int) -> tuple:
    """The encoded markers as raw elements (copied into an output as they are)."""
    return tuple(data_element_generator(BytesIO(encoded_markers(options, edition, rows)), is_implicit_VR=False, is_little_endian=True))
