"""Private elements found by their creator's name, wherever the instance placed its block."""

from __future__ import annotations

from pydicom.dataset import Dataset


def private_block(dataset: Dataset, group: int, creator: str) -> int | None:
    """The block (0x10–0xFF) `creator` reserved in `group`, or None when the instance has no such creator."""
    # The instance's own tags (far fewer than the 240 places a block may be), compared as plain ints: pydicom's tags
    # compare in Python, shifts and masks do not.
    for tag in dataset.keys():
        if tag >> 16 == group and 0x10 <= tag & 0xFFFF <= 0xFF and str(dataset[tag].value).strip() == creator:
            return tag & 0xFF
    return None


def private_value(dataset: Dataset, group: int, creator: str, element: int) -> object:
    """The value of `creator`'s element (its low byte) in `group`; None when absent or left as undecoded bytes."""
    block = private_block(dataset, group, creator)
    found = None if block is None else dataset.get((group, (block << 8) | element))
    if found is None or isinstance(found.value, bytes):
        return None
    return found.value
