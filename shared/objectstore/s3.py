"""The `s3://` object store: buckets on any S3 server (MinIO, AWS, Versity's gateway) through the MinIO client.

URL: ``s3://[ACCESS:SECRET@]host:port[?secure=true&region=us-east-1]``. Without userinfo the credentials
come from RADLAB_S3_ACCESS_KEY / RADLAB_S3_SECRET_KEY; percent-encode a secret's '/' or '+' in a URL.

Each object's sha256 lives in one user-metadata header, `x-amz-meta-radlab-digest: <sha256> <size>
<check>`, where `check` hashes the content type and the caller's metadata; S3 fixes it when an upload
starts. So a put whose length is known up front (bytes, or a stream that ends within one part) hashes
first and uploads straight to its key. A longer stream goes up, part by part and hashed on the way, to a
staging key under `.radlab/staging/` in the same bucket; then a multipart upload to the real key, carrying
the digest, copies those parts server-side and completes, which replaces the old object atomically, and
the staging object is deleted. Either way an input that fails midway aborts its upload, so the previous
object, if any, stays as it was. Staging objects are hidden from `list`; one left by a crash between the
two steps is garbage for a lifecycle rule on that prefix.

Some S3 servers answer a HEAD racing an overwrite with headers from two versions (gateways over POSIX
files, such as versitygw and s3proxy, read the size, the content type and the metadata one at a time).
The digest binds them, so `head` asks again until they agree, and never reports a mix.

Memory: one part buffer (8 MiB) per put in progress, filled in place and sent without copies.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO
from urllib.parse import parse_qs, quote, unquote, urlsplit

import certifi
import urllib3
from minio import Minio
from minio.datatypes import Object, Part
from minio.error import S3Error

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

PART_SIZE = 8 << 20  # S3's minimum is 5 MiB; 10,000 parts of this size allow objects up to 78 GiB
MAX_PARTS = 10_000
STAGING_PREFIX = ".radlab/staging/"
DIGEST_NAME = "radlab-digest"
ACCESS_KEY_ENV = "RADLAB_S3_ACCESS_KEY"
SECRET_KEY_ENV = "RADLAB_S3_SECRET_KEY"

_META = "x-amz-meta-"
_DIGEST_HEADER = _META + DIGEST_NAME
_HEAD_ATTEMPTS = 20
_CREDENTIAL_ERRORS = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
_URL_OPTIONS = {"secure", "region"}


class S3ObjectStore(ObjectStore):
    """Objects in the buckets of one S3 endpoint; safe to share between threads, and across fork or pickle."""

    def __init__(
        self, endpoint: str, access_key: str, secret_key: str, *, secure: bool = False, region: str = "us-east-1"
    ) -> None:
        self.endpoint = endpoint
        self.secure = secure
        self.region = region
        self._access_key = access_key
        self._secret_key = secret_key
        self._pid = -1
        self._minio: Minio | None = None

    @classmethod
    def from_url(cls, url: str) -> S3ObjectStore:
        """Open `s3://[ACCESS:SECRET@]host:port[?secure=true&region=…]`, taking missing credentials from env."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.hostname:
            raise ValueError(f"invalid S3 URL {_redact(url)!r}: use s3://[ACCESS:SECRET@]host:port")
        if parts.path not in ("", "/") or parts.fragment:
            raise ValueError(
                f"invalid S3 URL {_redact(url)!r}: it names the server only (buckets are chosen per call), "
                "so it has no path"
            )
        options = {name: values[-1] for name, values in parse_qs(parts.query, keep_blank_values=True).items()}
        unknown = sorted(set(options) - _URL_OPTIONS)
        if unknown:
            raise ValueError(
                f"invalid S3 URL {_redact(url)!r}: unknown option(s) {', '.join(unknown)}; "
                "the options are secure=true|false and region=NAME"
            )
        secure = options.get("secure", "false").lower()
        if secure not in ("true", "false", "1", "0"):
            raise ValueError(f"invalid S3 URL {_redact(url)!r}: secure must be true or false, not {secure!r}")
        endpoint = parts.netloc.rpartition("@")[2]
        if parts.username is not None or parts.password is not None:
            if not parts.username or not parts.password:
                raise ValueError(f"invalid S3 URL {_redact(url)!r}: give both the access key and the secret")
            access_key, secret_key = unquote(parts.username), unquote(parts.password)
        else:
            access_key = os.environ.get(ACCESS_KEY_ENV, "")
            secret_key = os.environ.get(SECRET_KEY_ENV, "")
            if not access_key or not secret_key:
                raise ValueError(
                    f"no credentials for the S3 server at {endpoint}: put them in the URL "
                    f"(s3://ACCESS:SECRET@{endpoint}) or set {ACCESS_KEY_ENV} and {SECRET_KEY_ENV}"
                )
        return cls(endpoint, access_key, secret_key, secure=secure in ("true", "1"), region=options.get("region") or "us-east-1")

    def __repr__(self) -> str:
        scheme = "https" if self.secure else "http"
        return f"S3ObjectStore({scheme}://{self.endpoint}, access key {self._access_key!r}, region {self.region!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # The HTTP connection pool stays behind; the copy opens its own.
        return (_rebuild, (self.endpoint, self._access_key, self._secret_key, self.secure, self.region))

    @property
    def _client(self) -> Minio:
        # A forked child must not share the parent's pooled sockets, so each process makes its own client.
        if self._minio is None or self._pid != os.getpid():
            self._minio = Minio(
                self.endpoint,
                access_key=self._access_key,
                secret_key=self._secret_key,
                secure=self.secure,
                region=self.region,  # known, so no request asks each bucket for its region
                http_client=urllib3.PoolManager(
                    timeout=urllib3.Timeout(connect=10, read=300),
                    maxsize=32,
                    cert_reqs="CERT_REQUIRED",
                    ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
                    retries=urllib3.Retry(
                        total=3, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
                    ),
                ),
            )
            self._pid = os.getpid()
        return self._minio

    # -- the port ---------------------------------------------------------------------------------------

    def ensure_bucket(self, bucket: str) -> None:
        check_bucket(bucket)
        with self._errors(bucket):
            if self._client.bucket_exists(bucket):
                return
            try:
                self._client.make_bucket(bucket)
            except S3Error as err:
                if err.code != "BucketAlreadyOwnedByYou":  # made by someone else since we looked
                    raise

    def _write(
        self, bucket: str, key: str, data: bytes | BinaryIO, *, content_type: str, metadata: dict[str, str] | None
    ) -> ObjectInfo:
        check_bucket(bucket)
        check_key(key)
        metadata = dict(check_metadata(metadata or {}))
        if DIGEST_NAME in metadata:
            raise ValueError(f"metadata name {DIGEST_NAME!r} is reserved: the S3 store keeps the object's sha256 there")
        content_type = content_type or DEFAULT_CONTENT_TYPE
        headers = {"Content-Type": content_type}
        headers.update({_META + name: value for name, value in metadata.items()})
        with self._errors(bucket, key):
            if isinstance(data, (bytes, bytearray, memoryview)):
                view = memoryview(data).cast("B")
                size, sha256 = len(view), hashlib.sha256(view).hexdigest()
                self._put_whole(bucket, key, view, _with_digest(headers, sha256, size, metadata))
            else:
                size, sha256 = self._put_stream(bucket, key, data, headers, metadata)
            try:
                stored = self._head(bucket, key)
            except ObjectNotFound:
                stored = None  # deleted since by another writer
        mine = (size, sha256, content_type, metadata)
        if stored is not None and (stored.size, stored.sha256, stored.content_type, stored.metadata) == mine:
            return stored
        # Another writer replaced it in the meantime; describe what this put stored.
        return ObjectInfo(bucket, key, size, sha256, content_type, datetime.now(UTC), metadata)

    def download_url(self, bucket: str, key: str, expires_s: int = 3600) -> str:
        self.head(bucket, key)  # ObjectNotFound for an absent object, as on file://
        with self._errors(bucket, key):
            return self._client.presigned_get_object(check_bucket(bucket), check_key(key), expires=timedelta(seconds=expires_s))

    def get(self, bucket: str, key: str) -> bytes:
        with self._errors(bucket, key):
            response = self._client.get_object(check_bucket(bucket), check_key(key))
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

    def stream(self, bucket: str, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, not {chunk_size}")
        # Requested here, not in the generator, so a missing object raises at the call.
        with self._errors(bucket, key):
            response = self._client.get_object(check_bucket(bucket), check_key(key))
        return self._chunks(response, bucket, key, chunk_size)

    def get_range(self, bucket: str, key: str, offset: int, length: int) -> bytes:
        check_range(offset, length)
        check_bucket(bucket)
        check_key(key)
        if length == 0:
            with self._errors(bucket, key):
                self._stat(bucket, key)  # still says whether the object exists
            return b""
        with self._errors(bucket, key):
            try:
                response = self._client.get_object(bucket, key, offset=offset, length=length)
            except S3Error as err:
                if err.code == "InvalidRange":  # starts at or past the end
                    return b""
                raise
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

    def head(self, bucket: str, key: str) -> ObjectInfo:
        with self._errors(bucket, key):
            return self._head(check_bucket(bucket), check_key(key))

    def exists(self, bucket: str, key: str) -> bool:
        try:
            with self._errors(bucket, key):
                self._stat(check_bucket(bucket), check_key(key))
        except BucketNotFound:
            raise
        except ObjectNotFound:
            return False
        return True

    def delete(self, bucket: str, key: str) -> None:
        check_bucket(bucket)
        check_key(key)
        with self._errors(bucket, key):
            self._client.remove_object(bucket, key)

    def ping(self, timeout_s: float) -> None:
        # Any S3 server answers an unsigned request to its root (mostly 403, which still says it serves), so the probe
        # needs no permission; 5xx means it cannot serve now. A connection of its own, without the client's retries,
        # so one probe ends within `timeout_s`.
        pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where())
        try:
            response = pool.request("HEAD", f"{self._url}/", retries=False, timeout=urllib3.Timeout(total=timeout_s))
        except urllib3.exceptions.HTTPError as err:
            raise ConnectionError(f"cannot reach the S3 server at {self._url}: {err}") from err
        finally:
            pool.clear()
        if response.status >= 500:
            raise ConnectionError(f"the S3 server at {self._url} answers HTTP {response.status}")

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        check_bucket(bucket)
        with self._errors(bucket):
            for entry in self._client.list_objects(bucket, prefix=prefix or None, recursive=True):
                name = entry.object_name
                if entry.is_dir or name is None or name.startswith(STAGING_PREFIX):
                    continue
                try:
                    yield self._head(bucket, name)
                except ObjectNotFound:
                    continue  # deleted since the listing

    # -- beyond the port --------------------------------------------------------------------------------

    def presigned_url(self, bucket: str, key: str, expires_s: int = 3600) -> str:
        """A URL that GETs the object without credentials until `expires_s` seconds from now (1 s to 7 days)."""
        if not 1 <= expires_s <= 7 * 24 * 3600:
            raise ValueError(f"expires_s must be between 1 and {7 * 24 * 3600} (7 days), not {expires_s}")
        return self._client.presigned_get_object(
            check_bucket(bucket), check_key(key), expires=timedelta(seconds=expires_s)
        )

    # -- writing ----------------------------------------------------------------------------------------

    def _put_stream(
        self, bucket: str, key: str, data: BinaryIO, headers: dict[str, str], metadata: dict[str, str]
    ) -> tuple[int, str]:
        """Upload a stream of unknown length; return its size and sha256."""
        buffer = memoryview(bytearray(PART_SIZE))
        digest = hashlib.sha256()
        filled = _fill(data, buffer)
        digest.update(buffer[:filled])
        if filled < PART_SIZE:  # it all fits in one part, so its sha256 is known before it is sent
            self._put_whole(bucket, key, buffer[:filled], _with_digest(headers, digest.hexdigest(), filled, metadata))
            return filled, digest.hexdigest()

        staging = f"{STAGING_PREFIX}{uuid.uuid4().hex}"
        sizes = [filled]

        def parts() -> Iterator[memoryview]:
            yield buffer[:filled]
            while count := _fill(data, buffer):
                digest.update(buffer[:count])
                sizes.append(count)
                yield buffer[:count]

        self._upload(bucket, staging, parts(), {"Content-Type": DEFAULT_CONTENT_TYPE})
        try:
            headers = _with_digest(headers, digest.hexdigest(), sum(sizes), metadata)
            self._copy_parts(bucket, staging, key, sizes, headers)
        finally:
            with suppress(Exception):
                self._client.remove_object(bucket, staging)
        return sum(sizes), digest.hexdigest()

    def _upload(self, bucket: str, key: str, parts: Iterable[memoryview], headers: dict[str, str]) -> str:
        """Store the parts under `key` as one multipart upload, read lazily; return the ETag. Aborts on failure."""
        client = self._client
        upload_id = client._create_multipart_upload(bucket, key, dict(headers))  # noqa: SLF001
        try:
            done: list[Part] = []
            for number, part in enumerate(parts, start=1):
                if number > MAX_PARTS:
                    raise ValueError(
                        f"object {key!r} is larger than {MAX_PARTS} parts of {PART_SIZE >> 20} MiB, "
                        "the most one S3 upload can hold"
                    )
                done.append(Part(number, client._upload_part(bucket, key, part, None, upload_id, number)))  # noqa: SLF001
            return client._complete_multipart_upload(bucket, key, upload_id, done).etag  # noqa: SLF001
        except BaseException:
            with suppress(Exception):
                client._abort_multipart_upload(bucket, key, upload_id)  # noqa: SLF001
            raise

    def _put_whole(self, bucket: str, key: str, data: memoryview, headers: dict[str, str]) -> str:
        """Store `data`, whose digest is in `headers`: one PUT, or a multipart upload if over a part."""
        if len(data) <= PART_SIZE:
            body = data if len(data) else b""
            return self._client._put_object(bucket, key, body, dict(headers)).etag  # noqa: SLF001
        return self._upload(bucket, key, (data[i : i + PART_SIZE] for i in range(0, len(data), PART_SIZE)), headers)

    def _copy_parts(self, bucket: str, source: str, key: str, sizes: list[int], headers: dict[str, str]) -> str:
        """Copy `source` to `key` server-side, part for part, with `headers`; return the new ETag."""
        client = self._client
        upload_id = client._create_multipart_upload(bucket, key, dict(headers))  # noqa: SLF001
        try:
            done: list[Part] = []
            start = 0
            for number, size in enumerate(sizes, start=1):
                copy = {
                    "x-amz-copy-source": quote(f"/{bucket}/{source}"),
                    "x-amz-copy-source-range": f"bytes={start}-{start + size - 1}",
                }
                etag, _ = client._upload_part_copy(bucket, key, upload_id, number, copy)  # noqa: SLF001
                done.append(Part(number, etag))
                start += size
            return client._complete_multipart_upload(bucket, key, upload_id, done).etag  # noqa: SLF001
        except BaseException:
            with suppress(Exception):
                client._abort_multipart_upload(bucket, key, upload_id)  # noqa: SLF001
            raise

    # -- reading ----------------------------------------------------------------------------------------

    def _stat(self, bucket: str, key: str) -> Object:
        try:
            return self._client.stat_object(bucket, key)
        except S3Error as err:
            # A HEAD reply has no body, so a missing bucket also reads as NoSuchKey: ask about the bucket.
            if err.code in ("NoSuchKey", "NoSuchBucket", "ResourceNotFound"):
                if not self._client.bucket_exists(bucket):
                    raise BucketNotFound(bucket) from None
                raise ObjectNotFound(bucket, key) from None
            raise

    def _head(self, bucket: str, key: str) -> ObjectInfo:
        """What one HEAD says of the object, asked again while its headers describe different versions."""
        previous: tuple[ObjectInfo, str] | None = None
        for attempt in range(_HEAD_ATTEMPTS):
            stored = self._stat(bucket, key)
            info, consistent = self._read(stored)
            # The same answer twice is no race: a server that rewrites a header (say, the content type)
            # would otherwise never agree with the digest.
            if consistent or previous == (info, stored.etag):
                return info
            previous = (info, stored.etag)
            time.sleep(0.001 * attempt)
        raise OSError(
            f"the S3 server at {self._url} answered {_HEAD_ATTEMPTS} HEADs of {key!r} in bucket {bucket!r} with "
            "headers from different versions: it is being overwritten faster than this server reads its metadata"
        )

    def _read(self, stored: Object) -> tuple[ObjectInfo, bool]:
        """The object as one HEAD's headers describe it, and whether those headers agree with its digest."""
        bucket, key = stored.bucket_name, stored.object_name
        headers = {name.lower(): value for name, value in (stored.metadata or {}).items()}
        metadata = {
            name[len(_META) :]: value
            for name, value in headers.items()
            if name.startswith(_META) and name != _DIGEST_HEADER
        }
        content_type = stored.content_type or DEFAULT_CONTENT_TYPE
        size = stored.size or 0
        digest = headers.get(_DIGEST_HEADER, "").split()
        if len(digest) == 3:
            sha256 = digest[0]
            consistent = digest[1:] == [str(size), _check(content_type, metadata)]
        else:  # stored by another client, so hash the bytes
            sha256, consistent = self._sha256_of(bucket, key), True
        modified = stored.last_modified or datetime.now(UTC)
        info = ObjectInfo(
            bucket=bucket,
            key=key,
            size=size,
            sha256=sha256,
            content_type=content_type,
            modified=modified.astimezone(UTC),
            metadata=metadata,
        )
        return info, consistent

    def _sha256_of(self, bucket: str, key: str) -> str:
        """Hash an object stored by something other than this adapter, which left no sha256 beside it."""
        digest = hashlib.sha256()
        for chunk in self.stream(bucket, key):
            digest.update(chunk)
        return digest.hexdigest()

    def _chunks(self, response: Any, bucket: str, key: str, chunk_size: int) -> Iterator[bytes]:
        try:
            with self._errors(bucket, key):
                while chunk := response.read(chunk_size):
                    yield chunk
        finally:
            response.close()
            response.release_conn()

    # -- errors -----------------------------------------------------------------------------------------

    @contextmanager
    def _errors(self, bucket: str, key: str | None = None) -> Iterator[None]:
        """Turn the client's errors into the port's, and name the endpoint in the rest."""
        try:
            yield
        except S3Error as err:
            raise self._translate(err, bucket, key) from None
        except urllib3.exceptions.HTTPError as err:
            raise ConnectionError(f"cannot reach the S3 server at {self._url}: {err}") from err

    def _translate(self, err: S3Error, bucket: str, key: str | None) -> Exception:
        code = err.code
        if code == "NoSuchBucket":
            return BucketNotFound(bucket)
        if code == "NoSuchKey" and key is not None:
            return ObjectNotFound(bucket, key)
        if code in ("KeyTooLongError", "InvalidObjectName") and key is not None:
            return InvalidObjectKey(f"the S3 server at {self._url} refused key {key!r}: {err.message}")
        if code in _CREDENTIAL_ERRORS:
            what = f"bucket {bucket!r}" + (f", key {key!r}" if key else "")
            return PermissionError(
                f"the S3 server at {self._url} refused access key {self._access_key!r} ({code}: {err.message}) "
                f"for {what}: check the credentials in the store URL or {ACCESS_KEY_ENV}/{SECRET_KEY_ENV}, "
                "and the bucket's policy"
            )
        return err

    @property
    def _url(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.endpoint}"


