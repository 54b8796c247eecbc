"""The PACS sources ingestion takes instances from: each calling AE title bound to a tenant and a dataset."""

from __future__ import annotations

import re
from dataclasses import dataclass

_AE_TITLE = re.compile(r"[\x20-\x5b\x5d-\x7e]{1,16}")  # printable ASCII but the backslash, at most 16 characters


@dataclass(frozen=True)
class Source:
    """A PACS or modality Radlab takes instances from: its AE title (the C-STORE calling AE title, and the name in
    the STOW-RS path), and the tenant and dataset its instances go into."""

    ae_title: str
    tenant: str
    dataset_id: str


def parse_sources(text: str) -> dict[str, Source]:
    """RADLAB_DICOM_SOURCES: entries `AE_TITLE=tenant/dataset_id`, separated by spaces or commas, by AE title."""
    sources: dict[str, Source] = {}
    for entry in text.replace(",", " ").split():
        title, _, binding = entry.partition("=")
        tenant, _, dataset_id = binding.partition("/")
        if not (_AE_TITLE.fullmatch(title) and tenant and dataset_id and "/" not in dataset_id):
            raise ValueError(
                f"RADLAB_DICOM_SOURCES entry {entry[:80]!r} is not AE_TITLE=tenant/dataset_id "
                "(an AE title is 1 to 16 printable ASCII characters without spaces or a backslash)"
            )
        if title in sources:
            raise ValueError(f"RADLAB_DICOM_SOURCES binds AE title {title} twice; bind each calling AE title to one dataset")
        sources[title] = Source(title, tenant, dataset_id)
    return sources
