"""A caller's value as a message may quote it: bounded and printable, so no message echoes unbounded input."""

from __future__ import annotations

# Enough of a caller's value to recognise it (a UUID is 36 characters, a DICOM UID at most 64).
SHOWN_CHARS = 64


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """`value` quoted, in ASCII with escapes, at most `limit` characters of it, '…' marking a cut."""
    text = ascii(str(value)[: limit + 1])[1:-1]
    return f"'{text[:limit]}…'" if len(text) > limit else f"'{text}'"
