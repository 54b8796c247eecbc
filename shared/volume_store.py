"""Volumes as Zarr v3 arrays in the object store (any adapter), laid out so a slice of any plane reads little.

One volume is one Zarr array at `<bucket>/<prefix>/`: `zarr.json` (shape, dtype, codecs, and the affine and
attributes as Zarr attributes) and its shards under `c/`. Shards of `SHARD` voxels hold cubic inner chunks
of `CHUNK` voxels, so an axial, coronal or sagittal slice decodes at most CHUNK[0] times its own size from a
few objects, and a volume is a few dozen objects rather than thousands (each a durable put). A 4D volume
[t, k, j, i] is chunked one point at a time, so one point's slice reads what a 3D volume's would.

`write` removes any `zarr.json` at the prefix first and writes the new one after every shard, so a reader
sees a whole volume or none (ObjectNotFound). A prefix names one volume: rewrite one only with the same
content (a retried write); each write stamps a new `write_id`, which tells cached readers to drop what they
hold. The cache keeps decoded voxels of open volumes by bytes (least recently used first out), filled chunk
by chunk as slices ask for them, so the first slice reads only its chunks and warm slices are numpy views.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import numpy as np
import zarr
from zarr.abc.store import ByteRequest, OffsetByteRequest, RangeByteRequest, Store, SuffixByteRequest
from zarr.codecs import BloscCodec
from zarr.core.buffer import Buffer, BufferPrototype
from zarr.core.buffer.cpu import NDBuffer

from shared.objectstore import ObjectNotFound, ObjectStore

CHUNK = (16, 64, 64)
SHARD = (64, 256, 256)
_METADATA = "zarr.json"
_COMPRESSOR = BloscCodec(cname="zstd", clevel=3, shuffle="shuffle")


@dataclass(frozen=True)
class StoredVolume:
    """A volume read back (one point of a 4D one): voxels [k, j, i], affine (i, j, k, 1) → LPS mm, and the facts
    stored with it."""

    array: np.ndarray
    affine: np.ndarray
    attributes: dict


@dataclass(frozen=True)
class VolumeInfo:
    """What `zarr.json` says of a volume, read without touching its voxels: its spatial shape [k, j, i] and how
    many points it has along a fourth axis (0: a 3D volume)."""

    shape: tuple[int, int, int]
    dtype: np.dtype
    affine: np.ndarray
    attributes: dict
    time_points: int = 0


class ObjectStoreZarr(Store):
    """A Zarr store over one prefix of an object store bucket, so the same arrays live on file:// and s3://.

    Blocking object store calls run in worker threads, so Zarr's concurrent chunk reads overlap their I/O.
    `held` keeps `zarr.json` writes in memory until `release` (how `write` puts metadata last).
    """

    supports_writes = True
    supports_deletes = True
    supports_listing = True

    def __init__(self, objects: ObjectStore, bucket: str, prefix: str, *, read_only: bool = False, held: bool = False):
        super().__init__(read_only=read_only)
        self.objects = objects
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._held: dict[str, bytes] | None = {} if held else None

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if key else self.prefix

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ObjectStoreZarr)
            and (other.objects, other.bucket, other.prefix) == (self.objects, self.bucket, self.prefix)
        )

    def release(self) -> None:
        """Write the held metadata documents to the object store (after everything they describe)."""
        held, self._held = self._held or {}, None
        for key, data in held.items():
            self.objects.put(self.bucket, self._key(key), data, content_type="application/json")

    def _read(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        if self._held is not None and key in self._held:
            return _cut(self._held[key], byte_range)
        full = self._key(key)
        try:
            if byte_range is None:
                return self.objects.get(self.bucket, full)
            if isinstance(byte_range, RangeByteRequest):
                return self.objects.get_range(self.bucket, full, byte_range.start, byte_range.end - byte_range.start)
            if isinstance(byte_range, OffsetByteRequest):
                return self.objects.get_range(self.bucket, full, byte_range.offset, 1 << 62)
            size = self.objects.head(self.bucket, full).size
            start = max(0, size - byte_range.suffix)
            return self.objects.get_range(self.bucket, full, start, size - start)
        except ObjectNotFound:
            return None

    async def get(self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None) -> Buffer | None:
        data = await asyncio.to_thread(self._read, key, byte_range)
        return None if data is None else prototype.buffer.from_bytes(data)

    async def get_partial_values(
        self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        return list(await asyncio.gather(*(self.get(key, prototype, byte_range) for key, byte_range in key_ranges)))

    async def exists(self, key: str) -> bool:
        if self._held is not None and key in self._held:
            return True
        return await asyncio.to_thread(self.objects.exists, self.bucket, self._key(key))

    async def set(self, key: str, value: Buffer) -> None:
        self._check_writable()
        data = value.to_bytes()
        if self._held is not None and key.endswith(_METADATA):
            self._held[key] = data
            return
        await asyncio.to_thread(self.objects.put, self.bucket, self._key(key), data)

    async def delete(self, key: str) -> None:
        self._check_writable()
        if self._held is not None:
            self._held.pop(key, None)
        await asyncio.to_thread(self.objects.delete, self.bucket, self._key(key))

    async def list(self) -> AsyncIterator[str]:
        async for key in self.list_prefix(""):
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        start = len(self.prefix) + 1
        infos = await asyncio.to_thread(lambda: list(self.objects.list(self.bucket, self._key(prefix) if prefix else self.prefix + "/")))
        for info in infos:
            yield info.key[start:]

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        prefix = prefix.rstrip("/")
        seen = set()
        async for key in self.list_prefix(f"{prefix}/" if prefix else ""):
            child = key[len(prefix) + 1 if prefix else 0 :].split("/", 1)[0]
            if child not in seen:
                seen.add(child)
                yield child


def _point(shape: tuple[int, ...], time: int, region: list[slice]) -> tuple:
    """The index of point `time` in an array of `shape` (narrowing `region` to it for a 4D one); IndexError when the
    volume has no such point."""
    points = shape[0] if len(shape) == 4 else 1
    if not 0 <= time < points:
        raise IndexError(f"time point {time} is outside the volume's {points} point(s) along its fourth axis")
    if len(shape) == 3:
        return ()
    region[0] = slice(time, time + 1)
    return (time,)


def _cut(data: bytes, byte_range: ByteRequest | None) -> bytes:
    if byte_range is None:
        return data
    if isinstance(byte_range, RangeByteRequest):
        return data[byte_range.start : byte_range.end]
    if isinstance(byte_range, OffsetByteRequest):
        return data[byte_range.offset :]
    assert isinstance(byte_range, SuffixByteRequest)
    return data[-byte_range.suffix :]


class _OpenVolume:
    """One volume's Zarr array and its decoded voxels, filled chunk by chunk as they are asked for."""

    def __init__(self, document: bytes, array: zarr.Array):
        self.document = document
        self.array = array
        self.chunks = tuple(array.chunks)
        self.voxels = np.empty(array.shape, dtype=array.dtype)
        self.loaded = np.zeros([-(-n // c) for n, c in zip(array.shape, self.chunks)], dtype=bool)
        self.lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        return self.voxels.nbytes

    def fill(self, region: tuple[slice, slice, slice]) -> None:
        """Decode the chunks under `region` that are not in memory yet."""
        grid = tuple(slice(r.start // c, -(-r.stop // c)) for r, c in zip(region, self.chunks))
        with self.lock:
            missing = np.argwhere(~self.loaded[grid])
            if missing.size == 0:
                return
            low = missing.min(axis=0) + [g.start for g in grid]
            high = missing.max(axis=0) + [g.start for g in grid] + 1
            box = tuple(slice(lo * c, min(hi * c, n)) for lo, hi, c, n in zip(low, high, self.chunks, self.voxels.shape))
            # Decoded straight into the cache: no second volume-sized copy on the cold path.
            self.array.get_basic_selection(box, out=NDBuffer.from_numpy_array(self.voxels[box]))
            self.loaded[tuple(slice(lo, hi) for lo, hi in zip(low, high))] = True


class VolumeStore:
    """Zarr v3 arrays in any ObjectStore port adapter (file://, s3://); open arrays cached in-process."""

    def __init__(self, store: ObjectStore, cache_bytes: int = 1 << 30):
        self.objects = store
        self.cache_bytes = cache_bytes
        self._open: OrderedDict[tuple[str, str], _OpenVolume] = OrderedDict()
        self._lock = threading.Lock()

    def write(
        self, bucket: str, prefix: str, array: np.ndarray, affine: np.ndarray, attributes: dict | None = None
    ) -> None:
        """Store `array` [k, j, i] (or [t, k, j, i]) with its 4×4 LPS affine and small JSON `attributes` at `prefix`."""
        array = np.asarray(array)
        affine = np.asarray(affine, dtype=np.float64)
        if array.ndim not in (3, 4):
            raise ValueError(f"a volume is 3D [k, j, i] or 4D [t, k, j, i]; got shape {array.shape}")
        if affine.shape != (4, 4):
            raise ValueError(f"an affine is 4×4; got shape {affine.shape}")
        prefix = prefix.strip("/")
        self.objects.ensure_bucket(bucket)
        # Readers lose the old volume before any of its shards change, and see the new one only when whole.
        self.objects.delete(bucket, f"{prefix}/{_METADATA}")
        for info in list(self.objects.list(bucket, f"{prefix}/")):
            self.objects.delete(bucket, info.key)
        self._forget(bucket, prefix)
        target = ObjectStoreZarr(self.objects, bucket, prefix, held=True)
        chunk, shard = ((1, *CHUNK), (1, *SHARD)) if array.ndim == 4 else (CHUNK, SHARD)
        chunks = tuple(min(c, max(n, 1)) for c, n in zip(chunk, array.shape))
        stored = zarr.create_array(
            target,
            shape=array.shape,
            dtype=array.dtype,
            chunks=chunks,
            # A whole number of chunks per shard, and no larger than the volume needs.
            shards=tuple(min(s // c, -(-max(n, 1) // c)) * c for s, c, n in zip(shard, chunks, array.shape)),
            compressors=_COMPRESSOR,
            fill_value=0,
            attributes={"affine": affine.tolist(), "attributes": attributes or {}, "write_id": uuid.uuid4().hex},
            write_data=True,
        )
        stored[...] = array
        target.release()

    def info(self, bucket: str, prefix: str) -> VolumeInfo:
        """Shape, dtype, affine and attributes from the volume's metadata alone; ObjectNotFound if absent."""
        document = json.loads(self.objects.get(bucket, f"{prefix.strip('/')}/{_METADATA}"))
        stored = document["attributes"]
        shape = tuple(document["shape"])
        return VolumeInfo(
            shape=shape[-3:],
            dtype=np.dtype(document["data_type"]),
            affine=np.array(stored["affine"], dtype=np.float64),
            attributes=stored["attributes"],
            time_points=shape[0] if len(shape) == 4 else 0,
        )

    def read(self, bucket: str, prefix: str, time: int = 0) -> StoredVolume:
        """The whole volume (a copy the caller may change), point `time` of a 4D one; ObjectNotFound if absent."""
        volume = self._volume(bucket, prefix)
        region = [slice(0, n) for n in volume.voxels.shape]
        point = _point(volume.voxels.shape, time, region)
        volume.fill(tuple(region))
        stored = volume.array.attrs
        return StoredVolume(
            array=volume.voxels[point].copy(),
            affine=np.array(stored["affine"], dtype=np.float64),
            attributes=dict(stored["attributes"]),
        )

    def slice(self, bucket: str, prefix: str, axis: int, index: int, time: int = 0) -> np.ndarray:
        """One 2-D slice (a copy) of point `time` of a 4D volume: axis 0 fixes k, 1 fixes j, 2 fixes i;
        ObjectNotFound if absent."""
        if axis not in (0, 1, 2):
            raise ValueError(f"axis is 0 (k), 1 (j) or 2 (i), not {axis}")
        volume = self._volume(bucket, prefix)
        region = [slice(0, n) for n in volume.voxels.shape]
        point = _point(volume.voxels.shape, time, region)
        size = volume.voxels.shape[axis - 3]
        if not 0 <= index < size:
            raise IndexError(f"slice {index} is outside the volume's {size} slices along axis {axis}")
        region[axis - 3] = slice(index, index + 1)
        volume.fill(tuple(region))
        return np.take(volume.voxels[point], index, axis=axis).copy()

    def slab(self, bucket: str, prefix: str, first: int, count: int, time: int = 0) -> np.ndarray:
        """Slices [first, first + count) along k (a copy, [k, j, i]) of point `time` of a 4D volume; ObjectNotFound if
        absent."""
        volume = self._volume(bucket, prefix)
        region = [slice(0, n) for n in volume.voxels.shape]
        point = _point(volume.voxels.shape, time, region)
        size = volume.voxels.shape[-3]
        if not (0 <= first and 0 < count and first + count <= size):
            raise IndexError(f"slices {first} to {first + count - 1} are outside the volume's {size} slices")
        region[-3] = slice(first, first + count)
        volume.fill(tuple(region))
        return volume.voxels[point][first:first + count].copy()

    def _volume(self, bucket: str, prefix: str) -> _OpenVolume:
        """The open volume at `prefix`, reopened when its metadata changed since it was cached."""
        prefix = prefix.strip("/")
        document = self.objects.get(bucket, f"{prefix}/{_METADATA}")
        key = (bucket, prefix)
        with self._lock:
            volume = self._open.get(key)
            if volume is not None and volume.document == document:
                self._open.move_to_end(key)
                return volume
        array = zarr.open_array(ObjectStoreZarr(self.objects, bucket, prefix, read_only=True), mode="r")
        volume = _OpenVolume(document, array)
        with self._lock:
            self._open[key] = volume
            self._open.move_to_end(key)
            self._evict()
        return volume

    def _evict(self) -> None:
        total = sum(volume.nbytes for volume in self._open.values())
        # The newest entry stays even when it alone exceeds the budget: it is the one being read.
        while total > self.cache_bytes and len(self._open) > 1:
            _, volume = self._open.popitem(last=False)
            total -= volume.nbytes

    def _forget(self, bucket: str, prefix: str) -> None:
        with self._lock:
            self._open.pop((bucket, prefix), None)
