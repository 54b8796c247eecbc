"""The object store contract on the `s3://` adapter against a real S3 server, plus what only S3 can show."""

from __future__ import annotations

import hashlib
import io
import pickle
import threading
import tracemalloc
import urllib.request
from urllib.parse import urlsplit

import pytest
from minio import Minio

from shared.objectstore import ObjectStore, connect
from shared.objectstore.s3 import PART_SIZE, STAGING_PREFIX, S3ObjectStore
from tests.contract.objectstore_contract import MiB, GeneratedStream, ObjectStoreContract


def _raw_client(url: str) -> Minio:
    """A plain MinIO client on the same server, to look at what the adapter stored."""
    parts = urlsplit(url)
    return Minio(parts.netloc.rpartition("@")[2], parts.username, parts.password, secure=False)


class TestS3ObjectStore(ObjectStoreContract):
    """Runs the contract on the test session's S3 server (scripts/infra/minio.sh)."""

    @pytest.fixture
    def store(self, minio_url: str) -> ObjectStore:
        return connect(minio_url)

    def test_presigned_url_downloads_with_plain_urllib(self, store: S3ObjectStore, bucket: str) -> None:
        """A presigned GET URL fetches the object's bytes with no credentials and no S3 client."""
        data = b"DICM" + bytes(range(256)) * 40
        store.put(bucket, "studies/1/série 1.dcm", data, content_type="application/dicom")
        url = store.presigned_url(bucket, "studies/1/série 1.dcm", expires_s=60)
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (a loopback test server)
            assert response.read() == data
            assert response.headers["Content-Type"] == "application/dicom"

    def test_presigned_url_expiry_is_bounded(self, store: S3ObjectStore, bucket: str) -> None:
        """Expiry outside S3's 1 second to 7 days is a ValueError before any request."""
        for expires_s in (0, 7 * 24 * 3600 + 1):
            with pytest.raises(ValueError, match="7 days"):
                store.presigned_url(bucket, "k", expires_s=expires_s)

    def test_large_stream_goes_up_as_multipart_in_bounded_memory(
        self, store: S3ObjectStore, bucket: str, minio_url: str
    ) -> None:
        """40 MiB from a stream of unknown length is stored as a 5-part upload, holding one part in memory."""
        size = 40 * MiB
        source = GeneratedStream(size)
        tracemalloc.start()
        try:
            info = store.put(bucket, "big/ct.bin", source, metadata={"modality": "CT"})
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < PART_SIZE + 4 * MiB, f"peak Python memory {peak / MiB:.1f} MiB"
        assert (info.size, info.sha256, info.metadata) == (size, source.sha256.hexdigest(), {"modality": "CT"})
        raw = _raw_client(minio_url)
        etag = raw.stat_object(bucket, "big/ct.bin").etag
        assert etag.endswith(f"-{size // PART_SIZE}"), f"ETag {etag!r} is not a {size // PART_SIZE}-part upload's"
        assert list(raw.list_objects(bucket, prefix=STAGING_PREFIX, recursive=True)) == []

    def test_large_bytes_go_up_as_multipart(self, store: S3ObjectStore, bucket: str, minio_url: str) -> None:
        """Bytes over one part are uploaded in parts straight to their key."""
        data = bytes(range(256)) * (PART_SIZE // 256 * 2 + 1)
        info = store.put(bucket, "k", data)
        assert info.sha256 == hashlib.sha256(data).hexdigest()
        assert _raw_client(minio_url).stat_object(bucket, "k").etag.endswith("-3")
        assert store.get(bucket, "k") == data

    def test_input_failing_after_some_parts_aborts_the_upload(
        self, store: S3ObjectStore, bucket: str, minio_url: str
    ) -> None:
        """A stream that fails after parts went up leaves the old object, no staging object, no open upload."""
        previous = store.put(bucket, "k", b"previous")
        with pytest.raises(ConnectionResetError):
            store.put(bucket, "k", GeneratedStream(40 * MiB, fail_after=20 * MiB))
        assert store.head(bucket, "k") == previous
        assert [info.key for info in store.list(bucket)] == ["k"]
        raw = _raw_client(minio_url)
        assert list(raw.list_objects(bucket, prefix=STAGING_PREFIX, recursive=True)) == []
        uploads = raw._list_multipart_uploads(bucket)  # noqa: SLF001 (the client's only way to list them)
        assert list(uploads.uploads) == []

    def test_credentials_from_environment(
        self, bucket: str, minio_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A URL without userinfo takes RADLAB_S3_ACCESS_KEY and RADLAB_S3_SECRET_KEY."""
        parts = urlsplit(minio_url)
        monkeypatch.setenv("RADLAB_S3_ACCESS_KEY", parts.username or "")
        monkeypatch.setenv("RADLAB_S3_SECRET_KEY", parts.password or "")
        store = connect(f"s3://{parts.hostname}:{parts.port}")
        store.put(bucket, "from-env", b"ok")
        assert store.get(bucket, "from-env") == b"ok"

    def test_missing_credentials_are_a_clear_error(self, minio_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
        """No userinfo and no environment credentials is a ValueError naming both ways to give them."""
        monkeypatch.delenv("RADLAB_S3_ACCESS_KEY", raising=False)
        monkeypatch.delenv("RADLAB_S3_SECRET_KEY", raising=False)
        host = urlsplit(minio_url).netloc.rpartition("@")[2]
        with pytest.raises(ValueError, match="RADLAB_S3_ACCESS_KEY") as raised:
            connect(f"s3://{host}")
        assert host in str(raised.value)

    def test_wrong_credentials_name_the_endpoint(self, bucket: str, minio_url: str) -> None:
        """A wrong secret fails every call with a PermissionError naming the server and the access key."""
        parts = urlsplit(minio_url)
        store = connect(f"s3://{parts.username}:not-the-secret@{parts.hostname}:{parts.port}")
        operations = [
            lambda: store.ensure_bucket(bucket),
            lambda: store.put(bucket, "k", b"x"),
            lambda: store.get(bucket, "k"),
            lambda: store.head(bucket, "k"),
            lambda: list(store.list(bucket)),
        ]
        for operation in operations:
            with pytest.raises(PermissionError, match=f"http://{parts.hostname}:{parts.port}") as raised:
                operation()
            assert parts.username in str(raised.value) and "not-the-secret" not in str(raised.value)

    def test_store_survives_pickling(self, store: S3ObjectStore, bucket: str) -> None:
        """A pickled store (as sent to another process) opens its own connection to the same server."""
        store.put(bucket, "k", b"shared")
        copy = pickle.loads(pickle.dumps(store))
        assert copy.get(bucket, "k") == b"shared"

    def test_objects_put_by_other_clients_are_listed_with_their_sha256(
        self, store: S3ObjectStore, bucket: str, minio_url: str
    ) -> None:
        """An object another S3 client stored, without the adapter's sha256, still reports one."""
        _raw_client(minio_url).put_object(bucket, "foreign", io.BytesIO(b"abc"), 3)
        [info] = store.list(bucket)
        assert (info.key, info.size, info.sha256) == ("foreign", 3, hashlib.sha256(b"abc").hexdigest())

    def test_reserved_metadata_name_rejected(self, store: S3ObjectStore, bucket: str) -> None:
        """The metadata name that holds the digest cannot be set by callers."""
        with pytest.raises(ValueError, match="reserved"):
            store.put(bucket, "k", b"x", metadata={"radlab-digest": "0" * 64})

    def test_head_during_overwrites_reports_one_version(self, store: S3ObjectStore, bucket: str) -> None:
        """Heads racing overwrites that change size, content type and metadata each describe one version."""
        versions = {
            n: (bytes([n]) * (MiB + n), f"application/x-v{n}", {"rev": str(n), "pad": "x" * n}) for n in range(4)
        }
        expected = {
            (len(data), hashlib.sha256(data).hexdigest(), content_type, tuple(sorted(metadata.items())))
            for data, content_type, metadata in versions.values()
        }
        store.put(bucket, "k", versions[0][0], content_type=versions[0][1], metadata=versions[0][2])
        writing = threading.Event()
        writing.set()
        seen: list[tuple[object, ...]] = []
        errors: list[BaseException] = []

        def write(n: int) -> None:
            data, content_type, metadata = versions[n]
            try:
                for _ in range(15):
                    store.put(bucket, "k", data, content_type=content_type, metadata=metadata)
            except BaseException as err:  # surfaced by the assertion below
                errors.append(err)

        def read() -> None:
            try:
                while writing.is_set():
                    info = store.head(bucket, "k")
                    seen.append((info.size, info.sha256, info.content_type, tuple(sorted(info.metadata.items()))))
            except BaseException as err:
                errors.append(err)

        writers = [threading.Thread(target=write, args=(n,)) for n in versions]
        readers = [threading.Thread(target=read) for _ in range(3)]
        for thread in writers + readers:
            thread.start()
        for thread in writers:
            thread.join()
        writing.clear()
        for thread in readers:
            thread.join()
        assert errors == []
        assert seen and set(seen) <= expected

    def test_header_the_server_rewrites_is_accepted(
        self, store: S3ObjectStore, bucket: str, minio_url: str
    ) -> None:
        """A digest that disagrees with headers the same way twice (no race, a rewriting server) is accepted."""
        raw = _raw_client(minio_url)
        digest = f"{hashlib.sha256(b'abc').hexdigest()} 3 0123456789abcdef"  # its check matches nothing
        raw.put_object(bucket, "k", io.BytesIO(b"abc"), 3, metadata={"x-amz-meta-radlab-digest": digest})
        info = store.head(bucket, "k")
        assert (info.size, info.sha256, info.metadata) == (3, hashlib.sha256(b"abc").hexdigest(), {})


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://a:b@host:9000/bucket", "no path"),
        ("s3://a:b@host:9000?tls=1", "unknown option"),
        ("s3://a:b@host:9000?secure=maybe", "secure must be"),
        ("s3://a@host:9000", "both the access key and the secret"),
    ],
)
def test_malformed_urls_rejected(url: str, message: str) -> None:
    """S3 URLs with a path, unknown options or half the credentials are ValueErrors that hide the secret."""
    with pytest.raises(ValueError, match=message) as raised:
        connect(url)
    assert ":b@" not in str(raised.value)


def test_url_options_and_encoded_secret() -> None:
    """`secure` and `region` are read from the query, and a percent-encoded secret is decoded."""
    store = connect("s3://AKIA:se%2Fcr%2Bet@s3.example.org:443?secure=true&region=eu-west-1")
    assert isinstance(store, S3ObjectStore)
    assert (store.endpoint, store.secure, store.region) == ("s3.example.org:443", True, "eu-west-1")
    assert store._secret_key == "se/cr+et"  # noqa: SLF001
    assert "se/cr+et" not in repr(store)
