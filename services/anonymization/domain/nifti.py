"""De-identifies a NIfTI-1/-2 file: free-text header fields emptied, extensions and trailing bytes dropped, data kept bit for bit.

NIfTI has no patient fields, but its free text (descrip, aux_file, intent_name; NIfTI-1's unused
Analyze db_name and data_type, NIfTI-2's unused_str) is where converters write names, dates and
protocol strings, and its extensions (DICOM headers, XML, JSON sidecars) can carry a whole DICOM header. The header is edited in
place, so the data type, dimensions, scaling and the sform/qform affines stay exactly as they were; the
voxel bytes are copied unchanged. The output is gzip-compressed with no file name or time in its header.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from collections import Counter
from dataclasses import dataclass, field

from services.anonymization.domain.outcome import AnonymizationFailed
from shared.nifti import header_format, is_pair

GZIP_MAGIC = b"\x1f\x8b"
MAX_DATA_BYTES = 4 << 30  # inflating is bounded by what the header declares, and the header by this
# header size → free-text fields as (offset, length)
_TEXTS = {
    348: ((4, 10), (14, 18), (148, 80), (228, 24), (328, 16)),  # data_type, db_name, descrip, aux_file, intent_name
    540: ((240, 80), (320, 24), (508, 16), (525, 15)),  # descrip, aux_file, intent_name, unused_str
}
_BITS = {1: 1, 2: 8, 4: 16, 8: 32, 16: 32, 32: 64, 64: 64, 128: 24, 256: 8, 512: 16, 768: 32, 1024: 64, 1280: 64, 1536: 128, 1792: 128, 2048: 256, 2304: 32}


@dataclass
class CleanNifti:
    """The de-identified file (.nii.gz bytes) and what was removed: emptied text fields (Z) and extensions (X)."""

    data: bytes
    actions: Counter = field(default_factory=Counter)


def is_nifti(data: bytes) -> bool:
    """Whether `data` is a NIfTI-1/-2 file (plain or gzip-compressed), by content."""
    try:
        head = _inflate(data, 544) if data.startswith(GZIP_MAGIC) else data[:544]
    except AnonymizationFailed:
        return False
    return header_format(head) is not None


def deidentify_nifti(data: bytes) -> CleanNifti:
    """The file with its free text emptied and extensions dropped; AnonymizationFailed when it cannot be read whole."""
    compressed = data.startswith(GZIP_MAGIC)
    head = _inflate(data, 544) if compressed else data[:544]
    found = header_format(head)
    if found is None:
        raise AnonymizationFailed("not a NIfTI-1 or NIfTI-2 file; upload .nii or .nii.gz files")
    size, order = found
    if is_pair(head, size):
        raise AnonymizationFailed("a NIfTI header without its image (.hdr/.img pair); convert it to a single .nii.gz and upload that")
    dims, bitpix, offset = _layout(head, size, order)
    expected = (bitpix * math.prod(dims) + 7) // 8
    if expected > MAX_DATA_BYTES:
        raise AnonymizationFailed(
            f"the NIfTI header declares {expected / 2**30:.1f} GiB of voxels (dim {dims}), over the "
            f"{MAX_DATA_BYTES >> 30} GiB one scan may hold; check the header or split the scan"
        )
    whole = _inflate(data, offset + expected) if compressed else data[:offset + expected]
    if len(whole) < offset + expected or offset < size + 4:
        raise AnonymizationFailed(
            f"the NIfTI file is truncated ({max(len(whole) - offset, 0)} of {expected} data bytes); upload the complete file"
        )
    header = bytearray(whole[:size])
    actions: Counter = Counter()
    for start, length in _TEXTS[size]:
        if any(header[start:start + length]):
            header[start:start + length] = bytes(length)
            actions["Z"] += 1
    extensions = _count_extensions(whole, size, offset, order)
    if extensions:
        actions["X"] += extensions
    new_offset = size + 4
    offset_at, offset_format = (108, "f") if size == 348 else (168, "q")
    header[offset_at:offset_at + struct.calcsize(offset_format)] = struct.pack(order + offset_format, new_offset)
    cleaned = bytes(header) + bytes(4) + whole[offset:offset + expected]
    return CleanNifti(data=gzip.compress(cleaned, compresslevel=6, mtime=0), actions=actions)


def _inflate(data: bytes, limit: int) -> bytes:
    """At most `limit` bytes of a gzip stream (never more: a small upload may inflate to gigabytes)."""
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, limit)
    except zlib.error as error:
        raise AnonymizationFailed(f"the compressed NIfTI file is damaged ({error}); upload it again") from error


def _layout(head: bytes, size: int, order: str) -> tuple[list[int], int, int]:
    """Image dimensions, bits per voxel and the data's byte offset, checked for sense."""
    if size == 348:
        dim = struct.unpack(order + "8h", head[40:56])
        datatype, bitpix = struct.unpack(order + "2h", head[70:74])
        offset = struct.unpack(order + "f", head[108:112])[0]
    else:
        datatype, bitpix = struct.unpack(order + "2h", head[12:16])
        dim = struct.unpack(order + "8q", head[16:80])
        offset = struct.unpack(order + "q", head[168:176])[0]
    rank = dim[0]
    if not 1 <= rank <= 7 or any(d < 1 for d in dim[1:rank + 1]) or _BITS.get(datatype) != bitpix or offset != int(offset):
        raise AnonymizationFailed(
            f"the NIfTI header is inconsistent (dim {list(dim[:rank + 1])}, datatype {datatype}, bitpix {bitpix}); re-export the file"
        )
    return list(dim[1:rank + 1]), bitpix, int(offset)


def _count_extensions(whole: bytes, size: int, offset: int, order: str) -> int:
    """How many extensions sit between the header and the data (all of them are dropped)."""
    if whole[size] == 0:
        return 0
    count, position = 0, size + 4
    while position + 8 <= offset:
        length = int.from_bytes(whole[position:position + 4], "little" if order == "<" else "big", signed=True)
        if length < 8:
            break
        count, position = count + 1, position + length
    return max(count, 1)
