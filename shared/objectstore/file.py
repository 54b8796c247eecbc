"""The `file://` object store: one directory per bucket holding each object as a plain file at its key.

Layout under the root::

    <bucket>/<key>                       the object's bytes, browsable as ordinary files
    .radlab/meta/<bucket>/<h:2>/<h>.json its sidecar (h: sha256 of the key): size, sha256, content type,
                                         metadata, time written; named by hash so no key can collide
    .radlab/tmp/                         writes in progress (nothing else ever lives here)
    .radlab/locks/<bucket>.lock          serialises commits in a bucket against each other and readers

Bucket names cannot start with '.', so `.radlab` never collides with a bucket.

A put streams into a temp file, then commits under the bucket's lock: first the sidecar, listing the new
version and the one it replaces, then `os.replace` of the bytes. A crash between the two leaves the old
bytes with a sidecar that still describes them, so no object is ever visible without its sidecar. Each
sidecar version names the file it describes by size and mtime (both kept by `os.replace`, `cp -a` and
`rsync -a`); where that is ambiguous or lost, the sha256 decides.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from shared.files import fsync_directory, write_atomically
from shared.objectstore.port import (
    DEFAULT_CONTENT_TYPE,
    BucketNotFound,
    InvalidObjectKey,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    check_bucket,
    check_key,
    check_metadata,
    check_range,
)

_CHUNK = 1 << 20
_INTERNAL = ".radlab"


class FileObjectStore(ObjectStore):
    """Objects as files under `root`; safe to share between threads and processes on one machine."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._meta = self.root / _INTERNAL / "meta"
        self._tmp = self.root / _INTERNAL / "tmp"
        self._locks = self.root / _INTERNAL / "locks"
        for directory in (self._meta, self._tmp, self._locks):
            directory.mkdir(parents=True, exist_ok=True)

    def ensure_bucket(self, bucket: str) -> None:
        (self.root / check_bucket(bucket)).mkdir(exist_ok=True)

    def _write(
        self, bucket: str, key: str, data: bytes | BinaryIO, *, content_type: str, metadata: dict[str, str] | None
    ) -> ObjectInfo:
        path = self._object_path(bucket, key)
        metadata = dict(check_metadata(metadata or {}))
        fd, temp_name = tempfile.mkstemp(dir=self._tmp, prefix="put-")
        temp = Path(temp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                size, sha256 = _copy_hashing(data, out)
                out.flush()
                os.fsync(out.fileno())
                mtime_ns = os.fstat(out.fileno()).st_mtime_ns
            version = {
                "size": size,
                "mtime_ns": mtime_ns,
                "sha256": sha256,
                "content_type": content_type,
                "metadata": metadata,
                "modified": datetime.now(UTC).isoformat(),
            }
            with self._bucket_lock(bucket, fcntl.LOCK_EX):
                self._make_room(bucket, key, path)
                current = self._current_version(path, self._read_sidecar(bucket, key))
                self._write_sidecar(bucket, key, [version] + ([current] if current else []))
                os.replace(temp, path)
                fsync_directory(path.parent)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return _info(bucket, key, version)

    def ping(self, timeout_s: float) -> None:
        # A file made and removed where puts begin: the directory is there and takes writes (a local disk does not
        # hang, so `timeout_s` needs no enforcing here).
        with tempfile.TemporaryFile(dir=self._tmp, prefix="ping-"):
            pass

    def download_url(self, bucket: str, key: str, expires_s: int = 3600) -> str:
        path = self._object_path(bucket, key)
        if not path.is_file():
            raise ObjectNotFound(bucket, key)
        return path.as_uri()

    def get(self, bucket: str, key: str) -> bytes:
        with self._open(bucket, key) as file:
            return file.read()

    def stream(self, bucket: str, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, not {chunk_size}")
        # Opened here, not in the generator, so a missing object raises at the call.
        file = self._open(bucket, key)
        return _chunks(file, chunk_size)

    def get_range(self, bucket: str, key: str, offset: int, length: int) -> bytes:
        check_range(offset, length)
        with self._open(bucket, key) as file:
            file.seek(offset)
            return file.read(length)

    def head(self, bucket: str, key: str) -> ObjectInfo:
        path = self._object_path(bucket, key)
        with self._bucket_lock(bucket, fcntl.LOCK_SH):
            version = self._current_version(path, self._read_sidecar(bucket, key))
        if version is None:
            raise ObjectNotFound(bucket, key)
        return _info(bucket, key, version)

    def exists(self, bucket: str, key: str) -> bool:
        return self._object_path(bucket, key).is_file()

    def delete(self, bucket: str, key: str) -> None:
        path = self._object_path(bucket, key)
        sidecar = self._sidecar_path(bucket, key)
        with self._bucket_lock(bucket, fcntl.LOCK_EX):
            if path.is_file():
                path.unlink()
            sidecar.unlink(missing_ok=True)
            # A key may later name a file where this one's directories were.
            _remove_empty_parents(path.parent, stop=self.root / bucket)

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        bucket_dir = self._bucket_dir(bucket)
        # Only the directory the prefix ends in can hold matches; a partial last segment is a filter.
        start = bucket_dir.joinpath(*prefix.split("/")[:-1])
        keys = sorted(
            key
            for directory, _, files in os.walk(start)
            for name in files
            if (key := (Path(directory) / name).relative_to(bucket_dir).as_posix()).startswith(prefix)
        )
        for key in keys:
            try:
                yield self.head(bucket, key)
            except ObjectNotFound:
                continue  # deleted since the walk

    def _bucket_dir(self, bucket: str) -> Path:
        directory = self.root / check_bucket(bucket)
        if not directory.is_dir():
            raise BucketNotFound(bucket)
        return directory

    def _object_path(self, bucket: str, key: str) -> Path:
        return self._bucket_dir(bucket).joinpath(*check_key(key).split("/"))

    def _sidecar_path(self, bucket: str, key: str) -> Path:
        name = hashlib.sha256(key.encode()).hexdigest()
        return self._meta / bucket / name[:2] / f"{name}.json"

    def _open(self, bucket: str, key: str) -> BinaryIO:
        try:
            return self._object_path(bucket, key).open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(bucket, key) from None

    @contextmanager
    def _bucket_lock(self, bucket: str, operation: int) -> Iterator[None]:
        with (self._locks / f"{bucket}.lock").open("a") as lock:
            fcntl.flock(lock, operation)
            yield

    def _make_room(self, bucket: str, key: str, path: Path) -> None:
        """Create the object's directory, or explain why a file store cannot hold this key beside another."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            blocker = next(p for p in path.parents if p.is_file()).relative_to(self.root / bucket).as_posix()
            raise InvalidObjectKey(
                f"cannot store {key!r} in bucket {bucket!r}: object {blocker!r} is in the way, and the file "
                "store cannot hold a key that is also the prefix of another; rename one of them"
            ) from None
        if path.is_dir():
            raise InvalidObjectKey(
                f"cannot store {key!r} in bucket {bucket!r}: objects exist under {key + '/'!r}, and the file "
                "store cannot hold a key that is also the prefix of another; rename one of them"
            )

    def _read_sidecar(self, bucket: str, key: str) -> list[dict[str, Any]]:
        try:
            return json.loads(self._sidecar_path(bucket, key).read_bytes())["versions"]
        except FileNotFoundError:
            return []

    def _write_sidecar(self, bucket: str, key: str, versions: list[dict[str, Any]]) -> None:
        # Durable (file and folder fsynced) before the bytes it describes replace the old ones.
        data = json.dumps({"key": key, "versions": versions}).encode()
        write_atomically(self._sidecar_path(bucket, key), data, temp_dir=self._tmp)

    @staticmethod
    def _current_version(path: Path, versions: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The sidecar version describing the file now at `path`, or one derived from the file itself."""
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not path.is_file():
            return None
        same_file = [v for v in versions if (v["size"], v["mtime_ns"]) == (stat.st_size, stat.st_mtime_ns)]
        if len(same_file) == 1:
            return same_file[0]
        # A copy that lost mtimes, two writes within the clock's resolution, or a file put there by hand.
        with path.open("rb") as file:
            sha256 = hashlib.file_digest(file, "sha256").hexdigest()
        same_bytes = [v for v in versions if v["sha256"] == sha256]
        if same_bytes:
            return same_bytes[0]
        return {
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "sha256": sha256,
            "content_type": DEFAULT_CONTENT_TYPE,
            "metadata": {},
            "modified": datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(),
        }


def _copy_hashing(data: bytes | BinaryIO, out: BinaryIO) -> tuple[int, str]:
    """Write `data` to `out` chunk by chunk; return its size and sha256."""
    digest = hashlib.sha256()
    size = 0
    if isinstance(data, (bytes, bytearray, memoryview)):
        chunks: Iterable[bytes] = [bytes(data)]
    else:
        chunks = iter(lambda: data.read(_CHUNK), b"")
    for chunk in chunks:
        digest.update(chunk)
        out.write(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def _chunks(file: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    with file:
        yield from iter(lambda: file.read(chunk_size), b"")


def _info(bucket: str, key: str, version: dict[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        bucket=bucket,
        key=key,
        size=version["size"],
        sha256=version["sha256"],
        content_type=version["content_type"],
        modified=datetime.fromisoformat(version["modified"]),
        metadata=dict(version["metadata"]),
    )


def _remove_empty_parents(directory: Path, stop: Path) -> None:
    """Remove `directory` and its parents up to (not including) `stop` while they are empty."""
    while directory != stop:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent
