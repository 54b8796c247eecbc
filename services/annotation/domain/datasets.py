"""What makes a dataset valid, and who may see it."""

from __future__ import annotations

import uuid

from radlab.quoting import shown
from radlab.tokens import ACCOUNT_ID
from shared.errors import InvalidArgument

MAX_NAME = 200
MAX_DESCRIPTION = 4000


def clean_name(name: str) -> str:
    """The dataset name to store: trimmed, non-empty, printable, at most MAX_NAME characters."""
    cleaned = name.strip()
    if not cleaned:
        raise InvalidArgument("a dataset needs a name")
    if len(cleaned) > MAX_NAME:
        raise InvalidArgument(f"dataset name is {len(cleaned)} characters long; the limit is {MAX_NAME}")
    if not cleaned.isprintable():
        raise InvalidArgument("dataset name contains control characters; use plain text")
    return cleaned


def chosen_dataset_id(dataset_id: str) -> str:
    """The dataset id a caller chose (a UUID in its canonical lower-case form), or a new one when none was chosen."""
    if not dataset_id:
        return str(uuid.uuid4())
    try:
        canonical = str(uuid.UUID(dataset_id))
    except ValueError:
        canonical = ""
    if canonical != dataset_id:
        raise InvalidArgument(f"dataset id {shown(dataset_id)} is not a UUID in its canonical form "
                              "(e.g. 0f8fad5b-d9cb-469f-a165-70867728950e); leave it empty and Radlab picks one")
    return dataset_id


def clean_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION:
        raise InvalidArgument(f"description is {len(description)} characters long; the limit is {MAX_DESCRIPTION}")
    return description.strip()


def clean_vendor_id(vendor_id: str) -> str:
    """A vendor id as tokens carry it: lowercase letters, digits, '.', '_' or '-', at most 63."""
    if not ACCOUNT_ID.fullmatch(vendor_id):
        raise InvalidArgument(f"vendor id {shown(vendor_id)} is not valid: use lowercase letters, digits, '.', '_' or '-'")
    return vendor_id


def visible_to_vendor(shared_with: set[str], vendor_id: str) -> bool:
    """A vendor account sees a dataset only while it is shared with that vendor."""
    return vendor_id in shared_with
