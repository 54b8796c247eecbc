"""The byte-level engine against its oracle, the dataset engine: where it takes an instance the bytes and the report are the same; what it declines, the dataset engine handles."""

from __future__ import annotations

import dataclasses
import random
import warnings
from io import BytesIO

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from services.anonymization.domain import byte_engine
from services.anonymization.domain.dataset_engine import deidentify_dataset
from services.anonymization.domain.engine import anonymize
from services.anonymization.domain.outcome import AnonymizationFailed
from services.anonymization.domain.profile import Options
from services.anonymization.domain.transcode import to_explicit
from services.anonymization.rules_table import load_rule_table
from tests.phi_corpus import PATIENT_NAME, UID_CANARY, build_instance

KEY = b"radlab-test-key-0123456789abcdef"
STUDY = f"{UID_CANARY}.6.1"
EXPLICIT_SERIES = (  # every explicit VR little endian series in data/, plain and JPEG 2000
    "dcm_qa_deident/In", "dcm_qa_ct/In/GE", "totalsegmentator/tests/reference_files/example_ct_dicom",
    "dcmqi/data/segmentations/liver.dcm", "dcmqi/data/segmentations/partial_overlaps.dcm",
    "rt_utils/tests/mock_data/ct_1.dcm", "rt_utils/tests/mock_data/ct_2.dcm",
)
OPTION_SETS = [Options()] + [
    dataclasses.replace(Options(), **{field.name: not getattr(Options(), field.name)}) for field in dataclasses.fields(Options)
] + [Options(**{field.name: False for field in dataclasses.fields(Options)})]


@pytest.fixture(scope="module")
def table():
    return load_rule_table()


