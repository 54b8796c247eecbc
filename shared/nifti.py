"""NIfTI-1/-2 headers told from their bytes (size, magic, byte order), for whatever must recognise one without nibabel.

Ingestion tells an uploaded file's kind by it and anonymization edits the header in place, so both read the
same fields the same way; a header of a .hdr/.img pair (magic ni1/ni2) is a NIfTI header too, and the callers
decide what to do with it.
"""

from __future__ import annotations

# header size (the file's first int32, sizeof_hdr) → (offset of the magic, single-file magic, .hdr/.img pair magic)
MAGICS = {
    348: (344, b"n+1\0", b"ni1\0"),
    540: (4, b"n+2\0", b"ni2\0"),
}


def header_format(head: bytes) -> tuple[int, str] | None:
    """(header size 348 or 540, byte order '<' or '>') when `head` starts a NIfTI-1 or NIfTI-2 header; else None."""
    for size, (magic_at, single, pair) in MAGICS.items():
        if len(head) < size or head[magic_at:magic_at + 4] not in (single, pair):
            continue
        for order in ("<", ">"):
            if int.from_bytes(head[:4], "little" if order == "<" else "big", signed=True) == size:
                return size, order
    return None


def is_pair(head: bytes, size: int) -> bool:
    """Whether a header of `size` bytes is the .hdr of a .hdr/.img pair (its image lives in another file)."""
    magic_at, _single, pair = MAGICS[size]
    return head[magic_at:magic_at + 4] == pair
