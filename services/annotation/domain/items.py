"""What makes an item's name, tags, metadata and folders valid."""

from __future__ import annotations

from radlab.quoting import shown
from shared.errors import InvalidArgument

MAX_TAG = 100
MAX_TAGS = 50
MAX_METADATA_ENTRIES = 100
MAX_METADATA_VALUE = 2000
MAX_FOLDER_NAME = 200


def display_name(series_description: str, modality: str, series_id: str) -> str:
    """How an item is named in lists: its series description, else its modality and series id."""
    return series_description.strip() or f"{modality or 'volume'} {series_id[:12]}"


def clean_tags(tags: list[str]) -> list[str]:
    cleaned = sorted({tag.strip() for tag in tags})
    if len(cleaned) > MAX_TAGS:
        raise InvalidArgument(f"an item has at most {MAX_TAGS} tags; {len(cleaned)} given")
    for tag in cleaned:
        if not tag or len(tag) > MAX_TAG or not tag.isprintable():
            raise InvalidArgument(f"tag {shown(tag)} must be printable text of 1 to {MAX_TAG} characters")
    return cleaned


def clean_metadata(metadata: dict[str, str]) -> dict[str, str]:
    if len(metadata) > MAX_METADATA_ENTRIES:
        raise InvalidArgument(f"an item has at most {MAX_METADATA_ENTRIES} metadata entries")
    for key, value in metadata.items():
        if not key.strip() or len(key) > MAX_TAG or len(value) > MAX_METADATA_VALUE:
            raise InvalidArgument(f"metadata key {shown(key)}: keys are 1 to {MAX_TAG} characters, values at most {MAX_METADATA_VALUE}")
    return dict(metadata)


def clean_folder_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_FOLDER_NAME or not cleaned.isprintable() or "/" in cleaned:
        raise InvalidArgument(f"folder name {shown(cleaned)} must be printable text of 1 to {MAX_FOLDER_NAME} characters without '/'")
    return cleaned
