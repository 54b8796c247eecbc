"""The de-identification engine on a canary-seeded corpus and on the real series: nothing leaks, nothing breaks."""

from __future__ import annotations

import os
import warnings
from datetime import date
from io import BytesIO
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset

from services.anonymization.domain.engine import anonymize
from services.anonymization.domain.outcome import AnonymizationFailed, HoldKind
from services.anonymization.domain.profile import Options
from services.anonymization.domain.safe_private import safe_private_index
from services.anonymization.rules_table import load_rule_table
from tests.phi_corpus import PATIENT_ID, UID_CANARY, build_instance, pixels

KEY = b"radlab-test-key-0123456789abcdef"
OTHER_KEY = b"another-key-for-radlab-tests-9876"
STUDY = f"{UID_CANARY}.6.1"


@pytest.fixture(scope="module")
def table():
    return load_rule_table()


@pytest.fixture(scope="module")
def corpus(table):
    """Two instances of one study: B refers to A, and was acquired 10 days after A."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = build_instance(table, study_uid=STUDY, instance=1)
        b = build_instance(table, study_uid=STUDY, instance=2, references=f"{UID_CANARY}.9.1", acquisition_date="20190322")
        outputs = [anonymize(data, table, KEY, "tenant-a") for data, _corpus, _ds in (a, b)]
    return [a, b], outputs


def _walk(dataset: Dataset):
    for element in dataset:
        yield element
        if element.VR == "SQ":
            for item in element.value:
                yield from _walk(item)


def _text(element) -> str:
    value = element.value
    if isinstance(value, (bytes, bytearray)):
        return value.decode("latin-1")
    return "" if value is None or element.VR == "SQ" else str(value)


def test_no_canary_survives_a_tag_walk_or_a_raw_byte_scan(corpus):
    inputs, outputs = corpus
    for (_data, planted, _ds), result in zip(inputs, outputs):
        assert len(planted.canaries) > 1000
        written = pydicom.dcmread(BytesIO(result.data))
        texts = [_text(element) for element in [*_walk(written.file_meta), *_walk(written)]]
        leaked = sorted({canary for canary in planted.canaries for text in texts if canary in text})
        assert leaked == []
        raw = result.data
        assert sorted(canary for canary in planted.canaries if canary.encode() in raw) == []


def test_deleting_everything_would_not_pass(corpus):
    inputs, outputs = corpus
    (_data, planted, _original), result = inputs[0], outputs[0]
    written = pydicom.dcmread(BytesIO(result.data))
    for tag, value in planted.retained.items():
        assert tag in written, f"{tag:08X} should survive"
        assert str(written[tag].value) == str(value)
    for tag in planted.zeroed:
        assert tag in written and written[tag].is_empty, f"{tag:08X} should be present and empty"
    for tag in planted.dummied:
        assert tag in written and not written[tag].is_empty, f"{tag:08X} should hold a dummy"
    assert written.ImageType == ["ORIGINAL", "PRIMARY", "AXIAL"]
    assert written.PatientAge == "090Y"


def test_pixels_are_identical_except_the_hidden_overlay_bits(corpus):
    inputs, outputs = corpus
    written = pydicom.dcmread(BytesIO(outputs[0].data))
    assert np.frombuffer(written.PixelData, dtype="<u2").reshape(16, 16).tolist() == pixels().tolist()
    assert outputs[0].report.overlay_bits_cleared
    assert not any(tag >> 16 in (0x5000, 0x6000, 0x6002) for tag in written.keys())
    assert "IconImageSequence" not in written


def test_uids_remap_consistently_and_references_resolve(corpus):
    _inputs, outputs = corpus
    a, b = (pydicom.dcmread(BytesIO(result.data)) for result in outputs)
    assert a.StudyInstanceUID == b.StudyInstanceUID and a.StudyInstanceUID.startswith("2.25.")
    assert a.FrameOfReferenceUID == b.FrameOfReferenceUID
    assert b.SourceImageSequence[0].ReferencedSOPInstanceUID == a.SOPInstanceUID
    assert a.file_meta.MediaStorageSOPInstanceUID == a.SOPInstanceUID
    assert a.SOPClassUID == pydicom.uid.CTImageStorage
    uids = [element.value for element in _walk(a) if element.VR == "UI"]
    assert all(len(str(uid)) <= 64 and (str(uid).startswith(("2.25.", "1.2.840.10008."))) for uid in uids if uid)


def test_dates_shift_by_one_offset_per_patient_and_keep_intervals(corpus):
    _inputs, outputs = corpus
    a, b = (pydicom.dcmread(BytesIO(result.data)) for result in outputs)
    day = lambda text: date(int(text[:4]), int(text[4:6]), int(text[6:8]))  # noqa: E731
    assert a.StudyDate == b.StudyDate != "20190310"
    assert (day(b.AcquisitionDate) - day(a.AcquisitionDate)).days == 10
    assert a.LongitudinalTemporalInformationModified == "MODIFIED"
    assert str(a.AcquisitionDateTime).endswith("-0500") and "." in str(a.AcquisitionDateTime)


def test_conformance_markers_and_patient_pseudonym(corpus):
    _inputs, outputs = corpus
    a, b = (pydicom.dcmread(BytesIO(result.data)) for result in outputs)
    assert a.PatientIdentityRemoved == "YES" and a.DeidentificationMethod
    codes = {item.CodeValue for item in a.DeidentificationMethodCodeSequence}
    assert {"113100", "113103", "113104", "113105", "113107", "113108", "113111"} == codes
    assert a.PatientID == b.PatientID != PATIENT_ID and a.PatientName == ""
    entry = next(entry for entry in outputs[0].report.pseudonyms if entry.kind == "PatientID")
    assert (entry.original, entry.pseudonym) == (PATIENT_ID, a.PatientID)


def test_private_attributes_only_safe_ones_stay(corpus):
    _inputs, outputs = corpus
    written = pydicom.dcmread(BytesIO(outputs[0].data))
    private = {int(element.tag): element.value for element in _walk(written) if element.tag.is_private}
    block = written.private_block(0x0019, "SIEMENS MR HEADER")
    assert written[block.get_tag(0x0C)].value == 1000
    assert len(private) == 2  # the safe B_value and its creator, nothing else at any depth


def test_same_key_same_output_other_key_other_identity(table, corpus):
    inputs, outputs = corpus
    data = inputs[0][0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = anonymize(data, table, KEY, "tenant-a")
        other = anonymize(data, table, OTHER_KEY, "tenant-a")
    assert again.data == outputs[0].data
    first, second = outputs[0].dataset, other.dataset
    assert first.SOPInstanceUID != second.SOPInstanceUID and first.PatientID != second.PatientID


@pytest.mark.parametrize(
    ("modality", "burned_in", "held"),
    [("US", None, True), ("CT", "YES", True), ("SC", "NO", False), ("CT", None, False)],
)
def test_burned_in_text_is_held_for_review(table, modality, burned_in, held):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data, _corpus, _ds = build_instance(table, study_uid=STUDY, instance=3, modality=modality, burned_in=burned_in)
        assert anonymize(data, table, KEY).report.held is held


def test_options_change_what_is_kept(table):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data, _corpus, _ds = build_instance(table, study_uid=STUDY, instance=4)
        result = anonymize(data, table, KEY, options=Options(retain_safe_private=False, retain_longitudinal_modified_dates=False))
    written = pydicom.dcmread(BytesIO(result.data))
    assert not any(element.tag.is_private for element in _walk(written))
    assert written.StudyDate == "" and written.LongitudinalTemporalInformationModified == "REMOVED"


REAL_SERIES = (
    "dcm_qa_deident/In", "dcm_qa_ct/In/GE", "totalsegmentator/tests/reference_files/example_ct_dicom",
    "dcmqi/data/segmentations", "rt_utils/tests/mock_data",
)


@pytest.mark.parametrize("folder", REAL_SERIES)
def test_real_series_pass_through_with_pixels_intact(table, data_dir, folder):
    files = sorted(path for path in (data_dir / folder).rglob("*") if path.is_file() and "LICENSE" not in path.name)
    assert files
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in files:
            original = pydicom.dcmread(path)
            result = anonymize(path.read_bytes(), table, KEY, "tenant-a")
            written = pydicom.dcmread(BytesIO(result.data))
            assert written.PatientIdentityRemoved == "YES" and not result.report.held, path.name
            if "PixelData" in original:
                assert written.PixelData == original.PixelData, path.name
            kept = {(element.tag.group, element.private_creator, element.tag.element & 0xFF)
                    for element in _walk(written) if element.tag.is_private and element.tag.element > 0xFF}
            assert kept <= safe_private_index(), path.name


COMPRESSED_CT = "totalsegmentator/tests/reference_files/example_ct_dicom"


def recompressed(path: Path, syntax: str, hidden: bool) -> bytes:
    """The real JPEG 2000 CT slice (Bits Stored 12) re-encoded losslessly with a 16-bit codestream, and, if
    `hidden`, bit 14 set in a 10×10 corner: an overlay left in the unused high bits of compressed pixels."""
    dataset = pydicom.dcmread(path)
    pixels = dataset.pixel_array.copy()
    if hidden:
        pixels[10:20, 10:20] |= 1 << 14
    dataset.BitsStored, dataset.HighBit = 16, 15  # pydicom's encoders refuse values wider than Bits Stored
    dataset.compress(syntax, pixels)
    dataset.BitsStored, dataset.HighBit = 12, 11
    output = BytesIO()
    dataset.save_as(output, enforce_file_format=True)
    return output.getvalue()


@pytest.mark.parametrize("syntax", [pydicom.uid.RLELossless, pydicom.uid.JPEG2000Lossless])
def test_overlay_bits_hidden_in_compressed_pixels_hold_the_instance(table, data_dir, syntax):
    """Set bits above Bits Stored in compressed pixel data → held for review, never passed on; the same
    codestream without them passes with its pixel data byte-identical."""
    path = sorted((data_dir / COMPRESSED_CT).iterdir())[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hidden = anonymize(recompressed(path, syntax, hidden=True), table, KEY)
        clean_data = recompressed(path, syntax, hidden=False)
        clean = anonymize(clean_data, table, KEY)
    assert hidden.report.held and "bits above Bits Stored (12)" in hidden.report.held_reason
    assert hidden.report.held_kind is HoldKind.HIDDEN_OVERLAY_BITS
    assert not clean.report.held
    assert pydicom.dcmread(BytesIO(clean.data)).PixelData == pydicom.dcmread(BytesIO(clean_data)).PixelData


def test_truncated_and_non_dicom_files_fail_closed(table, data_dir):
    real = (data_dir / "dcm_qa_ct/In/GE/01.dcm").read_bytes()
    compressed = sorted((data_dir / "totalsegmentator/tests/reference_files/example_ct_dicom").iterdir())[0].read_bytes()
    broken = {
        "text": b"patient: CNRY\n" * 20,
        "empty": b"",
        "truncated header": real[:600],
        "truncated pixels": real[: len(real) // 2],
        "truncated compressed": compressed[: len(compressed) - 5000],
        "no preamble, truncated": real[132:-4000],
        "no file meta, truncated": bare(real, implicit=True)[:-4000],
        "no file meta, cut in the header": bare(real, implicit=False)[:700],
        "no file meta, compressed": bare(compressed, implicit=False),  # which codec made it cannot be told
    }
    random = [os.urandom(4096) for _ in range(50)]
    broken |= {f"random {n}": start + data for n, data in enumerate(random) for start in (b"", b"\x02\x00", b"\x08\x00")}
    for name, data in broken.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(AnonymizationFailed) as failure:
                anonymize(data, table, KEY)
                pytest.fail(f"{name}: accepted")
        assert str(failure.value), name
        assert "compressed" in str(failure.value) or name != "no file meta, compressed"


def test_a_short_key_is_refused(table, data_dir):
    with pytest.raises(Exception, match="at least 16 bytes"):
        anonymize((data_dir / "dcm_qa_ct/In/GE/01.dcm").read_bytes(), table, b"short")


@pytest.mark.parametrize("folder", REAL_SERIES)
def test_copying_untouched_elements_writes_what_pydicom_would(table, data_dir, folder):
    """The engine copies still-raw elements byte for byte instead of letting pydicom re-encode them: the
    bytes must equal pydicom's own writing of the same de-identified dataset."""
    files = sorted(path for path in (data_dir / folder).rglob("*") if path.is_file() and "LICENSE" not in path.name)[:4]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        corpus = [build_instance(table, study_uid=STUDY, instance=7)[0]]
        for data in [path.read_bytes() for path in files] + corpus:
            result = anonymize(data, table, KEY, "tenant-a")
            reference = BytesIO()
            result.dataset.save_as(reference, enforce_file_format=True)
            assert result.data == reference.getvalue()


