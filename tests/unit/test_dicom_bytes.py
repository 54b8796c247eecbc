"""The explicit VR little endian walk (shared.dicom_bytes) on real files: every element, item and offset where pydicom reads it."""

from __future__ import annotations

from io import BytesIO

import pytest
from pydicom.dataelem import RawDataElement, convert_raw_data_element
from pydicom.filereader import data_element_generator

from shared.dicom_bytes import LONG_VRS, UINT32, UNDEFINED, Malformed, elements, encode_element, file_meta, header

FILES = {  # each explicit VR little endian, each with what the walk must get right
    "sequence of undefined length at the top level": "dcm_qa_deident/In/00001.dcm",
    "encapsulated pixel data (JPEG 2000), sequences of defined length": "totalsegmentator/tests/reference_files/example_ct_dicom",
    "sequences and items of undefined length, nested": "dcmqi/data/segmentations/liver.dcm",
    "encapsulated pixel data (RLE)": "dcm_qa_ts/In/4.dcm",
}


def read(data_dir, entry: str) -> bytes:
    path = data_dir / entry
    return (path if path.is_file() else sorted(path.iterdir())[0]).read_bytes()


def assert_as_pydicom_reads(data: bytes, found: list, read: list, offset: int = 0) -> None:
    """Each element where pydicom's reading (its raw elements, its sequences' items) puts it: tag, VR, value offset,
    length and bytes; each sequence's items, of defined or undefined length. pydicom's offsets inside a sequence it
    read from its value's bytes count from that value's start (`offset`)."""
    assert [element[0] for element in found] == [element.tag for element in read]
    for (tag, vr, start, value, end, length, sequence), element in zip(found, read):
        assert (vr, value - start) == (element.VR, 12 if vr in LONG_VRS else 8), hex(tag)
        if vr != "SQ":
            assert (length, value, data[value:end - 8 if length == UNDEFINED else end]) == (
                element.length, offset + element.value_tell, element.value or b""), hex(tag)  # pydicom: None when empty
            assert sequence is None
            continue
        items_offset = offset
        if isinstance(element, RawDataElement):  # a sequence of defined length, which pydicom reads when asked
            assert (length, value) == (element.length, offset + element.value_tell)
            element, items_offset = convert_raw_data_element(element), value
        assert (length == UNDEFINED) == element.is_undefined_length
        assert len(sequence) == len(element.value), hex(tag)
        for (undefined, item_elements), item in zip(sequence, element.value):
            assert undefined == item.is_undefined_length_sequence_item
            assert_as_pydicom_reads(data, item_elements, [item.get_item(tag) for tag in item.keys()], items_offset)


def pydicom_reading(data: bytes, position: int, stop_when=None) -> tuple[list, int]:
    """pydicom's own reading of the explicit VR little endian elements from `position`, and where it stopped."""
    stream = BytesIO(data)
    stream.seek(position)
    return list(data_element_generator(stream, False, True, stop_when=stop_when)), stream.tell()


@pytest.mark.parametrize("case", sorted(FILES))
def test_the_nested_walk_finds_every_element_and_item_where_pydicom_reads_them(data_dir, case):
    data = read(data_dir, FILES[case])
    meta, start = file_meta(data)
    read_meta, meta_end = pydicom_reading(data, 132, stop_when=lambda tag, _vr, _length: tag >> 16 != 0x0002)
    assert [(tag, vr, value) for tag, (vr, value) in meta.items()] == [(raw.tag, raw.VR, raw.value) for raw in read_meta]
    assert start == meta_end == 144 + UINT32.unpack_from(data, 140)[0]
    found, stop = elements(data, start, len(data), nested=True)
    assert stop == len(data)
    assert_as_pydicom_reads(data, found, pydicom_reading(data, start)[0])
    if case.startswith("sequences and items of undefined length"):
        assert any(undefined for element in found if element[6] for undefined, _ in element[6])
    if case.startswith("encapsulated"):
        pixels = found[-1]
        assert (pixels[0], pixels[5], data[pixels[4] - 8:pixels[4]]) == (0x7FE00010, UNDEFINED, b"\xfe\xff\xdd\xe0\0\0\0\0")


@pytest.mark.parametrize("case", sorted(FILES))
def test_the_flat_walk_passes_over_sequences_to_the_same_elements(data_dir, case):
    data = read(data_dir, FILES[case])
    start = file_meta(data)[1]
    nested, flat = elements(data, start, len(data), nested=True), elements(data, start, len(data))
    assert flat == ([element[:6] + (None,) for element in nested[0]], nested[1])


def test_a_walk_stops_at_an_item_tag(data_dir):
    data = read(data_dir, FILES["sequences and items of undefined length, nested"])
    found, _ = elements(data, file_meta(data)[1], len(data), nested=True)
    sequence = next(element for element in found if element[1] == "SQ" and element[5] == UNDEFINED)
    assert elements(data, sequence[3], len(data)) == ([], sequence[3])  # its first item's tag, for the caller to judge


def test_what_is_not_explicit_vr_little_endian_is_malformed(data_dir):
    data = read(data_dir, FILES["sequence of undefined length at the top level"])
    start = file_meta(data)[1]
    with pytest.raises(Malformed):
        elements(data[:-1000], start, len(data) - 1000)  # cut in the pixel data
    damaged = bytearray(data)
    damaged[data.index(b"UI", start)] = ord("Z")
    with pytest.raises(Malformed):
        elements(bytes(damaged), start, len(data))  # a VR that is none
    implicit_items = header(0x00091010, "UN", UNDEFINED) + b"\xfe\xff\x00\xe0" + b"\xff" * 4
    with pytest.raises(Malformed):
        elements(implicit_items, 0, len(implicit_items))  # a UN of undefined length holds implicit VR items
    with pytest.raises(Malformed):
        file_meta(data[:200])


def test_what_encode_element_writes_the_walk_reads_back():
    written = encode_element(0x00100010, "PN", b"DOE^J ") + encode_element(0x7FE00010, "OW", b"\0" * 70000)
    assert elements(written, 0, len(written)) == (
        [(0x00100010, "PN", 0, 8, 14, 6, None), (0x7FE00010, "OW", 14, 26, len(written), 70000, None)], len(written))
    with pytest.raises(ValueError):
        header(0x00100010, "PN", 0x10000)
