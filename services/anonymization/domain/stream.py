"""The byte-level engine: walks an explicit VR little endian instance's bytes, copies what it keeps and encodes only what it changes."""

from __future__ import annotations


def deidentify(data, table, key, tenant, options, scan):
    return None
