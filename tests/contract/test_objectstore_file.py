"""The object store contract on the `file://` adapter, plus what only a directory of files can show."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shared.objectstore import InvalidObjectKey, ObjectStore, connect
from shared.objectstore.file import FileObjectStore
from tests.contract.objectstore_contract import MiB, GeneratedStream, ObjectStoreContract


class TestFileObjectStore(ObjectStoreContract):
    """Runs the contract on a store rooted in the test's temporary directory."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> ObjectStore:
        return connect(f"file://{tmp_path / 'objects'}")

    def test_objects_are_plain_files_at_their_keys(self, store: FileObjectStore, bucket: str) -> None:
        """An object's bytes are an ordinary file at <root>/<bucket>/<key>, so the store can be browsed."""
        store.put(bucket, "studies/1/ct.dcm", b"DICM")
        assert (store.root / bucket / "studies" / "1" / "ct.dcm").read_bytes() == b"DICM"

    def test_failed_put_leaves_temp_area_empty(self, store: FileObjectStore, bucket: str) -> None:
        """An input that raises midway leaves no temp file behind."""
        with pytest.raises(ConnectionResetError):
            store.put(bucket, "k", GeneratedStream(4 * MiB, fail_after=MiB))
        assert list((store.root / ".radlab" / "tmp").iterdir()) == []

    def test_crash_before_bytes_replaced_keeps_old_version(
        self, store: FileObjectStore, bucket: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A put stopped after its sidecar is written but before its bytes land leaves the old object intact."""
        old = store.put(bucket, "k", b"old", content_type="text/plain", metadata={"rev": "1"})
        replace = os.replace

        def crash_on_object(source: str | Path, target: str | Path) -> None:
            if Path(target).parent.name == bucket:
                raise OSError("simulated crash")
            replace(source, target)

        monkeypatch.setattr(os, "replace", crash_on_object)
        with pytest.raises(OSError, match="simulated crash"):
            store.put(bucket, "k", b"new!", metadata={"rev": "2"})
        with pytest.raises(OSError, match="simulated crash"):
            store.put(bucket, "fresh", b"never landed")
        monkeypatch.undo()
        assert store.get(bucket, "k") == b"old"
        assert store.head(bucket, "k") == old
        assert list(store.list(bucket)) == [old]

    def test_metadata_survives_a_copy_that_loses_mtimes(self, store: FileObjectStore, bucket: str) -> None:
        """When the file's mtime no longer matches its sidecar (a plain copy), the sha256 finds its metadata."""
        stored = store.put(bucket, "k", b"bytes", content_type="application/dicom", metadata={"rev": "1"})
        os.utime(store.root / bucket / "k", ns=(0, 0))
        assert store.head(bucket, "k") == stored

    def test_file_placed_by_hand_is_an_object(self, store: FileObjectStore, bucket: str) -> None:
        """A file copied into a bucket directory lists as an object with its size and sha256."""
        (store.root / bucket / "dropped").mkdir()
        (store.root / bucket / "dropped" / "scan.dcm").write_bytes(b"by hand")
        [info] = store.list(bucket)
        assert (info.key, info.size, info.content_type) == ("dropped/scan.dcm", 7, "application/octet-stream")
        assert store.head(bucket, "dropped/scan.dcm") == info

    @pytest.mark.parametrize(("first", "second"), [("a/b", "a/b/c"), ("a/b/c", "a/b")])
    def test_key_that_is_also_a_prefix_is_refused(
        self, store: FileObjectStore, bucket: str, first: str, second: str
    ) -> None:
        """A directory cannot be both a file and a folder, so 'a/b' and 'a/b/c' cannot both be stored."""
        store.put(bucket, first, b"first")
        with pytest.raises(InvalidObjectKey, match="prefix"):
            store.put(bucket, second, b"second")
        assert store.get(bucket, first) == b"first"
        assert [info.key for info in store.list(bucket)] == [first]


def test_connect_resolves_relative_path_and_creates_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`file://relative/dir` is rooted at the working directory, and the directory is created."""
    monkeypatch.chdir(tmp_path)
    store = connect("file://data/objects")
    assert isinstance(store, FileObjectStore)
    assert store.root == tmp_path / "data" / "objects"
    assert store.root.is_dir()


@pytest.mark.parametrize("url", ["/plain/path", "file://", "http://x"])
def test_connect_rejects_other_urls(url: str) -> None:
    """Unsupported URLs raise ValueError naming the supported scheme."""
    with pytest.raises(ValueError, match="file:///"):
        connect(url)
