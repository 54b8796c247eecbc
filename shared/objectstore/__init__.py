"""The object store port and its adapters, chosen by URL: `file:///path` (a directory) or, later, `s3://`."""

from __future__ import annotations

from pathlib import Path

from shared.objectstore.port import (
    BucketNotFound,
    InvalidBucketName,
    InvalidObjectKey,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
)

__all__ = [
    "BucketNotFound",
    "InvalidBucketName",
    "InvalidObjectKey",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "connect",
]


def connect(url: str) -> ObjectStore:
    """Open the store named by `url`: `file:///abs/dir`, or `file://rel/dir` from the working directory."""
    scheme, _, location = url.partition("://")
    if scheme == "file" and location:
        from shared.objectstore.file import FileObjectStore

        # The rest is a path taken literally (as config writes it), so file://objects means ./objects.
        return FileObjectStore(Path(location))
    raise ValueError(
        f"unsupported object store URL {url!r}: use file:///path/to/objects (a local directory, created if "
        "missing); s3://host:port is planned"
    )
