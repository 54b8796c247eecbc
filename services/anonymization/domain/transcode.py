"""Implicit VR little endian instances re-encoded as explicit VR little endian, each element given the VR pydicom reads it with."""

from __future__ import annotations

from functools import lru_cache

from pydicom.datadict import dictionary_VR, private_dictionary_VR

from shared.dicom_bytes import (
    ITEM, ITEM_DELIMITER, SEQUENCE_DELIMITER, TAG_AND_LENGTH, UINT32, UNDEFINED, encode_element, file_meta, header,
)

IMPLICIT = "1.2.840.10008.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
_PIXEL_DATA, _PIXEL_REPRESENTATION = 0x7FE00010, 0x00280103


class _Untranscodable(Exception):
    """Not re-encoded here: the dataset engine reads the instance as it is."""


def to_explicit(data: bytes) -> bytes | None:
    """`data` (a Part 10 implicit VR little endian instance) as explicit VR little endian, its file meta saying so;
    None for anything else, or when an element's VR cannot be told as pydicom tells it (then nothing changes)."""
    if len(data) < 132 or data[128:132] != b"DICM":
        return None
    try:
        meta, start = file_meta(data)
        if meta.get(0x00020010, ("UI", b""))[1].rstrip(b"\0 ") != IMPLICIT.encode():
            return None
        body = _Transcoder(data).dataset(start, len(data), top=True)
        if not body:
            return None  # nothing after the file meta: left for the dataset engine to refuse
    except Exception:  # _Untranscodable, or bytes this walk did not expect: the instance stays as it is
        return None
    meta[0x00020010] = ("UI", EXPLICIT.encode() + b"\0")
    elements = b"".join(encode_element(tag, vr, value) for tag, (vr, value) in sorted(meta.items()) if tag != 0x00020000)
    return data[:132] + encode_element(0x00020000, "UL", UINT32.pack(len(elements))) + elements + body


@lru_cache(maxsize=8192)
def _public_vr(tag: int) -> str | None:
    try:
        return dictionary_VR(tag)
    except KeyError:
        return None


@lru_cache(maxsize=8192)
def private_vr(tag: int, creator: str) -> str:
    """The VR pydicom's private dictionary gives `tag` in `creator`'s block; UN when it does not know it."""
    if not creator:
        return "UN"
    try:
        return private_dictionary_VR(tag, creator)
    except KeyError:
        return "UN"


class _Transcoder:
    def __init__(self, data: bytes):
        self.data = data
        self.pixel_representation: int | None = None

    def dataset(self, position: int, end: int, top: bool = False, until_delimiter: bool = False) -> bytes:
        """One dataset (or item) re-encoded; with `until_delimiter`, it ends at its item delimiter (self.stop)."""
        data, parts, creators = self.data, [], {}
        while position < end:
            if position + 8 > end:
                raise _Untranscodable
            group, number, length = TAG_AND_LENGTH.unpack_from(data, position)
            tag, position = group << 16 | number, position + 8
            if group == 0xFFFE:
                if number == 0xE00D and until_delimiter:
                    self.stop = position
                    return b"".join(parts)
                raise _Untranscodable
            vr = self._vr(tag, creators, top)
            if vr == "SQ":
                value, position = self._sequence(position, length, end)
                parts.append(header(tag, "SQ", UNDEFINED if length == UNDEFINED else len(value))
                             + value + (SEQUENCE_DELIMITER if length == UNDEFINED else b""))
                continue
            if length == UNDEFINED or position + length > end:
                raise _Untranscodable  # a private sequence, a cut, encapsulated pixels in an implicit file
            value = data[position:position + length]
            position += length
            if group & 1 and 0x10 <= number <= 0xFF:
                creators[tag] = value
            if top and tag == _PIXEL_REPRESENTATION and length == 2:
                self.pixel_representation = int.from_bytes(value, "little")
            parts.append(encode_element(tag, vr, value))
        if until_delimiter:
            raise _Untranscodable
        return b"".join(parts)

    def _vr(self, tag: int, creators: dict[int, bytes], top: bool) -> str:
        """The VR pydicom reads an implicit element with (ambiguous ones resolved as it resolves them)."""
        vr = _public_vr(tag)
        if vr is None:
            group, number = tag >> 16, tag & 0xFFFF
            if group & 1:
                if 0x10 <= number <= 0xFF:
                    return "LO"
                creator = creators.get(group << 16 | number >> 8, b"") if number & 0xFF00 else b""
                if not creator.isascii():
                    raise _Untranscodable
                name = creator.decode("ascii").rstrip("\0 ")
                return private_vr(tag, name)
            return "UL" if number == 0 else "UN"
        if " or " not in vr:
            return vr
        if tag == _PIXEL_DATA:
            return "OW"  # pydicom reads implicit VR pixel data as OW
        if vr == "US or SS" and top and self.pixel_representation is not None and tag >> 16 == 0x0028:
            return "US" if self.pixel_representation == 0 else "SS"
        raise _Untranscodable  # the other ambiguous VRs: the dataset engine decides as pydicom does

    def _sequence(self, position: int, length: int, end: int) -> tuple[bytes, int]:
        """A sequence's items re-encoded (their lengths recomputed) and where the sequence ends."""
        undefined = length == UNDEFINED
        limit = end if undefined else position + length
        if limit > end:
            raise _Untranscodable
        items = []
        while position < limit:
            if position + 8 > limit:
                raise _Untranscodable
            group, number, item_length = TAG_AND_LENGTH.unpack_from(self.data, position)
            if group != 0xFFFE:
                raise _Untranscodable
            if number == 0xE0DD and undefined:
                return b"".join(items), position + 8
            if number != 0xE000:
                raise _Untranscodable
            if item_length == UNDEFINED:
                body = self.dataset(position + 8, limit, until_delimiter=True)
                items.append(ITEM + UINT32.pack(UNDEFINED) + body + ITEM_DELIMITER)
                position = self.stop
            else:
                if position + 8 + item_length > limit:
                    raise _Untranscodable
                body = self.dataset(position + 8, position + 8 + item_length)
                items.append(ITEM + UINT32.pack(len(body)) + body)
                position += 8 + item_length
        if undefined:
            raise _Untranscodable
        return b"".join(items), limit
