"""The de-identifier: applies the confidentiality profile to one DICOM instance at every depth and reports what it did."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import struct
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from io import BytesIO

import numpy as np
import pydicom
from pydicom.datadict import dictionary_has_tag
from pydicom.dataelem import DataElement
from pydicom.charset import default_encoding
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import data_element_generator
from pydicom.filewriter import write_data_element, write_dataset, write_file_meta_info
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import UID

from services.anonymization.domain.profile import (
    COLUMN_DESCRIPTORS,
    COLUMN_DEVICE,
    COLUMN_MODIFIED_DATES,
    COLUMN_PATIENT_CHARACTERISTICS,
    Options,
    RuleTable,
)
from services.anonymization.domain.safe_private import safe_private_index
from services.anonymization.domain.temporal import DateShift
from shared.errors import InvalidArgument

WELL_KNOWN_UID_ROOT = "1.2.840.10008."
BURNS_IN_TEXT = frozenset({"US", "SC", "XA", "RF", "ES", "XC", "OT"})
TEXT_VRS = frozenset({"SH", "LO", "ST", "LT", "UT", "UC", "AE", "CS", "UR"})
# The VRs an unlisted attribute is read for (shifted, replaced, emptied, searched for names, capped).
_READ_WHEN_UNLISTED = frozenset({"SQ", "UI", "DA", "DT", "TM", "PN", "AS"}) | TEXT_VRS
_ENGINE_NAME = "RADLAB_ANON_1"
_DUMMY = {
    "PN": "ANONYMOUS", "LO": "ANONYMIZED", "SH": "ANONYMIZED", "LT": "ANONYMIZED", "ST": "ANONYMIZED",
    "UT": "ANONYMIZED", "UC": "ANONYMIZED", "CS": "ANONYMIZED", "AE": "ANONYMIZED", "UR": "urn:radlab:anonymized",
    "DA": "19000101", "DT": "19000101000000", "TM": "000000", "AS": "000D", "DS": "0", "IS": "0",
    "FL": 0.0, "FD": 0.0, "SS": 0, "US": 0, "SL": 0, "UL": 0, "SV": 0, "UV": 0, "AT": 0,
    "OB": b"\x00\x00", "OW": b"\x00\x00", "UN": b"\x00\x00", "OF": b"\x00" * 4, "OL": b"\x00" * 4,
    "OD": b"\x00" * 8, "OV": b"\x00" * 8,
}
_PIXEL_DATA = 0x7FE00010


class AnonymizationFailed(InvalidArgument):
    """The input cannot be de-identified safely; nothing was produced. The message says what to do."""


@dataclass(frozen=True)
class PseudonymEntry:
    """One original → replacement pair, to be stored encrypted so authorised re-identification stays possible."""

    kind: str
    original: str
    pseudonym: str


class HoldKind(Enum):
    """Why an instance is held for review instead of released."""

    BURNED_IN_ANNOTATION = "burned-in annotation"  # the instance says its pixels carry text
    RISKY_IMAGE_TYPE = "risky image type"  # a modality that often burns text in, and no word either way
    HIDDEN_OVERLAY_BITS = "hidden overlay bits"  # compressed pixels use bits above Bits Stored, or cannot be checked


@dataclass
class Report:
    """What the engine did to one instance: element counts per action, the hold decision, the pseudonym pairs."""

    actions: Counter = field(default_factory=Counter)
    held_kind: HoldKind | None = None
    held_reason: str | None = None  # for the reviewer: what was found and what to do
    pseudonyms: list[PseudonymEntry] = field(default_factory=list)
    overlay_bits_cleared: bool = False

    @property
    def held(self) -> bool:
        return self.held_reason is not None

    def hold(self, kind: HoldKind, reason: str | None) -> None:
        """Hold the instance for `reason` (None: nothing found) unless already held: the first reason found is reported."""
        if reason is not None and self.held_reason is None:
            self.held_kind, self.held_reason = kind, reason


@dataclass
class Deidentified:
    """The de-identified instance as Part 10 bytes and as a dataset, with its report."""

    data: bytes
    dataset: Dataset
    report: Report


def anonymize(
    data: bytes, table: RuleTable, key: bytes, tenant: str = "default", options: Options = Options(), scan: str = ""
) -> Deidentified:
    """De-identify one DICOM instance (Part 10, or without its preamble and file meta: the output is always
    Part 10); raise AnonymizationFailed (and produce nothing) when it cannot.

    `scan` names what the instance arrived with (an opaque id): instances of one scan with a blank Study or
    Series Instance UID, or no patient identity at all, get the same replacement, as they were grouped
    before; without it each such instance stands alone."""
    if not isinstance(key, bytes) or len(key) < 16:
        raise InvalidArgument("the anonymization key must be at least 16 bytes")
    dataset = _read(data)
    return _Deidentifier(table, key, tenant, options).run(dataset, scan, data)


# A file written without the 128-byte preamble and 'DICM' starts with its file meta (group 0002), or, with
# no file meta either (a dataset as sent over the network), with its first group, nearly always 0008.
_BARE_STARTS = (b"\x02\x00", b"\x08\x00")
_GUESSED_SYNTAXES = {
    (True, True): pydicom.uid.ImplicitVRLittleEndian, (False, True): pydicom.uid.ExplicitVRLittleEndian,
    (False, False): pydicom.uid.ExplicitVRBigEndian,
}


def _read(data: bytes) -> Dataset:
    part10 = len(data) >= 132 and data[128:132] == b"DICM"
    if not part10 and not (len(data) >= 8 and data[:2] in _BARE_STARTS):
        raise AnonymizationFailed(
            "not DICOM (no 'DICM' marker at byte 128, nor file meta or a dataset at byte 0); "
            "export it from the PACS or modality as DICOM files"
        )
    try:
        dataset = pydicom.dcmread(BytesIO(data), force=not part10)
        _touch(dataset)
    except AnonymizationFailed:
        raise
    except (InvalidDicomError, Exception) as error:  # any parse failure means we cannot vouch for the output
        raise AnonymizationFailed(f"the DICOM file is unreadable or truncated ({type(error).__name__}: {error}); upload it again") from error
    if not part10 and not dataset.file_meta:
        dataset.file_meta.TransferSyntaxUID = _guessed_syntax(dataset)
    syntax = getattr(dataset.file_meta, "TransferSyntaxUID", None)
    if syntax is None or not UID(syntax).is_transfer_syntax:
        raise AnonymizationFailed(f"unsupported or missing transfer syntax {syntax!r}; re-export with a standard DICOM transfer syntax")
    for name, meta_name in (("SOPClassUID", "MediaStorageSOPClassUID"), ("SOPInstanceUID", "MediaStorageSOPInstanceUID")):
        if not dataset.get(name) and dataset.file_meta.get(meta_name):
            setattr(dataset, name, dataset.file_meta.get(meta_name))  # some exporters keep them only in the meta
    if not dataset.get("SOPClassUID"):  # unlike a blank SOP Instance UID (see blank_uids), a class cannot be made up
        raise AnonymizationFailed("the file has no SOP Class UID (a DICOMDIR or a fragment?); upload the image files themselves")
    if "Image Storage" in UID(dataset.SOPClassUID).name and not {0x7FE00008, 0x7FE00009, _PIXEL_DATA} & set(dataset.keys()):
        raise AnonymizationFailed("the image has no pixel data (a truncated file?); upload the complete file")
    _check_pixel_data(dataset, UID(syntax))
    if not UID(syntax).is_deflated:
        _check_structure(data, explicit=not UID(syntax).is_implicit_VR, little=UID(syntax).is_little_endian, start=132 if part10 else 0)
    return dataset


def _guessed_syntax(dataset: Dataset) -> UID:
    """The transfer syntax of a dataset without file meta, from the encoding pydicom found its elements in;
    compressed pixel data does not say which codec made it, so that is refused."""
    pixels = dataset.get_item(_PIXEL_DATA) if _PIXEL_DATA in dataset else None
    if pixels is not None and (getattr(pixels, "length", 0) == _UNDEFINED or getattr(pixels, "is_undefined_length", False)):
        raise AnonymizationFailed(
            "the file has compressed pixel data but no file meta to say how it was compressed; "
            "export it again as a DICOM Part 10 file"
        )
    syntax = _GUESSED_SYNTAXES.get(dataset.original_encoding)
    if syntax is None:
        raise AnonymizationFailed("the file has no file meta and its encoding cannot be told; export it again as a DICOM Part 10 file")
    return syntax


_LONG_VRS = {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"SQ", b"UT", b"UN", b"UC", b"UR", b"SV", b"UV"}
_UNDEFINED = 0xFFFFFFFF


def _check_structure(data: bytes, explicit: bool, little: bool, start: int = 132) -> None:
    """Walk every element header from `start` to the last byte: pydicom stops quietly at a cut, so a
    truncated file would otherwise come out as a shorter, valid-looking instance."""
    position = start
    while position + 8 <= len(data) and data[position:position + 2] == b"\x02\x00":
        length = int.from_bytes(data[position + 6:position + 8], "little")
        if data[position + 4:position + 6] in _LONG_VRS:
            length = int.from_bytes(data[position + 8:position + 12], "little") + 4
        position += 8 + length
    order = "<" if little else ">"
    header, short_length, long_length = struct.Struct(order + "HHL"), struct.Struct(order + "H"), struct.Struct(order + "L")

    def truncated(where: int):
        return AnonymizationFailed(f"the DICOM file is truncated or corrupt near byte {where}; upload the complete file")

    def skip(position: int, length: int, end: int) -> int:
        """Past a value of `length` bytes at `position` (an undefined length: up to its delimiter)."""
        if length == _UNDEFINED:
            return elements(position, end, True)
        if position + length > end:
            raise truncated(position)
        return position + length

    def elements(position: int, end: int, until_delimiter: bool) -> int:
        while position < end:
            if position + 8 > end:
                raise truncated(position)
            group, number, length = header.unpack_from(data, position)  # implicit VR: the length; items too
            if group == 0xFFFE:
                if number in (0xE00D, 0xE0DD):
                    return position + 8
                position = skip(position + 8, length, end)
                continue
            if explicit:
                if data[position + 4:position + 6] in _LONG_VRS:
                    if position + 12 > end:
                        raise truncated(position)
                    length, position = long_length.unpack_from(data, position + 8)[0], position + 12
                else:
                    length, position = short_length.unpack_from(data, position + 6)[0], position + 8
            else:
                position += 8
            position = skip(position, length, end)
        if until_delimiter:
            raise truncated(position)
        return position

    elements(position, len(data), False)


_LONG_LENGTH_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})


def _encode(dataset: Dataset, syntax: UID) -> bytes:
    """The instance as Part 10 bytes. Where _copies_raw (nearly every file), elements still raw (kept
    untouched, or the conformance markers encoded once) are copied byte for byte and pydicom encodes the
    rest; anything else goes through pydicom's writer whole."""
    if not _copies_raw(dataset, syntax):
        output = BytesIO()
        dataset.save_as(output, enforce_file_format=True)
        return output.getvalue()
    if any(tag >> 16 in (0x0000, 0x0002) for tag in dataset.keys()):
        raise ValueError("command or file meta elements inside the dataset")
    if _PIXEL_DATA in dataset:
        dataset[_PIXEL_DATA].is_undefined_length = syntax.is_compressed
    stream = DicomBytesIO()
    stream.is_implicit_VR, stream.is_little_endian = False, True
    stream.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(stream, dataset.file_meta, enforce_standard=True)
    encoding = dataset.get("SpecificCharacterSet", default_encoding)
    for tag in sorted(dataset.keys()):
        element = dataset.get_item(tag)
        value = element.value if element.is_raw else None
        vr = element.VR
        if isinstance(value, bytes) and vr is not None and element.length != _UNDEFINED and (vr in _LONG_LENGTH_VRS or len(value) <= 0xFFFF):
            length = len(value).to_bytes(4, "little") if vr in _LONG_LENGTH_VRS else len(value).to_bytes(2, "little")
            stream.write(struct.pack("<HH", tag >> 16, tag & 0xFFFF) + vr.encode() + (b"\x00\x00" if vr in _LONG_LENGTH_VRS else b"") + length + value)
        else:
            write_data_element(stream, element, encoding)
    return stream.getvalue()


