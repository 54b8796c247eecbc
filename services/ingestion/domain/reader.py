"""DICOM Part 10 bytes → datasets: a fast reader for explicit VR little endian files, pydicom's dcmread for the rest."""

from __future__ import annotations

import gc
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from io import BytesIO

import pydicom
from pydicom.charset import convert_encodings, default_encoding
from pydicom.dataelem import RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.tag import BaseTag
from pydicom.uid import UID


def parse_instance(data: bytes) -> Dataset | None:
    """Parse Part 10 bytes (also without preamble); None when they are not DICOM or not an image.

    Every attribute is kept, as pydicom reads it. Files with a preamble in an explicit VR little endian
    transfer syntax (native or encapsulated; what anonymization writes) are split into elements here, each
    decoded by pydicom only when asked for, small ones alike byte for byte shared between files (several times
    faster than dcmread); anything else goes to dcmread.
    """
    try:
        with _collector_paused():
            dataset = _read_explicit_little_endian(data)
        if dataset is None:
            with warnings.catch_warnings():  # force=True guesses at non-DICOM bytes and warns about its guesses
                warnings.simplefilter("ignore")
                dataset = pydicom.dcmread(BytesIO(data), force=True)
    except (InvalidDicomError, EOFError, ValueError, TypeError, AttributeError, KeyError):
        return None
    if "PixelData" not in dataset or "SeriesInstanceUID" not in dataset:
        return None
    return dataset


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while one instance is split into elements.

    That allocates small objects by the hundred (an MR slice has ~250 elements); with a series' earlier instances
    alive, the collector's passes triggered by them cost more than the parsing itself (measured 2–3× on the 196-slice MR).
    Re-enabled only if it was enabled, so concurrent callers can at worst leave it on.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# Each VR's bytes → its name: those with a 16-bit length, and those with two reserved bytes, then a 32-bit length.
_SHORT_NAMES = {name.encode(): name for name in (
    "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT", "PN", "SH", "SL", "SS", "ST", "TM", "UI", "UL", "US",
)}
_LONG_NAMES = {name.encode(): name for name in ("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV")}
_UNDEFINED = 0xFFFFFFFF
_ELEMENT = struct.Struct("<HH2sH")  # group, element, VR, 16-bit length
_ITEM = struct.Struct("<HHI")  # (FFFE,xxxx) item or delimiter, 32-bit length
_LENGTH = struct.Struct("<I")


class _Unusual(Exception):
    """Bytes the fast reader leaves to pydicom's dcmread."""


def _read_explicit_little_endian(data: bytes) -> FileDataset | None:
    """A Part 10 file with a preamble in an explicit VR little endian syntax, as raw elements; None for any other."""
    if data[128:132] != b"DICM":
        return None
    try:
        group, element, vr, _ = _ELEMENT.unpack_from(data, 132)
        if (group, element, vr) != (2, 0, b"UL"):
            return None
        meta_end = 144 + _LENGTH.unpack_from(data, 140)[0]
        meta_raw: dict[BaseTag, RawDataElement] = {}
        _walk(data, 132, meta_end, meta_raw)
        meta = FileMetaDataset(meta_raw)
        meta.set_original_encoding(False, True, default_encoding)
        syntax = UID(str(meta.get("TransferSyntaxUID", "")))
        if not syntax.is_transfer_syntax or syntax.is_implicit_VR or not syntax.is_little_endian or syntax.is_deflated:
            return None
        raw: dict[BaseTag, RawDataElement] = {}
        if _walk(data, meta_end, len(data), raw) != len(data):
            return None  # a stray delimiter at the top level
    except (_Unusual, struct.error, ValueError):
        return None
    charset = raw.get(BaseTag(0x00080005))
    encoding = convert_encodings(convert_raw_data_element(charset).value) if charset else default_encoding
    dataset = FileDataset(BytesIO(data), raw, preamble=data[:128], file_meta=meta, is_implicit_VR=False, is_little_endian=True)
    # As dcmread does: each element is then decoded in the file's character set without looking it up again.
    dataset.set_original_encoding(False, True, encoding)
    return dataset


# Most elements of a series' files are alike byte for byte (94% of the 196-slice MR's, 82–87% of the CTs'): each
# small one is made once and shared, immutable, by every dataset that holds it. That spares its allocation and, above
# all, the objects a series leaves for the garbage collector to track (its full passes over them were a third of the
# MR's build time). Bounded: at most SHARED_ELEMENTS values of at most SHARED_ELEMENT_BYTES from recently read files.
SHARED_ELEMENTS = 16384
SHARED_ELEMENT_BYTES = 256
_new_tuple = tuple.__new__  # RawDataElement's fields given at once, without its Python-level __new__


def _raw_element(tag: int, vr: str, length: int, value: bytes, start: int) -> RawDataElement:
    return _new_tuple(RawDataElement, (BaseTag(tag), vr, length, value, start, False, True, True, False))


_shared_element = lru_cache(maxsize=SHARED_ELEMENTS)(_raw_element)


def _walk(data: bytes, pos: int, end: int, raw: dict[BaseTag, RawDataElement] | None) -> int:
    """Split the elements from `pos` up to `end` or an item delimiter into `raw` (None: only skip them); where they stopped.

    Undefined-length values run to their sequence delimiter, which they exclude.
    """
    size = len(data)
    unpack, unpack_length = _ELEMENT.unpack_from, _LENGTH.unpack_from
    while pos < end:
        group, element, vr, length = unpack(data, pos)
        if group == 0xFFFE:
            return pos
        name = _SHORT_NAMES.get(vr)
        if name is not None:
            start = pos + 8
        else:
            name = _LONG_NAMES.get(vr)
            if name is None:
                raise _Unusual  # implicit VR inside, or damage
            length = unpack_length(data, pos + 8)[0]
            start = pos + 12
        if length == _UNDEFINED:
            if vr not in (b"SQ", b"OB", b"OW"):
                raise _Unusual  # e.g. UN of undefined length holds implicit VR items
            stop = _delimiter(data, start, nested=vr == b"SQ")
            pos = stop + 8
        else:
            stop = pos = start + length
            if stop > size:
                raise _Unusual
        if raw is not None:
            make = _shared_element if length <= SHARED_ELEMENT_BYTES else _raw_element
            split = make((group << 16) | element, name, length, data[start:stop], start)
            raw[split.tag] = split
    return pos


def _delimiter(data: bytes, pos: int, nested: bool) -> int:
    """Where the sequence delimiter ending the items (or pixel data fragments) from `pos` lies."""
    while True:
        group, element, length = _ITEM.unpack_from(data, pos)
        if group != 0xFFFE:
            raise _Unusual
        if element == 0xE0DD:
            return pos
        if element != 0xE000:
            raise _Unusual
        pos += 8
        if length != _UNDEFINED:
            pos += length
            continue
        if not nested:
            raise _Unusual  # fragments always have a length
        pos = _walk(data, pos, len(data), None)
        if _ITEM.unpack_from(data, pos)[:2] != (0xFFFE, 0xE00D):
            raise _Unusual
        pos += 8
