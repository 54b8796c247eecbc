"""The object store port: S3-style buckets of immutable, atomically replaced objects with metadata."""

from __future__ import annotations

import abc
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

from shared import metrics

DEFAULT_CONTENT_TYPE = "application/octet-stream"
# S3's limits, so what the file store accepts any S3 accepts and returns unchanged.
MAX_KEY_BYTES = 1024
MAX_METADATA_BYTES = 2048

_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# S3 sends metadata as HTTP headers: names come back lowercased, values must be printable ASCII.
_METADATA_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
_METADATA_VALUE = re.compile(r"[\x20-\x7e]*")


@dataclass(frozen=True)
class ObjectInfo:
    """What the store knows about one object, without its bytes; `modified` is UTC."""

    bucket: str
    key: str
    size: int
    sha256: str
    content_type: str
    modified: datetime
    metadata: dict[str, str] = field(default_factory=dict)


class ObjectNotFound(KeyError):
    """No object under this bucket and key."""

    def __init__(self, bucket: str, key: str) -> None:
        super().__init__(bucket, key)
        self.bucket = bucket
        self.key = key

    def __str__(self) -> str:
        return f"no object {self.key!r} in bucket {self.bucket!r}"


class BucketNotFound(ObjectNotFound):
    """The bucket itself does not exist; `ensure_bucket` creates it."""

    def __init__(self, bucket: str) -> None:
        super().__init__(bucket, "")
        self.args = (bucket,)  # what pickle passes back to __init__

    def __str__(self) -> str:
        return f"no bucket {self.bucket!r}: create it first with ensure_bucket({self.bucket!r})"


class InvalidObjectKey(ValueError):
    """A key the store refuses because it is empty, escapes its bucket or is not portable across stores."""


class InvalidBucketName(ValueError):
    """A bucket name outside S3's naming rules."""


def check_bucket(bucket: str) -> str:
    """Return `bucket` if it follows S3's naming rules, else raise InvalidBucketName stating the rules."""
    if not _BUCKET_NAME.fullmatch(bucket) or ".." in bucket or _is_ip_address(bucket):
        raise InvalidBucketName(
            f"invalid bucket name {bucket!r}: use 3-63 lowercase letters, digits, hyphens and single dots, "
            "starting and ending with a letter or digit, not shaped like an IP address (e.g. 'dicom')"
        )
    return bucket


def check_key(key: str) -> str:
    """Return `key` if it is a portable S3-style key like 'a/b/c.dcm', else raise InvalidObjectKey."""
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidObjectKey(f"invalid object key {key!r}: it is not valid UTF-8") from None
    if not key:
        raise InvalidObjectKey("invalid object key '': a key must not be empty")
    if size > MAX_KEY_BYTES:
        raise InvalidObjectKey(f"invalid object key {key[:40]!r}…: it is {size} bytes, the limit is {MAX_KEY_BYTES}")
    if "\\" in key or "\0" in key:
        raise InvalidObjectKey(f"invalid object key {key!r}: backslashes and NUL are not allowed; separate with '/'")
    if key.startswith("/"):
        raise InvalidObjectKey(f"invalid object key {key!r}: it must not start with '/' (keys are relative)")
    # Segments that a filesystem would collapse ('', '.') or follow upwards ('..') would let two keys
    # name one object, or a key escape its bucket.
    if any(segment in ("", ".", "..") for segment in key.split("/")):
        raise InvalidObjectKey(f"invalid object key {key!r}: it must not contain empty, '.' or '..' segments")
    return key


def check_metadata(metadata: dict[str, str]) -> dict[str, str]:
    """Return `metadata` if every S3 store keeps it as given, else raise ValueError saying what to change."""
    for name, value in metadata.items():
        if not _METADATA_NAME.fullmatch(name):
            raise ValueError(f"invalid metadata name {name!r}: use lowercase letters, digits and hyphens")
        if not isinstance(value, str) or not _METADATA_VALUE.fullmatch(value):
            raise ValueError(f"invalid metadata value for {name!r}: use a string of printable ASCII")
    size = sum(len(name) + len(value) for name, value in metadata.items())
    if size > MAX_METADATA_BYTES:
        raise ValueError(f"metadata is {size} bytes, the limit is {MAX_METADATA_BYTES}: keep large facts in an object")
    return metadata


def check_range(offset: int, length: int) -> None:
    """Raise ValueError unless `offset` and `length` are both non-negative."""
    if offset < 0 or length < 0:
        raise ValueError(f"invalid byte range (offset {offset}, length {length}): both must be >= 0")


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class ObjectStore(abc.ABC):
    """Buckets of objects; one instance may be shared by threads and processes.

    Writes are atomic: a reader sees the old object or the new one, never part of one, and a write that
    fails (its input raising midway included) leaves the previous object, if any, as it was.
    """

    @abc.abstractmethod
    def ensure_bucket(self, bucket: str) -> None:
        """Create `bucket` unless it exists."""

    def put(
        self,
        bucket: str,
        key: str,
        data: bytes | BinaryIO,
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        metadata: dict[str, str] | None = None,
    ) -> ObjectInfo:
        """Store `data` (bytes, or a binary file read in chunks, never whole) under `key`, replacing any object.

        Every adapter's write comes through here, so the bytes stored are counted once per bucket
        (`radlab_stored_bytes_total`)."""
        info = self._write(bucket, key, data, content_type=content_type, metadata=metadata)
        metrics.STORED_BYTES.labels(info.bucket).inc(info.size)
        return info

    @abc.abstractmethod
    def _write(
        self, bucket: str, key: str, data: bytes | BinaryIO, *, content_type: str, metadata: dict[str, str] | None
    ) -> ObjectInfo:
        """The adapter's half of `put`: store the object atomically and describe what was stored."""

    @abc.abstractmethod
    def ping(self, timeout_s: float) -> None:
        """Return if the store answers within about `timeout_s`, else raise an error saying why (readiness)."""

    @abc.abstractmethod
    def get(self, bucket: str, key: str) -> bytes:
        """The whole object; use `stream` for large ones."""

    @abc.abstractmethod
    def stream(self, bucket: str, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The object in chunks of at most `chunk_size` bytes; raises ObjectNotFound before the first chunk."""

    @abc.abstractmethod
    def get_range(self, bucket: str, key: str, offset: int, length: int) -> bytes:
        """Up to `length` bytes from `offset`: fewer where the object ends sooner, b"" from past its end."""

    @abc.abstractmethod
    def head(self, bucket: str, key: str) -> ObjectInfo:
        """The object's size, checksum, content type and metadata, without its bytes."""

    @abc.abstractmethod
    def exists(self, bucket: str, key: str) -> bool:
        """Whether an object is stored under `key`."""

    @abc.abstractmethod
    def delete(self, bucket: str, key: str) -> None:
        """Remove the object; deleting an absent object is not an error."""

    @abc.abstractmethod
    def download_url(self, bucket: str, key: str, expires_s: int = 3600) -> str:
        """A URL that fetches the object without credentials for `expires_s` seconds (S3: presigned; file: a file:// URL
        valid as long as the file is there); ObjectNotFound if absent."""

    @abc.abstractmethod
    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with `prefix` (a plain string prefix, at any depth), sorted by key."""
