"""Vendor private geometry kept through de-identification: the numbers a mosaic or a vendor 4D series is built from.

PS3.15's safe private table (safe_private.py) has no row for the Siemens CSA image header or United Imaging's
per-tile positions, yet without them a Siemens mosaic or a United Imaging VFRAME series cannot be cut into its
slices (dcm2niix reads the same fields). Radlab keeps them under the Retain Safe Private Option as the "clean"
action allows: the CSA header is rewritten to hold only the named numeric fields below, each value checked to be
a number; United Imaging's elements are numbers by their VR (kept only when their VR says so), and its per-tile
sequence keeps each tile's Image Position (Patient) alone. Anything else in those headers (protocol text, coil
names, free strings, the tiles' acquisition dates and times) is dropped.
"""

from __future__ import annotations

import re
import struct

CSA_CREATOR = "SIEMENS CSA HEADER"
CSA_IMAGE_HEADER = 0x10  # (0029,xx10) CSA Image Header Info
UIH_CREATOR = "Image Private Header"

# CSA image header fields kept: slicing a mosaic, its slice timing and its diffusion encoding; numbers only.
CSA_FIELDS = frozenset({
    "NumberOfImagesInMosaic", "SliceNormalVector", "MosaicRefAcqTimes", "SliceMeasurementDuration", "TimeAfterStart",
    "B_value", "DiffusionGradientDirection", "B_matrix", "BandwidthPerPixelPhaseEncode", "PhaseEncodingDirectionPositive",
    "RealDwellTime",
})
UIH_TILES = 0x51  # (0065,xx51): one item per tile of a VFRAME mosaic
# (group, creator, element, VRs it may have) kept as they are: United Imaging's tile count (VFRAME mosaics), b-value
# and gradient direction.
KEPT_AS_NUMBERS = (
    (0x0065, UIH_CREATOR, 0x50, frozenset({"IS", "US", "UL", "SL", "SS", "DS"})),
    (0x0065, UIH_CREATOR, 0x09, frozenset({"IS", "DS", "FD", "FL", "US", "UL", "SL", "SS"})),
    (0x0065, UIH_CREATOR, 0x37, frozenset({"DS", "FD", "FL"})),
)
# The (group, creator, element) rows this module keeps, added to the plan's safe private index.
PRIVATE_ROWS = frozenset({(0x0029, CSA_CREATOR, CSA_IMAGE_HEADER), (0x0065, UIH_CREATOR, UIH_TILES)}
                         | {row[:3] for row in KEPT_AS_NUMBERS})
_CSA_NUMERIC_VRS = frozenset({"IS", "DS", "FD", "FL", "SL", "UL", "SS", "US"})
_NUMBER = re.compile(rb"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_TAG = struct.Struct("<64si4s3i")
_ITEM = struct.Struct("<4i")


class CsaUnreadable(ValueError):
    """The CSA header's bytes do not walk as a CSA2 (SV10) header."""


def keeps_as_is(group: int, creator: str, element: int, vr: str) -> bool:
    """Whether a United Imaging row is kept unchanged: only with a numeric VR (UN or a text VR is dropped)."""
    return any((group, creator, element) == row[:3] and vr in row[3] for row in KEPT_AS_NUMBERS)


def is_csa_image_header(group: int, creator: str, element: int) -> bool:
    return (group, creator, element) == (0x0029, CSA_CREATOR, CSA_IMAGE_HEADER)


def is_uih_tiles(group: int, creator: str, element: int) -> bool:
    return (group, creator, element) == (0x0065, UIH_CREATOR, UIH_TILES)


def tile_positions(items: list) -> list[list[float]] | None:
    """Each tile item's Image Position (Patient) as three numbers; None when an item lacks one (nothing is kept)."""
    positions = []
    for item in items:
        position = item.get("ImagePositionPatient")
        if position is None or len(position) != 3:
            return None
        positions.append([float(value) for value in position])
    return positions


def cleaned_csa(raw: bytes) -> bytes | None:
    """A CSA2 header holding only CSA_FIELDS whose every value is a number, byte for byte as they were; None when no
    such field is left. CsaUnreadable when `raw` is not a CSA2 header (a CSA1 header is never kept)."""
    if raw[:4] != b"SV10" or len(raw) < 16:
        raise CsaUnreadable("not a CSA2 (SV10) header")
    count, check = struct.unpack_from("<2I", raw, 8)
    position, kept = 16, []
    for _ in range(count):
        if position + _TAG.size > len(raw):
            raise CsaUnreadable("a field runs past the header's end")
        name, _vm, vr, _syngodt, items, _last = _TAG.unpack_from(raw, position)
        start, position = position, position + _TAG.size
        values = []
        for _ in range(items):
            if position + _ITEM.size > len(raw):
                raise CsaUnreadable("an item runs past the header's end")
            length = _ITEM.unpack_from(raw, position)[1]
            position += _ITEM.size
            if length < 0 or position + length > len(raw):
                raise CsaUnreadable("an item runs past the header's end")
            values.append(raw[position:position + length].strip(b"\x00 "))
            position += length + (-length % 4)
        field = name.split(b"\x00", 1)[0].decode("latin-1")
        numbers = vr.split(b"\x00", 1)[0].decode("latin-1") in _CSA_NUMERIC_VRS
        if field in CSA_FIELDS and numbers and all(not value or _NUMBER.fullmatch(value) for value in values):
            kept.append(raw[start:position])
    if not kept:
        return None
    return b"SV10\x04\x03\x02\x01" + struct.pack("<2I", len(kept), check) + b"".join(kept)
