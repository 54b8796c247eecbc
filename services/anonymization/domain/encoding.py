"""Explicit VR little endian, as the byte-level readers and writers here need it: VRs, element and item headers, delimiters, the file meta."""

from __future__ import annotations

import struct

UNDEFINED = 0xFFFFFFFF
# VRs whose explicit header has two reserved bytes and a 4-byte length; the others have a 2-byte length.
LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
VRS = LONG_VRS | {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT", "PN", "SH", "SL", "SS", "ST", "TM",
                  "UI", "UL", "US"}
VR_OF_BYTES = {vr.encode(): vr for vr in VRS}
LONG_VR_BYTES = frozenset(vr.encode() for vr in LONG_VRS)
SHORT_HEADER = struct.Struct("<HH2sH")  # tag, VR, 2-byte length
LONG_HEADER = struct.Struct("<HH2s2xL")  # tag, VR, reserved, 4-byte length
TAG_AND_LENGTH = struct.Struct("<HHL")  # an item, a delimiter, or an implicit VR element
UINT32 = struct.Struct("<L")
ITEM = b"\xfe\xff\x00\xe0"
ITEM_DELIMITER = b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"
SEQUENCE_DELIMITER = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"


def header(tag: int, vr: str, length: int) -> bytes:
    """An element's explicit VR header (UNDEFINED as the length of a sequence of undefined length)."""
    if vr in LONG_VRS:
        return LONG_HEADER.pack(tag >> 16, tag & 0xFFFF, vr.encode(), length)
    if length > 0xFFFF:
        raise ValueError(f"a {vr} value of {length} bytes does not fit an explicit VR header")
    return SHORT_HEADER.pack(tag >> 16, tag & 0xFFFF, vr.encode(), length)


def encode_element(tag: int, vr: str, value: bytes) -> bytes:
    return header(tag, vr, len(value)) + value


def file_meta(data: bytes) -> tuple[dict[int, tuple[str, bytes]], int]:
    """A Part 10 file's meta elements (group 0002, always explicit VR little endian) as tag → (VR, value), and where
    the dataset starts; ValueError for a VR that is none or an element that runs past the end."""
    elements, position = {}, 132
    while position + 8 <= len(data) and data[position:position + 2] == b"\x02\x00":
        group, number, vr_bytes, length = SHORT_HEADER.unpack_from(data, position)
        vr = VR_OF_BYTES.get(vr_bytes)
        if vr is None:
            raise ValueError(f"file meta element (0002,{number:04X}) has no valid VR")
        if vr in LONG_VRS:
            if position + 12 > len(data):
                raise ValueError("the file meta is cut")
            length, position = UINT32.unpack_from(data, position + 8)[0], position + 12
        else:
            position += 8
        if position + length > len(data):
            raise ValueError("the file meta is cut")
        elements[group << 16 | number] = (vr, data[position:position + length])
        position += length
    return elements, position
