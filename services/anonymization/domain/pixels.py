"""Pixel-level rules both engines apply: bits outside Bits Stored (where retired overlays hide) and what a compressed frame's header declares."""

from __future__ import annotations

import numpy as np


def within_bits_stored(pixels: np.ndarray, allocated: int, stored: int, high: int, signed: bool) -> np.ndarray:
    """`pixels` (unsigned words) with every bit outside Bits Stored zeroed, or set to the sign for signed data."""
    dtype = pixels.dtype
    low = high - stored + 1
    mask = np.array(((1 << stored) - 1) << low, dtype=dtype)
    cleaned = pixels & mask
    if signed and low == 0:
        sign = (pixels >> high) & 1
        cleaned = cleaned | (sign * np.array(~int(mask) & ((1 << allocated) - 1), dtype=dtype)).astype(dtype)
    return cleaned.astype(dtype)


def cleaned_pixel_bytes(raw: bytes, allocated: int, stored: int, high: int, signed: bool, big_endian: bool) -> bytes | None:
    """Native pixel data with the bits outside Bits Stored cleared, or None when none was set (the common case)."""
    dtype = np.dtype(f"u{allocated // 8}").newbyteorder(">" if big_endian else "<")
    usable = len(raw) // dtype.itemsize * dtype.itemsize
    pixels = np.frombuffer(raw, dtype=dtype, count=usable // dtype.itemsize)
    cleaned = within_bits_stored(pixels, allocated, stored, high, signed)
    if np.array_equal(cleaned, pixels):
        return None
    return cleaned.tobytes() + raw[usable:]


# Start-of-frame markers of the JPEG family (baseline, extended, progressive, lossless, JPEG-LS): the
# segment states the sample precision, and no decoded value can have more bits than that.
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xF7})


def stated_precision(frame: bytes) -> int | None:
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