def _copies_raw(dataset: Dataset, syntax: UID) -> bool:
    """Whether raw elements can be copied into the output as they are: explicit VR little endian, not
    deflated, read in that encoding, character set unchanged. (Every raw sequence there is one the engine
    encoded itself: _touch decoded the input's.)"""
    plain = not syntax.is_implicit_VR and syntax.is_little_endian and not syntax.is_deflated
    return plain and dataset.original_encoding == (False, True) and dataset.original_character_set == dataset._character_set


def _check_written(written: bytes, syntax: UID) -> None:
    """The output reads back: its marker, and every element header to the last byte (a walk over the bytes,
    a quarter of a full parse's time); deflated output, which cannot be walked, is parsed."""
    if written[128:132] != b"DICM":
        raise ValueError("no DICM marker in the output")
    if syntax.is_deflated:
        pydicom.dcmread(BytesIO(written))
    else:
        _check_structure(written, explicit=not syntax.is_implicit_VR, little=syntax.is_little_endian)


def _touch(dataset: Dataset) -> None:
    """Parse every sequence now, at every depth, so a damaged file fails here and not half-way through.
    Other values stay raw until an action needs them: what is removed or kept untouched is never decoded
    (kept ones are written back byte for byte), which is most of the engine's time saved."""
    for tag in dataset.keys():
        if _needs_decoding(dataset.get_item(tag)):
            element = dataset[tag]
            if element.VR == "SQ":
                for item in element.value:
                    _touch(item)


