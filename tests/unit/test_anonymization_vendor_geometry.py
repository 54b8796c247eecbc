"""Vendor private geometry through de-identification: a Siemens mosaic's CSA header and a United Imaging VFRAME
series' tile positions kept as numbers only, on the real series in data/."""

from __future__ import annotations

import struct
from io import BytesIO

import pydicom
import pytest
from nibabel.nicom import csareader

from services.anonymization.domain import vendor_geometry
from services.anonymization.domain.dataset_engine import deidentify_dataset
from services.anonymization.domain.engine import anonymize
from services.anonymization.domain.profile import Options
from services.anonymization.rules_table import load_rule_table
from services.ingestion.domain.private import private_block, private_value

KEY = b"k" * 32
MOSAIC = "dcm_qa_mosaic/In/ep2d_Asc_2"
UIH = "dcm_qa_stc/In/UIH/R002/12_dti_tra_dir16_PA_rot"


@pytest.fixture(scope="module")
def table():
    return load_rule_table()


def first_file(data_dir, folder: str) -> bytes:
    return sorted(path for path in (data_dir / folder).iterdir() if path.is_file())[0].read_bytes()


def csa_fields(dataset) -> dict:
    return csareader.get_csa_header(dataset, "image")["tags"]


def test_a_mosaics_csa_header_keeps_only_its_numeric_slicing_fields(data_dir, table):
    original = pydicom.dcmread(BytesIO(first_file(data_dir, MOSAIC)))
    before = csa_fields(original)
    result = anonymize(first_file(data_dir, MOSAIC), table, KEY)
    after = csa_fields(pydicom.dcmread(BytesIO(result.data)))
    assert result.engine == "bytes" and deidentify_dataset(first_file(data_dir, MOSAIC), table, KEY, "default", Options(), "").data == result.data
    assert set(after) == vendor_geometry.CSA_FIELDS & set(before) and "NumberOfImagesInMosaic" in after
    for name in after:
        assert after[name]["items"] == before[name]["items"]
    assert len(before) > 50 and {"ImaCoilString", "SequenceMask"} & set(before)  # the text fields that go


def test_without_the_retain_safe_private_option_the_csa_header_goes(data_dir, table):
    result = anonymize(first_file(data_dir, MOSAIC), table, KEY, options=Options(retain_safe_private=False))
    assert private_block(pydicom.dcmread(BytesIO(result.data)), 0x0029, vendor_geometry.CSA_CREATOR) is None


def csa(*fields: tuple[str, str, list[bytes]]) -> bytes:
    """A CSA2 header of (name, VR, items)."""
    out = b"SV10\x04\x03\x02\x01" + struct.pack("<2I", len(fields), 77)
    for name, vr, items in fields:
        out += struct.pack("<64si4s3i", name.encode(), len(items), vr.encode(), 0, len(items), 77)
        for item in items:
            out += struct.pack("<4i", len(item), len(item), 77, len(item)) + item + b"\x00" * (-len(item) % 4)
    return out


def test_a_kept_field_holding_text_and_unknown_fields_are_dropped():
    cleaned = vendor_geometry.cleaned_csa(csa(("NumberOfImagesInMosaic", "US", [b"36"]), ("B_value", "IS", [b"DOE^JOHN"]),
                                              ("PatientName", "LO", [b"DOE^JOHN"]), ("SliceNormalVector", "FD", [b"0", b"0.5", b"1e-3"])))
    tags = csareader.read(cleaned)["tags"]
    assert set(tags) == {"NumberOfImagesInMosaic", "SliceNormalVector"} and tags["SliceNormalVector"]["items"] == [0, 0.5, 0.001]
    assert vendor_geometry.cleaned_csa(csa(("PatientName", "LO", [b"DOE^JOHN"]))) is None
    with pytest.raises(vendor_geometry.CsaUnreadable):
        vendor_geometry.cleaned_csa(csa(("NumberOfImagesInMosaic", "US", [b"36"]))[:-8])


def test_united_imaging_tiles_keep_their_positions_and_lose_their_dates(data_dir, table):
    original = pydicom.dcmread(BytesIO(first_file(data_dir, UIH)))
    result = pydicom.dcmread(BytesIO(anonymize(first_file(data_dir, UIH), table, KEY).data))
    creator = vendor_geometry.UIH_CREATOR
    tiles, kept = private_value(original, 0x0065, creator, 0x51), private_value(result, 0x0065, creator, 0x51)
    assert len(kept) == len(tiles) == 20
    for before, after in zip(tiles, kept):
        assert [element.keyword for element in after] == ["ImagePositionPatient"]
        assert [float(v) for v in after.ImagePositionPatient] == pytest.approx([float(v) for v in before.ImagePositionPatient], abs=1e-6)
        assert "AcquisitionDate" in before
    assert private_value(result, 0x0065, creator, 0x50) == private_value(original, 0x0065, creator, 0x50)
    assert private_value(result, 0x0065, creator, 0x02) is None  # its text (orientation notes, protocol) is gone
