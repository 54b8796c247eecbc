"""The behaviour every object store adapter must have; subclass `ObjectStoreContract` and provide `store`."""

from __future__ import annotations

import hashlib
import io
import threading
import tracemalloc
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from shared.objectstore import (
    BucketNotFound,
    InvalidBucketName,
    InvalidObjectKey,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
)

MiB = 1 << 20


class GeneratedStream(io.RawIOBase):
    """A readable stream of `size` pseudo-random bytes made as they are read, hashing what it hands out."""

    def __init__(self, size: int, fail_after: int | None = None) -> None:
        self._left = size
        self._fail_after = fail_after
        self._handed_out = 0
        self._pending = b""
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._fail_after is not None and self._handed_out >= self._fail_after:
            raise ConnectionResetError("upload interrupted")
        if not self._pending and self._left:
            self._pending = hashlib.shake_256(str(self._left).encode()).digest(min(self._left, 64 * 1024))
            self._left -= len(self._pending)
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self.sha256.update(self._pending[:count])
        self._pending = self._pending[count:]
        self._handed_out += count
        return count


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _keys(infos: Iterable[ObjectInfo]) -> list[str]:
    return [info.key for info in infos]


def stored_bytes(bucket: str) -> float:
    """What `radlab_stored_bytes_total` says of `bucket` now."""
    return REGISTRY.get_sample_value("radlab_stored_bytes_total", {"bucket": bucket}) or 0.0


