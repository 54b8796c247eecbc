"""Every de-identified output of the real DICOM in data/ passes dciodvfy with no error its input did not already have."""

from __future__ import annotations

import re
import subprocess
import warnings
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path

import pydicom
import pytest

from services.anonymization.domain.engine import anonymize
from services.anonymization.rules_table import load_rule_table
from tests.conftest import installed_tool

KEY = b"radlab-test-key-0123456789abcdef"
NOT_DICOM = {".json", ".md", ".nii", ".gz", ".txt", ".py", ".upstream", ".csv", ".png"}
# dciodvfy checks no module when it cannot tell the IOD (its input's file meta names another class than the
# dataset, as one of the TotalSegmentator CTs does): such an input is compared with its file meta made consistent.
NO_IOD = "Error - Information Object Not found"


@pytest.fixture(scope="module")
def dciodvfy() -> str:
    """dciodvfy's path, installed through scripts/tools.sh (Debian dicom3tools) when missing; failing to get it fails."""
    return installed_tool("dciodvfy")


def real_instances(data_dir: Path) -> list[Path]:
    found = []
    for path in sorted(data_dir.rglob("*")):
        if path.is_file() and path.suffix not in NOT_DICOM:
            try:
                pydicom.dcmread(path, stop_before_pixels=True)
            except Exception:
                continue
            found.append(path)
    return found


def errors(dciodvfy: str, data: bytes, folder: Path, name: str) -> set[str]:
    """dciodvfy's error lines, values and UIDs masked (the output's differ from the input's by design)."""
    path = folder / name
    path.write_bytes(data)
    report = subprocess.run([dciodvfy, str(path)], capture_output=True, text=True, timeout=120).stderr
    return {re.sub(r"<[0-9.]+>", "<uid>", re.sub(r"= <[^>]*>", "= <value>", line)) for line in report.splitlines() if line.startswith("Error")}


def consistent_meta(data: bytes) -> bytes:
    """The input with its file meta and dataset naming one class and one instance (whichever side has them)."""
    dataset = pydicom.dcmread(BytesIO(data), force=True)
    for name, meta_name in (("SOPClassUID", "MediaStorageSOPClassUID"), ("SOPInstanceUID", "MediaStorageSOPInstanceUID")):
        value = dataset.get(name) or dataset.file_meta.get(meta_name)
        setattr(dataset, name, value)
        setattr(dataset.file_meta, meta_name, value)
    output = BytesIO()
    dataset.save_as(output, enforce_file_format=True)
    return output.getvalue()


def test_every_output_adds_no_dciodvfy_error(dciodvfy, data_dir, tmp_path):
    table = load_rule_table()
    paths = real_instances(data_dir)
    assert len(paths) > 400  # every series in data/, not a sample

    def check(index_path):
        index, path = index_path
        data = path.read_bytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            output = anonymize(data, table, KEY, "tenant-a", scan=str(path.parent)).data
            before = errors(dciodvfy, data, tmp_path, f"{index}.in.dcm")
            if NO_IOD in before:
                before = errors(dciodvfy, consistent_meta(data), tmp_path, f"{index}.fixed.dcm")
        after = errors(dciodvfy, output, tmp_path, f"{index}.out.dcm")
        return path.relative_to(data_dir), before, sorted(after - before)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(check, enumerate(paths)))
    added = {str(path): new for path, _before, new in results if new}
    assert added == {}
    assert any(before for _path, before, _new in results)  # the check can see errors: several inputs have some
