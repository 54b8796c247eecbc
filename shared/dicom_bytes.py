"""Explicit VR little endian DICOM, byte by byte: its VRs and headers, a walk over a dataset's elements, the file meta, and element encoding."""

from __future__ import annotations

import struct

UNDEFINED = 0xFFFFFFFF
# VRs whose explicit header has two reserved bytes and a 4-byte length; the others have a 2-byte length.
LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
_SHORT_VRS = frozenset({"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT", "PN", "SH", "SL", "SS", "ST", "TM",
                        "UI", "UL", "US"})
LONG_VR_BYTES = frozenset(vr.encode() for vr in LONG_VRS)
ELEMENT_HEADER = struct.Struct("<HH2sH")  # tag, VR, 2-byte length (or a long VR's reserved bytes)
LONG_HEADER = struct.Struct("<HH2s2xL")  # tag, VR, reserved, 4-byte length
TAG_AND_LENGTH = struct.Struct("<HHL")  # an item, a delimiter (or an implicit VR element): tag, 4-byte length
UINT32 = struct.Struct("<L")
ITEM = b"\xfe\xff\x00\xe0"
ITEM_DELIMITER = b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"
SEQUENCE_DELIMITER = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"

# The walk reads a VR's two bytes as one number: no bytes object to make and hash for each element.
_VR_CODE_HEADER = struct.Struct("<HHHH")
_SHORT_VR_OF_CODE = {int.from_bytes(vr.encode(), "little"): vr for vr in _SHORT_VRS}
_LONG_VR_OF_CODE = {int.from_bytes(vr.encode(), "little"): vr for vr in LONG_VRS}
_SQ, _OB, _OW = (int.from_bytes(vr, "little") for vr in (b"SQ", b"OB", b"OW"))

# An element as the walk finds it: (tag, VR, header start, value start, end, value length, items). Offsets point into
# the bytes walked; nothing is copied. `end` is where the element ends: after the sequence delimiter when the length is
# UNDEFINED, so such a value's own bytes (its items or fragments) run from the value start to end - 8. `items` is a
# sequence's items, each (undefined length?, its elements), when the walk is nested; None otherwise.
Element = tuple[int, str, int, int, int, int, "list[tuple[bool, list[Element]]] | None"]


class Malformed(ValueError):
    """Bytes that are not explicit VR little endian as the standard lays it out (a cut, a VR that is none, a broken item)."""

    def __init__(self, position: int):
        super().__init__(f"not explicit VR little endian near byte {position}")
        self.position = position


def elements(data: bytes, position: int, end: int, nested: bool = False) -> tuple[list[Element], int]:
    """The elements from `position` up to `end` or the first item or delimiter tag (group FFFE, for the caller to
    judge), and where they stopped. Nested, every sequence's items are read, at every depth; otherwise a sequence of
    defined length is passed over and one of undefined length read only to find its delimiter. Encapsulated pixel data
    (OB or OW of undefined length) runs to the delimiter of its fragments; any other undefined length (a UN one holds
    implicit VR items) is Malformed."""
    found: list[Element] = []
    append, unpack, unpack_length = found.append, _VR_CODE_HEADER.unpack_from, UINT32.unpack_from
    short_vrs, long_vrs = _SHORT_VR_OF_CODE, _LONG_VR_OF_CODE
    try:
        while position < end:
            group, number, vr_code, length = unpack(data, position)
            if group == 0xFFFE:
                return found, position
            vr = short_vrs.get(vr_code)
            if vr is not None:
                start = position + 8
                stop = start + length
                append((group << 16 | number, vr, position, start, stop, length, None))
            else:
                vr = long_vrs.get(vr_code)
                if vr is None:
                    raise Malformed(position)
                length, start, sequence = unpack_length(data, position + 8)[0], position + 12, None
                if length != UNDEFINED:
                    stop = start + length
                    if nested and vr_code == _SQ and stop <= end:
                        sequence = _items(data, start, stop, False, True)[0]
                elif vr_code == _SQ:
                    sequence, stop = _items(data, start, end, True, nested)
                elif vr_code == _OB or vr_code == _OW:
                    stop = _past_fragments(data, start, end)
                else:
                    raise Malformed(position)
                append((group << 16 | number, vr, position, start, stop, length, sequence if nested else None))
            position = stop
    except struct.error:
        raise Malformed(position) from None
    if position > end:  # checked once here, not for each element: the walk stops at the first that runs past
        raise Malformed(found[-1][2])
    return found, position


