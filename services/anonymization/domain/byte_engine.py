"""The byte-level engine: walks an explicit VR little endian instance's bytes, copies what it keeps and encodes only what it changes.

It applies the same Plan as the dataset engine (dataset_engine.py) and gives the same bytes; whatever it does not
take — another transfer syntax, a value it would have to decode from a non-ASCII character set, a VR it does
not read, a malformed or unusual structure, anything the dataset engine would refuse — it declines (None),
and the dataset engine, which also words every failure, handles the instance."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import pydicom.encaps
from pydicom.datadict import dictionary_has_tag, dictionary_VR
from pydicom.charset import python_encoding
from pydicom.dataelem import DataElement
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.uid import UID

from services.anonymization.domain import vendor_geometry
from services.anonymization.domain.keyed import Keyed, uid_text
from services.anonymization.domain.outcome import Deidentified, Identity, PseudonymEntry, Report
from services.anonymization.domain.pixel_text import reading_reason
from services.anonymization.domain.pixels import cleaned_pixel_bytes, stated_precision
from services.anonymization.domain.profile import Options, RuleTable
from services.anonymization.domain.steps import (
    AGE, DESCRIBES_CONTENT, DUMMY_VALUE, EMPTY, ENGINE_NAME, IMPLEMENTATION_CLASS_UID, KEEP, KEEP_IF_VOUCHED, PIXEL_DATA,
    RECURSE, REMOVE, REPLACE_IF_NAMED, SHIFT, UIDS, burned_in, capped_age, dummy_value, encoded_markers, identifying_tokens,
    plan_for, time_partner,
)
from services.anonymization.domain.transcode import private_vr
from services.anonymization.domain.vouched import vouched
from shared import dicom_bytes
from shared.dicom_bytes import ITEM, ITEM_DELIMITER, LONG_VRS, SEQUENCE_DELIMITER, UINT32, UNDEFINED, encode_element, file_meta, header

_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})  # read as bytes: no text in them to search
_SINGLE_VALUED_VRS = frozenset({"LT", "ST", "UT", "UR"})
_SPLIT_TEXT_VRS = frozenset({"LO", "SH", "UC"})
_STRING_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "PN", "TM", "UI"}) | _SINGLE_VALUED_VRS | _SPLIT_TEXT_VRS
_NUMBER = {"IS": re.compile(r"[+-]?\d{1,12}"), "DS": re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")}
_STUDY, _SERIES, _INSTANCE, _CLASS = 0x0020000D, 0x0020000E, 0x00080018, 0x00080016
_PATIENT_ID, _PATIENT_NAME, _BIRTH_DATE, _MODALITY, _BURNED_IN = 0x00100020, 0x00100010, 0x00100030, 0x00080060, 0x00280301
_CHARACTER_SET, _IMAGE_TYPE = 0x00080005, 0x00080008
_ROWS, _COLUMNS, _SAMPLES, _FRAMES = 0x00280010, 0x00280011, 0x00280002, 0x00280008
_ALLOCATED, _STORED, _HIGH_BIT, _REPRESENTATION = 0x00280100, 0x00280101, 0x00280102, 0x00280103
_UID_NAMES = {"StudyInstanceUID": _STUDY, "SeriesInstanceUID": _SERIES, "SOPInstanceUID": _INSTANCE}


class _Declined(Exception):
    """Not for this engine: the dataset engine takes the instance."""


def _walk(data: bytes, position: int, end: int) -> list[dicom_bytes.Element]:
    """The elements from `position` to `end`, every sequence's items read (shared.dicom_bytes.Element), when this
    engine takes them all."""
    found, stop = dicom_bytes.elements(data, position, end, nested=True)
    if stop != end:
        raise _Declined  # an item or delimiter tag among the elements
    _admit(data, found)
    return found


def _admit(data: bytes, found: list) -> None:
    """Decline, at every depth, what the walk read but the dataset engine reads otherwise, or would copy differently:
    elements out of order, file meta or command elements, UN elements pydicom reads with another VR, reserved header
    bytes that are not zero (copied, they would stay so), an undefined length other than a sequence's or the pixel data's."""
    previous = 0x0002FFFF  # so a command or file meta element is out of order too
    for element in found:
        tag, vr = element[0], element[1]
        if tag <= previous:
            raise _Declined
        previous = tag
        if vr in LONG_VRS:
            if data[element[2] + 6:element[2] + 8] != b"\0\0" or (element[5] == UNDEFINED and vr != "SQ" and tag != PIXEL_DATA):
                raise _Declined
            if vr == "UN" and not _stays_unknown(data, tag, found):
                raise _Declined
            if element[6] is not None:
                for _undefined, item in element[6]:
                    _admit(data, item)


def _stays_unknown(data: bytes, tag: int, found: list) -> bool:
    """Whether pydicom keeps a UN element as bytes (any other UN the dataset engine re-reads with the VR its
    dictionaries give): a public attribute the dictionary says is UN, or a private one (not a creator) whose
    creator, among the elements `found` at its level, the private dictionary does not know it for."""
    group, number = tag >> 16, tag & 0xFFFF
    if not group & 1:
        return _public_unknown(tag)
    if 0x10 <= number <= 0xFF:
        return False  # pydicom reads a private creator as LO
    creator_tag = group << 16 | number >> 8
    creator = next((element for element in reversed(found) if element[0] == creator_tag), None) if number & 0xFF00 else None
    if creator is None:
        return True
    value = data[creator[3]:creator[4]]
    return not value.isascii() or private_vr(tag, value.decode("ascii").rstrip("\0 ")) == "UN"


@lru_cache(maxsize=1024)
def _public_unknown(tag: int) -> bool:
    return dictionary_has_tag(tag) and dictionary_VR(tag) == "UN"


def _string_element(tag: int, vr: str, text: str) -> bytes:
    """A string value encoded as pydicom writes it: ASCII, padded to even length (UIDs with NUL)."""
    value = text.encode("ascii")
    if len(value) & 1:
        value += b"\x00" if vr == "UI" else b" "
    return encode_element(tag, vr, value)


@lru_cache(maxsize=1024)
def _dummy_element(tag: int, vr: str) -> bytes:
    """The D action's element for (tag, VR), encoded once by pydicom's writer."""
    stream = DicomBytesIO()
    stream.is_implicit_VR, stream.is_little_endian = False, True
    write_data_element(stream, DataElement(tag, vr, dummy_value(vr)))
    return stream.getvalue()


@lru_cache(maxsize=64)
def _marker_elements(options: Options, edition: str, rows: int) -> tuple[tuple[int, bytes], ...]:
    data = encoded_markers(options, edition, rows)
    return tuple((tag, data[start:stop]) for tag, _vr, start, _value, stop, _length, _items in dicom_bytes.elements(data, 0, len(data))[0])


@lru_cache(maxsize=256)
def _syntax(uid: str) -> UID | None:
    """The transfer syntax when this engine reads it: explicit VR little endian, plain or encapsulated, not deflated."""
    syntax = UID(uid)
    if not syntax.is_transfer_syntax or syntax.is_implicit_VR or not syntax.is_little_endian or syntax.is_deflated:
        return None
    return syntax


@lru_cache(maxsize=1024)
def _is_image_storage(sop_class: str) -> bool:
    return "Image Storage" in UID(sop_class).name


def _file_meta(sop_class: str, instance: str, syntax: str) -> bytes:
    """The output's file meta (group 0002), as pydicom writes it: version, classes and UIDs, our implementation."""
    body = b"".join((
        header(0x00020001, "OB", 2) + b"\x00\x01",
        _string_element(0x00020002, "UI", sop_class),
        _string_element(0x00020003, "UI", instance),
        _string_element(0x00020010, "UI", syntax),
        _string_element(0x00020012, "UI", IMPLEMENTATION_CLASS_UID),
        _string_element(0x00020013, "SH", ENGINE_NAME),
    ))
    return b"\x00" * 128 + b"DICM" + header(0x00020000, "UL", 4) + UINT32.pack(len(body)) + body


