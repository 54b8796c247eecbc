"""NIfTI de-identification on real NIfTI files: free text and extensions gone, voxels, data type and affines exact."""

from __future__ import annotations

import gzip
import io

import nibabel as nib
import numpy as np
import pytest

from services.anonymization.domain.nifti import deidentify_nifti, is_nifti
from services.anonymization.domain.outcome import AnonymizationFailed

CANARIES = ("CNRYDESCRIP", "CNRYAUX", "CNRYINTENT", "CNRYDBNAME", "CNRYEXTENSION", "CNRYDICOMEXT", "CNRYGZNAME")
MR = "totalsegmentator/tests/reference_files/example_mr_sm.nii.gz"
SEGMENTATION = "totalsegmentator/tests/reference_files/example_seg_mr.nii.gz"


def with_phi(path, image_class=nib.Nifti1Image, compress=True) -> tuple[bytes, nib.Nifti1Image]:
    """A real NIfTI with a canary in every free-text field, two extensions and the gzip file name."""
    original = nib.load(path)
    image = image_class(np.asanyarray(original.dataobj.get_unscaled()), None, original.header)
    header = image.header
    header["descrip"], header["aux_file"], header["intent_name"] = b"CNRYDESCRIP 2019-03-11", b"CNRYAUX", b"CNRYINTENT"
    if image_class is nib.Nifti1Image:
        header["db_name"] = b"CNRYDBNAME"
    header.extensions.append(nib.nifti1.Nifti1Extension("comment", b"CNRYEXTENSION patient Doe^Jane"))
    header.extensions.append(nib.nifti1.Nifti1Extension("dicom", b"CNRYDICOMEXT"))
    plain = image.to_bytes()
    if not compress:
        return plain, image
    packed = io.BytesIO()
    with gzip.GzipFile(filename="CNRYGZNAME.nii", mode="wb", fileobj=packed, mtime=0) as stream:
        stream.write(plain)
    return packed.getvalue(), image


def leaked(raw: bytes) -> list[str]:
    return [canary for canary in CANARIES if canary.encode() in raw]


@pytest.mark.parametrize("relative", [MR, SEGMENTATION])
@pytest.mark.parametrize("image_class", [nib.Nifti1Image, nib.Nifti2Image])
def test_phi_leaves_and_voxels_datatype_and_affines_stay(data_dir, relative, image_class):
    data, _image = with_phi(data_dir / relative, image_class)
    before = image_class.from_bytes(gzip.decompress(data))
    assert is_nifti(data) and len(leaked(gzip.decompress(data) + data)) == len(CANARIES) - (image_class is nib.Nifti2Image)

    cleaned = deidentify_nifti(data)

    assert leaked(cleaned.data) == [] and leaked(gzip.decompress(cleaned.data)) == []
    assert cleaned.actions["X"] == len(before.header.extensions) >= 2 and cleaned.actions["Z"] >= 3
    after = image_class.from_bytes(gzip.decompress(cleaned.data))
    assert len(after.header.extensions) == 0 and not any(after.header["descrip"].tobytes())
    assert after.header.get_data_dtype() == before.header.get_data_dtype()
    assert np.array_equal(after.get_sform(), before.get_sform()) and np.array_equal(after.get_qform(), before.get_qform())
    assert (after.header["sform_code"], after.header["qform_code"]) == (before.header["sform_code"], before.header["qform_code"])
    scaling = ("scl_slope", "scl_inter")
    assert np.array_equal([after.header[name] for name in scaling], [before.header[name] for name in scaling], equal_nan=True)
    unscaled, real = after.dataobj.get_unscaled(), nib.load(data_dir / relative).dataobj.get_unscaled()
    assert unscaled.dtype == real.dtype and unscaled.shape == real.shape and unscaled.tobytes() == real.tobytes()


def test_an_uncompressed_nii_is_cleaned_and_compressed(data_dir):
    data, before = with_phi(data_dir / MR, compress=False)
    cleaned = deidentify_nifti(data)
    assert cleaned.data[:2] == b"\x1f\x8b" and leaked(gzip.decompress(cleaned.data)) == []
    assert np.array_equal(nib.Nifti1Image.from_bytes(gzip.decompress(cleaned.data)).get_fdata(), before.get_fdata())


def test_bytes_after_the_voxels_are_dropped(data_dir):
    data, _before = with_phi(data_dir / MR, compress=False)
    cleaned = deidentify_nifti(data + b"CNRYTRAILER")
    assert b"CNRYTRAILER" not in gzip.decompress(cleaned.data)
    assert gzip.decompress(cleaned.data) == gzip.decompress(deidentify_nifti(data).data)


def test_truncated_damaged_and_paired_files_fail_closed(data_dir):
    data, _before = with_phi(data_dir / MR, compress=False)
    with pytest.raises(AnonymizationFailed, match="truncated"):
        deidentify_nifti(data[:-100])
    with pytest.raises(AnonymizationFailed, match="truncated"):
        deidentify_nifti(gzip.compress(data)[:-4000])
    paired = bytearray(data)
    paired[344:348] = b"ni1\0"
    with pytest.raises(AnonymizationFailed, match="pair"):
        deidentify_nifti(bytes(paired))
    broken = bytearray(data)
    broken[70:72] = (999).to_bytes(2, "little")  # an unknown datatype
    with pytest.raises(AnonymizationFailed, match="inconsistent"):
        deidentify_nifti(bytes(broken))
    bomb = bytearray(data)
    bomb[42:48] = (30000).to_bytes(2, "little") * 3  # 30000³ voxels declared: never inflated
    with pytest.raises(AnonymizationFailed, match="GiB of voxels"):
        deidentify_nifti(gzip.compress(bytes(bomb)))
    dicom = (data_dir / "dcm_qa_ct/In/GE/01.dcm").read_bytes()
    assert not is_nifti(dicom) and not is_nifti(b"\x1f\x8b not gzip")
