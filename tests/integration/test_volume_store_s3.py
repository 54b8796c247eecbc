"""Volume storage (Zarr v3 on the object store port) on the s3:// adapter against the real MinIO server.

The same tests as on file:// (tests/unit/test_volume_store.py), collected here with `objects` on S3, so the
Zarr store over the port is shown to work on both adapters the deployments use.
"""

from __future__ import annotations

import pytest

from shared.objectstore import ObjectStore, connect
from tests.unit.test_volume_store import (  # noqa: F401 (collected here, with this module's `objects`)
    spleen,
    test_a_cold_slice_decodes_only_its_chunks,
    test_half_written_volume_is_invisible,
    test_missing_volume_raises_object_not_found,
    test_rewrite_is_seen_by_a_reader_that_cached_the_old_volume,
    test_round_trip_is_exact,
    test_slices_of_every_plane_equal_numpy_slicing,
)


@pytest.fixture
def objects(minio_url: str) -> ObjectStore:
    return connect(minio_url)
