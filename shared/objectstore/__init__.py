"""The object store port and its adapters, chosen by URL: `file:///path` (a directory) or `s3://host:port`."""

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

# The buckets of the storage layout: raw uploads (may hold PHI, until anonymization), de-identified instances,
# image volumes, label arrays, label exports, model artifacts and training checkpoints.
QUARANTINE_BUCKET, DICOM_BUCKET, VOLUMES_BUCKET, LABELS_BUCKET = "quarantine", "dicom", "volumes", "labels"
EXPORTS_BUCKET, MODELS_BUCKET = "exports", "models"

__all__ = [
    "DICOM_BUCKET",
    "EXPORTS_BUCKET",
    "LABELS_BUCKET",
    "MODELS_BUCKET",
    "QUARANTINE_BUCKET",
    "VOLUMES_BUCKET",
    "BucketNotFound",
    "InvalidBucketName",
    "InvalidObjectKey",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "connect",
]


def connect(url: str) -> ObjectStore:
    """Open the store named by `url`: `file:///abs/dir`, `file://rel/dir` from the working directory, or
    `s3://[ACCESS:SECRET@]host:port[?secure=true&region=…]` (credentials else from RADLAB_S3_ACCESS_KEY and
    RADLAB_S3_SECRET_KEY)."""
    scheme, _, location = url.partition("://")
    if scheme == "file" and location:
        from shared.objectstore.file import FileObjectStore

        # The rest is a path taken literally (as config writes it), so file://objects means ./objects.
        return FileObjectStore(Path(location))
    if scheme == "s3" and location:
        from shared.objectstore.s3 import S3ObjectStore

        return S3ObjectStore.from_url(url)
    raise ValueError(
        f"unsupported object store URL {url!r}: use file:///path/to/objects (a local directory, created if "
        "missing) or s3://ACCESS:SECRET@host:port (an S3 server)"
    )