def _items(data: bytes, position: int, end: int, undefined: bool, nested: bool) -> tuple[list[tuple[bool, list[Element]]], int]:
    """A sequence's items from `position` (its value's start), each as (undefined length?, its elements, walked as
    `elements` walks them), and where the sequence ends: at `end`, its value's end, when its length is defined; after
    its delimiter when undefined (then `end` only bounds the search)."""
    found = []
    unpack = TAG_AND_LENGTH.unpack_from
    while position < end:
        if position + 8 > end:
            raise Malformed(position)
        group, number, length = unpack(data, position)
        if group != 0xFFFE:
            raise Malformed(position)
        if number == 0xE0DD and undefined:
            return found, position + 8
        if number != 0xE000:
            raise Malformed(position)
        if length == UNDEFINED:
            item, stop = elements(data, position + 8, end, nested)
            if stop + 8 > end or unpack(data, stop)[:2] != (0xFFFE, 0xE00D):
                raise Malformed(stop)
            found.append((True, item))
            position = stop + 8
        else:
            item_end = position + 8 + length
            if item_end > end:
                raise Malformed(position)
            item, stop = elements(data, position + 8, item_end, nested)
            if stop != item_end:
                raise Malformed(stop)  # an item or delimiter tag inside an item of defined length
            found.append((False, item))
            position = item_end
    if undefined:
        raise Malformed(position)  # no sequence delimiter
    return found, position


def _past_fragments(data: bytes, position: int, end: int) -> int:
    """Where encapsulated pixel data ends: after the delimiter of its fragments (items that always have a length)."""
    unpack = TAG_AND_LENGTH.unpack_from
    while position + 8 <= end:
        group, number, length = unpack(data, position)
        if group != 0xFFFE:
            raise Malformed(position)
        if number == 0xE0DD:
            return position + 8
        if number != 0xE000 or length == UNDEFINED or position + 8 + length > end:
            raise Malformed(position)
        position += 8 + length
    raise Malformed(position)


def file_meta(data: bytes, position: int = 132) -> tuple[dict[int, tuple[str, bytes]], int]:
    """The file meta elements (group 0002, always explicit VR little endian) from `position` (132: after the preamble
    and 'DICM'), as tag → (VR, value), and where the dataset starts; Malformed for a VR that is none or an element
    that runs past the end."""
    found = {}
    while position + 8 <= len(data) and data[position:position + 2] == b"\x02\x00":
        group, number, vr_code, length = _VR_CODE_HEADER.unpack_from(data, position)
        vr = _SHORT_VR_OF_CODE.get(vr_code) or _LONG_VR_OF_CODE.get(vr_code)
        if vr is None:
            raise Malformed(position)
        start = position + 8
        if vr in LONG_VRS:
            if position + 12 > len(data):
                raise Malformed(position)
            length, start = UINT32.unpack_from(data, position + 8)[0], position + 12
        if start + length > len(data):
            raise Malformed(position)
        found[group << 16 | number] = (vr, data[start:start + length])
        position = start + length
    return found, position


def header(tag: int, vr: str, length: int) -> bytes:
    """An element's header (UNDEFINED as the length of a sequence of undefined length)."""
    if vr in LONG_VRS:
        return LONG_HEADER.pack(tag >> 16, tag & 0xFFFF, vr.encode(), length)
    if length > 0xFFFF:
        raise ValueError(f"a {vr} value of {length} bytes does not fit an explicit VR header")
    return ELEMENT_HEADER.pack(tag >> 16, tag & 0xFFFF, vr.encode(), length)


def encode_element(tag: int, vr: str, value: bytes) -> bytes:
    return header(tag, vr, len(value)) + value
