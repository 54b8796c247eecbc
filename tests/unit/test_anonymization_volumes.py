"""The volume built from the anonymized output equals the original's (ingestion's series → volume code on both)."""

from __future__ import annotations

import warnings
from io import BytesIO

import numpy as np
import pydicom
import pytest

from services.anonymization.domain.engine import anonymize
from services.anonymization.rules_table import load_rule_table
from services.ingestion.domain.volume import Volume, build_volumes

KEY = b"radlab-test-key-0123456789abcdef"
SERIES = {
    "dcm_qa_deident/In": 1,  # 196-slice sagittal MR, uncompressed
    "totalsegmentator/tests/reference_files/example_ct_dicom": 1,  # 20-slice CT, JPEG 2000 lossless, blank Study/Series UIDs
    "dcm_qa_ct/In/GE": 1,  # 28-slice CT with gantry tilt and uneven gaps: resampled onto a regular grid
}


@pytest.mark.parametrize("folder", SERIES)
def test_the_volume_built_from_the_output_equals_the_originals(data_dir, folder):
    files = sorted(path for path in (data_dir / folder).iterdir() if path.is_file() and "LICENSE" not in path.name)
    table = load_rule_table()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        originals = [pydicom.dcmread(path) for path in files]
        outputs = [pydicom.dcmread(BytesIO(anonymize(path.read_bytes(), table, KEY, "tenant-a", scan="scan-1").data)) for path in files]
        before, after = build_volumes(originals), build_volumes(outputs)

    assert len(before) == len(after) == SERIES[folder]
    for original, anonymized in zip(before, after):
        assert isinstance(original, Volume) and isinstance(anonymized, Volume), getattr(anonymized, "args", anonymized)
        assert anonymized.data.dtype == original.data.dtype and np.array_equal(anonymized.data, original.data)
        assert np.array_equal(anonymized.affine, original.affine)
        assert anonymized.window == original.window
        assert [issue.kind for issue in anonymized.issues] == [issue.kind for issue in original.issues]
        assert len(anonymized.series.frames) == len(original.series.frames) == len(files)
    assert str(outputs[0].SOPInstanceUID) != str(originals[0].SOPInstanceUID)  # the UIDs did change