def _needs_decoding(raw) -> bool:
    """Whether an element must be decoded before the engine may judge it: sequences, and any element whose
    VR the file does not state (implicit VR, UN) or whose length is undefined (a sequence in disguise)."""
    return raw.VR in (None, "SQ", "UN") or getattr(raw, "length", 0) == _UNDEFINED


def _check_pixel_data(dataset: Dataset, syntax: UID) -> None:
    if _PIXEL_DATA not in dataset:
        return
    pixels = dataset[_PIXEL_DATA].value or b""
    if syntax.is_encapsulated:
        try:
            frames = list(pydicom.encaps.generate_frames(pixels, number_of_frames=int(dataset.get("NumberOfFrames", 1) or 1)))
        except Exception as error:
            raise AnonymizationFailed(f"the compressed pixel data is damaged or truncated ({error}); upload the file again") from error
        if not frames or any(not frame for frame in frames):
            raise AnonymizationFailed("the compressed pixel data has an empty frame; upload the file again")
        return
    try:
        expected = (
            int(dataset.Rows) * int(dataset.Columns) * int(dataset.get("SamplesPerPixel", 1))
            * int(dataset.get("NumberOfFrames", 1) or 1) * int(dataset.BitsAllocated)
        )
    except (AttributeError, TypeError, ValueError) as error:
        raise AnonymizationFailed(f"the image lacks Rows, Columns or Bits Allocated ({error}); the file is incomplete") from error
    if len(pixels) * 8 < expected:
        raise AnonymizationFailed(
            f"the pixel data is truncated ({len(pixels)} bytes, {(expected + 7) // 8} expected); upload the complete file"
        )


