"""`radlab anonymize`: refuses without a key, writes whole files only, hides input names, holds or redacts text burned
into the pixels."""

from __future__ import annotations

import gzip
import shutil
import warnings

import numpy as np
import pydicom

from radlab.cli import main
from tests.burned_in_corpus import corpus as burned_in_corpus
from tests.conftest import installed_tool
from tests.phi_corpus import UID_CANARY, build_instance
from tests.unit.test_anonymization_nifti import MR as NIFTI_MR
from tests.unit.test_anonymization_nifti import with_phi
from services.anonymization.rules_table import load_rule_table


def test_refuses_to_run_without_a_key(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("RADLAB_ANON_KEY", raising=False)
    assert main(["anonymize", str(tmp_path), str(tmp_path / "out")]) == 1
    assert "RADLAB_ANON_KEY" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_missing_or_empty_source_and_a_missing_key_file_are_one_line_errors(tmp_path, monkeypatch, capsys):
    """Nothing to read is an error the user sees (not "0 de-identified, 0 failed" and exit 0), and nothing is written."""
    monkeypatch.setenv("RADLAB_ANON_KEY", "k" * 32)
    (tmp_path / "empty").mkdir()
    (tmp_path / "one.dcm").write_bytes(b"not a folder")
    cases = [
        (["anonymize", str(tmp_path / "nowhere"), str(tmp_path / "out")], "is not a folder"),
        (["anonymize", str(tmp_path / "one.dcm"), str(tmp_path / "out")], "is not a folder"),
        (["anonymize", str(tmp_path / "empty"), str(tmp_path / "out")], "holds no files"),
        (["anonymize", str(tmp_path / "empty"), str(tmp_path / "out"), "--key-file", str(tmp_path / "no-key")], "--key-file"),
        (["anonymize", str(tmp_path / "empty"), str(tmp_path / "one.dcm")], "is a file; name a folder for the output"),
    ]
    for argv, expected in cases:
        assert main(argv) == 1
        captured = capsys.readouterr()
        assert captured.err.startswith("radlab: ") and expected in captured.err and captured.err.count("\n") == 1, captured.err
        assert "de-identified" not in captured.out
    assert not (tmp_path / "out").exists()


def test_folder_round_trip(tmp_path, data_dir, monkeypatch, capsys):
    source, destination = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    table = load_rule_table()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clean, _c, _d = build_instance(table, study_uid=f"{UID_CANARY}.6.1", instance=1)
        held, _c, _d = build_instance(table, study_uid=f"{UID_CANARY}.6.1", instance=2, modality="US", burned_in=None)
    (source / "CNRYFILENAME_Doe_John.dcm").write_bytes(clean)
    (source / "CNRYHELD_us.dcm").write_bytes(held)
    (source / "CNRYBROKEN.dcm").write_bytes(clean[: len(clean) // 3])
    shutil.copy(data_dir / "dcm_qa_ct/In/GE/01.dcm", source / "real.dcm")
    (source / "CNRYNIFTI_Doe.nii.gz").write_bytes(with_phi(data_dir / NIFTI_MR)[0])
    key_file = tmp_path / "key"
    key_file.write_bytes(b"k" * 32)
    assert main(["anonymize", str(source), str(destination), "--key-file", str(key_file), "--tenant", "t"]) == 1
    captured = capsys.readouterr()
    printed = captured.out
    assert "radlab:" not in captured.err, captured.err
    written = sorted(path.relative_to(destination).as_posix() for path in destination.rglob("*") if path.is_file())
    assert len(written) == 4 and sum(name.startswith("held/") for name in written) == 1
    [nifti] = [destination / name for name in written if name.endswith(".nii.gz")]
    assert "CNRY" not in " ".join(written) + printed and b"CNRY" not in gzip.decompress(nifti.read_bytes())
    assert "FAILED, nothing written" in printed and "2 de-identified" not in printed
    assert not any(path.name.startswith(".partial-") for path in destination.rglob("*"))


def test_two_files_with_one_sop_instance_uid_are_both_kept_and_a_repeated_file_is_written_once(tmp_path, data_dir, capsys):
    """rt_utils' two variants of one RT Structure Set share a SOP Instance UID but differ: both outputs stay (the
    second beside the first, said so); the same file twice is one instance, written once."""
    source, destination = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    mock = data_dir / "rt_utils/tests/mock_data"
    for name in ("invalid_reference_rt.dcm", "non_existent_reference_rt.dcm"):
        shutil.copy(mock / name, source / name)
    shutil.copy(mock / "ct_1.dcm", source / "a.dcm")
    shutil.copy(mock / "ct_1.dcm", source / "b.dcm")
    key_file = tmp_path / "key"
    key_file.write_bytes(b"k" * 32)
    assert main(["anonymize", str(source), str(destination), "--key-file", str(key_file)]) == 0
    printed = capsys.readouterr().out
    written = sorted(path.name for path in destination.glob("*.dcm"))
    assert len(written) == 3 and sum(name.endswith("_2.dcm") for name in written) == 1
    assert "kept beside it" in printed and "written once" in printed and "4 de-identified, 0 failed" in printed


def test_text_burned_into_the_pixels_is_held_or_redacted_offline_as_the_service_does(tmp_path, data_dir, monkeypatch, capsys):
    """The radiograph with the patient's name in a corner (its header does not say so) is held under hold and written
    with the name's pixels filled under redact (read by the real Tesseract); the CT slice goes through unread."""
    images = {image.name: image for image in burned_in_corpus(data_dir)}
    source = tmp_path / "in"
    source.mkdir()
    for name in ("cr-radiograph", "ct-axial"):
        (source / f"{name}.dcm").write_bytes(images[name].data)
    monkeypatch.setenv("RADLAB_ANON_KEY", "k" * 32)
    monkeypatch.setenv("RADLAB_TESSERACT", installed_tool("tesseract"))
    assert main(["anonymize", str(source), str(tmp_path / "held"), "--burned-in-text", "hold"]) == 0
    assert "HELD for review (identifying text burned into the pixels" in capsys.readouterr().out
    assert len(list((tmp_path / "held" / "held").iterdir())) == 1 and len(list((tmp_path / "held").glob("*.dcm"))) == 1

    assert main(["anonymize", str(source), str(tmp_path / "redacted"), "--burned-in-text", "redact"]) == 0
    assert "HELD" not in capsys.readouterr().out and not (tmp_path / "redacted" / "held").exists()
    written = [pydicom.dcmread(path) for path in (tmp_path / "redacted").glob("*.dcm")]
    [radiograph] = [dataset for dataset in written if dataset.Modality != "CT"]
    assert radiograph.BurnedInAnnotation == "NO"
    pixels = radiograph.pixel_array
    for text in (t for t in images["cr-radiograph"].texts if t.identifying):
        x, y, width, height = text.box
        assert np.all(pixels[y:y + height, x:x + width] == pixels.min()), text.text
