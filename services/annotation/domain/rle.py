"""Slice masks as run lengths: how annotation stores one label's pixels on one slice (small, exact, content-hashed)."""

from __future__ import annotations

import hashlib
import struct
import zlib

import numpy as np

_HEADER = struct.Struct("<4sII")  # magic, rows, columns
_MAGIC = b"RLE1"


def encode(mask: np.ndarray) -> bytes:
    """A 2-D boolean mask as bytes: rows, columns, then zlib of the uint32 run lengths of the row-major pixels,
    alternating background and label and starting with background (so a mask starting inside opens with 0)."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"a slice mask is 2-D; got shape {mask.shape}")
    flat = mask.ravel()
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate(([0], changes, [flat.size]))
    runs = np.diff(edges).astype("<u4")
    if flat.size and flat[0]:
        runs = np.concatenate((np.zeros(1, "<u4"), runs))
    return _HEADER.pack(_MAGIC, *mask.shape) + zlib.compress(runs.tobytes(), 6)


def decode(data: bytes) -> np.ndarray:
    """The mask `encode` made; ValueError if the bytes are not one."""
    magic, rows, columns = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise ValueError("not a Radlab slice mask")
    runs = np.frombuffer(zlib.decompress(data[_HEADER.size:]), dtype="<u4")
    if int(runs.sum()) != rows * columns:
        raise ValueError(f"slice mask runs cover {int(runs.sum())} pixels, not {rows}×{columns}")
    values = np.zeros(len(runs), dtype=bool)
    values[1::2] = True
    return np.repeat(values, runs.astype(np.int64)).reshape(rows, columns)


def content_id(encoded: bytes) -> str:
    """The name a slice mask is stored under: equal content, equal name (so an unchanged slice is never written twice)."""
    return hashlib.sha256(encoded).hexdigest()[:40]