def bare(part10: bytes, implicit: bool) -> bytes:
    """The instance's dataset alone, as a network peer sends it: no preamble, no 'DICM', no file meta."""
    stream = DicomBytesIO()
    stream.is_implicit_VR, stream.is_little_endian = implicit, True
    write_dataset(stream, pydicom.dcmread(BytesIO(part10)))
    return stream.getvalue()


@pytest.mark.parametrize("folder", ["dcm_qa_ct/In/GE", "dcm_qa_deident/In"])
def test_files_without_preamble_or_file_meta_are_de_identified_like_the_original(table, data_dir, folder):
    """A real file without its 128-byte preamble and 'DICM', and its dataset alone (implicit and explicit VR):
    each comes out as Part 10 (preamble, file meta naming the replaced SOP Instance UID) holding exactly the
    elements, values and pixels the original's output holds."""
    path = sorted((data_dir / folder).glob("*.dcm"))[0]
    real = path.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = anonymize(real, table, KEY, "tenant-a")
        variants = {"no preamble": real[132:], "implicit VR": bare(real, True), "explicit VR": bare(real, False)}
        for name, data in variants.items():
            assert data[128:132] != b"DICM", name
            result = anonymize(data, table, KEY, "tenant-a")
            written = pydicom.dcmread(BytesIO(result.data))  # not forced: a Part 10 file
            assert result.data[:132] == b"\x00" * 128 + b"DICM", name
            assert written.file_meta.MediaStorageSOPInstanceUID == written.SOPInstanceUID == reference.dataset.SOPInstanceUID
            assert str(written.SOPInstanceUID).startswith("2.25.") and written.PatientIdentityRemoved == "YES"
            expected = pydicom.dcmread(BytesIO(reference.data))
            assert [(e.tag, e.VR, e.value) for e in _walk(written)] == [(e.tag, e.VR, e.value) for e in _walk(expected)], name
            assert result.report.actions == reference.report.actions, name
        assert anonymize(variants["no preamble"], table, KEY, "tenant-a").data == reference.data