def _rebuild(endpoint: str, access_key: str, secret_key: str, secure: bool, region: str) -> S3ObjectStore:
    return S3ObjectStore(endpoint, access_key, secret_key, secure=secure, region=region)


def _with_digest(headers: dict[str, str], sha256: str, size: int, metadata: dict[str, str]) -> dict[str, str]:
    """`headers` plus the digest header that binds the sha256 to the size, content type and metadata."""
    return {**headers, _DIGEST_HEADER: f"{sha256} {size} {_check(headers['Content-Type'], metadata)}"}


def _check(content_type: str, metadata: dict[str, str]) -> str:
    """A short hash of the content type and metadata, to tell one version's headers from another's."""
    text = "\n".join([content_type, *(f"{name}={value}" for name, value in sorted(metadata.items()))])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _fill(data: BinaryIO, buffer: memoryview) -> int:
    """Read from `data` into `buffer` until it is full or the input ends; return the bytes read."""
    readinto = getattr(data, "readinto", None)
    filled = 0
    while filled < len(buffer):
        if readinto is not None:
            count = readinto(buffer[filled:])
        else:
            chunk = data.read(min(len(buffer) - filled, 1 << 20))
            count = len(chunk) if chunk else 0
            buffer[filled : filled + count] = chunk or b""
        if not count:
            break
        filled += count
    return filled


def _redact(url: str) -> str:
    """`url` with any secret replaced, for error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=f"{parts.username}:***@{parts.netloc.rpartition('@')[2]}").geturl()
