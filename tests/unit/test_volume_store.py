"""Volume storage (Zarr v3 on the object store port) on the file:// adapter with real scans and labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services.ingestion.domain.reader import parse_instance
from services.ingestion.domain.volume import build_volumes
from shared.objectstore import ObjectNotFound, ObjectStore, connect
from shared.volume_store import CHUNK, VolumeStore
from shared.volumes import from_nifti

SPLEEN_CT = "ivadomed_spleen/ct_scan/sub-spleen2/ct/sub-spleen2_ct.nii.gz"
SPLEEN_MASK = "ivadomed_spleen/ct_scan/derivatives/labels/sub-spleen2/ct/sub-spleen2_ct_seg-manual.nii.gz"
T2 = "sct_t2/t2/t2.nii.gz"


@pytest.fixture
def objects(tmp_path: Path) -> ObjectStore:
    return connect(f"file://{tmp_path / 'objects'}")


@pytest.fixture
def spleen(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    return from_nifti(data_dir / SPLEEN_CT)


@pytest.mark.parametrize("path", [SPLEEN_CT, SPLEEN_MASK, T2])
def test_round_trip_is_exact(objects, data_dir, path):
    """Voxels, dtype, shape, affine and attributes come back exactly as written, whole and via info."""
    array, affine = from_nifti(data_dir / path)
    volumes = VolumeStore(objects)
    volumes.write("volumes", "v1", array, affine, {"modality": "CT", "window": [40.0, 400.0]})

    stored = VolumeStore(objects).read("volumes", "v1")
    assert stored.array.dtype == array.dtype and stored.array.shape == array.shape
    assert np.array_equal(stored.array, array)
    assert np.array_equal(stored.affine, affine)
    assert stored.attributes == {"modality": "CT", "window": [40.0, 400.0]}
    info = volumes.info("volumes", "v1")
    assert (info.shape, info.dtype) == (array.shape, array.dtype)
    assert np.array_equal(info.affine, affine) and info.attributes == stored.attributes


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16, np.float32, np.float64, bool])
def test_every_voxel_type_round_trips(objects, spleen, dtype):
    array = spleen[0].astype(dtype)
    VolumeStore(objects).write("labels", "m", array, spleen[1])
    stored = VolumeStore(objects).read("labels", "m")
    assert stored.array.dtype == np.dtype(dtype) and np.array_equal(stored.array, array)


def test_slices_of_every_plane_equal_numpy_slicing(objects, spleen):
    """Every slice along every axis, read cold and warm, equals the array's own slice (nothing flipped)."""
    array, affine = spleen
    VolumeStore(objects).write("volumes", "ct", array, affine)
    for axis in range(3):
        cold = VolumeStore(objects)
        for index in range(array.shape[axis]):
            expected = np.take(array, index, axis=axis)
            assert np.array_equal(cold.slice("volumes", "ct", axis, index), expected), (axis, index)
            assert np.array_equal(cold.slice("volumes", "ct", axis, index), expected), (axis, index)


def test_a_slice_is_a_copy_the_caller_may_change(objects, spleen):
    volumes = VolumeStore(objects)
    volumes.write("volumes", "ct", *spleen)
    volumes.slice("volumes", "ct", 0, 3)[:] = 7
    volumes.read("volumes", "ct").array[:] = 7
    assert np.array_equal(volumes.slice("volumes", "ct", 0, 3), spleen[0][3])