def without_uids(data: bytes, names: tuple[str, ...]) -> bytes:
    """The instance with `names` blank, in its dataset and file meta, as some exporters write them."""
    dataset = pydicom.dcmread(BytesIO(data))
    for name in names:
        setattr(dataset, name, "")
        if name == "SOPInstanceUID":
            del dataset.file_meta.MediaStorageSOPInstanceUID
    output = BytesIO()
    dataset.save_as(output)
    return output.getvalue()


def test_blank_study_and_series_uids_become_one_uid_per_scan(table, data_dir):
    """The real JPEG 2000 CT has blank Study and Series Instance UIDs: every slice of a scan gets the same
    derived ones (a reader grouped the blanks together), another scan other ones, none equal to a replaced UID."""
    files = sorted((data_dir / COMPRESSED_CT).iterdir())
    assert {(pydicom.dcmread(path).StudyInstanceUID, pydicom.dcmread(path).SeriesInstanceUID) for path in files[:2]} == {("", "")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outputs = [anonymize(path.read_bytes(), table, KEY, "tenant-a", scan="scan-1").dataset for path in files]
        other = anonymize(files[0].read_bytes(), table, KEY, "tenant-a", scan="scan-2").dataset
        alone = [anonymize(path.read_bytes(), table, KEY, "tenant-a").dataset for path in files[:2]]
    [(study, series)] = {(str(d.StudyInstanceUID), str(d.SeriesInstanceUID)) for d in outputs}
    assert study.startswith("2.25.") and series.startswith("2.25.") and study != series and len(study) <= 64
    assert len({str(d.SOPInstanceUID) for d in outputs}) == len(files)
    assert (other.StudyInstanceUID, other.SeriesInstanceUID) != (study, series)
    assert alone[0].SeriesInstanceUID != alone[1].SeriesInstanceUID  # without a scan, nothing ties them
    assert len({str(d.PatientID) for d in outputs}) == 1  # no patient identity either: one pseudonym per scan
    assert len({str(d.StudyDate) for d in outputs}) == 1


def test_a_blank_sop_instance_uid_gets_a_stable_unique_one(table, data_dir):
    """Blank SOP Instance UIDs (and none in the file meta) → a UID per file, the same on every run, in the meta too."""
    paths = sorted((data_dir / "dcm_qa_ct/In/GE").glob("*.dcm"))[:2]
    blank = [without_uids(path.read_bytes(), ("SOPInstanceUID", "StudyInstanceUID")) for path in paths]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first, second = (anonymize(data, table, KEY, "tenant-a", scan="scan-1") for data in blank)
        again = anonymize(blank[0], table, KEY, "tenant-a", scan="scan-1")
    assert again.data == first.data
    assert first.dataset.SOPInstanceUID != second.dataset.SOPInstanceUID
    assert first.dataset.StudyInstanceUID == second.dataset.StudyInstanceUID
    for result in (first, second):
        written = pydicom.dcmread(BytesIO(result.data))
        assert str(written.SOPInstanceUID).startswith("2.25.") and written.file_meta.MediaStorageSOPInstanceUID == written.SOPInstanceUID
        assert [entry.kind for entry in result.report.pseudonyms] == ["PatientID", "SeriesInstanceUID"]  # no pair for a blank