class ObjectStoreContract:
    """Tests run against every adapter; a subclass supplies the `store` fixture."""

    @pytest.fixture
    def store(self) -> ObjectStore:
        raise NotImplementedError("a subclass provides the store under test")

    @pytest.fixture
    def bucket(self, store: ObjectStore) -> str:
        """A fresh bucket of its own for each test, so tests never see each other's objects."""
        name = f"contract-{uuid.uuid4().hex[:16]}"
        store.ensure_bucket(name)
        return name

    def test_put_counts_the_bytes_it_stores_per_bucket(self, store: ObjectStore, bucket: str) -> None:
        """`radlab_stored_bytes_total{bucket}` grows by each object's size, bytes or stream, in the port's put."""
        assert stored_bytes(bucket) == 0
        store.put(bucket, "a.bin", b"x" * 1000)
        assert stored_bytes(bucket) == 1000
        store.put(bucket, "b.bin", GeneratedStream(3 * MiB))
        assert stored_bytes(bucket) == 1000 + 3 * MiB
        with pytest.raises(ConnectionResetError):
            store.put(bucket, "c.bin", GeneratedStream(2 * MiB, fail_after=MiB))
        assert stored_bytes(bucket) == 1000 + 3 * MiB  # a failed put stored nothing

    def test_ping_answers_while_the_store_does(self, store: ObjectStore) -> None:
        """Readiness's probe returns (within its timeout) while the store serves."""
        store.ping(2.0)

    def test_bytes_round_trip(self, store: ObjectStore, bucket: str) -> None:
        """Bytes put under a key come back unchanged, with their size, sha256 and a UTC write time."""
        data = b"DICM" + bytes(range(256)) * 10
        before = datetime.now(UTC) - timedelta(seconds=5)
        info = store.put(bucket, "studies/1/ct.dcm", data)
        assert store.get(bucket, "studies/1/ct.dcm") == data
        assert (info.bucket, info.key, info.size, info.sha256) == (bucket, "studies/1/ct.dcm", len(data), _sha256(data))
        assert info.content_type == "application/octet-stream"
        assert info.metadata == {}
        assert before <= info.modified <= datetime.now(UTC) + timedelta(seconds=5)
        assert info.modified.utcoffset() == timedelta(0)

    def test_download_url_fetches_the_object_without_credentials(self, store: ObjectStore, bucket: str) -> None:
        import urllib.request

        store.put(bucket, "exports/a b.zip", b"archive bytes")
        with urllib.request.urlopen(store.download_url(bucket, "exports/a b.zip", expires_s=60)) as response:
            assert response.read() == b"archive bytes"
        with pytest.raises(ObjectNotFound):
            store.download_url(bucket, "exports/absent.zip")

    def test_file_like_round_trip(self, store: ObjectStore, bucket: str) -> None:
        """A binary file object is stored whole and its sha256 reported."""
        data = bytes(range(256)) * 9000  # over 2 MiB: more than one read of the input
        info = store.put(bucket, "volumes/v1/chunk", io.BytesIO(data))
        assert info.size == len(data)
        assert info.sha256 == _sha256(data)
        assert store.get(bucket, "volumes/v1/chunk") == data

    def test_empty_object(self, store: ObjectStore, bucket: str) -> None:
        """A zero-byte object exists, has size 0, and streams no chunks."""
        store.put(bucket, "empty", b"")
        assert store.exists(bucket, "empty")
        assert store.get(bucket, "empty") == b""
        assert list(store.stream(bucket, "empty")) == []
        assert store.head(bucket, "empty").sha256 == _sha256(b"")

    def test_unicode_and_spaces_in_keys(self, store: ObjectStore, bucket: str) -> None:
        """Keys with spaces and non-ASCII letters round-trip and list as written."""
        key = "imports/Über scan (2)/série 1.dcm"
        store.put(bucket, key, b"x")
        assert store.get(bucket, key) == b"x"
        assert _keys(store.list(bucket)) == [key]

    def test_large_object_streams_through_bounded_memory(self, store: ObjectStore, bucket: str) -> None:
        """64 MiB written from a generated stream and streamed back never holds more than 16 MiB in memory."""
        size = 64 * MiB
        source = GeneratedStream(size)
        tracemalloc.start()
        try:
            info = store.put(bucket, "big/volume.bin", source)
            read_back = hashlib.sha256()
            total = 0
            for chunk in store.stream(bucket, "big/volume.bin", chunk_size=MiB):
                assert len(chunk) <= MiB
                read_back.update(chunk)
                total += len(chunk)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert (info.size, total) == (size, size)
        assert info.sha256 == source.sha256.hexdigest() == read_back.hexdigest()
        assert peak < 16 * MiB, f"peak Python memory {peak / MiB:.1f} MiB"

    def test_stream_chunk_size(self, store: ObjectStore, bucket: str) -> None:
        """`stream` yields chunks no larger than asked that join to the object."""
        store.put(bucket, "k", b"0123456789")
        chunks = list(store.stream(bucket, "k", chunk_size=3))
        assert b"".join(chunks) == b"0123456789"
        assert all(1 <= len(chunk) <= 3 for chunk in chunks)

    @pytest.mark.parametrize(
        ("offset", "length", "expected"),
        [
            (0, 10, bytes(range(0, 10))),  # start
            (95, 10, bytes(range(95, 105))),  # middle
            (190, 10, bytes(range(190, 200))),  # exactly the end
            (195, 100, bytes(range(195, 200))),  # runs past the end
            (200, 10, b""),  # starts at the end
            (5000, 10, b""),  # starts past the end
            (100, 0, b""),  # empty range
        ],
    )
    def test_byte_ranges(self, store: ObjectStore, bucket: str, offset: int, length: int, expected: bytes) -> None:
        """`get_range` returns the bytes that exist in [offset, offset + length)."""
        store.put(bucket, "k", bytes(range(200)))
        assert store.get_range(bucket, "k", offset, length) == expected

    def test_negative_range_rejected(self, store: ObjectStore, bucket: str) -> None:
        """A negative offset or length is a ValueError."""
        store.put(bucket, "k", b"abc")
        with pytest.raises(ValueError):
            store.get_range(bucket, "k", -1, 2)
        with pytest.raises(ValueError):
            store.get_range(bucket, "k", 0, -2)

    def test_head_and_exists(self, store: ObjectStore, bucket: str) -> None:
        """`head` reports what `put` stored, content type and metadata included; `exists` tells stored from not."""
        metadata = {"study-uid": "1.2.840.113619.2.55", "modality": "CT"}
        stored = store.put(bucket, "a/b.dcm", b"abc", content_type="application/dicom", metadata=metadata)
        info = store.head(bucket, "a/b.dcm")
        assert info == stored
        assert (info.content_type, info.metadata, info.size, info.sha256) == (
            "application/dicom",
            metadata,
            3,
            _sha256(b"abc"),
        )
        assert store.exists(bucket, "a/b.dcm")
        assert not store.exists(bucket, "a/b.dc")
        assert not store.exists(bucket, "a")  # a prefix is not an object

    def test_missing_object(self, store: ObjectStore, bucket: str) -> None:
        """Reading an absent key raises ObjectNotFound (a KeyError) naming the bucket and key."""
        store.put(bucket, "present", b"x")
        for read in (store.get, store.head, store.stream, lambda b, k: store.get_range(b, k, 0, 1)):
            with pytest.raises(ObjectNotFound) as raised:
                read(bucket, "present/absent")
            assert isinstance(raised.value, KeyError)
            assert "present/absent" in str(raised.value) and bucket in str(raised.value)

    def test_missing_bucket(self, store: ObjectStore) -> None:
        """Every operation on a bucket nobody created raises BucketNotFound, pointing at `ensure_bucket`."""
        missing = f"absent-{uuid.uuid4().hex[:12]}"
        operations = [
            lambda: store.put(missing, "k", b"x"),
            lambda: store.get(missing, "k"),
            lambda: store.head(missing, "k"),
            lambda: store.exists(missing, "k"),
            lambda: store.delete(missing, "k"),
            lambda: list(store.list(missing)),
        ]
        for operation in operations:
            with pytest.raises(BucketNotFound, match="ensure_bucket"):
                operation()

    def test_ensure_bucket_is_idempotent(self, store: ObjectStore, bucket: str) -> None:
        """Ensuring an existing bucket keeps its objects."""
        store.put(bucket, "k", b"x")
        store.ensure_bucket(bucket)
        assert store.get(bucket, "k") == b"x"

    def test_overwrite_replaces_bytes_type_and_metadata(self, store: ObjectStore, bucket: str) -> None:
        """A second put under a key replaces the bytes and everything `head` reports."""
        store.put(bucket, "k", b"first version", content_type="text/plain", metadata={"rev": "1"})
        second = store.put(bucket, "k", b"second")
        assert store.get(bucket, "k") == b"second"
        assert store.head(bucket, "k") == second
        assert (second.content_type, second.metadata, second.size) == ("application/octet-stream", {}, 6)
        assert _keys(store.list(bucket)) == ["k"]

    def test_delete_is_idempotent(self, store: ObjectStore, bucket: str) -> None:
        """Deleting removes the object, and deleting an absent one does nothing."""
        store.put(bucket, "a/b/c", b"x")
        store.put(bucket, "a/keep", b"y")
        store.delete(bucket, "a/b/c")
        store.delete(bucket, "a/b/c")
        store.delete(bucket, "never/stored")
        assert not store.exists(bucket, "a/b/c")
        assert _keys(store.list(bucket)) == ["a/keep"]

    def test_deleted_prefix_can_become_a_key(self, store: ObjectStore, bucket: str) -> None:
        """Once its only object is deleted, a former prefix 'a/b' can itself be stored as a key."""
        store.put(bucket, "a/b/c", b"x")
        store.delete(bucket, "a/b/c")
        store.put(bucket, "a/b", b"now a key")
        assert store.get(bucket, "a/b") == b"now a key"

    def test_list_is_recursive_sorted_and_filtered_by_prefix(self, store: ObjectStore, bucket: str) -> None:
        """`list` walks every depth, sorts by key as S3 does ('.' < '/'), and treats the prefix as a string."""
        keys = ["b/2", "a/1", "a/10/x", "a.b", "a/2", "ab", "a/3/deep/er"]
        for key in keys:
            store.put(bucket, key, key.encode())
        listed = list(store.list(bucket))
        assert _keys(listed) == sorted(keys)
        assert all(info.size == len(info.key) and info.sha256 == _sha256(info.key.encode()) for info in listed)
        assert _keys(store.list(bucket, "a/")) == ["a/1", "a/10/x", "a/2", "a/3/deep/er"]
        assert _keys(store.list(bucket, "a/1")) == ["a/1", "a/10/x"]
        assert _keys(store.list(bucket, "a")) == sorted(k for k in keys if k.startswith("a"))
        assert list(store.list(bucket, "zzz")) == []

    def test_list_reports_metadata(self, store: ObjectStore, bucket: str) -> None:
        """Listed objects carry the same content type and metadata as `head`."""
        store.put(bucket, "k", b"x", content_type="application/json", metadata={"kind": "mask"})
        assert list(store.list(bucket)) == [store.head(bucket, "k")]

    @pytest.mark.parametrize(
        "key",
        ["", "/abs", "a/../b", "..", "../escape", "a\\b", "a\0b", "a//b", "./a", "a/./b", "trailing/", "k" * 1025],
    )
    def test_invalid_keys_rejected(self, store: ObjectStore, bucket: str, key: str) -> None:
        """Keys that are empty, absolute, escape upwards or are not portable raise InvalidObjectKey."""
        with pytest.raises(InvalidObjectKey):
            store.put(bucket, key, b"x")
        with pytest.raises(InvalidObjectKey):
            store.get(bucket, key)
        assert _keys(store.list(bucket)) == []

    @pytest.mark.parametrize(
        "name", ["ab", "x" * 64, "Upper", "under_score", "-start", "end-", ".start", "two..dots", "192.168.1.10", "a/b"]
    )
    def test_invalid_bucket_names_rejected(self, store: ObjectStore, name: str) -> None:
        """Bucket names outside S3's rules raise InvalidBucketName (a ValueError)."""
        with pytest.raises(InvalidBucketName):
            store.ensure_bucket(name)
        with pytest.raises(ValueError):
            store.get(name, "k")

    @pytest.mark.parametrize(
        "metadata", [{"Study": "1"}, {"with space": "1"}, {"name": "Jürgen"}, {"big": "x" * 4096}]
    )
    def test_unportable_metadata_rejected(self, store: ObjectStore, bucket: str, metadata: dict[str, str]) -> None:
        """Metadata that S3 would not return as given (uppercase names, non-ASCII, over 2 KiB) is a ValueError."""
        with pytest.raises(ValueError):
            store.put(bucket, "k", b"x", metadata=metadata)
        assert not store.exists(bucket, "k")

    def test_failed_put_keeps_previous_version(self, store: ObjectStore, bucket: str) -> None:
        """An input that raises midway propagates, and the previous object stays whole and listed alone."""
        previous = store.put(bucket, "k", b"previous", metadata={"rev": "1"})
        with pytest.raises(ConnectionResetError):
            store.put(bucket, "k", GeneratedStream(8 * MiB, fail_after=3 * MiB))
        assert store.get(bucket, "k") == b"previous"
        assert store.head(bucket, "k") == previous
        assert list(store.list(bucket)) == [previous]

    def test_failed_put_of_new_key_leaves_nothing(self, store: ObjectStore, bucket: str) -> None:
        """An input that raises midway leaves no object behind under a new key."""
        with pytest.raises(ConnectionResetError):
            store.put(bucket, "new", GeneratedStream(8 * MiB, fail_after=3 * MiB))
        assert not store.exists(bucket, "new")
        with pytest.raises(ObjectNotFound):
            store.head(bucket, "new")
        assert list(store.list(bucket)) == []

    def test_concurrent_puts_and_reads_see_whole_versions(self, store: ObjectStore, bucket: str) -> None:
        """Threads overwriting one key while others read: every read, and the end state, is one whole version."""
        versions = [bytes([n]) * (2 * MiB + n) for n in range(6)]
        store.put(bucket, "k", versions[0])
        writing = threading.Event()
        reads = 0
        errors: list[BaseException] = []

        def write(version: bytes) -> None:
            try:
                for _ in range(3):
                    store.put(bucket, "k", io.BytesIO(version))
            except BaseException as err:  # surfaced by the assertion below
                errors.append(err)

        def read() -> None:
            nonlocal reads
            try:
                while writing.is_set():
                    assert store.get(bucket, "k") in versions
                    info = store.head(bucket, "k")
                    assert any(info.sha256 == _sha256(v) and info.size == len(v) for v in versions)
                    reads += 1
            except BaseException as err:
                errors.append(err)

        writing.set()
        threads = [threading.Thread(target=write, args=(v,)) for v in versions]
        readers = [threading.Thread(target=read) for _ in range(2)]
        for thread in threads + readers:
            thread.start()
        for thread in threads:
            thread.join()
        writing.clear()
        for thread in readers:
            thread.join()
        assert errors == []
        assert reads > 0
        final = store.get(bucket, "k")
        assert final in versions
        assert store.head(bucket, "k").sha256 == _sha256(final)
        assert _keys(store.list(bucket)) == ["k"]
