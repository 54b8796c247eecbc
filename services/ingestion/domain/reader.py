"""DICOM Part 10 bytes → datasets: a fast reader for explicit VR little endian files, pydicom's dcmread for the rest."""

from __future__ import annotations

import gc
import io
import struct
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache, partial
from io import BytesIO
from pathlib import Path

import pydicom
from pydicom.charset import convert_encodings, default_encoding
from pydicom.dataelem import RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.tag import BaseTag
from pydicom.uid import UID

from shared.dicom_bytes import ELEMENT_HEADER, UINT32, UNDEFINED, Malformed, elements


class StoredInstance(io.RawIOBase):
    """An instance's Part 10 bytes where they are stored (a file, an object), read only when and as far as asked.

    A dataset parsed with its pixel data left there holds this as its pydicom buffer, so its pixel data is read when a
    volume is built (frames.frame_pixels) rather than held from the moment its header was read; pydicom's own
    deferred reads go to it too.
    """

    def __init__(self, read_all: Callable[[], bytes], read_range: Callable[[int, int], bytes]):
        super().__init__()
        self.read_all = read_all
        self.read_range = read_range  # (offset, length) → bytes
        self._position = 0

    @classmethod
    def file(cls, path: Path) -> StoredInstance:
        return cls(path.read_bytes, partial(_file_range, path))

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence not in (io.SEEK_SET, io.SEEK_CUR):
            raise io.UnsupportedOperation("a stored instance seeks from its start or from where it is")
        self._position = offset + (self._position if whence == io.SEEK_CUR else 0)
        return self._position

    def tell(self) -> int:
        return self._position

    def readinto(self, buffer) -> int:
        data = self.read_range(self._position, len(buffer))
        buffer[:len(data)] = data
        self._position += len(data)
        return len(data)


def _file_range(path: Path, offset: int, length: int) -> bytes:
    with path.open("rb") as file:
        file.seek(offset)
        return file.read(length)


# Read by dcmread (not split here) with `stored`, values longer than this are left where they are stored.
DEFERRED_BYTES = 4096
_PIXEL_DATA = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})  # Float, Double Float and Pixel Data


def parse_instance(data: bytes, stored: StoredInstance | None = None) -> Dataset | None:
    """Parse Part 10 bytes (also without preamble); None when they are not DICOM or not an image.

    Every attribute is kept, as pydicom reads it. Files with a preamble in an explicit VR little endian
    transfer syntax (native or encapsulated; what anonymization writes) are split into elements here, each
    decoded by pydicom only when asked for, small ones alike byte for byte shared between files (several times
    faster than dcmread); anything else goes to dcmread. Given where the same bytes are `stored`, the dataset does
    not hold its pixel data (read by dcmread: no value over DEFERRED_BYTES): pydicom reads it from there when asked,
    and a volume is built reading one frame at a time, so a series' pixels are held once, in the volume.
    """
    try:
        with collector_paused():
            dataset = _read_explicit_little_endian(data, stored)
        if dataset is None:
            with warnings.catch_warnings():  # force=True guesses at non-DICOM bytes and warns about its guesses
                warnings.simplefilter("ignore")
                dataset = pydicom.dcmread(BytesIO(data), force=True, defer_size=DEFERRED_BYTES if stored else None)
                if stored is not None and dataset.file_meta.get("TransferSyntaxUID", UID("")).is_deflated:
                    dataset = pydicom.dcmread(BytesIO(data), force=True)  # its offsets are the inflated bytes': all kept
                elif stored is not None:
                    dataset.buffer, dataset.fileobj_type, dataset.filename = stored, StoredInstance, None
    except (InvalidDicomError, EOFError, ValueError, TypeError, AttributeError, KeyError):
        return None
    if "PixelData" not in dataset or "SeriesInstanceUID" not in dataset:
        return None
    return dataset


@contextmanager
def collector_paused() -> Iterator[None]:
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


def _read_explicit_little_endian(data: bytes, stored: StoredInstance | None = None) -> FileDataset | None:
    """A Part 10 file with a preamble in an explicit VR little endian syntax, as raw elements; None for any other.
    With `stored`, the pixel data is left there (a deferred element, as pydicom's defer_size leaves one)."""
    if data[128:132] != b"DICM":
        return None
    try:
        if ELEMENT_HEADER.unpack_from(data, 132)[:3] != (2, 0, b"UL"):
            return None
        meta_end = 144 + UINT32.unpack_from(data, 140)[0]
        meta = FileMetaDataset(_raw_elements(data, 132, meta_end))
        if not _splits(meta.get_item(_TRANSFER_SYNTAX)):
            return None
        meta.set_original_encoding(False, True, default_encoding)
        raw = _raw_elements(data, meta_end, len(data), stored is not None)
    except (struct.error, ValueError):  # Malformed included
        return None
    charset = raw.get(BaseTag(0x00080005))
    encoding = convert_encodings(convert_raw_data_element(charset).value) if charset else default_encoding
    dataset = FileDataset(stored or BytesIO(data), raw, preamble=data[:128], file_meta=meta, is_implicit_VR=False, is_little_endian=True)
    # As dcmread does: each element is then decoded in the file's character set without looking it up again.
    dataset.set_original_encoding(False, True, encoding)
    return dataset


_TRANSFER_SYNTAX = BaseTag(0x00020010)


@lru_cache(maxsize=64)
def _splits(syntax: RawDataElement | None) -> bool:
    """Whether a Transfer Syntax UID element, as read, names a syntax split here: explicit VR little endian, not
    deflated. Decided once per element (alike in a series' files, it is one shared element): converting it through
    pydicom for every file was 8% of reading the 196-slice MR."""
    uid = UID(str(convert_raw_data_element(syntax).value) if syntax is not None else "")
    return uid.is_transfer_syntax and not uid.is_implicit_VR and uid.is_little_endian and not uid.is_deflated


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


def _raw_elements(data: bytes, position: int, end: int, pixels_deferred: bool = False) -> dict[BaseTag, RawDataElement]:
    """The elements from `position` to `end` as raw elements, by tag; Malformed when anything else lies there (an item
    or delimiter tag included). Undefined-length values exclude their sequence delimiter, as pydicom reads them.
    With `pixels_deferred`, pixel data is a deferred element (value None)."""
    found, walked_to = elements(data, position, end)
    if walked_to != end:
        raise Malformed(walked_to)
    raw = {}
    for tag, vr, _header, start, stop, length, _items in found:
        if length <= SHARED_ELEMENT_BYTES:
            split = _shared_element(tag, vr, length, data[start:stop], start)
        elif pixels_deferred and tag in _PIXEL_DATA:
            split = _raw_element(tag, vr, length, None, start)
        else:
            split = _raw_element(tag, vr, length, data[start:stop - 8 if length == UNDEFINED else stop], start)
        raw[split.tag] = split
    return raw