class _Deidentifier:
    def __init__(self, table: RuleTable, key: bytes, tenant: str, options: Options):
        self.table, self.key, self.tenant, self.options = table, key, tenant, options
        self.columns = options.columns()
        self.safe = safe_private_index() if options.retain_safe_private else frozenset()
        self.safe_elements = {(group, element) for group, _creator, element in self.safe}  # a cheap first test
        self.report = Report()
        self.identifying: set[str] = set()

    # ---- keyed hashes -------------------------------------------------------------------------------------
    def _digest(self, purpose: str, value: str) -> bytes:
        message = f"{purpose}\0{self.tenant}\0{value}".encode()
        return hmac.new(self.key, message, hashlib.sha256).digest()

    def uid(self, original: str) -> str:
        """The replacement for a UID: 2.25.<128-bit integer from a keyed hash>; well-known UIDs untouched."""
        original = _uid_text(original)
        if not original or original.startswith(WELL_KNOWN_UID_ROOT):
            return original
        return self._derived_uid("uid", original)

    def _derived_uid(self, purpose: str, basis: str) -> str:
        return "2.25." + str(int.from_bytes(self._digest(purpose, basis)[:16], "big"))

    def blank_uids(self, originals: dict[str, str], group: str, instance: str) -> dict[str, str]:
        """UIDs for the instance UIDs it lacks (type 1: the output must have them, and object keys are made of
        them). A reader groups blank Study and Series UIDs together, so every instance of the `group` gets the
        same; a blank SOP Instance UID comes from the `instance` (its bytes: unique, the same on every run).
        From the keyed hash under their own purpose: never equal to a replaced UID, and no PHI."""
        bases = {"StudyInstanceUID": group, "SeriesInstanceUID": group, "SOPInstanceUID": instance}
        return {name: self._derived_uid(f"blank {name}", bases[name]) for name, original in originals.items() if not original}

    def pseudonym(self, basis: str) -> str:
        return "RL" + base64.b32encode(self._digest("patient", basis)[:10]).decode().rstrip("=")

    def date_shift(self, basis: str) -> DateShift:
        digest = self._digest("dates", basis)
        return DateShift(days=365 + int.from_bytes(digest[:4], "big") % (10 * 365), seconds=int.from_bytes(digest[4:8], "big") % 86400)

    # ---- the run ----------------------------------------------------------------------------------------
    def run(self, dataset: Dataset, scan: str, data: bytes) -> Deidentified:
        originals = {name: _uid_text(dataset.get(name, "")) for name in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")}
        instance = originals["SOPInstanceUID"] or "bytes " + hashlib.sha256(data).hexdigest()
        # What ties an instance without Study or Series UID, or without any patient identity, to others: its scan.
        group = f"scan {scan}" if scan else instance
        patient_id = str(dataset.get("PatientID", "") or "").strip()
        basis = patient_id or "|".join(
            str(dataset.get(name, "") or "").strip() for name in ("PatientName", "PatientBirthDate")
        ).strip("|") or originals["StudyInstanceUID"] or group
        self.shift = self.date_shift(basis)
        burned_in = _burned_in(dataset)
        if burned_in is not None:
            self.report.hold(*burned_in)
        self._collect_identifying(dataset)
        blanks = self.blank_uids(originals, group, instance)

        self._clean(dataset)
        self._clean_overlay_bits(dataset)
        pseudonym = self.pseudonym(basis)
        dataset.PatientID = pseudonym
        self.report.pseudonyms.append(PseudonymEntry("PatientID", patient_id or basis, pseudonym))
        for name, original in originals.items():
            if original:
                self.report.pseudonyms.append(PseudonymEntry(name, original, self.uid(original)))
            else:
                setattr(dataset, name, blanks[name])
        self._mark(dataset)
        syntax = UID(dataset.file_meta.TransferSyntaxUID)
        dataset.file_meta = self._file_meta(dataset, syntax)
        dataset.preamble = b"\x00" * 128
        try:
            written = _encode(dataset, syntax)
            _check_written(written, syntax)
        except Exception as error:
            raise AnonymizationFailed(f"the de-identified instance could not be encoded ({error}); report this file to Radlab") from error
        return Deidentified(data=written, dataset=dataset, report=self.report)

    # ---- what counts as identifying ------------------------------------------------------------------------
    def _collect_identifying(self, dataset: Dataset) -> None:
        """Every value the profile removes or replaces, so free text that repeats one can be cleaned too."""
        for tag in dataset.keys():
            if tag.is_private:
                continue
            vr = dataset.get_item(tag).VR
            if vr == "SQ":
                for item in dataset[tag].value:
                    self._collect_identifying(item)
                continue
            action, _column = self._action(tag)
            if vr == "PN" or (action not in (None, "K", "C") and vr not in ("UI", "US", "SS", "UL", "SL", "FL", "FD")):
                element = dataset[tag]
                for value in _strings(element):
                    self._add_identifying(value, element.VR)

    def _add_identifying(self, value: str, vr: str) -> None:
        candidates = [value]
        if vr == "PN":
            candidates += value.replace("=", "^").split("^")
        for candidate in candidates:
            text = candidate.strip().upper()
            if len(text) >= 3 and not (text.isdigit() and len(text) < 4):
                self.identifying.add(text)

    def _names_someone(self, element: DataElement) -> bool:
        return any(self._names_someone_in(value) for value in _strings(element))

    def _names_someone_in(self, text: str) -> bool:
        upper = text.upper()
        return any(token in upper for token in self.identifying)

    # ---- the walk ---------------------------------------------------------------------------------------
    def _action(self, tag) -> tuple[str | None, str | None]:
        rule = self.table.rule(int(tag))
        return (None, None) if rule is None else rule.action(self.columns)

    def _clean(self, dataset: Dataset) -> None:
        pairs = self._date_time_pairs(dataset)
        creators_used: set[int] = set()
        follow = {described for content, titles in _DESCRIBES_CONTENT.items() if content in dataset for described in titles}
        for tag in sorted(dataset.keys()):
            group, number = tag >> 16, tag & 0xFFFF
            if int(tag) in follow and self._action(tag)[0] is None:
                self._empty(dataset[tag])  # it describes content the profile replaces, and often repeats its file name
            elif number == 0x0000 and group != 0x0000:
                self._remove(dataset, tag, "X")  # group lengths: retired, and wrong after any change
            elif group % 2 == 1:
                self._private(dataset, tag, creators_used)
            elif 0x5000 <= group <= 0x60FF and group % 2 == 0 and (group < 0x5100 or group >= 0x6000):
                self._remove(dataset, tag, "X")  # curves and overlays: graphics that may carry text, never kept
            else:
                self._public(dataset, tag, pairs)
        for tag in [tag for tag in dataset.keys() if tag.is_private and 0x10 <= (tag & 0xFFFF) <= 0xFF]:
            if int(tag) not in creators_used:
                self._remove(dataset, tag, "X")

    def _public(self, dataset: Dataset, tag, pairs: dict[int, str]) -> None:
        action, column = self._action(tag)
        # Decoded only when the action reads or changes the value (a kept raw value is written back as it
        # came); _touch decoded every element whose VR the file does not state, so this VR is the element's.
        vr = dataset.get_item(tag).VR
        if action is None and vr not in _READ_WHEN_UNLISTED and dictionary_has_tag(tag):
            return self._count("K")
        if action is None and vr in TEXT_VRS and dictionary_has_tag(tag) and (text := _plain_text(dataset.get_item(tag))) is not None:
            return self._remove(dataset, tag, "X") if self._names_someone_in(text) else self._count("K")
        if action == "K" and vr not in ("SQ", "AS", "UI"):
            return self._count("K")
        if action == "X":
            return self._remove(dataset, tag, "X")
        element = dataset[tag]
        if action is None:
            if vr == "SQ":
                return self._recurse(element, "K")
            if not dictionary_has_tag(tag):
                return self._remove(dataset, tag, "X")  # a public tag no dictionary knows may hold anything
            if vr == "UI":
                return self._replace_uids(element)
            if vr in ("DA", "DT", "TM"):
                return self._shift(tag, element, pairs) if self.options.retain_longitudinal_modified_dates else self._count("K")
            if vr == "PN":
                return self._empty(element)
            if vr in TEXT_VRS and self._names_someone(element):
                return self._remove(dataset, tag, "X")
            if vr == "AS":
                _cap_age(element)
            return self._count("K")
        if action == "C":
            return self._clean_action(dataset, tag, element, column, pairs)
        if action == "K":
            if vr == "SQ":
                return self._recurse(element, "K")
            if vr == "AS":
                _cap_age(element)
            if vr == "UI":
                return self._replace_uids(element)
            return self._count("K")
        self._basic(dataset, tag, element, action)

    def _basic(self, dataset: Dataset, tag, element: DataElement, action: str) -> None:
        vr = element.VR
        if action == "X/Z/U*":
            return self._recurse(element, "U") if vr == "SQ" else self._replace_uids(element)
        resolved = {"X/Z": "Z", "X/D": "D", "Z/D": "D", "X/Z/D": "D"}.get(action, action)
        if resolved == "X":
            return self._remove(dataset, tag, "X")
        if resolved == "U" or (resolved == "D" and vr == "UI"):
            return self._replace_uids(element)
        if resolved == "Z" or vr == "SQ":
            return self._empty(element)
        element.value = _DUMMY.get(vr[:2], b"\x00\x00" if vr.startswith("O") else "ANONYMIZED")
        self._count("D")

    def _clean_action(self, dataset: Dataset, tag, element: DataElement, column: str | None, pairs) -> None:
        if element.VR == "SQ":
            return self._recurse(element, "C")
        if column == COLUMN_MODIFIED_DATES and element.VR in ("DA", "DT", "TM"):
            return self._shift(tag, element, pairs)
        cleanable = element.VR in TEXT_VRS  # binary values (Maker Note…) cannot be read for names: never kept
        if column in (COLUMN_DESCRIPTORS, COLUMN_PATIENT_CHARACTERISTICS, COLUMN_DEVICE) and cleanable and not self._names_someone(element):
            return self._count("C")
        rule = self.table.rule(int(tag))
        return self._basic(dataset, tag, element, rule.basic)

    def _private(self, dataset: Dataset, tag, creators_used: set[int]) -> None:
        group, number = tag >> 16, tag & 0xFFFF
        if 0x10 <= number <= 0xFF:
            return  # a private creator stays only while an element of its block stays (decided after the walk)
        if (group, number & 0xFF) not in self.safe_elements:
            return self._remove(dataset, tag, "X")
        creator_tag = (group << 16) | (number >> 8)
        creator = dataset.get(creator_tag)
        name = str(creator.value).strip() if creator is not None and number >= 0x1000 else None
        if name is not None and (group, name, number & 0xFF) in self.safe:
            creators_used.add(creator_tag)
            return self._count("K")
        self._remove(dataset, tag, "X")

    # ---- the actions ------------------------------------------------------------------------------------
    def _count(self, action: str) -> None:
        self.report.actions[action] += 1

    def _remove(self, dataset: Dataset, tag, action: str) -> None:
        del dataset[tag]
        self._count(action)

    def _empty(self, element: DataElement) -> None:
        element.value = Sequence([]) if element.VR == "SQ" else None
        self._count("Z")

    def _recurse(self, element: DataElement, action: str) -> None:
        for item in element.value:
            self._clean(item)
        self._count(action)

    def _replace_uids(self, element: DataElement) -> None:
        values = _strings(element)
        replaced = [self.uid(value) for value in values]
        element.value = replaced if len(replaced) > 1 else (replaced[0] if replaced else element.value)
        self._count("U")

    def _shift(self, tag, element: DataElement, pairs: dict[int, str]) -> None:
        if int(tag) in pairs:
            element.value = pairs[int(tag)]
            return self._count("C")
        convert = {"DA": self.shift.date, "DT": self.shift.datetime, "TM": self.shift.time}.get(element.VR)
        values = _strings(element)
        shifted = [convert(value) for value in values] if convert else [None]
        if any(value is None for value in shifted):
            return self._empty(element)  # a value we cannot read as a date may hold anything
        element.value = shifted if len(shifted) > 1 else (shifted[0] if shifted else element.value)
        self._count("C")

    def _date_time_pairs(self, dataset: Dataset) -> dict[int, str]:
        """Shifted values for each (…Date, …Time) pair at this level, moved together as one instant."""
        shifted: dict[int, str] = {}
        for tag in dataset.keys():
            if tag.is_private or dataset.get_item(tag).VR != "DA":
                continue
            element = dataset[tag]
            keyword = element.keyword
            if not keyword.endswith("Date") or element.VM != 1:
                continue
            partner = dataset.get(keyword[:-4] + "Time")
            partner_element = dataset.data_element(keyword[:-4] + "Time") if partner is not None else None
            if partner_element is None or partner_element.VR != "TM" or partner_element.VM != 1:
                continue
            pair = self.shift.date_and_time(str(element.value), str(partner_element.value))
            if pair is not None:
                shifted[int(element.tag)], shifted[int(partner_element.tag)] = pair
        return shifted

    def _clean_overlay_bits(self, dataset: Dataset) -> None:
        """Zero pixel bits outside Bits Stored (sign bits for signed data): where retired overlays hide.
        Compressed pixel data is not re-encoded: an instance with such bits set is held for review."""
        if _PIXEL_DATA not in dataset:
            return
        allocated, stored = int(dataset.get("BitsAllocated", 0)), int(dataset.get("BitsStored", 0) or 0)
        if allocated not in (8, 16, 32) or not 0 < stored < allocated:
            return
        syntax = UID(dataset.file_meta.TransferSyntaxUID)
        if syntax.is_encapsulated:
            if not self.report.held:
                self.report.hold(HoldKind.HIDDEN_OVERLAY_BITS, _hidden_bits_reason(dataset, stored))
            return
        high = int(dataset.get("HighBit", stored - 1))
        big = syntax == pydicom.uid.ExplicitVRBigEndian
        dtype = np.dtype(f"u{allocated // 8}").newbyteorder(">" if big else "<")
        raw = dataset.PixelData
        usable = len(raw) // dtype.itemsize * dtype.itemsize
        pixels = np.frombuffer(raw[:usable], dtype=dtype)
        cleaned = _within_bits_stored(pixels, allocated, stored, high, int(dataset.get("PixelRepresentation", 0)) == 1)
        if not np.array_equal(cleaned, pixels):
            dataset.PixelData = cleaned.tobytes() + raw[usable:]
            self.report.overlay_bits_cleared = True
            self._count("C")

    def _mark(self, dataset: Dataset) -> None:
        """The conformance markers; the same for every instance of a profile, so when the output keeps the
        input's encoding they are set as elements encoded once (immutable, shared) and copied as they are."""
        if _copies_raw(dataset, UID(dataset.file_meta.TransferSyntaxUID)):
            for element in _encoded_markers(self.options, self.table.edition, self.table.edition_rows):
                dataset[element.tag] = element
        else:
            dataset.update(copy.deepcopy(_markers(self.options, self.table.edition, self.table.edition_rows)))

    def _file_meta(self, dataset: Dataset, syntax: UID) -> FileMetaDataset:
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = dataset.SOPClassUID
        meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
        meta.TransferSyntaxUID = syntax
        meta.ImplementationClassUID = "2.25." + str(int.from_bytes(hashlib.sha256(_ENGINE_NAME.encode()).digest()[:16], "big"))
        meta.ImplementationVersionName = _ENGINE_NAME
        return meta


# Unlisted attributes that describe content the table replaces: they go with it. Document Title
# (0042,0010) names the Encapsulated Document (0042,0011), typically by the source file's name.
_DESCRIBES_CONTENT = {0x00420011: (0x00420010,)}


@lru_cache(maxsize=64)
def _markers(options: Options, edition: str, rows: int) -> Dataset:
    """PatientIdentityRemoved, DeidentificationMethod, its code sequence (CID 7050) and the longitudinal flag."""
    markers = Dataset()
    markers.PatientIdentityRemoved = "YES"
    markers.DeidentificationMethod = [
        "RADLAB " + _ENGINE_NAME, f"PS3.15 {edition} E.1-1 BASIC PROFILE ({rows} ROWS)",
    ] + [meaning[:64] for _code, meaning in options.method_codes()[1:]]
    items = []
    for code, meaning in options.method_codes():
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code, "DCM", meaning
        items.append(item)
    markers.DeidentificationMethodCodeSequence = Sequence(items)
    markers.LongitudinalTemporalInformationModified = "MODIFIED" if options.retain_longitudinal_modified_dates else "REMOVED"
    return markers


@lru_cache(maxsize=64)
def _encoded_markers(options: Options, edition: str, rows: int) -> tuple:
    """The markers as raw explicit VR little endian elements (ASCII text: the same bytes in every character set)."""
    stream = DicomBytesIO()
    stream.is_implicit_VR, stream.is_little_endian = False, True
    write_dataset(stream, copy.deepcopy(_markers(options, edition, rows)))
    return tuple(data_element_generator(BytesIO(stream.getvalue()), is_implicit_VR=False, is_little_endian=True))


def _uid_text(value) -> str:
    """A UI value as text without its padding; "" for a blank or missing one."""
    return str(value or "").strip().rstrip("\0").strip()


def _strings(element: DataElement) -> list[str]:
    value = element.value
    if value is None or isinstance(value, (bytes, bytearray)):
        return []
    values = list(value) if isinstance(value, (MultiValue, list, tuple)) else [value]
    return [str(item) for item in values if item is not None and str(item) != ""]


def _plain_text(raw) -> str | None:
    """A still-raw text value as a string when its bytes read the same in every DICOM character set
    (7-bit, no ISO 2022 escape), so it can be searched without decoding; None otherwise."""
    value = raw.value if raw.is_raw else None
    if not isinstance(value, bytes) or not value.isascii() or b"\x1b" in value:
        return None
    return value.decode("ascii")


def _cap_age(element: DataElement) -> None:
    """Ages over 89 become 090Y (PS3.15 Retain Patient Characteristics; HIPAA's 90-and-over rule)."""
    value = str(element.value or "").strip().upper()
    if len(value) == 4 and value[:3].isdigit() and value[3] == "Y" and int(value[:3]) > 89:
        element.value = "090Y"


def _within_bits_stored(pixels: np.ndarray, allocated: int, stored: int, high: int, signed: bool) -> np.ndarray:
    """`pixels` (unsigned words) with every bit outside Bits Stored zeroed, or set to the sign for signed data."""
    dtype = pixels.dtype
    low = high - stored + 1
    mask = np.array(((1 << stored) - 1) << low, dtype=dtype)
    cleaned = pixels & mask
    if signed and low == 0:
        sign = (pixels >> high) & 1
        cleaned = cleaned | (sign * np.array(~int(mask) & ((1 << allocated) - 1), dtype=dtype)).astype(dtype)
    return cleaned.astype(dtype)


# Start-of-frame markers of the JPEG family (baseline, extended, progressive, lossless, JPEG-LS): the
# segment states the sample precision, and no decoded value can have more bits than that.
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xF7})