def deidentify(data: bytes, table: RuleTable, key: bytes, tenant: str, options: Options, scan: str) -> Deidentified | None:
    """De-identify one instance from its bytes, or None when this engine does not take it (see the module)."""
    if len(data) < 132 or data[128:132] != b"DICM":
        return None
    try:
        return _Deidentifier(data, table, key, tenant, options).run(scan)
    except Exception:  # _Declined, Malformed, or bytes this walk did not expect: never a failure here
        return None


class _Deidentifier:
    def __init__(self, data: bytes, table: RuleTable, key: bytes, tenant: str, options: Options):
        self.data, self.table, self.options = data, table, options
        self.plan = plan_for(table, options)
        self.keyed = Keyed(key, tenant)
        self.report = Report()
        self.actions = self.report.actions
        self.identifying: set[str] = set()
        self.named = None

    # ---- reading values --------------------------------------------------------------------------------------
    def _ascii(self, element: tuple) -> str:
        raw = self.data[element[3]:element[4]]
        if not raw.isascii() or b"\x1b" in raw:
            raise _Declined  # a character set to decode: the dataset engine does that
        return raw.decode("ascii")

    def _values(self, element: tuple) -> list[str]:
        """The element's non-empty values as strings, as pydicom decodes them (the dataset engine's _strings)."""
        vr = element[1]
        if vr in _BINARY_VRS:
            return []
        if vr not in _STRING_VRS:
            raise _Declined  # numbers and tags as text: the dataset engine decodes them
        text = self._ascii(element)
        if vr in _SINGLE_VALUED_VRS:
            values = [text.rstrip() if vr == "UR" else text.rstrip("\0 ")]
        elif vr in _SPLIT_TEXT_VRS:
            values = [value.rstrip("\0 ") for value in text.split("\\")]
        elif vr == "AE":
            values = [value.strip() for value in text.split("\\")]
        elif vr == "PN":
            values = text.rstrip("\0 ").split("\\")
        elif vr in ("DS", "IS"):
            values = [value.strip() for value in text.strip().split("\\")] if text.strip() else []
            if not all(_NUMBER[vr].fullmatch(value) for value in values):
                raise _Declined  # not a number pydicom reads: the dataset engine reports it
        else:
            values = text.rstrip(" \0").split("\\")
        return [value for value in values if value != ""]

    def _single(self, element: tuple | None) -> str:
        """str() of a single-valued element's value as the dataset engine reads it; "" when absent or empty."""
        if element is None:
            return ""
        values = self._values(element)
        if len(values) > 1 or (values and "\\" in self._ascii(element).rstrip(" \0")):
            raise _Declined
        return values[0] if values else ""

    def _multiplicity(self, element: tuple) -> int:
        parts = self._ascii(element).rstrip(" \0").split("\\")
        return len(parts) if len(parts) > 1 else (1 if parts[0] else 0)

    def _number(self, element: tuple | None, default: int) -> int:
        """A US value (or an IS), or `default` when absent or empty."""
        if element is None or element[4] == element[3]:
            return default
        if element[1] == "US" and element[4] - element[3] == 2:
            return int.from_bytes(self.data[element[3]:element[4]], "little")
        if element[1] == "IS":
            text = self._ascii(element).strip(" \0")
            if text.isdigit():
                return int(text)
        raise _Declined

    def _names_someone(self, text: str) -> bool:
        return self.named is not None and self.named.search(text.upper()) is not None

    # ---- the run ---------------------------------------------------------------------------------------------
    def run(self, scan: str) -> Deidentified:
        data = self.data
        meta_elements, position = file_meta(data)
        meta = {tag & 0xFFFF: value.decode("ascii", "replace").rstrip("\0 ") for tag, (_vr, value) in meta_elements.items()
                if tag & 0xFFFF in (0x0002, 0x0003, 0x0010)}
        syntax = _syntax(meta[0x0010]) if meta.get(0x0010) else None
        if syntax is None:
            raise _Declined
        elements = _walk(data, position, len(data))
        if not elements:
            raise _Declined  # nothing after the file meta: the dataset engine refuses it
        top = {element[0]: element for element in elements}
        from_meta = {}  # a class or instance UID only the file meta has: the dataset engine copies it in first
        for tag, number in ((_CLASS, 0x0002), (_INSTANCE, 0x0003)):
            if not self._single(top.get(tag)) and meta.get(number):
                if (tag in top and top[tag][1] != "UI") or self.plan.public(tag, "UI")[0] != UIDS:
                    raise _Declined
                from_meta[tag] = meta[number]
        sop_class = from_meta.get(_CLASS) or self._single(top.get(_CLASS))
        originals = {name: uid_text(from_meta.get(tag) or self._single(top.get(tag))) for name, tag in _UID_NAMES.items()}
        if not sop_class:
            raise _Declined  # the dataset engine refuses it
        self._check_pixels(top, syntax, sop_class)
        if _CHARACTER_SET in top and not all(term in python_encoding for term in self._values(top[_CHARACTER_SET])):
            raise _Declined  # a character set pydicom does not know (or a damaged one): the dataset engine decides

        instance = originals["SOPInstanceUID"] or "bytes " + hashlib.sha256(data).hexdigest()
        group = f"scan {scan}" if scan else instance
        patient_id = self._single(top.get(_PATIENT_ID)).strip()
        basis = patient_id or "|".join(
            self._single(top.get(tag)).strip() for tag in (_PATIENT_NAME, _BIRTH_DATE)
        ).strip("|") or originals["StudyInstanceUID"] or group
        self.shift = self.keyed.date_shift(basis)
        modality = self._single(top.get(_MODALITY))
        held = burned_in(self._single(top.get(_BURNED_IN)), modality)
        if held is not None:
            self.report.hold(*held)
        if PIXEL_DATA in top:
            image_type = self._values(top[_IMAGE_TYPE]) if _IMAGE_TYPE in top else []
            self.report.to_read = reading_reason(self._single(top.get(_BURNED_IN)), modality, sop_class, image_type)
        self._collect_identifying(elements)
        if self.identifying:
            self.named = re.compile("|".join(re.escape(token) for token in sorted(self.identifying)))
        blanks = self.keyed.blank_uids(originals, group, instance)

        output = dict(self._clean(elements))
        for tag, value in from_meta.items():
            self.actions["U"] += tag not in top  # counted by _clean when the element was there, blank
            output[tag] = _string_element(tag, "UI", self.keyed.uid(value))
        if _CHARACTER_SET in top and _CHARACTER_SET not in output:
            raise _Declined  # the character set itself went: the dataset engine re-encodes everything
        self._clean_overlay_bits(top, output, syntax)
        pseudonym = self.keyed.pseudonym(basis)
        output[_PATIENT_ID] = _string_element(_PATIENT_ID, top[_PATIENT_ID][1] if _PATIENT_ID in top else "LO", pseudonym)
        self.report.pseudonyms.append(PseudonymEntry("PatientID", patient_id or basis, pseudonym))
        replaced = {}
        for name, original in originals.items():
            if original:
                replaced[name] = self.keyed.uid(original)
                self.report.pseudonyms.append(PseudonymEntry(name, original, replaced[name]))
            else:
                replaced[name] = blanks[name]
                tag = _UID_NAMES[name]
                output[tag] = _string_element(tag, top[tag][1] if tag in top else "UI", blanks[name])
        output.update(_marker_elements(self.options, self.table.edition, self.table.edition_rows))
        body = b"".join(output[tag] for tag in sorted(output))
        # The file meta names the class as the output's SOP Class UID does (a class outside 1.2.840.10008 is replaced).
        meta_class = self.keyed.uid(sop_class) if self.plan.public(_CLASS, "UI")[0] == UIDS else sop_class
        meta = _file_meta(meta_class, replaced["SOPInstanceUID"], str(syntax))
        identity = Identity(study_uid=replaced["StudyInstanceUID"], series_uid=replaced["SeriesInstanceUID"],
                            instance_uid=replaced["SOPInstanceUID"], modality=modality if _MODALITY in output else "")
        return Deidentified(data=meta + body, identity=identity, report=self.report, engine="bytes")

    def _check_pixels(self, top: dict, syntax: UID, sop_class: str) -> None:
        """What the dataset engine checks before it starts: an image has pixels, and they are all there."""
        if _is_image_storage(sop_class) and not {0x7FE00008, 0x7FE00009, PIXEL_DATA} & top.keys():
            raise _Declined
        pixels = top.get(PIXEL_DATA)
        if pixels is None:
            return
        if syntax.is_encapsulated != (pixels[5] == UNDEFINED):
            raise _Declined
        if syntax.is_encapsulated:
            try:
                self.frames = list(pydicom.encaps.generate_frames(self.data[pixels[3]:pixels[4]], number_of_frames=self._number(top.get(_FRAMES), 1) or 1))
            except Exception:
                raise _Declined from None
            if not self.frames or any(not frame for frame in self.frames):
                raise _Declined
            return
        if None in (top.get(_ROWS), top.get(_COLUMNS), top.get(_ALLOCATED)):
            raise _Declined
        expected = (self._number(top[_ROWS], 0) * self._number(top[_COLUMNS], 0) * self._number(top.get(_SAMPLES), 1)
                    * (self._number(top.get(_FRAMES), 1) or 1) * self._number(top[_ALLOCATED], 0))
        if pixels[5] * 8 < expected:
            raise _Declined

    # ---- what counts as identifying ----------------------------------------------------------------------------
    def _collect_identifying(self, elements: list) -> None:
        plan = self.plan
        for element in elements:
            tag, vr = element[0], element[1]
            if tag >> 16 & 1:
                continue
            if vr == "SQ":
                for _undefined, item in element[6]:
                    self._collect_identifying(item)
            elif plan.collects(tag, vr):
                for value in self._values(element):
                    self.identifying.update(identifying_tokens(value, vr))

    # ---- the walk ----------------------------------------------------------------------------------------------
    def _clean(self, elements: list) -> list[tuple[int, bytes]]:
        """One dataset level: the (tag, encoded element) pairs that stay, in tag order."""
        data, plan, actions = self.data, self.plan, self.actions
        safe_elements = plan.safe_private_elements
        present = {element[0]: element for element in elements}
        pairs = self._date_time_pairs(elements, present)
        follow = {described for content, titles in DESCRIBES_CONTENT.items() if content in present for described in titles}
        output, creators, creators_used = [], [], set()
        for element in elements:
            tag = element[0]
            group, number = tag >> 16, tag & 0xFFFF
            if follow and tag in follow and plan.action(tag)[0] is None:
                output.append((tag, self._empty(element)))
            elif number == 0x0000:
                actions["X"] += 1  # group lengths: retired, and wrong after any change
            elif group & 1:
                if 0x10 <= number <= 0xFF:
                    creators.append(len(output))  # stays only while an element of its block stays
                    output.append((tag, data[element[2]:element[4]]))
                elif (group, number & 0xFF) in safe_elements and (kept := self._safe_private(element, group, number, present)):
                    creators_used.add(group << 16 | number >> 8)
                    actions["K"] += 1
                    output.append((tag, kept))
                else:
                    actions["X"] += 1
            elif 0x5000 <= group <= 0x60FF and not group & 1 and (group < 0x5100 or group >= 0x6000):
                actions["X"] += 1  # curves and overlays: graphics that may carry text, never kept
            else:
                chunk = self._apply(element, plan.public(tag, element[1]), pairs)
                if chunk is not None:
                    output.append((tag, chunk))
        if creators:
            unused = {index for index in creators if output[index][0] not in creators_used}
            actions["X"] += len(unused)
            output = [pair for index, pair in enumerate(output) if index not in unused]
        return output

    def _safe_private(self, element: tuple, group: int, number: int, present: dict) -> bytes | None:
        """The encoded element a safe private element stays as (PS3.15's rows byte for byte, the CSA header cleaned
        to its numeric fields); None when it goes."""
        if number < 0x1000:
            return None
        creator = present.get(group << 16 | number >> 8)
        if creator is None:
            return None
        name = self._single(creator).strip()
        row = (group, name, number & 0xFF)
        if row not in self.plan.safe_private:
            return None
        if element[1] == "SQ" or element[5] == UNDEFINED:
            raise _Declined  # (United Imaging's tiles among them: the dataset engine cleans them)
        if vendor_geometry.is_csa_image_header(*row):
            try:
                cleaned = vendor_geometry.cleaned_csa(self.data[element[3]:element[4]])
            except vendor_geometry.CsaUnreadable:
                return None
            return None if cleaned is None else encode_element(element[0], element[1], cleaned)
        if row in vendor_geometry.PRIVATE_ROWS and not vendor_geometry.keeps_as_is(*row, element[1]):
            return None
        return self.data[element[2]:element[4]]

    def _apply(self, element: tuple, step: tuple, pairs: dict[int, str]) -> bytes | None:
        kind, actions = step[0], self.actions
        tag, vr = element[0], element[1]
        if vr == "SQ" and kind not in (RECURSE, EMPTY, REMOVE):
            raise _Declined
        if kind == KEEP:
            actions["K"] += 1
            return self.data[element[2]:element[4]]
        if kind == REMOVE:
            actions["X"] += 1
            return None
        if kind == REPLACE_IF_NAMED:
            if self._names_someone(self._ascii(element)):
                return self._apply(element, step[1], pairs)
            actions["K"] += 1
            return self.data[element[2]:element[4]]
        if kind == KEEP_IF_VOUCHED:
            values = self._values(element)
            kept = vouched(tag, vr, values) and not any(self._names_someone(value) for value in values)
            self.report.clean(step[2], kept)
            if kept:
                actions["C"] += 1
                return self.data[element[2]:element[4]]
            return self._apply(element, step[1], pairs)
        if kind == RECURSE:
            chunk = self._sequence(element)
            actions[step[1]] += 1
            return chunk
        if kind == UIDS:
            values = self._values(element)
            actions["U"] += 1
            return _string_element(tag, vr, "\\".join(self.keyed.uid(value) for value in values))
        if kind == SHIFT:
            return self._shift(element, pairs)
        if kind == EMPTY:
            return self._empty(element)
        if kind == AGE:
            actions["K"] += 1
            capped = capped_age(self._single(element))
            return self.data[element[2]:element[4]] if capped is None else _string_element(tag, vr, capped)
        assert kind == DUMMY_VALUE, kind
        actions["D"] += 1
        return _dummy_element(tag, vr)

    def _sequence(self, element: tuple) -> bytes:
        """A sequence with every item cleaned, lengths recomputed (undefined ones stay undefined)."""
        parts = []
        for undefined, item in element[6]:
            body = b"".join(chunk for _tag, chunk in self._clean(item))
            parts.append(ITEM + (UINT32.pack(UNDEFINED) + body + ITEM_DELIMITER if undefined else UINT32.pack(len(body)) + body))
        value = b"".join(parts)
        if element[5] == UNDEFINED:
            return header(element[0], "SQ", UNDEFINED) + value + SEQUENCE_DELIMITER
        return header(element[0], "SQ", len(value)) + value

    def _empty(self, element: tuple) -> bytes:
        self.actions["Z"] += 1
        if element[1] == "SQ" and element[5] == UNDEFINED:
            return header(element[0], "SQ", UNDEFINED) + SEQUENCE_DELIMITER
        return header(element[0], element[1], 0)

    def _shift(self, element: tuple, pairs: dict[int, str]) -> bytes:
        tag, vr = element[0], element[1]
        if tag in pairs:
            self.actions["C"] += 1
            return _string_element(tag, vr, pairs[tag])
        convert = {"DA": self.shift.date, "DT": self.shift.datetime, "TM": self.shift.time}.get(vr)
        values = self._values(element)
        shifted = [convert(value) for value in values] if convert else [None]
        if any(value is None for value in shifted):
            return self._empty(element)  # a value we cannot read as a date may hold anything
        self.actions["C"] += 1
        return _string_element(tag, vr, "\\".join(shifted))

    def _date_time_pairs(self, elements: list, present: dict) -> dict[int, str]:
        """Shifted values for each (…Date, …Time) pair at this level, moved together as one instant."""
        shifted: dict[int, str] = {}
        for element in elements:
            if element[1] != "DA" or element[0] >> 16 & 1 or (partner_tag := time_partner(element[0])) is None:
                continue
            partner = present.get(partner_tag)
            if partner is None or partner[1] != "TM" or self._multiplicity(element) != 1 or self._multiplicity(partner) != 1:
                continue
            pair = self.shift.date_and_time(self._single(element), self._single(partner))
            if pair is not None:
                shifted[element[0]], shifted[partner_tag] = pair
        return shifted

    def _clean_overlay_bits(self, top: dict, output: dict, syntax: UID) -> None:
        """As the dataset engine: zero native pixel bits outside Bits Stored; compressed frames whose headers do
        not rule such bits out are left to it (it decodes them)."""
        pixels = top.get(PIXEL_DATA)
        if pixels is None:
            return
        allocated, stored = self._number(top.get(_ALLOCATED), 0), self._number(top.get(_STORED), 0)
        if allocated not in (8, 16, 32) or not 0 < stored < allocated:
            return
        if syntax.is_encapsulated:
            if not self.report.held and not all((precision := stated_precision(frame)) is not None and precision <= stored
                                                for frame in self.frames):
                raise _Declined
            return
        if PIXEL_DATA not in output:
            raise _Declined
        cleaned = cleaned_pixel_bytes(
            self.data[pixels[3]:pixels[4]], allocated, stored, self._number(top.get(_HIGH_BIT), stored - 1),
            self._number(top.get(_REPRESENTATION), 0) == 1, big_endian=False,
        )
        if cleaned is not None:
            output[PIXEL_DATA] = header(PIXEL_DATA, pixels[1], len(cleaned)) + cleaned
            self.report.overlay_bits_cleared = True
            self.actions["C"] += 1