def test_a_cold_slice_decodes_only_its_chunks(objects, spleen):
    """The first axial slice of a cold store loads one chunk layer of the volume, not all of it."""
    array, affine = spleen
    volumes = VolumeStore(objects)
    volumes.write("volumes", "ct", array, affine)
    volumes.slice("volumes", "ct", 0, 0)
    (opened,) = volumes._open.values()
    layers = opened.loaded.shape[0]
    assert layers == -(-array.shape[0] // min(CHUNK[0], array.shape[0])) > 1
    assert opened.loaded[0].all() and not opened.loaded[1:].any()


def test_missing_volume_raises_object_not_found(objects):
    volumes = VolumeStore(objects)
    objects.ensure_bucket("volumes")
    for call in (
        lambda: volumes.read("volumes", "nope"),
        lambda: volumes.info("volumes", "nope"),
        lambda: volumes.slice("volumes", "nope", 0, 0),
    ):
        with pytest.raises(ObjectNotFound):
            call()


def test_slice_outside_the_volume_is_refused(objects, spleen):
    volumes = VolumeStore(objects)
    volumes.write("volumes", "ct", *spleen)
    with pytest.raises(IndexError, match="outside"):
        volumes.slice("volumes", "ct", 0, spleen[0].shape[0])
    with pytest.raises(ValueError, match="axis"):
        volumes.slice("volumes", "ct", 3, 0)


class _FailingPuts:
    """The real file store, except that the put after `allowed` raises (a crash in the middle of a write)."""

    def __init__(self, store: ObjectStore, allowed: int):
        self._store = store
        self.allowed = allowed
        self.seen_metadata_during_chunks = False

    def __getattr__(self, name):
        return getattr(self._store, name)

    def put(self, bucket, key, data, **kwargs):
        if not key.endswith("zarr.json"):
            prefix = key.split("/c/")[0]
            self.seen_metadata_during_chunks |= self._store.exists(bucket, f"{prefix}/zarr.json")
        if self.allowed == 0:
            raise ConnectionResetError("store went away")
        self.allowed -= 1
        return self._store.put(bucket, key, data, **kwargs)


def test_half_written_volume_is_invisible(objects, spleen):
    """Metadata is written last: a write that dies after some shards leaves no readable volume, even over an
    older one at the same prefix, and while shards are written no metadata is there."""
    array, affine = spleen
    VolumeStore(objects).write("volumes", "ct", array, affine)
    failing = _FailingPuts(objects, allowed=1)
    with pytest.raises(ConnectionResetError):
        VolumeStore(failing).write("volumes", "ct", array + 1, affine)
    assert not failing.seen_metadata_during_chunks
    with pytest.raises(ObjectNotFound):
        VolumeStore(objects).read("volumes", "ct")

    whole = _FailingPuts(objects, allowed=10_000)
    VolumeStore(whole).write("volumes", "ct", array + 1, affine)
    assert not whole.seen_metadata_during_chunks
    assert np.array_equal(VolumeStore(objects).read("volumes", "ct").array, array + 1)


def test_rewrite_is_seen_by_a_reader_that_cached_the_old_volume(objects, spleen):
    array, affine = spleen
    reader = VolumeStore(objects)
    VolumeStore(objects).write("labels", "m", array, affine)
    assert np.array_equal(reader.slice("labels", "m", 0, 5), array[5])
    VolumeStore(objects).write("labels", "m", array[:, ::-1], affine)
    assert np.array_equal(reader.slice("labels", "m", 0, 5), array[5, ::-1])


def test_cache_keeps_recent_volumes_within_its_byte_budget(objects, spleen):
    array, affine = spleen
    volumes = VolumeStore(objects, cache_bytes=int(array.nbytes * 2.5))
    for name in ("a", "b", "c"):
        volumes.write("volumes", name, array, affine)
        volumes.slice("volumes", name, 0, 0)
    assert [prefix for _, prefix in volumes._open] == ["b", "c"]
    volumes.slice("volumes", "b", 0, 0)
    volumes.slice("volumes", "a", 0, 0)
    assert [prefix for _, prefix in volumes._open] == ["b", "a"]


def test_a_4d_volume_is_stored_whole_and_read_point_by_point(objects, data_dir):
    """A real 4D series (GE, 16 time points) stored [t, k, j, i]: info gives its spatial shape and point count, each
    point reads back whole and slice by slice in every plane exactly, and a point it lacks is refused."""
    folder = data_dir / "dcm_qa_stc/In/GE/TriggerTime/4_epi_ascending"
    (volume,) = build_volumes([parse_instance(path.read_bytes()) for path in sorted(folder.iterdir())])
    assert volume.data.shape == (16, 8, 64, 64)
    VolumeStore(objects).write("volumes", "epi", volume.data, volume.affine, {"modality": "MR"})
    volumes = VolumeStore(objects)
    info = volumes.info("volumes", "epi")
    assert (info.shape, info.time_points) == ((8, 64, 64), 16)
    for time in (0, 7, 15):
        assert np.array_equal(volumes.read("volumes", "epi", time).array, volume.data[time])
        for axis in range(3):
            assert np.array_equal(volumes.slice("volumes", "epi", axis, 3, time), np.take(volume.data[time], 3, axis=axis))
    with pytest.raises(IndexError, match="time point 16 is outside the volume's 16 point"):
        volumes.slice("volumes", "epi", 0, 0, 16)
    volumes.write("volumes", "3d", volume.data[0], volume.affine)
    with pytest.raises(IndexError, match="time point 1 is outside the volume's 1 point"):
        volumes.read("volumes", "3d", 1)