def both(data: bytes, table, options: Options = Options(), key: bytes = KEY, scan: str = "scan-1"):
    """(byte engine's result or None, dataset engine's result or the AnonymizationFailed it raised)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = byte_engine.deidentify(data, table, key, "tenant-a", options, scan)
        try:
            slow = deidentify_dataset(data, table, key, "tenant-a", options, scan)
        except AnonymizationFailed as error:
            slow = error
    return fast, slow


def assert_same(fast, slow, label: str) -> None:
    assert fast is not None, f"{label}: the byte engine declined"
    assert (fast.engine, slow.engine) == ("bytes", "dataset")
    assert fast.data == slow.data, label
    assert fast.identity == slow.identity, label
    report, expected = fast.report, slow.report
    assert (report.actions, report.cleaned, report.held_kind, report.held_reason, report.pseudonyms, report.overlay_bits_cleared) == (
        expected.actions, expected.cleaned, expected.held_kind, expected.held_reason, expected.pseudonyms,
        expected.overlay_bits_cleared), label


def files(data_dir, entry: str):
    path = data_dir / entry
    return [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file() and "LICENSE" not in p.name)


@pytest.mark.parametrize("entry", EXPLICIT_SERIES)
def test_the_byte_engine_takes_every_explicit_vr_real_series_and_writes_what_the_dataset_engine_writes(table, data_dir, entry):
    paths = files(data_dir, entry)
    assert paths
    for path in paths:
        assert_same(*both(path.read_bytes(), table), path.name)


@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda options: ",".join(
    name for name, on in dataclasses.asdict(options).items() if on != getattr(Options(), name)) or "defaults")
def test_the_phi_corpus_comes_out_the_same_under_every_option(table, options):
    """The canary corpus (every Table E.1-1 attribute at depths 0–3, listed and unlisted sequences, private blocks
    of several creators, dates in every format, overlays, curves, hidden overlay bits, references) under the
    defaults, each option flipped, and all off."""
    for number, references in ((1, None), (2, f"{UID_CANARY}.9.1")):
        data = build_instance(table, options, study_uid=STUDY, instance=number, references=references)[0]
        assert_same(*both(data, table, options), f"instance {number}")


def test_a_different_key_or_scan_changes_the_output_the_same_way(table, data_dir):
    data = files(data_dir, "dcm_qa_ct/In/GE")[0].read_bytes()
    assert_same(*both(data, table, key=b"another-key-for-radlab-tests-9876"), "other key")
    assert_same(*both(data, table, scan=""), "no scan")
    assert both(data, table)[0].data != both(data, table, key=b"another-key-for-radlab-tests-9876")[0].data


def _variant(data: bytes, change) -> bytes:
    dataset = pydicom.dcmread(BytesIO(data))
    change(dataset)
    output = BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset.save_as(output, enforce_file_format=True)
    return output.getvalue()


def _undefined_lengths(dataset: Dataset) -> None:
    """Sequences and items of undefined length, names and dates inside, one sequence empty."""
    item = Dataset()
    item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = dataset.SOPClassUID, dataset.SOPInstanceUID
    item.add_new(0x00081150, "UI", dataset.SOPClassUID)
    request = Dataset()
    request.RequestedProcedureDescription = f"follow-up of {PATIENT_NAME}"
    request.ScheduledProcedureStepStartDate, request.ScheduledProcedureStepStartTime = "20200101", "101010"
    request.is_undefined_length_sequence_item = True
    item.is_undefined_length_sequence_item = True
    dataset.SourceImageSequence = Sequence([item])
    dataset.RequestAttributesSequence = Sequence([request])
    dataset.ReferencedPerformedProcedureStepSequence = Sequence([])
    for keyword in ("SourceImageSequence", "RequestAttributesSequence", "ReferencedPerformedProcedureStepSequence"):
        dataset[keyword].is_undefined_length = True
    dataset.PatientName = PATIENT_NAME


def _overlay_bits(dataset: Dataset) -> None:
    pixels = dataset.pixel_array.copy()
    pixels[:4, :4] |= np.uint16(1 << 14)
    dataset.PixelData = pixels.tobytes()


VARIANTS = {
    "undefined lengths": _undefined_lengths,
    "overlay bits": _overlay_bits,
    "burned in": lambda dataset: setattr(dataset, "BurnedInAnnotation", "YES"),
    "risky modality": lambda dataset: setattr(dataset, "Modality", "US"),
    "blank study and series": lambda dataset: [setattr(dataset, name, "") for name in ("StudyInstanceUID", "SeriesInstanceUID")],
    "instance UID only in the meta": lambda dataset: delattr(dataset, "SOPInstanceUID"),
    "no patient id": lambda dataset: delattr(dataset, "PatientID"),
    "old age": lambda dataset: setattr(dataset, "PatientAge", "093Y"),
    "descriptor naming the patient": lambda dataset: setattr(dataset, "SeriesDescription", f"{PATIENT_NAME.split('^')[0]} head"),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variants_of_a_real_mr_slice_come_out_the_same(table, data_dir, name):
    data = _variant(files(data_dir, "dcm_qa_deident/In")[0].read_bytes(), VARIANTS[name])
    assert_same(*both(data, table), name)


def test_what_the_byte_engine_declines_the_dataset_engine_handles(table, data_dir):
    real = files(data_dir, "dcm_qa_ct/In/GE")[0].read_bytes()
    latin = _variant(real, lambda dataset: [setattr(dataset, "SpecificCharacterSet", "ISO_IR 100"),
                                             setattr(dataset, "PatientName", "Müller^Jürgen")])
    declined = {
        "a name to decode from Latin-1": latin,
        "no preamble": real[132:],
    }
    for name, data in declined.items():
        fast, slow = both(data, table)
        assert fast is None, name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = anonymize(data, table, KEY, "tenant-a", scan="scan-1")
        assert result.engine == "dataset" and result.data == slow.data, name
    assert "Müller" not in str(pydicom.dcmread(BytesIO(anonymize(latin, table, KEY).data)))


@pytest.mark.parametrize("cut", [0.3, 0.7, 0.999])
def test_a_truncated_file_is_declined_and_fails_closed(table, data_dir, cut):
    real = files(data_dir, "dcm_qa_deident/In")[0].read_bytes()
    data = real[:int(len(real) * cut)]
    fast, slow = both(data, table)
    assert fast is None and isinstance(slow, AnonymizationFailed)
    with pytest.raises(AnonymizationFailed, match="truncated"):
        anonymize(data, table, KEY)


def _damaged(data: bytes, rng: random.Random) -> bytes:
    """`data` with one of: bits flipped, a byte replaced, a cut, or a run of bytes repeated (near the headers)."""
    damaged = bytearray(data)
    where = rng.randrange(132, min(len(damaged), 6000))
    kind = rng.randrange(4)
    if kind == 0:
        damaged[where] ^= 1 << rng.randrange(8)
    elif kind == 1:
        damaged[where] = rng.randrange(256)
    elif kind == 2:
        del damaged[rng.randrange(132, len(damaged)):]
    else:
        damaged[where:where] = damaged[where:where + rng.randrange(2, 40)]
    return bytes(damaged)


def test_damaged_files_are_declined_or_come_out_the_same_and_never_escape_failing_closed(table, data_dir):
    """300 seeded damages of a real MR slice, a real CT slice and a corpus instance: the byte engine either declines
    or writes exactly what the dataset engine writes — it never passes a file the dataset engine refuses — and the
    dataset engine refuses with AnonymizationFailed only (a damaged value met half-way included)."""
    rng = random.Random(20261127)
    seeds = [files(data_dir, "dcm_qa_deident/In")[0].read_bytes(), files(data_dir, "dcm_qa_ct/In/GE")[0].read_bytes(),
             build_instance(table, study_uid=STUDY, instance=1)[0]]
    outcomes = {"same": 0, "declined": 0}
    for number in range(300):
        fast, slow = both(_damaged(rng.choice(seeds), rng), table)
        assert isinstance(slow, AnonymizationFailed) or slow.data, number  # anything else would have raised here
        if fast is None:
            outcomes["declined"] += 1
            continue
        assert not isinstance(slow, AnonymizationFailed), f"damage {number}: the byte engine passed a file the dataset engine refuses"
        assert_same(fast, slow, f"damage {number}")
        outcomes["same"] += 1
    assert outcomes["same"] > 50 and outcomes["declined"] > 100, outcomes


IMPLICIT_SERIES = ("dcmqi/data/segmentations/ct-3slice", "rt_utils/tests/mock_data/rt.dcm",
                   "rt_utils/tests/mock_data/invalid_reference_rt.dcm", "rt_utils/tests/mock_data/non_existent_reference_rt.dcm")


def _elements(dataset: Dataset):
    for element in dataset:
        if element.VR == "SQ":
            yield element.tag, element.VR, len(element.value)
            for item in element.value:
                yield from _elements(item)
        else:
            yield element.tag, element.VR, element.value


@pytest.mark.parametrize("entry", IMPLICIT_SERIES)
def test_implicit_vr_files_are_re_encoded_as_pydicom_reads_them_then_de_identified_like_explicit_ones(table, data_dir, entry):
    """Every implicit VR file of data/ becomes explicit VR whose every element (tag, VR, value, at every
    depth) is what pydicom reads from the original; the byte engine takes it and writes what the dataset engine
    writes from it, and anonymize() gives that output (explicit VR)."""
    for path in files(data_dir, entry):
        data = path.read_bytes()
        explicit = to_explicit(data)
        assert explicit is not None, path.name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            original, re_encoded = pydicom.dcmread(BytesIO(data)), pydicom.dcmread(BytesIO(explicit))
            assert list(_elements(re_encoded)) == list(_elements(original)), path.name
            assert re_encoded.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
            fast, slow = both(explicit, table)
            assert_same(fast, slow, path.name)
            result = anonymize(data, table, KEY, "tenant-a", scan="scan-1")
        assert result.engine == "bytes" and result.data == fast.data, path.name


def test_only_implicit_vr_part_10_files_are_re_encoded(data_dir):
    explicit = files(data_dir, "dcm_qa_ct/In/GE")[0].read_bytes()
    implicit = files(data_dir, "rt_utils/tests/mock_data/rt.dcm")[0].read_bytes()
    assert to_explicit(explicit) is None and to_explicit(implicit[132:]) is None and to_explicit(b"not DICOM") is None
    assert to_explicit(implicit[:len(implicit) // 2]) is None  # cut: left to the dataset engine, which refuses it


def test_damaged_implicit_files_are_left_alone_or_re_encoded_to_what_pydicom_reads(data_dir):
    """200 seeded damages of an implicit VR RT structure set and CT slice: the re-encoding refuses them (None) or
    reads exactly as pydicom reads the damaged original (or both fail to read)."""
    rng = random.Random(20261128)
    seeds = [files(data_dir, "rt_utils/tests/mock_data/rt.dcm")[0].read_bytes(),
             files(data_dir, "dcmqi/data/segmentations/ct-3slice")[0].read_bytes()]

    def read(data: bytes):
        try:
            return list(_elements(pydicom.dcmread(BytesIO(data))))
        except Exception as error:  # the same failure on both sides is agreement too
            return type(error).__name__

    re_encoded = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for number in range(200):
            damaged = _damaged(rng.choice(seeds), rng)
            if (explicit := to_explicit(damaged)) is not None:
                assert read(explicit) == read(damaged), f"damage {number}"
                re_encoded += 1
    assert re_encoded > 50


@pytest.mark.parametrize("entry", ["dcm_qa_deident/In", "rt_utils/tests/mock_data/rt.dcm"])
def test_a_file_cut_anywhere_in_its_meta_or_first_elements_fails_closed(table, data_dir, entry):
    """Every cut from the preamble to byte 700 (explicit and implicit VR): AnonymizationFailed and nothing else
    escapes — except a cut that lands between two elements of a non-image, which no reader can tell from a short
    file (DICOM has no end marker): that one is de-identified as it stands."""
    data = files(data_dir, entry)[0].read_bytes()
    accepted = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cut in range(128, 700):
            try:
                anonymize(data[:cut], table, KEY)
                accepted.add(cut)
            except AnonymizationFailed:
                pass
    if entry == "dcm_qa_deident/In":
        assert accepted == set()  # an image cut before its pixel data is refused at every byte
    else:
        boundaries = _dataset_boundaries(data)
        assert accepted <= boundaries and min(boundaries) > 132 + 150 and len(accepted) < 30, sorted(accepted)


def _dataset_boundaries(data: bytes) -> set[int]:
    """Where the top-level elements after the file meta end (implicit VR; an explicit file's image refuses any cut)."""
    position = 132
    while data[position:position + 2] == b"\x02\x00":
        position += 12 + int.from_bytes(data[position + 8:position + 12], "little") if data[position + 4:position + 6] in (
            b"OB", b"UN", b"UT", b"SQ") else 8 + int.from_bytes(data[position + 6:position + 8], "little")
    boundaries = set()
    while position < min(len(data), 1000) and (length := int.from_bytes(data[position + 4:position + 8], "little")) != 0xFFFFFFFF:
        position += 8 + length
        boundaries.add(position)
    return boundaries