def _stated_precision(frame: bytes) -> int | None:
    """The largest sample precision a compressed frame's header declares; None when it declares none
    (RLE) or the header is not where the standard puts it (then the frame is decoded instead)."""
    if frame[:4] == b"\xff\x4f\xff\x51":  # JPEG 2000: SOC, then SIZ with one Ssiz byte per component
        components = int.from_bytes(frame[40:42], "big")
        return max(((size & 0x7F) + 1 for size in frame[42:42 + 3 * components:3]), default=None)
    if frame[:2] != b"\xff\xd8":
        return None
    position = 2
    while position + 4 < len(frame) and frame[position] == 0xFF:
        marker = frame[position + 1]
        if marker in _JPEG_SOF:
            return frame[position + 4]
        if marker == 0xDA:  # start of scan before any frame header
            return None
        position += 2 + int.from_bytes(frame[position + 2:position + 4], "big")
    return None


def _hidden_bits_reason(dataset: Dataset, stored: int) -> str | None:
    """Why a compressed image must be reviewed: a decoded value uses bits above Bits Stored (an overlay may
    hide there), or it cannot be decoded to check. Frames whose header states a precision within Bits
    Stored cannot hold such bits and are not decoded."""
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    precisions = [_stated_precision(frame) for frame in pydicom.encaps.generate_frames(dataset.PixelData, number_of_frames=frames)]
    if all(precision is not None and precision <= stored for precision in precisions):
        return None
    signed = int(dataset.get("PixelRepresentation", 0)) == 1
    lowest, highest = (-(1 << (stored - 1)), (1 << (stored - 1)) - 1) if signed else (0, (1 << stored) - 1)
    try:
        for frame in pydicom.pixels.iter_pixels(dataset, raw=True, correct_unused_bits=False):
            if int(frame.min()) < lowest or int(frame.max()) > highest:
                return (
                    f"the compressed pixel data sets bits above Bits Stored ({stored}), where overlays hide; "
                    "review the image and re-export it without overlays"
                )
    except Exception as error:  # a codec this machine lacks: the bits cannot be checked, so a person must look
        return f"the compressed pixel data could not be decoded to check for hidden overlay bits ({type(error).__name__}); review the image"
    return None


def _burned_in(dataset: Dataset) -> tuple[HoldKind, str] | None:
    burned = str(dataset.get("BurnedInAnnotation", "") or "").strip().upper()
    modality = str(dataset.get("Modality", "") or "").strip().upper()
    if burned == "YES":
        return HoldKind.BURNED_IN_ANNOTATION, "Burned In Annotation is YES: the pixels carry text; review and clean them before release"
    if modality in BURNS_IN_TEXT and burned != "NO":
        return (
            HoldKind.RISKY_IMAGE_TYPE,
            f"modality {modality} often burns text into the pixels and Burned In Annotation is not NO; review before release",
        )
    return None
