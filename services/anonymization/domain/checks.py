"""The dataset engine's checks of a file and of its own output: every element header in place to the last byte, the pixel data all there."""

from __future__ import annotations

import struct
from io import BytesIO

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import UID

from services.anonymization.domain.outcome import AnonymizationFailed
from services.anonymization.domain.steps import PIXEL_DATA
from shared.dicom_bytes import LONG_VR_BYTES, UNDEFINED


def check_structure(data: bytes, explicit: bool, little: bool, start: int = 132) -> None:
    """Walk every element header from `start` to the last byte: pydicom stops quietly at a cut, so a
    truncated file would otherwise come out as a shorter, valid-looking instance.

    Any of the three encodings, read as leniently as pydicom reads them (an unknown VR has a 2-byte length,
    anything is skipped by its length): stricter, as shared.dicom_bytes' walk is, it would refuse files pydicom
    reads and the engines de-identify."""
    position = start
    while position + 8 <= len(data) and data[position:position + 2] == b"\x02\x00":
        length = int.from_bytes(data[position + 6:position + 8], "little")
        if data[position + 4:position + 6] in LONG_VR_BYTES:
            length = int.from_bytes(data[position + 8:position + 12], "little") + 4
        position += 8 + length
    if position >= len(data):  # cut inside the file meta, or nothing after it: there is no instance to de-identify
        raise AnonymizationFailed("the DICOM file is truncated: it ends in or right after its file meta; upload the complete file")
    order = "<" if little else ">"
    tag_and_length, short_length, long_length = struct.Struct(order + "HHL"), struct.Struct(order + "H"), struct.Struct(order + "L")

    def truncated(where: int):
        return AnonymizationFailed(f"the DICOM file is truncated or corrupt near byte {where}; upload the complete file")

    def skip(position: int, length: int, end: int) -> int:
        """Past a value of `length` bytes at `position` (an undefined length: up to its delimiter)."""
        if length == UNDEFINED:
            return elements(position, end, True)
        if position + length > end:
            raise truncated(position)
        return position + length

    def elements(position: int, end: int, until_delimiter: bool) -> int:
        while position < end:
            if position + 8 > end:
                raise truncated(position)
            group, number, length = tag_and_length.unpack_from(data, position)  # implicit VR: the length; items too
            if group == 0xFFFE:
                if number in (0xE00D, 0xE0DD):
                    return position + 8
                position = skip(position + 8, length, end)
                continue
            if explicit:
                if data[position + 4:position + 6] in LONG_VR_BYTES:
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


def check_written(written: bytes, syntax: UID) -> None:
    """The output reads back: its marker, and every element header to the last byte (a walk over the bytes,
    a quarter of a full parse's time); deflated output, which cannot be walked, is parsed."""
    if written[128:132] != b"DICM":
        raise ValueError("no DICM marker in the output")
    if syntax.is_deflated:
        pydicom.dcmread(BytesIO(written))
    else:
        check_structure(written, explicit=not syntax.is_implicit_VR, little=syntax.is_little_endian)


def check_pixel_data(dataset: Dataset, syntax: UID) -> None:
    """The pixel data is all there: every compressed frame present and not empty, native pixels as many bytes as
    Rows × Columns × Samples per Pixel × Number of Frames × Bits Allocated need."""
    if PIXEL_DATA not in dataset:
        return
    pixels = dataset[PIXEL_DATA].value or b""
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
