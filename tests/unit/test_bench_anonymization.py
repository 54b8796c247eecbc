"""The anonymization benchmark's scoring on a tiny corpus, without peers: a copy leaks everything, Radlab nothing."""

from __future__ import annotations

import shutil
import warnings

import pydicom
import pytest

from bench.anonymization import Outcome, Row, Tool, build_corpus, radlab_in_process, report
from bench.scoring import CanaryFinder, Planted, integrity, leaks


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, data_dir):
    folder = tmp_path_factory.mktemp("bench") / "corpus"
    canaries = build_corpus(folder, instances=2)
    return folder, Planted.from_inputs(folder, canaries)


def test_finder_ignores_numbers_inside_new_uids():
    finder = CanaryFinder({"90042547", "CNRYABC00001"})
    assert finder.find(b"2.25.123490042547017 x CNRYABC00001") == {"CNRYABC00001"}
    assert finder.find(b"DS 90042547\\1") == {"90042547"}


def test_a_plain_copy_leaks_every_canary_and_breaks_nothing(corpus, tmp_path):
    folder, planted = corpus
    assert len(planted.places) > 1000 and {"file names", "overlays", "curves", "private tags", "documents"} <= set(planted.places.values())
    shutil.copytree(folder, tmp_path / "out")
    found = leaks(tmp_path / "out", planted)
    assert found["raw_bytes"] == len(planted.places)
    checked = integrity(folder, tmp_path / "out")
    assert checked["broken"] == 0 and checked["references_in_set"] == 2
    assert checked["pixels_byte_identical"] == checked["images"] == 2


def test_radlab_leaves_no_canary_in_the_images_and_keeps_references(corpus, tmp_path):
    folder, planted = corpus
    radlab_in_process(folder, tmp_path / "out")
    images = [p for p in (tmp_path / "out").glob("*.dcm")]
    assert len(images) == 2
    for path in images:
        assert CanaryFinder(planted.places).find(path.read_bytes()) == set()
    checked = integrity(folder, tmp_path / "out")
    assert checked["references_resolved"] == 2 and checked["broken"] == 0
    assert checked["identity_uids_unchanged"] == 0
    assert checked["pixels_stored_bits_identical"] == 2  # the hidden overlay bit is cleaned, the stored bits are not


def test_dropped_uids_count_as_broken_and_the_table_reports_a_failed_peer(corpus, tmp_path, capsys):
    folder, planted = corpus
    (tmp_path / "out").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in folder.iterdir():
            dataset = pydicom.dcmread(path)
            for name in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
                if name in dataset:
                    del dataset[name]
            dataset.save_as(tmp_path / "out" / path.name)
    checked = integrity(folder, tmp_path / "out")
    assert checked["identity_uids_out"] == 0 and checked["broken"] >= 3
    dropping = Row(Tool("dropper", "1", "CLI"), {"corpus": Outcome(seconds=1.0, leaks=leaks(tmp_path / "out", planted), integrity=checked),
                                                 "mr": Outcome(seconds=1.0, integrity=checked)})
    missing = Row(Tool("absent", "-", "CLI", unavailable="install failed: boom"),
                  {"corpus": Outcome(status="install failed: boom"), "mr": Outcome(status="install failed: boom")})
    results = report([dropping, missing], {"corpus": (3, 1000), "mr": (3, 1000)}, planted)
    printed = capsys.readouterr().out
    assert "dropper" in printed and "install failed: boom" in printed
    assert [tool["tool"] for tool in results["tools"]] == ["dropper", "absent"]
